import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  type RetryPolicy,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  getFanOutStateQuery,
  OUTBOX_SWEEP_BATCH,
  OUTBOX_SWEEP_GRACE_SECONDS,
  type DeliveryOutcome,
  type EventFanOutInput,
  type EventFanOutResult,
  type EventFanOutState,
  type OutboxSweepInput,
  type OutboxSweepResult,
  type RuleOutcome,
} from './event-fan-out.contract';
import { PermanentFailures } from './errors';
import { FlowStatusKey } from './search-attributes';
import { activitySummary, codeLabel, finishedDetails } from './summaries';

export * from './event-fan-out.contract';

// Every step is idempotent per (event, rule) and (event, endpoint), so retrying is always safe,
// and an event must not be lost to an outage: steps retry without a limit, at most 5 minutes
// apart, until the database and Temporal answer. What no retry can fix (a refused value, a row
// that is gone, a recipient that cannot be sent to) is non-retryable and recorded as that rule's
// or endpoint's outcome, so no event can wedge its fan-out.
const outageRetry = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '5 minutes',
  nonRetryableErrorTypes: PermanentFailures.message,
} satisfies RetryPolicy;

const { planEventFanOut, enqueueRuleNotification, enqueueEventDelivery } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: outageRetry,
});

const { publishUnpublishedEvents } = proxyActivities<Activities>({
  // Up to OUTBOX_SWEEP_BATCH starts, each a round trip to Temporal.
  startToCloseTimeout: '5 minutes',
  retry: { ...outageRetry, maximumAttempts: 3 },
});

/** The failure type of a step that failed for good, for the state; the message may quote data. */
function failureReason(error: unknown): string {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof ApplicationFailure && cause.type ? cause.type : 'StepFailed';
}

/**
 * Hands one event to every notification rule and webhook endpoint of its tenant that wants it.
 *
 * A planning step reads the event and lists, as IDs, the enabled rules it matches and the ACTIVE
 * endpoints subscribed to its type (and marks the event published). Then, for each rule, a step
 * enqueues its notification once per (event, rule), reading the recipient from the event's data;
 * and for each endpoint a step enqueues its delivery once per (event, endpoint). The rules and
 * endpoints are handled concurrently.
 *
 * Never fails on data: a rule without a valid recipient is SKIPPED, a step that fails for good is
 * FAILED with its failure type, and the fan-out ends COMPLETED or COMPLETED_WITH_FAILURES;
 * EVENT_NOT_FOUND if the event is gone. Outages are retried until they pass.
 *
 * @param input the tenant and the OutboxEvent row's ID; nothing of the event's content.
 */
export async function eventFanOutWorkflow(input: EventFanOutInput): Promise<EventFanOutResult> {
  const state: EventFanOutState = {
    tenantId: input.tenantId,
    eventId: input.eventId,
    eventType: null,
    status: 'FANNING_OUT',
    rules: [],
    deliveries: [],
  };
  setHandler(getFanOutStateQuery, () => state);
  /** What the Web UI shows the fan-out doing: the event's type and how many rules and endpoints are done. */
  const showDetails = () => {
    const items = [...state.rules, ...state.deliveries];
    const done = items.filter((item) => item.outcome !== 'PENDING').length;
    setCurrentDetails(
      state.status === 'FANNING_OUT'
        ? `${codeLabel(state.eventType, 'eventType')}: ${state.rules.length} rules, ${state.deliveries.length} endpoints, ${done} of ${items.length} handed over`
        : finishedDetails(state.status),
    );
  };
  setCurrentDetails('planning: matching rules and endpoints');

  const plan = await planEventFanOut.executeWithOptions({ summary: activitySummary.planFanOut }, [input]);
  if (!plan) {
    state.status = 'EVENT_NOT_FOUND';
  } else {
    state.eventType = plan.eventType;
    state.rules = plan.ruleIds.map((ruleId) => ({ ruleId, outcome: 'PENDING', notificationId: null, reason: null }));
    state.deliveries = plan.endpointIds.map((endpointId) => ({
      endpointId,
      outcome: 'PENDING',
      deliveryId: null,
      workflowId: null,
      reason: null,
    }));
    showDetails();
    await Promise.all([
      ...state.rules.map((rule, index) => notify(input, rule, index + 1).then(showDetails)),
      ...state.deliveries.map((d, index) => deliver(input, d, index + 1).then(showDetails)),
    ]);
    const failed = [...state.rules, ...state.deliveries].some((item) => item.outcome === 'FAILED');
    state.status = failed ? 'COMPLETED_WITH_FAILURES' : 'COMPLETED';
  }

  upsertSearchAttributes([{ key: FlowStatusKey, value: state.status }]);
  showDetails();
  log.info('Event fanned out', {
    eventId: input.eventId,
    status: state.status,
    rules: state.rules.length,
    deliveries: state.deliveries.length,
  });
  await condition(allHandlersFinished);
  return state;
}

async function notify(input: EventFanOutInput, rule: RuleOutcome, number: number): Promise<void> {
  try {
    const result = await enqueueRuleNotification.executeWithOptions(
      { summary: activitySummary.ruleNotification(number) },
      [{ ...input, ruleId: rule.ruleId }],
    );
    rule.outcome = result.outcome;
    rule.notificationId = result.notificationId;
    rule.reason = result.reason;
  } catch (error) {
    rule.outcome = 'FAILED';
    rule.reason = failureReason(error);
  }
}

async function deliver(input: EventFanOutInput, delivery: DeliveryOutcome, number: number): Promise<void> {
  try {
    const result = await enqueueEventDelivery.executeWithOptions({ summary: activitySummary.webhookEnqueue(number) }, [
      { ...input, endpointId: delivery.endpointId },
    ]);
    delivery.outcome = 'ENQUEUED';
    delivery.deliveryId = result.deliveryId;
    delivery.workflowId = result.workflowId;
  } catch (error) {
    delivery.outcome = 'FAILED';
    delivery.reason = failureReason(error);
  }
}

/**
 * Starts the fan-outs of events recorded more than OUTBOX_SWEEP_GRACE_SECONDS ago whose fan-out
 * never began (the process died between a flow's commit and its start), at most
 * OUTBOX_SWEEP_BATCH per run. Started every minute by the `holdfast:event-outbox-sweep` Schedule.
 */
export async function eventOutboxSweepWorkflow(input: OutboxSweepInput = {}): Promise<OutboxSweepResult> {
  setCurrentDetails(`starting lost fan-outs, at most ${OUTBOX_SWEEP_BATCH}`);
  const result = await publishUnpublishedEvents({
    ...input,
    graceSeconds: OUTBOX_SWEEP_GRACE_SECONDS,
    limit: OUTBOX_SWEEP_BATCH,
  });
  if (result.published > 0) log.info('Outbox sweep started fan-outs', { ...result });
  setCurrentDetails(`finished: ${result.published} fan-outs started`);
  return result;
}
