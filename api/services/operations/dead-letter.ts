import { randomUUID } from 'node:crypto';
import { isGrpcServiceError, WorkflowNotFoundError } from '@temporalio/client';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { Payload } from '@temporalio/common';
import { decode } from '@temporalio/common/lib/internal-non-workflow';
import { temporal as proto } from '@temporalio/proto';
import { flowByName, flowByWorkflowType, needsAttentionStatuses } from '../../../domain/flow-catalog';
import { toStorableText } from '../../../domain/input-rules';
import type { DeadLetterKind } from '../../../generated/prisma/enums';
import type { PrismaClient } from '../../../lib/db';
import { AppError } from '../../errors';
import { assertFlowAccepting } from '../flow-pauses';
import { retryNotification } from '../notifications';
import { auditOperation } from './audit';
import type { OperationsActor, OperationsDeps } from './operations-deps';
import { mapConcurrently, RETRY_SCAN_CONCURRENCY, scanRetryingFlows } from './pending-activities';
import { isTenantScope, scopeKey, type OperationsScope } from './scope';
import {
  closeFailure,
  executionStatusName,
  holdfastAttributes,
  isoTime,
  isPayloadUnreadable,
  lastFailedStepResetPoint,
  readHistory,
  webUiLinks,
  type FailureSummary,
} from './temporal-records';
import { anyOf, isTenantRowId, quote, scopeClause, type ExecutionStatus } from './visibility-query';
import { OPERATIONS_IDENTITY, reasonForTemporal, resetRun } from './workflows';

/**
 * The dead-letter inbox: what failed and waits for a person. Four sources are merged:
 * 1. runs that failed or timed out (visibility);
 * 2. flows whose FlowStatus says they need attention (running, or completed in that status);
 * 3. running flows with a step on attempt DEAD_LETTER_ACTIVITY_ATTEMPTS or more;
 * 4. notifications that failed for good (the Notification ledger).
 * Each is kept as a DeadLetter row, so the inbox outlives Temporal's namespace retention and
 * records who retried or discarded what, why and when.
 */

export interface DeadLetterDeps extends OperationsDeps {
  /** DEAD_LETTER_ACTIVITY_ATTEMPTS: a running flow whose step reached this attempt is listed. */
  deadLetterActivityAttempts: number;
  /** Skips re-reading Temporal for a scope read within its window; without it every list reads. */
  refreshGate?: RefreshGate;
}

/** At most this many runs are read from each visibility source per refresh, newest first. */
export const DEAD_LETTER_SCAN_LIMIT = 500;

/** What the latest refresh of a scope's inbox found out, and when. */
export interface RefreshOutcome {
  /** When the rows were last brought up to date (the latest refresh that succeeded). */
  refreshedAt?: Date;
  /** Why the latest refresh failed; the inbox then answers the rows it recorded before. */
  error?: string;
  /** Running flows the retrying-step scan described, and whether more ran than it reaches. */
  retryingScanned?: number;
  retryingCapped?: boolean;
}

/** When each scope's inbox was last brought up to date, so a busy console does not re-read Temporal per request. */
export interface RefreshGate {
  due(key: string): boolean;
  done(key: string, outcome: RefreshOutcome): void;
  /** What this process's latest refresh of the scope found. */
  last(key: string): RefreshOutcome | undefined;
}

export function createRefreshGate(ttlMs: number, now: () => number = Date.now): RefreshGate {
  const until = new Map<string, number>();
  const last = new Map<string, RefreshOutcome>();
  return {
    due: (key) => (until.get(key) ?? 0) <= now(),
    done: (key, outcome) => {
      last.set(key, outcome);
      if (ttlMs > 0) until.set(key, now() + ttlMs);
    },
    last: (key) => last.get(key),
  };
}

type DeadLetterRow = Awaited<ReturnType<PrismaClient['deadLetter']['findFirstOrThrow']>>;
type RawExecutionInfo = proto.api.workflow.v1.IWorkflowExecutionInfo;

interface Candidate {
  tenantId: string;
  kind: DeadLetterKind;
  ref: string;
  flow: string;
  workflowId: string;
  runId: string | null;
  notificationId: string | null;
  businessKey: string | null;
  failedAt: Date | null;
  /** Whether the run was running when found (a needs-attention flow may also have completed so). */
  running: boolean;
  /** Known without another read (a pending step's last failure, a notification's last error). */
  failure?: FailureSummary | null;
  /** Read only for a candidate the inbox has not seen yet. */
  readFailure?: () => Promise<FailureSummary | null>;
}

const isGrpc = (error: unknown, code: GrpcStatus) => isGrpcServiceError(error) && error.code === code;

/** Visibility pages of a query, newest first, handed over one at a time until `onPage` says stop or none is left. */
async function forEachRunPage(
  deps: Pick<DeadLetterDeps, 'temporal'>,
  query: string,
  onPage: (runs: RawExecutionInfo[]) => Promise<boolean | void> | boolean | void,
): Promise<void> {
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await deps.temporal.workflowService.listWorkflowExecutions({
      namespace: deps.temporal.options.namespace,
      query,
      pageSize: 100,
      nextPageToken,
    });
    if ((await onPage(page.executions ?? [])) === false) return;
    nextPageToken = page.nextPageToken && page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
  } while (nextPageToken);
}

async function listRuns(deps: Pick<DeadLetterDeps, 'temporal'>, query: string): Promise<RawExecutionInfo[]> {
  const runs: RawExecutionInfo[] = [];
  await forEachRunPage(deps, query, (page) => {
    runs.push(...page);
    return runs.length < DEAD_LETTER_SCAN_LIMIT;
  });
  return runs.slice(0, DEAD_LETTER_SCAN_LIMIT);
}

