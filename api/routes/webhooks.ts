import type { RouteSpec } from '../openapi/route-spec';
import { Router } from 'express';
import { z } from 'zod';
import { ALL_EVENTS } from '../../activities/webhook-deliveries';
import { EVENT_TYPE_PATTERN, MAX_EVENT_TYPE_LENGTH } from '../../domain/events';
import { isStorableText } from '../../domain/input-rules';
import { MAX_WEBHOOK_URL_LENGTH } from '../../domain/webhooks';
import { principalOf, requireRole } from '../auth';
import { noBody, noQuery, pagination, singleLine, uuid } from '../schemas';
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  getWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  replayWebhookDelivery,
  rotateWebhookSecret,
  sendWebhookTest,
  updateWebhookEndpoint,
  type WebhookServiceDeps,
} from '../services/webhooks';
import type { WorkflowRouterDeps } from '../router-deps';
import { parse } from '../validation';

const url = z
  .string()
  .trim()
  .max(MAX_WEBHOOK_URL_LENGTH)
  .refine(isStorableText, { message: 'must not contain NUL characters or unpaired surrogates', abort: true })
  .refine((text) => URL.canParse(text) && /^https?:$/.test(new URL(text).protocol), {
    message: 'expected an absolute http(s) URL',
  });

/** Event types the endpoint receives, or `*` for all; repeats are dropped. */
const events = z
  .array(
    z.union([
      z.literal(ALL_EVENTS),
      z
        .string()
        .max(MAX_EVENT_TYPE_LENGTH)
        .regex(EVENT_TYPE_PATTERN, { message: 'expected an event type such as ticket.created, or *' }),
    ]),
  )
  .min(1)
  .max(100)
  .transform((types) => [...new Set(types)]);

const description = singleLine(500).nullable();

const createBody = z.object({ url, events, description: description.optional() }).strict();
const updateBody = z
  .object({ url, events, description, status: z.enum(['ACTIVE', 'DISABLED']) })
  .partial()
  .strict()
  .refine((body) => Object.keys(body).length > 0, { message: 'name at least one field' });

const endpointParams = z.object({ id: uuid() });
const deliveryParams = z.object({ deliveryId: uuid() });
const listQuery = z.object(pagination({ defaultLimit: 50, maxLimit: 200 })).strict();

/**
 * A tenant's webhook endpoints (Standard Webhooks), their deliveries, replays and test sends.
 * Tenant-admin only; another tenant's endpoint or delivery is not found.
 */
export function createWebhooksRouter(deps: WebhookServiceDeps & WorkflowRouterDeps): Router {
  const router = Router();
  router.use('/webhooks', requireRole('tenant-admin'));
  const callerOf = (req: Parameters<typeof principalOf>[0]) => {
    const { tenantId, subject } = principalOf(req);
    return { tenantId, actor: subject };
  };

  router.post('/webhooks', async (req, res) => {
    parse(noQuery, req.query);
    const endpoint = await createWebhookEndpoint(deps, callerOf(req), parse(createBody, req.body));
    res.status(201).location(`/api/v1/webhooks/${endpoint.id}`).json(endpoint);
  });

  router.get('/webhooks', async (req, res) => {
    const page = parse(listQuery, req.query);
    res.json(await listWebhookEndpoints(deps.prisma, principalOf(req).tenantId, page));
  });

  router.get('/webhooks/:id', async (req, res) => {
    parse(noQuery, req.query);
    const { id } = parse(endpointParams, req.params);
    res.json(await getWebhookEndpoint(deps.prisma, principalOf(req).tenantId, id));
  });

  router.patch('/webhooks/:id', async (req, res) => {
    parse(noQuery, req.query);
    const { id } = parse(endpointParams, req.params);
    res.json(await updateWebhookEndpoint(deps, callerOf(req), id, parse(updateBody, req.body)));
  });

  router.delete('/webhooks/:id', async (req, res) => {
    parse(noQuery, req.query);
    const { id } = parse(endpointParams, req.params);
    await deleteWebhookEndpoint(deps.prisma, callerOf(req), id);
    res.status(204).end();
  });

  router.post('/webhooks/:id/rotate-secret', async (req, res) => {
    parse(noQuery, req.query);
    parse(noBody, req.body);
    const { id } = parse(endpointParams, req.params);
    res.json(await rotateWebhookSecret(deps, callerOf(req), id));
  });

  router.post('/webhooks/:id/test', async (req, res) => {
    parse(noQuery, req.query);
    parse(noBody, req.body);
    const { id } = parse(endpointParams, req.params);
    const sent = await sendWebhookTest(deps, callerOf(req), id);
    res.status(202).location(`/api/v1/webhooks/${id}/deliveries`).json(sent);
  });

  router.get('/webhooks/:id/deliveries', async (req, res) => {
    const page = parse(listQuery, req.query);
    const { id } = parse(endpointParams, req.params);
    res.json(await listWebhookDeliveries(deps.prisma, principalOf(req).tenantId, id, page));
  });

  router.post('/webhooks/deliveries/:deliveryId/replay', async (req, res) => {
    parse(noQuery, req.query);
    parse(noBody, req.body);
    const { deliveryId } = parse(deliveryParams, req.params);
    res.status(202).json(await replayWebhookDelivery(deps, callerOf(req), deliveryId));
  });

  return router;
}

