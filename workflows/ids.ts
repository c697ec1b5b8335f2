/**
 * Workflow IDs are derived from business IDs, so a repeated request finds the same execution
 * and the ID alone tells an operator which tenant and object a flow belongs to.
 * Every tenant-scoped ID starts with the tenant, so no ID can collide across tenants.
 */

export function waitlistCascadeId(tenantId: string, slotId: string): string {
  return `waitlist:${tenantId}:${slotId}`;
}

export function tenantRetentionCleanupId(tenantId: string, runDate: string): string {
  return `cleanup:${tenantId}:${runDate}`;
}

/** One routing workflow per order, for the order's whole life. */
export function orderRoutingId(tenantId: string, orderId: string): string {
  return `order:${tenantId}:${orderId}`;
}

/** One onboarding per slug at a time; the slug is the tenant's business key before it has any row. */
export function tenantOnboardingId(slug: string): string {
  return `tenant-onboarding:${slug}`;
}

/** The Schedule that starts the daily cleanup. */
export const dailyCleanupScheduleId = 'holdfast:daily-cleanup';
