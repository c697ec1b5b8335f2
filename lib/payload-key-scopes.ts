import { randomBytes } from 'node:crypto';
import type { Config } from './config';
import type { Prisma, PrismaClient } from './db';
import { classifyDatabaseError } from './db-errors';
import {
  createEncryptionCodec,
  PayloadSaltsUnreachableError,
  PayloadScopeErasedError,
  PayloadScopeUnknownError,
  type EncryptionCodec,
  type ScopeSalts,
} from './data-converter';
import { onboardingScope, tenantIdOfScope, tenantScope, type PayloadScope } from './payload-scope';

const SALT_BYTES = 32;

/**
 * The payload scopes' salts in PostgreSQL (PayloadKeyScope). A scope's salt is created the first time a
 * payload is encrypted under it; two processes creating it together keep the first one written.
 */
export function createPrismaScopeSalts(prisma: PrismaClient): ScopeSalts {
  // An outage is told apart from an answer: the codec rides through the one, never the other.
  const reading = async <T>(scope: string, query: () => Promise<T>): Promise<T> => {
    try {
      return await query();
    } catch (error) {
      if (classifyDatabaseError(error)?.kind === 'transient')
        throw new PayloadSaltsUnreachableError(scope, { cause: error });
      throw error;
    }
  };
  return {
    async saltOf(scope, { create }) {
      let row = await reading(scope, () => prisma.payloadKeyScope.findUnique({ where: { scope } }));
      if (!row && create) {
        await reading(scope, () =>
          prisma.payloadKeyScope.createMany({
            data: [{ scope, tenantId: tenantIdOfScope(scope) ?? null, salt: randomBytes(SALT_BYTES) }],
            skipDuplicates: true,
          }),
        );
        row = await reading(scope, () => prisma.payloadKeyScope.findUnique({ where: { scope } }));
      }
      if (!row) throw new PayloadScopeUnknownError(scope);
      if (!row.salt) throw new PayloadScopeErasedError(scope, row.erasedAt ?? undefined);
      return Buffer.from(row.salt);
    },
  };
}

/** The scopes a tenant's payloads are encrypted under: its flows' and its onboarding's. */
export function scopesOfTenant(tenant: { id: string; slug: string }): PayloadScope[] {
  return [tenantScope(tenant.id), onboardingScope(tenant.slug)];
}

/**
 * Crypto-shreds a tenant's payloads: deletes its scopes' salts, keeping the rows as tombstones so that
 * nothing creates a fresh key under the same scope and reading says the keys were erased. Returns the
 * scopes that held a salt until now.
 */
export async function eraseTenantPayloadKeys(
  prisma: PrismaClient,
  tenant: { id: string; slug: string },
  erasedBy: string,
  at: Date = new Date(),
): Promise<PayloadScope[]> {
  return prisma.$transaction((tx) => tombstoneTenantPayloadKeys(tx, tenant, erasedBy, at));
}

/**
 * {@link eraseTenantPayloadKeys} inside the caller's transaction, so that what guards the erasure (a lock on
 * the tenant's row) and what records it (the audit row) commit with the tombstones, or not at all.
 */
export async function tombstoneTenantPayloadKeys(
  tx: Prisma.TransactionClient,
  tenant: { id: string; slug: string },
  erasedBy: string,
  at: Date = new Date(),
): Promise<PayloadScope[]> {
  const scopes = scopesOfTenant(tenant);
  const held = await tx.payloadKeyScope.findMany({ where: { scope: { in: scopes }, salt: { not: null } } });
  for (const scope of scopes) {
    await tx.payloadKeyScope.upsert({
      where: { scope },
      create: { scope, tenantId: tenant.id, salt: null, erasedAt: at, erasedBy },
      update: { tenantId: tenant.id, salt: null, erasedAt: at, erasedBy },
    });
  }
  return held.map((row) => row.scope as PayloadScope);
}

/** The codec of every process that has the database: PAYLOAD_KEYS over the salts in PostgreSQL. */
export function createConfiguredCodec(payloads: Config['payloads'], prisma: PrismaClient): EncryptionCodec {
  return createEncryptionCodec({
    keys: payloads.keys,
    salts: createPrismaScopeSalts(prisma),
    keyCacheTtlMs: payloads.keyCacheTtlMs,
  });
}
