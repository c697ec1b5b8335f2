import { flowCatalog, type FlowDefinition, type StatusCategory } from '../../../domain/flow-catalog';
import { listFlowPauses, presentFlowPause } from '../flow-pauses';
import type { OperationsDeps } from './operations-deps';
import { mapConcurrently, scanRetryingFlows } from './pending-activities';
import { isTenantScope, scopeKey, type OperationsScope } from './scope';
import { executionStatusOf, quote, scopeClause, type ExecutionStatus } from './visibility-query';

/**
 * GET /api/v1/stats: per flow, how many runs are in each execution status, how the running ones
 * stand (one count per declared FlowStatus, since visibility cannot GROUP BY a custom search
 * attribute), how many are retrying a step, and whether the tenant paused it, next to Bull's
 * job counts. Answers are cached per scope for OPERATIONS_STATS_TTL.
 */

/** Flows counted in a scope: a tenant sees its own flows; across tenants, the platform's too. */
const flowsOf = (scope: OperationsScope): FlowDefinition[] =>
  flowCatalog.filter((flow) => !isTenantScope(scope) || flow.scope === 'tenant');

/** Counts visibility calls in flight at once. */
const COUNT_CONCURRENCY = 8;

type ExecutionCounts = Record<ExecutionStatus, number>;

const emptyCounts = (): ExecutionCounts => ({
  running: 0,
  completed: 0,
  failed: 0,
  cancelled: 0,
  terminated: 0,
  'timed-out': 0,
  'continued-as-new': 0,
});

export interface RunningCategories {
  working: number;
  waitingOnPerson: number;
  waitingOnTimer: number;
  needsAttention: number;
  /** Running with a status the flow declares as finished (about to close). */
  finishing: number;
  /** Running with a step on attempt 2 or more; taken out of `working`. */
  retrying: number;
  /** Running without a FlowStatus the catalog declares for the flow. */
  unclassified: number;
}

const categoryKey: Record<StatusCategory, keyof RunningCategories> = {
  working: 'working',
  'waiting-on-person': 'waitingOnPerson',
  'waiting-on-timer': 'waitingOnTimer',
  'needs-attention': 'needsAttention',
  finished: 'finishing',
};

export interface FlowStats {
  flow: string;
  label: string;
  workflowType: string;
  counts: ExecutionCounts & { total: number };
  /** Running runs by FlowStatus; only declared statuses, only when some run. */
  running: Record<string, number>;
  categories: RunningCategories;
  paused: boolean;
  /** Who paused it, when and why, for one tenant's stats. */
  pause: ReturnType<typeof presentFlowPause> | null;
  /** Across tenants: how many tenants paused it. */
  pausedTenants?: number;
  /** Bull's job counts for the same flow, for dashboards that speak Bull. */
  bull: { waiting: number; active: number; delayed: number; failed: number; completed: number; paused: boolean };
}

export interface Stats {
  scope: { tenantId: string } | { allTenants: true };
  flows: FlowStats[];
  /** Running flows described to find the retrying ones, and whether there were more than the scan takes. */
  retryingScanned: number;
  retryingCapped: boolean;
  generatedAt: string;
  cachedForMs: number;
  /** What computing this answer cost (not what serving it from the cache cost). */
  cost: { visibilityCalls: number; describeCalls: number; durationMs: number };
}

/** Stats answers per scope, each kept for `ttlMs`. */
export interface StatsCache {
  ttlMs: number;
  get(key: string): Stats | undefined;
  set(key: string, stats: Stats): void;
}

export function createStatsCache(ttlMs: number, now: () => number = Date.now): StatsCache {
  const entries = new Map<string, { until: number; stats: Stats }>();
  return {
    ttlMs,
    get(key) {
      const entry = entries.get(key);
      if (!entry || entry.until <= now()) {
        entries.delete(key);
        return undefined;
      }
      return entry.stats;
    },
    set(key, stats) {
      if (ttlMs > 0) entries.set(key, { until: now() + ttlMs, stats });
    },
  };
}

export interface StatsDeps extends Pick<OperationsDeps, 'prisma' | 'temporal'> {
  statsCache?: StatsCache;
}

async function pausesOf(deps: StatsDeps, scope: OperationsScope) {
  if (isTenantScope(scope)) {
    const rows = await listFlowPauses(deps.prisma, scope.tenantId);
    return { byFlow: new Map(rows.map((row) => [row.flow, { pause: presentFlowPause(row), tenants: 1 }])) };
  }
  const groups = await deps.prisma.flowPause.groupBy({ by: ['flow'], _count: { _all: true } });
  return { byFlow: new Map(groups.map((group) => [group.flow, { pause: null, tenants: group._count._all }])) };
}

/**
 * The ExecutionStatus a GROUP BY group stands for. The client decodes each group value as a
 * search attribute, that is a list (`[["Failed"]]`): the name is the list's first item.
 */
