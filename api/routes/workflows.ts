import { Router } from 'express';
import { z } from 'zod';
import { flowByName, flowCatalog, flowNames } from '../../domain/flow-catalog';
import { principalOf, requireRole } from '../auth';
import type { RouteSpec } from '../openapi/route-spec';
import { isoDateTime, multiLine, optionalBody, singleLine } from '../schemas';
import type { OperationsDeps } from '../services/operations/operations-deps';
import { resolveOperationsScope } from '../services/operations/scope';
import { executionStatusNames } from '../services/operations/visibility-query';
import {
  cancelWorkflow,
  describeWorkflow,
  listWorkflows,
  resetWorkflow,
  runFlowAction,
  terminateWorkflow,
} from '../services/operations/workflows';
import { optionalIdempotencyKeyHeader } from '../schemas';
import { parse } from '../validation';

export type WorkflowsRouterDeps = OperationsDeps;

/** A platform admin may name one tenant; a tenant's token may only name its own. */
export const tenantIdQuery = singleLine(255).optional();

/** Every FlowStatus any flow declares. */
const declaredStatuses = [...new Set(flowCatalog.flatMap((flow) => Object.keys(flow.statuses)))];

export const workflowListQuery = z
  .object({
    tenantId: tenantIdQuery,
    type: z.enum(flowNames).optional().describe("The flow's short name (domain/flow-catalog.ts)"),
    status: z.enum(executionStatusNames).optional().describe('The execution status'),
    flowStatus: z
      .enum(declaredStatuses as [string, ...string[]])
      .optional()
      .describe("The flow's FlowStatus"),
    businessKey: singleLine(200).optional(),
    since: isoDateTime().optional().describe('Started at or after'),
    pageSize: z.coerce.number().int().min(1).max(100).default(20),
    pageToken: z
      .string()
      .max(4096)
      .regex(/^[A-Za-z0-9_.-]+$/, { message: 'expected the nextPageToken of an earlier page' })
      .optional(),
  })
  .strict()
  .superRefine((query, ctx) => {
    const flow = query.type ? flowByName(query.type) : undefined;
    if (flow && query.flowStatus && !Object.hasOwn(flow.statuses, query.flowStatus)) {
      ctx.addIssue({
        code: 'custom',
        path: ['flowStatus'],
        message: `expected one of the ${flow.name} flow's statuses: ${Object.keys(flow.statuses).join(', ')}`,
      });
    }
  });

export const workflowParams = z.object({ workflowId: singleLine(1000) }).strict();
export const workflowActionParams = z
  .object({ workflowId: singleLine(1000), action: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/) })
  .strict();
export const workflowQuery = z.object({ tenantId: tenantIdQuery }).strict();
export const describeWorkflowQuery = z.object({ tenantId: tenantIdQuery, runId: z.uuid().optional() }).strict();

export const cancelWorkflowBody = optionalBody({ reason: multiLine(500).optional() });
export const terminateWorkflowBody = z.object({ reason: multiLine(500) }).strict();
export const resetWorkflowBody = z
  .object({
    reason: multiLine(500),
    to: z.enum(['last', 'first']).default('last'),
    runId: z
      .uuid()
      .optional()
      .describe(
        'The run to reset, which must be the current one (409 RUN_NOT_CURRENT otherwise); the current by default',
      ),
  })
  .strict();
export const workflowActionBody = optionalBody({});

const failureSchema = z.object({ type: z.string(), message: z.string() });

export const workflowItemSchema = z.object({
  workflowId: z.string(),
  runId: z.string(),
  flow: z.string().nullable(),
  workflowType: z.string(),
  status: z.enum([...executionStatusNames, 'unknown']),
  flowStatus: z.string().nullable(),
  category: z.string().nullable(),
  businessKey: z.string().nullable(),
  tenantId: z.string().nullable(),
  startTime: z.string().nullable(),
  closeTime: z.string().nullable(),
  links: z.object({ webUi: z.string() }),
});

export const workflowListSchema = z.object({
  workflows: z.array(workflowItemSchema),
  nextPageToken: z.string().nullable(),
  query: z.string().describe('The visibility List Filter, as `temporal workflow list --query` takes it'),
  links: z.object({ webUi: z.string() }),
});

const pendingActivitySchema = z.object({
  activityId: z.string(),
  activityType: z.string(),
  attempt: z.number(),
  maximumAttempts: z.number().describe('0: no limit'),
  state: z.string(),
  lastFailure: failureSchema.nullable(),
  lastAttemptCompleteTime: z.string().nullable(),
  nextAttemptScheduleTime: z.string().nullable(),
  lastHeartbeatTime: z.string().nullable(),
});

