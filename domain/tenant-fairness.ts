/**
 * What a workflow start needs to know of its tenant to be dispatched fairly: the tenant's plan
 * and the configured weight of each plan (FAIRNESS_WEIGHTS). Start options take it and turn it
 * into a Temporal priority with {@link tenantWorkPriority}.
 *
 * Pure: contracts import it.
 */
import { workPriority, type FairnessTier, type WorkPriorityLevel } from './work-priority';

export type FairnessWeights = Record<FairnessTier, number>;

export interface TenantFairness {
  tier: FairnessTier;
  /** FAIRNESS_WEIGHTS; the defaults (free 1, professional 2, enterprise 3) when absent. */
  weights?: FairnessWeights;
}

/**
 * The priority of one start of a tenant's work. A start that does not know the tenant's plan
 * (a caller without the plan, a test) still gets the tenant as its fairness key, at the free plan's weight.
 */
export function tenantWorkPriority(level: WorkPriorityLevel, tenantId: string, fairness?: TenantFairness) {
  return workPriority(level, { tenantId, tier: fairness?.tier ?? 'free' }, fairness?.weights);
}
