import { ApplicationFailure } from '@temporalio/common';
import type { NotificationActivities } from '../../activities/notifications';
import { FailureType } from '../../workflows/errors';

type Delivery = Awaited<ReturnType<NotificationActivities['deliverNotification']>>;

/**
 * In-memory activities of the notification workflow: a ledger row whose delivery can be made to
 * fail (transiently or for good) or be suppressed, with every call counted.
 */
export class FakeNotificationLedger {
  status: 'SCHEDULED' | 'PENDING' | 'SENT' | 'FAILED' | 'CANCELLED' = 'PENDING';
  deliveries = 0;
  lastError: string | null = null;
  cancellations: Array<{ reason: string; actor: string | null }> = [];
  failures: string[] = [];
  markedDue = 0;
  /** Transient failures before a delivery succeeds. */
  transientFailures = 0;
  /** Every delivery fails transiently. */
  alwaysFails = false;
  /** The first delivery fails for good with this type. */
  permanentFailure: string | null = null;
  /** The tenant disabled the template. */
  suppressed = false;
  /** These activities find the row deleted (the retention cleanup) and fail with NotFound. */
  rowGoneIn = new Set<'deliverNotification' | 'failNotification' | 'cancelNotification'>();
  /** While set, a delivery waits for it before answering (a send in progress). */
  holdDelivery: Promise<void> | null = null;

  activities(): Pick<
    NotificationActivities,
    'deliverNotification' | 'failNotification' | 'cancelNotification' | 'markNotificationDue'
  > {
    return {
      deliverNotification: async (): Promise<Delivery> => {
        this.deliveries += 1;
        if (this.holdDelivery) await this.holdDelivery;
        this.failIfRowGone('deliverNotification');
        if (this.permanentFailure) {
          throw ApplicationFailure.nonRetryable('The recipient is not a valid EMAIL address', this.permanentFailure);
        }
        if (this.alwaysFails || this.transientFailures > 0) {
          this.transientFailures -= 1;
          this.lastError = 'Error: SMTP connection refused';
          throw new Error('SMTP connection refused');
        }
        if (this.suppressed) {
          this.status = 'CANCELLED';
          return { status: 'SUPPRESSED', sentAt: null };
        }
        this.status = 'SENT';
        return { status: 'SENT', sentAt: new Date().toISOString() };
      },
      failNotification: async ({ error }) => {
        this.failIfRowGone('failNotification');
        this.status = 'FAILED';
        this.failures.push(error);
        return { eventId: `event-${this.failures.length}` };
      },
      cancelNotification: async ({ reason, actor }) => {
        this.failIfRowGone('cancelNotification');
        this.status = 'CANCELLED';
        this.cancellations.push({ reason, actor });
      },
      markNotificationDue: async () => {
        this.markedDue += 1;
        if (this.status === 'SCHEDULED') this.status = 'PENDING';
      },
    };
  }

  private failIfRowGone(activity: 'deliverNotification' | 'failNotification' | 'cancelNotification'): void {
    if (this.rowGoneIn.has(activity)) {
      throw ApplicationFailure.nonRetryable('The notification no longer exists', FailureType.NotFound);
    }
  }
}

export const InvalidRecipient = FailureType.InvalidRecipient;
