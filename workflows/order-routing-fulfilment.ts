import { condition, log, patched } from '@temporalio/workflow';
import type { OrderMessage } from '../domain/order-messages';
import type { OrderStatus } from '../domain/orders';
import { paymentReminderSchedule } from '../domain/payment-reminders';
import { FlowPatch } from './attention';
import { flagRetailer, markOrderPaid, recordFulfilment } from './order-routing-activities';
import type {
  CancelOrderInput,
  OrderState,
  OrderStatusSignal,
  PaymentReceivedSignal,
  ReminderRecord,
} from './order-routing.contract';
import { timerSummary } from './summaries';
import { isStorableString } from './validation';

/** What fulfilment and payment work on: the order's run. */
export interface FulfilledOrder {
  readonly state: OrderState;
  readonly ref: { tenantId: string; orderId: string };
  /** Once asked to cancel, the order takes no fulfilment status. */
  readonly cancelRequest: CancelOrderInput | undefined;
  setStatus(status: OrderStatus): void;
  notify(message: OrderMessage): Promise<'sent' | 'skipped' | 'failed'>;
  rescore(trigger: string): Promise<void>;
  /** Shows in the Web UI what the order is doing now, after a change to its state. */
  showDetails(): void;
}

/** How far an assigned order has gone towards the retailer; a status signal only moves it forward. */
const fulfilmentRank: Partial<Record<OrderStatus, number>> = { ASSIGNED: 0, DISPATCHED: 1, DELIVERED: 2 };

const now = () => new Date().toISOString();

/** Whether a signal's data can be ignored as unstorable; runs recorded before that took it ({@link FlowPatch}). */
const ignoresUnstorable = () => patched(FlowPatch.IgnoreUnstorableSignals);

const reminderSchedule = (deliveredAt: string, dueDate: string): ReminderRecord[] =>
  paymentReminderSchedule(deliveredAt, dueDate).map((reminder) => ({ ...reminder, status: 'scheduled', sentAt: null }));

/**
 * An assigned order's way to PAID: DISPATCHED and DELIVERED as they are signalled, then the payment
 * reminders (durable timers) until the payments received cover the total.
 */
export class FulfilmentAndPayment {
  /** The furthest fulfilment status asked for by signal; {@link followDelivery} records it. */
  requested: OrderStatusSignal | undefined;
  /** Payments the credit score has been recalculated for. */
  private scoredPayments = 0;

  constructor(private readonly order: FulfilledOrder) {}

  /** `orderStatus`: notes the furthest status asked for, once a vendor is assigned and until a cancellation. */
  request(signal: OrderStatusSignal): void {
    const { state, cancelRequest } = this.order;
    const storable =
      isStorableString(signal.actor) && (signal.status === 'DISPATCHED' || signal.status === 'DELIVERED');
    if (!storable && ignoresUnstorable()) {
      log.warn('Ignoring a fulfilment status that cannot be recorded', { requested: String(signal.status) });
      return;
    }
    const current = fulfilmentRank[this.requested?.status ?? state.status];
    if (current === undefined || !state.vendor || cancelRequest || fulfilmentRank[signal.status]! <= current) {
      log.warn('Ignoring a fulfilment status the order cannot take now', {
        requested: signal.status,
        status: state.status,
      });
      return;
    }
    this.requested = signal;
  }

  /** `paymentReceived`: records a payment once, however often it is signalled. */
  receivePayment({ paymentId, amount }: PaymentReceivedSignal): void {
    const state = this.order.state;
    const storable = isStorableString(paymentId) && Number.isSafeInteger(amount) && amount > 0;
    if (!storable && ignoresUnstorable()) {
      log.warn('Ignoring a payment that is not a positive whole amount with a payment ID');
      return;
    }
    if (state.payments.some((payment) => payment.paymentId === paymentId)) return;
    state.payments.push({ paymentId, amount, receivedAt: now() });
    state.paid += amount;
  }

  /** Records DISPATCHED and DELIVERED as they are signalled, telling the retailer each time. */
  async followDelivery(): Promise<void> {
    const { state, ref } = this.order;
    while (state.status !== 'DELIVERED') {
      await condition(() => fulfilmentRank[this.requested!.status]! > fulfilmentRank[state.status]!);
      const { status, actor } = this.requested!;
      const recorded = await recordFulfilment({ ...ref, status, at: now(), actor });
      this.order.setStatus(status);
      state.deliveredAt = recorded.deliveredAt;
      state.dueDate = recorded.dueDate;
      if (status === 'DELIVERED') state.reminders = reminderSchedule(recorded.deliveredAt!, recorded.dueDate!);
      this.order.showDetails();
      await this.order.notify({ kind: 'delivery-update', status });
    }
    await this.order.rescore('order_delivered');
  }

  /** The reminders until paid in full, then PAID. After a FINAL_NOTICE it waits for the money. */
  async collectPayment(): Promise<void> {
    const { state, ref } = this.order;
    for (const reminder of state.reminders) {
      await this.awaitPayment(Date.parse(reminder.at), timerSummary.paymentDue(reminder.kind, reminder.sequence));
      if (this.paidInFull()) break;
      reminder.status = await this.order.notify({ kind: 'reminder', reminder, amountDue: state.total - state.paid });
      reminder.sentAt = now();
      this.order.showDetails();
      if (reminder.kind === 'FINAL_NOTICE') {
        await flagRetailer({ ...ref, at: now() });
        state.retailerFlagged = true;
        await this.order.rescore('final_notice');
      }
    }
    for (const reminder of state.reminders) if (reminder.status === 'scheduled') reminder.status = 'cancelled';
    this.order.showDetails();
    await this.awaitPayment();
    await markOrderPaid({ ...ref, at: now() });
    this.order.setStatus('PAID');
    await this.order.rescore('order_paid');
  }

  private paidInFull(): boolean {
    const { total, paid } = this.order.state;
    return total > 0 && paid >= total;
  }

  /**
   * Waits until paid in full or, when `at` is given, until then; recalculates the credit score for
   * each payment on the way, since a part payment changes what the retailer owes.
   */
  private async awaitPayment(at?: number, summary?: string): Promise<void> {
    const state = this.order.state;
    for (;;) {
      const remaining = at === undefined ? undefined : at - Date.now();
      if (this.paidInFull() || (remaining !== undefined && remaining <= 0)) return;
      const progressed = () => this.paidInFull() || state.payments.length > this.scoredPayments;
      // Without a timeout condition() resolves to undefined, not true: only a timed wait can time out.
      if (remaining === undefined) await condition(progressed);
      else if (!(await condition(progressed, remaining, { summary }))) return;
      if (state.payments.length > this.scoredPayments) {
        this.scoredPayments = state.payments.length;
        await this.order.rescore('payment_received');
      }
    }
  }
}
