import { defineQuery } from '@temporalio/workflow';
import { tenantWorkPriority, type TenantFairness } from '../domain/tenant-fairness';
import { WorkPriority } from '../domain/work-priority';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from './search-attributes';
import { eventFanOutMetadata, outboxSweepMetadata } from './summaries';

/**
 * The event fan-out's contract: its input, state and result, its workflow ID, the options every
 * start uses, and the outbox sweep's Schedule that starts fan-outs a crash left unstarted.
 *
 * One fan-out per stored event (OutboxEvent row). It hands the event to every notification rule
 * and every webhook endpoint that wants it. Its input, plan and state carry row IDs only: the
 * event's data (often personal) stays in PostgreSQL and the activities read it there.
 */

/**
 * The fan-out of one event. The row's UUID, never the event's key: a key may be a tenant's free
 * text. The tenant comes first, so IDs cannot collide across tenants.
 */
export function eventFanOutId(tenantId: string, eventId: string): string {
  return `event:${tenantId}:${eventId}`;
}

/**
 * How an event's fan-out is started (the task queue comes from configuration): a repeat while it
 * runs joins it, and one that completed is never run again, so reporting an event three times fans
 * it out once. A fan-out that failed may be started afresh: every step it takes is idempotent.
 */
export function eventFanOutStartOptions(
  tenantId: string,
  eventId: string,
  fairness?: TenantFairness,
  about: { eventType?: string } = {},
) {
  return {
    workflowId: eventFanOutId(tenantId, eventId),
    ...eventFanOutMetadata({ tenantId, eventId, eventType: about.eventType }),
    // A fan-out hands an event to its webhooks and rules: high, as the webhooks it starts.
    priority: tenantWorkPriority(WorkPriority.high, tenantId, fairness),
    workflowIdConflictPolicy: 'USE_EXISTING' as const,
    workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY' as const,
    typedSearchAttributes: [
      { key: TenantIdKey, value: tenantId },
      { key: BusinessKeyKey, value: eventId },
      { key: FlowStatusKey, value: 'FANNING_OUT' },
    ],
  };
}

export interface EventFanOutInput {
  tenantId: string;
  /** The OutboxEvent row's ID. */
  eventId: string;
}

/** What the planning step found: the rules and endpoints that want the event, as IDs. */
export interface FanOutPlan {
  eventId: string;
  eventType: string;
  ruleIds: string[];
  endpointIds: string[];
}

/**
 * What became of one rule: ENQUEUED (its notification exists, once per event and rule), SKIPPED
 * (the data had no valid recipient, or the rule was disabled or deleted meanwhile: nothing to retry),
 * or FAILED (a step failed for good; `reason` names the failure type).
 */
export interface RuleOutcome {
  ruleId: string;
  outcome: 'PENDING' | 'ENQUEUED' | 'SKIPPED' | 'FAILED';
  notificationId: string | null;
  reason: string | null;
}

/** What became of one endpoint: its delivery exists (once per event and endpoint), or a step failed for good. */
export interface DeliveryOutcome {
  endpointId: string;
  outcome: 'PENDING' | 'ENQUEUED' | 'FAILED';
  deliveryId: string | null;
  workflowId: string | null;
  reason: string | null;
}

/**
 * FANNING_OUT while it works; COMPLETED when every rule and endpoint was handled (some may be
 * SKIPPED); COMPLETED_WITH_FAILURES when some failed for good (their reasons are in the state);
 * EVENT_NOT_FOUND when the event row is gone (the tenant deleted it, or retention did).
 */
export type FanOutStatus = 'FANNING_OUT' | 'COMPLETED' | 'COMPLETED_WITH_FAILURES' | 'EVENT_NOT_FOUND';

/** What `getFanOutState` answers, and the workflow's result. */
export interface EventFanOutState {
  tenantId: string;
  eventId: string;
  eventType: string | null;
  status: FanOutStatus;
  rules: RuleOutcome[];
  deliveries: DeliveryOutcome[];
}

export type EventFanOutResult = EventFanOutState;

/** The fan-out's state: the rules it matched and the notifications and deliveries it made. */
export const getFanOutStateQuery = defineQuery<EventFanOutState>('getFanOutState');

/** The Schedule that starts fan-outs for events whose own start was lost (a crash after the commit). */
export const outboxSweepScheduleId = 'holdfast:event-outbox-sweep';

/** The workflow ID the Schedule gives each run; Temporal appends the run's scheduled time to it. */
export const outboxSweepWorkflowId = 'events:outbox-sweep';

/** An event still unpublished this long after it was recorded is taken to have lost its start. */
export const OUTBOX_SWEEP_GRACE_SECONDS = 30;

/** Events started per sweep; a longer backlog is taken up by the next minute's run. */
export const OUTBOX_SWEEP_BATCH = 500;

export interface OutboxSweepInput {
  /** Sweep one tenant only (operators and tests); every tenant otherwise. */
  tenantId?: string;
}

export interface OutboxSweepResult {
  /** Fan-outs the sweep started (or found already started) for unpublished events. */
  published: number;
}

/**
 * The sweep's Schedule options (the task queue comes from configuration): every minute; a sweep
 * still running when the next is due makes that one skip, and missed runs are not caught up (the
 * next run sweeps everything anyway).
 */
export function outboxSweepScheduleOptions(taskQueue: string) {
  return {
    scheduleId: outboxSweepScheduleId,
    spec: { intervals: [{ every: '1 minute' }] },
    action: {
      type: 'startWorkflow' as const,
      workflowType: 'eventOutboxSweepWorkflow',
      workflowId: outboxSweepWorkflowId,
      taskQueue,
      ...outboxSweepMetadata(),
      args: [{}] as [OutboxSweepInput],
      typedSearchAttributes: [
        { key: TenantIdKey, value: 'platform' },
        { key: BusinessKeyKey, value: outboxSweepWorkflowId },
        { key: FlowStatusKey, value: 'SCHEDULED' },
      ],
    },
    policies: { overlap: 'SKIP' as const, catchupWindow: '1 minute' },
    memo: { purpose: 'Starts event fan-outs whose start was lost between a commit and the start' },
  };
}
