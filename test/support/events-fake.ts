import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { Activities } from '../../activities';
import type { RuleStepResult } from '../../activities/events';
import type { FanOutPlan, OutboxSweepResult } from '../../workflows/event-fan-out.contract';

type FanOutActivities = Pick<
  Activities,
  'planEventFanOut' | 'enqueueRuleNotification' | 'enqueueEventDelivery' | 'publishUnpublishedEvents'
>;

/**
 * In-memory stand-ins for the event fan-out's activities: a plan, and per rule or endpoint an
 * outcome or a failure, with every call counted. Used by the workflow tests and the recorded scenarios.
 */
export class FakeEventFanOut {
  /** What planning finds; null: the event is gone. */
  plan: FanOutPlan | null = null;
  /** A rule's answer; ENQUEUED with a fresh notification ID unless set. */
  readonly ruleAnswers = new Map<string, RuleStepResult>();
  /** Failures thrown, in order, before a rule's or endpoint's step succeeds. */
  readonly failures = new Map<string, Error[]>();
  readonly calls: { plans: number; rules: string[]; endpoints: string[]; sweeps: unknown[] } = {
    plans: 0,
    rules: [],
    endpoints: [],
    sweeps: [],
  };
  sweepResult: OutboxSweepResult = { published: 0 };

  /** Plans `ruleIds` and `endpointIds` for an event of `eventType`. */
  planned(eventId: string, ruleIds: string[], endpointIds: string[], eventType = 'ticket.created'): this {
    this.plan = { eventId, eventType, ruleIds, endpointIds };
    return this;
  }

  /** The step of `id` (a rule or an endpoint) fails with `errors`, one per attempt, then succeeds. */
  failing(id: string, ...errors: Error[]): this {
    this.failures.set(id, errors);
    return this;
  }

  private throwIfFailing(id: string): void {
    const next = this.failures.get(id)?.shift();
    if (next) throw next;
  }

  activities(): FanOutActivities {
    return {
      planEventFanOut: async () => {
        this.calls.plans += 1;
        return this.plan;
      },
      enqueueRuleNotification: async ({ ruleId }) => {
        this.calls.rules.push(ruleId);
        this.throwIfFailing(ruleId);
        return this.ruleAnswers.get(ruleId) ?? { outcome: 'ENQUEUED', notificationId: randomUUID(), reason: null };
      },
      enqueueEventDelivery: async ({ tenantId, eventId, endpointId }) => {
        this.calls.endpoints.push(endpointId);
        this.throwIfFailing(endpointId);
        return { deliveryId: randomUUID(), workflowId: `webhook:${tenantId}:${endpointId}:${eventId}` };
      },
      publishUnpublishedEvents: async (input) => {
        this.calls.sweeps.push(input);
        return this.sweepResult;
      },
    };
  }
}

/** A failure no retry can fix, as activities throw it. */
export const permanentFailure = (type: string) => ApplicationFailure.nonRetryable(`failed for good (${type})`, type);
