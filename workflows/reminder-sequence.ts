import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { EARLIEST_DATE, LATEST_DATE } from '../domain/input-rules';
import {
  CREATED_KIND,
  CREATED_STEP_KEY,
  nextScheduled,
  planReminder,
  ReminderPlanError,
  replan,
  type StepRecord,
} from '../domain/reminder-plan';
import { pending, rejectionFor, settledWithin, stepFailure } from './attention';
import { FailureType, PermanentFailures } from './errors';
import {
  completeReminderUpdate,
  getReminderStateQuery,
  moveDueAtUpdate,
  ReminderRejection,
  sendNextReminderNowUpdate,
  type CarriedSequence,
  type CompleteReminderInput,
  type CompleteReminderResult,
  type MoveDueAtInput,
  type MoveDueAtResult,
  type ReminderSequenceInput,
  type ReminderSequenceResult,
  type ReminderState,
  type SendNextReminderNowInput,
  type SendNextReminderNowResult,
  type SequenceStatus,
} from './reminder-sequence.contract';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from './search-attributes';
import {
  activitySummary,
  carriedRunDetails,
  codeLabel,
  finishedDetails,
  reminderSequenceMetadata,
  timerSummary,
  utcDateTime,
} from './summaries';
import { requireStorableText } from './validation';

// Every reminder activity writes to the database (a step records its notification, which the
// notification's own workflow delivers with the provider retries), so each retries until the
// database is back, at most a minute apart; every one is idempotent. What no retry can fix (data
// the database refuses, a reminder row that is gone, no Temporal client) fails at once.
const { sendReminderStep, moveReminderDueAt, closeReminder } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    nonRetryableErrorTypes: PermanentFailures.message,
  },
});

export * from './reminder-sequence.contract';

/** Who closes a sequence that ran out of steps. */
const SEQUENCE_ACTOR = 'system:reminder-sequence';

const now = () => new Date().toISOString();

const reject = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });

/** A sequence's mutable state and the rules that change it; the workflow function runs its phases. */
class ReminderSequence {
  readonly state: ReminderState;
  /** Bumped by each re-plan, so a sleep towards a step that moved wakes up. */
  planVersion = 0;
  /** Set by `complete`: the loop stops before its next step. */
  completion: { reason: string | null; actor: string } | undefined;
  /**
   * True from the moment a due-date move starts writing the row until that write settles (even
   * after a `pending` answer): moves run one at a time, so the rows commit in the order the plan
   * follows them, and the last move accepted is the date both end with.
   */
  private moving = false;
  /** The step an operator asked to send now (`sendNextReminderNow`): the loop sends it without waiting. */
  private dueNowKey: string | undefined;
  /** Why the reminder's steps cannot be planned; only a caller that bypassed the API's validation gets one. */
  unplannable: string | undefined;

  constructor(private readonly input: ReminderSequenceInput) {
    const { tenantId, reminderId, carried } = input;
    this.dueNowKey = carried?.dueNowKey;
    this.state = {
      tenantId,
      reminderId,
      status: 'ACTIVE',
      dueAt: carried?.dueAt ?? input.dueAt,
      steps: carried?.steps ?? [],
      closedReason: null,
      completedAt: null,
      startedAt: carried?.startedAt ?? now(),
    };
  }

  get ref() {
    return { tenantId: this.state.tenantId, reminderId: this.state.reminderId };
  }

  get isOpen(): boolean {
    return this.state.status === 'ACTIVE' && this.unplannable === undefined;
  }

  closedRejection(): ApplicationFailure {
    const why =
      this.unplannable === undefined ? this.state.status.toLowerCase() : 'closing: its steps cannot be planned';
    return reject(ReminderRejection.Closed, `The reminder is ${why}`);
  }

  setStatus(status: SequenceStatus): void {
    this.state.status = status;
    upsertSearchAttributes([{ key: FlowStatusKey, value: status }]);
    if (status !== 'ACTIVE') this.show(finishedDetails(status));
  }

  /** Current details, after the sequence's summary on a run carried over by continue-as-new (which has none). */
  show(details: string): void {
    const { tenantId, reminderId, dueAt, carried } = this.input;
    setCurrentDetails(
      carriedRunDetails(
        carried !== undefined,
        workflowInfo().memo,
        reminderSequenceMetadata({ tenantId, reminderId, dueAt }).staticSummary,
        details,
      ),
    );
  }

