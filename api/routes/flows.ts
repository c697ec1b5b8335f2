import { Router } from 'express';
import { z } from 'zod';
import { principalOf, requireRole } from '../auth';
import { tenantScopeRefusals } from '../openapi/common-responses';
import type { RouteSpec } from '../openapi/route-spec';
import type { WorkflowRouterDeps } from '../router-deps';
import { multiLine, optionalBody } from '../schemas';
import { listFlows, pauseFlow, resumeFlow, tenantInScope } from '../services/flow-pauses';
import { parse } from '../validation';

export type FlowsRouterDeps = Pick<WorkflowRouterDeps, 'prisma' | 'temporal'>;

/** A flow's short name as domain/flow-catalog.ts spells it; an unknown one is a 404 FLOW_NOT_FOUND. */
export const flowParams = z.object({ flow: z.string().min(1).max(64) }).strict();

/** A platform admin names the tenant; a tenant's token may only name its own. */
export const flowsQuery = z.object({ tenantId: z.string().min(1).max(255).optional() }).strict();

export const pauseFlowBody = optionalBody({ reason: multiLine(500).optional() });

export const resumeFlowBody = optionalBody({});

const flowPauseSchema = z.object({
  reason: z.string().nullable(),
  pausedBy: z.string(),
  pausedAt: z.iso.datetime(),
  pausedSchedules: z.array(z.string()).describe('The Temporal Schedules this pause paused'),
});

const flowSchema = z.object({
  flow: z.string(),
  label: z.string(),
  workflowType: z.string(),
  pausable: z.boolean(),
  paused: z.boolean(),
  pause: flowPauseSchema.nullable(),
});

export const flowListSchema = z.object({ tenantId: z.string(), flows: z.array(flowSchema) });

export const flowPauseAnswerSchema = flowSchema.extend({
  changed: z.boolean().describe('false when the flow was already in the asked state'),
  unpausedSchedules: z.array(z.string()).optional(),
});

const errors = tenantScopeRefusals({
  invalid: 'Invalid request, or a platform admin named no tenant (TENANT_REQUIRED)',
  forbidden: 'The role is too low, or a tenant named another tenant',
  notFound: 'FLOW_NOT_FOUND, or TENANT_NOT_FOUND for a tenant a platform admin named',
});

/** Pausing and resuming answer alike: the flow as it now is. */
const flowActions = [
  {
    action: 'pause',
    operationId: 'pauseFlow',
    summary: "Pauses a flow's new starts for the tenant (and its Schedules); running flows continue",
    body: pauseFlowBody,
    done: 'Paused, or already paused (the existing pause)',
  },
  {
    action: 'resume',
    operationId: 'resumeFlow',
    summary: 'Resumes a paused flow and unpauses the Schedules its pause paused',
    body: resumeFlowBody,
    done: 'Resumed, or was not paused',
  },
];

export const flowsRoutes: RouteSpec[] = [
  {
    method: 'get',
    path: '/api/v1/flows',
    operationId: 'listFlows',
    summary: "The tenant's flows and which of them are paused (who, when, why)",
    tag: 'Operations',
    auth: 'member',
    query: flowsQuery,
    responses: { 200: { description: 'Every tenant flow of the catalog', schema: flowListSchema }, ...errors },
  },
  ...flowActions.map(({ action, operationId, summary, body, done }): RouteSpec => ({
    method: 'post',
    path: `/api/v1/flows/:flow/${action}`,
    operationId,
    summary,
    tag: 'Operations',
    auth: 'operator',
    params: flowParams,
    query: flowsQuery,
    body,
    responses: {
      200: { description: done, schema: flowPauseAnswerSchema },
      ...errors,
      409: { description: 'FLOW_NOT_PAUSABLE' },
    },
  })),
];

/**
 * Pausing and resuming a tenant's flows (POST /api/v1/flows/:flow/pause|resume, operator or
 * above) and listing them (any role). A platform admin names the tenant with `?tenantId=`.
 */
export function createFlowsRouter(deps: FlowsRouterDeps): Router {
  const router = Router();
  const { prisma } = deps;

  router.get('/flows', async (req, res) => {
    const { tenantId: named } = parse(flowsQuery, req.query);
    const tenantId = await tenantInScope(prisma, principalOf(req), named, { required: true });
    res.json(await listFlows(prisma, tenantId));
  });

  router.post('/flows/:flow/pause', requireRole('operator'), async (req, res) => {
    const { flow } = parse(flowParams, req.params);
    const { tenantId: named } = parse(flowsQuery, req.query);
    const reason = parse(pauseFlowBody, req.body)?.reason;
    const principal = principalOf(req);
    const tenantId = await tenantInScope(prisma, principal, named, { required: true });
    res.json(await pauseFlow(deps, { tenantId: tenantId, actor: principal.subject }, flow, reason));
  });

  router.post('/flows/:flow/resume', requireRole('operator'), async (req, res) => {
    const { flow } = parse(flowParams, req.params);
    const { tenantId: named } = parse(flowsQuery, req.query);
    parse(resumeFlowBody, req.body);
    const principal = principalOf(req);
    const tenantId = await tenantInScope(prisma, principal, named, { required: true });
    res.json(await resumeFlow(deps, { tenantId: tenantId, actor: principal.subject }, flow));
  });

  return router;
}
