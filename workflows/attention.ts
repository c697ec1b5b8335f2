import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  TemporalFailure,
} from '@temporalio/workflow';
import { FailureType, FlowRejection } from './errors';
import { localStepOf } from './local-first';
import { timerSummary } from './summaries';

/**
 * What the order and waitlist flows share so that no input and no outage can wedge them: a step
 * that fails for good stops the flow in NEEDS_ATTENTION (and its requests are refused rather than
 * left waiting), and an Update that waits on a step answers within a bound even while the step
 * rides out an outage.
 */

/**
 * The `patched()` IDs of these behaviours. Runs recorded before them replay as they ran (a step
 * that failed for good failed the run; an Update waited as long as its step); runs from then on
 * get them. Keep each ID until no run without its marker is left, then `deprecatePatch` it.
 */
export const FlowPatch = {
  /** A step that fails for good stops the flow in NEEDS_ATTENTION before the run fails. */
  StopForAttention: 'stop-for-attention',
  /** An Update waits at most {@link REQUEST_ANSWER_BOUND} for the step it needs, then answers `pending`. */
  BoundedRequestWaits: 'bounded-request-waits',
  /** A signal carrying data that can never be stored is ignored rather than handed to a step. */
  IgnoreUnstorableSignals: 'ignore-unstorable-signals',
} as const;

/**
 * How long an Update waits for the step that carries it out before it answers `pending`. Below
 * the 60 s that proxies and load balancers commonly allow a request, with room for the API's own
 * reads; a healthy database answers in milliseconds, so only an outage reaches it.
 */
export const REQUEST_ANSWER_BOUND = '30 seconds';

/**
 * The answer to an Update whose request was taken but not yet carried out within
 * {@link REQUEST_ANSWER_BOUND}, e.g. because the database is down and its step is being retried.
 * The flow carries it out once the step succeeds; the flow's state query tells the outcome.
 */
export interface PendingAnswer {
  status: 'pending';
}

export const pending = (): PendingAnswer => ({ status: 'pending' });

export const isPending = (answer: unknown): answer is PendingAnswer =>
  typeof answer === 'object' && answer !== null && (answer as { status?: unknown }).status === 'pending';

/** Whether this run bounds its Updates' waits ({@link FlowPatch.BoundedRequestWaits}); call it in the handler. */
export const boundsRequestWaits = (): boolean => patched(FlowPatch.BoundedRequestWaits);

/**
 * Waits until `done()`, at most {@link REQUEST_ANSWER_BOUND}: true when done, false when the bound
 * passed first. A cancellation of the workflow does not cut the wait short: the flow's clean-up
 * answers it, as it did before the bound existed.
 */
export async function answeredWithin(done: () => boolean): Promise<boolean> {
  const answered = await CancellationScope.nonCancellable(() =>
    condition(done, REQUEST_ANSWER_BOUND, { summary: timerSummary.requestAnswerBound(REQUEST_ANSWER_BOUND) }),
  );
  // Done in the same activation as the bound's end still counts as done.
  return answered || done();
}

/**
 * Waits for `step`, an activity an Update carries out itself, at most {@link REQUEST_ANSWER_BOUND}:
 * answers `{ value }`, rethrows its failure, or answers `undefined` once the bound has passed. The
 * step then carries on; `onLateFailure` hears of a failure that comes after the Update answered.
 */
export async function settledWithin<T>(
  step: Promise<T>,
  onLateFailure: (error: unknown) => void,
): Promise<{ value: T } | undefined> {
  let outcome: { value: T } | { error: unknown } | undefined;
  let answered = false;
  void step.then(
    (value) => {
      outcome = { value };
    },
    (error: unknown) => {
      outcome = { error };
      if (answered) onLateFailure(error);
    },
  );
  await answeredWithin(() => outcome !== undefined);
  // An outcome that came with the bound's end still answers the Update.
  answered = true;
  if (!outcome) return undefined;
  if ('error' in outcome) throw outcome.error;
  return outcome;
}

/** What a failed step reports in a flow's state: the activity, the failure type and its message. */
export interface StepFailure {
  /** The activity that failed, or null when the failure did not come from one. */
  step: string | null;
  type: string;
  message: string;
  at: string;
}