  /** `step` as the Web UI names it: its place in the plan and its kind. */
  stepNumber(step: StepRecord): number {
    return this.state.steps.findIndex((candidate) => candidate.key === step.key) + 1;
  }

  /** Shows in the Web UI which step waits for which instant. */
  showWaiting(step: StepRecord): void {
    const number = this.stepNumber(step);
    this.show(
      `step ${number} of ${this.state.steps.length} (${codeLabel(step.kind, 'reminderKind')}) due ${utcDateTime(step.at)}; due date ${utcDateTime(this.state.dueAt)}`,
    );
  }

  /**
   * The first plan: steps before the reminder's creation are skipped; `notifyOnCreate` adds a message
   * now. Steps that cannot be planned leave none, and the sequence closes without taking requests.
   */
  planFirst(): void {
    try {
      this.state.steps = this.firstPlan();
    } catch (error) {
      if (!(error instanceof ReminderPlanError)) throw error;
      this.unplannable = error.message;
    }
  }

  private firstPlan(): StepRecord[] {
    const { createdAt, notifyOnCreate, steps } = this.input;
    const created: StepRecord[] = notifyOnCreate
      ? [
          {
            key: CREATED_STEP_KEY,
            kind: CREATED_KIND,
            at: createdAt,
            status: 'scheduled',
            notificationId: null,
            sentAt: null,
            reason: null,
          },
        ]
      : [];
    return replan(created, planReminder(this.state.dueAt, steps), Date.parse(createdAt));
  }

  validateComplete({ reason, actor }: CompleteReminderInput): void {
    if (!this.isOpen) throw this.closedRejection();
    requireStorableText({ actor }, { reason });
  }

  /** Stops the sequence at once: every step not yet sending is cancelled; the loop closes the row. */
  complete({ reason, actor }: CompleteReminderInput): CompleteReminderResult {
    const completedAt = now();
    this.completion = { reason: reason ?? null, actor };
    this.state.closedReason = reason ?? null;
    this.state.completedAt = completedAt;
    this.cancelScheduled();
    this.setStatus('COMPLETED');
    return { status: 'COMPLETED', completedAt };
  }

  validateMove({ dueAt, actor }: MoveDueAtInput): void {
    if (!this.isOpen) throw this.closedRejection();
    requireStorableText({ dueAt, actor });
    const time = Date.parse(dueAt);
    if (Number.isNaN(time) || time < EARLIEST_DATE || time >= LATEST_DATE) {
      throw reject(ReminderRejection.InvalidDueAt, 'dueAt must be an ISO-8601 date-time between 1900 and 2200');
    }
  }

  /**
   * Writes the new due date, then re-plans from it: a step already sent keeps its record, a step
   * whose new instant has passed is skipped. A write still being retried after the bound answers
   * `pending` with the new plan in force; a write refused for good leaves the plan as it was.
   * A move that arrives while another is writing waits for it, then runs (or is refused with
   * REMINDER_CLOSED if the sequence was completed meanwhile).
   */
  async moveDueAt({ dueAt, actor }: MoveDueAtInput): Promise<MoveDueAtResult> {
    // Checked again after each wake: several waiting moves go in the order they were accepted.
    while (this.moving) await condition(() => !this.moving);
    // The status alone, not `isOpen`: validators do not run on replay, and a move an unplannable
    // run accepted in its history must replay with its write. New moves there are refused by the validator.
    if (this.state.status !== 'ACTIVE') throw this.closedRejection();
    const normalised = new Date(Date.parse(dueAt)).toISOString();
    // Set before the first await, so an uncontended move issues the same commands as before.
    this.moving = true;
    const write = moveReminderDueAt({ ...this.ref, dueAt: normalised, actor });
    void write.then(
      () => (this.moving = false),
      () => (this.moving = false),
    );
    let written: { value: void } | undefined;
    try {
      written = await settledWithin(write, (error) => {
        log.warn('A due date answered pending could not be written; the row keeps its former date', {
          type: stepFailure(error, '').type,
        });
      });
    } catch (error) {
      throw rejectionFor(error, 'DUE_AT_NOT_MOVED') ?? error;
    }
    // Completed while the write ran: there is nothing left to plan.
    if (this.isOpen) {
      this.state.dueAt = normalised;
      this.state.steps = replan(this.state.steps, planReminder(normalised, this.input.steps), Date.now());
      this.planVersion += 1;
    }
    const answer = { dueAt: this.state.dueAt, steps: this.state.steps };
    return written ? answer : { ...answer, ...pending() };
  }

