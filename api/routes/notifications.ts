import { flowPaused, idempotentStartRoute } from '../openapi/common-responses';
import type { RouteSpec } from '../openapi/route-spec';
import { Router } from 'express';
import type { WorkflowRouterDeps } from '../router-deps';
import { z } from 'zod';
import { isTooFarAhead, MAX_NOTIFICATION_DELAY_MS, parseDelayMs } from '../../domain/notification-delay';
import { isValidRecipient } from '../../domain/notifications';
import { NotificationChannel, NotificationStatus } from '../../generated/prisma/enums';
import { principalOf, requireRole } from '../auth';
import {
  isoDateTime,
  multiLine,
  noBody,
  noQuery,
  notificationPriority,
  pagination,
  localeTag,
  requiredIdempotencyKey,
  singleLine,
  storableJson,
  templateName,
  uuid,
} from '../schemas';
import {
  cancelNotification,
  getNotification,
  listNotifications,
  requestNotification,
  retryNotification,
} from '../services/notifications';
import { parse } from '../validation';

export type NotificationsRouterDeps = WorkflowRouterDeps;

const notificationParams = z.object({ notificationId: uuid() });

const priority = notificationPriority();

const delay = z.union([z.number(), z.string().max(50)]).transform((value, ctx) => {
  const ms = parseDelayMs(value);
  if (ms === undefined || ms > MAX_NOTIFICATION_DELAY_MS) {
    ctx.addIssue({ code: 'custom', message: "expected a delay of up to 366 days: '24h', 'PT24H' or milliseconds" });
    return z.NEVER;
  }
  return ms;
});

const createBody = z
  .object({
    channel: z.enum(NotificationChannel),
    to: z.string().trim().min(1).max(254),
    template: templateName().optional(),
    data: storableJson({ maxNodes: 1_000 })
      .refine((value) => typeof value === 'object' && value !== null && !Array.isArray(value), {
        message: 'expected an object',
      })
      .optional(),
    subject: singleLine(500).optional(),
    text: multiLine(50_000).optional(),
    html: multiLine(200_000).optional(),
    locale: localeTag().optional(),
    priority: priority.optional(),
    sendAt: isoDateTime().optional(),
    delay: delay.optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (!isValidRecipient(body.channel, body.to)) {
      issue(
        'to',
        body.channel === 'EMAIL' ? 'expected an email address' : 'expected an E.164 number such as +14155550123',
      );
    }
    if (body.sendAt !== undefined && body.delay !== undefined) issue('delay', 'give sendAt or delay, not both');
    if (body.sendAt !== undefined && isTooFarAhead(new Date(body.sendAt), new Date())) {
      issue('sendAt', 'expected a time at most 366 days ahead');
    }
    if (body.template) {
      if (body.text !== undefined || body.html !== undefined)
        issue('template', 'give a template or text/html, not both');
    } else {
      if (body.text === undefined) issue('text', 'expected a template, or text to send as is');
      if (body.data !== undefined) issue('data', 'data is for a template');
      if (body.channel === 'EMAIL' && body.subject === undefined)
        issue('subject', 'an email without a template needs a subject');
    }
    if (body.channel !== 'EMAIL') {
      if (body.subject !== undefined) issue('subject', `${body.channel} messages have no subject`);
      if (body.html !== undefined) issue('html', `${body.channel} messages have no HTML`);
    }
  });

const listQuery = z
  .object({
    status: z.enum(NotificationStatus).optional(),
    channel: z.enum(NotificationChannel).optional(),
    since: isoDateTime().optional(),
    ...pagination(),
  })
  .strict();

/**
 * Notifications as durable jobs, scoped to the caller's tenant: operators and above request,
 * cancel and retry them; any role reads them. The recipient and the data are never logged.
 */
