import {
  ActivityCancellationType,
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { OrderMessage, RankedVendor, SettledRoutingOutcome } from '../activities/orders';
import { ORDER_ROUTING_ACTOR, OrderRejection, isCancellable, type OrderStatus } from '../domain/orders';
import { paymentReminderSchedule, type ScheduledReminder } from '../domain/payment-reminders';
import { FailureType } from './errors';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from './search-attributes';

// Database writes retry until the database is back: giving up would strand an order mid-change,
// and every write is idempotent. A write cancelled mid-flight may still commit, so cancellation
// waits for it to finish; the cancel clean-up then always runs after it.
const {
  checkCredit,
  rankVendorsForOrder,
  offerOrderToVendor,
  settleRoutingAttempt,
  assignOrder,
  markNeedsAttention,
  cancelOrderRecord,
  recordFulfilment,
  markOrderPaid,
  flagRetailer,
} = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

const permanentMessageFailures = [
  FailureType.InvalidRecipient,
  FailureType.ProviderRejected,
  FailureType.ChannelNotConfigured,
  FailureType.NotFound,
];

// Messages to retailers and operators: 1 s, 2 s, 4 s, 8 s, then give up (5 attempts).
const { sendOrderNotification } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumAttempts: 5,
    nonRetryableErrorTypes: permanentMessageFailures,
  },
});

// The vendor's offer goes through its WhatsApp/SMS provider. A 429 fails with the provider's
// Retry-After as nextRetryDelay, so throttling waits as long as asked instead of burning the
// backoff; the extra attempts leave room for a provider that throttles more than once.
const { sendVendorOffer } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumAttempts: 8,
    nonRetryableErrorTypes: permanentMessageFailures,
  },
});

// The seed's "Credit Score Calculation" queue: 3 attempts. A score that cannot be recomputed now
// is recomputed at the next trigger; it never holds the order up.
const { recalculateCreditScore } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumAttempts: 3 },
});

/** An operator has this long to assign a vendor by hand once every vendor was tried. */
export const MANUAL_ASSIGNMENT_WINDOW = '24 hours';
const MANUAL_ASSIGNMENT_WINDOW_MS = 24 * 60 * 60 * 1000;

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
  /** Why it was REJECTED or CANCELLED. */
  statusReason: string | null;
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

export interface VendorResponseResult {
  status: 'accepted' | 'rejected';
}

export interface ManualAssignmentInput {
  vendorId: string;
  /** Who asked, for the audit log. */
  actor: string;
}

export interface CancelOrderInput {
  reason: string;
  actor: string;
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
 * accept, once the order is ASSIGNED). Rejected (validator) with OFFER_SUPERSEDED,
 * ALREADY_RESPONDED or OFFER_EXPIRED.
 */
export const vendorRespondUpdate = defineUpdate<VendorResponseResult, [VendorResponseInput]>('vendorRespond');

/**
 * An operator assigns a vendor once every vendor was tried (NEEDS_ATTENTION). Rejected with
 * NOT_AWAITING_ASSIGNMENT at any other time; fails with NotFound or VendorUnavailable for a
 * vendor that is not this tenant's or is inactive, and the order keeps waiting.
 */
export const assignVendorManuallyUpdate = defineUpdate<RankedVendor, [ManualAssignmentInput]>('assignVendorManually');

/**
 * Cancels the order before dispatch: withdraws an open offer or releases the assigned vendor,
 * and tells the retailer and the vendor. Rejected with NOT_CANCELLABLE once dispatched.
 */
export const cancelOrderUpdate = defineUpdate<{ status: 'cancelled' }, [CancelOrderInput]>('cancelOrder');

/** Fulfilment progress from the vendor or an operator: DISPATCHED, then DELIVERED. */
export const orderStatusSignal = defineSignal<[OrderStatusSignal]>('orderStatus');

/** Money received (already recorded as a Payment row); paid in full, it stops the reminders at once. */
export const paymentReceivedSignal = defineSignal<[PaymentReceivedSignal]>('paymentReceived');

const reject = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });

const fulfilmentRank: Partial<Record<OrderStatus, number>> = { ASSIGNED: 0, DISPATCHED: 1, DELIVERED: 2 };

/** The private side of the open offer: what the validator checks, never shown by the query. */
interface OpenOffer {
  tokenHash: string;
  response?: { decision: 'accept' | 'reject'; reason?: string };
  /** Set once the workflow has decided the offer's fate, so late answers are refused. */
  settling?: boolean;
}

