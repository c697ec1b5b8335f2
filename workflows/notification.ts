import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { NotificationChannel } from '../domain/notifications';
import { taskQueueFor, type TaskQueueKind } from '../lib/task-queues';
import { FailureType, PermanentFailures } from './errors';
import { notificationEnded } from './metrics';
import {
  cancelNotificationUpdate,
  getNotificationStateQuery,
  NotificationRejection,
  priorityKeyOf,
  sendNowUpdate,
  type CancellationReason,
  type NotificationFlowStatus,
  type NotificationResult,
  type NotificationState,
  type NotificationWorkflowInput,
  type SendNowInput,
  type SendNowResult,
} from './notification.contract';
import { FlowStatusKey } from './search-attributes';
import { activitySummary, finishedDetails, timerSummary, waitingUntilDetails } from './summaries';
import { requireStorableText } from './validation';

export * from './notification.contract';

/**
 * Failures no retry can fix: a recipient that cannot receive, a provider's refusal, a channel with
 * no transport, a template that does not render, data the database refuses, a row that is gone.
 */
const permanentDeliveryFailures = [
  ...PermanentFailures.message,
  FailureType.NotFound,
  FailureType.TemplateInvalid,
  FailureType.TemplateNotFound,
];

/** The state a notification's handlers and phases share; the query returns a snapshot of it. */
class Notification {
  status: NotificationFlowStatus;
  sentAt: string | null = null;
  lastError: string | null = null;
  cancellation: NotificationState['cancellation'] = null;
  cancelRequested: { actor: string } | null = null;
  /** Set by `sendNow`: the wait for `sendAt` ends and delivery starts. */
  sendNowRequested: { actor: string } | null = null;

  constructor(readonly input: NotificationWorkflowInput) {
    this.status = this.isScheduled() ? 'SCHEDULED' : 'PENDING';
  }

  /** Milliseconds until `sendAt`, as the workflow's deterministic clock reads it. */
  delayMs(): number {
    return this.input.sendAt ? Math.max(0, Date.parse(this.input.sendAt) - Date.now()) : 0;
  }

  isScheduled(): boolean {
    return this.delayMs() > 0;
  }

  /** Why a cancel cannot be taken now, or undefined when it can. */
  cancelRefusal(): NotificationRejection | undefined {
    if (this.cancelRequested) return NotificationRejection.AlreadyCancelled;
    switch (this.status) {
      case 'SCHEDULED':
      case 'PENDING':
        return undefined;
      case 'SENDING':
        return NotificationRejection.Sending;
      case 'SENT':
        return NotificationRejection.AlreadySent;
      case 'FAILED':
        return NotificationRejection.AlreadyFailed;
      case 'CANCELLED':
        return NotificationRejection.AlreadyCancelled;
    }
  }

  /** `sendNow` applies only while the notification waits for its send time, with no cancel under way. */
  validateSendNow(request: SendNowInput | undefined): void {
    if (this.status !== 'SCHEDULED' || this.cancelRequested || this.sendNowRequested) {
      throw ApplicationFailure.create({
        type: NotificationRejection.NotScheduled,
        message: `The notification is not waiting for its send time (it is ${this.status.toLowerCase()})`,
        nonRetryable: true,
      });
    }
    requireStorableText({ actor: request?.actor });
  }

  sendNow({ actor }: SendNowInput): SendNowResult {
    this.sendNowRequested = { actor };
    return {
      notificationId: this.input.notificationId,
      scheduledFor: this.input.sendAt!,
      sendAt: new Date().toISOString(),
    };
  }

  snapshot(): NotificationState {
    const { tenantId, notificationId, priority, sendAt } = this.input;
    return {
      tenantId,
      notificationId,
      status: this.status,
      priority,
      sendAt: sendAt ?? null,
      sentAt: this.sentAt,
      lastError: this.lastError,
      cancellation: this.cancellation,
    };
  }

