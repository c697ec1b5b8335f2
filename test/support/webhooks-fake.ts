import { ApplicationFailure } from '@temporalio/common';
import type {
  PreparedWebhookDelivery,
  SettledWebhookDelivery,
  WebhookActivities,
  WebhookSendOutcome,
} from '../../activities/webhooks';
import { WebhookFailure } from '../../workflows/webhook-delivery.contract';

/** What the receiver does on each attempt, in order; the last repeats. */
type Answer = WebhookSendOutcome | ApplicationFailure;

/** The webhook activities as fakes: a scripted receiver and a recorded ledger. */
export class FakeWebhooks {
  prepared: PreparedWebhookDelivery = { status: 'READY', retry: { maximumAttempts: 5, initialIntervalSeconds: 10 } };
  answers: Answer[] = [{ outcome: 'DELIVERED', statusCode: 200 }];
  settled: SettledWebhookDelivery = { endpointId: 'endpoint-1', disabledByThresholdAt: null };
  readonly attempts: number[] = [];
  readonly settlements: string[] = [];
  readonly notices: Array<{ endpointId: string; disabledAt: string }> = [];

  activities(): WebhookActivities {
    return {
      prepareWebhookDelivery: async () => this.prepared,
      deliverWebhook: async () => {
        this.attempts.push(Date.now());
        const answer = this.answers[Math.min(this.attempts.length - 1, this.answers.length - 1)]!;
        if (answer instanceof ApplicationFailure) throw answer;
        return answer;
      },
      settleWebhookDelivery: async ({ outcome }) => {
        this.settlements.push(outcome);
        return outcome === 'FAILED' ? this.settled : { endpointId: 'endpoint-1', disabledByThresholdAt: null };
      },
      notifyWebhookEndpointDisabled: async (input) => {
        this.notices.push({ endpointId: input.endpointId, disabledAt: input.disabledAt });
        return { notified: 1 };
      },
    };
  }
}

/** A retryable failure as the delivery step throws it for 408 and 5xx. */
export const unavailable = (status: number) =>
  ApplicationFailure.retryable(`The receiver answered ${status}`, WebhookFailure.Unavailable);
