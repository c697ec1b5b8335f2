import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  type TemporalFailure,
} from '@temporalio/workflow';
import type { OrderMessage } from '../domain/order-messages';
import { ORDER_ROUTING_ACTOR, isCancellable, type OrderStatus } from '../domain/orders';
import {
  AttentionStop,
  answeredWithin,
  boundsRequestWaits,
  FlowPatch,
  pending,
  rejectionFor,
  settledWithin,
  stepFailure,
} from './attention';
import { FailureType } from './errors';
import { orderReached } from './metrics';
import {
  assignOrder,
  cancelOrderRecord,
  checkCredit,
  markNeedsAttention,
  rankVendorsForOrder,
  recalculateCreditScore,
  sendOrderNotification,
} from './order-routing-activities';
import { FulfilmentAndPayment, type FulfilledOrder } from './order-routing-fulfilment';
import { VendorOffers, type RoutedOrder } from './order-routing-offers';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from './search-attributes';
import { activitySummary, orderCurrentDetails, timerSummary } from './summaries';
import { requireStorableText } from './validation';
import {
  assignVendorManuallyUpdate,
  cancelOrderUpdate,
  expireVendorOfferNowUpdate,
  getOrderStateQuery,
  OrderRejection,
  orderStatusSignal,
  paymentReceivedSignal,
  vendorRespondUpdate,
  type CancelOrderInput,
  type CancelOrderResult,
  type ExpireVendorOfferNowInput,
  type ManualAssignmentInput,
  type ManualAssignmentResult,
  type OrderRoutingInput,
  type OrderRoutingResult,
  type OrderState,
  type RankedVendor,
  type VendorResponseInput,
} from './order-routing.contract';

/** An operator has this long to assign a vendor by hand once every vendor was tried. */
export const MANUAL_ASSIGNMENT_WINDOW = '24 hours';
const MANUAL_ASSIGNMENT_WINDOW_MS = 24 * 60 * 60 * 1000;

export * from './order-routing.contract';

const reject = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });

const now = () => new Date().toISOString();

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
  const order = new OrderRouting(input);

  setHandler(getOrderStateQuery, () => order.state);
  setHandler(vendorRespondUpdate, (answer) => order.offers.answer(answer), {
    validator: (answer: VendorResponseInput) => order.offers.validateAnswer(answer),
  });
  setHandler(assignVendorManuallyUpdate, (request) => order.assignManually(request), {
    validator: (request: ManualAssignmentInput) => order.validateManualAssignment(request),
  });
  setHandler(expireVendorOfferNowUpdate, (request) => order.offers.expireNow(request), {
    validator: (request: ExpireVendorOfferNowInput) => order.offers.validateExpireNow(request),
  });
  setHandler(cancelOrderUpdate, (request) => order.cancelOnRequest(request), {
    validator: (request: CancelOrderInput) => order.validateCancellation(request),
  });
  setHandler(orderStatusSignal, (signal) => order.fulfilment.request(signal));
  setHandler(paymentReceivedSignal, (payment) => order.fulfilment.receivePayment(payment));

  upsertSearchAttributes([
    { key: TenantIdKey, value: input.tenantId },
    { key: BusinessKeyKey, value: input.orderId },
    { key: FlowStatusKey, value: 'PENDING' },
  ]);

  try {
    return await order.run();
  } catch (error) {
    if (!order.attention.catches(error)) throw error;
    throw await order.stopForAttention(error);
  }
}

/**
 * One order's run. Its fields are the order's state: `state` is what the query answers, the rest
 * is what the phases and the handlers share. Its methods are the phases and the handlers' bodies;
 * the vendor offers and the way from assignment to payment have their own classes beside it.
 */
class OrderRouting implements RoutedOrder, FulfilledOrder {
  readonly ref: { tenantId: string; orderId: string };
  readonly state: OrderState;
  /** Once a step failed for good: the order stopped, and requests are refused with NEEDS_ATTENTION. */
  readonly attention: AttentionStop;
  readonly offers = new VendorOffers(this);
  readonly fulfilment = new FulfilmentAndPayment(this);
  private retailerId = '';
  /** How many vendors the order was ranked against, for "vendor 2 of 4" in the Web UI. */
  private vendorCount = 0;
  /** Set while an operator's assignment is being recorded; the flow waits for it before moving on. */
  private assigningManually = false;
  /** The `cancelOrder` request taken, if any: the clean-up carries it out. */
  cancelRequest: CancelOrderInput | undefined;
  /** Set once a cancellation (asked for, or the manual window's end) is being carried out. */
  private cancelling = false;
  /** Routing, up to the wait for dispatch: a cancellation cuts it short and the clean-up runs instead. */
  private readonly beforeDispatch = new CancellationScope();

