import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { until } from './eventually';

/**
 * Waits until the workflow has no pending activity. Cancelling while one completes trips the
 * time-skipping server (it refuses to cancel an activity it just finished).
 */
export async function noActivityRunning(handle: Pick<WorkflowHandle, 'describe'>): Promise<void> {
  await until(async () => ((await handle.describe()).raw.pendingActivities?.length ?? 0) === 0);
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
