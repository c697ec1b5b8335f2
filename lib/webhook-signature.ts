import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): what Holdfast signs its
 * deliveries with, and the check a receiver runs. Depends on node:crypto only, so a receiver can
 * copy this file into its own code base.
 */

/** Every secret starts with this; the rest is the base64 of the signing key. */
export const WEBHOOK_SECRET_PREFIX = 'whsec_';

/** The default tolerance between a delivery's timestamp and the receiver's clock: five minutes, as the spec suggests. */
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

/** A new secret: `whsec_` and the base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  return `${WEBHOOK_SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

/** The key a secret stands for: the base64-decoded part after `whsec_` (a bare base64 key is taken as well). */
function signingKey(secret: string): Buffer {
  const encoded = secret.startsWith(WEBHOOK_SECRET_PREFIX) ? secret.slice(WEBHOOK_SECRET_PREFIX.length) : secret;
  const key = Buffer.from(encoded, 'base64');
  if (key.length === 0) throw new WebhookVerificationError('INVALID_SECRET', 'The webhook secret is empty');
  return key;
}

/** `v1,` and the base64 HMAC-SHA256 of `${id}.${timestamp}.${body}` under the secret's key. */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string | Buffer): string {
  const mac = createHmac('sha256', signingKey(secret));
  mac.update(`${id}.${timestampSeconds}.`);
  mac.update(body);
  return `v1,${mac.digest('base64')}`;
}

/** Why a delivery was refused; `reason` is stable for code to branch on. */
export class WebhookVerificationError extends Error {
  constructor(
    readonly reason:
      | 'MISSING_HEADERS'
      | 'INVALID_TIMESTAMP'
      | 'TIMESTAMP_TOO_OLD'
      | 'TIMESTAMP_TOO_NEW'
      | 'NO_MATCHING_SIGNATURE'
      | 'INVALID_SECRET',
    message: string,
  ) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

/** Node's `req.headers`, a fetch `Headers`, or a plain record. */
export type WebhookHeaders = { get(name: string): string | null } | Record<string, string | string[] | undefined>;

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((candidate) => candidate.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value.join(' ') : value;
}

export interface VerifyOptions {
  /** How far the delivery's timestamp may be from now, either way; default {@link DEFAULT_TOLERANCE_SECONDS}. */
  toleranceSeconds?: number;
  /** The receiver's clock; tests may pin it. */
  now?: () => Date;
}

/**
 * Checks a delivery as received: the `webhook-id`, `webhook-timestamp` and `webhook-signature`
 * headers against the raw body (the bytes as sent, before any JSON parsing). Passes when any `v1`
 * signature in the header matches (during a secret rotation there are two) and the timestamp lies
 * within the tolerance, which stops an old delivery from being replayed.
 *
 * @returns the message ID (the same on every retry of one delivery: use it to drop repeats) and timestamp.
 * @throws WebhookVerificationError when a header is missing, the timestamp is outside the
 *   tolerance, or no signature matches.
 */
export function verifyWebhookSignature(
  secret: string,
  headers: WebhookHeaders,
  body: string | Buffer,
  options: VerifyOptions = {},
): { id: string; timestamp: number } {
  const id = header(headers, 'webhook-id');
  const timestampText = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestampText || !signatures) {
    throw new WebhookVerificationError(
      'MISSING_HEADERS',
      'webhook-id, webhook-timestamp and webhook-signature are required',
    );
  }
  if (!/^\d{1,12}$/.test(timestampText)) {
    throw new WebhookVerificationError('INVALID_TIMESTAMP', 'webhook-timestamp is not a Unix time in seconds');
  }
  const timestamp = Number(timestampText);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const nowSeconds = Math.floor((options.now?.() ?? new Date()).getTime() / 1000);
  if (timestamp < nowSeconds - tolerance) {
    throw new WebhookVerificationError('TIMESTAMP_TOO_OLD', 'webhook-timestamp is older than the tolerance');
  }
  if (timestamp > nowSeconds + tolerance) {
    throw new WebhookVerificationError('TIMESTAMP_TOO_NEW', 'webhook-timestamp is further ahead than the tolerance');
  }
  const expected = Buffer.from(signWebhook(secret, id, timestamp, body));
  const matches = signatures
    .split(' ')
    .filter((candidate) => candidate.startsWith('v1,'))
    .some((candidate) => {
      const given = Buffer.from(candidate);
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
  if (!matches) throw new WebhookVerificationError('NO_MATCHING_SIGNATURE', 'No webhook signature matches the secret');
  return { id, timestamp };
}