function groupName(value: unknown): string {
  const first: unknown = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first : '';
}

/** The scope's stats, from the cache while fresh. */
export async function getStats(deps: StatsDeps, scope: OperationsScope): Promise<Stats> {
  const key = scopeKey(scope);
  const cached = deps.statsCache?.get(key);
  if (cached) return cached;
  const stats = await computeStats(deps, scope);
  deps.statsCache?.set(key, stats);
  return stats;
}

/** Counts afresh: one GROUP BY count per flow, one count per declared FlowStatus of flows that run, and the retry scan. */
export async function computeStats(deps: StatsDeps, scope: OperationsScope): Promise<Omit<Stats, never>> {
  const started = Date.now();
  const { temporal } = deps;
  const flows = flowsOf(scope);
  const scopeFilter = scopeClause(scope);
  let visibilityCalls = 0;
  const count = async (query: string) => {
    visibilityCalls++;
    return temporal.workflow.count(query);
  };

  const perFlow = await mapConcurrently(flows, COUNT_CONCURRENCY, async (flow) => {
    const ofType = `${scopeFilter} AND WorkflowType = ${quote(flow.workflowType)}`;
    const grouped = await count(`${ofType} GROUP BY ExecutionStatus`);
    const counts = emptyCounts();
    for (const group of grouped.groups) {
      const status = executionStatusOf(groupName(group.groupValues[0]));
      if (status) counts[status] += group.count;
    }
    return { flow, counts };
  });

  // Per-status counts only for flows with running runs: most flows idle most of the time.
  const statusCounts = perFlow.flatMap(({ flow, counts }) =>
    counts.running === 0 ? [] : Object.keys(flow.statuses).map((status) => ({ flow, status })),
  );
  const runningByStatus = await mapConcurrently(statusCounts, COUNT_CONCURRENCY, async ({ flow, status }) => {
    const answer = await count(
      `${scopeFilter} AND WorkflowType = ${quote(flow.workflowType)} AND ExecutionStatus = "Running" AND FlowStatus = ${quote(status)}`,
    );
    return { flow: flow.name, status, count: answer.count };
  });

  const busyTypes = perFlow.filter(({ counts }) => counts.running > 0).map(({ flow }) => flow.workflowType);
  const retryScan =
    busyTypes.length > 0
      ? await scanRetryingFlows(temporal, scope, 2, { workflowTypes: busyTypes })
      : { flows: [], scanned: 0, capped: false, visibilityCalls: 0, describeCalls: 0 };
  const pauses = await pausesOf(deps, scope);

  const answer: Stats = {
    scope: isTenantScope(scope) ? { tenantId: scope.tenantId } : { allTenants: true },
    flows: perFlow.map(({ flow, counts }) => {
      const running: Record<string, number> = {};
      const categories: RunningCategories = {
        working: 0,
        waitingOnPerson: 0,
        waitingOnTimer: 0,
        needsAttention: 0,
        finishing: 0,
        retrying: 0,
        unclassified: 0,
      };
      for (const entry of runningByStatus.filter((candidate) => candidate.flow === flow.name)) {
        if (entry.count === 0) continue;
        running[entry.status] = entry.count;
        categories[categoryKey[flow.statuses[entry.status]!]] += entry.count;
      }
      categories.unclassified = Math.max(0, counts.running - Object.values(running).reduce((sum, n) => sum + n, 0));
      for (const retrying of retryScan.flows.filter((candidate) => candidate.workflowType === flow.workflowType)) {
        categories.retrying++;
        const category = retrying.flowStatus ? flow.statuses[retrying.flowStatus] : undefined;
        if (category === 'working' && categories.working > 0) categories.working--;
      }
      const pause = pauses.byFlow.get(flow.name);
      const paused = pause !== undefined;
      return {
        flow: flow.name,
        label: flow.label,
        workflowType: flow.workflowType,
        counts: { ...counts, total: Object.values(counts).reduce((sum, n) => sum + n, 0) },
        running,
        categories,
        paused,
        pause: pause?.pause ?? null,
        ...(isTenantScope(scope) ? {} : { pausedTenants: pause?.tenants ?? 0 }),
        bull: {
          waiting: categories.waitingOnPerson + categories.waitingOnTimer,
          active: categories.working + categories.retrying,
          delayed: categories.waitingOnTimer,
          failed: counts.failed + counts['timed-out'],
          completed: counts.completed,
          paused,
        },
      };
    }),
    retryingScanned: retryScan.scanned,
    retryingCapped: retryScan.capped,
    generatedAt: new Date().toISOString(),
    cachedForMs: deps.statsCache?.ttlMs ?? 0,
    cost: {
      visibilityCalls: visibilityCalls + retryScan.visibilityCalls,
      describeCalls: retryScan.describeCalls,
      durationMs: Date.now() - started,
    },
  };
  return answer;
}
