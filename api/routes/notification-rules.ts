import type { RouteSpec } from '../openapi/route-spec';
import { Router } from 'express';
import { z } from 'zod';
import { isStorableText } from '../../domain/input-rules';
import { isDataPath, MAX_RULE_DELAY_SECONDS } from '../../domain/notification-rules';
import { parseDurationMs } from '../../lib/durations';
import type { PrismaClient } from '../../lib/db';
import { principalOf, requireRole } from '../auth';
import {
  eventType,
  int4,
  localeTag,
  noBody,
  noQuery,
  notificationPriority,
  pagination,
  singleLine,
  templateName,
  uuid,
} from '../schemas';
import { createRule, deleteRule, findRule, listRules, presentRule, updateRule } from '../services/notification-rules';
import { parse } from '../validation';

export interface NotificationRulesRouterDeps {
  prisma: PrismaClient;
}

const dataPath = z.string().refine(isDataPath, {
  message: 'expected a dotted path of letters, digits, _ and -, such as customer.email',
});

/** What a condition compares with: a JSON scalar, compared exactly (strings are not trimmed). */
const scalar = z.union([
  z.string().max(1000).refine(isStorableText, { message: 'must not contain NUL characters or unpaired surrogates' }),
  z.number().refine(Number.isFinite, { message: 'expected a finite number' }),
  z.boolean(),
  z.null(),
]);

const condition = z.union([
  z.object({ path: dataPath, equals: scalar }).strict(),
  z.object({ path: dataPath, in: z.array(scalar).min(1).max(100) }).strict(),
  z.object({ path: dataPath, exists: z.boolean() }).strict(),
]);

const priority = notificationPriority();

/** Seconds, or a duration with its unit ('90s', '15 minutes', '24h', '2d'); at most 30 days. */
const delay = z.union([
  int4(0, MAX_RULE_DELAY_SECONDS),
  z
    .string()
    .max(40)
    .transform((text, ctx) => {
      const ms = parseDurationMs(text, 'refuse');
      if (ms === undefined || ms % 1000 !== 0 || ms / 1000 > MAX_RULE_DELAY_SECONDS) {
        ctx.addIssue({ code: 'custom', message: 'expected a duration such as 15m, 24h or 2d, at most 30 days' });
        return z.NEVER;
      }
      return ms / 1000;
    }),
]);

const ruleFields = {
  name: singleLine(200),
  eventType: eventType(),
  condition: condition.nullable(),
  channel: z.enum(['EMAIL', 'SMS', 'WHATSAPP']),
  template: templateName(),
  recipientPath: dataPath,
  priority,
  delay,
  locale: localeTag().nullable(),
  enabled: z.boolean(),
};

const createBody = z
  .object(ruleFields)
  .partial({ condition: true, priority: true, delay: true, locale: true, enabled: true })
  .strict();
const updateBody = z
  .object(ruleFields)
  .partial()
  .strict()
  .refine((body) => Object.keys(body).length > 0, { message: 'name at least one field' });

const ruleParams = z.object({ ruleId: uuid() });
const listQuery = z.object({ eventType: eventType().optional(), ...pagination() }).strict();

/** The body's fields as the rule's columns: `delay` is stored as delaySeconds. */
function columns<T extends { delay?: number }>({ delay: delaySeconds, ...rest }: T) {
  return { ...rest, ...(delaySeconds !== undefined ? { delaySeconds } : {}) };
}

/**
 * A tenant's notification rules: on an event of a type (optionally matching a condition on its
 * data), send a template to the recipient at a path in the data. Tenant-admin only; another
 * tenant's rule is not found.
 */
export function createNotificationRulesRouter({ prisma }: NotificationRulesRouterDeps): Router {
  const router = Router();
  router.use('/notification-rules', requireRole('tenant-admin'));

  router.post('/notification-rules', async (req, res) => {
    parse(noQuery, req.query);
    const body = columns(parse(createBody, req.body));
    const { tenantId, subject } = principalOf(req);
    const rule = await createRule(
      prisma,
      { tenantId, actor: subject },
      {
        condition: null,
        priority: 3,
        delaySeconds: 0,
        locale: null,
        enabled: true,
        ...body,
      },
    );
    res.status(201).location(`/api/v1/notification-rules/${rule.id}`).json(presentRule(rule));
  });

  router.get('/notification-rules', async (req, res) => {
    const { eventType: type, limit, offset } = parse(listQuery, req.query);
    res.json(await listRules(prisma, principalOf(req).tenantId, { eventType: type, limit, offset }));
  });

  router.get('/notification-rules/:ruleId', async (req, res) => {
    const { ruleId } = parse(ruleParams, req.params);
    parse(noQuery, req.query);
    res.json(presentRule(await findRule(prisma, principalOf(req).tenantId, ruleId)));
  });

  router.patch('/notification-rules/:ruleId', async (req, res) => {
    const { ruleId } = parse(ruleParams, req.params);
    parse(noQuery, req.query);
    const changes = columns(parse(updateBody, req.body));
    const { tenantId, subject } = principalOf(req);
    res.json(presentRule(await updateRule(prisma, { tenantId, actor: subject }, ruleId, changes)));
  });

  router.delete('/notification-rules/:ruleId', async (req, res) => {
    const { ruleId } = parse(ruleParams, req.params);
    parse(noQuery, req.query);
    parse(noBody, req.body);
    const { tenantId, subject } = principalOf(req);
    await deleteRule(prisma, { tenantId, actor: subject }, ruleId);
    res.status(204).end();
  });

  return router;
}

const ruleTag = 'Notification rules';

export const notificationRulesRoutes: RouteSpec[] = [
  {
    method: 'post',
    path: '/api/v1/notification-rules',
    operationId: 'createNotificationRule',
    summary: 'On an event of a type (and matching a condition), send a template to the recipient at a path',
    tag: ruleTag,
    auth: 'tenant-admin',
    query: noQuery,
    body: createBody,
    responses: {
      201: { description: 'The rule, with Location' },
      422: { description: 'PRIORITY_RESERVED: critical is for Holdfast’s own flows' },
    },
  },
  {
    method: 'get',
    path: '/api/v1/notification-rules',
    operationId: 'listNotificationRules',
    summary: "The tenant's rules",
    tag: ruleTag,
    auth: 'tenant-admin',
    query: listQuery,
    responses: { 200: { description: 'A page of rules' } },
  },
  {
    method: 'get',
    path: '/api/v1/notification-rules/:ruleId',
    operationId: 'getNotificationRule',
    summary: 'One rule',
    tag: ruleTag,
    auth: 'tenant-admin',
    params: ruleParams,
    query: noQuery,
    responses: { 200: { description: 'The rule' } },
  },
  {
    method: 'patch',
    path: '/api/v1/notification-rules/:ruleId',
    operationId: 'updateNotificationRule',
    summary: 'Change some of a rule’s fields',
    tag: ruleTag,
    auth: 'tenant-admin',
    params: ruleParams,
    query: noQuery,
    body: updateBody,
    responses: {
      200: { description: 'The rule as changed' },
      422: { description: 'PRIORITY_RESERVED' },
    },
  },
  {
    method: 'delete',
    path: '/api/v1/notification-rules/:ruleId',
    operationId: 'deleteNotificationRule',
    summary: 'Delete a rule',
    tag: ruleTag,
    auth: 'tenant-admin',
    params: ruleParams,
    query: noQuery,
    body: noBody,
    responses: { 204: { description: 'Deleted' } },
  },
];