export const workflowDescriptionSchema = workflowItemSchema.extend({
  flowLabel: z.string().nullable(),
  taskQueue: z.string().nullable(),
  executionTime: z.string().nullable(),
  historyLength: z.number(),
  searchAttributes: z.object({
    TenantId: z.string().nullable(),
    BusinessKey: z.string().nullable(),
    FlowStatus: z.string().nullable(),
  }),
  state: z.unknown().describe("The flow's state query answer; null when it could not be read"),
  stateError: z.string().nullable(),
  pendingActivities: z.array(pendingActivitySchema),
  pendingTimers: z.array(z.object({ timerId: z.string(), firesAt: z.string().nullable() })),
  failure: failureSchema.nullable().describe('What closed a failed or timed-out run'),
  actions: z.array(z.object({ name: z.string(), label: z.string(), description: z.string() })),
});

const runAnswer = { workflowId: z.string(), runId: z.string() };
export const cancelAnswerSchema = z.object({ ...runAnswer, cancelRequested: z.literal(true) });
export const terminateAnswerSchema = z.object({ ...runAnswer, terminated: z.literal(true) });
export const resetAnswerSchema = z.object({
  ...runAnswer,
  previousRunId: z.string(),
  to: z.enum(['last', 'first']),
  resetToEventId: z.number(),
});
export const actionAnswerSchema = z.object({ ...runAnswer, action: z.string(), result: z.unknown() });

const readErrors = {
  400: { description: 'Invalid request' },
  403: { description: 'A tenant named another tenant' },
  404: {
    description: 'WORKFLOW_NOT_FOUND (also for another tenant’s workflow), or TENANT_NOT_FOUND',
  },
};
const actErrors = {
  ...readErrors,
  403: { description: 'The role is below operator, or a tenant named another tenant' },
  409: { description: 'WORKFLOW_CLOSED' },
};

export const workflowsRoutes: RouteSpec[] = [
  {
    method: 'get',
    path: '/api/v1/workflows',
    operationId: 'listWorkflows',
    summary: "The tenant's workflows, filtered and paged through Temporal's visibility",
    tag: 'Operations',
    auth: 'member',
    query: workflowListQuery,
    responses: {
      200: { description: 'A page of workflows, newest first', schema: workflowListSchema },
      ...readErrors,
      400: { description: 'Invalid filter, or INVALID_PAGE_TOKEN' },
    },
  },
  {
    method: 'get',
    path: '/api/v1/workflows/:workflowId',
    operationId: 'getWorkflow',
    summary: 'One workflow: status, search attributes, business state, retrying steps, timers, failure, actions',
    tag: 'Operations',
    auth: 'member',
    params: workflowParams,
    query: describeWorkflowQuery,
    responses: { 200: { description: 'The description', schema: workflowDescriptionSchema }, ...readErrors },
  },
  {
    method: 'post',
    path: '/api/v1/workflows/:workflowId/cancel',
    operationId: 'cancelWorkflow',
    summary: 'Asks a running workflow to cancel; its own clean-up runs',
    tag: 'Operations',
    auth: 'operator',
    params: workflowParams,
    query: workflowQuery,
    body: cancelWorkflowBody,
    responses: { 202: { description: 'Cancellation requested', schema: cancelAnswerSchema }, ...actErrors },
  },
  {
    method: 'post',
    path: '/api/v1/workflows/:workflowId/terminate',
    operationId: 'terminateWorkflow',
    summary: 'Ends a running workflow at once, without its clean-up (a reason is required)',
    tag: 'Operations',
    auth: 'operator',
    params: workflowParams,
    query: workflowQuery,
    body: terminateWorkflowBody,
    responses: { 200: { description: 'Terminated', schema: terminateAnswerSchema }, ...actErrors },
  },
  {
    method: 'post',
    path: '/api/v1/workflows/:workflowId/reset',
    operationId: 'resetWorkflow',
    summary: "Resets a run to its last (or first) workflow task: Bull's retry of a failed job",
    description:
      '`last` starts over from the last workflow task, or, when the run failed because a step failed for good, from ' +
      'the workflow task that scheduled that step; `first` plays the whole run again. Only the current run resets. ' +
      'An `Idempotency-Key` makes a repeat answer the first reset.',
    tag: 'Operations',
    auth: 'operator',
    params: workflowParams,
    query: workflowQuery,
    body: resetWorkflowBody,
    headers: z.object({ 'idempotency-key': optionalIdempotencyKeyHeader }),
    responses: {
      200: { description: 'The new run', schema: resetAnswerSchema },
      ...actErrors,
      409: {
        description: 'NOT_RESETTABLE (Temporal refused it), or RUN_NOT_CURRENT (a newer run replaced the one named)',
      },
    },
  },
  {
    method: 'post',
    path: '/api/v1/workflows/:workflowId/actions/:action',
    operationId: 'runWorkflowAction',
    summary: 'Runs one of the flow\'s "do it now" actions (expire the hold now, send now, …)',
    tag: 'Operations',
    auth: 'operator',
    params: workflowActionParams,
    query: workflowQuery,
    body: workflowActionBody,
    responses: {
      200: { description: "The flow's answer", schema: actionAnswerSchema },
      ...actErrors,
      404: {
        description: 'WORKFLOW_NOT_FOUND, or ACTION_NOT_FOUND for an action the flow does not have',
      },
      409: {
        description: "WORKFLOW_CLOSED, ACTION_NOT_AVAILABLE in the flow's status, or the flow's own refusal code",
      },
      504: {
        description: 'FLOW_NOT_ANSWERING: no worker answered in time; the action may still take effect later',
      },
    },
  },
];

