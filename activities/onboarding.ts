import { randomUUID } from 'node:crypto';
import { activityInfo, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { CompensationReport, OnboardingOutcome } from '../domain/onboarding-messages';
import {
  hashInvitationToken,
  invitationToken,
  invitationTokenMatching,
  invitationUrl,
} from '../domain/invitation-token';
import { tierDefaults, type TenantTier } from '../domain/tenants';
import { isUniqueViolation, type Prisma, type PrismaClient } from '../lib/db';
import { FailureType } from '../workflows/errors';
import type { BillingProvider, RemovalOutcome } from './billing';
import type { Notifier, NotificationResult } from './notifications';
import { writeAudit, type AuditEntry } from './audit';

export interface OnboardingDeps {
  prisma: PrismaClient;
  notifier: Notifier;
  /** Absent when no billing provider is configured: billing steps fail with BillingNotConfigured. */
  billing?: BillingProvider;
  /** The provider's price ID for each tier (config.billing.prices). */
  billingPrices: Record<TenantTier, string>;
  /** Derives invitation tokens (config.onboarding.invitationTokenSecret). */
  invitationTokenSecret: string;
  /** Told when an onboarding does not finish (config.onboarding.platformAdminEmail). */
  platformAdminEmail: string;
  /** The API's public URL, for the invitation link. */
  publicBaseUrl: string;
  now?: () => Date;
}

/** Names one onboarding of one tenant. */
export interface OnboardingRef {
  tenantId: string;
  /**
   * The workflow ID plus its first run's ID: the same for every retry of a step, new for a new
   * onboarding of the same slug. Audit dedup keys, billing idempotency keys, the welcome
   * email's ledger key and the invitation token all derive from it.
   */
  onboardingId: string;
}

/** Every forward step reports the attempt that finished it, for the progress query. */
export interface StepReceipt {
  attempt: number;
}

/** The audit-log actor for what the onboarding does by itself. */
export const ONBOARDING_ACTOR = 'system:tenant-onboarding';

/** How long the link in the welcome email works. */
export const INVITATION_VALIDITY_DAYS = 14;

const DAY_MS = 24 * 60 * 60 * 1000;

type Tx = Prisma.TransactionClient;

type OnboardingAudit = Omit<AuditEntry<'Tenant' | 'User'>, 'actor'> & { actor?: string; dedupKey: string };

function audit(db: Tx | PrismaClient, entry: OnboardingAudit) {
  return writeAudit(db, { actor: ONBOARDING_ACTOR, ...entry });
}

/**
 * Runs a step and reports the attempt that finished it. A permanent failure gets its attempt
 * appended to `details`, since the workflow sees only the final failure of an activity.
 */
async function reporting<T extends object>(body: () => Promise<T>): Promise<T & StepReceipt> {
  const { attempt } = activityInfo();
  try {
    return { ...(await body()), attempt };
  } catch (error) {
    if (error instanceof ApplicationFailure && error.nonRetryable) {
      throw ApplicationFailure.create({
        type: error.type ?? undefined,
        message: error.message,
        nonRetryable: true,
        details: [...(error.details ?? []), { attempt }],
      });
    }
    throw error;
  }
}

export interface ReserveTenantInput extends OnboardingRef {
  slug: string;
  organizationName: string;
  tier: TenantTier;
  /** The platform admin who asked for the onboarding. */
  requestedBy: string;
}

export interface CreateAdminUserInput extends OnboardingRef {
  email: string;
  name: string;
}

export interface BillingCustomerInput extends OnboardingRef {
  slug: string;
  organizationName: string;
  email: string;
}

export interface UnsuccessfulOnboardingReport extends OnboardingRef {
  slug: string;
  organizationName: string;
  workflowId: string;
  outcome: OnboardingOutcome;
  reason: string;
  failedStep: string | null;
  compensations: CompensationReport[];
}

/**
 * Activities of the tenant-onboarding saga: the forward steps and their compensations. Each is
 * idempotent under retry: rows are upserted or moved only from the expected status, audit rows
 * carry a dedup key, billing calls an idempotency key and the welcome email a ledger key, all
 * derived from {@link OnboardingRef.onboardingId}.
 *
 * Forward steps return a {@link StepReceipt}. Permanent failures are non-retryable
 * `ApplicationFailure`s: `SlugTaken`, `TenantExists`, `TenantNotPending`, `NotFound`,
 * `BillingNotConfigured`, the billing adapter's `CardDeclined` / `PaymentRequired` /
 * `ProviderRejected` and the notifier's. Compensations treat "already undone" as success.
 */
export function createOnboardingActivities(deps: OnboardingDeps) {
  const { prisma, notifier } = deps;
  const now = deps.now ?? (() => new Date());

  const permanent = (message: string, type: string) => ApplicationFailure.nonRetryable(message, type);

  function billingProvider(): BillingProvider {
    if (!deps.billing) {
      throw permanent('No billing provider is configured (BILLING_API_URL)', FailureType.BillingNotConfigured);
    }
    return deps.billing;
  }

  async function loadTenant(tenantId: string) {
    const tenant = await prisma.tenant.findUnique({ where: { id: tenantId } });
    if (!tenant) throw permanent(`Tenant ${tenantId} not found`, FailureType.NotFound);
    return tenant;
  }

  /**
   * Records a billing reference on the tenant (or clears one the provider no longer holds) and
   * its audit row, in one transaction. `where` narrows the write, so a retry or a later
   * onboarding's reference is never overwritten by a stale one.
   */
  function recordBilling(
    { tenantId, onboardingId }: OnboardingRef,
    change: {
      data: { billingCustomerId?: string | null; subscriptionId?: string | null };
      where?: { billingCustomerId?: string; subscriptionId?: string };
      action: string;
      details: Prisma.InputJsonObject;
    },
  ) {
    return prisma.$transaction(async (tx) => {
      await tx.tenant.updateMany({ where: { id: tenantId, ...change.where }, data: change.data });
      await audit(tx, {
        tenantId,
        action: change.action,
        entityType: 'Tenant',
        entityId: tenantId,
        details: { ...change.details, onboardingId },
        dedupKey: `${onboardingId}:${change.action}`,
      });
    });
  }

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
     * Step 2: the tenant's admin, INVITED as tenant-admin, holding the hash of a fresh
     * invitation token. An existing user of that email (disabled by an earlier failed
     * onboarding) is invited again.
     */
    async createAdminUser(input: CreateAdminUserInput): Promise<{ userId: string } & StepReceipt> {
      const { tenantId, onboardingId, name } = input;
      const email = input.email.trim().toLowerCase();
      return reporting(async () => {
        const existing = await prisma.user.findUnique({ where: { tenantId_email: { tenantId, email } } });
        const userId = existing?.id ?? randomUUID();
        const invitation = {
          name,
          role: 'tenant-admin',
          status: 'INVITED' as const,
          invitationTokenHash: hashInvitationToken(
            invitationToken(deps.invitationTokenSecret, { tenantId, userId, onboardingId }),
          ),
          invitationExpiresAt: new Date(now().getTime() + INVITATION_VALIDITY_DAYS * DAY_MS),
        };
        try {
          await prisma.$transaction(async (tx) => {
            if (existing) await tx.user.update({ where: { id: userId }, data: invitation });
            else await tx.user.create({ data: { id: userId, tenantId, email, ...invitation } });
            await audit(tx, {
              tenantId,
              action: 'user.invited',
              entityType: 'User',
              entityId: userId,
              details: { email, role: 'tenant-admin', onboardingId },
              dedupKey: `${onboardingId}:user.invited`,
            });
          });
        } catch (error) {
          if (isUniqueViolation(error)) throw new Error(`The user ${userId} was created meanwhile; retrying`);
          throw error;
        }
        return { userId };
      });
    },

    /** Step 3a: the billing customer, keyed `{onboardingId}:customer` at the provider. */
    async createBillingCustomer(input: BillingCustomerInput): Promise<{ customerId: string } & StepReceipt> {
      const { tenantId, onboardingId, slug, organizationName, email } = input;
      return reporting(async () => {
        const { id: customerId } = await billingProvider().createCustomer(
          {
            email,
            name: organizationName,
            metadata: { tenant_id: tenantId, tenant_slug: slug, onboarding_id: onboardingId },
          },
          `${onboardingId}:customer`,
        );
        await recordBilling(input, {
          data: { billingCustomerId: customerId },
          action: 'billing.customer.created',
          details: { customerId },
        });
        return { customerId };
      });
    },

    /** Step 3b: the subscription to the tier's price, keyed `{onboardingId}:subscription`. */
    async createBillingSubscription(
      input: OnboardingRef & { customerId: string; tier: TenantTier },
    ): Promise<{ subscriptionId: string } & StepReceipt> {
      const { tenantId, onboardingId, customerId, tier } = input;
      return reporting(async () => {
        const priceId = deps.billingPrices[tier];
        const subscription = await billingProvider().createSubscription(
          { customerId, priceId, metadata: { tenant_id: tenantId, onboarding_id: onboardingId } },
          `${onboardingId}:subscription`,
        );
        await recordBilling(input, {
          data: { subscriptionId: subscription.id },
          action: 'billing.subscription.created',
          details: { subscriptionId: subscription.id, priceId, status: subscription.status },
        });
        return { subscriptionId: subscription.id };
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
     * Step 5: the welcome email with the invitation link, through the notification ledger
     * (`{onboardingId}:welcome`, so it goes out once). The token is rebuilt here from the user
     * and the onboarding, so it never passes through workflow history.
     *
     * @throws `NotFound` when the user is no longer INVITED; the notifier's failures otherwise.
     */
    async sendWelcomeEmail(
      input: OnboardingRef & { userId: string },
    ): Promise<{ notificationId: string; delivery: NotificationResult['status'] } & StepReceipt> {
      const { tenantId, onboardingId, userId } = input;
      return reporting(async () => {
        const user = await prisma.user.findFirst({ where: { id: userId, tenantId }, include: { tenant: true } });
        if (!user || user.status !== 'INVITED' || !user.invitationExpiresAt) {
          throw permanent(`User ${userId} has no open invitation`, FailureType.NotFound);
        }
        // A user invited before an upgrade stores the hash of a legacy token: the email carries that one.
        const claims = { tenantId, userId, onboardingId };
        const token = invitationTokenMatching(deps.invitationTokenSecret, claims, user.invitationTokenHash);
        const sent = await notifier.send({
          tenantId,
          channel: 'EMAIL',
          recipient: user.email,
          idempotencyKey: `${onboardingId}:welcome`,
          template: {
            name: 'tenant.welcome',
            data: {
              organizationName: user.tenant.name,
              adminName: user.name,
              tier: user.tenant.tier,
              invitationUrl: invitationUrl(deps.publicBaseUrl, token),
              invitationExpiresAt: user.invitationExpiresAt.toISOString(),
            },
          },
        });
        await audit(prisma, {
          tenantId,
          action: 'user.welcome-sent',
          entityType: 'User',
          entityId: userId,
          details: { notificationId: sent.notificationId, onboardingId },
          dedupKey: `${onboardingId}:welcome`,
        });
        return { notificationId: sent.notificationId, delivery: sent.status };
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
        const activated = await prisma.$transaction(async (tx) => {
          const moved = await tx.tenant.updateMany({
            where: { id: tenantId, status: 'PENDING' },
            data: { status: 'ACTIVE' },
          });
          if (moved.count === 0) return false;
          const tenant = await tx.tenant.findUniqueOrThrow({ where: { id: tenantId } });
          const payload = {
            tenantId,
            slug: tenant.slug,
            name: tenant.name,
            tier: tenant.tier,
            adminUserId: userId,
            activatedAt: activatedAt.toISOString(),
          };
          await tx.outboxEvent.create({ data: { tenantId, type: 'tenant.activated', payload } });
          await audit(tx, {
            tenantId,
            action: 'tenant.activated',
            entityType: 'Tenant',
            entityId: tenantId,
            details: { ...payload, onboardingId },
            dedupKey: `${onboardingId}:activated`,
          });
          return true;
        });
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

    /** Undoes step 3b. A subscription the provider no longer knows counts as canceled. */
    async cancelBillingSubscription(input: OnboardingRef & { subscriptionId: string }): Promise<RemovalOutcome> {
      const { onboardingId, subscriptionId } = input;
      const outcome = await billingProvider().cancelSubscription(subscriptionId, `${onboardingId}:subscription.cancel`);
      await recordBilling(input, {
        data: { subscriptionId: null },
        where: { subscriptionId },
        action: 'billing.subscription.canceled',
        details: { subscriptionId, outcome },
      });
      return outcome;
    },

    /** Undoes step 3a. A customer the provider no longer knows counts as deleted. */
    async deleteBillingCustomer(input: OnboardingRef & { customerId: string }): Promise<RemovalOutcome> {
      const { onboardingId, customerId } = input;
      const outcome = await billingProvider().deleteCustomer(customerId, `${onboardingId}:customer.delete`);
      await recordBilling(input, {
        data: { billingCustomerId: null },
        where: { billingCustomerId: customerId },
        action: 'billing.customer.deleted',
        details: { customerId, outcome },
      });
      return outcome;
    },

    /** Undoes step 2: the user is DISABLED and the invitation link stops working. */
    async disableAdminUser(input: OnboardingRef & { userId: string }): Promise<void> {
      const { tenantId, onboardingId, userId } = input;
      await prisma.$transaction(async (tx) => {
        await tx.user.updateMany({
          where: { id: userId, tenantId },
          data: { status: 'DISABLED', invitationTokenHash: null, invitationExpiresAt: null },
        });
        await audit(tx, {
          tenantId,
          action: 'user.disabled',
          entityType: 'User',
          entityId: userId,
          details: { onboardingId },
          dedupKey: `${onboardingId}:user.disabled`,
        });
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

    /**
     * Tells the platform admin that an onboarding did not finish, with what was undone and what
     * was not. Skipped when no tenant row was ever written: the ledger needs one, and the
     * failed workflow (FlowStatus FAILED) is then the only trace.
     */
    async notifyOnboardingUnsuccessful(
      input: UnsuccessfulOnboardingReport,
    ): Promise<NotificationResult | { status: 'SKIPPED'; reason: string }> {
      const { tenantId, onboardingId, ...data } = input;
      const tenant = await prisma.tenant.findUnique({ where: { id: tenantId }, select: { id: true } });
      if (!tenant) {
        log.warn('No tenant row to record the notification under; skipped', { tenantId, slug: input.slug });
        return { status: 'SKIPPED', reason: 'no tenant row' };
      }
      return notifier.send({
        tenantId,
        channel: 'EMAIL',
        recipient: deps.platformAdminEmail,
        idempotencyKey: `${onboardingId}:unsuccessful`,
        template: { name: 'onboarding.unsuccessful', data: { ...data, tenantId } },
      });
    },
  };
}

export type OnboardingActivities = ReturnType<typeof createOnboardingActivities>;
