import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../workflows/errors';
import { withProviderReply } from './provider-replies';

/** Sends one text message; what the notification activities need from any SMS provider. */
export interface SmsProvider {
  /**
   * @returns the provider's message ID.
   * @throws ApplicationFailure `ProviderRejected` (non-retryable) when the provider refuses the
   *   message for good; `ProviderThrottled` with the provider's delay on 429; a plain Error otherwise.
   */
  send(message: { to: string; body: string; idempotencyKey: string }): Promise<{ id: string }>;
}

export interface HttpSmsProviderOptions {
  /** Names the provider in errors; default `SMS provider`. */
  name?: string;
  /** Base URL; messages are POSTed to `{url}/messages`. */
  url: string;
  /** Sent as `Authorization: Bearer …` when set. */
  token?: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** For Retry-After dates. */
  now?: () => Date;
}

/**
 * The delay a `Retry-After` header asks for, in milliseconds: delta-seconds or an HTTP date.
 * Undefined when absent or unreadable, so the retry policy's own backoff applies.
 */
export function retryAfterMs(header: string | null, now: Date): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now.getTime());
}

/**
 * The HTTP provider adapter, for SMS and WhatsApp alike: `POST {url}/messages` with JSON `{ to, body }`, a bearer token and an
 * `Idempotency-Key` header, answered by 2xx `{ id }`. The key makes a retry after a lost answer
 * safe: the provider returns the first message instead of sending a second one.
 *
 * Failures say `{name} answered {status}` and nothing more; the provider's body, which may quote
 * the recipient, travels beside the error for the ledger row (provider-replies.ts).
 *
 * Status mapping: 4xx other than 408 and 429 will not change on retry (ProviderRejected,
 * non-retryable); 429 is retried after the provider's Retry-After; 408, 5xx and network errors
 * are retried with the activity's backoff.
 */
export function createHttpSmsProvider(options: HttpSmsProviderOptions): SmsProvider {
  const fetchImpl = options.fetch ?? fetch;
  const endpoint = `${options.url.replace(/\/$/, '')}/messages`;
  const now = options.now ?? (() => new Date());
  const name = options.name ?? 'SMS provider';
  return {
    async send({ to, body, idempotencyKey }) {
      const headers: Record<string, string> = { 'Content-Type': 'application/json', 'Idempotency-Key': idempotencyKey };
      if (options.token) headers.Authorization = `Bearer ${options.token}`;
      const response = await fetchImpl(endpoint, {
        method: 'POST',
        headers,
        body: JSON.stringify({ to, body }),
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      const text = await response.text();
      if (response.ok) {
        const id = (safeJson(text) as { id?: unknown } | undefined)?.id;
        if (typeof id !== 'string' || id === '') {
          throw new Error(`${name} answered ${response.status} without an id`);
        }
        return { id };
      }
      // The status only: the body may quote the recipient, so it goes to the ledger row alone (provider-replies.ts).
      const message = `${name} answered ${response.status}`;
      const reply = text.slice(0, 200);
      if (response.status === 429) {
        throw withProviderReply(
          ApplicationFailure.create({
            type: FailureType.ProviderThrottled,
            message,
            nextRetryDelay: retryAfterMs(response.headers.get('retry-after'), now()),
          }),
          reply,
        );
      }
      if (response.status >= 400 && response.status < 500 && response.status !== 408) {
        throw withProviderReply(ApplicationFailure.nonRetryable(message, FailureType.ProviderRejected), reply);
      }
      throw withProviderReply(new Error(message), reply);
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