/**
 * Routes an order to a vendor and follows it to payment: the seed's Order Routing, Order
 * Processing, Credit Score and Payment Reminders queues as one durable flow.
 *
 * 1. Credit check: a flagged retailer or an order over the available credit is REJECTED.
 * 2. Routing: the ranked vendors are offered the order in turn, each notified on its channel and
 *    given the tenant's response window (a durable timer); a reject, a time-out or an offer that
 *    cannot be delivered falls back to the next vendor. An accept ASSIGNS the order, tells the
 *    retailer and recalculates the credit score.
 * 3. No vendor left: NEEDS_ATTENTION, operators are told, and an operator has 24 hours to
 *    assign one by hand (`assignVendorManually`); otherwise the order is CANCELLED.
 * 4. Fulfilment: `orderStatus` signals move it to DISPATCHED and DELIVERED. Until dispatch,
 *    `cancelOrder` (or cancelling the workflow) cancels the order and tells both sides.
 * 5. Payment: from delivery, reminders DUE_SOON, OVERDUE (every 3 days) and FINAL_NOTICE (which
 *    flags the retailer) are durable timers; `paymentReceived` for the full amount stops them at
 *    once, marks the order PAID and recalculates the credit score.
 *
 * History stays bounded: at most MAX_VENDORS_PER_ORDER (domain/vendors.ts) offers and seven reminders.
 *
 * @param input the tenant and the order (its row exists, PENDING).
 * @returns `paid`, `rejected` or `cancelled`; fails only if an activity fails for good.
 */
