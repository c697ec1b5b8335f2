/**
 * Order rules shared by the routing workflow, its activities and the API: totals, the credit
 * check, the credit score and which status allows what. Pure: no Prisma, no Temporal, no Node
 * built-ins.
 */

/** One line of an order. Prices are minor units (cents), so totals are exact integers. */
export type OrderItem = {
  sku: string;
  name: string;
  category: string;
  quantity: number;
  unitPrice: number;
};

export type OrderStatus =
  | 'PENDING'
  | 'ROUTING'
  | 'ASSIGNED'
  | 'NEEDS_ATTENTION'
  | 'DISPATCHED'
  | 'DELIVERED'
  | 'PAID'
  | 'REJECTED'
  | 'CANCELLED';

/** The order's total in minor units. */
export function orderTotal(items: readonly OrderItem[]): number {
  return items.reduce((sum, item) => sum + item.quantity * item.unitPrice, 0);
}

/** The distinct categories an order needs, sorted; a vendor must cover all of them. */
export function orderCategories(items: readonly OrderItem[]): string[] {
  return [...new Set(items.map((item) => item.category))].sort();
}

/**
 * Orders that count against a retailer's credit limit: approved and not yet paid, cancelled or
 * refused. Orders still being routed count too, so two orders at once cannot both use the same credit.
 */
export const CREDIT_COMMITTED_STATUSES = [
  'ROUTING',
  'NEEDS_ATTENTION',
  'ASSIGNED',
  'DISPATCHED',
  'DELIVERED',
] as const satisfies readonly OrderStatus[];

/** Orders a vendor is carrying: they count against its capacity. */
export const VENDOR_OPEN_STATUSES = ['ASSIGNED', 'DISPATCHED'] as const satisfies readonly OrderStatus[];

/** Until dispatch an order can still be called off; after it, the goods are on their way. */
export const CANCELLABLE_STATUSES = [
  'PENDING',
  'ROUTING',
  'NEEDS_ATTENTION',
  'ASSIGNED',
] as const satisfies readonly OrderStatus[];

export function isCancellable(status: OrderStatus): boolean {
  return (CANCELLABLE_STATUSES as readonly OrderStatus[]).includes(status);
}

/** The audit-log actor for what the routing workflow decides by itself (time-outs, reminders). */
export const ORDER_ROUTING_ACTOR = 'system:order-routing';

/** Why an order was refused at the credit check; the codes appear in the order's statusReason. */
export const CreditRefusal = {
  OverLimit: 'CREDIT_LIMIT_EXCEEDED',
  Flagged: 'RETAILER_FLAGGED',
} as const;
export type CreditRefusal = (typeof CreditRefusal)[keyof typeof CreditRefusal];

export interface CreditPosition {
  creditLimit: number;
  /** What the retailer owes on other orders (their totals less what was paid on them). */
  outstanding: number;
  flagged: boolean;
}

export type CreditDecision =
  { approved: true; available: number } | { approved: false; code: CreditRefusal; reason: string; available: number };

/** Whether a retailer may place an order of `total`: not flagged, and within the credit limit. */
export function creditDecision(position: CreditPosition, total: number): CreditDecision {
  const available = position.creditLimit - position.outstanding;
  if (position.flagged) {
    return {
      approved: false,
      code: CreditRefusal.Flagged,
      reason: 'The retailer was flagged after a final payment notice',
      available,
    };
  }
  if (total > available) {
    return {
      approved: false,
      code: CreditRefusal.OverLimit,
      reason: `The order total ${total} exceeds the available credit ${Math.max(0, available)} (limit ${position.creditLimit}, outstanding ${position.outstanding})`,
      available,
    };
  }
  return { approved: true, available };
}

/** A retailer's payment record, as the credit score reads it. */
export interface PaymentHistory {
  /** Orders paid in full by their due date. */
  paidOnTime: number;
  /** Orders paid in full after their due date. */
  paidLate: number;
  /** Delivered orders past their due date and still unpaid. */
  overdueUnpaid: number;
  /** Orders that reached a FINAL_NOTICE. */
  finalNotices: number;
  outstanding: number;
  creditLimit: number;
}

export const CREDIT_SCORE_MIN = 300;
export const CREDIT_SCORE_MAX = 850;
/** Where a retailer with no history starts. */
export const CREDIT_SCORE_BASE = 600;

/**
 * The retailer's credit score, 300..850: paying on time raises it, paying late, being overdue
 * and final notices lower it, and so does using most of the credit limit. Deterministic, so a
 * recalculation that runs twice writes the same number.
 */
export function creditScore(history: PaymentHistory): number {
  const utilisation =
    history.creditLimit > 0
      ? Math.min(1, Math.max(0, history.outstanding / history.creditLimit))
      : history.outstanding > 0
        ? 1
        : 0;
  const raw =
    CREDIT_SCORE_BASE +
    Math.min(history.paidOnTime, 25) * 10 -
    history.paidLate * 15 -
    history.overdueUnpaid * 40 -
    history.finalNotices * 80 -
    Math.round(Math.max(0, utilisation - 0.5) * 100);
  return Math.min(CREDIT_SCORE_MAX, Math.max(CREDIT_SCORE_MIN, raw));
}
