import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { orderReference, vendorResponseUrl } from '../domain/order-messages';
import { ORDER_ROUTING_ACTOR, VENDOR_OPEN_STATUSES, orderCategories, type OrderItem } from '../domain/orders';
import { RECENT_REJECTION_DAYS, rankVendors } from '../domain/vendors';
import { hashVendorToken, signVendorToken, vendorTokenMatching } from '../domain/vendor-token';
import { FailureType } from '../workflows/errors';
import type { RankedVendor, SettledRoutingOutcome } from '../workflows/order-routing.contract';
import { auditOfferMade, writeAudit, type OfferAuditing } from './audit';
import { insertOnce } from './insert-once';
import { startFanOutsAfterCommit } from './event-publishing';
import { recordOrderAssigned } from './flow-events';
import type { SkippableNotification } from './notifications';
import type { OrderDeps, OrderRef, VendorOffer, AssignOrderInput } from './orders';
import { DAY_MS, notFound, orderLoader, stateConflict, vendorOfferKey } from './order-support';

const ROUTING_ATTEMPT_AUDITING: OfferAuditing = {
  actor: ORDER_ROUTING_ACTOR,
  entityType: 'RoutingAttempt',
  subject: 'order',
  keyPrefix: 'routing',
};

/**
 * Routing attempts: ranking the vendors, offering the order to one, sending it the offer,
 * settling the attempt and assigning the order (also by hand). Idempotent under retry: attempts
 * are unique per (orderId, attempt), audit rows carry a dedup key, messages go through the ledger.
 */