export async function orderRoutingWorkflow(input: OrderRoutingInput): Promise<OrderRoutingResult> {
  const { tenantId, orderId } = input;
  const ref = { tenantId, orderId };
  const state: OrderState = {
    tenantId,
    orderId,
    status: 'PENDING',
    statusReason: null,
    total: 0,
    vendor: null,
    currentOffer: null,
    attempts: [],
    manualAssignmentDeadline: null,
    deliveredAt: null,
    dueDate: null,
    paid: 0,
    payments: [],
    reminders: [],
    retailerFlagged: false,
    startedAt: new Date().toISOString(),
  };
  let open: OpenOffer | undefined;
  let retailerId = '';
  let assigningManually = false;
  /** The furthest fulfilment status asked for by signal; the main flow records it. */
  let requestedFulfilment: OrderStatusSignal | undefined;
  let cancelRequest: CancelOrderInput | undefined;
  /** Set once a cancellation (asked for, or the manual window's end) is being carried out. */
  let cancelling = false;
  /** Payments the credit score has been recalculated for. */
  let scoredPayments = 0;
  /** Outcomes of settled offers, for the update handlers waiting on them. */
  const settled = new Map<string, AttemptOutcome>();
  const beforeDispatch = new CancellationScope();

  const setStatus = (status: OrderStatus, reason: string | null = state.statusReason) => {
    state.status = status;
    state.statusReason = reason;
    upsertSearchAttributes([{ key: FlowStatusKey, value: status }]);
  };
  const nextAttempt = () => state.attempts.length + (state.currentOffer ? 1 : 0) + 1;
  const paidInFull = () => state.total > 0 && state.paid >= state.total;

  setHandler(getOrderStateQuery, () => state);

  setHandler(
    vendorRespondUpdate,
    async ({ decision, reason }) => {
      const { attemptId } = state.currentOffer!;
      open!.response = { decision, reason };
      await condition(() => settled.has(attemptId));
      return { status: settled.get(attemptId) === 'ACCEPTED' ? 'accepted' : 'rejected' };
    },
    {
      validator: ({ tokenHash }) => {
        if (!open || !state.currentOffer || open.tokenHash !== tokenHash) {
          throw reject(OrderRejection.OfferSuperseded, 'This offer is no longer open');
        }
        if (open.response) throw reject(OrderRejection.AlreadyResponded, 'This offer has already been answered');
        // Date.now() is workflow time: deterministic, and the same clock as the offer's timer.
        if (open.settling || Date.now() >= Date.parse(state.currentOffer.deadline)) {
          throw reject(OrderRejection.OfferExpired, 'The time to answer this offer is over');
        }
      },
    },
  );

  setHandler(
    assignVendorManuallyUpdate,
    async ({ vendorId, actor }) => {
      assigningManually = true;
      const attempt = nextAttempt();
      try {
        const vendor = await assignOrder({ ...ref, vendorId, attempt, actor });
        state.attempts.push({
          attempt,
          ...vendor,
          outcome: 'MANUAL',
          reason: `assigned by ${actor}`,
          settledAt: now(),
        });
        state.vendor = vendor;
        return vendor;
      } catch (error) {
        // The activity's own failure (NotFound, VendorUnavailable) is the answer the operator needs.
        const cause = error instanceof ActivityFailure ? error.cause : error;
        if (cause instanceof ApplicationFailure) throw reject(cause.type ?? 'ASSIGNMENT_FAILED', cause.message);
        throw error;
      } finally {
        assigningManually = false;
      }
    },
    {
      validator: (_request: ManualAssignmentInput) => {
        // Once the window has closed (deadline cleared) the order is being cancelled: too late.
        const windowOpen = state.manualAssignmentDeadline !== null;
        if (state.status !== 'NEEDS_ATTENTION' || !windowOpen || state.vendor || assigningManually || cancelRequest) {
          throw reject(OrderRejection.NotAwaitingAssignment, `The order is ${state.status}, not waiting for a vendor`);
        }
      },
    },
  );

  setHandler(
    cancelOrderUpdate,
    async (request) => {
      cancelRequest = request;
      beforeDispatch.cancel();
      await condition(() => state.status === 'CANCELLED');
      return { status: 'cancelled' as const };
    },
    {
      validator: (_request: CancelOrderInput) => {
        // PENDING: the credit check is deciding; its answer (REJECTED or ROUTING) comes within moments.
        if (
          state.status === 'PENDING' ||
          !isCancellable(state.status) ||
          requestedFulfilment ||
          cancelRequest ||
          cancelling
        ) {
          throw reject(
            OrderRejection.NotCancellable,
            state.status === 'PENDING'
              ? 'The credit check is under way; try again in a moment'
              : `The order is ${state.status} and can no longer be cancelled`,
          );
        }
      },
    },
  );

  setHandler(orderStatusSignal, (signal) => {
    const current = fulfilmentRank[requestedFulfilment?.status ?? state.status];
    if (current === undefined || !state.vendor || cancelRequest || fulfilmentRank[signal.status]! <= current) {
      log.warn('Ignoring a fulfilment status the order cannot take now', {
        requested: signal.status,
        status: state.status,
      });
      return;
    }
    requestedFulfilment = signal;
  });

  setHandler(paymentReceivedSignal, ({ paymentId, amount }) => {
    if (state.payments.some((payment) => payment.paymentId === paymentId)) return;
    state.payments.push({ paymentId, amount, receivedAt: now() });
    state.paid += amount;
  });

  upsertSearchAttributes([
    { key: TenantIdKey, value: tenantId },
    { key: BusinessKeyKey, value: orderId },
    { key: FlowStatusKey, value: 'PENDING' },
  ]);

  function now(): string {
    return new Date().toISOString();
  }

  /** Messages never fail the order: a message that cannot be sent after its retries is logged. */
  async function notify(message: OrderMessage): Promise<'sent' | 'skipped' | 'failed'> {
    try {
      const result = await sendOrderNotification({ ...ref, message });
      return result.status === 'SKIPPED' ? 'skipped' : 'sent';
    } catch (error) {
      if (isCancellation(error)) throw error;
      log.warn('Order notification could not be sent', { kind: message.kind, error: String(error) });
      return 'failed';
    }
  }

  async function rescore(trigger: string): Promise<void> {
    await recalculateCreditScore({ tenantId, retailerId, trigger }).catch((error: unknown) => {
      if (isCancellation(error)) throw error;
      log.warn('Credit score could not be recalculated', { trigger, error: String(error) });
    });
  }

  function recordAttempt(outcome: AttemptOutcome, reason: string | null = null): void {
    const offer = state.currentOffer!;
    const { attempt, vendorId, vendorName } = offer;
    state.attempts.push({ attempt, vendorId, vendorName, outcome, reason, settledAt: now() });
    settled.set(offer.attemptId, outcome);
    state.currentOffer = null;
    open = undefined;
  }

  /** Offers the order to one vendor and waits for its answer; true when it accepted. */
  async function offerTo(vendor: RankedVendor, vendorResponseMs: number): Promise<boolean> {
    const attempt = nextAttempt();
    const offeredAt = Date.now();
    const offer = await offerOrderToVendor({
      ...ref,
      vendorId: vendor.vendorId,
      attempt,
      deadline: new Date(offeredAt + vendorResponseMs).toISOString(),
    });
    state.currentOffer = {
      attempt,
      attemptId: offer.attemptId,
      ...vendor,
      offeredAt: new Date(offeredAt).toISOString(),
      deadline: offer.deadline,
    };
    const current: OpenOffer = { tokenHash: offer.tokenHash };
    open = current;

    const delivered = await sendVendorOffer({ tenantId, attemptId: offer.attemptId }).then(
      (result) => result.status !== 'SKIPPED',
      (error: unknown) => {
        if (isCancellation(error)) throw error;
        log.warn('The offer could not reach the vendor; trying the next one', {
          vendorId: vendor.vendorId,
          error: String(error),
        });
        return false;
      },
    );
    if (!delivered && !current.response) {
      current.settling = true;
      await settleRoutingAttempt({
        tenantId,
        attemptId: offer.attemptId,
        outcome: 'UNREACHABLE',
        reason: 'the offer could not be delivered',
        actor: ORDER_ROUTING_ACTOR,
      });
      recordAttempt('UNREACHABLE', 'the offer could not be delivered');
      return false;
    }

    const remaining = Date.parse(offer.deadline) - Date.now();
    if (remaining > 0) await condition(() => current.response !== undefined, remaining);
    current.settling = true;
    const response = current.response;
    if (response?.decision === 'accept') {
      state.vendor = await assignOrder({
        ...ref,
        vendorId: vendor.vendorId,
        attempt,
        attemptId: offer.attemptId,
        actor: `vendor:${vendor.vendorId}`,
      });
      recordAttempt('ACCEPTED');
      return true;
    }
    const outcome = response ? 'REJECTED' : 'TIMED_OUT';
    const reason = response
      ? (response.reason ?? null)
      : `no answer within ${Math.round(vendorResponseMs / 60_000)} minutes`;
    await settleRoutingAttempt({
      tenantId,
      attemptId: offer.attemptId,
      outcome,
      reason: reason ?? undefined,
      actor: response ? `vendor:${vendor.vendorId}` : ORDER_ROUTING_ACTOR,
    });
    recordAttempt(outcome, reason);
    return false;
  }

  /** Cancels the order, withdrawing an open offer, and tells the retailer and the vendors involved. */
  async function cancelOrder({ reason, actor }: CancelOrderInput): Promise<void> {
    cancelling = true;
    await condition(() => !assigningManually);
    const { vendorIds } = await cancelOrderRecord({ ...ref, reason, actor });
    if (state.currentOffer) recordAttempt('CANCELLED', reason);
    setStatus('CANCELLED', reason);
    state.manualAssignmentDeadline = null;
    await notify({ kind: 'cancelled', audience: 'retailer' });
    for (const vendorId of vendorIds) await notify({ kind: 'cancelled', audience: 'vendor', vendorId });
  }

  /** Steps 1–3 and the wait for dispatch; all of it is undone by a cancellation. */
  async function routeUntilDispatched(): Promise<'rejected' | 'cancelled' | 'dispatching'> {
    const start = await checkCredit(ref);
    state.total = start.total;
    retailerId = start.retailerId;
    if (!start.approved) {
      setStatus('REJECTED', start.reason);
      await notify({ kind: 'rejected' });
      return 'rejected';
    }
    setStatus('ROUTING');
    const vendors = await rankVendorsForOrder(ref);
    for (const vendor of vendors) {
      if (await offerTo(vendor, start.vendorResponseMs)) break;
    }

    if (!state.vendor) {
      await markNeedsAttention(ref);
      setStatus('NEEDS_ATTENTION');
      state.manualAssignmentDeadline = new Date(Date.now() + MANUAL_ASSIGNMENT_WINDOW_MS).toISOString();
      await notify({ kind: 'needs-attention' });
      await condition(() => state.vendor !== null, MANUAL_ASSIGNMENT_WINDOW);
      // An assignment under way when the window closed still counts.
      await condition(() => !assigningManually);
      state.manualAssignmentDeadline = null;
      if (!state.vendor) {
        await cancelOrder({
          reason: `no vendor was assigned within ${MANUAL_ASSIGNMENT_WINDOW}`,
          actor: ORDER_ROUTING_ACTOR,
        });
        return 'cancelled';
      }
    }

    setStatus('ASSIGNED');
    await notify({ kind: 'confirmed' });
    await rescore('order_assigned');
    await condition(() => requestedFulfilment !== undefined);
    return 'dispatching';
  }

  const reminderSchedule = (deliveredAt: string, dueDate: string): ReminderRecord[] =>
    paymentReminderSchedule(deliveredAt, dueDate).map((reminder) => ({
      ...reminder,
      status: 'scheduled',
      sentAt: null,
    }));

  /** Records DISPATCHED and DELIVERED as they are signalled, telling the retailer each time. */
  async function followFulfilment(): Promise<void> {
    while (state.status !== 'DELIVERED') {
      await condition(() => fulfilmentRank[requestedFulfilment!.status]! > fulfilmentRank[state.status]!);
      const { status, actor } = requestedFulfilment!;
      const recorded = await recordFulfilment({ ...ref, status, at: now(), actor });
      setStatus(status);
      state.deliveredAt = recorded.deliveredAt;
      state.dueDate = recorded.dueDate;
      if (status === 'DELIVERED') state.reminders = reminderSchedule(recorded.deliveredAt!, recorded.dueDate!);
      await notify({ kind: 'delivery-update', status });
    }
    await rescore('order_delivered');
  }

  /**
   * Waits until paid in full or, when `at` is given, until then; recalculates the credit score for
   * each payment on the way, since a part payment changes what the retailer owes.
   */
  async function awaitPayment(at?: number): Promise<void> {
    for (;;) {
      const remaining = at === undefined ? undefined : at - Date.now();
      if (paidInFull() || (remaining !== undefined && remaining <= 0)) return;
      const progressed = () => paidInFull() || state.payments.length > scoredPayments;
      // Without a timeout condition() resolves to undefined, not true: only a timed wait can time out.
      if (remaining === undefined) await condition(progressed);
      else if (!(await condition(progressed, remaining))) return;
      if (state.payments.length > scoredPayments) {
        scoredPayments = state.payments.length;
        await rescore('payment_received');
      }
    }
  }

  /** Step 5: the reminders until paid in full, then PAID. After a FINAL_NOTICE it waits for the money. */
  async function collectPayment(): Promise<void> {
    for (const reminder of state.reminders) {
      await awaitPayment(Date.parse(reminder.at));
      if (paidInFull()) break;
      reminder.status = await notify({ kind: 'reminder', reminder, amountDue: state.total - state.paid });
      reminder.sentAt = now();
      if (reminder.kind === 'FINAL_NOTICE') {
        await flagRetailer({ ...ref, at: now() });
        state.retailerFlagged = true;
        await rescore('final_notice');
      }
    }
    for (const reminder of state.reminders) if (reminder.status === 'scheduled') reminder.status = 'cancelled';
    await awaitPayment();
    await markOrderPaid({ ...ref, at: now() });
    setStatus('PAID');
    await rescore('order_paid');
  }

  const result = (outcome: OrderRoutingResult['outcome']): OrderRoutingResult => ({
    outcome,
    orderId,
    status: state.status,
    vendorId: state.vendor?.vendorId ?? null,
    attempts: state.attempts.length,
    remindersSent: state.reminders.filter((reminder) => reminder.status === 'sent').length,
  });

  let routed: Awaited<ReturnType<typeof routeUntilDispatched>>;
  try {
    routed = await beforeDispatch.run(routeUntilDispatched);
  } catch (error) {
    if (!isCancellation(error)) throw error;
    // Both cancelOrder and a cancellation of the workflow end here; the clean-up must finish either way.
    await CancellationScope.nonCancellable(async () => {
      try {
        await cancelOrder(cancelRequest ?? { reason: 'the order workflow was cancelled', actor: ORDER_ROUTING_ACTOR });
      } catch (cleanupError) {
        // A workflow cancelled while its credit check refused the order: there is nothing left to cancel.
        const cause = cleanupError instanceof ActivityFailure ? cleanupError.cause : undefined;
        if (!(cause instanceof ApplicationFailure && cause.type === FailureType.OrderStateConflict)) throw cleanupError;
        log.warn('The order could not be cancelled any more', { reason: cause.message });
      }
    });
    if (!cancelRequest) throw error;
    routed = 'cancelled';
  }
  if (routed !== 'dispatching') {
    await condition(allHandlersFinished);
    return result(routed);
  }

  await followFulfilment();
  await collectPayment();
  await condition(allHandlersFinished);
  return result('paid');
}
