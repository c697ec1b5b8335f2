import { metricMeter } from '@temporalio/workflow';
import { BusinessMetric } from '../domain/business-metrics';

/**
 * The business metrics the workflows emit, through the workflow metric meter. The meter drops
 * every call made while a history is replayed, so a flow counts each offer, expiry and outcome
 * once however often a worker replays it; metric calls are no commands, so adding one changes no
 * running flow's history (no `patched()` needed). Names and labels: domain/business-metrics.ts.
 */

/** The flows that report their business outcome, by their short name in domain/flow-catalog.ts. */
export type MeteredFlow = 'waitlist' | 'orders' | 'onboarding' | 'notifications' | 'webhooks';

/** Label values are lower snake case, whatever casing the flow's own status uses. */
const labelValue = (value: string) =>
  value
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/-/g, '_')
    .toLowerCase();

function count(name: string, description: string, tags: Record<string, string>): void {
  metricMeter.createCounter(name, undefined, description).add(1, tags);
}

/** A flow has ended with `outcome` (its business result, `needs_attention` or `cancelled`). */
export function countFlowCompleted(flow: MeteredFlow, outcome: string): void {
  count(BusinessMetric.flowsCompleted, 'Flows ended, by flow and business outcome', {
    flow,
    outcome: labelValue(outcome),
  });
}

/** An offer went out: a held slot to a waitlist candidate, or an order to a vendor. */
export function countOfferSent(flow: 'waitlist' | 'orders'): void {
  count(BusinessMetric.offersSent, 'Offers made to a waitlist candidate or a vendor', { flow });
}

/** An offer's hold ran out with no answer: a candidate's hold expired, or a vendor's response window. */
export function countHoldExpired(flow: 'waitlist' | 'orders'): void {
  count(BusinessMetric.holdsExpired, 'Offers whose hold ran out without an answer', { flow });
}

const finishedCascades: Readonly<Record<string, string>> = {
  CONFIRMED: 'confirmed',
  UNFILLED: 'unfilled',
  ALREADY_ASSIGNED: 'already_assigned',
  CANCELLED: 'cancelled',
  NEEDS_ATTENTION: 'needs_attention',
};

/**
 * A waitlist cascade reached `status`: when it is one the cascade ends in, counts the outcome and
 * records how long the cascade took since its first run started (`startedAt` is carried across
 * continue-as-new). Other statuses are ignored, so the call can sit wherever the status is set.
 */
export function cascadeReached(status: string, startedAt: string): void {
  const outcome = finishedCascades[status];
  if (!outcome) return;
  const seconds = Math.max(0, (Date.now() - Date.parse(startedAt)) / 1000);
  metricMeter
    .createHistogram(
      BusinessMetric.cascadeDuration,
      'float',
      's',
      'Time from a freed slot to the end of its cascade, by outcome',
    )
    .record(Number.isFinite(seconds) ? seconds : 0, { outcome });
  countFlowCompleted('waitlist', outcome);
}

const vendorFallbackOutcomes: ReadonlySet<string> = new Set(['REJECTED', 'TIMED_OUT', 'UNREACHABLE']);

/**
 * An order's offer to a vendor was settled with `outcome`: a rejection, a time-out or an offer
 * that could not be delivered moves the order on to the next vendor (or to an operator when none
 * is left); a time-out also counts as an expired hold.
 */
export function vendorOfferSettled(outcome: string): void {
  if (!vendorFallbackOutcomes.has(outcome)) return;
  count(BusinessMetric.vendorFallbacks, 'Orders moved on from a vendor that rejected, timed out or was unreachable', {
    flow: 'orders',
    outcome: labelValue(outcome),
  });
  if (outcome === 'TIMED_OUT') countHoldExpired('orders');
}

const finishedOrders: ReadonlySet<string> = new Set(['PAID', 'REJECTED', 'CANCELLED']);

/**
 * An order reached `status`: PAID, REJECTED and CANCELLED end the flow; NEEDS_ATTENTION ends it
 * only when a step failed for good (`stopped`), not while it waits for an operator to assign a vendor.
 */
export function orderReached(status: string, stopped: boolean): void {
  if (finishedOrders.has(status)) countFlowCompleted('orders', status);
  else if (status === 'NEEDS_ATTENTION' && stopped) countFlowCompleted('orders', status);
}

/**
 * A tenant onboarding ended: `activated`, or `failed` / `rejected` / `cancelled`; a failure also
 * counts against the step that failed (`unknown` when none was running).
 */
export function onboardingEnded(outcome: 'activated' | 'failed' | 'rejected' | 'cancelled', step: string | null): void {
  if (outcome === 'failed') {
    count(BusinessMetric.onboardingFailures, 'Tenant onboardings that failed, by the step that failed', {
      step: step ?? 'unknown',
    });
  }
  countFlowCompleted('onboarding', outcome);
}

/** A notification ended `SENT`, `FAILED` or `CANCELLED` on its channel (`unknown` for runs started without one). */
export function notificationEnded(channel: string | undefined, status: string): void {
  const outcome = labelValue(status);
  count(BusinessMetric.notifications, 'Notifications ended, by channel and outcome', {
    channel: channel ? labelValue(channel) : 'unknown',
    outcome,
  });
  countFlowCompleted('notifications', outcome);
}

/** A webhook delivery ended with `status` (SUCCEEDED, FAILED, SKIPPED, ENDPOINT_GONE, NEEDS_ATTENTION). */
export function webhookDeliveryEnded(status: string): void {
  const outcome = labelValue(status);
  count(BusinessMetric.webhookDeliveries, 'Webhook deliveries ended, by outcome', { outcome });
  countFlowCompleted('webhooks', outcome);
}
