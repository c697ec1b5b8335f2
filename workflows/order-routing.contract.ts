import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { OrderStatus } from '../domain/orders';
import type { ScheduledReminder } from '../domain/payment-reminders';
import type { PendingAnswer, StepFailure } from './attention';
import { tenantWorkPriority, type TenantFairness } from '../domain/tenant-fairness';
import { WorkPriority } from '../domain/work-priority';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from './search-attributes';
import { orderRoutingMetadata } from './summaries';

/**
 * Order routing's contract: its input, state and result, the messages callers send it, the
 * codes its Updates reject with, its workflow ID and the options every start uses.
 */

/** One routing workflow per order, for the order's whole life. */
export function orderRoutingId(tenantId: string, orderId: string): string {
  return `order:${tenantId}:${orderId}`;
}

/**
 * How placing an order starts its routing (the task queue comes from configuration): one run per
 * order; a repeat while it runs joins it, and a finished order is never routed again.
 */
export function orderRoutingStartOptions(tenantId: string, orderId: string, fairness?: TenantFairness) {
  return {
    workflowId: orderRoutingId(tenantId, orderId),
    ...orderRoutingMetadata({ tenantId, orderId }),
    // Routing an order is interactive work: high.
    priority: tenantWorkPriority(WorkPriority.high, tenantId, fairness),
    workflowIdConflictPolicy: 'USE_EXISTING' as const,
    workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
    typedSearchAttributes: [
      { key: TenantIdKey, value: tenantId },
      { key: BusinessKeyKey, value: orderId },
      { key: FlowStatusKey, value: 'PENDING' },
    ],
  };
}

/** Why the routing workflow refused a request: the codes its Updates reject with (409). */
export const OrderRejection = {
  OfferExpired: 'OFFER_EXPIRED',
  OfferSuperseded: 'OFFER_SUPERSEDED',
  AlreadyResponded: 'ALREADY_RESPONDED',
  NotAwaitingAssignment: 'NOT_AWAITING_ASSIGNMENT',
  NotCancellable: 'NOT_CANCELLABLE',
  /** No unanswered offer to a vendor is open to expire now. */
  NoOpenOffer: 'NO_OPEN_OFFER',
} as const;
export type OrderRejection = (typeof OrderRejection)[keyof typeof OrderRejection];

/** A vendor as ranked for an order, and as assigned to it. */
export interface RankedVendor {
  vendorId: string;
  vendorName: string;
}

/** How an offer to a vendor ended short of an accept. */
export type SettledRoutingOutcome = 'REJECTED' | 'TIMED_OUT' | 'UNREACHABLE' | 'CANCELLED';

export type AttemptOutcome = 'ACCEPTED' | SettledRoutingOutcome | 'MANUAL';

/** The open offer to a vendor. */
export interface CurrentOffer {
  attempt: number;
  attemptId: string;
  vendorId: string;
  vendorName: string;
  offeredAt: string;
  deadline: string;
}

export interface AttemptRecord {
  attempt: number;
  vendorId: string;
  vendorName: string;
  outcome: AttemptOutcome;
  reason: string | null;
  settledAt: string;
}

/** `skipped`: the retailer's channel has no provider configured; `cancelled`: paid before it was due. */
export type ReminderStatus = 'scheduled' | 'sent' | 'skipped' | 'failed' | 'cancelled';

export interface ReminderRecord extends ScheduledReminder {
  status: ReminderStatus;
  sentAt: string | null;
}

/** What `getOrderState` answers. */
export interface OrderState {
  tenantId: string;
  orderId: string;
  status: OrderStatus;
  /** Why it was REJECTED or CANCELLED, or which step stopped it in NEEDS_ATTENTION and why. */
  statusReason: string | null;
  /**
   * Set when a step failed for good (e.g. the database refused its data): the order stopped in
   * NEEDS_ATTENTION, requests are refused with NEEDS_ATTENTION and the workflow failed with
   * `NeedsAttention`. Null otherwise.
   */
  failure: StepFailure | null;
  total: number;
  vendor: RankedVendor | null;
  currentOffer: CurrentOffer | null;
  attempts: AttemptRecord[];
  /** While NEEDS_ATTENTION: when the order is cancelled unless an operator assigns a vendor. */
  manualAssignmentDeadline: string | null;
  deliveredAt: string | null;
  dueDate: string | null;
  paid: number;
  payments: Array<{ paymentId: string; amount: number; receivedAt: string }>;
  /** The payment reminders once delivered, with what has been sent. */
  reminders: ReminderRecord[];
  retailerFlagged: boolean;
  startedAt: string;
}

export interface OrderRoutingInput {
  tenantId: string;
  orderId: string;
}

export interface OrderRoutingResult {
  outcome: 'paid' | 'rejected' | 'cancelled';
  orderId: string;
  status: OrderStatus;
  vendorId: string | null;
  attempts: number;
  remindersSent: number;
}

/** A vendor's answer. The API has verified the signed token and passes only its hash. */
export interface VendorResponseInput {
  tokenHash: string;
  decision: 'accept' | 'reject';
  reason?: string;
}