export function createRoutingAttemptActivities(deps: OrderDeps) {
  const { prisma, notifier, offerTokenSecret, publicBaseUrl } = deps;
  const now = deps.now ?? (() => new Date());
  const loadOrder = orderLoader(prisma);

  return {
    /**
     * The vendors to offer the order to, best first (domain/vendors.ts): active, in the delivery
     * region, supplying every category, under capacity, ranked by rating less recent rejections.
     */
    async rankVendorsForOrder({ tenantId, orderId }: OrderRef): Promise<RankedVendor[]> {
      const order = await loadOrder(tenantId, orderId);
      const vendors = await prisma.vendor.findMany({
        where: { tenantId, active: true, region: order.deliveryRegion },
      });
      const ids = vendors.map((vendor) => vendor.id);
      const since = new Date(now().getTime() - RECENT_REJECTION_DAYS * DAY_MS);
      const [open, rejections] = await Promise.all([
        prisma.order.groupBy({
          by: ['vendorId'],
          where: { tenantId, vendorId: { in: ids }, status: { in: [...VENDOR_OPEN_STATUSES] } },
          _count: { _all: true },
        }),
        prisma.routingAttempt.groupBy({
          by: ['vendorId'],
          where: {
            tenantId,
            vendorId: { in: ids },
            outcome: { in: ['REJECTED', 'TIMED_OUT'] },
            offeredAt: { gte: since },
          },
          _count: { _all: true },
        }),
      ]);
      const countOf = (rows: Array<{ vendorId: string | null; _count: { _all: number } }>, id: string) =>
        rows.find((row) => row.vendorId === id)?._count._all ?? 0;
      const ranked = rankVendors(
        vendors.map((vendor) => ({
          ...vendor,
          openOrders: countOf(open, vendor.id),
          recentRejections: countOf(rejections, vendor.id),
        })),
        { deliveryRegion: order.deliveryRegion, categories: orderCategories(order.items as unknown as OrderItem[]) },
      );
      return ranked.map((vendor) => ({ vendorId: vendor.id, vendorName: vendor.name }));
    },

    /** Records the offer to a vendor as routing attempt `attempt`; a retry gets the attempt already made. */
    async offerOrderToVendor(
      input: OrderRef & { vendorId: string; attempt: number; deadline: string },
    ): Promise<VendorOffer> {
      const { tenantId, orderId, vendorId, attempt, deadline } = input;
      const present = (row: { id: string; tokenHash: string | null; deadline: Date | null }): VendorOffer => ({
        attemptId: row.id,
        tokenHash: row.tokenHash ?? '',
        deadline: row.deadline?.toISOString() ?? deadline,
      });
      const existing = () => prisma.routingAttempt.findUnique({ where: { orderId_attempt: { orderId, attempt } } });
      const id = randomUUID();
      const insert = () =>
        prisma.$transaction(async (tx) => {
          const row = await tx.routingAttempt.create({
            data: {
              id,
              tenantId,
              orderId,
              vendorId,
              attempt,
              deadline: new Date(deadline),
              offeredAt: now(),
              tokenHash: hashVendorToken(signVendorToken(offerTokenSecret, { tenantId, attemptId: id })),
            },
          });
          await auditOfferMade(tx, ROUTING_ATTEMPT_AUDITING, {
            tenantId,
            offerId: id,
            details: { orderId, vendorId, attempt, deadline },
          });
          return row;
        });
      return present(await insertOnce(existing, insert));
    },

    /**
     * Sends the offer to the vendor on its channel, with accept and reject links carrying the
     * attempt's token, rebuilt here so it never passes through workflow history. A provider's
     * 429 fails with its Retry-After as the next retry delay (activities/sms-provider.ts).
     */
    async sendVendorOffer({
      tenantId,
      attemptId,
    }: {
      tenantId: string;
      attemptId: string;
    }): Promise<SkippableNotification> {
      const attempt = await prisma.routingAttempt.findFirst({
        where: { id: attemptId, tenantId },
        include: { vendor: true, order: { include: { tenant: true } } },
      });
      if (!attempt) throw notFound(`Routing attempt ${attemptId}`);
      if (attempt.outcome !== 'OFFERED') return { status: 'SKIPPED', reason: `the offer is ${attempt.outcome}` };
      // An attempt offered before an upgrade stores the hash of a legacy token: its message carries that one.
      const token = vendorTokenMatching(offerTokenSecret, { tenantId, attemptId }, attempt.tokenHash);
      const items = attempt.order.items as unknown as OrderItem[];
      return notifier.send({
        tenantId,
        channel: attempt.vendor.channel,
        recipient: attempt.vendor.contact,
        idempotencyKey: vendorOfferKey(attempt.orderId, attempt.attempt),
        template: {
          name: 'order.vendor-offer',
          data: {
            tenantName: attempt.order.tenant.name,
            vendorName: attempt.vendor.name,
            orderRef: orderReference(attempt.orderId),
            itemsSummary: items.map((item) => `${item.quantity} x ${item.name}`).join(', '),
            total: attempt.order.total,
            deliveryRegion: attempt.order.deliveryRegion,
            respondBy: (attempt.deadline ?? now()).toISOString(),
            acceptUrl: vendorResponseUrl(publicBaseUrl, token, 'accept'),
            rejectUrl: vendorResponseUrl(publicBaseUrl, token, 'reject'),
          },
        },
      });
    },

    /** Closes an open offer as rejected, timed out, undeliverable or cancelled; a settled one is left alone. */
    async settleRoutingAttempt(input: {
      tenantId: string;
      attemptId: string;
      outcome: SettledRoutingOutcome;
      reason?: string;
      actor: string;
    }): Promise<void> {
      const { tenantId, attemptId, outcome, reason, actor } = input;
      await prisma.$transaction(async (tx) => {
        const settled = await tx.routingAttempt.updateMany({
          where: { id: attemptId, tenantId, outcome: 'OFFERED' },
          data: { outcome, reason: reason ?? null, respondedAt: now() },
        });
        if (settled.count === 0) return;
        await writeAudit(tx, {
          tenantId,
          actor,
          action: `order.offer-${outcome.toLowerCase().replace('_', '-')}`,
          entityType: 'RoutingAttempt',
          entityId: attemptId,
          details: reason ? { reason } : undefined,
          dedupKey: `routing:${attemptId}:settled`,
        });
      });
    },

    /**
     * Gives the order to a vendor, in one transaction: the accepted offer (or, for an operator's
     * manual assignment, a MANUAL attempt), the order ASSIGNED and the `order.assigned` event. A
     * retry finds it done.
     */
    async assignOrder(input: AssignOrderInput): Promise<RankedVendor> {
      const { tenantId, orderId, vendorId, attempt, attemptId, actor } = input;
      const vendor = await prisma.vendor.findFirst({ where: { id: vendorId, tenantId } });
      if (!vendor) throw notFound(`Vendor ${vendorId}`);
      const assigned = { vendorId, vendorName: vendor.name };
      const order = await loadOrder(tenantId, orderId);
      if (order.status === 'ASSIGNED' && order.vendorId === vendorId) return assigned;
      if (order.status !== 'ROUTING' && order.status !== 'NEEDS_ATTENTION') {
        throw stateConflict(`The order is ${order.status} and cannot be assigned`);
      }
      if (!attemptId && !vendor.active) {
        throw ApplicationFailure.nonRetryable(`Vendor ${vendor.name} is inactive`, FailureType.VendorUnavailable);
      }
      const eventId = await prisma.$transaction(async (tx) => {
        if (attemptId) {
          await tx.routingAttempt.updateMany({
            where: { id: attemptId, tenantId, outcome: 'OFFERED' },
            data: { outcome: 'ACCEPTED', respondedAt: now() },
          });
        } else {
          await tx.routingAttempt.createMany({
            data: [
              {
                tenantId,
                orderId,
                vendorId,
                attempt,
                outcome: 'MANUAL',
                reason: `assigned by ${actor}`,
                respondedAt: now(),
              },
            ],
            skipDuplicates: true,
          });
        }
        const moved = await tx.order.updateMany({
          where: { id: orderId, status: { in: ['ROUTING', 'NEEDS_ATTENTION'] } },
          data: { status: 'ASSIGNED', vendorId },
        });
        if (moved.count === 0) throw stateConflict('The order changed while it was being assigned');
        await writeAudit(tx, {
          tenantId,
          actor,
          action: attemptId ? 'order.assigned' : 'order.assigned-manually',
          entityType: 'Order',
          entityId: orderId,
          details: { vendorId, attempt },
          dedupKey: `order:${orderId}:assigned`,
        });
        return recordOrderAssigned(tx, { tenantId, orderId, manual: !attemptId, at: now() });
      });
      await startFanOutsAfterCommit(deps.temporal, tenantId, [eventId]);
      return assigned;
    },
  };
}
