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
} as const;

export type FailureType = (typeof FailureType)[keyof typeof FailureType];
