import type { TenantTier } from '../domain/tenants';
import type { Prisma } from '../lib/db';
import { FailureType } from '../workflows/errors';
import type { BillingProvider, RemovalOutcome } from './billing';
import type { OnboardingDeps, OnboardingRef, StepReceipt } from './onboarding';
import { audit, permanent, reporting } from './onboarding-support';

export interface BillingCustomerInput extends OnboardingRef {
  slug: string;
  organizationName: string;
  email: string;
}

/**
 * The onboarding's billing steps and their compensations: the customer and the subscription at
 * the provider, each under an idempotency key derived from the onboarding, and recorded on the
 * tenant with an audit row. A customer or subscription the provider no longer knows counts as removed.
 *
 * @throws `BillingNotConfigured` when no billing provider is configured; the adapter's failures otherwise.
 */
export function createOnboardingBillingActivities(deps: OnboardingDeps) {
  const { prisma } = deps;

  function billingProvider(): BillingProvider {
    if (!deps.billing) {
      throw permanent('No billing provider is configured (BILLING_API_URL)', FailureType.BillingNotConfigured);
    }
    return deps.billing;
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
  };
}
