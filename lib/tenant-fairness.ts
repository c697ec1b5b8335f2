import type { FairnessTier } from '../domain/work-priority';
import type { TenantFairness, FairnessWeights } from '../domain/tenant-fairness';
import type { PrismaClient } from './db';

type TenantReader = Pick<PrismaClient, 'tenant'>;

/**
 * How long a tenant's plan is reused for fairness before it is read again. Every workflow start
 * needs it, and a busy tenant starts many a second; a plan changes rarely. So a plan change (an
 * upgrade, a downgrade) applies to the weight of work started at most this long after it.
 */
export const TENANT_TIER_TTL_MS = 30_000;

/** Tenants remembered per process at most; the oldest entry makes room. Bounds memory, not correctness. */
export const TENANT_TIER_CACHE_SIZE = 10_000;

/** A per-process memory of tenants' plans, per database client, for {@link TENANT_TIER_TTL_MS}. */
export interface TenantTierCache {
  tierOf(prisma: TenantReader, tenantId: string): Promise<FairnessTier>;
  /** Forgets every remembered plan. */
  clear(): void;
}

export function createTenantTierCache({
  ttlMs = TENANT_TIER_TTL_MS,
  maxEntries = TENANT_TIER_CACHE_SIZE,
  now = Date.now,
}: { ttlMs?: number; maxEntries?: number; now?: () => number } = {}): TenantTierCache {
  // Keyed by client too: two clients may be two databases (tests run several stacks in one process).
  type Entries = Map<string, { tier: FairnessTier; expiresAt: number }>;
  let byClient = new WeakMap<TenantReader, Entries>();
  return {
    async tierOf(prisma, tenantId) {
      let entries = byClient.get(prisma);
      if (!entries) {
        entries = new Map() as Entries;
        byClient.set(prisma, entries);
      }
      const known = entries.get(tenantId);
      if (known && known.expiresAt > now()) return known.tier;
      entries.delete(tenantId);
      const tenant = await prisma.tenant.findUnique({ where: { id: tenantId }, select: { tier: true } });
      // A tenant with no row yet (onboarding writes it) counts as free, the smallest share, and is
      // not remembered: its row, with its real plan, may appear any moment.
      if (!tenant) return 'free';
      if (entries.size >= maxEntries) {
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
      entries.set(tenantId, { tier: tenant.tier, expiresAt: now() + ttlMs });
      return tenant.tier;
    },
    clear() {
      byClient = new WeakMap();
    },
  };
}

/** The process's cache, shared by the API's and the worker's starts. */
export const tenantTierCache: TenantTierCache = createTenantTierCache();

/**
 * The tenant's plan for a workflow start, from {@link tenantTierCache}: one primary-key lookup of
 * one column at most every {@link TENANT_TIER_TTL_MS} per tenant and process.
 */
export async function loadTenantFairness(
  prisma: TenantReader,
  tenantId: string,
  weights?: FairnessWeights,
): Promise<TenantFairness> {
  const tier = await tenantTierCache.tierOf(prisma, tenantId);
  return { tier, ...(weights ? { weights } : {}) };
}

/** How code that starts workflows learns a tenant's share; the worker and the API build one from their database. */
export type TenantFairnessLookup = (tenantId: string) => Promise<TenantFairness>;

/** A {@link TenantFairnessLookup} reading the plan from the database and the weights from FAIRNESS_WEIGHTS. */
export function tenantFairnessLookup(prisma: TenantReader, weights?: FairnessWeights): TenantFairnessLookup {
  return (tenantId) => loadTenantFairness(prisma, tenantId, weights);
}