/** Describes a failure for a flow's state query, with the activity's own type and message rather than the wrapper's. */
export function stepFailure(error: unknown, at: string): StepFailure {
  const step = error instanceof ActivityFailure ? (error.activityType ?? null) : (localStepOf(error) ?? null);
  const cause = error instanceof ActivityFailure && error.cause ? error.cause : error;
  if (cause instanceof ApplicationFailure) return { step, type: cause.type ?? 'Error', message: cause.message, at };
  if (cause instanceof Error) return { step, type: cause.name, message: cause.message, at };
  return { step, type: 'Error', message: String(cause), at };
}

/**
 * The Update rejection for an activity's permanent failure that the request itself caused: a
 * DataRejected becomes DATA_REJECTED; another ApplicationFailure keeps its type (e.g. NotFound).
 * Answers undefined for anything else, which the handler should rethrow.
 */
export function rejectionFor(error: unknown, fallbackType: string): ApplicationFailure | undefined {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (!(cause instanceof ApplicationFailure)) return undefined;
  const type = cause.type === FailureType.DataRejected ? FlowRejection.DataRejected : (cause.type ?? fallbackType);
  return ApplicationFailure.create({ type, message: cause.message, nonRetryable: true });
}

/** A step of the stop that puts things back in order (e.g. releasing an open hold); one that fails too is logged and skipped. */
export interface CleanUp {
  /** For the log, e.g. 'releasing the open hold'. */
  what: string;
  run: () => Promise<unknown>;
}

/**
 * A flow's NEEDS_ATTENTION stop: once a step failed for good the flow records why, puts what it
 * can back in order, refuses every request with NEEDS_ATTENTION, and fails with `NeedsAttention`.
 * It keeps the failure on the flow's own state object, so the state query shows it.
 */
export class AttentionStop {
  /**
   * @param subject the flow in messages, e.g. 'The order'.
   * @param fallbackStep names the failure when it came from no activity, e.g. 'order routing'.
   * @param state the flow's state; its `failure` is set when the flow stops.
   */
  constructor(
    private readonly subject: string,
    private readonly fallbackStep: string,
    private readonly state: { failure: StepFailure | null },
  ) {}

  get stopped(): boolean {
    return this.state.failure !== null;
  }

  /** `<step> failed: <message>`, once stopped. */
  get reason(): string {
    const failure = this.state.failure;
    return failure ? `${failure.step ?? this.fallbackStep} failed: ${failure.message}` : '';
  }

  /** The Update rejection (NEEDS_ATTENTION) for a request once the flow stopped. */
  refusal(): ApplicationFailure {
    return ApplicationFailure.create({
      type: FlowRejection.NeedsAttention,
      message: `${this.subject} needs attention: ${this.reason}`,
      nonRetryable: true,
    });
  }

  /** For validators: once stopped, every request is refused with NEEDS_ATTENTION. */
  refuseWhenStopped(): void {
    if (this.stopped) throw this.refusal();
  }

  /**
   * Whether `error`, escaping the flow's steps, stops it for attention. A cancellation keeps its
   * own clean-up, and an error that is no Temporal failure is a bug in the workflow code: it fails
   * the workflow task, so a fixed worker carries on. Runs recorded before the stop existed fail as
   * they did ({@link FlowPatch.StopForAttention}).
   */
  catches(error: unknown): error is TemporalFailure {
    return !isCancellation(error) && error instanceof TemporalFailure && patched(FlowPatch.StopForAttention);
  }

  /**
   * Stops the flow: records the failure, lets `onStop` set the flow's status (the reason is
   * ready by then), runs `cleanUps` in order, waits for the running handlers (they see the stop
   * and answer), and answers the `NeedsAttention` failure the workflow then fails with. It runs
   * non-cancellable, so a cancellation cannot cut the clean-up short.
   */
  stop(error: TemporalFailure, onStop: (reason: string) => void, cleanUps: CleanUp[]): Promise<ApplicationFailure> {
    return CancellationScope.nonCancellable(async () => {
      const failure = stepFailure(error, new Date().toISOString());
      this.state.failure = failure;
      onStop(this.reason);
      log.error(`${this.subject} stopped on a failure no retry can fix`, { step: failure.step, type: failure.type });
      for (const { what, run } of cleanUps) {
        try {
          await run();
        } catch (cleanUpError) {
          log.error(`${this.subject} stopped, and ${what} failed too`, { type: stepFailure(cleanUpError, '').type });
        }
      }
      await condition(allHandlersFinished);
      return ApplicationFailure.create({
        type: FailureType.NeedsAttention,
        message: this.reason,
        details: [failure],
        cause: error,
      });
    });
  }
}
