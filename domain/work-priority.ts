/**
 * How Holdfast orders work on a shared task queue: a priority level per kind of work, and a
 * fairness key and weight per tenant. Temporal dispatches lower priority keys first and, within
 * one key, shares dispatches between fairness keys in proportion to their weights.
 *
 * Pure: workflows and contracts import it.
 */
import { NotificationPriority, type NotificationPriorityLevel } from './notification-priority';

/**
 * The four levels (1 critical … 4 low) are Temporal priority keys as they are; 3 is also
 * Temporal's default, so work that names no level runs at normal.
 *  - critical: the waitlist cascade (offers holding a slot to a deadline, their confirmation and
 *    escalation), and notifications Holdfast's own flows send as critical; never a tenant's request
 *    (the API refuses it: priority comes before fairness, so it would let one tenant starve others);
 *  - high: interactive flows (order routing with the order's confirmation, onboarding with its
 *    billing set-up, event fan-out, webhooks), and the highest a tenant may ask for;
 *  - normal: notifications and reminder sequences (payment reminders among them);
 *  - low: digests, reports and exports.
 * docs/queues.md ("Priority") says why orders and payments are not critical.
 */
export const WorkPriority = NotificationPriority;
export type WorkPriorityLevel = NotificationPriorityLevel;

/** The plans whose weight the fairness mechanism uses; the same names as the tenant's tier. */
export type FairnessTier = 'free' | 'professional' | 'enterprise';

/** A tenant's share of a busy queue relative to others: enterprise 3, professional 2, free 1. */
export const defaultFairnessWeights: Record<FairnessTier, number> = { free: 1, professional: 2, enterprise: 3 };

/** What every workflow start of a tenant's work carries: its level, its tenant, its tenant's weight. */
export interface TenantWork {
  tenantId: string;
  tier: FairnessTier;
}

/**
 * The Temporal `priority` of a tenant's work. Activities and child workflows inherit it from
 * their workflow; the fairness key is the tenant ID (a UUID, at most 64 bytes, no personal data).
 */
export function workPriority(
  level: WorkPriorityLevel,
  work: TenantWork,
  weights: Record<FairnessTier, number> = defaultFairnessWeights,
): { priorityKey: number; fairnessKey: string; fairnessWeight: number } {
  return { priorityKey: level, fairnessKey: work.tenantId, fairnessWeight: weights[work.tier] ?? 1 };
}
