import {
  ActivityCancellationType,
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { OrderMessage } from '../domain/order-messages';
import { ORDER_ROUTING_ACTOR, isCancellable, type OrderStatus } from '../domain/orders';
import { paymentReminderSchedule } from '../domain/payment-reminders';
import {
  AttentionStop,
  answeredWithin,
  boundsRequestWaits,
  FlowPatch,
  isPending,
  pending,
  rejectionFor,
  settledWithin,
  stepFailure,
} from './attention';
import { FailureType, FlowRejection, PermanentFailures } from './errors';
import { OfferDesk } from './offer';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from './search-attributes';
import { isStorableString, requireStorableText } from './validation';
import {
  assignVendorManuallyUpdate,
  cancelOrderUpdate,
  getOrderStateQuery,
  OrderRejection,
  orderStatusSignal,
  paymentReceivedSignal,
  vendorRespondUpdate,
  type AttemptOutcome,
  type CancelOrderInput,
  type CancelOrderResult,
  type ManualAssignmentInput,
  type ManualAssignmentResult,
  type OrderRoutingInput,
  type OrderRoutingResult,
  type OrderState,
  type OrderStatusSignal,
  type RankedVendor,
  type ReminderRecord,
  type VendorResponseInput,
} from './order-routing.contract';

// Database writes retry until the database is back: giving up would strand an order mid-change,
// and every write is idempotent. Retries stay at most a minute apart, so a write resumes soon
// after an outage ends. Data the database refuses (DataRejected) would fail the same way forever,
// so it is never retried: the order stops in NEEDS_ATTENTION instead. A write cancelled mid-flight
// may still commit, so cancellation waits for it to finish; the cancel clean-up then always runs after it.
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
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    nonRetryableErrorTypes: PermanentFailures.step,
  },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

// Messages to retailers and operators: 1 s, 2 s, 4 s, 8 s, then give up (5 attempts).
const { sendOrderNotification } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumAttempts: 5,
    nonRetryableErrorTypes: PermanentFailures.message,
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
    nonRetryableErrorTypes: PermanentFailures.message,
  },
});

// A credit score is a refresh, not a step of the order: 3 attempts. A score that cannot be
// recomputed now is recomputed at the next trigger; it never holds the order up.
const { recalculateCreditScore } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumAttempts: 3,
    nonRetryableErrorTypes: PermanentFailures.step,
  },
});

/** An operator has this long to assign a vendor by hand once every vendor was tried. */
export const MANUAL_ASSIGNMENT_WINDOW = '24 hours';
const MANUAL_ASSIGNMENT_WINDOW_MS = 24 * 60 * 60 * 1000;

export * from './order-routing.contract';

const reject = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });

const fulfilmentRank: Partial<Record<OrderStatus, number>> = { ASSIGNED: 0, DISPATCHED: 1, DELIVERED: 2 };

/** A vendor's answer to the open offer. */
interface VendorAnswer {
  decision: 'accept' | 'reject';
  reason?: string;
}

/**
 * Routes an order to a vendor and follows it to payment: credit check, vendor offers, delivery,
 * credit score and payment reminders as one durable flow.
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
 * A step that fails for good (the database refuses its data, the order row is gone, …) is never
 * retried forever: the order stops in NEEDS_ATTENTION with the step and the reason in the query,
 * pending requests are refused with NEEDS_ATTENTION, and the workflow fails with `NeedsAttention`.
 * Database outages are retried until the database is back.
 *
 * @param input the tenant and the order (its row exists, PENDING).
 * @returns `paid`, `rejected` or `cancelled`.
 * @throws ApplicationFailure `NeedsAttention` when a step failed for good (the cause is its failure).
 */
