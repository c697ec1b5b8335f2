import { Router } from 'express';
import { z } from 'zod';
import { principalOf } from '../auth';
import { tenantScopeRefusals } from '../openapi/common-responses';
import type { RouteSpec } from '../openapi/route-spec';
import type { OperationsDeps } from '../services/operations/operations-deps';
import { resolveOperationsScope } from '../services/operations/scope';
import { getStats, type StatsCache } from '../services/operations/stats';
import { parse } from '../validation';
import { tenantIdQuery } from './workflows';

export interface StatsRouterDeps extends Pick<OperationsDeps, 'prisma' | 'temporal'> {
  /** One per process, so OPERATIONS_STATS_TTL holds across requests. */
  statsCache: StatsCache;
}

export const statsQuery = z.object({ tenantId: tenantIdQuery }).strict();

const count = z.number().int().min(0);

const flowStatsSchema = z.object({
  flow: z.string(),
  label: z.string(),
  workflowType: z.string(),
  counts: z.object({
    running: count,
    completed: count,
    failed: count,
    cancelled: count,
    terminated: count,
    'timed-out': count,
    'continued-as-new': count,
    total: count,
  }),
  running: z.record(z.string(), count).describe('Running runs by FlowStatus'),
  categories: z.object({
    working: count,
    waitingOnPerson: count,
    waitingOnTimer: count,
    needsAttention: count,
    finishing: count,
    retrying: count.describe('Running with a step on attempt 2 or more'),
    unclassified: count,
  }),
  paused: z.boolean(),
  pause: z
    .object({
      reason: z.string().nullable(),
      pausedBy: z.string(),
      pausedAt: z.string(),
      pausedSchedules: z.array(z.string()),
    })
    .nullable(),
  pausedTenants: count.optional().describe('Across tenants: how many paused the flow'),
  bull: z
    .object({ waiting: count, active: count, delayed: count, failed: count, completed: count, paused: z.boolean() })
    .describe("Bull's job counts for the same flow"),
});

export const statsSchema = z.object({
  scope: z.union([z.object({ tenantId: z.string() }), z.object({ allTenants: z.literal(true) })]),
  flows: z.array(flowStatsSchema),
  retryingScanned: count,
  retryingCapped: z.boolean(),
  generatedAt: z.string(),
  cachedForMs: count,
  cost: z.object({ visibilityCalls: count, describeCalls: count, durationMs: count }),
});

export const statsRoutes: RouteSpec[] = [
  {
    method: 'get',
    path: '/api/v1/stats',
    operationId: 'getStats',
    summary:
      "Per flow: runs by execution status and, for running ones, by FlowStatus and category, in Bull's shape too",
    description: 'Counted through visibility (CountWorkflowExecutions) and cached for OPERATIONS_STATS_TTL per scope.',
    tag: 'Operations',
    auth: 'member',
    query: statsQuery,
    responses: {
      200: { description: 'The counts', schema: statsSchema },
      ...tenantScopeRefusals({ notFound: 'TENANT_NOT_FOUND' }),
    },
  },
];

/** GET /api/v1/stats (any role): the scope's flow counts. */
export function createStatsRouter(deps: StatsRouterDeps): Router {
  const router = Router();
  router.get('/stats', async (req, res) => {
    const { tenantId } = parse(statsQuery, req.query);
    const scope = await resolveOperationsScope(deps.prisma, principalOf(req), tenantId);
    res.json(await getStats(deps, scope));
  });
  return router;
}
