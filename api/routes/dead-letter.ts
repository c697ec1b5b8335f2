import { Router } from 'express';
import { z } from 'zod';
import { flowNames } from '../../domain/flow-catalog';
import { DeadLetterKind, DeadLetterResolution } from '../../generated/prisma/enums';
import { principalOf, requireRole } from '../auth';
import type { RouteSpec } from '../openapi/route-spec';
import { multiLine, optionalBody, pagination, uuid } from '../schemas';
import {
  discardDeadLetter,
  listDeadLetters,
  retryDeadLetter,
  type DeadLetterDeps,
} from '../services/operations/dead-letter';
import { resolveOperationsScope } from '../services/operations/scope';
import { parse } from '../validation';
import { tenantIdQuery } from './workflows';

export type DeadLetterRouterDeps = DeadLetterDeps;

export const deadLetterListQuery = z
  .object({
    tenantId: tenantIdQuery,
    flow: z.enum(flowNames).optional(),
    kind: z.enum(DeadLetterKind).optional(),
    include: z.literal('resolved').optional().describe('Lists retried and discarded ones too'),
    ...pagination({ defaultLimit: 50, maxLimit: 200 }),
  })
  .strict();

export const deadLetterParams = z.object({ id: uuid() }).strict();
export const deadLetterQuery = z.object({ tenantId: tenantIdQuery }).strict();
export const retryDeadLetterBody = optionalBody({
  mode: z
    .enum(['reset', 'rerun'])
    .optional()
    .describe(
      'reset (default): a failed run to its last workflow task (to the task that scheduled the step that failed it), ' +
        'a run that completed needing attention to the task that scheduled its last failed step (a rerun when none ' +
        'failed); rerun: a new run with the same input',
    ),
  reason: multiLine(500).optional(),
});
export const discardDeadLetterBody = z.object({ reason: multiLine(500) }).strict();

export const deadLetterSchema = z.object({
  id: z.string(),
  tenantId: z.string(),
  kind: z.enum(DeadLetterKind),
  flow: z.string(),
  workflowId: z.string(),
  runId: z.string().nullable(),
  notificationId: z.string().nullable(),
  businessKey: z.string().nullable(),
  failure: z.object({ type: z.string().nullable(), message: z.string().nullable() }).nullable(),
  failedAt: z.string().nullable(),
  firstSeenAt: z.string(),
  lastSeenAt: z.string().describe('When the inbox last found it failing'),
  stillSeen: z
    .boolean()
    .nullable()
    .describe('Whether the latest refresh still found it (false: recovered, moved on, or out of reach)'),
  resolution: z.enum(DeadLetterResolution).nullable(),
  resolvedBy: z.string().nullable(),
  resolvedAt: z.string().nullable(),
  resolutionReason: z.string().nullable(),
  links: z.object({ webUi: z.string() }),
});

export const deadLetterListSchema = z.object({
  deadLetters: z.array(deadLetterSchema),
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
  refreshedAt: z
    .string()
    .nullable()
    .describe('When this API process last brought the inbox up to date with Temporal (null: not yet)'),
  refreshError: z
    .string()
    .nullable()
    .describe('Why the latest refresh failed: the rows are those recorded before, and stillSeen is null'),
  retryingScanned: z
    .number()
    .int()
    .nullable()
    .describe('Running flows described to find steps retrying too often (at most 200, newest first)'),
  retryingCapped: z
    .boolean()
    .nullable()
    .describe('Whether more flows ran than the scan described: older retrying flows may be missing'),
});

export const retryDeadLetterAnswerSchema = z.object({
  deadLetter: deadLetterSchema,
  retry: z.looseObject({ mode: z.string(), workflowId: z.string(), runId: z.string() }),
});
export const discardDeadLetterAnswerSchema = z.object({ deadLetter: deadLetterSchema, terminated: z.boolean() });

const errors = {
  400: { description: 'Invalid request' },
  403: { description: 'The role is below operator, or a tenant named another tenant' },
  404: { description: 'DEAD_LETTER_NOT_FOUND (also for another tenant’s), or TENANT_NOT_FOUND' },
};

