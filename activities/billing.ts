import { ApplicationFailure } from '@temporalio/common';
import type { Config } from '../lib/config';
import { FailureType } from '../workflows/errors';
import { retryAfterMs } from './sms-provider';

/** A customer to create at the billing provider. */
export interface NewBillingCustomer {
  email: string;
  name: string;
  /** Free-form references kept by the provider (e.g. our tenant ID), for reconciliation. */
  metadata: Record<string, string>;
}

/** A subscription of a customer to one price. */
export interface NewBillingSubscription {
  customerId: string;
  priceId: string;
  metadata: Record<string, string>;
}

/** What a removal found: `missing` means the object was already gone, which counts as done. */
export type RemovalOutcome = 'removed' | 'missing';

/**
 * The billing provider as onboarding sees it. Every call takes an idempotency key: a retry with
 * the same key after a lost answer gets the first result instead of a second customer.
 *
 * Failures: `ApplicationFailure` `CardDeclined` or `PaymentRequired` (non-retryable) when the
 * payment is refused, `ProviderRejected` (non-retryable) for any other refusal no retry changes,
 * `ProviderThrottled` (retryable, after the provider's Retry-After) on 429, and plain errors
 * (retryable) for 5xx, 409 and network trouble or timeouts.
 */
export interface BillingProvider {
  createCustomer(customer: NewBillingCustomer, idempotencyKey: string): Promise<{ id: string }>;
  createSubscription(
    subscription: NewBillingSubscription,
    idempotencyKey: string,
  ): Promise<{ id: string; status: string }>;
  cancelSubscription(subscriptionId: string, idempotencyKey: string): Promise<RemovalOutcome>;
  deleteCustomer(customerId: string, idempotencyKey: string): Promise<RemovalOutcome>;
}

export interface HttpBillingProviderOptions {
  /** Base URL, e.g. https://api.stripe.com; paths start with /v1. */
  url: string;
  /** Sent as `Authorization: Bearer …` when set. */
  apiKey?: string;
  /** Per request; an unanswered call is abandoned and retried by the activity (same key). */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** For Retry-After dates. */
  now?: () => Date;
}

/**
 * Stripe's form encoding: nested objects and arrays as bracketed keys, e.g.
 * `metadata[tenant_id]=…` and `items[0][price]=…`.
 */
export function formEncode(value: Record<string, unknown>): string {
  const params = new URLSearchParams();
  const add = (key: string, item: unknown): void => {
    if (typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean') {
      params.append(key, String(item));
    } else if (Array.isArray(item)) {
      item.forEach((element, index) => add(`${key}[${index}]`, element));
    } else if (typeof item === 'object' && item !== null) {
      for (const [name, nested] of Object.entries(item)) add(`${key}[${name}]`, nested);
    }
  };
  for (const [key, item] of Object.entries(value)) add(key, item);
  return params.toString();
}

interface ProviderError {
  type?: string;
  code?: string;
  message?: string;
}

/**
 * The HTTP adapter for a Stripe-shaped billing API: `POST /v1/customers`,
 * `POST /v1/subscriptions`, `DELETE /v1/subscriptions/:id`, `DELETE /v1/customers/:id`.
 * Requests are form-encoded as Stripe's are; answers are JSON, errors
 * `{ error: { type, code, message } }`. Every request carries the caller's `Idempotency-Key`.
 *
 * Status mapping: 2xx success; 402, or an error of type `card_error`, is a payment refusal
 * (non-retryable); 404 on a DELETE means already removed; 409 (the same key in flight), 5xx,
 * timeouts and network errors are retryable; 429 is retried after Retry-After; any other 4xx is
 * `ProviderRejected` (non-retryable: a bad key or a bad request does not improve on retry).
 */
export function createHttpBillingProvider(options: HttpBillingProviderOptions): BillingProvider {
  const fetchImpl = options.fetch ?? fetch;
  const base = options.url.replace(/\/$/, '');
  const now = options.now ?? (() => new Date());
  const timeoutMs = options.timeoutMs ?? 15_000;

  async function call(
    method: 'POST' | 'DELETE',
    path: string,
    idempotencyKey: string,
    body?: Record<string, unknown>,
  ): Promise<{ status: number; json: unknown }> {
    const headers: Record<string, string> = { Accept: 'application/json', 'Idempotency-Key': idempotencyKey };
    if (options.apiKey) headers.Authorization = `Bearer ${options.apiKey}`;
    if (body) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    let response: Response;
    let text: string;
    try {
      response = await fetchImpl(`${base}${path}`, {
        method,
        headers,
        body: body ? formEncode(body) : undefined,
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : String(error);
      // Retryable: the provider may or may not have acted, and the idempotency key makes asking again safe.
      throw new Error(`Billing provider unreachable (${method} ${path}): ${reason}`);
    }
    const json = safeJson(text);
    if (response.ok) return { status: response.status, json };
    if (method === 'DELETE' && response.status === 404) return { status: 404, json };

    const error: ProviderError = (json as { error?: ProviderError } | undefined)?.error ?? {};
    const message = `Billing provider answered ${response.status} to ${method} ${path}: ${error.message ?? text.slice(0, 200)}`;
    if (error.type === 'card_error') throw ApplicationFailure.nonRetryable(message, FailureType.CardDeclined);
    if (response.status === 402) throw ApplicationFailure.nonRetryable(message, FailureType.PaymentRequired);
    if (response.status === 429) {
      throw ApplicationFailure.create({
        type: FailureType.ProviderThrottled,
        message,
        nextRetryDelay: retryAfterMs(response.headers.get('retry-after'), now()),
      });
    }
    if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 409) {
      throw ApplicationFailure.nonRetryable(message, FailureType.ProviderRejected);
    }
    throw new Error(message);
  }

  const idOf = (json: unknown, what: string): string => {
    const id = (json as { id?: unknown } | undefined)?.id;
    if (typeof id !== 'string' || id === '') throw new Error(`Billing provider created a ${what} without an id`);
    return id;
  };

  return {
    async createCustomer({ email, name, metadata }, idempotencyKey) {
      const { json } = await call('POST', '/v1/customers', idempotencyKey, { email, name, metadata });
      return { id: idOf(json, 'customer') };
    },

    async createSubscription({ customerId, priceId, metadata }, idempotencyKey) {
      const { json } = await call('POST', '/v1/subscriptions', idempotencyKey, {
        customer: customerId,
        items: [{ price: priceId }],
        metadata,
      });
      const status = (json as { status?: unknown }).status;
      return { id: idOf(json, 'subscription'), status: typeof status === 'string' ? status : 'unknown' };
    },

    async cancelSubscription(subscriptionId, idempotencyKey) {
      const { status } = await call(
        'DELETE',
        `/v1/subscriptions/${encodeURIComponent(subscriptionId)}`,
        idempotencyKey,
      );
      return status === 404 ? 'missing' : 'removed';
    },

    async deleteCustomer(customerId, idempotencyKey) {
      const { status } = await call('DELETE', `/v1/customers/${encodeURIComponent(customerId)}`, idempotencyKey);
      return status === 404 ? 'missing' : 'removed';
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

/** The adapter the config names, or none when no BILLING_API_URL is set (allowed outside production). */
export function createConfiguredBilling(billing: Config['billing']): BillingProvider | undefined {
  const { apiUrl, apiKey, timeoutMs } = billing;
  return apiUrl ? createHttpBillingProvider({ url: apiUrl, apiKey, timeoutMs }) : undefined;
}
