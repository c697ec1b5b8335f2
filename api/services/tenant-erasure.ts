import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { writeAudit } from '../../activities/audit';
import type { TenantStatus } from '../../generated/prisma/enums';
import type { EncryptionCodec } from '../../lib/data-converter';
import type { Prisma, PrismaClient } from '../../lib/db';
import { scopesOfTenant, tombstoneTenantPayloadKeys } from '../../lib/payload-key-scopes';
import type { PayloadScope } from '../../lib/payload-scope';
import { tenantOnboardingId } from '../../workflows/tenant-onboarding.contract';
import { conflict, notFound } from '../errors';
import { quote } from './operations/visibility-query';

export interface TenantErasureDeps {
  prisma: PrismaClient;
  temporal: Client;
  /** The codec of this process's client and codec server: it forgets the erased keys at once. */
  codec: EncryptionCodec;
}

export interface TenantErasure {
  tenantId: string;
  /** Every scope of the tenant, each now a tombstone without a key. */
  erasedScopes: PayloadScope[];
  /**
   * The Temporal Schedule IDs of the tenant's report schedules, each gone now (deleted by this erasure, or
   * before it). Their ReportSchedule rows stay, like the tenant's other rows, and show as MISSING.
   */
  deletedSchedules: string[];
  erasedAt: Date;
}

/** The statuses a tenant is erased from: one that no longer works (suspended), or never did (failed). */
const ERASABLE_STATUSES: readonly TenantStatus[] = ['SUSPENDED', 'FAILED'];

/** The audit row's action; its dedup key makes it the one record of the erasure, however often it is asked. */
export const TENANT_ERASED_ACTION = 'tenant.payloads-erased';

/**
 * Crypto-shreds a tenant's Temporal payloads (offboarding): deletes the salts its payload keys are
 * derived from, so every payload of its histories (inputs, results, signals, failures) stays
 * ciphertext forever, wherever the Temporal server or a backup keeps it. Its PostgreSQL rows are not
 * touched: deleting those is the database's retention, not this.
 *
 * Refused (409) while the tenant is ACTIVE or PENDING (suspend it first, or let its onboarding fail),
 * and while any of its flows is still running (TenantId in visibility, and its onboarding): a running
 * flow would fail at its next step, unable to read or write its own payloads. Answers the same
 * tombstones when repeated. This process forgets the keys at once; the worker and other API processes
 * within PAYLOAD_KEY_CACHE_TTL.
 *
 * The tenant's Temporal Schedules (its report schedules) are deleted before its open flows are counted:
 * each holds its action's input encrypted under the tenant's key, and one firing between the count and
 * the erasure would start a run that is erased under its feet. So an erasure refused for open flows has
 * deleted them already. A repeated erasure deletes them again, finding them gone.
 *
 * The tenant's status is checked again under a lock on its row, in the transaction that writes the
 * tombstones and the audit row: a reactivation (api/routes/tenants.ts) takes the same lock and checks
 * the tombstones after it, so the two cannot both succeed.
 *
 * @throws AppError 404 for an unknown slug; 409 TENANT_NOT_SUSPENDED or TENANT_FLOWS_OPEN.
 */
