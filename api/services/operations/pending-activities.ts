import type { Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { anyOf, scopeClause } from './visibility-query';
import type { OperationsScope } from './scope';
import {
  holdfastAttributes,
  isoTime,
  readablePendingActivities,
  summarizeFailure,
  type FailureSummary,
} from './temporal-records';

/**
 * Which running flows have a step being retried. Visibility cannot say (an activity's attempt is
 * not a search attribute), so running flows are described one by one: bounded, so the cost of a
 * stats or dead-letter answer stays the same however many flows run.
 */

/** At most this many running flows are described per scan. */
export const RETRY_SCAN_LIMIT = 200;
/** Describes in flight at once. */
export const RETRY_SCAN_CONCURRENCY = 8;

type RawPendingActivity = proto.api.workflow.v1.IPendingActivityInfo;

const ActivityState = proto.api.enums.v1.PendingActivityState;
const activityStates: Record<number, string> = {
  [ActivityState.PENDING_ACTIVITY_STATE_SCHEDULED]: 'scheduled',
  [ActivityState.PENDING_ACTIVITY_STATE_STARTED]: 'started',
  [ActivityState.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED]: 'cancel-requested',
  [ActivityState.PENDING_ACTIVITY_STATE_PAUSED]: 'paused',
  [ActivityState.PENDING_ACTIVITY_STATE_PAUSE_REQUESTED]: 'pause-requested',
};

export interface PendingActivity {
  activityId: string;
  activityType: string;
  attempt: number;
  /** 0 means no limit. */
  maximumAttempts: number;
  state: string;
  lastFailure: FailureSummary | null;
  lastAttemptCompleteTime: string | null;
  nextAttemptScheduleTime: string | null;
  lastHeartbeatTime: string | null;
}

export function presentPendingActivity(raw: RawPendingActivity): PendingActivity {
  return {
    activityId: raw.activityId ?? '',
    activityType: raw.activityType?.name ?? '',
    attempt: raw.attempt ?? 1,
    maximumAttempts: raw.maximumAttempts ?? 0,
    state: activityStates[raw.state ?? 0] ?? 'unknown',
    lastFailure: summarizeFailure(raw.lastFailure),
    lastAttemptCompleteTime: isoTime(raw.lastAttemptCompleteTime),
    nextAttemptScheduleTime: isoTime(raw.nextAttemptScheduleTime),
    lastHeartbeatTime: isoTime(raw.lastHeartbeatTime),
  };
}

/** A running flow with a step on attempt `minAttempt` or more. */
export interface RetryingFlow {
  workflowId: string;
  runId: string;
  workflowType: string;
  tenantId: string | null;
  businessKey: string | null;
  flowStatus: string | null;
  startTime: string | null;
  /** The step on the highest attempt. */
  activity: PendingActivity;
}

export interface RetryScan {
  flows: RetryingFlow[];
  /** Running flows described. */
  scanned: number;
  /** Whether more flows ran than were described. */
  capped: boolean;
  visibilityCalls: number;
  describeCalls: number;
}

/** Runs `work` over `items` with at most `concurrency` at once, answers in the items' order. */
export async function mapConcurrently<T, R>(
  items: T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  return results;
}

/**
 * Describes up to {@link RETRY_SCAN_LIMIT} running flows of the scope (of `workflowTypes`, when
 * given), answering those with a pending step on attempt `minAttempt` or more.
 */
export async function scanRetryingFlows(
  temporal: Client,
  scope: OperationsScope,
  minAttempt: number,
  { workflowTypes, limit = RETRY_SCAN_LIMIT }: { workflowTypes?: readonly string[]; limit?: number } = {},
): Promise<RetryScan> {
  const clauses = [scopeClause(scope), 'ExecutionStatus = "Running"'];
  if (workflowTypes && workflowTypes.length > 0) clauses.push(anyOf('WorkflowType', workflowTypes));
  const running: Array<{ workflowId: string; runId: string }> = [];
  let visibilityCalls = 0;
  let capped = false;
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await temporal.workflowService.listWorkflowExecutions({
      namespace: temporal.options.namespace,
      query: clauses.join(' AND '),
      pageSize: Math.min(100, limit + 1),
      nextPageToken,
    });
    visibilityCalls++;
    for (const execution of page.executions ?? []) {
      if (running.length >= limit) {
        capped = true;
        break;
      }
      running.push({ workflowId: execution.execution?.workflowId ?? '', runId: execution.execution?.runId ?? '' });
    }
    nextPageToken = page.nextPageToken && page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
    if (nextPageToken && running.length >= limit) capped = true;
  } while (nextPageToken && !capped);

  const described = await mapConcurrently(running, RETRY_SCAN_CONCURRENCY, async ({ workflowId, runId }) => {
    try {
      return await temporal.workflowService.describeWorkflowExecution({
        namespace: temporal.options.namespace,
        execution: { workflowId, runId },
      });
    } catch {
      // Closed and gone between the list and the describe: nothing pending any more.
      return undefined;
    }
  });
  const flows: RetryingFlow[] = [];
  for (const description of described) {
    const info = description?.workflowExecutionInfo;
    if (!description || !info) continue;
    const worst = (description.pendingActivities ?? []).reduce<RawPendingActivity | undefined>(
      (highest, activity) => (!highest || (activity.attempt ?? 1) > (highest.attempt ?? 1) ? activity : highest),
      undefined,
    );
    if (!worst || (worst.attempt ?? 1) < minAttempt) continue;
    const workflowId = info.execution?.workflowId ?? '';
    // Only the step shown has its failure decrypted: one codec call per retrying flow, none for the others.
    const [readable] = await readablePendingActivities(temporal, workflowId, [worst]);
    const attributes = holdfastAttributes(info.searchAttributes?.indexedFields);
    flows.push({
      workflowId,
      runId: info.execution?.runId ?? '',
      workflowType: info.type?.name ?? '',
      ...attributes,
      startTime: isoTime(info.startTime),
      activity: presentPendingActivity(readable!),
    });
  }
  return { flows, scanned: running.length, capped, visibilityCalls, describeCalls: running.length };
}