export function createNotificationsRouter({
  prisma,
  temporal,
  taskQueue,
  fairnessWeights,
}: NotificationsRouterDeps): Router {
  const router = Router();
  const deps = { prisma, temporal, taskQueue, fairnessWeights };

  router.post('/notifications', requireRole('operator'), async (req, res) => {
    parse(noQuery, req.query);
    const idempotencyKey = requiredIdempotencyKey(req.get('Idempotency-Key'));
    const { sendAt, delay: delayMs, data, ...body } = parse(createBody, req.body);
    const { tenantId, subject: actor } = principalOf(req);
    const { notificationId, workflowId, created } = await requestNotification(
      deps,
      { tenantId, actor, idempotencyKey },
      {
        ...body,
        ...(data ? { data: data as Record<string, unknown> } : {}),
        ...(sendAt ? { sendAt: new Date(sendAt) } : {}),
        ...(delayMs !== undefined ? { delayMs } : {}),
      },
    );
    res
      .status(202)
      .location(`/api/v1/notifications/${notificationId}`)
      .set(created ? {} : { 'Idempotent-Replayed': 'true' })
      .json({ notificationId, workflowId });
  });

  router.get('/notifications', async (req, res) => {
    const { since, ...filter } = parse(listQuery, req.query);
    res.json(
      await listNotifications(prisma, principalOf(req).tenantId, {
        ...filter,
        ...(since ? { since: new Date(since) } : {}),
      }),
    );
  });

  router.get('/notifications/:notificationId', async (req, res) => {
    const { notificationId } = parse(notificationParams, req.params);
    parse(noQuery, req.query);
    res.json(await getNotification(prisma, principalOf(req).tenantId, notificationId));
  });

  router.post('/notifications/:notificationId/cancel', requireRole('operator'), async (req, res) => {
    const { notificationId } = parse(notificationParams, req.params);
    parse(noQuery, req.query);
    parse(noBody, req.body);
    const { tenantId, subject } = principalOf(req);
    res.json(await cancelNotification(deps, { tenantId, actor: subject }, notificationId));
  });

  router.post('/notifications/:notificationId/retry', requireRole('operator'), async (req, res) => {
    const { notificationId } = parse(notificationParams, req.params);
    parse(noQuery, req.query);
    parse(noBody, req.body);
    const { tenantId, subject } = principalOf(req);
    const retried = await retryNotification(deps, { tenantId, actor: subject }, notificationId);
    res.status(202).location(`/api/v1/notifications/${notificationId}`).json(retried);
  });

  return router;
}

export const notificationsRoutes: RouteSpec[] = [
  idempotentStartRoute({
    path: '/api/v1/notifications',
    operationId: 'requestNotification',
    summary: 'Send an email, SMS or WhatsApp message as a durable job, now or later',
    description:
      'A template with data, or text (and a subject for email) to send as is; `sendAt` or `delay` schedules it. ' +
      'The recipient and the data are never logged.',
    tag: 'Notifications',
    noun: 'notification',
    body: createBody,
    accepted: 'Taken',
    unprocessable: 'PRIORITY_RESERVED, UNKNOWN_TEMPLATE, TEMPLATE_INVALID, or IDEMPOTENCY_KEY_REUSED',
    flow: 'notifications',
  }),
  {
    method: 'get',
    path: '/api/v1/notifications',
    operationId: 'listNotifications',
    summary: "The tenant's notifications, newest first",
    tag: 'Notifications',
    auth: 'member',
    query: listQuery,
    responses: { 200: { description: 'A page of notifications' } },
  },
  {
    method: 'get',
    path: '/api/v1/notifications/:notificationId',
    operationId: 'getNotification',
    summary: 'One notification with its attempts',
    tag: 'Notifications',
    auth: 'member',
    params: notificationParams,
    query: noQuery,
    responses: { 200: { description: 'The notification' } },
  },
  {
    method: 'post',
    path: '/api/v1/notifications/:notificationId/cancel',
    operationId: 'cancelNotification',
    summary: 'Cancel a notification that has not been sent',
    tag: 'Notifications',
    auth: 'operator',
    params: notificationParams,
    query: noQuery,
    body: noBody,
    responses: {
      200: { description: 'Cancelled' },
      409: {
        description:
          'NOTIFICATION_ALREADY_SENT, NOTIFICATION_FAILED, NOTIFICATION_ALREADY_CANCELLED, NOTIFICATION_SENDING, or NOT_CANCELLABLE',
      },
    },
  },
  {
    method: 'post',
    path: '/api/v1/notifications/:notificationId/retry',
    operationId: 'retryNotification',
    summary: 'Send a notification that failed for good once more',
    tag: 'Notifications',
    auth: 'operator',
    params: notificationParams,
    query: noQuery,
    body: noBody,
    responses: {
      202: { description: 'Retrying, with Location' },
      409: { description: 'NOTIFICATION_NOT_FAILED, NOTIFICATION_RUNNING, or NOT_RETRYABLE (a flow’s own)' },
      423: flowPaused('notifications'),
    },
  },
];
