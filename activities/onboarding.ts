import { log } from '@temporalio/activity';
import type { CompensationReport, OnboardingOutcome } from '../domain/onboarding-messages';
import type { TenantTier } from '../domain/tenants';
import type { PrismaClient } from '../lib/db';
import type { BillingProvider } from './billing';
import type { FanOutStarter } from './event-publishing';
import type { Notifier, NotificationResult } from './notifications';
import { createOnboardingBillingActivities } from './onboarding-billing';
import { createAdminInvitationActivities } from './onboarding-invitation';
import { createTenantRecordActivities } from './onboarding-tenant';

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
  /** Starts the fan-out of `tenant.activated`; without it the outbox sweep does. */
  temporal?: FanOutStarter;
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
 * Activities of the tenant-onboarding saga: the forward steps and their compensations, by
 * sub-area: the tenant row (activities/onboarding-tenant.ts), the admin's invitation
 * (activities/onboarding-invitation.ts) and billing (activities/onboarding-billing.ts). Each is
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

  return {
    ...createTenantRecordActivities(deps),
    ...createAdminInvitationActivities(deps),
    ...createOnboardingBillingActivities(deps),

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