export async function orderRoutingWorkflow(input: OrderRoutingInput): Promise<OrderRoutingResult> {
  const { tenantId, orderId } = input;
  const ref = { tenantId, orderId };
  const state: OrderState = {
    tenantId,
    orderId,
    status: 'PENDING',
    statusReason: null,
    failure: null,
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
  /** The open offer to a vendor: its token, its deadline and the vendor's answer. */
  const offers = new OfferDesk<VendorAnswer, AttemptOutcome>({
    superseded: OrderRejection.OfferSuperseded,
    alreadyAnswered: OrderRejection.AlreadyResponded,
    expired: OrderRejection.OfferExpired,
  });
  let retailerId = '';
  let assigningManually = false;
  /** The furthest fulfilment status asked for by signal; the main flow records it. */
  let requestedFulfilment: OrderStatusSignal | undefined;
  let cancelRequest: CancelOrderInput | undefined;
  /** Set once a cancellation (asked for, or the manual window's end) is being carried out. */
  let cancelling = false;
  /** Payments the credit score has been recalculated for. */
  let scoredPayments = 0;
  const beforeDispatch = new CancellationScope();

  const setStatus = (status: OrderStatus, reason: string | null = state.statusReason) => {
    state.status = status;
    state.statusReason = reason;
    upsertSearchAttributes([{ key: FlowStatusKey, value: status }]);
  };
  const nextAttempt = () => state.attempts.length + (state.currentOffer ? 1 : 0) + 1;
  const paidInFull = () => state.total > 0 && state.paid >= state.total;
  /** Once a step failed for good: the order stopped, and requests are refused with NEEDS_ATTENTION. */
  const attention = new AttentionStop('The order', 'order routing', state);

  setHandler(getOrderStateQuery, () => state);

  setHandler(
    vendorRespondUpdate,
    async ({ decision, reason }) => {
      // A step that fails for good settles nothing: the answer is refused rather than left waiting.
      const outcome = await offers.answerAndAwait({ decision, reason }, () => attention.stopped);
      if (isPending(outcome)) return outcome;
      if (outcome === undefined) throw attention.refusal();
      return { status: outcome === 'ACCEPTED' ? 'accepted' : 'rejected' };
    },
    {
      validator: ({ tokenHash, decision, reason }: VendorResponseInput) => {
        attention.refuseWhenStopped();
        requireStorableText({ tokenHash }, { reason });
        if (decision !== 'accept' && decision !== 'reject') {
          throw reject(FlowRejection.InvalidInput, 'decision must be accept or reject');
        }
        offers.validate(tokenHash);
      },
    },
  );

  setHandler(
    assignVendorManuallyUpdate,
    async ({ vendorId, actor }): Promise<ManualAssignmentResult> => {
      assigningManually = true;
      const attempt = nextAttempt();
      const recordAssignment = (vendor: RankedVendor) => {
        state.attempts.push({
          attempt,
          ...vendor,
          outcome: 'MANUAL',
          reason: `assigned by ${actor}`,
          settledAt: now(),
        });
        state.vendor = vendor;
        return vendor;
      };
      // The activity's own failure (NotFound, VendorUnavailable, DATA_REJECTED) is the answer the operator needs.
      const refusal = (error: unknown) => rejectionFor(error, 'ASSIGNMENT_FAILED') ?? error;
      if (!boundsRequestWaits()) {
        try {
          return recordAssignment(await assignOrder({ ...ref, vendorId, attempt, actor }));
        } catch (error) {
          throw refusal(error);
        } finally {
          assigningManually = false;
        }
      }
      const assignment = assignOrder({ ...ref, vendorId, attempt, actor })
        .then(recordAssignment)
        .finally(() => {
          assigningManually = false;
        });
      try {
        const assigned = await settledWithin(assignment, (error) =>
          // Answered `pending` already: the order keeps waiting for an operator, as after any failed assignment.
          log.warn('A manual assignment failed after it was answered pending', {
            vendorId,
            type: stepFailure(error, now()).type,
          }),
        );
        return assigned?.value ?? pending();
      } catch (error) {
        throw refusal(error);
      }
    },
    {
      validator: ({ vendorId, actor }: ManualAssignmentInput) => {
        requireStorableText({ vendorId, actor });
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
    async (request): Promise<CancelOrderResult> => {
      cancelRequest = request;
      beforeDispatch.cancel();
      const done = () => state.status === 'CANCELLED' || attention.stopped;
      if (!boundsRequestWaits()) await condition(done);
      else if (!(await answeredWithin(done))) return pending();
      if (state.status !== 'CANCELLED') throw attention.refusal();
      return { status: 'cancelled' };
    },
    {
      validator: ({ reason, actor }: CancelOrderInput) => {
        attention.refuseWhenStopped();
        requireStorableText({ reason, actor });
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

  /** Whether a signal's data can be ignored as unstorable; runs recorded before that took it ({@link FlowPatch}). */
  const ignoresUnstorable = () => patched(FlowPatch.IgnoreUnstorableSignals);

  setHandler(orderStatusSignal, (signal) => {
    const storable =
      isStorableString(signal.actor) && (signal.status === 'DISPATCHED' || signal.status === 'DELIVERED');
    if (!storable && ignoresUnstorable()) {
      log.warn('Ignoring a fulfilment status that cannot be recorded', { requested: String(signal.status) });
      return;
    }
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
    const storable = isStorableString(paymentId) && Number.isSafeInteger(amount) && amount > 0;
    if (!storable && ignoresUnstorable()) {
      log.warn('Ignoring a payment that is not a positive whole amount with a payment ID');
      return;
    }
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
    offers.settle(offer.attemptId, outcome);
    state.currentOffer = null;
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
    offers.open(offer.attemptId, offer.tokenHash, () => offer.deadline);

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
    if (!delivered && offers.answer === undefined) {
      offers.close();
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

    await offers.awaitAnswer({ waitWhenAnswered: true });
    const response = offers.close();
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

  /** Steps 1–5, or the cancellation clean-up. */
  async function run(): Promise<OrderRoutingResult> {
    let routed: Awaited<ReturnType<typeof routeUntilDispatched>>;
    try {
      routed = await beforeDispatch.run(routeUntilDispatched);
    } catch (error) {
      if (!isCancellation(error)) throw error;
      // Both cancelOrder and a cancellation of the workflow end here; the clean-up must finish either way.
      await CancellationScope.nonCancellable(async () => {
        try {
          await cancelOrder(
            cancelRequest ?? { reason: 'the order workflow was cancelled', actor: ORDER_ROUTING_ACTOR },
          );
        } catch (cleanupError) {
          // A workflow cancelled while its credit check refused the order: there is nothing left to cancel.
          // A cancelOrder request refused by the order row is no such case: the order stops for attention,
          // which answers the request instead of leaving it waiting for a CANCELLED that never comes.
          const cause = cleanupError instanceof ActivityFailure ? cleanupError.cause : undefined;
          const nothingToCancel =
            cause instanceof ApplicationFailure &&
            cause.type === FailureType.OrderStateConflict &&
            // Runs recorded before orders stopped for attention took it as nothing to cancel here too.
            (!cancelRequest || !patched(FlowPatch.StopForAttention));
          if (!nothingToCancel) throw cleanupError;
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

  try {
    return await run();
  } catch (error) {
    if (!attention.catches(error)) throw error;
    // The order stops with the step and the reason in the query and the order row.
    throw await attention.stop(
      error,
      (reason) => {
        state.manualAssignmentDeadline = null;
        setStatus('NEEDS_ATTENTION', reason);
      },
      [
        {
          what: 'marking the order row NEEDS_ATTENTION',
          run: () => markNeedsAttention({ ...ref, reason: attention.reason }),
        },
      ],
    );
  }
}