function runCandidate(info: RawExecutionInfo, kind: DeadLetterKind): Omit<Candidate, 'readFailure'> | undefined {
  const attributes = holdfastAttributes(info.searchAttributes?.indexedFields);
  const flow = flowByWorkflowType(info.type?.name ?? '');
  const runId = info.execution?.runId;
  if (!isTenantRowId(attributes.tenantId) || !flow || !runId) return undefined;
  const closedAt = isoTime(info.closeTime);
  return {
    tenantId: attributes.tenantId,
    kind,
    ref: runId,
    flow: flow.name,
    workflowId: info.execution?.workflowId ?? '',
    runId,
    notificationId: null,
    businessKey: attributes.businessKey,
    failedAt: closedAt ? new Date(closedAt) : null,
    running: executionStatusName(info.status) === 'running',
  };
}

/** What a flow's state query says went wrong (`failure`, or `lastError`), for a flow that needs attention. */
async function stateFailure(
  deps: Pick<DeadLetterDeps, 'temporal'>,
  workflowId: string,
  runId: string,
  flowName: string,
) {
  const queryName = flowByName(flowName)?.stateQuery;
  const fallback = { type: 'NeedsAttention', message: 'The flow stopped and waits for an operator' };
  if (!queryName) return fallback;
  try {
    const state = await deps.temporal.withDeadline(Date.now() + 2_000, () =>
      deps.temporal.workflow.getHandle(workflowId, runId).query<unknown>(queryName),
    );
    const failure = (state as { failure?: { type?: unknown; message?: unknown } } | null)?.failure;
    if (failure && typeof failure.message === 'string') {
      return { type: typeof failure.type === 'string' ? failure.type : 'NeedsAttention', message: failure.message };
    }
    const lastError = (state as { lastError?: unknown } | null)?.lastError;
    if (typeof lastError === 'string') return { type: 'NeedsAttention', message: lastError };
  } catch {
    // No worker to answer: the inbox still lists the flow, with the general reason.
  }
  return fallback;
}

/** What the inbox reads Temporal and PostgreSQL with when it records failures. */
export type DeadLetterRecordingDeps = Pick<DeadLetterDeps, 'prisma' | 'temporal'>;

/** Failed or timed-out runs of `scopeFilter`, as a List Filter. */
const failedRunsQuery = (scopeFilter: string) =>
  `${scopeFilter} AND (ExecutionStatus = "Failed" OR ExecutionStatus = "TimedOut")`;

/** Flows of `scopeFilter` in a needs-attention FlowStatus, running or completed so, as a List Filter. */
const attentionRunsQuery = (scopeFilter: string) =>
  `${scopeFilter} AND ${anyOf('FlowStatus', needsAttentionStatuses)} AND (ExecutionStatus = "Running" OR ExecutionStatus = "Completed")`;

/** Failed and timed-out runs as candidates, each reading its failure from its close event. */
function failedRunCandidates(deps: DeadLetterRecordingDeps, runs: RawExecutionInfo[]): Candidate[] {
  const found: Candidate[] = [];
  for (const info of runs) {
    const timedOut = executionStatusName(info.status) === 'timed-out';
    const candidate = runCandidate(info, timedOut ? 'WORKFLOW_TIMED_OUT' : 'WORKFLOW_FAILED');
    if (!candidate) continue;
    found.push({
      ...candidate,
      readFailure: async () =>
        closeFailure(
          deps.temporal,
          candidate.workflowId,
          (await readHistory(deps.temporal, candidate, { closeEventOnly: true }).catch(() => [])).at(-1),
        ),
    });
  }
  return found;
}

/** Flows needing attention as candidates, each reading its failure from the flow's state query. */
function attentionRunCandidates(deps: DeadLetterRecordingDeps, runs: RawExecutionInfo[]): Candidate[] {
  const found: Candidate[] = [];
  for (const info of runs) {
    const candidate = runCandidate(info, 'NEEDS_ATTENTION');
    if (!candidate) continue;
    found.push({
      ...candidate,
      readFailure: () => stateFailure(deps, candidate.workflowId, candidate.ref, candidate.flow),
    });
  }
  return found;
}

// A flow's own messages (no workflow of their own) are retried by their flow, not from here.
const failedNotificationsWhere = { status: 'FAILED' as const, workflowId: { not: null } };
const failedNotificationSelect = { id: true, tenantId: true, workflowId: true, lastError: true, updatedAt: true };

function notificationCandidate(row: {
  id: string;
  tenantId: string;
  workflowId: string | null;
  lastError: string | null;
  updatedAt: Date;
}): Candidate {
  return {
    tenantId: row.tenantId,
    kind: 'NOTIFICATION_FAILED',
    ref: row.id,
    flow: 'notifications',
    workflowId: row.workflowId!,
    runId: null,
    notificationId: row.id,
    businessKey: row.id,
    failedAt: row.updatedAt,
    running: false,
    failure: row.lastError ? { type: 'NotificationFailed', message: row.lastError } : null,
  };
}

async function candidates(
  deps: DeadLetterDeps,
  scope: OperationsScope,
): Promise<{ found: Candidate[]; retryingScanned: number; retryingCapped: boolean }> {
  const scopeFilter = scopeClause(scope);
  const [failedRuns, attentionRuns, retrying, notifications] = await Promise.all([
    listRuns(deps, failedRunsQuery(scopeFilter)),
    listRuns(deps, attentionRunsQuery(scopeFilter)),
    scanRetryingFlows(deps.temporal, scope, deps.deadLetterActivityAttempts),
    deps.prisma.notification.findMany({
      where: { ...failedNotificationsWhere, ...(isTenantScope(scope) ? { tenantId: scope.tenantId } : {}) },
      orderBy: { updatedAt: 'desc' },
      take: DEAD_LETTER_SCAN_LIMIT,
      select: failedNotificationSelect,
    }),
  ]);
  const found: Candidate[] = [...failedRunCandidates(deps, failedRuns), ...attentionRunCandidates(deps, attentionRuns)];
  for (const flow of retrying.flows) {
    const catalogFlow = flowByWorkflowType(flow.workflowType);
    if (!isTenantRowId(flow.tenantId) || !catalogFlow) continue;
    found.push({
      tenantId: flow.tenantId,
      kind: 'ACTIVITY_RETRYING',
      ref: flow.runId,
      flow: catalogFlow.name,
      workflowId: flow.workflowId,
      runId: flow.runId,
      notificationId: null,
      businessKey: flow.businessKey,
      failedAt: flow.activity.lastAttemptCompleteTime ? new Date(flow.activity.lastAttemptCompleteTime) : null,
      running: true,
      failure: flow.activity.lastFailure && {
        type: flow.activity.lastFailure.type,
        message: `${flow.activity.activityType} on attempt ${flow.activity.attempt}: ${flow.activity.lastFailure.message}`,
      },
    });
  }
  found.push(...notifications.map(notificationCandidate));
  return { found, retryingScanned: retrying.scanned, retryingCapped: retrying.capped };
}

