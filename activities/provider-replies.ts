/**
 * A provider's own words about a failed send (an SMTP server's reply, an HTTP provider's body)
 * often quote the recipient. They may be kept, redacted, in the Notification row's `lastError`
 * in PostgreSQL, and nowhere else: the failures that cross into Temporal (histories, queries,
 * results) and into events carry codes only. The reply rides beside the error in memory, never
 * on a field that Temporal serialises.
 */
const replies = new WeakMap<Error, string>();

/** Attaches the provider's reply to a failure, for the ledger row only. */
export function withProviderReply<E extends Error>(error: E, reply: string): E {
  replies.set(error, reply);
  return error;
}

/** The provider's reply attached to a failure, with email addresses and phone numbers redacted. */
export function redactedProviderReply(error: unknown): string | undefined {
  const reply = error instanceof Error ? replies.get(error) : undefined;
  return reply === undefined ? undefined : redactPersonalData(reply).slice(0, 500);
}

const EMAIL_ADDRESS = /[^\s<>()[\]"',;:@]+@[^\s<>()[\]"',;:@]+/g;
// Seven or more digits, optionally with a leading + and the usual separators: phone numbers, not
// SMTP's enhanced codes (5.1.1) or reply codes (550).
const PHONE_NUMBER = /\+?\d(?:[\d\s().-]{5,}\d)/g;

/** The text with anything that looks like an email address or a phone number replaced. */
export function redactPersonalData(text: string): string {
  return text.replace(EMAIL_ADDRESS, '[email]').replace(PHONE_NUMBER, '[phone]');
}
