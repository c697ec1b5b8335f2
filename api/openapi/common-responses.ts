import { z } from 'zod';
import { noQuery, requiredIdempotencyKeyHeader } from '../schemas';
import type { RouteResponse, RouteSpec } from './route-spec';

/**
 * The pieces of route specs that many routes share because the same code answers them: the
 * Idempotency-Key a start request must carry, the 423 of a paused flow, the refusals of the
 * operator routes a platform admin scopes with `?tenantId=`, and the idempotent start itself.
 */

/** The headers of a request that starts something and cannot go without an Idempotency-Key. */
export const requiredIdempotencyKeyHeaders = z.object({ 'Idempotency-Key': requiredIdempotencyKeyHeader });

/** 423 from a start refused because the tenant paused the flow (api/services/flow-pauses.ts). */
export const flowPaused = (flow: string): RouteResponse => ({
  description: `FLOW_PAUSED: the tenant paused its ${flow} flow (POST /api/v1/flows/${flow}/resume)`,
});

/**
 * The refusals of an operator route whose scope a platform admin names with `?tenantId=`: a
 * tenant's token may only name its own tenant, and a named tenant must exist. `invalid` and
 * `notFound` add what the route itself refuses.
 */
export const tenantScopeRefusals = ({
  invalid = 'Invalid request',
  forbidden = 'A tenant named another tenant',
  notFound,
}: {
  invalid?: string;
  forbidden?: string;
  notFound: string;
}): Record<400 | 403 | 404, RouteResponse> => ({
  400: { description: invalid },
  403: { description: forbidden },
  404: { description: notFound },
});

export interface IdempotentStartOptions extends Pick<
  RouteSpec,
  'path' | 'operationId' | 'summary' | 'description' | 'tag'
> {
  /** What the started thing is called in its ID's name: `export` → `{ exportId, workflowId }`. */
  noun: string;
  body: z.ZodType;
  /** The 202's first word: `Requested`, `Started`, `Taken`. */
  accepted: string;
  /** The 422 codes, IDEMPOTENCY_KEY_REUSED among them. */
  unprocessable: string;
  /** The flow a tenant pauses to refuse new starts with 423 (domain/flow-catalog.ts). */
  flow: string;
}

/**
 * `POST /api/v1/<things>`: an operator starts a workflow, keyed by a required Idempotency-Key, and
 * is answered 202 with Location at once; the same key again answers the same start.
 */
export const idempotentStartRoute = ({
  noun,
  body,
  accepted,
  unprocessable,
  flow,
  ...spec
}: IdempotentStartOptions): RouteSpec => ({
  method: 'post',
  ...spec,
  auth: 'operator',
  query: noQuery,
  headers: requiredIdempotencyKeyHeaders,
  body,
  responses: {
    202: {
      description: `${accepted}, with Location; a repeat with the same key answers Idempotent-Replayed`,
      schema: z.object({ [`${noun}Id`]: z.uuid(), workflowId: z.string() }),
    },
    422: { description: unprocessable },
    423: flowPaused(flow),
  },
});