const candidateKey = (candidate: { tenantId: string; kind: string; ref: string }) =>
  `${candidate.tenantId}|${candidate.kind}|${candidate.ref}`;

/** Who a row names when the inbox resolved it by itself: the flow recovered or its run ended. */
export const INBOX_ACTOR = 'holdfast:dead-letter-inbox';

/** At most this many open rows the latest refresh did not find are checked again per refresh, oldest sighting first. */
export const DEAD_LETTER_RECHECK_LIMIT = 50;

/** Rows about a run still going: they are true only while the run still fails that way. */
const RUNNING_KINDS: DeadLetterKind[] = ['ACTIVITY_RETRYING', 'NEEDS_ATTENTION'];

type KnownRow = Pick<DeadLetterRow, 'id' | 'tenantId' | 'kind' | 'ref' | 'resolution' | 'resolvedAt' | 'resolvedBy'>;

interface RunCheck {
  status: ExecutionStatus | 'unknown';
  runId: string;
  flowStatus: string | null;
  /** Whether the row's failure still holds: a step still on the listed attempt, a FlowStatus still needing attention, a run still failed. */
  stillFailing: boolean;
}

/**
 * Describes a row's run (or, with `current`, the workflow's latest run) and says whether the
 * row's failure still holds. Undefined once Temporal no longer has it (past retention).
 */
async function checkRun(
  // A retrying step's row is judged by the attempt its step reached: callers checking such rows give the threshold.
  deps: Pick<DeadLetterDeps, 'temporal'> & Partial<Pick<DeadLetterDeps, 'deadLetterActivityAttempts'>>,
  row: Pick<DeadLetterRow, 'kind' | 'workflowId' | 'runId'>,
  { current = false }: { current?: boolean } = {},
): Promise<RunCheck | undefined> {
  let described;
  try {
    described = await deps.temporal.workflowService.describeWorkflowExecution({
      namespace: deps.temporal.options.namespace,
      execution: { workflowId: row.workflowId, runId: current ? undefined : (row.runId ?? undefined) },
    });
  } catch (error) {
    if (isGrpc(error, GrpcStatus.NOT_FOUND)) return undefined;
    throw error;
  }
  const info = described.workflowExecutionInfo;
  const status = executionStatusName(info?.status);
  const { flowStatus } = holdfastAttributes(info?.searchAttributes?.indexedFields);
  const highestAttempt = Math.max(0, ...(described.pendingActivities ?? []).map((activity) => activity.attempt ?? 1));
  let stillFailing: boolean;
  if (row.kind === 'ACTIVITY_RETRYING') {
    stillFailing =
      status === 'running' &&
      deps.deadLetterActivityAttempts !== undefined &&
      highestAttempt >= deps.deadLetterActivityAttempts;
  } else if (row.kind === 'NEEDS_ATTENTION') {
    stillFailing =
      (status === 'running' || status === 'completed') &&
      flowStatus !== null &&
      (needsAttentionStatuses as readonly string[]).includes(flowStatus);
  } else {
    stillFailing = status === 'failed' || status === 'timed-out';
  }
  return { status, runId: info?.execution?.runId ?? '', flowStatus, stillFailing };
}

/** Why the inbox resolved a row of a running flow by itself, and as what (`check` undefined: the run is gone). */
function recovery(kind: DeadLetterKind, check: RunCheck | undefined) {
  if (!check) {
    return {
      resolution: 'DISCARDED' as const,
      reason: 'The run ended, and Temporal no longer keeps it (past retention)',
    };
  }
  if (check.status === 'running') {
    return kind === 'ACTIVITY_RETRYING'
      ? { resolution: 'RETRIED' as const, reason: 'The step went through on a later attempt; the flow carries on' }
      : {
          resolution: 'DISCARDED' as const,
          reason: `The flow no longer needs attention (now ${check.flowStatus ?? 'without a status'}); it carries on`,
        };
  }
  if (check.status === 'failed' || check.status === 'timed-out') {
    return {
      resolution: 'DISCARDED' as const,
      reason: `The run ${check.status === 'failed' ? 'failed' : 'timed out'}: that failure is a dead letter of its own`,
    };
  }
  return {
    resolution:
      kind === 'ACTIVITY_RETRYING' && check.status === 'completed' ? ('RETRIED' as const) : ('DISCARDED' as const),
    reason: `The run ended (${check.status})`,
  };
}

/**
 * A failure's columns as PostgreSQL can store them. Its message is another system's text (an activity's
 * error, a provider's answer) and may carry a NUL or a broken surrogate, which must not fail the sweep.
 */
function failureColumns(failure: FailureSummary | null | undefined) {
  return failure
    ? { failureType: toStorableText(failure.type), failureMessage: toStorableText(failure.message) }
    : { failureType: null, failureMessage: null };
}

