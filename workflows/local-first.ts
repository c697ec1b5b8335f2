import {
  ActivityFailure,
  ApplicationFailure,
  isCancellation,
  log,
  proxyActivities,
  proxyLocalActivities,
  type ActivityInterfaceFor,
  type ActivityOptions,
  type RetryPolicy,
} from '@temporalio/workflow';

/**
 * A step tried once as a local activity, in the worker that runs the workflow task, and queued only
 * when that attempt fails in a way a retry could fix. A healthy write then costs no dispatch, no
 * server write of its own and no further workflow task: the task goes on with its result. A write
 * that meets an outage becomes an ordinary queued activity with its flow's retry policy: the server
 * retries it, the workflow task is not held open meanwhile, and operators see it where they see
 * every retrying step (the Web UI's pending activities, the dead-letter inbox).
 *
 * Only for short, idempotent steps: a local attempt lost with its worker is run again, and a local
 * attempt that timed out may still be running when the queued one starts.
 */

/** The step each local attempt's failure came from, for {@link localStepOf}. */
const stepOfFailure = new WeakMap<object, string>();

/**
 * The step a failure that a local attempt let through came from. A queued activity's failure arrives
 * wrapped in an ActivityFailure that names its activity; a local activity's arrives bare, and a flow
 * stopped for attention must still say which step failed.
 */
export function localStepOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? stepOfFailure.get(error) : undefined;
}

/** Whether a local attempt's failure must reach the flow as it is: a cancellation, or a failure no retry can fix. */
function passesThrough(error: unknown, nonRetryableErrorTypes: readonly string[]): boolean {
  if (isCancellation(error)) return true;
  // Today a local activity's failure arrives bare; were it wrapped as a queued one's is, its cause decides.
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return (
    cause instanceof ApplicationFailure &&
    (cause.nonRetryable || (typeof cause.type === 'string' && nonRetryableErrorTypes.includes(cause.type)))
  );
}

type Step = ((...args: unknown[]) => Promise<unknown>) & {
  executeWithOptions(options: ActivityOptions, args: unknown[]): Promise<unknown>;
};

/**
 * The activities of `A` as local-first steps: one local attempt within the queued options'
 * `startToCloseTimeout`, then, on a failure a retry could fix, the same call queued with `options`.
 * A call's own `summary` names both.
 */
export function localFirst<A extends object>(
  options: Pick<ActivityOptions, 'startToCloseTimeout'> & { retry: RetryPolicy },
): ActivityInterfaceFor<A> {
  const nonRetryableErrorTypes: string[] = [...(options.retry.nonRetryableErrorTypes ?? [])];
  // The queued step's timeout, one attempt, and the same failures that no retry can fix.
  const local = proxyLocalActivities<A>({
    ...options,
    retry: { maximumAttempts: 1, nonRetryableErrorTypes },
  }) as unknown as Record<string, Step>;
  const queued = proxyActivities<A>(options) as unknown as Record<string, Step>;
  const run = async (activityType: string, callOptions: ActivityOptions, args: unknown[]) => {
    try {
      // A local activity takes its summary from the call; the rest of the call's options are the queue's.
      const { summary } = callOptions;
      return await local[activityType]!.executeWithOptions(summary === undefined ? {} : { summary }, args);
    } catch (error) {
      if (!passesThrough(error, nonRetryableErrorTypes)) {
        // An outage, most likely; anything else queued here (e.g. an activity this worker lacks) shows in this line.
        log.warn('A write failed in the worker and is queued with its retries', {
          activityType,
          failure: error instanceof Error ? error.name : typeof error,
        });
        return queued[activityType]!.executeWithOptions(callOptions, args);
      }
      if (typeof error === 'object' && error !== null) stepOfFailure.set(error, activityType);
      throw error;
    }
  };
  return new Proxy(
    {},
    {
      get(_target, activityType) {
        if (typeof activityType !== 'string') return undefined;
        return Object.assign((...args: unknown[]) => run(activityType, {}, args), {
          executeWithOptions: (callOptions: ActivityOptions, args: unknown[]) => run(activityType, callOptions, args),
        });
      },
    },
  ) as ActivityInterfaceFor<A>;
}