  result(): NotificationResult {
    const status = this.status === 'SENT' || this.status === 'CANCELLED' ? this.status : 'FAILED';
    return { notificationId: this.input.notificationId, status, sentAt: this.sentAt, lastError: this.lastError };
  }
}

/** What the last delivery failure says: its type and message, without the stack. */
function describeFailure(error: unknown): string {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure) return `${cause.type ?? 'Error'}: ${cause.message}`;
  return cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
}

/** Whether an activity failed because the Notification row is gone (the retention cleanup, or a tenant's deletion). */
function isRowGone(error: unknown): boolean {
  return (
    error instanceof ActivityFailure &&
    error.cause instanceof ApplicationFailure &&
    error.cause.type === FailureType.NotFound
  );
}

/**
 * Runs who learned the row was gone ended CANCELLED (reason DELETED) only from this change on; runs
 * recorded before it failed. The marker keeps their histories replaying as they were.
 */
const ROW_GONE_ENDS_CANCELLED = 'notification-row-gone-ends-cancelled';

/**
 * Runs started with their channel deliver on that provider's task queue (docs/queues.md), where
 * the provider's concurrency and rate apply; runs without the marker deliver on the workflow's own queue.
 */
const DELIVERY_ON_PROVIDER_QUEUE = 'notification-delivery-on-provider-queue';

const providerQueueKinds: Record<NotificationChannel, TaskQueueKind> = {
  EMAIL: 'email',
  SMS: 'sms',
  WHATSAPP: 'whatsapp',
};

/** The task queue of the delivery activity: its channel's provider queue, once the run knows the channel. */
function deliveryQueue(input: NotificationWorkflowInput): { taskQueue?: string } {
  if (!input.channel || !patched(DELIVERY_ON_PROVIDER_QUEUE)) return {};
  return { taskQueue: taskQueueFor(workflowInfo().taskQueue, providerQueueKinds[input.channel]) };
}

/**
 * Delivers one notification of the ledger: waits for `sendAt` on a durable timer (cancellable
 * through {@link cancelNotificationUpdate}), then sends it through the Notification ledger with
 * retries. Ends SENT, FAILED (no attempt could deliver it; the row is FAILED and
 * `notification.failed` is published) or CANCELLED (on request, or the tenant disabled the template).
 * The input carries IDs only: the recipient and content are read from the row by the activity.
 */