/** Stores new failures with their last failure, read 8 at a time. */
async function recordFresh(deps: DeadLetterRecordingDeps, fresh: Candidate[], now: Date) {
  if (fresh.length === 0) return;
  const failures = await mapConcurrently(
    fresh,
    RETRY_SCAN_CONCURRENCY,
    async (candidate) => candidate.failure ?? (await candidate.readFailure?.()) ?? null,
  );
  // A closed run's new row takes over what a person did about the run after it closed (a retry of
  // its retrying-step row, say), so a run retried once is not offered for a second retry.
  const closedRunIds = fresh.filter((candidate) => candidate.runId && !candidate.running).map((c) => c.runId!);
  const handled =
    closedRunIds.length === 0
      ? []
      : await deps.prisma.deadLetter.findMany({
          where: { runId: { in: closedRunIds }, resolution: { not: null }, resolvedBy: { not: INBOX_ACTOR } },
          select: {
            tenantId: true,
            runId: true,
            resolution: true,
            resolvedBy: true,
            resolvedAt: true,
            resolutionReason: true,
          },
          orderBy: { resolvedAt: 'desc' },
        });
  const handledAfterClose = (candidate: Candidate) =>
    handled.find(
      (row) =>
        !candidate.running &&
        row.tenantId === candidate.tenantId &&
        row.runId === candidate.runId &&
        candidate.failedAt !== null &&
        row.resolvedAt !== null &&
        row.resolvedAt.getTime() >= candidate.failedAt.getTime(),
    );
  await deps.prisma.deadLetter.createMany({
    data: fresh.map((candidate, index) => {
      const handledBy = handledAfterClose(candidate);
      return {
        tenantId: candidate.tenantId,
        kind: candidate.kind,
        ref: candidate.ref,
        flow: candidate.flow,
        workflowId: candidate.workflowId,
        runId: candidate.runId,
        notificationId: candidate.notificationId,
        businessKey: candidate.businessKey,
        ...failureColumns(failures[index]),
        failedAt: candidate.failedAt,
        firstSeenAt: now,
        lastSeenAt: now,
        ...(handledBy
          ? {
              resolution: handledBy.resolution,
              resolvedBy: handledBy.resolvedBy,
              resolvedAt: handledBy.resolvedAt,
              resolutionReason: handledBy.resolutionReason,
            }
          : {}),
      };
    }),
    // Two refreshes at once insert the same failure once.
    skipDuplicates: true,
  });
}

/**
 * Reopens resolved rows that fail again after their resolution: a notification that failed anew
 * after a retry (its row is keyed by the notification), a step that went through and then kept
 * failing again, a flow that moved on and came back to needing attention. The reopened row stands
 * for the new failure; what was done before stays in the audit log.
 */
async function reopenFailingAgain(
  deps: DeadLetterRecordingDeps,
  seenAgain: Array<[Candidate, KnownRow]>,
  listedAt: Date,
  now: Date,
) {
  const resolvedBefore = seenAgain.filter(
    ([, row]) => row.resolution && row.resolvedAt && row.resolvedAt.getTime() < listedAt.getTime(),
  );
  const failedSince = resolvedBefore.filter(
    ([candidate, row]) =>
      (candidate.kind === 'NOTIFICATION_FAILED' || candidate.kind === 'ACTIVITY_RETRYING') &&
      candidate.failedAt !== null &&
      candidate.failedAt.getTime() > row.resolvedAt!.getTime(),
  );
  // Visibility may lag behind a FlowStatus change: the run itself confirms it needs attention again.
  const attention = resolvedBefore.filter(([candidate]) => candidate.kind === 'NEEDS_ATTENTION' && candidate.running);
  const confirmed = await mapConcurrently(attention, RETRY_SCAN_CONCURRENCY, async ([candidate]) => {
    const check = await checkRun(deps, candidate);
    return check?.status === 'running' && check.stillFailing;
  });
  for (const [candidate, row] of [...failedSince, ...attention.filter((_, index) => confirmed[index])]) {
    const failure = candidate.failure ?? (await candidate.readFailure?.()) ?? null;
    await deps.prisma.deadLetter.updateMany({
      // Unless someone resolved it anew meanwhile.
      where: { id: row.id, resolution: row.resolution, resolvedAt: row.resolvedAt },
      data: {
        resolution: null,
        resolvedBy: null,
        resolvedAt: null,
        resolutionReason: null,
        ...failureColumns(failure),
        failedAt: candidate.failedAt,
        firstSeenAt: now,
        lastSeenAt: now,
      },
    });
  }
}

/**
 * Checks again the open rows of running flows that the refresh did not find: one whose failure
 * still holds (a flow past the scans' reach) is seen; one whose flow recovered or whose run ended
 * is resolved by the inbox, so that a discard later cannot terminate a flow that is doing fine.
 * A running flow is never past retention, so a run Temporal no longer keeps has ended: resolved too
 * (else such rows, never seen again, would take every recheck's places).
 */
async function recheckUnseen(deps: DeadLetterDeps, scope: OperationsScope, now: Date) {
  const unseen = await deps.prisma.deadLetter.findMany({
    where: {
      ...scopeWhere(scope),
      kind: { in: RUNNING_KINDS },
      resolution: null,
      runId: { not: null },
      lastSeenAt: { lt: now },
    },
    orderBy: { lastSeenAt: 'asc' },
    take: DEAD_LETTER_RECHECK_LIMIT,
  });
  const checks = await mapConcurrently(unseen, RETRY_SCAN_CONCURRENCY, (row) => checkRun(deps, row));
  const stillFailing = unseen.filter((_, index) => checks[index]?.stillFailing);
  if (stillFailing.length > 0) {
    await deps.prisma.deadLetter.updateMany({
      where: { id: { in: stillFailing.map((row) => row.id) } },
      data: { lastSeenAt: now },
    });
  }
  for (const [index, row] of unseen.entries()) {
    const check = checks[index];
    if (check?.stillFailing) continue;
    const { resolution, reason } = recovery(row.kind, check);
    await deps.prisma.deadLetter.updateMany({
      where: { id: row.id, resolution: null },
      data: { resolution, resolvedBy: INBOX_ACTOR, resolvedAt: new Date(), resolutionReason: reason },
    });
  }
}

