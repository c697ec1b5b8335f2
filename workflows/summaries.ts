/**
 * The one-line summaries and short details the Temporal Web UI and CLI show for Holdfast's flows:
 * each workflow's static summary and details (set at its start), its current details (updated as it
 * moves, answered by the built-in `__temporal_workflow_metadata` query) and the summaries of its
 * activities and timers.
 *
 * User metadata is shown to every operator, so these texts carry IDs, business keys, enums, counts
 * and UTC times only: never a person's name, email or phone, nor any text a user typed. Candidates
 * and vendors are named by their position in the cascade. Codes that come from rows (a template
 * key, an event type, a reminder's subject type) pass through {@link codeLabel}, which shows only
 * the codes Holdfast itself defines ({@link knownCodes}): a tenant's own words become `custom`.
 *
 * Pure: imported by workflow code and by the API alike.
 */

import { REMINDER_KINDS } from '../domain/payment-reminders';
import { CREATED_KIND, STANDARD_KINDS } from '../domain/reminder-plan';
import { reportFormats, reportTypes } from '../domain/reports';
import { templateKinds } from '../domain/templates/sources';
import type { CompensationName, OnboardingStepName } from './tenant-onboarding.contract';

/** What a start (or a Schedule's action) shows in the Web UI's list and on the workflow's page. */
export interface FlowMetadata {
  /** One line. */
  staticSummary: string;
  /** A few lines of Temporal markdown. */
  staticDetails: string;
}

const weekdays = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const twoDigits = (value: number) => String(value).padStart(2, '0');

