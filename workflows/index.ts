// The worker's workflowsPath: every workflow the task queue serves is exported here.
export { dailyCleanupWorkflow } from './cleanup';
export { waitlistCascadeWorkflow } from './waitlist-cascade';
export { tenantOnboardingWorkflow } from './tenant-onboarding';
export { orderRoutingWorkflow } from './order-routing';