/**
 * Records what was found failing: new failures become rows (with their last failure), rows seen
 * again get a new `lastSeenAt`, a retrying step's row takes its latest failure, and resolved rows
 * failing again reopen. Answers how many rows were new and how many seen again.
 */
async function recordCandidates(
  deps: DeadLetterRecordingDeps,
  found: Candidate[],
  listedAt: Date,
  now: Date,
): Promise<{ recorded: number; seenAgain: number }> {
  // Only tenants that still have a row can hold dead letters (a deleted tenant's runs linger in visibility).
  const tenantIds = [...new Set(found.map((candidate) => candidate.tenantId))];
  const tenants = new Set(
    tenantIds.length === 0
      ? []
      : (await deps.prisma.tenant.findMany({ where: { id: { in: tenantIds } }, select: { id: true } })).map(
          (t) => t.id,
        ),
  );
  const current = found.filter((candidate) => tenants.has(candidate.tenantId));
  const existing: KnownRow[] =
    current.length === 0
      ? []
      : await deps.prisma.deadLetter.findMany({
          where: { ref: { in: current.map((candidate) => candidate.ref) }, tenantId: { in: [...tenants] } },
          select: {
            id: true,
            tenantId: true,
            kind: true,
            ref: true,
            resolution: true,
            resolvedAt: true,
            resolvedBy: true,
          },
        });
  const known = new Map(existing.map((row) => [candidateKey(row), row]));
  const fresh = current.filter((candidate) => !known.has(candidateKey(candidate)));
  await recordFresh(deps, fresh, now);
  const seenAgain = current
    .filter((candidate) => known.has(candidateKey(candidate)))
    .map((candidate): [Candidate, KnownRow] => [candidate, known.get(candidateKey(candidate))!]);
  if (seenAgain.length > 0) {
    await deps.prisma.deadLetter.updateMany({
      where: { id: { in: seenAgain.map(([, row]) => row.id) } },
      data: { lastSeenAt: now },
    });
  }
  // A step still retrying fails anew on each attempt: its open row shows the latest failure.
  for (const [candidate, row] of seenAgain) {
    if (candidate.kind !== 'ACTIVITY_RETRYING' || !candidate.failure || row.resolution) continue;
    await deps.prisma.deadLetter.update({
      where: { id: row.id },
      data: {
        ...failureColumns(candidate.failure),
        failedAt: candidate.failedAt,
      },
    });
  }
  await reopenFailingAgain(deps, seenAgain, listedAt, now);
  return { recorded: fresh.length, seenAgain: seenAgain.length };
}

/**
 * Brings the scope's inbox up to date with Temporal and the Notification ledger: new failures
 * become rows (with their last failure), rows seen again get a new `lastSeenAt`, a retrying
 * step's row takes its latest failure, resolved rows failing again reopen, and open rows of
 * running flows that recovered are resolved. Answers when, and how far the retrying-step scan reached.
 */
export async function refreshDeadLetters(deps: DeadLetterDeps, scope: OperationsScope): Promise<RefreshOutcome> {
  const listedAt = new Date();
  const { found, retryingScanned, retryingCapped } = await candidates(deps, scope);
  const now = new Date();
  await recordCandidates(deps, found, listedAt, now);
  await recheckUnseen(deps, scope, now);
  return { refreshedAt: now, retryingScanned, retryingCapped };
}

/** What a sweep of every tenant's failures recorded so far. */
export interface DeadLetterSweepCounts {
  /** Failures that became rows in this sweep (nobody had listed them yet). */
  recorded: number;
  /** Failures that had a row already. */
  seenAgain: number;
}

/**
 * Records every tenant's failures as dead letters whether or not anyone reads the inbox, so a
 * failure is kept beyond Temporal's retention even if nobody listed it in time: runs that failed or
 * timed out, and flows that completed needing attention, closed since `closedSince`; flows still
 * running needing attention, however old; and notifications that failed for good. Unlike a read
 * of the inbox it has no cap: it goes through visibility a page at a time (`onProgress` after each
 * page, say to heartbeat), and the ledger 500 rows at a time. Retrying steps are left to the
 * inbox's reads (a step on a late attempt is a moment, not a record).
 */
export async function sweepDeadLetters(
  deps: DeadLetterRecordingDeps,
  closedSince: Date,
  onProgress: (counts: DeadLetterSweepCounts) => void = () => {},
): Promise<DeadLetterSweepCounts> {
  const counts: DeadLetterSweepCounts = { recorded: 0, seenAgain: 0 };
  const record = async (found: Candidate[], listedAt: Date) => {
    const page = await recordCandidates(deps, found, listedAt, new Date());
    counts.recorded += page.recorded;
    counts.seenAgain += page.seenAgain;
    onProgress({ ...counts });
  };
  const allTenants = scopeClause({ allTenants: true });
  const since = `CloseTime >= ${quote(closedSince.toISOString())}`;
  let listedAt = new Date();
  await forEachRunPage(deps, `${failedRunsQuery(allTenants)} AND ${since}`, async (runs) => {
    await record(failedRunCandidates(deps, runs), listedAt);
  });
  listedAt = new Date();
  await forEachRunPage(
    deps,
    `${attentionRunsQuery(allTenants)} AND (ExecutionStatus = "Running" OR ${since})`,
    async (runs) => {
      await record(attentionRunCandidates(deps, runs), listedAt);
    },
  );
  let after: string | undefined;
  for (;;) {
    listedAt = new Date();
    const rows = await deps.prisma.notification.findMany({
      where: { ...failedNotificationsWhere, ...(after ? { id: { gt: after } } : {}) },
      orderBy: { id: 'asc' },
      take: DEAD_LETTER_SCAN_LIMIT,
      select: failedNotificationSelect,
    });
    if (rows.length === 0) break;
    await record(rows.map(notificationCandidate), listedAt);
    after = rows.at(-1)!.id;
  }
  return counts;
}

