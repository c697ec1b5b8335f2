/**
 * Workflow IDs are derived from business IDs, so a repeated request finds the same execution
 * and the ID alone tells an operator which tenant and object a flow belongs to.
 * Every tenant-scoped ID starts with the tenant, so no ID can collide across tenants.
 * Each flow's ID lives in its contract; this module gathers them with the platform's own.
 */

export { orderRoutingId } from './order-routing.contract';
export { tenantOnboardingId } from './tenant-onboarding.contract';
export { waitlistCascadeId } from './waitlist-cascade.contract';

export function tenantRetentionCleanupId(tenantId: string, runDate: string): string {
  return `cleanup:${tenantId}:${runDate}`;
}

/** The Schedule that starts the daily cleanup. */
export const dailyCleanupScheduleId = 'holdfast:daily-cleanup';
