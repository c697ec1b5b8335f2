/**
 * Every kind of workflow Holdfast runs, as operators see them: the short name the operations API,
 * the console and the metrics use (`waitlist`, `orders`, …), its workflow type, the FlowStatus
 * values it declares and what each means for an operator, and the "do it now" actions it takes.
 *
 * Pure data: the API's stats count one FlowStatus at a time from here (visibility cannot GROUP BY a
 * custom search attribute), the dead-letter inbox and the console read the categories, and a test
 * checks it against the status types each flow's contract declares.
 */

/**
 * What a running flow in a status is doing, for an operator:
 * - `working`: steps are running (a retrying activity shows up as `retrying` in the stats instead);
 * - `waiting-on-person`: a customer, vendor, admin or operator must answer;
 * - `waiting-on-timer`: nothing to do until a time comes (a scheduled send, the next reminder);
 * - `needs-attention`: a step failed for good and a person must act;
 * - `finished`: the flow has settled; its workflow is closed or about to close.
 */
export type StatusCategory = 'working' | 'waiting-on-person' | 'waiting-on-timer' | 'needs-attention' | 'finished';

export const statusCategories: readonly StatusCategory[] = [
  'working',
  'waiting-on-person',
  'waiting-on-timer',
  'needs-attention',
  'finished',
];

/**
 * An action that does now what the flow would do when a timer fires, as an Update on the flow.
 * The Update takes `{ actor: string }` and answers a JSON object.
 */
export interface FlowAction {
  /** The action's name in the API: `POST /api/v1/workflows/:workflowId/actions/:action`. */
  name: string;
  /** The Update the flow's workflow handles. */
  update: string;
  label: string;
  description: string;
  /** The FlowStatus values in which the action applies; the Update refuses it otherwise. */
  whenStatus: readonly string[];
}

export interface FlowDefinition {
  /** The short name in URLs, stats and metrics. */
  name: string;
  label: string;
  workflowType: string;
  /** Tenant flows are scoped by TenantId; platform flows belong to the platform tenant. */
  scope: 'tenant' | 'platform';
  /** The query that answers the flow's business state, for the workflow description. */
  stateQuery?: string;
  /** Every FlowStatus value the flow sets, and what it means. */
  statuses: Readonly<Record<string, StatusCategory>>;
  /**
   * Whether a tenant may pause the flow's new starts (POST /api/v1/flows/:name/pause): the API
   * routes that start it answer 423 while it is paused, and the tenant's Schedules of it pause.
   */
  pausable: boolean;
  actions: readonly FlowAction[];
}