/**
 * Refreshes the scope's inbox; when Temporal cannot be read, answers the previous outcome with
 * the error, so the inbox still shows what PostgreSQL holds.
 */
async function refreshOrKeep(deps: DeadLetterDeps, scope: OperationsScope, previous: RefreshOutcome | undefined) {
  try {
    return await refreshDeadLetters(deps, scope);
  } catch (error) {
    deps.logger?.warn({ err: error, scope: scopeKey(scope) }, 'the dead-letter inbox could not be brought up to date');
    const since = previous?.refreshedAt ? ` (last brought up to date at ${previous.refreshedAt.toISOString()})` : '';
    return {
      ...previous,
      error: `Temporal could not be read, so the inbox shows the rows it recorded before${since}: ${
        error instanceof Error ? error.message : String(error)
      }`,
    };
  }
}

function presentDeadLetter(
  deps: Pick<OperationsDeps, 'uiUrl' | 'temporal'>,
  row: DeadLetterRow,
  refresh: RefreshOutcome | undefined,
) {
  const links = webUiLinks(deps.uiUrl, deps.temporal.options.namespace);
  const refreshedAt = refresh && !refresh.error ? refresh.refreshedAt : undefined;
  return {
    id: row.id,
    tenantId: row.tenantId,
    kind: row.kind,
    flow: row.flow,
    workflowId: row.workflowId,
    runId: row.runId,
    notificationId: row.notificationId,
    businessKey: row.businessKey,
    failure: row.failureType || row.failureMessage ? { type: row.failureType, message: row.failureMessage } : null,
    failedAt: row.failedAt?.toISOString() ?? null,
    firstSeenAt: row.firstSeenAt.toISOString(),
    lastSeenAt: row.lastSeenAt.toISOString(),
    // False once the last refresh no longer found it: the run closed, or is past Temporal's retention or
    // the scans' reach. Null when this process has not refreshed, or its latest refresh failed.
    stillSeen: refreshedAt ? row.lastSeenAt.getTime() >= refreshedAt.getTime() : null,
    resolution: row.resolution,
    resolvedBy: row.resolvedBy,
    resolvedAt: row.resolvedAt?.toISOString() ?? null,
    resolutionReason: row.resolutionReason,
    links: { webUi: row.runId ? links.workflow(row.workflowId, row.runId) : links.workflow(row.workflowId) },
  };
}

export type DeadLetterItem = ReturnType<typeof presentDeadLetter>;

export interface DeadLetterListInput {
  flow?: string;
  kind?: DeadLetterKind;
  includeResolved: boolean;
  limit: number;
  offset: number;
}

const scopeWhere = (scope: OperationsScope) => (isTenantScope(scope) ? { tenantId: scope.tenantId } : {});

/**
 * The scope's inbox, newest first: unresolved rows (with `includeResolved`, resolved ones too),
 * paged, with when it was last brought up to date, how far the retrying-step scan reached, and
 * why the latest refresh failed if it did.
 */
export async function listDeadLetters(deps: DeadLetterDeps, scope: OperationsScope, input: DeadLetterListInput) {
  const key = scopeKey(scope);
  let refresh = deps.refreshGate?.last(key);
  if (!deps.refreshGate || deps.refreshGate.due(key)) {
    refresh = await refreshOrKeep(deps, scope, refresh);
    deps.refreshGate?.done(key, refresh);
  }
  const where = {
    ...scopeWhere(scope),
    ...(input.flow ? { flow: input.flow } : {}),
    ...(input.kind ? { kind: input.kind } : {}),
    ...(input.includeResolved ? {} : { resolution: null }),
  };
  const [rows, total] = await Promise.all([
    deps.prisma.deadLetter.findMany({
      where,
      orderBy: [{ firstSeenAt: 'desc' }, { id: 'asc' }],
      take: input.limit,
      skip: input.offset,
    }),
    deps.prisma.deadLetter.count({ where }),
  ]);
  return {
    deadLetters: rows.map((row) => presentDeadLetter(deps, row, refresh)),
    total,
    limit: input.limit,
    offset: input.offset,
    refreshedAt: refresh?.refreshedAt?.toISOString() ?? null,
    refreshError: refresh?.error ?? null,
    retryingScanned: refresh?.retryingScanned ?? null,
    retryingCapped: refresh?.retryingCapped ?? null,
  };
}

const deadLetterNotFound = (id: string) =>
  new AppError(404, 'DEAD_LETTER_NOT_FOUND', 'No such dead letter', { deadLetterId: id });

async function findDeadLetter(prisma: PrismaClient, scope: OperationsScope, id: string) {
  const row = await prisma.deadLetter.findFirst({ where: { id, ...scopeWhere(scope) } });
  if (!row) throw deadLetterNotFound(id);
  return row;
}

export async function getDeadLetter(deps: DeadLetterDeps, scope: OperationsScope, id: string) {
  return presentDeadLetter(deps, await findDeadLetter(deps.prisma, scope, id), deps.refreshGate?.last(scopeKey(scope)));
}

const alreadyResolved = (row: DeadLetterRow) =>
  new AppError(
    409,
    'DEAD_LETTER_RESOLVED',
    `The dead letter was ${row.resolution?.toLowerCase() ?? 'resolved'} already`,
    {
      deadLetterId: row.id,
      resolution: row.resolution,
      resolvedBy: row.resolvedBy,
      resolvedAt: row.resolvedAt?.toISOString() ?? null,
    },
  );

