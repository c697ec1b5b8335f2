import { ActivityCancellationType, type ActivityOptions } from '@temporalio/workflow';
import { taskQueueFor, type TaskQueueKind } from '../lib/task-queues';
import { PermanentFailures } from './errors';

/**
 * Retry profiles more than one flow uses, each with the reason for its retries. A flow whose steps
 * need another reason (onboarding's saga unwinds rather than wait for hours) declares its own.
 */

/**
 * Database writes retry until the database is back: giving up would strand a record mid-change,
 * and every write is idempotent. Retries stay at most a minute apart, so a write resumes soon
 * after an outage ends. Data the database refuses (DataRejected) would fail the same way forever,
 * so it is never retried: the flow stops in NEEDS_ATTENTION instead.
 */
export const untilTheDatabaseAnswers = {
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    nonRetryableErrorTypes: PermanentFailures.step,
  },
} satisfies ActivityOptions;

/**
 * Messages: 1 s, 2 s, 4 s, 8 s, then give up (5 attempts), and never retry what cannot succeed
 * (an invalid recipient, a provider's refusal). The notification ledger keeps a retry from
 * sending twice.
 */
export const fiveMessageAttempts = {
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumAttempts: 5,
    nonRetryableErrorTypes: PermanentFailures.message,
  },
} satisfies ActivityOptions;

/**
 * The activity that writes a report's or an export's file, on the kind's own task queue next to
 * the flow's (`base`). It heartbeats: 30 s of silence means the worker is gone, so the attempt is
 * retried elsewhere. A cancellation waits for the writer to acknowledge it, so the partial file
 * is gone before the row says CANCELLED. Each kind brings its attempt's time and its retries.
 */
export function fileWriting(
  base: string,
  kind: Extract<TaskQueueKind, 'reports' | 'exports'>,
  attempt: Required<Pick<ActivityOptions, 'startToCloseTimeout' | 'retry'>>,
) {
  return {
    taskQueue: taskQueueFor(base, kind),
    startToCloseTimeout: attempt.startToCloseTimeout,
    heartbeatTimeout: '30 seconds',
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: attempt.retry,
  } satisfies ActivityOptions;
}