  validateSendNextNow(request: SendNextReminderNowInput | undefined): void {
    if (!this.isOpen || !nextScheduled(this.state.steps)) {
      throw reject(ReminderRejection.NoStepScheduled, 'No reminder step is waiting for its time');
    }
    requireStorableText({ actor: request?.actor });
  }

  /**
   * Makes the next scheduled step due now: the loop's wait wakes on the plan's version and sends
   * it. Its planned instant stays in the state, beside the time it was sent.
   */
  sendNextNow(): SendNextReminderNowResult {
    const step = nextScheduled(this.state.steps)!;
    this.dueNowKey = step.key;
    this.planVersion += 1;
    return { stepKey: step.key, kind: step.kind, scheduledFor: step.at, sendAt: now() };
  }

  /** What the next run takes over by continue-as-new, a step asked for now included. */
  carried(): CarriedSequence {
    const { dueAt, steps, startedAt } = this.state;
    return { dueAt, steps, startedAt, ...(this.dueNowKey !== undefined ? { dueNowKey: this.dueNowKey } : {}) };
  }

  /** Milliseconds until `step` is due: none once an operator asked for it now. */
  waitFor(step: StepRecord): number {
    return step.key === this.dueNowKey ? 0 : Date.parse(step.at) - Date.now();
  }

  /** Sends `step` and records the outcome on the record with its key (a re-plan may have replaced the object). */
  async send(step: StepRecord): Promise<void> {
    step.status = 'sending';
    const { key, kind, at } = step;
    const number = this.stepNumber(step);
    this.show(`sending step ${number} of ${this.state.steps.length} (${codeLabel(kind, 'reminderKind')})`);
    const settle = (changes: Partial<StepRecord>) => {
      const record = this.state.steps.find((candidate) => candidate.key === key);
      if (record) Object.assign(record, changes);
    };
    try {
      const { notificationId } = await sendReminderStep.executeWithOptions(
        { summary: activitySummary.reminderStep(number, this.state.steps.length, kind) },
        [{ ...this.ref, step: { key, kind, at }, dueAt: this.state.dueAt }],
      );
      settle({ status: 'sent', notificationId, sentAt: now() });
    } catch (error) {
      if (isCancellation(error)) throw error;
      // One step that cannot be sent does not hold the others up; the step shows why.
      const failure = stepFailure(error, now());
      log.warn('A reminder step could not be sent', { step: key, type: failure.type });
      settle({ status: 'failed', reason: `${failure.type}: ${failure.message}` });
    }
  }

  cancelScheduled(): void {
    for (const step of this.state.steps) if (step.status === 'scheduled') step.status = 'cancelled';
  }

  /** Writes the outcome to the row and publishes it; a write refused for good fails the workflow, naming it. */
  async close(status: Exclude<SequenceStatus, 'ACTIVE'>): Promise<void> {
    const { reason, actor } = this.completion ?? { reason: this.state.closedReason, actor: SEQUENCE_ACTOR };
    try {
      await closeReminder({ ...this.ref, status, reason, actor, at: now(), steps: this.state.steps });
    } catch (error) {
      if (isCancellation(error)) throw error;
      const failure = stepFailure(error, now());
      throw ApplicationFailure.create({
        type: FailureType.NeedsAttention,
        message: `The reminder ended ${status} but closing its row failed: ${failure.message}`,
        details: [failure],
        cause: error instanceof Error ? error : undefined,
      });
    }
  }

  result(status: Exclude<SequenceStatus, 'ACTIVE'>): ReminderSequenceResult {
    const count = (wanted: StepRecord['status']) => this.state.steps.filter((step) => step.status === wanted).length;
    return {
      status,
      sent: count('sent'),
      skipped: count('skipped'),
      failed: count('failed'),
      cancelled: count('cancelled'),
    };
  }
}

