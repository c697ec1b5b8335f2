import type { Client } from '@temporalio/client';
import type { PayloadConverter, WorkflowSerializationContext } from '@temporalio/common';
import { decodeFailure } from '@temporalio/common/lib/internal-non-workflow';
import { temporal as proto } from '@temporalio/proto';
import {
  PayloadKeyUnknownError,
  PayloadScopeErasedError,
  PayloadScopeUnknownError,
  PayloadTamperedError,
} from '../../../lib/data-converter';
import type { ExecutionStatus } from './visibility-query';

/**
 * Reading what Temporal's service answers (raw protobuf records) into the plain values the
 * operations API shows: statuses, search attributes, failures, times and history events.
 */

/** A protobuf Timestamp or Duration: seconds as a number or a Long. */
interface Seconds {
  seconds?: number | { toNumber(): number } | null;
  nanos?: number | null;
}
type RawFailure = proto.api.failure.v1.IFailure;
type RawPayload = proto.api.common.v1.IPayload;
export type HistoryEvent = proto.api.history.v1.IHistoryEvent;

const Status = proto.api.enums.v1.WorkflowExecutionStatus;
const statusByCode = new Map<number, ExecutionStatus>([
  [Status.WORKFLOW_EXECUTION_STATUS_RUNNING, 'running'],
  [Status.WORKFLOW_EXECUTION_STATUS_COMPLETED, 'completed'],
  [Status.WORKFLOW_EXECUTION_STATUS_FAILED, 'failed'],
  [Status.WORKFLOW_EXECUTION_STATUS_CANCELED, 'cancelled'],
  [Status.WORKFLOW_EXECUTION_STATUS_TERMINATED, 'terminated'],
  [Status.WORKFLOW_EXECUTION_STATUS_TIMED_OUT, 'timed-out'],
  [Status.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW, 'continued-as-new'],
]);

/** The API's name for an execution status code; `unknown` for one this version does not know. */
export function executionStatusName(code: number | null | undefined): ExecutionStatus | 'unknown' {
  return statusByCode.get(code ?? 0) ?? 'unknown';
}

/** Milliseconds in a Timestamp (since the epoch) or a Duration; undefined when absent. */
export function millisecondsOf(value: Seconds | null | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = typeof value.seconds === 'number' ? value.seconds : (value.seconds?.toNumber() ?? 0);
  return seconds * 1000 + Math.floor((value.nanos ?? 0) / 1e6);
}

export function isoTime(timestamp: Seconds | null | undefined): string | null {
  const ms = millisecondsOf(timestamp);
  return ms === undefined ? null : new Date(ms).toISOString();
}

/** A keyword search attribute's value (the first, for a list), or null when the run has none. */
export function keywordAttribute(
  fields: Record<string, RawPayload> | null | undefined,
  name: 'TenantId' | 'BusinessKey' | 'FlowStatus',
): string | null {
  const data = fields?.[name]?.data;
  if (!data || data.length === 0) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(data).toString('utf8'));
    const first = Array.isArray(value) ? (value[0] as unknown) : value;
    return typeof first === 'string' ? first : null;
  } catch {
    return null;
  }
}

/** The TenantId, BusinessKey and FlowStatus a run carries. */
export function holdfastAttributes(fields: Record<string, RawPayload> | null | undefined) {
  return {
    tenantId: keywordAttribute(fields, 'TenantId'),
    businessKey: keywordAttribute(fields, 'BusinessKey'),
    flowStatus: keywordAttribute(fields, 'FlowStatus'),
  };
}

export interface FailureSummary {
  type: string;
  message: string;
}

/** A failure's own type: the application's failure type, else the kind of failure it is. */
function failureType(failure: RawFailure): string {
  if (failure.applicationFailureInfo) return failure.applicationFailureInfo.type || 'Error';
  if (failure.timeoutFailureInfo) return 'Timeout';
  if (failure.canceledFailureInfo) return 'Cancelled';
  if (failure.terminatedFailureInfo) return 'Terminated';
  if (failure.serverFailureInfo) return 'ServerFailure';
  if (failure.activityFailureInfo) return 'ActivityFailure';
  if (failure.childWorkflowExecutionFailureInfo) return 'ChildWorkflowFailure';
  return 'Error';
}

/**
 * What an operator needs of a failure: its type and message. The wrappers Temporal puts around
 * an activity's or a child's failure ("Activity task failed") are looked through to the cause.
 */
export function summarizeFailure(failure: RawFailure | null | undefined): FailureSummary | null {
  let current = failure;
  if (!current) return null;
  while ((current.activityFailureInfo || current.childWorkflowExecutionFailureInfo) && current.cause) {
    current = current.cause;
  }
  return { type: failureType(current), message: current.message ?? '' };
}

