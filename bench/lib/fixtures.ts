import { randomUUID } from 'node:crypto';
import type { Config } from '../../lib/config';
import type { PrismaClient } from '../../lib/db';
import { signDevToken } from '../../lib/dev-token';

/**
 * Bench data: one tenant and many open slots, each with a short waitlist. Every name and address
 * is obviously synthetic (`c1.1a2b3c4d@bench.example`): no real-looking personal data.
 */

/** The tenant every arm's cascades run under. */
export const benchTenant = {
  id: 'bench',
  slug: 'bench',
  name: 'Bench Clinic',
  adminEmail: 'ops@bench.example',
} as const;

/** Creates the bench tenant (ACTIVE) if missing and returns its ID. Idempotent. */
export async function ensureBenchTenant(prisma: PrismaClient): Promise<string> {
  await prisma.tenant.upsert({
    where: { id: benchTenant.id },
    update: { status: 'ACTIVE' },
    create: { ...benchTenant, status: 'ACTIVE', tier: 'professional' },
  });
  return benchTenant.id;
}

/**
 * An operator token of `tenantId`, signed with the stack's auth settings (its JWT secret), good
 * for the release route. Lives 12 hours, longer than any bench run.
 */
export function benchOperatorToken(auth: Config['auth'], tenantId: string): Promise<string> {
  return signDevToken(auth, { tenantId, roles: ['operator'], subject: 'bench:operator', expiresIn: '12h' });
}

export interface BenchSlotsOptions {
  tenantId: string;
  count: number;
  /** WAITING entries per slot (default 5). */
  candidatesPerSlot?: number;
  /** The slot's hold length in seconds (Slot.holdSeconds). */
  holdSeconds: number;
  /** Rows per INSERT (default 1,000 slots, and their entries). */
  batchSize?: number;
}

/** The address of candidate `rank` (1 = offered first) of a slot. */
export function benchCandidateEmail(slotId: string, rank: number): string {
  return `c${rank}.${slotId.slice(0, 8)}@bench.example`;
}

/**
 * Creates `count` OPEN slots, each with `candidatesPerSlot` WAITING entries of distinct priority
 * (candidate 1 highest) and distinct joinedAt, and returns the slot IDs in creation order.
 * Inserts in batches with createMany, so 10,000 slots and 50,000 entries take seconds.
 */
export async function createBenchSlots(prisma: PrismaClient, options: BenchSlotsOptions): Promise<string[]> {
  const perSlot = options.candidatesPerSlot ?? 5;
  const batchSize = Math.max(1, options.batchSize ?? 1_000);
  const slotIds: string[] = [];
  const joinedBase = Date.now() - 3600_000;
  for (let first = 0; first < options.count; first += batchSize) {
    const batch = Array.from({ length: Math.min(batchSize, options.count - first) }, () => randomUUID());
    await prisma.slot.createMany({
      data: batch.map((id, index) => ({
        id,
        tenantId: options.tenantId,
        name: `Bench slot ${first + index + 1}`,
        holdSeconds: options.holdSeconds,
        status: 'OPEN' as const,
      })),
    });
    await prisma.waitlistEntry.createMany({
      data: batch.flatMap((slotId) =>
        Array.from({ length: perSlot }, (_, k) => ({
          tenantId: options.tenantId,
          slotId,
          customerName: `Candidate ${k + 1}`,
          email: benchCandidateEmail(slotId, k + 1),
          priority: perSlot - k,
          status: 'WAITING' as const,
          joinedAt: new Date(joinedBase + k * 1_000),
        })),
      ),
    });
    slotIds.push(...batch);
  }
  return slotIds;
}
