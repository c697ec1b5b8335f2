import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { components, paths } from './openapi-types';

/**
 * The typed Holdfast API client: openapi-fetch over the types generated from the OpenAPI document
 * (`npm run client:generate`), so a path, a parameter or a body the API does not take is a compile
 * error, and every answer is typed by its status.
 *
 * ```ts
 * const holdfast = createHoldfastClient({ baseUrl: 'http://localhost:3000', token });
 * const slot = await unwrap(holdfast.POST('/api/v1/slots', { body: { name: 'Court 3, 18:00' } }));
 * ```
 */

export type { components, operations, paths } from './openapi-types';

/** What every refusal answers: `{ error: { code, message, details } }`. */
export type ErrorEnvelope = components['schemas']['ErrorEnvelope'];

export type HoldfastClient = Client<paths>;

export interface HoldfastClientOptions {
  /** Where the API listens, e.g. `http://localhost:3000` (the paths start with `/api/v1`). */
  baseUrl: string;
  /** The bearer JWT, or a function that returns the current one (for tokens that are renewed). */
  token?: string | (() => string | Promise<string>);
  /** A fetch of your own (a proxy agent, a test double); defaults to the global fetch. */
  fetch?: (request: Request) => Promise<Response>;
}

/** A refusal from the API, with the error envelope's code, message and details. */
export class HoldfastApiError extends Error {
  constructor(
    /** The HTTP status, e.g. 404. */
    readonly status: number,
    /** The envelope's code, e.g. `NOT_FOUND`, `VALIDATION_FAILED`, `HOLD_EXPIRED`. */
    readonly code: string,
    message: string,
    /** Per-field problems for VALIDATION_FAILED, else the context the API gave (or null). */
    readonly details: unknown,
    /** The request's X-Request-Id, to find its log lines. */
    readonly requestId: string | undefined,
  ) {
    super(message);
    this.name = 'HoldfastApiError';
  }
}

function isErrorEnvelope(value: unknown): value is ErrorEnvelope {
  if (typeof value !== 'object' || value === null) return false;
  const error = (value as { error?: unknown }).error;
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'string' &&
    typeof (error as { message?: unknown }).message === 'string'
  );
}

/**
 * The error an answer that is not a success stands for. An envelope gives its code, message and
 * details; anything else (a proxy's HTML page, an empty body) is `HTTP_<status>` with the text.
 */
export function toHoldfastApiError(response: Response, body: unknown): HoldfastApiError {
  const requestId = response.headers.get('x-request-id') ?? undefined;
  if (isErrorEnvelope(body)) {
    return new HoldfastApiError(response.status, body.error.code, body.error.message, body.error.details, requestId);
  }
  const text = typeof body === 'string' ? body.slice(0, 200) : '';
  return new HoldfastApiError(
    response.status,
    `HTTP_${response.status}`,
    text || `${response.status} ${response.statusText}`,
    null,
    requestId,
  );
}

/**
 * A call's data, or a {@link HoldfastApiError} thrown for its refusal:
 * `const order = await unwrap(holdfast.GET('/api/v1/orders/{orderId}', { params: { path: { orderId } } }))`.
 */
export async function unwrap<Result extends { data?: unknown; error?: unknown; response: Response }>(
  call: Promise<Result>,
): Promise<SuccessData<Result>> {
  const result = await call;
  if (result.error !== undefined || !result.response.ok) throw toHoldfastApiError(result.response, result.error);
  return result.data as SuccessData<Result>;
}

/**
 * The data of a call's success branch (openapi-fetch answers a union of success and error); a
 * success without a body (204) is `undefined`, as openapi-fetch gives it, not `never`.
 */
type SuccessData<Result> = Result extends { error?: never; data: infer Data }
  ? [Data] extends [never]
    ? undefined
    : Data
  : never;

/** A client whose every request carries the bearer token. */
export function createHoldfastClient({ baseUrl, token, fetch }: HoldfastClientOptions): HoldfastClient {
  const client = createClient<paths>({ baseUrl: baseUrl.replace(/\/$/, ''), ...(fetch ? { fetch } : {}) });
  if (token !== undefined) {
    const bearer: Middleware = {
      async onRequest({ request }) {
        const value = typeof token === 'function' ? await token() : token;
        // Taken with or without its scheme: `npm run token` prints the bare JWT, an Authorization header has both.
        request.headers.set('Authorization', `Bearer ${value.replace(/^Bearer\s+/i, '')}`);
        return request;
      },
    };
    client.use(bearer);
  }
  return client;
}