/**
 * A failure as the flow threw it, for the raw records the service answers (a history event, a
 * pending step's last failure). Failures travel with their message and stack trace in an encrypted
 * payload ("Encoded failure" in clear, lib/failure-converter.ts): they are decrypted through the
 * client's codec and put back at every level of the cause chain. A failure whose key is gone (an
 * erased tenant, a key retired from PAYLOAD_KEYS) says so in its message rather than failing the answer.
 */
export async function readableFailure(
  temporal: Client,
  workflowId: string,
  failure: RawFailure | null | undefined,
): Promise<RawFailure | null | undefined> {
  if (!failure) return failure;
  const converter = temporal.options.loadedDataConverter;
  const context: WorkflowSerializationContext = { type: 'workflow', namespace: temporal.options.namespace, workflowId };
  try {
    const decoded = (await decodeFailure(converter.payloadCodecs, failure, context)) as RawFailure;
    return withClearAttributes(decoded, converter.payloadConverter);
  } catch (error) {
    if (!isPayloadUnreadable(error)) throw error;
    return withUnreadableAttributes(failure, `The failure's message is encrypted and cannot be read: ${error.message}`);
  }
}

/**
 * Whether decoding failed for a reason of the payload itself (its key erased, retired or unknown, its
 * ciphertext altered): what an answer can say and go on. Anything else (PostgreSQL unreachable for
 * the salts) is the request's failure, for the error middleware, and its text stays out of answers.
 */
export function isPayloadUnreadable(
  error: unknown,
): error is PayloadKeyUnknownError | PayloadScopeErasedError | PayloadScopeUnknownError | PayloadTamperedError {
  return (
    error instanceof PayloadKeyUnknownError ||
    error instanceof PayloadScopeErasedError ||
    error instanceof PayloadScopeUnknownError ||
    error instanceof PayloadTamperedError
  );
}

/** Puts each level's decoded message and stack trace back where the failure converter took them from. */
function withClearAttributes(failure: RawFailure, converter: PayloadConverter): RawFailure {
  const restored: RawFailure = { ...failure, cause: failure.cause && withClearAttributes(failure.cause, converter) };
  if (!failure.encodedAttributes) return restored;
  let attributes: unknown;
  try {
    attributes = converter.fromPayload(failure.encodedAttributes);
  } catch {
    return restored;
  }
  const { message, stack_trace: stackTrace } = (attributes ?? {}) as { message?: unknown; stack_trace?: unknown };
  if (typeof message === 'string') restored.message = message;
  if (typeof stackTrace === 'string') restored.stackTrace = stackTrace;
  return { ...restored, encodedAttributes: null };
}

function withUnreadableAttributes(failure: RawFailure, message: string): RawFailure {
  return {
    ...failure,
    message: failure.encodedAttributes ? message : failure.message,
    cause: failure.cause && withUnreadableAttributes(failure.cause, message),
  };
}

/** A run's pending steps with their last failures readable (see {@link readableFailure}). */
export function readablePendingActivities<Activity extends { lastFailure?: RawFailure | null }>(
  temporal: Client,
  workflowId: string,
  pending: Activity[] | null | undefined,
): Promise<Activity[]> {
  return Promise.all(
    (pending ?? []).map(async (activity) =>
      activity.lastFailure
        ? { ...activity, lastFailure: await readableFailure(temporal, workflowId, activity.lastFailure) }
        : activity,
    ),
  );
}

/**
 * A run's history, page by page: the whole of it, or with `closeEventOnly` just the event that
 * closed it (one small read, for a closed run's failure).
 */
export async function readHistory(
  temporal: Client,
  execution: { workflowId: string; runId?: string | null },
  { closeEventOnly = false }: { closeEventOnly?: boolean } = {},
): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await temporal.workflowService.getWorkflowExecutionHistory({
      namespace: temporal.options.namespace,
      execution: { workflowId: execution.workflowId, runId: execution.runId ?? undefined },
      nextPageToken,
      historyEventFilterType: closeEventOnly
        ? proto.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT
        : proto.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT,
    });
    events.push(...(page.history?.events ?? []));
    nextPageToken = page.nextPageToken && page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return events;
}

/** The failure that closed a run, from its close event (failed or timed out); null for other endings. */
export async function closeFailure(
  temporal: Client,
  workflowId: string,
  closeEvent: HistoryEvent | undefined,
): Promise<FailureSummary | null> {
  if (!closeEvent) return null;
  if (closeEvent.workflowExecutionFailedEventAttributes) {
    return summarizeFailure(
      await readableFailure(temporal, workflowId, closeEvent.workflowExecutionFailedEventAttributes.failure),
    );
  }
  if (closeEvent.workflowExecutionTimedOutEventAttributes) {
    return { type: 'Timeout', message: 'The workflow ran out of time (its run or execution timeout)' };
  }
  return null;
}