export async function notificationWorkflow(input: NotificationWorkflowInput): Promise<NotificationResult> {
  const priority = { priorityKey: priorityKeyOf(input.priority) };
  const ref = { tenantId: input.tenantId, notificationId: input.notificationId };

  // Bookkeeping on the ledger row: idempotent writes, retried through database outages.
  const bookkeeping: ActivityOptions = {
    startToCloseTimeout: '30 seconds',
    priority,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: 20,
      nonRetryableErrorTypes: [...PermanentFailures.step, FailureType.NotFound],
    },
  };
  const { markNotificationDue, cancelNotification, failNotification } = proxyActivities<Activities>(bookkeeping);
  // Delivery: 5 attempts from 1 s, 30 s each. The ledger row keeps a retry from
  // sending twice; refusals no retry can change end the notification at once.
  const { deliverNotification } = proxyActivities<Activities>({
    startToCloseTimeout: '30 seconds',
    priority,
    ...deliveryQueue(input),
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumAttempts: 5,
      nonRetryableErrorTypes: permanentDeliveryFailures,
    },
  });

  const notification = new Notification(input);
  /** What the Web UI shows the notification doing now. */
  const showDetails = () => {
    const { status } = notification;
    if (status === 'SCHEDULED') setCurrentDetails(waitingUntilDetails('waiting to send', input.sendAt!));
    else if (status === 'PENDING') setCurrentDetails('about to send');
    else if (status === 'SENDING') setCurrentDetails(`sending by ${input.channel ?? 'its channel'}, up to 5 attempts`);
    else setCurrentDetails(finishedDetails(status));
  };
  const setStatus = (status: NotificationFlowStatus) => {
    notification.status = status;
    upsertSearchAttributes([{ key: FlowStatusKey, value: status }]);
    showDetails();
  };
  showDetails();

  setHandler(getNotificationStateQuery, () => notification.snapshot());
  setHandler(
    cancelNotificationUpdate,
    async ({ actor }) => {
      notification.cancelRequested = { actor };
      await condition(() => notification.status === 'CANCELLED');
      return { status: 'CANCELLED' as const };
    },
    {
      validator: (request: unknown) => {
        const actor: unknown = (request as { actor?: unknown } | null | undefined)?.actor;
        if (typeof actor !== 'string') {
          throw ApplicationFailure.create({ type: 'INVALID_INPUT', message: 'cancel needs an actor' });
        }
        const refusal = notification.cancelRefusal();
        if (refusal) {
          throw ApplicationFailure.create({
            type: refusal,
            message: `The notification cannot be cancelled: ${refusal}`,
          });
        }
      },
    },
  );

  setHandler(sendNowUpdate, (request) => notification.sendNow(request), {
    validator: (request: SendNowInput) => notification.validateSendNow(request),
  });

  const endCancelled = (reason: CancellationReason, actor: string | null) => {
    notification.cancellation = { reason, actor };
    notification.lastError =
      reason === 'TEMPLATE_DISABLED'
        ? 'The tenant disabled this template'
        : reason === 'DELETED'
          ? 'The notification no longer exists'
          : null;
    setStatus('CANCELLED');
  };
  // A row deleted under a running workflow leaves nothing to deliver or record: a named outcome, not a failed run.
  const endedBecauseRowGone = (error: unknown): boolean => {
    if (!isRowGone(error) || !patched(ROW_GONE_ENDS_CANCELLED)) return false;
    log.warn('Notification row gone; ending cancelled', { notificationId: input.notificationId });
    endCancelled('DELETED', null);
    return true;
  };

  const cancel = async (reason: CancellationReason, actor: string | null) => {
    try {
      await cancelNotification({ ...ref, reason, actor });
    } catch (error) {
      if (endedBecauseRowGone(error)) return;
      throw error;
    }
    endCancelled(reason, actor);
  };

  if (notification.isScheduled()) {
    // `sendNowRequested` is set only by the sendNow Update, which no history before it carries: in
    // those the wait wakes exactly as it did, so they replay unchanged without a patch marker, and
    // a run already waiting when this code arrived can be sent now too.
    await condition(
      () => notification.cancelRequested !== null || notification.sendNowRequested !== null,
      notification.delayMs(),
      { summary: timerSummary.sendAt(input.sendAt!) },
    );
    if (!notification.cancelRequested) await markNotificationDue(ref);
  }

  if (notification.cancelRequested) {
    await cancel('REQUESTED', notification.cancelRequested.actor);
  } else {
    setStatus('SENDING');
    try {
      const outcome = await deliverNotification.executeWithOptions(
        { summary: activitySummary.deliverNotification(input.channel) },
        [ref],
      );
      if (outcome.status === 'SENT') {
        notification.sentAt = outcome.sentAt;
        setStatus('SENT');
      } else if (outcome.status === 'SUPPRESSED') {
        endCancelled('TEMPLATE_DISABLED', null);
      } else {
        endCancelled('REQUESTED', null);
      }
    } catch (error) {
      if (!(error instanceof ActivityFailure)) throw error;
      if (endedBecauseRowGone(error)) return finish();
      notification.lastError = describeFailure(error);
      try {
        await failNotification({ ...ref, error: notification.lastError });
      } catch (failError) {
        if (endedBecauseRowGone(failError)) return finish();
        throw failError;
      }
      setStatus('FAILED');
      log.warn('Notification failed for good', { notificationId: input.notificationId, run: workflowInfo().runId });
    }
  }

  return finish();

  async function finish(): Promise<NotificationResult> {
    await condition(allHandlersFinished);
    notificationEnded(input.channel, notification.result().status);
    return notification.result();
  }
}
