/**
 * The failure vocabulary shared by workflows, activities and the API. Activities throw
 * `ApplicationFailure.nonRetryable(message, type)` with one of these types for permanent
 * business errors; the API maps them to HTTP answers.
 */
export const FailureType = {
  /** An address or phone number that no retry can make deliverable. */
  InvalidRecipient: 'InvalidRecipient',
  /** The row the activity works on no longer exists (e.g. the slot was deleted). */
  NotFound: 'NotFound',
  /** The provider answered in a way that will not change on retry (4xx other than 408/429). */
  ProviderRejected: 'ProviderRejected',
  /** The provider asked us to slow down (HTTP 429); retried after the delay it named. */
  ProviderThrottled: 'ProviderThrottled',
  /** No transport is configured for the channel (e.g. no SMTP_URL); retrying cannot help. */
  ChannelNotConfigured: 'ChannelNotConfigured',
  /** The billing provider refused the payment method (HTTP 402); the customer must act first. */
  PaymentRequired: 'PaymentRequired',
  /** The billing provider declined the card (a `card_error`); retrying the same card cannot help. */
  CardDeclined: 'CardDeclined',
  /** Another tenant already holds the slug an onboarding asked for. */
  SlugTaken: 'SlugTaken',
  /** The tenant an onboarding would create already exists and is in use (ACTIVE or SUSPENDED). */
  TenantExists: 'TenantExists',
  /** The tenant left PENDING while its onboarding ran (e.g. someone suspended it by hand). */
  TenantNotPending: 'TenantNotPending',
  /** No billing provider is configured (no BILLING_API_URL); retrying cannot help. */
  BillingNotConfigured: 'BillingNotConfigured',
  /** An onboarding step failed for good; the saga undid what was done. The workflow fails with it. */
  OnboardingFailed: 'OnboardingFailed',
  /** A platform admin rejected the onboarding, or nobody decided in time. The workflow fails with it. */
  OnboardingRejected: 'OnboardingRejected',
  /** The vendor named for an order is not this tenant's, or is inactive. */
  VendorUnavailable: 'VendorUnavailable',
  /** The order is past the point where the requested change applies (e.g. assigning a cancelled order). */
  OrderStateConflict: 'OrderStateConflict',
} as const;

export type FailureType = (typeof FailureType)[keyof typeof FailureType];
