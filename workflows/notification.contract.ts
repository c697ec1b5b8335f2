import { defineQuery, defineUpdate } from '@temporalio/workflow';
import { DEFAULT_NOTIFICATION_PRIORITY } from '../domain/notification-priority';
import type { NotificationChannel } from '../domain/notifications';
import { tenantWorkPriority, type TenantFairness } from '../domain/tenant-fairness';
import type { WorkPriorityLevel } from '../domain/work-priority';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from './search-attributes';
import { notificationMetadata } from './summaries';

/**
 * The notification workflow's contract: its input, state and result, the messages callers send
 * it, the codes its Update rejects with, its workflow ID, the priority mapping and the options
 * every start uses. One workflow delivers one Notification row.
 */

/**
 * One workflow per notification. Both parts are row IDs (UUIDs), never the recipient or the
 * tenant's idempotency key, so the ID carries no personal data and no tenant-supplied text.
 */
export function notificationWorkflowId(tenantId: string, notificationId: string): string {
  return `notification:${tenantId}:${notificationId}`;
}

export {
  DEFAULT_NOTIFICATION_PRIORITY,
  NotificationPriority,
  type NotificationPriorityLevel,
  type NotificationPriorityName,
} from '../domain/notification-priority';

/**
 * The Temporal priority key of a notification's workflow and activities. Temporal's keys run from
 * 1 (first) to 5 (last) and default to 3, so priorities 1–4 map onto the same numbers: critical 1,
 * high 2, normal 3 (a task without a key), low 4. Within a task queue, lower keys are dispatched first.
 */
export function priorityKeyOf(priority: number): number {
  return Number.isInteger(priority) && priority >= 1 && priority <= 4 ? priority : DEFAULT_NOTIFICATION_PRIORITY;
}

/**
 * How a new notification starts its workflow (the task queue comes from configuration): a repeat
 * while it runs joins it; once it has closed it is never started again by the same request.
 * It starts SCHEDULED only when `sendAt` is still ahead of `now`; a past `sendAt` sends at once.
 */
export function notificationStartOptions(
  input: NotificationWorkflowInput,
  now: Date,
  fairness?: TenantFairness,
  about: { template?: string } = {},
) {
  const { tenantId, notificationId, priority } = input;
  const scheduled = input.sendAt !== undefined && Date.parse(input.sendAt) > now.getTime();
  return {
    workflowId: notificationWorkflowId(tenantId, notificationId),
    ...notificationMetadata({
      tenantId,
      notificationId,
      priority,
      template: about.template,
      channel: input.channel,
      sendAt: scheduled ? input.sendAt : undefined,
    }),
    workflowIdConflictPolicy: 'USE_EXISTING' as const,
    workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
    // The notification's own level, shared fairly between tenants by plan (docs/queues.md).
    priority: tenantWorkPriority(priorityKeyOf(priority) as WorkPriorityLevel, tenantId, fairness),
    typedSearchAttributes: [
      { key: TenantIdKey, value: tenantId },
      { key: BusinessKeyKey, value: notificationId },
      { key: FlowStatusKey, value: scheduled ? 'SCHEDULED' : 'PENDING' },
    ],
  };
}

/**
 * How a retry of a notification that failed for good starts a new run under the same ID: the
 * earlier run has closed (its result was FAILED), so a duplicate is allowed; a run still open is a
 * conflict, never joined, since it is not the failed one.
 */
export function notificationRetryStartOptions(
  input: NotificationWorkflowInput,
  now: Date,
  fairness?: TenantFairness,
  about: { template?: string } = {},
) {
  return {
    ...notificationStartOptions(input, now, fairness, about),
    workflowIdConflictPolicy: 'FAIL' as const,
    workflowIdReusePolicy: 'ALLOW_DUPLICATE' as const,
  };
}

/**
 * What the workflow is started with: IDs and scheduling facts only. The recipient, the content
 * and the template data stay in the Notification row, which the delivery activity reads.
 */
export interface NotificationWorkflowInput {
  tenantId: string;
  notificationId: string;
  /** 1 critical … 4 low; see {@link priorityKeyOf}. */
  priority: number;
  /** ISO-8601; absent or past: send at once. */
  sendAt?: string;
  /**
   * The row's channel, so delivery runs on that provider's task queue (docs/queues.md). Runs
   * started before it was passed deliver on the interactive queue, as they always did.
   */
  channel?: NotificationChannel;
}

/** Why `cancel` was refused (409). */
export const NotificationRejection = {
  Sending: 'NOTIFICATION_SENDING',
  AlreadySent: 'NOTIFICATION_ALREADY_SENT',
  AlreadyFailed: 'NOTIFICATION_FAILED',
  AlreadyCancelled: 'NOTIFICATION_ALREADY_CANCELLED',
  /** `sendNow`: the notification is not waiting for its send time (any more). */
  NotScheduled: 'NOT_SCHEDULED',
} as const;
export type NotificationRejection = (typeof NotificationRejection)[keyof typeof NotificationRejection];

/**
 * SCHEDULED: waiting for `sendAt`; PENDING: due, not yet attempted; SENDING: the delivery activity
 * runs (cancelling is refused from here on); then one of the outcomes.
 */
export type NotificationFlowStatus = 'SCHEDULED' | 'PENDING' | 'SENDING' | 'SENT' | 'FAILED' | 'CANCELLED';

/**
 * Why a notification ended CANCELLED: on request, because the tenant disabled the template, or
 * because its row was deleted (the retention cleanup, or the tenant's own deletion) before it was sent.
 */
export type CancellationReason = 'REQUESTED' | 'TEMPLATE_DISABLED' | 'DELETED';

export interface NotificationState {
  tenantId: string;
  notificationId: string;
  status: NotificationFlowStatus;
  priority: number;
  sendAt: string | null;
  sentAt: string | null;
  /** The failure that ended it FAILED (its type and message), or why it was CANCELLED. */
  lastError: string | null;
  cancellation: { reason: CancellationReason; actor: string | null } | null;
}

export interface NotificationResult {
  notificationId: string;
  status: 'SENT' | 'FAILED' | 'CANCELLED';
  sentAt: string | null;
  lastError: string | null;
}

export interface CancelNotificationInput {
  /** Who asked (the API's principal), for the row and the state; not personal data. */
  actor: string;
}

/** Cancels a notification that has not started sending; rejected with a {@link NotificationRejection} otherwise. */
export const cancelNotificationUpdate = defineUpdate<{ status: 'CANCELLED' }, [CancelNotificationInput]>(
  'cancelNotification',
);

/** The notification's state. */
export const getNotificationStateQuery = defineQuery<NotificationState>('getNotificationState');

export interface SendNowInput {
  /** Who asked (the API's principal), for the audit trail; not personal data. */
  actor: string;
}

export interface SendNowResult {
  notificationId: string;
  /** The send time it had. */
  scheduledFor: string;
  /** The workflow's time when the Update ran: delivery starts from here. */
  sendAt: string;
}

/**
 * Sends a SCHEDULED notification now instead of at its `sendAt`: the wait ends, the row is marked
 * due and delivery runs as it would have at the send time. Answers at once. Rejected with
 * NOT_SCHEDULED once the notification is no longer waiting (due, sending, ended, or a cancel is
 * under way), INVALID_INPUT for an actor that cannot be stored.
 */
export const sendNowUpdate = defineUpdate<SendNowResult, [SendNowInput]>('sendNow');
