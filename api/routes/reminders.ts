import { idempotentStartRoute } from '../openapi/common-responses';
import type { RouteSpec } from '../openapi/route-spec';
import { Router } from 'express';
import type { WorkflowRouterDeps } from '../router-deps';
import { z } from 'zod';
import { isValidRecipient } from '../../domain/notifications';
import { occurrencesOf, ReminderPlanError, type ReminderStepSpec } from '../../domain/reminder-plan';
import { ReminderStatus } from '../../generated/prisma/enums';
import { principalOf, requireRole } from '../auth';
import {
  isoDateTime,
  multiLine,
  noQuery,
  optionalBody,
  pagination,
  requiredIdempotencyKey,
  singleLine,
  storableJson,
  templateName,
  uuid,
} from '../schemas';
import { amendReminder, completeReminder, createReminder, getReminder, listReminders } from '../services/reminders';
import { parse } from '../validation';

export type RemindersRouterDeps = WorkflowRouterDeps;

const params = z.object({ id: uuid() });

const recipient = z
  .object({
    channel: z.enum(['EMAIL', 'SMS', 'WHATSAPP']),
    to: singleLine(254),
    name: singleLine(200).optional(),
  })
  .strict()
  .refine((value) => isValidRecipient(value.channel, value.to), {
    message: 'expected an email address for EMAIL, an E.164 number such as +14155550123 otherwise',
    path: ['to'],
  });

/** The steps, checked by the plan's own rules (domain/reminder-plan.ts), each problem under its path. */
const steps = z.array(z.unknown()).superRefine((value, ctx) => {
  try {
    occurrencesOf(value);
  } catch (error) {
    if (!(error instanceof ReminderPlanError)) throw error;
    for (const problem of error.problems) {
      // The path is relative to `steps`, which zod already prefixes.
      ctx.addIssue({ code: 'custom', message: problem.message, path: problem.path.split('.').slice(1) });
    }
  }
});

const createBody = z
  .object({
    subject: z.object({ type: singleLine(100), id: singleLine(200) }).strict(),
    recipient,
    template: templateName(),
    data: storableJson({ maxNodes: 1_000 })
      .refine((value) => typeof value === 'object' && value !== null && !Array.isArray(value), {
        message: 'expected an object',
      })
      .optional(),
    dueAt: isoDateTime(),
    steps,
    notifyOnCreate: z.boolean().optional(),
  })
  .strict();

const amendBody = z
  .object({ dueAt: isoDateTime().optional(), recipient: recipient.optional() })
  .strict()
  .refine((body) => body.dueAt !== undefined || body.recipient !== undefined, {
    message: 'name dueAt, recipient or both',
  });

const completeBody = optionalBody({ reason: multiLine(500).optional() });

const listQuery = z
  .object({
    status: z.enum(ReminderStatus).optional(),
    subjectType: singleLine(100).optional(),
    subjectId: singleLine(200).optional(),
    ...pagination(),
  })
  .strict();

/**
 * Reminder sequences (docs/reminders.md), scoped to the caller's tenant: any role reads; creating,
 * moving and completing need operator or above.
 */
export function createRemindersRouter(deps: RemindersRouterDeps): Router {
  const { prisma } = deps;
  const router = Router();

  router.post('/reminders', requireRole('operator'), async (req, res) => {
    parse(noQuery, req.query);
    const idempotencyKey = requiredIdempotencyKey(req.get('Idempotency-Key'));
    const body = parse(createBody, req.body);
    const { tenantId, subject: actor } = principalOf(req);
    const { reminder, workflowId, replayed } = await createReminder(
      deps,
      { tenantId, actor, idempotencyKey },
      {
        ...body,
        data: body.data as Record<string, unknown> | undefined,
        steps: body.steps as ReminderStepSpec[],
      },
    );
    res
      .status(202)
      .location(`/api/v1/reminders/${reminder.id}`)
      .set(replayed ? { 'Idempotent-Replayed': 'true' } : {})
      .json({ reminderId: reminder.id, workflowId });
  });

  router.get('/reminders', async (req, res) => {
    const { limit, offset, ...filter } = parse(listQuery, req.query);
    res.json(await listReminders(prisma, principalOf(req).tenantId, { ...filter, limit, offset }));
  });

  router.get('/reminders/:id', async (req, res) => {
    const { id } = parse(params, req.params);
    parse(noQuery, req.query);
    res.json(await getReminder(deps, principalOf(req).tenantId, id));
  });

  router.patch('/reminders/:id', requireRole('operator'), async (req, res) => {
    const { id } = parse(params, req.params);
    parse(noQuery, req.query);
    const body = parse(amendBody, req.body);
    const { tenantId, subject: actor } = principalOf(req);
    const { pending } = await amendReminder(deps, { tenantId, actor }, id, body);
    const reminder = await getReminder(deps, tenantId, id);
    // `pending`: the new due date is in force, and its write to the row is still being retried.
    res.status(pending ? 202 : 200).json(pending ? { ...reminder, pending: true } : reminder);
  });

  router.post('/reminders/:id/complete', requireRole('operator'), async (req, res) => {
    const { id } = parse(params, req.params);
    parse(noQuery, req.query);
    const body = parse(completeBody, req.body);
    const { tenantId, subject: actor } = principalOf(req);
    const completed = await completeReminder(deps, { tenantId, actor }, id, body?.reason);
    res.json({ reminderId: id, ...completed });
  });

  return router;
}

export const remindersRoutes: RouteSpec[] = [
  idempotentStartRoute({
    path: '/api/v1/reminders',
    operationId: 'createReminder',
    summary: 'Start a reminder sequence: messages at offsets from a due date, until completed',
    tag: 'Reminders',
    noun: 'reminder',
    body: createBody,
    accepted: 'Started',
    unprocessable: 'IDEMPOTENCY_KEY_REUSED with another body',
    flow: 'reminders',
  }),
  {
    method: 'get',
    path: '/api/v1/reminders',
    operationId: 'listReminders',
    summary: "The tenant's reminders",
    tag: 'Reminders',
    auth: 'member',
    query: listQuery,
    responses: { 200: { description: 'A page of reminders' } },
  },
  {
    method: 'get',
    path: '/api/v1/reminders/:id',
    operationId: 'getReminder',
    summary: 'One reminder with its sequence’s state',
    tag: 'Reminders',
    auth: 'member',
    params,
    query: noQuery,
    responses: { 200: { description: 'The reminder' } },
  },
  {
    method: 'patch',
    path: '/api/v1/reminders/:id',
    operationId: 'amendReminder',
    summary: 'Move the due date or change the recipient of a running sequence',
    tag: 'Reminders',
    auth: 'operator',
    params,
    query: noQuery,
    body: amendBody,
    responses: {
      200: { description: 'The reminder as amended' },
      202: { description: 'In force; its write to the database is still being retried (pending: true)' },
      409: { description: 'REMINDER_CLOSED' },
    },
  },
  {
    method: 'post',
    path: '/api/v1/reminders/:id/complete',
    operationId: 'completeReminder',
    summary: 'Complete a reminder: no more messages are sent',
    tag: 'Reminders',
    auth: 'operator',
    params,
    query: noQuery,
    body: completeBody,
    responses: {
      200: { description: 'Completed' },
      409: { description: 'REMINDER_CLOSED' },
    },
  },
];
