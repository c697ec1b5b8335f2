import { flowPaused } from '../openapi/common-responses';
import type { RouteSpec } from '../openapi/route-spec';
import { Router } from 'express';
import type { WorkflowRouterDeps } from '../router-deps';
import { z } from 'zod';
import { EVENT_KEY_PATTERN, isHoldfastEventType } from '../../domain/events';
import { principalOf, requireRole } from '../auth';
import { AppError } from '../errors';
import { eventType, isoDateTime, noQuery, pagination, singleLine, storableJson, uuid } from '../schemas';
import { eventWithFanOut, listEvents, reportEvent } from '../services/events';
import { parse } from '../validation';

export type EventsRouterDeps = WorkflowRouterDeps;

/** Event data: a JSON object the database can store, within the API's bounds on size and depth. */
const eventData = storableJson({ maxDepth: 8, maxNodes: 5_000, maxStringLength: 5_000 }).refine(
  (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
  { message: 'expected a JSON object' },
);

const reportBody = z
  .object({
    id: z.string().regex(EVENT_KEY_PATTERN, { message: 'expected 1 to 200 printable ASCII characters' }).optional(),
    type: eventType(),
    subject: z.object({ type: singleLine(100), id: singleLine(200) }).strict(),
    data: eventData.transform((value) => value as Record<string, unknown>),
    occurredAt: isoDateTime().optional(),
  })
  .strict();

const listQuery = z.object({ type: eventType().optional(), since: isoDateTime().optional(), ...pagination() }).strict();
const eventParams = z.object({ eventId: uuid() });

/**
 * Domain events, scoped to the caller's tenant: its application reports them (operator or above,
 * as for notifications: a rule can turn an event's data into a message), and any role reads them
 * back with what their fan-out did. The types Holdfast's own flows publish are refused
 * here, so a receiver can trust that an `order.delivered` came from Holdfast.
 */
export function createEventsRouter({ prisma, temporal, taskQueue, fairnessWeights }: EventsRouterDeps): Router {
  const router = Router();

  router.post('/events', requireRole('operator'), async (req, res) => {
    parse(noQuery, req.query);
    const body = parse(reportBody, req.body);
    if (isHoldfastEventType(body.type)) {
      throw new AppError(422, 'RESERVED_EVENT_TYPE', `${body.type} is published by Holdfast only`, { type: body.type });
    }
    const { tenantId } = principalOf(req);
    const reported = await reportEvent({ prisma, temporal, taskQueue, fairnessWeights }, tenantId, body);
    res
      .status(202)
      .location(`/api/v1/events/${reported.eventId}`)
      .set(reported.duplicate ? { 'Idempotent-Replayed': 'true' } : {})
      .json(reported);
  });

  router.get('/events', async (req, res) => {
    const query = parse(listQuery, req.query);
    res.json(await listEvents(prisma, principalOf(req).tenantId, query));
  });

  router.get('/events/:eventId', async (req, res) => {
    const { eventId } = parse(eventParams, req.params);
    parse(noQuery, req.query);
    res.json(
      await eventWithFanOut({ prisma, temporal, taskQueue, fairnessWeights }, principalOf(req).tenantId, eventId),
    );
  });

  return router;
}

export const eventsRoutes: RouteSpec[] = [
  {
    method: 'post',
    path: '/api/v1/events',
    operationId: 'reportEvent',
    summary: "Report a domain event from the tenant's application; the rules it matches fan out",
    description:
      'An `id` makes the report idempotent (a repeat answers Idempotent-Replayed). Types Holdfast publishes ' +
      'itself are refused with 422 RESERVED_EVENT_TYPE; a reused id with other content is 422 EVENT_ID_REUSED.',
    tag: 'Events',
    auth: 'operator',
    query: noQuery,
    body: reportBody,
    responses: {
      202: {
        description: 'Taken; its fan-out runs as a workflow',
        schema: z.object({ eventId: z.uuid(), workflowId: z.string(), duplicate: z.boolean() }),
      },
      422: { description: 'RESERVED_EVENT_TYPE or EVENT_ID_REUSED' },
      423: flowPaused('events'),
    },
  },
  {
    method: 'get',
    path: '/api/v1/events',
    operationId: 'listEvents',
    summary: "The tenant's events, newest first",
    tag: 'Events',
    auth: 'member',
    query: listQuery,
    responses: { 200: { description: 'A page of events with the total' } },
  },
  {
    method: 'get',
    path: '/api/v1/events/:eventId',
    operationId: 'getEvent',
    summary: 'One event with what its fan-out did (the notifications it made)',
    tag: 'Events',
    auth: 'member',
    params: eventParams,
    query: noQuery,
    responses: { 200: { description: 'The event and its fan-out' } },
  },
];