/** `pending`: the answer was taken, but recording it did not finish in time (see {@link PendingAnswer}). */
export interface VendorResponseResult {
  status: 'accepted' | 'rejected' | PendingAnswer['status'];
}

/** The vendor assigned, or `pending` when recording the assignment did not finish in time (see {@link PendingAnswer}). */
export type ManualAssignmentResult = RankedVendor | PendingAnswer;

export interface ManualAssignmentInput {
  vendorId: string;
  /** Who asked, for the audit log. */
  actor: string;
}

export interface CancelOrderInput {
  reason: string;
  actor: string;
}

/** `pending`: the cancellation was taken, but carrying it out did not finish in time (see {@link PendingAnswer}). */
export interface CancelOrderResult {
  status: 'cancelled' | PendingAnswer['status'];
}

export interface OrderStatusSignal {
  status: 'DISPATCHED' | 'DELIVERED';
  actor: string;
}

export interface PaymentReceivedSignal {
  paymentId: string;
  amount: number;
}

/** The order's state: status, vendor and deadline, attempts, the reminder schedule and what was sent. */
export const getOrderStateQuery = defineQuery<OrderState>('getOrderState');

/**
 * A vendor accepts or rejects the open offer. Returns once the answer is recorded (for an
 * accept, once the order is ASSIGNED), or `pending` after REQUEST_ANSWER_BOUND if recording it is
 * still being retried (the answer stands and is recorded once the database is back). Rejected
 * (validator) with OFFER_SUPERSEDED, ALREADY_RESPONDED, OFFER_EXPIRED, INVALID_INPUT (a reason
 * that cannot be stored) or NEEDS_ATTENTION; fails with NEEDS_ATTENTION if recording the answer
 * stops the order.
 */
export const vendorRespondUpdate = defineUpdate<VendorResponseResult, [VendorResponseInput]>('vendorRespond');

/**
 * An operator assigns a vendor once every vendor was tried (NEEDS_ATTENTION). Returns the vendor
 * once assigned, or `pending` after REQUEST_ANSWER_BOUND if the assignment is still being retried
 * (it goes on; the order's state shows the outcome). Rejected with NOT_AWAITING_ASSIGNMENT at any
 * other time (including after a step failed for good, or while an assignment is under way), or
 * INVALID_INPUT. For a vendor that is not this tenant's, is inactive or cannot be recorded, it fails
 * with the activity's failure, answered over HTTP as NOT_FOUND / VENDOR_UNAVAILABLE / DATA_REJECTED
 * (api/errors.ts httpCodeOf), and the order keeps waiting.
 */
export const assignVendorManuallyUpdate = defineUpdate<ManualAssignmentResult, [ManualAssignmentInput]>(
  'assignVendorManually',
);

/**
 * Cancels the order before dispatch: withdraws an open offer or releases the assigned vendor,
 * and tells the retailer and the vendor. Returns `cancelled` once recorded, or `pending` after
 * REQUEST_ANSWER_BOUND if recording it is still being retried (the cancellation goes on).
 * Rejected with NOT_CANCELLABLE once dispatched, INVALID_INPUT for a reason that cannot be
 * stored, or NEEDS_ATTENTION once the order stopped on a failure; fails with NEEDS_ATTENTION if
 * the cancellation itself cannot be recorded.
 */
export const cancelOrderUpdate = defineUpdate<CancelOrderResult, [CancelOrderInput]>('cancelOrder');

/** Fulfilment progress from the vendor or an operator: DISPATCHED, then DELIVERED. An actor that cannot be stored is ignored. */
export const orderStatusSignal = defineSignal<[OrderStatusSignal]>('orderStatus');

/**
 * Money received (already recorded as a Payment row); paid in full, it stops the reminders at
 * once. An amount that is not a positive whole number of minor units is ignored.
 */
export const paymentReceivedSignal = defineSignal<[PaymentReceivedSignal]>('paymentReceived');

/** Who asks for a "do it now" action (the API's principal), for the audit trail; not personal data. */
export interface ExpireVendorOfferNowInput {
  actor: string;
}

export interface ExpireVendorOfferNowResult {
  attemptId: string;
  vendorId: string;
  /** The offer's deadline now: the workflow's time when the Update ran. */
  expiredAt: string;
}

/**
 * An operator ends the open vendor offer now, as if its time had run out: the offer's deadline
 * becomes the workflow's now, the order records the attempt TIMED_OUT (with the operator as the
 * actor) and offers the order to the next vendor, or waits for a manual assignment when none is
 * left. Answers at once. Rejected with NO_OPEN_OFFER when no unanswered offer is open,
 * INVALID_INPUT for an actor that cannot be stored, NEEDS_ATTENTION once the order stopped.
 */
export const expireVendorOfferNowUpdate = defineUpdate<ExpireVendorOfferNowResult, [ExpireVendorOfferNowInput]>(
  'expireVendorOfferNow',
);
