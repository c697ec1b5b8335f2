import {
  ActivityFailure,
  ApplicationFailure,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  type RetryPolicy,
} from '@temporalio/workflow';
import type { WebhookActivities } from '../activities/webhooks';
import { FailureType, PermanentFailures } from './errors';
import { webhookDeliveryEnded } from './metrics';
import { FlowStatusKey } from './search-attributes';
import { activitySummary, finishedDetails } from './summaries';
import {
  getWebhookDeliveryStateQuery,
  WebhookFailure,
  type WebhookDeliveryInput,
  type WebhookDeliveryResult,
  type WebhookDeliveryState,
  type WebhookRetrySettings,
} from './webhook-delivery.contract';

export * from './webhook-delivery.contract';

// Reading and recording a delivery are idempotent database writes: 20 attempts, at most 2 minutes
// apart, ride out about half an hour of database trouble. Refused data is never retried.
const databaseRetry = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '2 minutes',
  maximumAttempts: 20,
  nonRetryableErrorTypes: PermanentFailures.step,
} satisfies RetryPolicy;

const { prepareWebhookDelivery, settleWebhookDelivery, notifyWebhookEndpointDisabled } =
  proxyActivities<WebhookActivities>({ startToCloseTimeout: '30 seconds', retry: databaseRetry });

/**
 * What no retry of the request can change: the receiver refused (4xx) or is gone (410), the URL
 * policy refused the target, Holdfast cannot sign (not configured), or the rows are gone or unstorable.
 */
const permanentDeliveryFailures = [
  WebhookFailure.NotConfigured,
  WebhookFailure.EndpointGone,
  WebhookFailure.Rejected,
  WebhookFailure.TargetRefused,
  FailureType.ChannelNotConfigured,
  ...PermanentFailures.step,
];

/**
 * The delivery step's profile, from the tenant's settings (5 attempts from 10 s, doubling, by
 * default): built at run time because each tenant chooses its own. The request gives up after
 * 30 s (WEBHOOK_TIMEOUT); the minute leaves room to read the rows and record the attempt.
 */
function deliveryActivities(retry: WebhookRetrySettings) {
  return proxyActivities<WebhookActivities>({
    startToCloseTimeout: '1 minute',
    retry: {
      initialInterval: `${retry.initialIntervalSeconds} seconds`,
      backoffCoefficient: 2,
      maximumAttempts: retry.maximumAttempts,
      nonRetryableErrorTypes: permanentDeliveryFailures,
    },
  });
}

/** The failure type and message an activity failed with, from its ApplicationFailure when it has one. */
function failureOf(error: ActivityFailure): { type: string; message: string } {
  const cause = error.cause;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? 'Error', message: cause.message };
  return { type: cause?.name ?? 'Error', message: cause?.message ?? error.message };
}

/**
 * Delivers one event to one webhook endpoint (workflow ID `webhook:{tenantId}:{endpointId}:{eventId}`).
 * Reads the tenant's retry profile, then POSTs the signed event with that profile's retries:
 * 2xx succeeds and resets the endpoint's consecutive failures; 410 disables the endpoint; other
 * 4xx fail at once; 408, 429 and 5xx are retried (429 and 503 after the receiver's Retry-After).
 * A delivery that fails for good counts against the endpoint, which the tenant's threshold
 * disables, and the tenant's admins are told. An endpoint disabled or deleted first: SKIPPED.
 * Holdfast's own misconfiguration (no key, a secret it cannot decrypt) ends NEEDS_ATTENTION
 * without counting against the endpoint, the delivery left PENDING for a replay.
 *
 * Never fails on a receiver's or the input's account: every such outcome ends the run with a
 * status in its result and state. Only a database outage longer than the retries fails the run.
 */
export async function webhookDeliveryWorkflow(input: WebhookDeliveryInput): Promise<WebhookDeliveryResult> {
  const { tenantId, deliveryId } = input;
  const state: WebhookDeliveryState = {
    tenantId,
    deliveryId,
    status: 'PREPARING',
    retry: null,
    skipReason: null,
    statusCode: null,
    failure: null,
    endpointDisabled: false,
  };
  setHandler(getWebhookDeliveryStateQuery, () => ({ ...state }));
  setCurrentDetails('reading the endpoint and its retry profile');

  const finish = (status: WebhookDeliveryResult['status']): WebhookDeliveryResult => {
    state.status = status;
    upsertSearchAttributes([{ key: FlowStatusKey, value: status }]);
    setCurrentDetails(finishedDetails(status));
    webhookDeliveryEnded(status);
    return { deliveryId, status, skipReason: state.skipReason, endpointDisabled: state.endpointDisabled };
  };

  const prepared = await prepareWebhookDelivery(input);
  if (prepared.status === 'SKIPPED') {
    state.skipReason = prepared.reason;
    if (prepared.reason === 'ENDPOINT_DISABLED')
      await settleWebhookDelivery({ tenantId, deliveryId, outcome: 'SKIPPED' });
    return finish('SKIPPED');
  }

  state.retry = prepared.retry;
  state.status = 'DELIVERING';
  setCurrentDetails(`delivering, up to ${prepared.retry.maximumAttempts} attempts`);
  const { deliverWebhook } = deliveryActivities(prepared.retry);
  try {
    const sent = await deliverWebhook.executeWithOptions(
      { summary: activitySummary.deliverWebhook(prepared.retry.maximumAttempts) },
      [{ tenantId, deliveryId }],
    );
    if (sent.outcome === 'SKIPPED') {
      state.skipReason = sent.reason;
      await settleWebhookDelivery({ tenantId, deliveryId, outcome: 'SKIPPED' });
      return finish('SKIPPED');
    }
    state.statusCode = sent.statusCode;
    await settleWebhookDelivery({ tenantId, deliveryId, outcome: 'SUCCEEDED' });
    return finish('SUCCEEDED');
  } catch (error) {
    if (!(error instanceof ActivityFailure)) throw error;
    state.failure = failureOf(error);
  }

  const { type, message } = state.failure;
  if (type === WebhookFailure.NotConfigured) {
    // Holdfast's configuration, not the receiver: settling would count a failure against the
    // endpoint, so the delivery stays PENDING (the activity noted why) for a replay after the fix.
    // Runs recorded before this type existed never reach this branch, so their commands are unchanged.
    return finish('NEEDS_ATTENTION');
  }
  if (type === WebhookFailure.EndpointGone) {
    await settleWebhookDelivery({ tenantId, deliveryId, outcome: 'ENDPOINT_GONE', error: message });
    state.endpointDisabled = true;
    return finish('ENDPOINT_GONE');
  }
  const settled = await settleWebhookDelivery({ tenantId, deliveryId, outcome: 'FAILED', error: message });
  if (settled.endpointId && settled.disabledByThresholdAt) {
    state.endpointDisabled = true;
    try {
      await notifyWebhookEndpointDisabled({
        tenantId,
        endpointId: settled.endpointId,
        disabledAt: settled.disabledByThresholdAt,
      });
    } catch (error) {
      // The endpoint stays disabled either way; a lost notice must not turn the delivery's outcome into a failure.
      if (!(error instanceof ActivityFailure)) throw error;
      log.warn('Telling the admins about the disabled endpoint failed', { failure: failureOf(error).type });
    }
  }
  return finish('FAILED');
}
