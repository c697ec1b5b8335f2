import { defineQuery } from '@temporalio/workflow';
import { tenantWorkPriority, type TenantFairness } from '../domain/tenant-fairness';
import { WorkPriority } from '../domain/work-priority';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from './search-attributes';
import { webhookDeliveryMetadata } from './summaries';

/**
 * The webhook delivery's contract: its input, state and result, its workflow ID, the failure
 * types its delivery step ends with and the options every start uses. One run delivers one event
 * to one endpoint; the input carries row IDs only, so the event's data, the URL and the secret
 * stay in PostgreSQL and out of the workflow's history.
 */

/**
 * One delivery per (endpoint, event). Every part is a row ID (UUID) or the tenant's ID, never a
 * URL or the event's content, so the ID carries no personal data.
 */
export function webhookDeliveryId(tenantId: string, endpointId: string, eventId: string): string {
  return `webhook:${tenantId}:${endpointId}:${eventId}`;
}

/**
 * How an event's fan-out (or the endpoint's test) starts a delivery (the task queue comes from
 * configuration): a repeat while it runs joins it, and a closed delivery is never started again by
 * the same event, so an event reaches an endpoint once. Only an explicit replay starts a new run
 * ({@link webhookReplayStartOptions}).
 */
export function webhookDeliveryStartOptions(
  tenantId: string,
  endpointId: string,
  eventId: string,
  fairness?: TenantFairness,
) {
  return {
    workflowId: webhookDeliveryId(tenantId, endpointId, eventId),
    ...webhookDeliveryMetadata({ tenantId, endpointId, eventId }),
    // A webhook is a partner system waiting: high.
    priority: tenantWorkPriority(WorkPriority.high, tenantId, fairness),
    workflowIdConflictPolicy: 'USE_EXISTING' as const,
    workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
    typedSearchAttributes: [
      { key: TenantIdKey, value: tenantId },
      { key: BusinessKeyKey, value: `${endpointId}:${eventId}` },
      { key: FlowStatusKey, value: 'DELIVERING' },
    ],
  };
}

/**
 * A tenant admin's replay: a new run of the same workflow ID once the previous one has closed.
 * While a run is open the start fails (the API answers 409), so a replay never overlaps a delivery.
 */
export function webhookReplayStartOptions(
  tenantId: string,
  endpointId: string,
  eventId: string,
  fairness?: TenantFairness,
) {
  return {
    ...webhookDeliveryStartOptions(tenantId, endpointId, eventId, fairness),
    ...webhookDeliveryMetadata({ tenantId, endpointId, eventId, replay: true }),
    workflowIdConflictPolicy: 'FAIL' as const,
    workflowIdReusePolicy: 'ALLOW_DUPLICATE' as const,
  };
}

/** Failure types of the delivery step besides the shared ones (workflows/errors.ts). */
export const WebhookFailure = {
  /** The receiver answered 410 Gone: the endpoint is disabled and nothing more is sent to it. */
  EndpointGone: 'WebhookEndpointGone',
  /** The receiver answered a 4xx other than 408, 410 and 429: the same request fails the same way. */
  Rejected: 'WebhookRejected',
  /** The URL or an address it resolves to is refused by the URL policy (server-side request forgery). */
  TargetRefused: 'WebhookTargetRefused',
  /**
   * Holdfast's own configuration prevents the delivery (no WEBHOOK_SECRET_KEY on the worker, or a
   * signing secret it cannot decrypt): an operator's fix, so it never counts against the endpoint.
   * The run ends NEEDS_ATTENTION and the delivery stays PENDING, to be replayed after the fix.
   */
  NotConfigured: 'WebhookNotConfigured',
  /** The receiver answered 408, 429 or 5xx, or could not be reached; retried with the tenant's backoff. */
  Unavailable: 'WebhookUnavailable',
} as const;
export type WebhookFailure = (typeof WebhookFailure)[keyof typeof WebhookFailure];

export interface WebhookDeliveryInput {
  tenantId: string;
  /** The WebhookDelivery row; it names the endpoint and the event. */
  deliveryId: string;
  /** Set by a tenant admin's replay: the delivery is sent again even if it had settled. */
  replay?: boolean;
}

/**
 * DELIVERING: attempts are being made. SUCCEEDED: the receiver answered 2xx. FAILED: the last
 * attempt failed (or the receiver refused for good). ENDPOINT_GONE: the receiver answered 410 and
 * the endpoint was disabled. SKIPPED: nothing was sent, because the endpoint was disabled or
 * deleted before the delivery, or the delivery had already settled. NEEDS_ATTENTION: Holdfast's
 * own configuration stopped it ({@link WebhookFailure.NotConfigured}); the delivery stays PENDING
 * with the cause in its lastError, and nothing counted against the endpoint.
 */
export type WebhookDeliveryStatus =
  'PREPARING' | 'DELIVERING' | 'SUCCEEDED' | 'FAILED' | 'ENDPOINT_GONE' | 'SKIPPED' | 'NEEDS_ATTENTION';

/** Why a delivery was skipped without sending. */
export type WebhookSkipReason = 'ENDPOINT_DISABLED' | 'ENDPOINT_DELETED' | 'ALREADY_SETTLED';

/** The tenant's retry profile, read in the run's first step. */
export interface WebhookRetrySettings {
  maximumAttempts: number;
  initialIntervalSeconds: number;
}

export interface WebhookDeliveryState {
  tenantId: string;
  deliveryId: string;
  status: WebhookDeliveryStatus;
  retry: WebhookRetrySettings | null;
  skipReason: WebhookSkipReason | null;
  /** The receiver's status code on success, or the failure type and message after the last attempt. */
  statusCode: number | null;
  failure: { type: string; message: string } | null;
  /** Set when this delivery's failure disabled the endpoint (410, or the tenant's threshold). */
  endpointDisabled: boolean;
}

export interface WebhookDeliveryResult {
  deliveryId: string;
  status: Exclude<WebhookDeliveryStatus, 'PREPARING' | 'DELIVERING'>;
  skipReason: WebhookSkipReason | null;
  endpointDisabled: boolean;
}

/** The delivery's status, retry profile and failure. */
export const getWebhookDeliveryStateQuery = defineQuery<WebhookDeliveryState>('getWebhookDeliveryState');
