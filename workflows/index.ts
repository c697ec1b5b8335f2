// The worker's workflowsPath: every workflow the task queue serves is exported here.
export { dailyCleanupWorkflow } from './cleanup';
export { waitlistCascadeWorkflow } from './waitlist-cascade';
export { tenantOnboardingWorkflow } from './tenant-onboarding';
export { orderRoutingWorkflow } from './order-routing';
export { eventFanOutWorkflow, eventOutboxSweepWorkflow } from './event-fan-out';
export { reminderSequenceWorkflow } from './reminder-sequence';
export { webhookDeliveryWorkflow } from './webhook-delivery';
export { notificationWorkflow } from './notification';
export { reportWorkflow } from './report';
export { exportWorkflow } from './export';
export { exportLaneWorkflow } from './export-lane';