/**
 * Runs one reminder sequence: a message per step at its offset from the due date (durable timers,
 * nothing polls), each through the notification ledger (deduplicated per step) and each announced
 * by a `reminder.sent` event. `notifyOnCreate` sends a first message at once; steps already past
 * when the reminder is created are skipped, not sent in a burst.
 *
 * `complete` stops it at once (the row becomes COMPLETED, `reminder.completed` is published);
 * `moveDueAt` re-plans every step not yet sent. After the last step the row becomes FINISHED and
 * `reminder.finished` is published. A step whose send fails for good is recorded as failed and the
 * sequence goes on; a cancelled workflow closes the row as CANCELLED.
 *
 * The plan is bounded (domain/reminder-plan.ts: at most 50 occurrences), so one run suffices; it
 * continues as new only when the server suggests it (e.g. after very many due-date moves).
 *
 * @param input IDs and the plan's inputs; the recipient and the message data stay in the Reminder row.
 */
export async function reminderSequenceWorkflow(input: ReminderSequenceInput): Promise<ReminderSequenceResult> {
  const sequence = new ReminderSequence(input);
  const { state } = sequence;
  // Planned before any handler is set: the SDK runs an update that came with the start as soon as
  // its handler is set, and a completion or a move must find the plan it changes.
  if (!input.carried) sequence.planFirst();

  setHandler(getReminderStateQuery, () => state);
  setHandler(completeReminderUpdate, (request: CompleteReminderInput) => sequence.complete(request), {
    validator: (request: CompleteReminderInput) => sequence.validateComplete(request),
  });
  setHandler(moveDueAtUpdate, (request: MoveDueAtInput) => sequence.moveDueAt(request), {
    validator: (request: MoveDueAtInput) => sequence.validateMove(request),
  });
  // A new Update, not a change to the wait: without it the loop waits exactly as it always has.
  setHandler(sendNextReminderNowUpdate, () => sequence.sendNextNow(), {
    validator: (request: SendNextReminderNowInput) => sequence.validateSendNextNow(request),
  });

  upsertSearchAttributes([
    { key: TenantIdKey, value: input.tenantId },
    { key: BusinessKeyKey, value: input.reminderId },
    { key: FlowStatusKey, value: state.status },
  ]);

  try {
    if (sequence.unplannable !== undefined) {
      // The row is closed and nothing is sent.
      state.closedReason = `invalid plan: ${sequence.unplannable}`;
      sequence.setStatus('CANCELLED');
      await sequence.close('CANCELLED');
      throw reject(FailureType.DataRejected, `The reminder's steps cannot be planned: ${sequence.unplannable}`);
    }

    for (;;) {
      if (sequence.completion) break;
      if (workflowInfo().continueAsNewSuggested) {
        await condition(allHandlersFinished);
        if (!sequence.completion) {
          return await continueAsNew<typeof reminderSequenceWorkflow>({
            ...input,
            dueAt: state.dueAt,
            carried: sequence.carried(),
          });
        }
        break;
      }
      const next = nextScheduled(state.steps);
      if (!next) break;
      const version = sequence.planVersion;
      const wait = sequence.waitFor(next);
      if (wait > 0) {
        // Wakes at the step's instant, or earlier when the sequence is completed or re-planned.
        sequence.showWaiting(next);
        await condition(() => sequence.completion !== undefined || sequence.planVersion !== version, wait, {
          summary: timerSummary.reminderDue(sequence.stepNumber(next), next.at),
        });
        continue;
      }
      await sequence.send(next);
    }

    const status = sequence.completion ? 'COMPLETED' : 'FINISHED';
    if (status === 'FINISHED') sequence.setStatus('FINISHED');
    await sequence.close(status);
    await condition(allHandlersFinished);
    return sequence.result(status);
  } catch (error) {
    if (!isCancellation(error)) throw error;
    await CancellationScope.nonCancellable(async () => {
      sequence.cancelScheduled();
      sequence.setStatus('CANCELLED');
      state.closedReason = 'the workflow was cancelled';
      await sequence.close('CANCELLED');
    });
    throw error;
  }
}
