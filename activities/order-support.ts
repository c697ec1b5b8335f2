import { ApplicationFailure } from '@temporalio/common';
import { CREDIT_COMMITTED_STATUSES } from '../domain/orders';
import type { Prisma, PrismaClient } from '../lib/db';
import { FailureType } from '../workflows/errors';

/** Pieces the order activity factories share: failures, keys and the reads several of them make. */

export const DAY_MS = 24 * 60 * 60 * 1000;

/** The Notification ledger's key for the offer of routing attempt `attempt`. */
export const vendorOfferKey = (orderId: string, attempt: number) => `order:${orderId}:offer:${attempt}`;

export const notFound = (what: string) => ApplicationFailure.nonRetryable(`${what} not found`, FailureType.NotFound);
export const stateConflict = (message: string) =>
  ApplicationFailure.nonRetryable(message, FailureType.OrderStateConflict);

/** What a retailer owes on its credit-committed orders, other than `exceptOrderId`: totals less payments. */
export async function outstandingFor(
  db: Prisma.TransactionClient | PrismaClient,
  retailerId: string,
  exceptOrderId?: string,
): Promise<number> {
  const where = {
    retailerId,
    status: { in: [...CREDIT_COMMITTED_STATUSES] },
    ...(exceptOrderId ? { id: { not: exceptOrderId } } : {}),
  };
  const [totals, paid] = await Promise.all([
    db.order.aggregate({ where, _sum: { total: true } }),
    db.payment.aggregate({ where: { order: where }, _sum: { amount: true } }),
  ]);
  return (totals._sum.total ?? 0) - (paid._sum.amount ?? 0);
}

/** Reads an order of the tenant with its tenant, retailer and vendor; a missing one fails NotFound. */
export function orderLoader(prisma: PrismaClient) {
  return async function loadOrder(tenantId: string, orderId: string) {
    const order = await prisma.order.findFirst({
      where: { id: orderId, tenantId },
      include: { tenant: true, retailer: true, vendor: true },
    });
    if (!order) throw notFound(`Order ${orderId}`);
    return order;
  };
}

export type LoadedOrder = Awaited<ReturnType<ReturnType<typeof orderLoader>>>;