export async function eraseTenant(deps: TenantErasureDeps, slug: string, erasedBy: string): Promise<TenantErasure> {
  const { prisma, temporal, codec } = deps;
  const tenant = await prisma.tenant.findUnique({ where: { slug }, select: { id: true, slug: true, status: true } });
  if (!tenant) throw notFound('Tenant', { slug });
  const scopes = scopesOfTenant(tenant);

  let erased = await tombstones(prisma, scopes);
  let deletedSchedules: string[];
  if (erased) {
    // A repeat: its Schedules went with the first erasure; deleting them again finds them gone and answers the same.
    deletedSchedules = await deleteTenantSchedules(deps, tenant.id);
  } else {
    if (!ERASABLE_STATUSES.includes(tenant.status)) throw notSuspended(slug, tenant.status);
    deletedSchedules = await deleteTenantSchedules(deps, tenant.id);
    const open = await openFlows(temporal, tenant);
    if (open.flows > 0 || open.onboarding) {
      throw conflict(
        'TENANT_FLOWS_OPEN',
        `${slug} still has running flows: erasing now would leave them unable to read their own data; ` +
          'let them finish, or cancel or terminate them, then erase',
        { slug, runningFlows: open.flows, onboardingRunning: open.onboarding },
      );
    }
    erased = await prisma.$transaction(async (tx) => {
      const locked = await tx.tenant.updateMany({
        where: { id: tenant.id, status: { in: [...ERASABLE_STATUSES] } },
        data: { updatedAt: new Date() },
      });
      if (locked.count !== 1) {
        const now = await tx.tenant.findUnique({ where: { id: tenant.id }, select: { status: true } });
        throw notSuspended(slug, now?.status ?? 'gone');
      }
      // Another erasure of the same tenant committed while this one waited for the lock: answer its tombstones.
      const earlier = await tombstones(tx, scopes);
      if (earlier) return earlier;
      const at = new Date();
      const held = await tombstoneTenantPayloadKeys(tx, tenant, erasedBy, at);
      await writeAudit(tx, {
        tenantId: tenant.id,
        actor: erasedBy,
        action: TENANT_ERASED_ACTION,
        entityType: 'Tenant',
        entityId: tenant.id,
        details: { scopes, keysHeld: held, status: tenant.status, deletedSchedules },
        dedupKey: `tenant-erase:${tenant.id}`,
      });
      return at;
    });
  }
  for (const scope of scopes) codec.forgetScope(scope);
  return { tenantId: tenant.id, erasedScopes: scopes, deletedSchedules, erasedAt: erased };
}

function notSuspended(slug: string, status: string) {
  return conflict(
    'TENANT_NOT_SUSPENDED',
    `${slug} is ${status}: suspend the tenant (or let its onboarding fail) before erasing its payloads`,
    { slug, status },
  );
}

/**
 * Deletes the Temporal Schedule of each of the tenant's report schedules; one already gone is fine. The rows
 * stay: they have no status to say so, and they are the tenant's PostgreSQL data, which erasure does not touch.
 */
async function deleteTenantSchedules(
  { prisma, temporal }: Pick<TenantErasureDeps, 'prisma' | 'temporal'>,
  tenantId: string,
): Promise<string[]> {
  const rows = await prisma.reportSchedule.findMany({
    where: { tenantId },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    select: { scheduleId: true },
  });
  const scheduleIds = rows.map((row) => row.scheduleId);
  await Promise.all(
    scheduleIds.map(async (scheduleId) => {
      try {
        await temporal.schedule.getHandle(scheduleId).delete();
      } catch (error) {
        if (!(error instanceof ScheduleNotFoundError)) throw error;
      }
    }),
  );
  return scheduleIds;
}

/**
 * Refuses to bring an erased tenant's slug back into use (reactivating it, onboarding it again): its
 * keys are gone for good, so every flow it started would fail at its first payload.
 *
 * @throws AppError 409 TENANT_ERASED.
 */
export async function refuseErasedTenant(
  db: Pick<PrismaClient, 'payloadKeyScope'>,
  tenant: { id: string; slug: string },
): Promise<void> {
  const erased = await db.payloadKeyScope.count({
    where: { scope: { in: scopesOfTenant(tenant) }, salt: null },
  });
  if (erased > 0) {
    throw conflict(
      'TENANT_ERASED',
      `The payload keys of ${tenant.slug} were erased: the tenant cannot be used again; onboard it under another slug`,
      { slug: tenant.slug },
    );
  }
}

/** When every one of `scopes` became a tombstone, or undefined while any still has a key (or none exists). */
async function tombstones(
  db: Pick<Prisma.TransactionClient, 'payloadKeyScope'>,
  scopes: PayloadScope[],
): Promise<Date | undefined> {
  const rows = await db.payloadKeyScope.findMany({
    where: { scope: { in: scopes } },
    select: { salt: true, erasedAt: true },
  });
  if (rows.length < scopes.length || rows.some((row) => row.salt !== null || !row.erasedAt)) return undefined;
  return new Date(Math.max(...rows.map((row) => row.erasedAt!.getTime())));
}

/** The tenant's running flows by visibility: those tagged with its TenantId, and its onboarding. */
async function openFlows(temporal: Client, tenant: { id: string; slug: string }) {
  const [flows, onboarding] = await Promise.all([
    temporal.workflow.count(`TenantId = ${quote(tenant.id)} AND ExecutionStatus = "Running"`),
    temporal.workflow.count(`WorkflowId = ${quote(tenantOnboardingId(tenant.slug))} AND ExecutionStatus = "Running"`),
  ]);
  return { flows: flows.count, onboarding: onboarding.count > 0 };
}