export const eventId = (event: HistoryEvent): number => Number(event.eventId ?? 0);

/** Timers started and neither fired nor cancelled: the timers a running flow waits on, soonest first. */
export function pendingTimers(events: HistoryEvent[]): Array<{ timerId: string; firesAt: string | null }> {
  const open = new Map<string, { timerId: string; firesAt: string | null; firesAtMs: number }>();
  for (const event of events) {
    const started = event.timerStartedEventAttributes;
    if (started?.timerId) {
      const startedAt = millisecondsOf(event.eventTime);
      const firesAtMs = startedAt === undefined ? NaN : startedAt + (millisecondsOf(started.startToFireTimeout) ?? 0);
      open.set(started.timerId, {
        timerId: started.timerId,
        firesAt: Number.isFinite(firesAtMs) ? new Date(firesAtMs).toISOString() : null,
        firesAtMs,
      });
    }
    const ended = event.timerFiredEventAttributes?.timerId ?? event.timerCanceledEventAttributes?.timerId;
    if (ended) open.delete(ended);
  }
  return [...open.values()]
    .sort((a, b) => (a.firesAtMs || 0) - (b.firesAtMs || 0))
    .map(({ timerId, firesAt }) => ({ timerId, firesAt }));
}

/**
 * The step (activity) whose failure closed the run, by its ActivityTaskScheduled event ID: the
 * failure the run failed with, looked through to an activity's failure among its causes. Undefined
 * when the run did not fail, or failed for another reason (its own code, a child, a timeout).
 */
export function failedStepThatClosedRun(events: HistoryEvent[]): number | undefined {
  let failure = events.at(-1)?.workflowExecutionFailedEventAttributes?.failure;
  while (failure) {
    const scheduledId = Number(failure.activityFailureInfo?.scheduledEventId ?? 0);
    if (scheduledId > 0) return scheduledId;
    failure = failure.cause;
  }
  return undefined;
}

/**
 * Where a reset of the run starts over (a WorkflowTaskCompleted event ID):
 * - `first`: the first workflow task, so the whole run is played again;
 * - `last`: the last workflow task, except when the run failed because a step (activity) failed
 *   for good: then the task that scheduled that step, so the step runs again rather than its
 *   failure being replayed into the same ending. A step that failed earlier and that the flow
 *   handled (an unreachable candidate, a vendor fallback) does not move the point: going back
 *   before the steps that succeeded after it would send their offers and emails again.
 */
export function resetPoint(events: HistoryEvent[], to: 'first' | 'last'): number | undefined {
  const completed = events.filter((event) => event.workflowTaskCompletedEventAttributes).map(eventId);
  if (to === 'first') return completed[0];
  const failedStep = failedStepThatClosedRun(events);
  if (failedStep !== undefined) {
    const scheduled = events.find((event) => eventId(event) === failedStep);
    const scheduledBy = Number(scheduled?.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId ?? 0);
    if (scheduledBy > 0) return scheduledBy;
  }
  return completed.at(-1);
}

/**
 * Where a run that completed needing attention starts over: the workflow task that scheduled the
 * last step (activity) that failed for good or timed out, so that step runs again instead of its
 * failure being replayed into the same ending. Undefined when no step failed (the flow stopped on
 * its own account): only a new run with the same input can try again then.
 */
export function lastFailedStepResetPoint(events: HistoryEvent[]): number | undefined {
  const lastFailed = [...events]
    .reverse()
    .find((event) => event.activityTaskFailedEventAttributes || event.activityTaskTimedOutEventAttributes);
  const scheduledId = Number(
    lastFailed?.activityTaskFailedEventAttributes?.scheduledEventId ??
      lastFailed?.activityTaskTimedOutEventAttributes?.scheduledEventId ??
      0,
  );
  if (scheduledId <= 0) return undefined;
  const scheduled = events.find((event) => eventId(event) === scheduledId);
  const scheduledBy = Number(scheduled?.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId ?? 0);
  return scheduledBy > 0 ? scheduledBy : undefined;
}

/** Links into the Temporal Web UI (TEMPORAL_UI_URL), for the same facts the API shows. */
export function webUiLinks(uiUrl: string, namespace: string) {
  const base = `${uiUrl}/namespaces/${encodeURIComponent(namespace)}`;
  return {
    workflow: (workflowId: string, runId?: string | null) =>
      runId
        ? `${base}/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/history`
        : `${base}/workflows/${encodeURIComponent(workflowId)}`,
    list: (query: string) => `${base}/workflows?query=${encodeURIComponent(query)}`,
  };
}