const flows = [
  {
    name: 'waitlist',
    label: 'Waitlist cascade',
    workflowType: 'waitlistCascadeWorkflow',
    scope: 'tenant',
    stateQuery: 'getCascadeState',
    statuses: {
      OFFERING: 'waiting-on-person',
      CONFIRMED: 'finished',
      UNFILLED: 'finished',
      CANCELLED: 'finished',
      ALREADY_ASSIGNED: 'finished',
      NEEDS_ATTENTION: 'needs-attention',
    },
    pausable: true,
    actions: [
      {
        name: 'expire-hold',
        update: 'expireHoldNow',
        label: 'Expire the hold now',
        description: 'Ends the open hold as if its time had run out, and offers the slot to the next person',
        whenStatus: ['OFFERING'],
      },
    ],
  },
  {
    name: 'onboarding',
    label: 'Tenant onboarding',
    workflowType: 'tenantOnboardingWorkflow',
    scope: 'tenant',
    stateQuery: 'getOnboardingProgress',
    statuses: {
      PROVISIONING: 'working',
      AWAITING_APPROVAL: 'waiting-on-person',
      COMPENSATING: 'working',
      ACTIVE: 'finished',
      FAILED: 'finished',
      REJECTED: 'finished',
      CANCELLED: 'finished',
    },
    pausable: false,
    actions: [],
  },
  {
    name: 'orders',
    label: 'Order routing',
    workflowType: 'orderRoutingWorkflow',
    scope: 'tenant',
    stateQuery: 'getOrderState',
    statuses: {
      PENDING: 'working',
      ROUTING: 'waiting-on-person',
      ASSIGNED: 'waiting-on-person',
      NEEDS_ATTENTION: 'needs-attention',
      DISPATCHED: 'waiting-on-person',
      DELIVERED: 'waiting-on-timer',
      PAID: 'finished',
      REJECTED: 'finished',
      CANCELLED: 'finished',
    },
    pausable: true,
    actions: [
      {
        name: 'expire-vendor-offer',
        update: 'expireVendorOfferNow',
        label: 'Expire the vendor offer now',
        description:
          'Ends the open offer to a vendor as if its time had run out, and offers the order to the next vendor',
        whenStatus: ['ROUTING'],
      },
    ],
  },
  {
    name: 'notifications',
    label: 'Notifications',
    workflowType: 'notificationWorkflow',
    scope: 'tenant',
    stateQuery: 'getNotificationState',
    statuses: {
      SCHEDULED: 'waiting-on-timer',
      PENDING: 'working',
      SENDING: 'working',
      SENT: 'finished',
      FAILED: 'finished',
      CANCELLED: 'finished',
    },
    pausable: true,
    actions: [
      {
        name: 'send-now',
        update: 'sendNow',
        label: 'Send now',
        description: 'Sends a scheduled notification now instead of at its send time',
        whenStatus: ['SCHEDULED'],
      },
    ],
  },
  {
    name: 'events',
    label: 'Event fan-out',
    workflowType: 'eventFanOutWorkflow',
    scope: 'tenant',
    stateQuery: 'getFanOutState',
    statuses: {
      FANNING_OUT: 'working',
      COMPLETED: 'finished',
      COMPLETED_WITH_FAILURES: 'finished',
      EVENT_NOT_FOUND: 'finished',
    },
    pausable: true,
    actions: [],
  },
  {
    name: 'webhooks',
    label: 'Webhook deliveries',
    workflowType: 'webhookDeliveryWorkflow',
    scope: 'tenant',
    stateQuery: 'getWebhookDeliveryState',
    statuses: {
      PREPARING: 'working',
      DELIVERING: 'working',
      SUCCEEDED: 'finished',
      FAILED: 'finished',
      ENDPOINT_GONE: 'finished',
      SKIPPED: 'finished',
      NEEDS_ATTENTION: 'needs-attention',
    },
    pausable: false,
    actions: [],
  },
  {
    name: 'reminders',
    label: 'Reminder sequences',
    workflowType: 'reminderSequenceWorkflow',
    scope: 'tenant',
    stateQuery: 'getReminderState',
    statuses: {
      ACTIVE: 'waiting-on-timer',
      COMPLETED: 'finished',
      FINISHED: 'finished',
      CANCELLED: 'finished',
    },
    pausable: true,
    actions: [
      {
        name: 'send-next-reminder',
        update: 'sendNextReminderNow',
        label: 'Send the next reminder now',
        description: 'Sends the next scheduled step of the sequence now instead of at its time',
        whenStatus: ['ACTIVE'],
      },
    ],
  },
  {
    name: 'reports',
    label: 'Reports',
    workflowType: 'reportWorkflow',
    scope: 'tenant',
    stateQuery: 'reportState',
    statuses: {
      QUEUED: 'working',
      RUNNING: 'working',
      COMPLETED: 'finished',
      FAILED: 'finished',
      CANCELLED: 'finished',
    },
    pausable: true,
    actions: [],
  },
  {
    name: 'exports',
    label: 'Exports',
    workflowType: 'exportWorkflow',
    scope: 'tenant',
    stateQuery: 'exportState',
    statuses: {
      QUEUED: 'working',
      RUNNING: 'working',
      COMPLETED: 'finished',
      FAILED: 'finished',
      CANCELLED: 'finished',
    },
    pausable: true,
    actions: [],
  },
  {
    name: 'export-lane',
    label: 'Export lane',
    workflowType: 'exportLaneWorkflow',
    scope: 'tenant',
    stateQuery: 'exportLaneState',
    statuses: { RUNNING: 'working', IDLE: 'finished' },
    pausable: false,
    actions: [],
  },
  {
    name: 'cleanup',
    label: 'Daily cleanup',
    workflowType: 'dailyCleanupWorkflow',
    scope: 'platform',
    statuses: { SCHEDULED: 'working', RUNNING: 'working', COMPLETED: 'finished' },
    pausable: false,
    actions: [],
  },
  {
    name: 'event-outbox-sweep',
    label: 'Event outbox sweep',
    workflowType: 'eventOutboxSweepWorkflow',
    scope: 'platform',
    // The sweep keeps the status its Schedule starts it with.
    statuses: { SCHEDULED: 'working' },
    pausable: false,
    actions: [],
  },
] as const satisfies readonly FlowDefinition[];

export type FlowName = (typeof flows)[number]['name'];

export const flowCatalog: readonly FlowDefinition[] = flows;

export const flowNames: FlowName[] = flows.map((flow) => flow.name);

/** The flows a tenant may pause. */
export const pausableFlowNames: FlowName[] = flows.filter((flow) => flow.pausable).map((flow) => flow.name);

export function flowByName(name: string): FlowDefinition | undefined {
  return flowCatalog.find((flow) => flow.name === name);
}

export function flowByWorkflowType(workflowType: string): FlowDefinition | undefined {
  return flowCatalog.find((flow) => flow.workflowType === workflowType);
}

/** The category of `status` in `flow`, or undefined for a value the flow does not declare. */
export function statusCategory(flow: FlowDefinition, status: string): StatusCategory | undefined {
  return Object.hasOwn(flow.statuses, status) ? flow.statuses[status] : undefined;
}

/** The FlowStatus values across flows that mean a person must act. */
export const needsAttentionStatuses = [
  ...new Set(
    flowCatalog.flatMap((flow) =>
      Object.entries(flow.statuses)
        .filter(([, category]) => category === 'needs-attention')
        .map(([status]) => status),
    ),
  ),
];
