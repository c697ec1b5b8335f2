import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { ReminderStepSpec, StepRecord } from '../domain/reminder-plan';
import { tenantWorkPriority, type TenantFairness } from '../domain/tenant-fairness';
import { WorkPriority } from '../domain/work-priority';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from './search-attributes';
import { reminderSequenceMetadata, summaryMemo } from './summaries';

/**
 * The reminder sequence's contract: its input, state and result, the messages callers send it, the
 * codes its Updates reject with, its workflow ID and the options every start uses.
 */

/** One sequence per reminder row; the ID holds only the tenant and the row's UUID. */
export function reminderSequenceId(tenantId: string, reminderId: string): string {
  return `reminder:${tenantId}:${reminderId}`;
}

/**
 * How creating a reminder starts its sequence (the task queue comes from configuration): a repeat
 * while it runs joins it, and a closed sequence is never run again.
 */
export function reminderSequenceStartOptions(
  tenantId: string,
  reminderId: string,
  fairness?: TenantFairness,
  about: { subjectType?: string; subjectId?: string; dueAt?: string; steps?: number } = {},
) {
  const metadata = reminderSequenceMetadata({ tenantId, reminderId, ...about });
  return {
    workflowId: reminderSequenceId(tenantId, reminderId),
    ...metadata,
    // Kept for the runs after a continue-as-new, which cannot carry the static summary.
    memo: summaryMemo(metadata),
    // Reminders are notifications on a plan: normal.
    priority: tenantWorkPriority(WorkPriority.normal, tenantId, fairness),
    workflowIdConflictPolicy: 'USE_EXISTING' as const,
    workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
    typedSearchAttributes: [
      { key: TenantIdKey, value: tenantId },
      { key: BusinessKeyKey, value: reminderId },
      { key: FlowStatusKey, value: 'ACTIVE' },
    ],
  };
}

/** Why the sequence refused a request: the codes its Updates reject with (409, or 400 for INVALID_DUE_AT). */
export const ReminderRejection = {
  /** The sequence was completed, or has sent its last step. */
  Closed: 'REMINDER_CLOSED',
  /** A due date that is no ISO-8601 instant, or lies outside the dates the API accepts. */
  InvalidDueAt: 'INVALID_DUE_AT',
  /** `sendNextReminderNow`: no step is waiting for its time (the sequence is closed, or every step went out). */
  NoStepScheduled: 'NO_STEP_SCHEDULED',
} as const;
export type ReminderRejection = (typeof ReminderRejection)[keyof typeof ReminderRejection];

/**
 * ACTIVE: steps are still to go out. COMPLETED: someone completed it (settled, paid). FINISHED: it
 * sent or skipped its last step. CANCELLED: its workflow was cancelled.
 */
export type SequenceStatus = 'ACTIVE' | 'COMPLETED' | 'FINISHED' | 'CANCELLED';

/** What `getReminderState` answers. */
export interface ReminderState {
  tenantId: string;
  reminderId: string;
  status: SequenceStatus;
  dueAt: string;
  /** Every step, in sending order, with what became of it. */
  steps: StepRecord[];
  /** Why it was completed, once it was. */
  closedReason: string | null;
  completedAt: string | null;
  startedAt: string;
}

/** State handed from one run to the next by continue-as-new. */
export interface CarriedSequence {
  dueAt: string;
  steps: StepRecord[];
  startedAt: string;
  /**
   * The step an operator asked to send now, when the run continued as new before sending it: the
   * next run sends it without waiting. Absent in runs carried before it was kept.
   */
  dueNowKey?: string;
}

/**
 * IDs and the plan's inputs only: the recipient, the template and its data stay in the Reminder
 * row, which the activities read, so the workflow's history holds no personal data.
 */
export interface ReminderSequenceInput {
  tenantId: string;
  reminderId: string;
  dueAt: string;
  steps: ReminderStepSpec[];
  notifyOnCreate: boolean;
  /** When the reminder was created (ISO-8601): steps before it are skipped, not sent in a burst. */
  createdAt: string;
  /** Set by continue-as-new only. */
  carried?: CarriedSequence;
}

export interface ReminderSequenceResult {
  status: Exclude<SequenceStatus, 'ACTIVE'>;
  sent: number;
  skipped: number;
  failed: number;
  cancelled: number;
}

export interface CompleteReminderInput {
  /** Why, e.g. "settled" (at most 500 characters). */
  reason?: string;
  /** Who asked, for the audit log. */
  actor: string;
}

export interface CompleteReminderResult {
  status: 'COMPLETED';
  completedAt: string;
}

export interface MoveDueAtInput {
  dueAt: string;
  actor: string;
}

/** `pending`: the new due date is in force, but writing it to the row did not finish in time. */
export interface MoveDueAtResult {
  dueAt: string;
  steps: StepRecord[];
  status?: 'pending';
}

/** The sequence's state: its due date and every step, sent, skipped or scheduled. */
export const getReminderStateQuery = defineQuery<ReminderState>('getReminderState');

/**
 * Completes the sequence at once: no step that has not started sending is sent, the row becomes
 * COMPLETED and `reminder.completed` is published. Rejected with REMINDER_CLOSED once completed or
 * finished, INVALID_INPUT for a reason or actor that cannot be stored.
 */
export const completeReminderUpdate = defineUpdate<CompleteReminderResult, [CompleteReminderInput]>('complete');

/**
 * Moves the due date and re-plans every step not yet sent (a step already sent keeps its record and
 * is not sent again; one whose new instant has passed is skipped). Answers the new plan once the
 * row holds the new date, or `pending` after REQUEST_ANSWER_BOUND while that write is retried.
 * Rejected with REMINDER_CLOSED, INVALID_DUE_AT or INVALID_INPUT; fails with DATA_REJECTED (the
 * plan is unchanged) when the row cannot take the date.
 */
export const moveDueAtUpdate = defineUpdate<MoveDueAtResult, [MoveDueAtInput]>('moveDueAt');

export interface SendNextReminderNowInput {
  /** Who asked (the API's principal), for the audit trail; not personal data. */
  actor: string;
}

export interface SendNextReminderNowResult {
  stepKey: string;
  kind: string;
  /** The instant the step was planned for. */
  scheduledFor: string;
  /** The workflow's time when the Update ran: the step is sent from here. */
  sendAt: string;
}

/**
 * Sends the next scheduled step now instead of at its instant; the steps after it keep theirs.
 * Answers at once with the step. Rejected with NO_STEP_SCHEDULED when the sequence is closed or no
 * step is waiting for its time, INVALID_INPUT for an actor that cannot be stored.
 */
export const sendNextReminderNowUpdate = defineUpdate<SendNextReminderNowResult, [SendNextReminderNowInput]>(
  'sendNextReminderNow',
);