/**
 * Marks the row resolved before acting, so that of two operators acting at once one goes ahead
 * and the other is told it is done; a failed action gives the claim back. With `withRunSiblings`
 * the run's other open rows (a retrying step that then failed the run, say) are settled in the
 * same claim: they are about the same run, and a second retry of it would end the first one's run.
 */
async function claim(
  prisma: PrismaClient,
  row: DeadLetterRow,
  resolution: 'RETRIED' | 'DISCARDED',
  actor: string,
  reason: string | null,
  { withRunSiblings }: { withRunSiblings: boolean },
) {
  const resolvedAt = new Date();
  const data = { resolution, resolvedBy: actor, resolvedAt, resolutionReason: reason };
  const claimed = await prisma.deadLetter.updateMany({ where: { id: row.id, resolution: null }, data });
  if (claimed.count === 0) {
    throw alreadyResolved((await prisma.deadLetter.findUnique({ where: { id: row.id } })) ?? row);
  }
  const siblings =
    withRunSiblings && row.runId && row.kind !== 'NOTIFICATION_FAILED'
      ? await prisma.deadLetter.updateMany({
          where: { tenantId: row.tenantId, runId: row.runId, resolution: null, id: { not: row.id } },
          data,
        })
      : { count: 0 };
  return {
    siblings: siblings.count,
    release: () =>
      prisma.deadLetter.updateMany({
        where: {
          tenantId: row.tenantId,
          OR: [{ id: row.id }, ...(siblings.count > 0 ? [{ runId: row.runId }] : [])],
          resolution,
          resolvedBy: actor,
          resolvedAt,
        },
        data: { resolution: null, resolvedBy: null, resolvedAt: null, resolutionReason: null },
      }),
  };
}

const runGone = (row: DeadLetterRow) =>
  new AppError(
    409,
    'RUN_NO_LONGER_KEPT',
    "Temporal no longer keeps this run (past the namespace's retention); discard it",
    {
      deadLetterId: row.id,
      workflowId: row.workflowId,
    },
  );

const runReplaced = (row: DeadLetterRow, currentRunId: string) =>
  new AppError(
    409,
    'RUN_REPLACED',
    'The workflow has a newer run than this dead letter’s: the run was retried or reset already, and retrying it ' +
      'again would end the newer run. Look at the newer run, or discard this dead letter',
    { deadLetterId: row.id, workflowId: row.workflowId, runId: row.runId, currentRunId },
  );

/**
 * Starts a new run with the same workflow ID, type, task queue, input, memo, summary and search
 * attributes as `runId`, taken raw from its first history event so the payloads pass through
 * untouched. They stay encrypted as they are: a payload's key is its scope's, the scope follows
 * from the workflow ID, and the new run keeps that ID. A run whose payloads can no longer be
 * decrypted (its tenant's keys were erased, or its key left PAYLOAD_KEYS) is refused, rather than
 * started as a run that could never read its own input.
 */
export async function rerunWorkflow(deps: DeadLetterDeps, workflowId: string, runId: string) {
  const [first] = await readHistory(deps.temporal, { workflowId, runId });
  const started = first?.workflowExecutionStartedEventAttributes;
  if (!started) throw new AppError(409, 'NOT_RERUNNABLE', 'The run has no start event to rerun from', { workflowId });
  await assertPayloadsReadable(deps, workflowId, started.input?.payloads ?? []);
  try {
    const answer = await deps.temporal.workflowService.startWorkflowExecution({
      namespace: deps.temporal.options.namespace,
      workflowId,
      workflowType: started.workflowType,
      taskQueue: started.taskQueue,
      input: started.input,
      workflowExecutionTimeout: started.workflowExecutionTimeout,
      workflowRunTimeout: started.workflowRunTimeout,
      workflowTaskTimeout: started.workflowTaskTimeout,
      retryPolicy: started.retryPolicy,
      memo: started.memo,
      searchAttributes: started.searchAttributes,
      header: started.header,
      userMetadata: first.userMetadata,
      priority: started.priority,
      identity: OPERATIONS_IDENTITY,
      requestId: randomUUID(),
      workflowIdReusePolicy: proto.api.enums.v1.WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
      workflowIdConflictPolicy: proto.api.enums.v1.WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
    });
    return answer.runId ?? '';
  } catch (error) {
    if (isGrpc(error, GrpcStatus.ALREADY_EXISTS)) {
      throw new AppError(409, 'WORKFLOW_RUNNING', 'A newer run of this workflow is running; it cannot be rerun now', {
        workflowId,
      });
    }
    throw error;
  }
}

async function assertPayloadsReadable(deps: Pick<DeadLetterDeps, 'temporal'>, workflowId: string, payloads: Payload[]) {
  const context = { type: 'workflow' as const, namespace: deps.temporal.options.namespace, workflowId };
  try {
    await decode(deps.temporal.options.loadedDataConverter.payloadCodecs, payloads, context);
  } catch (error) {
    // Only the payload's own reasons are this dead letter's; an outage is the request's (503/500).
    if (!isPayloadUnreadable(error)) throw error;
    throw new AppError(
      409,
      'PAYLOADS_UNREADABLE',
      'The run’s input can no longer be decrypted, so a new run could not read it; discard this dead letter',
      { workflowId, reason: error.message },
    );
  }
}

export interface RetryRequest {
  mode: 'reset' | 'rerun';
  reason?: string;
}

/**
 * Retries a dead letter and marks it (and the run's other open rows) RETRIED with who, why and when:
 * - a failed or timed-out run, while it is still the workflow's latest run: reset to its last
 *   workflow task (the failed step runs again) or, with `rerun`, a new run with the same input
 *   (refused while the flow is paused for the tenant);
 * - a run that completed needing attention: reset to the workflow task that scheduled its last
 *   failed step (that step runs again); with no failed step, a reset becomes a rerun
 *   (`requestedMode: 'reset'` in the answer);
 * - a failed notification: sent again by a new run of its workflow;
 * - a flow still running (a step retrying, or stopped for attention) is not retried from here:
 *   409, since its own actions or a discard are what apply.
 */
