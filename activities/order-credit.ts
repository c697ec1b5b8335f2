import { orderReference } from '../domain/order-messages';
import { ORDER_ROUTING_ACTOR, creditDecision, creditScore } from '../domain/orders';
import { writeAudit } from './audit';
import type { OrderDeps, OrderRef, OrderStart } from './orders';
import { notFound, orderLoader, outstandingFor } from './order-support';

/**
 * The order's credit: the check before routing, the flag a final notice sets and the retailer's
 * score after each payment. Idempotent under retry (activities/orders.ts says how).
 */
/** Credit reads and writes only the database, so the API can recalculate a score without a worker. */
export function createOrderCreditActivities(deps: Pick<OrderDeps, 'prisma' | 'now'>) {
  const { prisma } = deps;
  const now = deps.now ?? (() => new Date());
  const loadOrder = orderLoader(prisma);

  return {
    /**
     * The credit check, first thing: refuses a flagged retailer or an order over the available
     * credit (the order becomes REJECTED with the reason), otherwise moves it to ROUTING. The
     * retailer's row is locked meanwhile, so two orders cannot both spend the same credit. A
     * retry after the decision was committed answers the decision already made.
     */
    async checkCredit({ tenantId, orderId }: OrderRef): Promise<OrderStart> {
      const order = await loadOrder(tenantId, orderId);
      const context = {
        total: order.total,
        retailerId: order.retailerId,
        vendorResponseMs: order.tenant.vendorResponseMinutes * 60_000,
      };
      if (order.status !== 'PENDING') {
        return order.status === 'REJECTED'
          ? { ...context, approved: false, code: null, reason: order.statusReason ?? 'refused' }
          : { ...context, approved: true };
      }
      return prisma.$transaction(async (tx) => {
        await tx.$queryRaw`SELECT id FROM "Retailer" WHERE id = ${order.retailerId} FOR UPDATE`;
        const retailer = await tx.retailer.findUniqueOrThrow({ where: { id: order.retailerId } });
        const outstanding = await outstandingFor(tx, retailer.id, orderId);
        const decision = creditDecision(
          { creditLimit: retailer.creditLimit, outstanding, flagged: retailer.flagged },
          order.total,
        );
        await tx.order.updateMany({
          where: { id: orderId, status: 'PENDING' },
          data: decision.approved ? { status: 'ROUTING' } : { status: 'REJECTED', statusReason: decision.reason },
        });
        await writeAudit(tx, {
          tenantId,
          actor: ORDER_ROUTING_ACTOR,
          action: decision.approved ? 'order.credit-approved' : 'order.credit-rejected',
          entityType: 'Order',
          entityId: orderId,
          details: {
            total: order.total,
            outstanding,
            creditLimit: retailer.creditLimit,
            available: decision.available,
          },
          dedupKey: `order:${orderId}:credit-check`,
        });
        return decision.approved
          ? { ...context, approved: true as const }
          : { ...context, approved: false as const, code: decision.code, reason: decision.reason };
      });
    },

    /** After the FINAL_NOTICE: the retailer is flagged, so its new orders are refused until an admin clears it. */
    async flagRetailer({ tenantId, orderId, at }: OrderRef & { at: string }): Promise<void> {
      const order = await loadOrder(tenantId, orderId);
      await prisma.$transaction(async (tx) => {
        await tx.order.updateMany({
          where: { id: orderId, finalNoticeAt: null },
          data: { finalNoticeAt: new Date(at) },
        });
        await tx.retailer.update({
          where: { id: order.retailerId },
          data: { flagged: true, flaggedReason: `final payment notice for order ${orderReference(orderId)}` },
        });
        await writeAudit(tx, {
          tenantId,
          actor: ORDER_ROUTING_ACTOR,
          action: 'retailer.flagged',
          entityType: 'Retailer',
          entityId: order.retailerId,
          details: { orderId },
          dedupKey: `order:${orderId}:retailer-flagged`,
        });
      });
    },

    /**
     * Recomputes the retailer's credit score from its orders and payments (domain/orders.ts) and
     * stores it. A pure recomputation, so running it twice writes the same score. Audited once:
     * for order routing (no `actor`) only when the score changes; for a person who asked for it
     * (`actor`), always, attributed to them.
     */
    async recalculateCreditScore(input: {
      tenantId: string;
      retailerId: string;
      trigger: string;
      actor?: string;
    }): Promise<{ creditScore: number }> {
      const { tenantId, retailerId, trigger, actor } = input;
      const retailer = await prisma.retailer.findFirst({ where: { id: retailerId, tenantId } });
      if (!retailer) throw notFound(`Retailer ${retailerId}`);
      const [paid, overdueUnpaid, finalNotices, outstanding] = await Promise.all([
        prisma.order.findMany({ where: { retailerId, status: 'PAID' }, select: { paidAt: true, dueDate: true } }),
        prisma.order.count({ where: { retailerId, status: 'DELIVERED', dueDate: { lt: now() } } }),
        prisma.order.count({ where: { retailerId, finalNoticeAt: { not: null } } }),
        outstandingFor(prisma, retailerId),
      ]);
      const late = paid.filter((order) => order.paidAt && order.dueDate && order.paidAt > order.dueDate).length;
      const score = creditScore({
        paidOnTime: paid.length - late,
        paidLate: late,
        overdueUnpaid,
        finalNotices,
        outstanding,
        creditLimit: retailer.creditLimit,
      });
      await prisma.retailer.update({ where: { id: retailerId }, data: { creditScore: score } });
      if (actor !== undefined || score !== retailer.creditScore) {
        await writeAudit(prisma, {
          tenantId,
          actor: actor ?? ORDER_ROUTING_ACTOR,
          action: 'retailer.credit-score',
          entityType: 'Retailer',
          entityId: retailerId,
          // No dedup key: a retry finds the score already stored and writes no second row.
          details: { from: retailer.creditScore, to: score, trigger },
        });
      }
      return { creditScore: score };
    },
  };
}