/** A new or changed URL goes through the same checks (api/services/webhooks.ts). */
const urlRefusals = {
  409: { description: 'WEBHOOK_URL_TAKEN' },
  422: { description: 'WEBHOOK_URL_REFUSED: a private or otherwise unreachable address' },
};

export const webhooksRoutes: RouteSpec[] = [
  {
    method: 'post',
    path: '/api/v1/webhooks',
    operationId: 'createWebhookEndpoint',
    summary: 'Register an endpoint for events (Standard Webhooks); its signing secret is shown once',
    tag: 'Webhooks',
    auth: 'tenant-admin',
    query: noQuery,
    body: createBody,
    responses: {
      201: { description: 'The endpoint with its secret, with Location' },
      ...urlRefusals,
    },
  },
  {
    method: 'get',
    path: '/api/v1/webhooks',
    operationId: 'listWebhookEndpoints',
    summary: "The tenant's endpoints",
    tag: 'Webhooks',
    auth: 'tenant-admin',
    query: listQuery,
    responses: { 200: { description: 'A page of endpoints' } },
  },
  {
    method: 'get',
    path: '/api/v1/webhooks/:id',
    operationId: 'getWebhookEndpoint',
    summary: 'One endpoint',
    tag: 'Webhooks',
    auth: 'tenant-admin',
    params: endpointParams,
    query: noQuery,
    responses: { 200: { description: 'The endpoint' } },
  },
  {
    method: 'patch',
    path: '/api/v1/webhooks/:id',
    operationId: 'updateWebhookEndpoint',
    summary: 'Change an endpoint, or disable and re-enable it',
    tag: 'Webhooks',
    auth: 'tenant-admin',
    params: endpointParams,
    query: noQuery,
    body: updateBody,
    responses: {
      200: { description: 'The endpoint as changed' },
      ...urlRefusals,
    },
  },
  {
    method: 'delete',
    path: '/api/v1/webhooks/:id',
    operationId: 'deleteWebhookEndpoint',
    summary: 'Delete an endpoint',
    tag: 'Webhooks',
    auth: 'tenant-admin',
    params: endpointParams,
    query: noQuery,
    responses: { 204: { description: 'Deleted' } },
  },
  {
    method: 'post',
    path: '/api/v1/webhooks/:id/rotate-secret',
    operationId: 'rotateWebhookSecret',
    summary: 'Rotate the signing secret; the old one stays valid for a while',
    tag: 'Webhooks',
    auth: 'tenant-admin',
    params: endpointParams,
    query: noQuery,
    body: noBody,
    responses: {
      200: { description: 'The new secret' },
      409: { description: 'ROTATION_IN_PROGRESS' },
    },
  },
  {
    method: 'post',
    path: '/api/v1/webhooks/:id/test',
    operationId: 'sendWebhookTest',
    summary: 'Send a test event to the endpoint',
    tag: 'Webhooks',
    auth: 'tenant-admin',
    params: endpointParams,
    query: noQuery,
    body: noBody,
    responses: {
      202: { description: 'Sending, with Location at the deliveries' },
      409: { description: 'ENDPOINT_DISABLED' },
    },
  },
  {
    method: 'get',
    path: '/api/v1/webhooks/:id/deliveries',
    operationId: 'listWebhookDeliveries',
    summary: 'The endpoint’s deliveries, newest first, with their attempts',
    tag: 'Webhooks',
    auth: 'tenant-admin',
    params: endpointParams,
    query: listQuery,
    responses: { 200: { description: 'A page of deliveries' } },
  },
  {
    method: 'post',
    path: '/api/v1/webhooks/deliveries/:deliveryId/replay',
    operationId: 'replayWebhookDelivery',
    summary: 'Deliver an event to its endpoint again',
    tag: 'Webhooks',
    auth: 'tenant-admin',
    params: deliveryParams,
    query: noQuery,
    body: noBody,
    responses: {
      202: { description: 'Replaying' },
      409: { description: 'ENDPOINT_DISABLED or DELIVERY_IN_PROGRESS' },
    },
  },
];