  constructor({ tenantId, orderId }: OrderRoutingInput) {
    this.ref = { tenantId, orderId };
    this.state = {
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
      startedAt: now(),
    };
    this.attention = new AttentionStop('The order', 'order routing', this.state);
    this.showDetails();
  }

  /** What the Web UI shows the order doing now (the `__temporal_workflow_metadata` query). */
  showDetails(): void {
    setCurrentDetails(orderCurrentDetails(this.state, this.vendorCount));
  }

  setStatus(status: OrderStatus, reason: string | null = this.state.statusReason): void {
    this.state.status = status;
    this.state.statusReason = reason;
    upsertSearchAttributes([{ key: FlowStatusKey, value: status }]);
    orderReached(status, this.attention.stopped);
    this.showDetails();
  }

  /** `assignVendorManually`: records the operator's vendor itself, while the flow waits for one. */
  async assignManually({ vendorId, actor }: ManualAssignmentInput): Promise<ManualAssignmentResult> {
    this.assigningManually = true;
    const attempt = this.offers.nextAttempt();
    const recordAssignment = (vendor: RankedVendor) => {
      this.state.attempts.push({
        attempt,
        ...vendor,
        outcome: 'MANUAL',
        reason: `assigned by ${actor}`,
        settledAt: now(),
      });
      this.state.vendor = vendor;
      return vendor;
    };
    // The activity's own failure is the answer the operator needs: answered over HTTP as NOT_FOUND /
    // VENDOR_UNAVAILABLE / DATA_REJECTED (api/errors.ts httpCodeOf).
    const refusal = (error: unknown) => rejectionFor(error, 'ASSIGNMENT_FAILED') ?? error;
    if (!boundsRequestWaits()) {
      try {
        return recordAssignment(await assignOrder({ ...this.ref, vendorId, attempt, actor }));
      } catch (error) {
        throw refusal(error);
      } finally {
        this.assigningManually = false;
      }
    }
    const assignment = assignOrder({ ...this.ref, vendorId, attempt, actor })
      .then(recordAssignment)
      .finally(() => {
        this.assigningManually = false;
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
  }

  validateManualAssignment({ vendorId, actor }: ManualAssignmentInput): void {
    requireStorableText({ vendorId, actor });
    const { status, manualAssignmentDeadline, vendor } = this.state;
    // Once the window has closed (deadline cleared) the order is being cancelled: too late.
    const windowOpen = manualAssignmentDeadline !== null;
    if (status !== 'NEEDS_ATTENTION' || !windowOpen || vendor || this.assigningManually || this.cancelRequest) {
      throw reject(OrderRejection.NotAwaitingAssignment, `The order is ${status}, not waiting for a vendor`);
    }
  }

  /** `cancelOrder`: cuts routing short and returns once the clean-up has cancelled the order. */
  async cancelOnRequest(request: CancelOrderInput): Promise<CancelOrderResult> {
    this.cancelRequest = request;
    this.beforeDispatch.cancel();
    const done = () => this.state.status === 'CANCELLED' || this.attention.stopped;
    if (!boundsRequestWaits()) await condition(done);
    else if (!(await answeredWithin(done))) return pending();
    if (this.state.status !== 'CANCELLED') throw this.attention.refusal();
    return { status: 'cancelled' };
  }

  validateCancellation({ reason, actor }: CancelOrderInput): void {
    this.attention.refuseWhenStopped();
    requireStorableText({ reason, actor });
    const { status } = this.state;
    // PENDING: the credit check is deciding; its answer (REJECTED or ROUTING) comes within moments.
    if (
      status === 'PENDING' ||
      !isCancellable(status) ||
      this.fulfilment.requested ||
      this.cancelRequest ||
      this.cancelling
    ) {
      throw reject(
        OrderRejection.NotCancellable,
        status === 'PENDING'
          ? 'The credit check is under way; try again in a moment'
          : `The order is ${status} and can no longer be cancelled`,
      );
    }
  }

  /** Steps 1–5, or the cancellation clean-up. */
  async run(): Promise<OrderRoutingResult> {
    let routed: Awaited<ReturnType<OrderRouting['routeUntilDispatched']>>;
    try {
      routed = await this.beforeDispatch.run(() => this.routeUntilDispatched());
    } catch (error) {
      if (!isCancellation(error)) throw error;
      // Both cancelOrder and a cancellation of the workflow end here; the clean-up must finish either way.
      await CancellationScope.nonCancellable(async () => {
        try {
          await this.cancel(
            this.cancelRequest ?? { reason: 'the order workflow was cancelled', actor: ORDER_ROUTING_ACTOR },
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
            (!this.cancelRequest || !patched(FlowPatch.StopForAttention));
          if (!nothingToCancel) throw cleanupError;
          log.warn('The order could not be cancelled any more', { reason: cause.message });
        }
      });
      if (!this.cancelRequest) throw error;
      routed = 'cancelled';
    }
    if (routed !== 'dispatching') {
      await condition(allHandlersFinished);
      return this.result(routed);
    }

    await this.fulfilment.followDelivery();
    await this.fulfilment.collectPayment();
    await condition(allHandlersFinished);
    return this.result('paid');
  }

  /** Steps 1–3 and the wait for dispatch; all of it is undone by a cancellation. */
  private async routeUntilDispatched(): Promise<'rejected' | 'cancelled' | 'dispatching'> {
    const { ref, state } = this;
    const start = await checkCredit(ref);
    state.total = start.total;
    this.retailerId = start.retailerId;
    if (!start.approved) {
      this.setStatus('REJECTED', start.reason);
      await this.notify({ kind: 'rejected' });
      return 'rejected';
    }
    this.setStatus('ROUTING');
    const vendors = await rankVendorsForOrder(ref);
    this.vendorCount = vendors.length;
    for (const vendor of vendors) {
      if (await this.offers.offerTo(vendor, start.vendorResponseMs)) break;
    }

    if (!state.vendor) {
      await markNeedsAttention(ref);
      this.setStatus('NEEDS_ATTENTION');
      state.manualAssignmentDeadline = new Date(Date.now() + MANUAL_ASSIGNMENT_WINDOW_MS).toISOString();
      this.showDetails();
      await this.notify({ kind: 'needs-attention' });
      await condition(() => state.vendor !== null, MANUAL_ASSIGNMENT_WINDOW, {
        summary: timerSummary.manualAssignmentWindow,
      });
      // An assignment under way when the window closed still counts.
      await condition(() => !this.assigningManually);
      state.manualAssignmentDeadline = null;
      if (!state.vendor) {
        await this.cancel({
          reason: `no vendor was assigned within ${MANUAL_ASSIGNMENT_WINDOW}`,
          actor: ORDER_ROUTING_ACTOR,
        });
        return 'cancelled';
      }
    }

    this.setStatus('ASSIGNED');
    await this.notify({ kind: 'confirmed' });
    await this.rescore('order_assigned');
    await condition(() => this.fulfilment.requested !== undefined);
    return 'dispatching';
  }

  /** Cancels the order, withdrawing an open offer, and tells the retailer and the vendors involved. */
  private async cancel({ reason, actor }: CancelOrderInput): Promise<void> {
    this.cancelling = true;
    await condition(() => !this.assigningManually);
    const { vendorIds } = await cancelOrderRecord({ ...this.ref, reason, actor });
    if (this.state.currentOffer) this.offers.settle('CANCELLED', reason);
    this.setStatus('CANCELLED', reason);
    this.state.manualAssignmentDeadline = null;
    await this.notify({ kind: 'cancelled', audience: 'retailer' });
    for (const vendorId of vendorIds) await this.notify({ kind: 'cancelled', audience: 'vendor', vendorId });
  }

  /** A step failed for good: the order stops with the step and the reason in the query and the order row. */
  stopForAttention(error: TemporalFailure): Promise<ApplicationFailure> {
    return this.attention.stop(
      error,
      (reason) => {
        this.state.manualAssignmentDeadline = null;
        this.setStatus('NEEDS_ATTENTION', reason);
      },
      [
        {
          what: 'marking the order row NEEDS_ATTENTION',
          run: () => markNeedsAttention({ ...this.ref, reason: this.attention.reason }),
        },
      ],
    );
  }

  /** Messages never fail the order: a message that cannot be sent after its retries is logged. */
  async notify(message: OrderMessage): Promise<'sent' | 'skipped' | 'failed'> {
    try {
      const summary =
        message.kind === 'reminder'
          ? activitySummary.paymentReminder(message.reminder.kind, message.reminder.sequence)
          : `order message: ${message.kind}`;
      const result = await sendOrderNotification.executeWithOptions({ summary }, [{ ...this.ref, message }]);
      return result.status === 'SKIPPED' ? 'skipped' : 'sent';
    } catch (error) {
      if (isCancellation(error)) throw error;
      log.warn('Order notification could not be sent', { kind: message.kind, error: String(error) });
      return 'failed';
    }
  }

  /** A credit score never holds the order up: one that cannot be recalculated now is logged. */
  async rescore(trigger: string): Promise<void> {
    const { tenantId } = this.ref;
    await recalculateCreditScore({ tenantId, retailerId: this.retailerId, trigger }).catch((error: unknown) => {
      if (isCancellation(error)) throw error;
      log.warn('Credit score could not be recalculated', { trigger, error: String(error) });
    });
  }

  private result(outcome: OrderRoutingResult['outcome']): OrderRoutingResult {
    const { orderId } = this.ref;
    const { status, vendor, attempts, reminders } = this.state;
    const remindersSent = reminders.filter((reminder) => reminder.status === 'sent').length;
    return { outcome, orderId, status, vendorId: vendor?.vendorId ?? null, attempts: attempts.length, remindersSent };
  }
}