/**
 * The operations API's workflows (any role reads; operators and above act), scoped to the
 * token's tenant by the TenantId search attribute. A platform admin names a tenant with
 * `?tenantId=` or works across all.
 */
export function createWorkflowsRouter(deps: WorkflowsRouterDeps): Router {
  const router = Router();
  const scopeOf = (principal: ReturnType<typeof principalOf>, tenantId: string | undefined) =>
    resolveOperationsScope(deps.prisma, principal, tenantId);

  router.get('/workflows', async (req, res) => {
    const { tenantId, since, ...filters } = parse(workflowListQuery, req.query);
    const scope = await scopeOf(principalOf(req), tenantId);
    res.json(await listWorkflows(deps, scope, { ...filters, since: since ? new Date(since) : undefined }));
  });

  router.get('/workflows/:workflowId', async (req, res) => {
    const { workflowId } = parse(workflowParams, req.params);
    const { tenantId, runId } = parse(describeWorkflowQuery, req.query);
    const scope = await scopeOf(principalOf(req), tenantId);
    res.json(await describeWorkflow(deps, scope, workflowId, runId));
  });

  router.post('/workflows/:workflowId/cancel', requireRole('operator'), async (req, res) => {
    const { workflowId } = parse(workflowParams, req.params);
    const { tenantId } = parse(workflowQuery, req.query);
    const reason = parse(cancelWorkflowBody, req.body)?.reason;
    const principal = principalOf(req);
    const scope = await scopeOf(principal, tenantId);
    res.status(202).json(await cancelWorkflow(deps, scope, { actor: principal.subject }, workflowId, reason));
  });

  router.post('/workflows/:workflowId/terminate', requireRole('operator'), async (req, res) => {
    const { workflowId } = parse(workflowParams, req.params);
    const { tenantId } = parse(workflowQuery, req.query);
    const { reason } = parse(terminateWorkflowBody, req.body);
    const principal = principalOf(req);
    const scope = await scopeOf(principal, tenantId);
    res.json(await terminateWorkflow(deps, scope, { actor: principal.subject }, workflowId, reason));
  });

  router.post('/workflows/:workflowId/reset', requireRole('operator'), async (req, res) => {
    const { workflowId } = parse(workflowParams, req.params);
    const { tenantId } = parse(workflowQuery, req.query);
    const body = parse(resetWorkflowBody, req.body);
    const idempotencyKey = parse(optionalIdempotencyKeyHeader, req.get('Idempotency-Key'));
    const principal = principalOf(req);
    const scope = await scopeOf(principal, tenantId);
    // The key is the caller's; Temporal dedupes resets of the same run by request ID.
    const requestId = idempotencyKey ? `${principal.tenantId}:${workflowId}:${idempotencyKey}` : undefined;
    res.json(await resetWorkflow(deps, scope, { actor: principal.subject }, workflowId, { ...body, requestId }));
  });

  router.post('/workflows/:workflowId/actions/:action', requireRole('operator'), async (req, res) => {
    const { workflowId, action } = parse(workflowActionParams, req.params);
    const { tenantId } = parse(workflowQuery, req.query);
    parse(workflowActionBody, req.body);
    const principal = principalOf(req);
    const scope = await scopeOf(principal, tenantId);
    res.json(await runFlowAction(deps, scope, { actor: principal.subject }, workflowId, action));
  });

  return router;
}
