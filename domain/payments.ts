/**
 * Payment rules: which orders take a payment, how much they can still take, and what a repeated
 * payment reference means. Pure: no Prisma, no Temporal.
 */
import type { OrderStatus } from './orders';

/** An order takes payments once a vendor has it, and until it is paid, cancelled or refused. */
export const PAYABLE_STATUSES = ['ASSIGNED', 'DISPATCHED', 'DELIVERED'] as const satisfies readonly OrderStatus[];

export function isPayable(status: string): boolean {
  return (PAYABLE_STATUSES as readonly string[]).includes(status);
}

/** What is still owed on an order of `total` once `paidSoFar` has been received (minor units). */
export function orderBalance(total: number, paidSoFar: number): number {
  return total - paidSoFar;
}

/** A payment already recorded under a reference, as far as these rules read it. */
export interface RecordedPayment {
  orderId: string;
  amount: number;
}

/**
 * What a payment reference that was used before means for a new request: the same order and
 * amount is a repeat of that request (answered with the recorded payment); anything else reuses
 * a reference that belongs to another payment.
 */
export function repeatedReference(earlier: RecordedPayment, request: RecordedPayment): 'replay' | 'reused' {
  return earlier.orderId === request.orderId && earlier.amount === request.amount ? 'replay' : 'reused';
}

/** Why a new payment cannot be recorded against an order. */
export type PaymentRefusal =
  | { code: 'NOT_PAYABLE'; message: string; status: string }
  | { code: 'AMOUNT_EXCEEDS_BALANCE'; message: string; balance: number };

/** Whether an order that is `status`, of `total` with `paidSoFar` received, can take `amount` more. */
export function paymentRefusal(
  order: { status: string; total: number },
  paidSoFar: number,
  amount: number,
): PaymentRefusal | undefined {
  if (!isPayable(order.status)) {
    return { code: 'NOT_PAYABLE', message: `An order that is ${order.status} takes no payments`, status: order.status };
  }
  const balance = orderBalance(order.total, paidSoFar);
  if (amount > balance) {
    return { code: 'AMOUNT_EXCEEDS_BALANCE', message: `The balance of this order is ${balance}`, balance };
  }
  return undefined;
}
