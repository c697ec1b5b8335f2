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
  /** A notification template does not compile, or names a variable its data lacks (strict mode). */
  TemplateInvalid: 'TemplateInvalid',
  /** No default and no tenant template has a notification's template name. */
  TemplateNotFound: 'TemplateNotFound',
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
  /**
   * The database refused the data an activity wrote (SQLSTATE classes 22 and 23, or a Prisma
   * validation error): a value it cannot store, a broken reference or a duplicate key. The same
   * input fails the same way every time, so it is never retried (activities/database-failures.ts).
   */
  DataRejected: 'DataRejected',
  /**
   * A step of a flow failed for good and the flow stopped in its NEEDS_ATTENTION state; its state
   * query names the step and the reason. The workflow fails with it.
   */
  NeedsAttention: 'NeedsAttention',
} as const;

export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** Update rejections every flow may answer with, beside each flow's own; the API answers them with 4xx. */
export const FlowRejection = {
  /**
   * The request carries text that can never be stored (a NUL, an unpaired surrogate), or a value
   * of the wrong type. Refused by the validator, so nothing is written to the workflow's history.
   */
  InvalidInput: 'INVALID_INPUT',
  /** The flow stopped on a failure it cannot retry (NEEDS_ATTENTION) while the request waited for it. */
  NeedsAttention: 'NEEDS_ATTENTION',
  /** The database refused what the request asked to record; the flow carries on without it. */
  DataRejected: 'DATA_REJECTED',
} as const;

export type FlowRejection = (typeof FlowRejection)[keyof typeof FlowRejection];

/**
 * Failure types no retry can fix, for each kind of retry profile's `nonRetryableErrorTypes`.
 * Activities already throw these non-retryable; naming them in the profile as well keeps a profile
 * honest if an activity ever throws one as a plain failure.
 */
export const PermanentFailures: Readonly<Record<'step' | 'message', FailureType[]>> = {
  /** Every step: data the database refuses fails the same way on every attempt. */
  step: [FailureType.DataRejected],
  /** Steps that send a message, besides: a recipient, a provider's refusal, a missing channel or a gone row. */
  message: [
    FailureType.DataRejected,
    FailureType.InvalidRecipient,
    FailureType.ProviderRejected,
    FailureType.ChannelNotConfigured,
    FailureType.NotFound,
  ],
};
