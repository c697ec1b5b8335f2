import { log } from '@temporalio/activity';
import { tierDefaults, type TenantTier } from '../domain/tenants';
import { isUniqueViolation } from '../lib/db';
import { FailureType } from '../workflows/errors';
import type { OnboardingDeps, OnboardingRef, StepReceipt } from './onboarding';
import { audit, permanent, reporting, tenantLoader } from './onboarding-support';
import { startFanOutsAfterCommit } from './event-publishing';
import { recordTenantActivated } from './flow-events';

export interface ReserveTenantInput extends OnboardingRef {
  slug: string;
  organizationName: string;
  tier: TenantTier;
  /** The platform admin who asked for the onboarding. */
  requestedBy: string;
}

/**
 * The tenant row through an onboarding: reserved PENDING, given its tier's defaults, ACTIVE at
 * the end, or FAILED when the saga unwinds; and the platform admin's decision on it. Idempotent
 * under retry (activities/onboarding.ts says how).
 */
export function createTenantRecordActivities(deps: OnboardingDeps) {
  const { prisma } = deps;
  const now = deps.now ?? (() => new Date());
  const loadTenant = tenantLoader(prisma);

  return {
    /**
     * Step 1: claims the slug with a PENDING tenant row. A row this onboarding's tenant ID
     * already has (PENDING or FAILED, from an earlier attempt) is taken over.
     *
     * @throws `SlugTaken` when another tenant has the slug, `TenantExists` when the tenant is in use.
     */
    async reserveTenant(input: ReserveTenantInput): Promise<StepReceipt> {
      const { tenantId, onboardingId, slug, organizationName, tier, requestedBy } = input;
      return reporting(async () => {
        try {
          await prisma.$transaction(async (tx) => {
            const rows = await tx.tenant.findMany({ where: { OR: [{ slug }, { id: tenantId }] } });
            if (rows.some((row) => row.id !== tenantId || row.slug !== slug)) {
              throw permanent(`The slug ${slug} is taken by another tenant`, FailureType.SlugTaken);
            }
            const mine = rows[0];
            if (mine && (mine.status === 'ACTIVE' || mine.status === 'SUSPENDED')) {
              throw permanent(`Tenant ${slug} already exists (${mine.status})`, FailureType.TenantExists);
            }
            const data = { slug, name: organizationName, tier, status: 'PENDING' as const, failureReason: null };
            if (mine) await tx.tenant.update({ where: { id: tenantId }, data });
            else await tx.tenant.create({ data: { id: tenantId, ...data } });
            await audit(tx, {
              tenantId,
              actor: requestedBy,
              action: 'tenant.onboarding.started',
              entityType: 'Tenant',
              entityId: tenantId,
              details: { slug, tier, organizationName, onboardingId, retry: mine !== undefined },
              dedupKey: `${onboardingId}:started`,
            });
          });
        } catch (error) {
          // Another writer took the slug or the ID between the read and the write: the next attempt sees it.
          if (isUniqueViolation(error)) throw new Error(`The tenant row for ${slug} changed meanwhile; retrying`);
          throw error;
        }
        return {};
      });
    },

    /**
     * Step 4: the tier's defaults: waitlist hold length, retention, the escalation address,
     * and the notification templates enabled per channel (replacing any from an earlier attempt).
     */
    async provisionTenantDefaults(
      input: OnboardingRef & { tier: TenantTier; adminEmail: string },
    ): Promise<StepReceipt> {
      const { tenantId, onboardingId, tier } = input;
      const { holdMinutes, retentionDays, notificationTemplates } = tierDefaults[tier];
      const adminEmail = input.adminEmail.trim().toLowerCase();
      return reporting(async () => {
        await loadTenant(tenantId);
        await prisma.$transaction(async (tx) => {
          await tx.tenant.update({ where: { id: tenantId }, data: { holdMinutes, retentionDays, adminEmail } });
          await tx.tenantNotificationTemplate.deleteMany({ where: { tenantId } });
          await tx.tenantNotificationTemplate.createMany({
            data: notificationTemplates.map(({ template, channel }) => ({ tenantId, template, channel })),
          });
          await audit(tx, {
            tenantId,
            action: 'tenant.defaults.provisioned',
            entityType: 'Tenant',
            entityId: tenantId,
            details: {
              tier,
              holdMinutes,
              retentionDays,
              adminEmail,
              templates: notificationTemplates.length,
              onboardingId,
            },
            dedupKey: `${onboardingId}:defaults`,
          });
        });
        return {};
      });
    },

    /**
     * Step 6: PENDING → ACTIVE, with the `tenant.activated` outbox event and the audit row in the
     * same transaction, so the event exists exactly when the tenant is active. A tenant already
     * ACTIVE is success (the retry of a step whose answer was lost).
     *
     * @throws `TenantNotPending` when the tenant is neither PENDING nor ACTIVE.
     */
    async activateTenant(input: OnboardingRef & { userId: string }): Promise<{ activatedAt: string } & StepReceipt> {
      const { tenantId, onboardingId, userId } = input;
      return reporting(async () => {
        const activatedAt = now();
        const { activated, eventId } = await prisma.$transaction(async (tx) => {
          const moved = await tx.tenant.updateMany({
            where: { id: tenantId, status: 'PENDING' },
            data: { status: 'ACTIVE' },
          });
          if (moved.count === 0) return { activated: false, eventId: undefined };
          const tenant = await tx.tenant.findUniqueOrThrow({ where: { id: tenantId } });
          const payload = {
            tenantId,
            slug: tenant.slug,
            name: tenant.name,
            tier: tenant.tier,
            adminUserId: userId,
            activatedAt: activatedAt.toISOString(),
          };
          await audit(tx, {
            tenantId,
            action: 'tenant.activated',
            entityType: 'Tenant',
            entityId: tenantId,
            details: { ...payload, onboardingId },
            dedupKey: `${onboardingId}:activated`,
          });
          return {
            activated: true,
            eventId: await recordTenantActivated(tx, { tenantId, onboardingId, data: payload }),
          };
        });
        await startFanOutsAfterCommit(deps.temporal, tenantId, [eventId]);
        if (!activated) {
          const tenant = await loadTenant(tenantId);
          if (tenant.status !== 'ACTIVE') {
            throw permanent(`Tenant ${tenantId} is ${tenant.status}, not PENDING`, FailureType.TenantNotPending);
          }
          return { activatedAt: tenant.updatedAt.toISOString() };
        }
        return { activatedAt: activatedAt.toISOString() };
      });
    },

    /** Audits a platform admin's decision on an enterprise onboarding, or the lack of one. */
    async recordApprovalDecision(
      input: OnboardingRef & { decision: 'approved' | 'rejected' | 'expired'; actor: string; reason: string | null },
    ): Promise<void> {
      const { tenantId, onboardingId, decision, actor, reason } = input;
      await audit(prisma, {
        tenantId,
        actor,
        action: `tenant.onboarding.${decision}`,
        entityType: 'Tenant',
        entityId: tenantId,
        details: { reason, onboardingId },
        dedupKey: `${onboardingId}:decision`,
      });
    },

    /** Undoes step 1: the tenant is FAILED with the reason. An ACTIVE tenant is never failed. */
    async markTenantFailed(input: OnboardingRef & { reason: string }): Promise<void> {
      const { tenantId, onboardingId } = input;
      const reason = input.reason.slice(0, 1000);
      await prisma.$transaction(async (tx) => {
        const failed = await tx.tenant.updateMany({
          where: { id: tenantId, status: 'PENDING' },
          data: { status: 'FAILED', failureReason: reason },
        });
        if (failed.count === 0) {
          log.warn('Tenant was not PENDING; left as it is', { tenantId });
          return;
        }
        await audit(tx, {
          tenantId,
          action: 'tenant.onboarding.failed',
          entityType: 'Tenant',
          entityId: tenantId,
          details: { reason, onboardingId },
          dedupKey: `${onboardingId}:failed`,
        });
      });
    },
  };
}