export async function retryDeadLetter(
  deps: DeadLetterDeps,
  scope: OperationsScope,
  { actor }: OperationsActor,
  id: string,
  { mode, reason }: RetryRequest,
) {
  const row = await findDeadLetter(deps.prisma, scope, id);
  if (row.resolution) throw alreadyResolved(row);
  let outcome: Record<string, unknown>;
  let alsoResolved = 0;
  if (row.kind === 'NOTIFICATION_FAILED') {
    const { release } = await claim(deps.prisma, row, 'RETRIED', actor, reason ?? null, { withRunSiblings: false });
    try {
      const retried = await retryNotification(deps, { tenantId: row.tenantId, actor }, row.notificationId!);
      outcome = { mode: 'notification', workflowId: retried.workflowId, runId: retried.runId };
    } catch (error) {
      await release();
      throw error;
    }
  } else {
    // The workflow's latest run: resetting an older one would make Temporal end the latest.
    const latest = await checkRun(deps, row, { current: true });
    if (latest === undefined) throw runGone(row);
    if (latest.runId !== row.runId) throw runReplaced(row, latest.runId);
    if (latest.status === 'running') {
      throw new AppError(
        409,
        'DEAD_LETTER_RUNNING',
        row.kind === 'ACTIVITY_RETRYING'
          ? 'The flow is still running and retrying its step: fix the cause and it carries on by itself, or discard it to terminate the flow while the step still fails'
          : "The flow is still running and waits for an operator: use the flow's own actions, or discard it to terminate the flow while it still needs attention",
        { deadLetterId: row.id, workflowId: row.workflowId, kind: row.kind },
      );
    }
    // A run that completed needing attention ended by its own code: reset to its last workflow task,
    // it would replay into the same ending. It starts over where it scheduled the step that failed;
    // with no failed step, only a new run with the same input can try again.
    let effectiveMode = mode;
    let atEventId: number | undefined;
    if (mode === 'reset' && latest.status === 'completed') {
      atEventId = lastFailedStepResetPoint(await readHistory(deps.temporal, row));
      if (atEventId === undefined) effectiveMode = 'rerun';
    }
    // A rerun is a new start: a paused flow takes none (423 FLOW_PAUSED); a reset continues the run it had.
    if (effectiveMode === 'rerun') await assertFlowAccepting(deps.prisma, row.tenantId, row.flow);
    const claimed = await claim(deps.prisma, row, 'RETRIED', actor, reason ?? null, { withRunSiblings: true });
    alsoResolved = claimed.siblings;
    try {
      const asked = effectiveMode === mode ? {} : { requestedMode: mode };
      if (effectiveMode === 'rerun') {
        outcome = {
          mode: effectiveMode,
          ...asked,
          workflowId: row.workflowId,
          runId: await rerunWorkflow(deps, row.workflowId, row.runId),
        };
      } else {
        const reset = await resetRun(
          deps,
          { workflowId: row.workflowId, runId: row.runId },
          // One reset per failed run, however often and from whichever of its rows it is asked for.
          { to: 'last', atEventId, requestId: `dead-letter:${row.tenantId}:${row.runId}` },
        );
        outcome = {
          mode: effectiveMode,
          workflowId: row.workflowId,
          runId: reset.runId,
          resetToEventId: reset.resetToEventId,
          ...(atEventId !== undefined ? { resetTo: 'failed-step' } : {}),
        };
      }
    } catch (error) {
      await claimed.release();
      throw error;
    }
  }
  await auditOperation(deps, row.tenantId, {
    actor,
    action: 'dead-letter.retried',
    entityType: 'DeadLetter',
    entityId: row.id,
    details: {
      kind: row.kind,
      flow: row.flow,
      workflowId: row.workflowId,
      previousRunId: row.runId,
      reason: reason ?? null,
      alsoResolved,
      ...outcome,
    },
  });
  return { deadLetter: await getDeadLetter(deps, scope, row.id), retry: outcome };
}

/**
 * Discards a dead letter, marked DISCARDED with who, why and when; nothing is retried. A flow
 * still failing the way the row says (a step still retrying, a status still needing attention) is
 * terminated with the reason. A flow that recovered meanwhile (say an operator assigned the order a
 * vendor through its own action) is left running: only the row is discarded.
 */
export async function discardDeadLetter(
  deps: DeadLetterDeps,
  scope: OperationsScope,
  { actor }: OperationsActor,
  id: string,
  reason: string,
) {
  const row = await findDeadLetter(deps.prisma, scope, id);
  if (row.resolution) throw alreadyResolved(row);
  const run = row.kind !== 'NOTIFICATION_FAILED' && row.runId ? await checkRun(deps, row) : undefined;
  const flowRecovered = run?.status === 'running' && !run.stillFailing;
  const { release, siblings } = await claim(deps.prisma, row, 'DISCARDED', actor, reason, {
    withRunSiblings: !flowRecovered,
  });
  let terminated = false;
  try {
    if (run?.status === 'running' && run.stillFailing) {
      try {
        await deps.temporal.workflow.getHandle(row.workflowId, row.runId!).terminate(reasonForTemporal.discard);
        terminated = true;
      } catch (error) {
        // Closed in the meantime: there is nothing left to stop.
        if (!(error instanceof WorkflowNotFoundError)) throw error;
      }
    }
  } catch (error) {
    await release();
    throw error;
  }
  await auditOperation(deps, row.tenantId, {
    actor,
    action: 'dead-letter.discarded',
    entityType: 'DeadLetter',
    entityId: row.id,
    details: {
      kind: row.kind,
      flow: row.flow,
      workflowId: row.workflowId,
      runId: row.runId,
      reason,
      terminated,
      flowRecovered,
      alsoResolved: siblings,
    },
  });
  return { deadLetter: await getDeadLetter(deps, scope, row.id), terminated };
}
