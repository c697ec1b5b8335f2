import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer, collectBody, listenOn } from './ports';

/**
 * A local stand-in for the billing provider, speaking the Stripe-shaped API the billing adapter
 * (activities/billing.ts) calls, on a real loopback HTTP port:
 *
 * - `POST /v1/customers` (`email`, `name`, `metadata[…]`) → a `cus_…` customer;
 * - `POST /v1/subscriptions` (`customer`, `items[0][price]`, `metadata[…]`) → an active `sub_…`;
 * - `DELETE /v1/subscriptions/:id` → the subscription, canceled;
 * - `DELETE /v1/customers/:id` → `{ id, deleted: true }`, canceling the customer's subscriptions;
 * - `GET` on either object, for looking around.
 *
 * Bodies may be form-encoded (as Stripe's) or JSON. A repeated `Idempotency-Key` replays the
 * first answer (with `Idempotent-Replayed: true`) without acting twice; the same key with other
 * parameters is a 400. Unknown objects are 404, errors `{ error: { type, code, message } }` as Stripe's.
 *
 * Tests inject faults per request ({@link BillingSandboxHandle.inject}); `npm run dev` runs it
 * when no BILLING_API_URL is configured. State lives in memory: a restart forgets every customer.
 */

export interface BillingSandboxOptions {
  /** 0 or absent picks a free port. */
  port?: number;
  host?: string;
  /** When set, requests must carry `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
}

export interface SandboxCustomer {
  id: string;
  email: string;
  name: string;
  metadata: Record<string, string>;
  deleted: boolean;
}

export interface SandboxSubscription {
  id: string;
  customer: string;
  price: string;
  status: 'active' | 'canceled';
  metadata: Record<string, string>;
}

/** One request as the sandbox saw it; `status` is null when it was never answered. */
export interface SandboxRequest {
  method: string;
  path: string;
  idempotencyKey: string | null;
  status: number | null;
  replayed: boolean;
}

/**
 * What an injected fault does to a matching request:
 * - `status`: answers that status (500, 503, 429 with Retry-After, 402…) without acting;
 * - `card_declined`: answers 402 with a Stripe `card_error`, without acting;
 * - `hang`: never answers and does nothing (the client times out);
 * - `process_then_hang`: acts, records the answer for the idempotency key, then never answers,
 *   as when a response is lost after the provider did the work.
 */
export type SandboxFault =
  | { type: 'status'; status: number; retryAfterSeconds?: number }
  | { type: 'card_declined' }
  | { type: 'hang' }
  | { type: 'process_then_hang' };

export interface FaultRule {
  method?: 'GET' | 'POST' | 'DELETE';
  /** Matches requests whose path starts with it, e.g. `/v1/customers`; absent matches all. */
  path?: string;
  /** How many matching requests it affects: 1 unless given; `Infinity` for all of them. */
  times?: number;
  fault: SandboxFault;
}

export interface BillingSandboxHandle {
  /** What BILLING_API_URL should be. */
  url: string;
  stop(): Promise<void>;
  /** Every customer ever created, deleted ones included (`deleted: true`). */
  customers(): SandboxCustomer[];
  subscriptions(): SandboxSubscription[];
  requests(): SandboxRequest[];
  /** Adds a fault for the next matching request(s); rules are tried in the order given. */
  inject(rule: FaultRule): void;
  /** Drops every fault not yet used up. */
  clearFaults(): void;
}

interface Answer {
  status: number;
  body: unknown;
}

interface StoredAnswer extends Answer {
  fingerprint: string;
}

const MAX_BODY_BYTES = 64 * 1024;

const id = (prefix: string) => `${prefix}_${randomBytes(10).toString('hex')}`;

const stripeError = (status: number, type: string, message: string, code?: string): Answer => ({
  status,
  body: { error: { type, message, ...(code ? { code } : {}) } },
});

const missing = (what: string, objectId: string) =>
  stripeError(404, 'invalid_request_error', `No such ${what}: '${objectId}'`, 'resource_missing');

/**
 * Decodes a form body with Stripe's bracketed keys (`metadata[a]=1`, `items[0][price]=p`) into
 * nested objects; array indices become object keys, which is all the sandbox needs.
 */
export function decodeStripeForm(text: string): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const [head, ...rest] = key.split('[').map((part) => part.replace(/\]$/, ''));
    let target = root;
    const path = [head!, ...rest];
    path.slice(0, -1).forEach((part) => {
      const next = target[part];
      target = (typeof next === 'object' && next !== null ? next : (target[part] = {})) as Record<string, unknown>;
    });
    target[path[path.length - 1]!] = value;
  }
  return root;
}

