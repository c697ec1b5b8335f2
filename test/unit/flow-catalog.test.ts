import {
  flowByName,
  flowByWorkflowType,
  flowCatalog,
  needsAttentionStatuses,
  pausableFlowNames,
  statusCategory,
} from '../../domain/flow-catalog';
import type { OrderStatus } from '../../domain/orders';
import type { FanOutStatus } from '../../workflows/event-fan-out.contract';
import type { ExportStatus } from '../../workflows/export.contract';
import type { NotificationFlowStatus } from '../../workflows/notification.contract';
import type { ReportFlowStatus } from '../../workflows/report.contract';
import type { SequenceStatus } from '../../workflows/reminder-sequence.contract';
import type { OnboardingStatus } from '../../workflows/tenant-onboarding.contract';
import type { CascadeStatus } from '../../workflows/waitlist-cascade.contract';
import type { WebhookDeliveryStatus } from '../../workflows/webhook-delivery.contract';
import * as workflows from '../../workflows';

/**
 * Each flow's status type, as its contract declares it, listed once: adding a status to a contract
 * fails to compile here until the catalog (and so the stats, which count one status at a time) knows it.
 */
const declaredStatuses: Record<string, Record<string, true>> = {
  waitlist: {
    OFFERING: true,
    CONFIRMED: true,
    UNFILLED: true,
    CANCELLED: true,
    ALREADY_ASSIGNED: true,
    NEEDS_ATTENTION: true,
  } satisfies Record<CascadeStatus, true>,
  onboarding: {
    PROVISIONING: true,
    AWAITING_APPROVAL: true,
    COMPENSATING: true,
    ACTIVE: true,
    FAILED: true,
    REJECTED: true,
    CANCELLED: true,
  } satisfies Record<OnboardingStatus, true>,
  orders: {
    PENDING: true,
    ROUTING: true,
    ASSIGNED: true,
    NEEDS_ATTENTION: true,
    DISPATCHED: true,
    DELIVERED: true,
    PAID: true,
    REJECTED: true,
    CANCELLED: true,
  } satisfies Record<OrderStatus, true>,
  notifications: {
    SCHEDULED: true,
    PENDING: true,
    SENDING: true,
    SENT: true,
    FAILED: true,
    CANCELLED: true,
  } satisfies Record<NotificationFlowStatus, true>,
  events: {
    FANNING_OUT: true,
    COMPLETED: true,
    COMPLETED_WITH_FAILURES: true,
    EVENT_NOT_FOUND: true,
  } satisfies Record<FanOutStatus, true>,
  webhooks: {
    PREPARING: true,
    DELIVERING: true,
    SUCCEEDED: true,
    FAILED: true,
    ENDPOINT_GONE: true,
    SKIPPED: true,
    NEEDS_ATTENTION: true,
  } satisfies Record<WebhookDeliveryStatus, true>,
  reminders: { ACTIVE: true, COMPLETED: true, FINISHED: true, CANCELLED: true } satisfies Record<SequenceStatus, true>,
  reports: {
    QUEUED: true,
    RUNNING: true,
    COMPLETED: true,
    FAILED: true,
    CANCELLED: true,
  } satisfies Record<ReportFlowStatus, true>,
  exports: {
    QUEUED: true,
    RUNNING: true,
    COMPLETED: true,
    FAILED: true,
    CANCELLED: true,
  } satisfies Record<ExportStatus, true>,
};

describe('the flow catalog', () => {
  it('declares exactly the statuses each flow’s contract declares', () => {
    for (const [name, statuses] of Object.entries(declaredStatuses)) {
      expect({ name, statuses: Object.keys(flowByName(name)!.statuses).sort() }).toEqual({
        name,
        statuses: Object.keys(statuses).sort(),
      });
    }
  });

  it('has one entry per workflow the worker registers, by type and by unique short name', () => {
    const registered = Object.keys(workflows).sort();
    expect(flowCatalog.map((flow) => flow.workflowType).sort()).toEqual(registered);
    expect(new Set(flowCatalog.map((flow) => flow.name)).size).toBe(flowCatalog.length);
    for (const type of registered) expect(flowByWorkflowType(type)?.workflowType).toBe(type);
  });

  it('offers "do it now" actions only in statuses the flow declares, under names unique per flow', () => {
    for (const flow of flowCatalog) {
      expect(new Set(flow.actions.map((action) => action.name)).size).toBe(flow.actions.length);
      for (const action of flow.actions) {
        for (const status of action.whenStatus) expect(statusCategory(flow, status)).toBeDefined();
      }
    }
  });

  it('knows which statuses need a person, and lets tenants pause only their own flows', () => {
    expect(needsAttentionStatuses).toEqual(['NEEDS_ATTENTION']);
    for (const name of pausableFlowNames) expect(flowByName(name)!.scope).toBe('tenant');
    expect(pausableFlowNames).not.toContain('onboarding');
    expect(statusCategory(flowByName('orders')!, 'toString')).toBeUndefined();
  });
});