function parsed(iso: string | null | undefined): Date | undefined {
  if (!iso) return undefined;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** `14:45 UTC`; `?` for a missing or unreadable instant. */
export function utcTime(iso: string | null | undefined): string {
  const date = parsed(iso);
  if (!date) return '?';
  return `${twoDigits(date.getUTCHours())}:${twoDigits(date.getUTCMinutes())} UTC`;
}

/** `Tue 2 Dec 14:30 UTC`; `?` for a missing or unreadable instant. */
export function utcDateTime(iso: string | null | undefined): string {
  const date = parsed(iso);
  if (!date) return '?';
  const day = `${weekdays[date.getUTCDay()]} ${date.getUTCDate()} ${months[date.getUTCMonth()]}`;
  return `${day} ${utcTime(iso)}`;
}

/** `2026-12-02T14:45Z`: ISO at minute precision, for details. */
export function utcIsoMinute(iso: string | null | undefined): string {
  const date = parsed(iso);
  return date ? `${date.toISOString().slice(0, 16)}Z` : '?';
}

/**
 * The template of a notification an API caller wrote itself (activities/notification-requests.ts
 * stores its subject and text under this name).
 */
export const DIRECT_CONTENT_TEMPLATE = '(content)';

/**
 * The codes Holdfast defines, by what they name: only these are shown as they are written. A
 * tenant chooses its own event types, reminder kinds, reminder subjects and template names, and
 * any of them may be a word like a person's name ("Lovelace"), so those are shown as `custom`.
 */
export const knownCodes = {
  /** The template kinds Holdfast ships (domain/templates/sources.ts). */
  template: [...templateKinds.keys()],
  /** The events Holdfast's flows publish (HOLDFAST_EVENT_TYPES in domain/events.ts, which needs node:crypto). */
  eventType: [
    'offer.accepted',
    'slot.unfilled',
    'tenant.activated',
    'order.assigned',
    'order.delivered',
    'payment.received',
    'notification.failed',
    'reminder.sent',
    'reminder.completed',
    'reminder.finished',
    'webhook.test',
    'export.completed',
    'report.completed',
  ],
  /**
   * The subjects Holdfast's own events and files name, and the business subjects its shipped
   * templates and docs are written for (settlements, invoices, tickets).
   */
  subjectType: [
    'order',
    'slot',
    'tenant',
    'notification',
    'webhook',
    'export',
    'report',
    'settlement',
    'invoice',
    'ticket',
  ],
  /** A reminder sequence's step kinds Holdfast names; a tenant may add its own in the same form. */
  reminderKind: [CREATED_KIND, ...STANDARD_KINDS],
  /** The payment reminders of a delivered order. */
  paymentReminderKind: [...REMINDER_KINDS],
  reportType: [...reportTypes],
  reportFormat: [...reportFormats],
  /** The plans (domain/work-priority.ts `FairnessTier`). */
  tier: ['free', 'professional', 'enterprise'],
  channel: ['EMAIL', 'SMS', 'WHATSAPP', 'PUSH'],
} satisfies Record<string, string[]>;

export type CodeList = keyof typeof knownCodes;

/** The statuses and outcomes Holdfast's flows set themselves: UPPER_SNAKE, at most 40 characters. */
const enumCode = /^[A-Z][A-Z0-9]{0,39}(?:_[A-Z0-9]+)*$/;

/**
 * A code as it may appear in a summary. With a `list`, only a code of {@link knownCodes}[list];
 * without one, an UPPER_SNAKE status or outcome the flow itself set (never a row's free text).
 * Anything else — a tenant's own word, a name, an email, a phone number — is shown as `custom`.
 */
export function codeLabel(value: string | null | undefined, list?: CodeList): string {
  if (!value) return 'custom';
  if (list) return (knownCodes[list] as string[]).includes(value) ? value : 'custom';
  return value.length <= 40 && enumCode.test(value) && !/\d{6}/.test(value) ? value : 'custom';
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The short order reference customers and vendors see: the first block of the order's UUID. */
export function orderRef(orderId: string): string {
  return `ORD-${orderId.slice(0, 8).toUpperCase()}`;
}

const plural = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

/** Temporal markdown: one `**label** value` line per entry, skipping empty values. */
function detailLines(lines: [label: string, value: string | number | null | undefined][]): string {
  return lines
    .filter(([, value]) => value !== undefined && value !== null && value !== '')
    .map(([label, value]) => `**${label}:** ${value}`)
    .join('\n');
}

const id = (value: string) => `\`${value}\``;

// ——— Static summaries and details, one builder per flow ———

export interface WaitlistAbout {
  tenantId: string;
  slotId: string;
  /** When the slot starts (ISO); some slots have none. */
  startsAt?: string | null;
  /** Entries WAITING when the slot was released. */
  waiting?: number;
}

export function waitlistCascadeMetadata({ tenantId, slotId, startsAt, waiting }: WaitlistAbout): FlowMetadata {
  const when = startsAt ? utcDateTime(startsAt) : id(slotId);
  const count = waiting === undefined ? '' : ` — ${waiting} waiting`;
  return {
    staticSummary: `Waitlist for slot ${when}${count}`,
    staticDetails: detailLines([
      ['Flow', 'waitlist cascade: offers the freed slot to one waiting candidate at a time'],
      ['Tenant', id(tenantId)],
      ['Slot', id(slotId)],
      ['Starts', startsAt ? utcIsoMinute(startsAt) : undefined],
      ['Waiting at release', waiting],
    ]),
  };
}

export function orderRoutingMetadata({ tenantId, orderId }: { tenantId: string; orderId: string }): FlowMetadata {
  return {
    staticSummary: `Order ${orderRef(orderId)} — routing to vendors`,
    staticDetails: detailLines([
      ['Flow', 'order routing: offers the order to vendors in turn, then follows fulfilment and payment'],
      ['Tenant', id(tenantId)],
      ['Order', id(orderId)],
    ]),
  };
}

export function tenantOnboardingMetadata({
  tenantId,
  slug,
  tier,
}: {
  tenantId: string;
  slug: string;
  tier?: string;
}): FlowMetadata {
  return {
    staticSummary: `Onboarding ${slug}${tier ? ` (${codeLabel(tier, 'tier')})` : ''}`,
    staticDetails: detailLines([
      ['Flow', 'tenant onboarding: reserve, admin user, approval, billing, defaults, welcome, activation'],
      ['Tenant', id(tenantId)],
      ['Slug', slug],
      ['Plan', tier ? codeLabel(tier, 'tier') : undefined],
    ]),
  };
}

const channelWords: Record<string, string> = { EMAIL: 'email', SMS: 'SMS', WHATSAPP: 'WhatsApp', PUSH: 'push' };

/** A notification's template: a shipped kind by name, `direct message` for content an API caller wrote. */
function templateLabel(template: string): string {
  return template === DIRECT_CONTENT_TEMPLATE ? 'direct message' : codeLabel(template, 'template');
}

export function notificationMetadata({
  tenantId,
  notificationId,
  template,
  channel,
  sendAt,
  priority,
}: {
  tenantId: string;
  notificationId: string;
  template?: string;
  channel?: string;
  sendAt?: string;
  priority?: number;
}): FlowMetadata {
  const by = channel ? ` by ${channelWords[channel] ?? codeLabel(channel, 'channel')}` : '';
  const at = sendAt ? ` at ${utcDateTime(sendAt)}` : '';
  const what = template ? templateLabel(template) : id(notificationId);
  return {
    staticSummary: `Notification ${what}${by}${at}`,
    staticDetails: detailLines([
      ['Flow', 'notification: waits for its send time, then delivers with retries'],
      ['Tenant', id(tenantId)],
      ['Notification', id(notificationId)],
      ['Template', template ? templateLabel(template) : undefined],
      ['Channel', channel ? codeLabel(channel, 'channel') : undefined],
      ['Send at', sendAt ? utcIsoMinute(sendAt) : undefined],
      ['Priority', priority],
    ]),
  };
}

export function reminderSequenceMetadata({
  tenantId,
  reminderId,
  subjectType,
  subjectId,
  dueAt,
  steps,
}: {
  tenantId: string;
  reminderId: string;
  subjectType?: string;
  subjectId?: string;
  dueAt?: string;
  steps?: number;
}): FlowMetadata {
  // A subject's ID is the tenant's own text, shown only when it is an order's UUID.
  const subjectLabel = subjectType ? codeLabel(subjectType, 'subjectType') : '';
  const subject =
    subjectType === 'order' && subjectId && uuidPattern.test(subjectId)
      ? `order ${orderRef(subjectId)}`
      : subjectLabel === 'custom'
        ? 'a custom subject'
        : subjectLabel;
  const due = dueAt ? `, due ${utcDateTime(dueAt)}` : '';
  return {
    staticSummary: `${subject ? `Reminders for ${subject}` : `Reminder ${id(reminderId)}`}${due}`,
    staticDetails: detailLines([
      ['Flow', 'reminder sequence: sends each step at its time before or after the due date'],
      ['Tenant', id(tenantId)],
      ['Reminder', id(reminderId)],
      ['Due', dueAt ? utcIsoMinute(dueAt) : undefined],
      ['Step rules', steps],
    ]),
  };
}

export function reportMetadata({
  tenantId,
  reportId,
  scheduleId,
  type,
  format,
}: {
  tenantId: string;
  reportId?: string;
  scheduleId?: string;
  type?: string;
  format?: string;
}): FlowMetadata {
  const what = [format && codeLabel(format, 'reportFormat'), type && codeLabel(type, 'reportType')]
    .filter(Boolean)
    .join(' ');
  return {
    staticSummary: scheduleId
      ? `Scheduled ${what ? `${what} ` : ''}report (schedule ${id(scheduleId)})`
      : `Report ${what ? `${what} ` : ''}${id(reportId ?? '?')}`,
    staticDetails: detailLines([
      [
        'Flow',
        scheduleId ? 'scheduled report: one run of a tenant report schedule' : 'report requested through the API',
      ],
      ['Tenant', id(tenantId)],
      ['Report', reportId ? id(reportId) : undefined],
      ['Schedule', scheduleId ? id(scheduleId) : undefined],
      ['Type', type ? codeLabel(type, 'reportType') : undefined],
      ['Format', format ? codeLabel(format, 'reportFormat') : undefined],
    ]),
  };
}

export function exportMetadata({
  tenantId,
  exportId,
  tier,
}: {
  tenantId: string;
  exportId: string;
  tier?: string;
}): FlowMetadata {
  return {
    staticSummary: `Export ${id(exportId)}${tier ? ` (${codeLabel(tier, 'tier')} plan)` : ''}`,
    staticDetails: detailLines([
      ['Flow', "export: waits for a slot in the tenant's export lane, then writes the file"],
      ['Tenant', id(tenantId)],
      ['Export', id(exportId)],
      ['Plan', tier ? codeLabel(tier, 'tier') : undefined],
    ]),
  };
}

export function exportLaneMetadata({ tenantId, tier }: { tenantId: string; tier?: string }): FlowMetadata {
  return {
    staticSummary: `Export lane for tenant ${id(tenantId)}`,
    staticDetails: detailLines([
      ['Flow', "export lane: grants the tenant's exports their slots, a few at a time"],
      ['Tenant', id(tenantId)],
      ['Plan', tier ? codeLabel(tier, 'tier') : undefined],
    ]),
  };
}

/** A Holdfast event's type; undefined for none or a tenant's own type, which only its ID stands for. */
function eventTypeLabel(eventType: string | undefined): string | undefined {
  const label = codeLabel(eventType, 'eventType');
  return label === 'custom' ? undefined : label;
}

export function eventFanOutMetadata({
  tenantId,
  eventId,
  eventType,
}: {
  tenantId: string;
  eventId: string;
  eventType?: string;
}): FlowMetadata {
  return {
    staticSummary: `Event ${eventTypeLabel(eventType) ?? id(eventId)} — fan-out to rules and webhooks`,
    staticDetails: detailLines([
      ['Flow', 'event fan-out: hands one stored event to every matching notification rule and webhook'],
      ['Tenant', id(tenantId)],
      ['Event', id(eventId)],
      ['Type', eventType ? codeLabel(eventType, 'eventType') : undefined],
    ]),
  };
}

export function webhookDeliveryMetadata({
  tenantId,
  endpointId,
  eventId,
  replay = false,
}: {
  tenantId: string;
  endpointId: string;
  eventId: string;
  replay?: boolean;
}): FlowMetadata {
  return {
    staticSummary: `${replay ? 'Webhook replay' : 'Webhook'} of event ${id(eventId)} to endpoint ${id(endpointId)}`,
    staticDetails: detailLines([
      ['Flow', replay ? 'webhook replay asked for by a tenant admin' : 'webhook delivery with retries'],
      ['Tenant', id(tenantId)],
      ['Endpoint', id(endpointId)],
      ['Event', id(eventId)],
    ]),
  };
}

export function dailyCleanupMetadata(): FlowMetadata {
  return {
    staticSummary: 'Daily cleanup — purge past retention, record dead letters, expire files',
    staticDetails: detailLines([
      ['Flow', 'daily cleanup, started by the Schedule every day at 02:00 UTC'],
      ['Tenants', 'all'],
    ]),
  };
}

export function outboxSweepMetadata(): FlowMetadata {
  return {
    staticSummary: 'Outbox sweep — start fan-outs of events whose start was lost',
    staticDetails: detailLines([
      ['Flow', 'outbox sweep, started by the Schedule every minute'],
      ['Tenants', 'all'],
    ]),
  };
}

// ——— Current details: what each flow is doing now ———

/**
 * The memo entry in which a flow that continues as new keeps its one-line summary. SDK 1.24's
 * continue-as-new cannot set a static summary, so the runs after the first show none in the Web
 * UI; Temporal carries the memo to every run, and those runs start their current details with it.
 */
export const SUMMARY_MEMO_KEY = 'summary';

/** The memo a long-running flow is started with: its summary, for its carried runs. */
export function summaryMemo({ staticSummary }: FlowMetadata): Record<string, string> {
  return { [SUMMARY_MEMO_KEY]: staticSummary };
}

/**
 * The current details of a run carried over by continue-as-new: the flow's one-line summary (from
 * the memo, else `fallback`, built from what the run knows), a blank line, then what it does now.
 * A first run has its static summary and shows `details` alone.
 */
export function carriedRunDetails(
  carried: boolean,
  memo: Record<string, unknown> | undefined,
  fallback: string,
  details: string,
): string {
  if (!carried) return details;
  const kept = memo?.[SUMMARY_MEMO_KEY];
  const summary = typeof kept === 'string' && kept !== '' && !kept.includes('\n') ? kept : fallback;
  return `${summary}\n\n${details}`;
}

/** A flow that has ended: `finished: FILLED`. */
export function finishedDetails(status: string): string {
  return `finished: ${codeLabel(status)}`;
}

/** The waitlist's current details from its state. */
export function waitlistCurrentDetails(state: {
  status: string;
  round: number;
  currentHold: { round: number; expiresAt: string } | null;
}): string {
  if (state.status !== 'OFFERING') return finishedDetails(state.status);
  if (state.currentHold) {
    return `offered to candidate ${state.currentHold.round} until ${utcTime(state.currentHold.expiresAt)}`;
  }
  return state.round === 0 ? 'picking the first candidate' : `picking candidate ${state.round + 1}`;
}

const finishedOrderStatuses = ['PAID', 'REJECTED', 'CANCELLED'];

/**
 * Order routing's current details from its state: the vendor being waited for (by attempt, of the
 * ranked vendors), the manual assignment window, or the next payment reminder.
 */
export function orderCurrentDetails(
  state: {
    status: string;
    currentOffer: { attempt: number; deadline: string } | null;
    manualAssignmentDeadline: string | null;
    reminders: { kind: string; sequence: number; at: string; status: string }[];
  },
  vendorCount: number,
): string {
  if (finishedOrderStatuses.includes(state.status)) return finishedDetails(state.status);
  const offer = state.currentOffer;
  if (offer) {
    const of = vendorCount >= offer.attempt ? ` of ${vendorCount}` : '';
    return `waiting for vendor ${offer.attempt}${of} until ${utcTime(offer.deadline)}`;
  }
  if (state.status === 'NEEDS_ATTENTION') {
    return state.manualAssignmentDeadline
      ? `no vendor accepted: waiting for a manual assignment until ${utcDateTime(state.manualAssignmentDeadline)}`
      : 'stopped: needs attention';
  }
  if (state.status === 'DELIVERED') {
    const next = state.reminders.find((reminder) => reminder.status === 'scheduled');
    return next
      ? `delivered, awaiting payment: reminder ${codeLabel(next.kind, 'paymentReminderKind')} #${next.sequence} due ${utcDateTime(next.at)}`
      : 'delivered, awaiting payment';
  }
  const words: Record<string, string> = {
    PENDING: 'checking credit',
    ROUTING: 'ranking vendors',
    ASSIGNED: 'assigned, waiting for dispatch',
    DISPATCHED: 'dispatched, waiting for delivery',
  };
  return words[state.status] ?? `status: ${codeLabel(state.status)}`;
}

/** `step 3 of 8: createBillingCustomer`: the step's name is the workflow's own code, never a row's text. */
export function stepDetails(index: number, total: number, step: OnboardingStepName): string {
  return `step ${index} of ${total}: ${step}`;
}

/** `sending attempt 2`. */
export function attemptDetails(verb: string, attempt: number): string {
  return `${verb} attempt ${attempt}`;
}

/** `waiting until Tue 2 Dec 14:30 UTC`. */
export function waitingUntilDetails(what: string, iso: string): string {
  return `${what} until ${utcDateTime(iso)}`;
}

// ——— Activity and timer summaries ———

const onboardingStepWords: Record<OnboardingStepName, string> = {
  reserveTenant: 'reserve the slug and the tenant',
  createAdminUser: 'create the admin user',
  awaitApproval: 'wait for a platform admin',
  createBillingCustomer: 'create the billing customer',
  createBillingSubscription: 'start the billing subscription',
  provisionTenantDefaults: 'provision the tenant defaults',
  sendWelcomeEmail: 'send the welcome email',
  activateTenant: 'activate the tenant',
};

const compensationWords: Record<CompensationName, string> = {
  markTenantFailed: 'mark the tenant FAILED',
  disableAdminUser: 'disable the admin user',
  deleteBillingCustomer: 'delete the billing customer',
  cancelBillingSubscription: 'cancel the billing subscription',
};

export const activitySummary = {
  hold: (candidate: number) => `hold for candidate ${candidate}`,
  sendOffer: (candidate: number, channel: string) =>
    `send offer to candidate ${candidate} by ${codeLabel(channel, 'channel')}`,
  settleHold: (candidate: number, outcome: string) => `record hold ${codeLabel(outcome)} for candidate ${candidate}`,
  confirmHold: (candidate: number) => `assign the slot to candidate ${candidate}`,
  offerVendor: (vendor: number) => `offer the order to vendor ${vendor}`,
  sendVendorOffer: (vendor: number) => `send offer to vendor ${vendor}`,
  paymentReminder: (kind: string, number: number) =>
    `payment reminder ${codeLabel(kind, 'paymentReminderKind')} #${number}`,
  reminderStep: (step: number, total: number, kind: string) =>
    `send reminder step ${step} of ${total} (${codeLabel(kind, 'reminderKind')})`,
  deliverNotification: (channel?: string) =>
    `deliver notification${channel ? ` by ${codeLabel(channel, 'channel')}` : ''}`,
  deliverWebhook: (attempts: number) => `deliver webhook, up to ${plural(attempts, 'attempt')}`,
  reportPage: 'generate the report file',
  writeExport: 'write the export file',
  planFanOut: 'match rules and endpoints',
  purgeTenant: (tenant: number, total: number) => `purge tenant ${tenant} of ${total}`,
  ruleNotification: (rule: number) => `enqueue the notification of rule ${rule}`,
  webhookEnqueue: (endpoint: number) => `start the webhook delivery to endpoint ${endpoint}`,
  onboardingStep: (index: number, total: number, step: OnboardingStepName) =>
    `step ${index} of ${total}: ${onboardingStepWords[step]}`,
  onboardingUndo: (action: CompensationName) => `undo: ${compensationWords[action]}`,
  recordApproval: (decision: string) => `record the approval decision: ${codeLabel(decision.toUpperCase())}`,
  onboardingUnsuccessful: 'tell the platform admin why onboarding did not finish',
};

export const timerSummary = {
  holdExpires: (expiresAt: string) => `hold expires ${utcTime(expiresAt)}`,
  vendorDeadline: (expiresAt: string) => `vendor response deadline ${utcTime(expiresAt)}`,
  reminderDue: (step: number, at: string) => `reminder #${step} due ${utcDateTime(at)}`,
  sendAt: (at: string) => `send at ${utcDateTime(at)}`,
  approvalDeadline: 'approval deadline',
  askLaneAgain: 'ask the export lane again',
  holderCheck: 'check that slot holders still run',
  manualAssignmentWindow: 'manual assignment window',
  /** How long an Update waits for its step before it answers `pending` (attention.ts). */
  requestAnswerBound: (bound: string) => `answer the request within ${bound}`,
  paymentDue: (kind: string, number: number) =>
    `payment reminder ${codeLabel(kind, 'paymentReminderKind')} #${number} due`,
};
