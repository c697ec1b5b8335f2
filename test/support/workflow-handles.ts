import { WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal as proto } from '@temporalio/proto';
import { until } from './eventually';

const { EventType } = proto.api.enums.v1;
const workflowTaskEvents = new Set<proto.api.enums.v1.EventType>([
  EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
  EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
  EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
  EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
  EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
]);

/**
 * Waits until the workflow has no pending activity. Cancelling while one completes trips the
 * time-skipping server (it refuses to cancel an activity it just finished).
 */
export async function noActivityRunning(handle: Pick<WorkflowHandle, 'describe'>): Promise<void> {
  await until(async () => ((await handle.describe()).raw.pendingActivities?.length ?? 0) === 0);
}

/**
 * The run's result, read once the run has closed. Awaiting `result()` lets the time-skipping server
 * skip to the run's next timer; were a task that cancels that timer (after a signal, a cancel or a
 * grant) still with the worker, the test server would refuse it ("invalid history builder state
 * for action", temporalio/sdk-java#3088) and the run would never end. Polling `describe` keeps the
 * clock locked, so this suits only a run that closes without waiting for a timer.
 */
export async function resultOnceClosed<R>(
  handle: Pick<WorkflowHandle, 'describe'> & { result(): Promise<R> },
): Promise<R> {
  await until(async () => (await handle.describe()).status.name !== 'RUNNING');
  return handle.result();
}

/**
 * Resolves once the run has started a timer (read from its history). Time skipping fires the
 * earliest deadline first, so of two timers of one length, the one started first fires first: a test
 * that needs one run's timer to come before another's waits for it before starting the other.
 */
export async function timerStarted(handle: Pick<WorkflowHandle, 'fetchHistory'>): Promise<void> {
  await until(async () =>
    ((await handle.fetchHistory()).events ?? []).some((event) => event.timerStartedEventAttributes),
  );
}

/** The rejection (or failure) type of an Update the workflow refused; for tests (it asserts with jest). */
export async function rejectionOf(update: Promise<unknown>): Promise<string | undefined> {
  const error = await update.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (error as WorkflowUpdateFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return (cause as ApplicationFailure).type ?? undefined;
}

/**
 * Leaves no run behind: one left running would hold the shared time-skipping server's clock back.
 * It is terminated only once idle: its last workflow task completed and every activity it scheduled
 * closed, both read from one history so they agree, and none pending on the server. Terminated
 * while a workflow task or activity is open, it can leave the server's time skipping locked for
 * good (every later timer then runs in real time).
 */
export async function terminateWhenIdle(handle: Pick<WorkflowHandle, 'describe' | 'fetchHistory' | 'terminate'>) {
  if ((await handle.describe()).status.name !== 'RUNNING') return;
  await until(async () => {
    const events = (await handle.fetchHistory()).events ?? [];
    const lastTask = events.filter((event) => workflowTaskEvents.has(event.eventType!)).at(-1);
    if (lastTask?.eventType !== EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) return false;
    const closed = new Set(
      events.map((event) => {
        const attributes =
          event.activityTaskCompletedEventAttributes ??
          event.activityTaskFailedEventAttributes ??
          event.activityTaskTimedOutEventAttributes ??
          event.activityTaskCanceledEventAttributes;
        return attributes ? String(attributes.scheduledEventId) : undefined;
      }),
    );
    const everyActivityClosed = events.every(
      (event) => event.eventType !== EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED || closed.has(String(event.eventId)),
    );
    return everyActivityClosed && ((await handle.describe()).raw.pendingActivities?.length ?? 0) === 0;
  });
  await handle.terminate('test over').catch((error: unknown) => {
    // It may have finished on its own meanwhile.
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  });
}