export const deadLetterRoutes: RouteSpec[] = [
  {
    method: 'get',
    path: '/api/v1/dead-letter',
    operationId: 'listDeadLetters',
    summary: 'Failed and timed-out runs, flows needing attention, steps retrying too often, failed notifications',
    tag: 'Operations',
    auth: 'member',
    query: deadLetterListQuery,
    responses: {
      200: { description: 'Unresolved dead letters, newest first', schema: deadLetterListSchema },
      ...errors,
      403: { description: 'A tenant named another tenant' },
    },
  },
  {
    method: 'post',
    path: '/api/v1/dead-letter/:id/retry',
    operationId: 'retryDeadLetter',
    summary: 'Retries a dead letter: reset the run, rerun it with the same input, or resend the notification',
    tag: 'Operations',
    auth: 'operator',
    params: deadLetterParams,
    query: deadLetterQuery,
    body: retryDeadLetterBody,
    responses: {
      200: { description: 'Retried; the row is RETRIED', schema: retryDeadLetterAnswerSchema },
      ...errors,
      409: {
        description:
          'DEAD_LETTER_RESOLVED, DEAD_LETTER_RUNNING (use the flow’s actions or discard), RUN_NO_LONGER_KEPT, ' +
          'RUN_REPLACED (the workflow has a newer run: retried or reset already), WORKFLOW_RUNNING (rerun), ' +
          'PAYLOADS_UNREADABLE (rerun: the run’s input can no longer be decrypted, its tenant’s keys erased)',
      },
      423: {
        description: 'FLOW_PAUSED: a rerun or a notification of a flow paused for the tenant',
      },
    },
  },
  {
    method: 'post',
    path: '/api/v1/dead-letter/:id/discard',
    operationId: 'discardDeadLetter',
    summary: 'Discards a dead letter (terminating its flow if it still fails so), with who, why and when',
    tag: 'Operations',
    auth: 'operator',
    params: deadLetterParams,
    query: deadLetterQuery,
    body: discardDeadLetterBody,
    responses: {
      200: { description: 'Discarded; the row is DISCARDED', schema: discardDeadLetterAnswerSchema },
      ...errors,
      409: { description: 'DEAD_LETTER_RESOLVED' },
    },
  },
];

/** The dead-letter inbox: any role reads it; operators and above retry and discard. */
export function createDeadLetterRouter(deps: DeadLetterRouterDeps): Router {
  const router = Router();
  const scopeOf = (principal: ReturnType<typeof principalOf>, tenantId: string | undefined) =>
    resolveOperationsScope(deps.prisma, principal, tenantId);

  router.get('/dead-letter', async (req, res) => {
    const { tenantId, include, ...filters } = parse(deadLetterListQuery, req.query);
    const scope = await scopeOf(principalOf(req), tenantId);
    res.json(await listDeadLetters(deps, scope, { ...filters, includeResolved: include === 'resolved' }));
  });

  router.post('/dead-letter/:id/retry', requireRole('operator'), async (req, res) => {
    const { id } = parse(deadLetterParams, req.params);
    const { tenantId } = parse(deadLetterQuery, req.query);
    const body = parse(retryDeadLetterBody, req.body);
    const principal = principalOf(req);
    const scope = await scopeOf(principal, tenantId);
    res.json(
      await retryDeadLetter(deps, scope, { actor: principal.subject }, id, {
        mode: body?.mode ?? 'reset',
        reason: body?.reason,
      }),
    );
  });

  router.post('/dead-letter/:id/discard', requireRole('operator'), async (req, res) => {
    const { id } = parse(deadLetterParams, req.params);
    const { tenantId } = parse(deadLetterQuery, req.query);
    const { reason } = parse(discardDeadLetterBody, req.body);
    const principal = principalOf(req);
    const scope = await scopeOf(principal, tenantId);
    res.json(await discardDeadLetter(deps, scope, { actor: principal.subject }, id, reason));
  });

  return router;
}