function stringRecord(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null) return {};
  return Object.fromEntries(
    Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
}

/** Starts the sandbox on loopback. */
export async function startBillingSandbox(options: BillingSandboxOptions = {}): Promise<BillingSandboxHandle> {
  const customers = new Map<string, SandboxCustomer>();
  const subscriptions = new Map<string, SandboxSubscription>();
  const answers = new Map<string, StoredAnswer>();
  const faults: Array<FaultRule & { remaining: number }> = [];
  const log: SandboxRequest[] = [];

  function takeFault(method: string, path: string): SandboxFault | undefined {
    const index = faults.findIndex(
      (rule) => (!rule.method || rule.method === method) && (!rule.path || path.startsWith(rule.path)),
    );
    if (index < 0) return undefined;
    const rule = faults[index]!;
    rule.remaining -= 1;
    if (rule.remaining <= 0) faults.splice(index, 1);
    return rule.fault;
  }

  function presentSubscription(subscription: SandboxSubscription) {
    const { price, ...rest } = subscription;
    return { object: 'subscription', ...rest, items: { data: [{ price: { id: price } }] } };
  }

  /** Does the work of one request; the answer is what the idempotency key will replay. */
  function handle(method: string, path: string, params: Record<string, unknown>): Answer {
    const [, version, resource, objectId, extra] = path.split('/');
    if (version !== 'v1' || extra !== undefined)
      return stripeError(404, 'invalid_request_error', `Unrecognized request URL (${method} ${path})`);

    if (resource === 'customers') {
      if (method === 'POST' && objectId === undefined) {
        const { email, name } = params;
        if (typeof email !== 'string' || typeof name !== 'string') {
          return stripeError(400, 'invalid_request_error', 'email and name are required', 'parameter_missing');
        }
        const customer: SandboxCustomer = {
          id: id('cus'),
          email,
          name,
          metadata: stringRecord(params.metadata),
          deleted: false,
        };
        customers.set(customer.id, customer);
        return { status: 200, body: { object: 'customer', ...customer } };
      }
      const customer = objectId ? customers.get(objectId) : undefined;
      if (!objectId || !customer || customer.deleted) return missing('customer', objectId ?? '');
      if (method === 'GET') return { status: 200, body: { object: 'customer', ...customer } };
      if (method === 'DELETE') {
        customer.deleted = true;
        for (const subscription of subscriptions.values()) {
          if (subscription.customer === customer.id) subscription.status = 'canceled';
        }
        return { status: 200, body: { id: customer.id, object: 'customer', deleted: true } };
      }
    }

    if (resource === 'subscriptions') {
      if (method === 'POST' && objectId === undefined) {
        const customerId = typeof params.customer === 'string' ? params.customer : '';
        const customer = customers.get(customerId);
        const items = params.items as Record<string, { price?: unknown }> | undefined;
        const price = items?.['0']?.price;
        if (!customer || customer.deleted) return missing('customer', customerId);
        if (typeof price !== 'string') {
          return stripeError(400, 'invalid_request_error', 'items[0][price] is required', 'parameter_missing');
        }
        const subscription: SandboxSubscription = {
          id: id('sub'),
          customer: customer.id,
          price,
          status: 'active',
          metadata: stringRecord(params.metadata),
        };
        subscriptions.set(subscription.id, subscription);
        return { status: 200, body: presentSubscription(subscription) };
      }
      const subscription = objectId ? subscriptions.get(objectId) : undefined;
      if (!objectId || !subscription) return missing('subscription', objectId ?? '');
      if (method === 'GET') return { status: 200, body: presentSubscription(subscription) };
      if (method === 'DELETE') {
        subscription.status = 'canceled';
        return { status: 200, body: presentSubscription(subscription) };
      }
    }
    return stripeError(404, 'invalid_request_error', `Unrecognized request URL (${method} ${path})`);
  }

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0]!;
    const key = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : null;
    const entry: SandboxRequest = { method, path, idempotencyKey: key, status: null, replayed: false };
    log.push(entry);

    const answer = ({ status, body }: Answer, headers: Record<string, string> = {}) => {
      entry.status = status;
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };

    collectBody(req, MAX_BODY_BYTES, (raw) => {
      if (options.apiKey && req.headers.authorization !== `Bearer ${options.apiKey}`) {
        return answer(stripeError(401, 'invalid_request_error', 'Invalid API Key provided'));
      }
      if (raw === undefined) return answer(stripeError(413, 'invalid_request_error', 'Request body too large'));
      let params: Record<string, unknown>;
      try {
        params = req.headers['content-type']?.includes('application/json')
          ? (JSON.parse(raw || '{}') as Record<string, unknown>)
          : decodeStripeForm(raw);
      } catch {
        return answer(stripeError(400, 'invalid_request_error', 'The body is not valid JSON'));
      }

      const fault = takeFault(method, path);
      if (fault?.type === 'hang') return;
      if (fault?.type === 'status') {
        const headers: Record<string, string> =
          fault.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(fault.retryAfterSeconds) };
        const type =
          fault.status >= 500 ? 'api_error' : fault.status === 429 ? 'rate_limit_error' : 'invalid_request_error';
        return answer(stripeError(fault.status, type, `Injected ${fault.status}`), headers);
      }
      if (fault?.type === 'card_declined') {
        return answer(stripeError(402, 'card_error', 'Your card was declined.', 'card_declined'));
      }

      const fingerprint = `${method} ${path} ${JSON.stringify(params)}`;
      if (key && method !== 'GET') {
        const stored = answers.get(key);
        if (stored) {
          if (stored.fingerprint !== fingerprint) {
            return answer(
              stripeError(
                400,
                'idempotency_error',
                'Keys for idempotent requests can only be used with the same parameters they were first used with.',
              ),
            );
          }
          entry.replayed = true;
          return answer(stored, { 'Idempotent-Replayed': 'true' });
        }
      }

      const result = handle(method, path, params);
      // Like Stripe, only answers from requests that ran are kept for the key; a 5xx is not.
      if (key && method !== 'GET' && result.status < 500) answers.set(key, { ...result, fingerprint });
      if (fault?.type === 'process_then_hang') return;
      answer(result);
    });
  });

  const host = options.host ?? '127.0.0.1';
  await listenOn(server, options.port ?? 0, host);
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${host}:${port}`,
    // Hung requests hold their sockets open; stopping must not wait for them.
    stop: () => closeServer(server),
    customers: () => [...customers.values()].map((customer) => ({ ...customer, metadata: { ...customer.metadata } })),
    subscriptions: () => [...subscriptions.values()].map((subscription) => ({ ...subscription })),
    requests: () => log.map((request) => ({ ...request })),
    inject: (rule) => faults.push({ ...rule, remaining: rule.times ?? 1 }),
    clearFaults: () => faults.splice(0, faults.length),
  };
}

if (require.main === module) {
  const port = Number(process.env.BILLING_SANDBOX_PORT ?? 12111);
  startBillingSandbox({ port, host: process.env.BILLING_SANDBOX_HOST, apiKey: process.env.BILLING_API_KEY }).then(
    (sandbox) => {
      process.stdout.write(`Billing sandbox listening on ${sandbox.url} (set BILLING_API_URL to it)\n`);
      const stop = () => void sandbox.stop().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (error: unknown) => {
      process.stderr.write(`Billing sandbox failed to start: ${String(error)}\n`);
      process.exit(1);
    },
  );
}
