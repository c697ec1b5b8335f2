import { composeOrderMessage, type OrderMessage, type OrderMessageFacts } from '../domain/order-messages';
import { ORDER_ROUTING_ACTOR, isCancellable, type CreditRefusal, type OrderStatus } from '../domain/orders';
import { paymentDueDate } from '../domain/payment-reminders';
import { writeAudit } from './audit';
import { startFanOutsAfterCommit } from './event-publishing';
import { recordOrderDelivered } from './flow-events';
import { createOrderCreditActivities } from './order-credit';
import { createRoutingAttemptActivities } from './order-routing-attempts';
import { notFound, orderLoader, stateConflict, vendorOfferKey, type LoadedOrder } from './order-support';
import type { OfferingFlowDeps, SkippableNotification } from './notifications';

export type OrderDeps = OfferingFlowDeps;

export interface OrderRef {
  tenantId: string;
  orderId: string;
}

/** What the workflow needs to know after the credit check. */
export type OrderStart = {
  total: number;
  retailerId: string;
  /** The tenant's vendor response window, in milliseconds. */
  vendorResponseMs: number;
} & ({ approved: true } | { approved: false; code: CreditRefusal | null; reason: string });

export interface VendorOffer {
  attemptId: string;
  /** SHA-256 of the vendor's response token; the workflow matches responses against it. */
  tokenHash: string;
  deadline: string;
}

export interface AssignOrderInput extends OrderRef {
  vendorId: string;
  /** The number this assignment gets among the order's routing attempts. */
  attempt: number;
  /** The vendor's accepted offer; absent for an operator's manual assignment. */
  attemptId?: string;
  actor: string;
}

export type { OrderMessage } from '../domain/order-messages';

/**
 * Activities of order routing. Each is idempotent under retry: status changes are guarded by
 * the row's current status, routing attempts by their unique (orderId, attempt), audit rows by
 * a dedup key and messages by the Notification ledger.
 *
 * @throws ApplicationFailure `NotFound` (non-retryable) when the order or vendor no longer
 *   exists; `VendorUnavailable` for a manual assignment to an inactive vendor;
 *   `OrderStateConflict` when the order is past the change asked for.
 */
export function createOrderActivities(deps: OrderDeps) {
  const { prisma, notifier } = deps;
  const now = deps.now ?? (() => new Date());

  const loadOrder = orderLoader(prisma);

  /** What a message needs beyond the order row: read only for the kinds that use it. */
  async function messageFacts(order: LoadedOrder, request: OrderMessage): Promise<OrderMessageFacts> {
    if (request.kind === 'needs-attention' && order.tenant.adminEmail) {
      return { vendorsTried: await prisma.routingAttempt.count({ where: { orderId: order.id } }) };
    }
    if (request.kind === 'cancelled' && request.audience === 'vendor') {
      return { vendor: await prisma.vendor.findFirst({ where: { id: request.vendorId, tenantId: order.tenantId } }) };
    }
    return {};
  }

  return {
    ...createOrderCreditActivities(deps),
    ...createRoutingAttemptActivities(deps),

    /**
     * Every vendor was tried: the order waits for an operator (NEEDS_ATTENTION). With `reason`, a
     * step failed for good and the routing workflow stopped: a PENDING or ROUTING order moves to
     * NEEDS_ATTENTION with the reason, and the audit log records it whatever the order's status.
     */
    async markNeedsAttention({ tenantId, orderId, reason }: OrderRef & { reason?: string }): Promise<void> {
      await prisma.$transaction(async (tx) => {
        await tx.order.updateMany({
          where: { id: orderId, tenantId, status: { in: reason ? ['PENDING', 'ROUTING'] : ['ROUTING'] } },
          data: reason ? { status: 'NEEDS_ATTENTION', statusReason: reason } : { status: 'NEEDS_ATTENTION' },
        });
        await writeAudit(tx, {
          tenantId,
          actor: ORDER_ROUTING_ACTOR,
          action: reason ? 'order.stopped' : 'order.needs-attention',
          entityType: 'Order',
          entityId: orderId,
          ...(reason ? { details: { reason } } : {}),
          dedupKey: `order:${orderId}:${reason ? 'stopped' : 'needs-attention'}`,
        });
      });
    },

    /**
     * Cancels the order (before dispatch only) and withdraws any open offer. Answers the vendors
     * to tell: the assigned one, and any whose offer was open.
     */
    async cancelOrderRecord(input: OrderRef & { reason: string; actor: string }): Promise<{ vendorIds: string[] }> {
      const { tenantId, orderId, reason, actor } = input;
      return prisma.$transaction(async (tx) => {
        const order = await tx.order.findFirst({ where: { id: orderId, tenantId } });
        if (!order) throw notFound(`Order ${orderId}`);
        if (order.status !== 'CANCELLED') {
          if (!isCancellable(order.status)) {
            throw stateConflict(`The order is ${order.status} and can no longer be cancelled`);
          }
          await tx.routingAttempt.updateMany({
            where: { orderId, outcome: 'OFFERED' },
            data: { outcome: 'CANCELLED', reason, respondedAt: now() },
          });
          await tx.order.update({ where: { id: orderId }, data: { status: 'CANCELLED', statusReason: reason } });
          await writeAudit(tx, {
            tenantId,
            actor,
            action: 'order.cancelled',
            entityType: 'Order',
            entityId: orderId,
            details: { reason, from: order.status },
            dedupKey: `order:${orderId}:cancelled`,
          });
        }
        // Only vendors that were actually sent the offer hear that it is withdrawn.
        const withdrawn = await tx.routingAttempt.findMany({
          where: { orderId, outcome: 'CANCELLED' },
          select: { vendorId: true, attempt: true },
        });
        const offersSent = await tx.notification.findMany({
          where: {
            idempotencyKey: { in: withdrawn.map((row) => vendorOfferKey(orderId, row.attempt)) },
            status: 'SENT',
          },
          select: { idempotencyKey: true },
        });
        const sentKeys = new Set(offersSent.map((row) => row.idempotencyKey));
        const vendorIds = new Set(
          withdrawn.filter((row) => sentKeys.has(vendorOfferKey(orderId, row.attempt))).map((row) => row.vendorId),
        );
        if (order.vendorId) vendorIds.add(order.vendorId);
        return { vendorIds: [...vendorIds] };
      });
    },

    /**
     * Records DISPATCHED or DELIVERED at workflow time `at`. Delivery sets the due date from the
     * tenant's payment terms and publishes `order.delivered`. A retry answers what was recorded.
     */
    async recordFulfilment(
      input: OrderRef & { status: 'DISPATCHED' | 'DELIVERED'; at: string; actor: string },
    ): Promise<{ deliveredAt: string | null; dueDate: string | null }> {
      const { tenantId, orderId, status, at, actor } = input;
      const order = await loadOrder(tenantId, orderId);
      const present = (row: { deliveredAt: Date | null; dueDate: Date | null }) => ({
        deliveredAt: row.deliveredAt?.toISOString() ?? null,
        dueDate: row.dueDate?.toISOString() ?? null,
      });
      const reached: OrderStatus[] =
        status === 'DISPATCHED' ? ['DISPATCHED', 'DELIVERED', 'PAID'] : ['DELIVERED', 'PAID'];
      if (reached.includes(order.status)) return present(order);
      const from: OrderStatus[] = status === 'DISPATCHED' ? ['ASSIGNED'] : ['ASSIGNED', 'DISPATCHED'];
      if (!from.includes(order.status)) {
        throw stateConflict(`The order is ${order.status} and cannot become ${status}`);
      }
      const when = new Date(at);
      const data =
        status === 'DISPATCHED'
          ? { status, dispatchedAt: when }
          : {
              status,
              dispatchedAt: order.dispatchedAt ?? when,
              deliveredAt: when,
              dueDate: new Date(paymentDueDate(at, order.tenant.paymentTermsDays)),
            };
      const { recorded, eventId } = await prisma.$transaction(async (tx) => {
        const moved = await tx.order.updateMany({ where: { id: orderId, status: { in: from } }, data });
        await writeAudit(tx, {
          tenantId,
          actor,
          action: `order.${status.toLowerCase()}`,
          entityType: 'Order',
          entityId: orderId,
          dedupKey: `order:${orderId}:${status.toLowerCase()}`,
        });
        return {
          recorded: present(await tx.order.findUniqueOrThrow({ where: { id: orderId } })),
          // Only the transaction that moved the order reports the delivery: a concurrent change wins.
          eventId:
            status === 'DELIVERED' && moved.count > 0
              ? await recordOrderDelivered(tx, { tenantId, orderId })
              : undefined,
        };
      });
      await startFanOutsAfterCommit(deps.temporal, tenantId, [eventId]);
      return recorded;
    },

    /** Paid in full: the order is PAID at workflow time `at`. */
    async markOrderPaid({ tenantId, orderId, at }: OrderRef & { at: string }): Promise<void> {
      await prisma.$transaction(async (tx) => {
        await tx.order.updateMany({
          where: { id: orderId, tenantId, status: 'DELIVERED' },
          data: { status: 'PAID', paidAt: new Date(at) },
        });
        await writeAudit(tx, {
          tenantId,
          actor: ORDER_ROUTING_ACTOR,
          action: 'order.paid',
          entityType: 'Order',
          entityId: orderId,
          dedupKey: `order:${orderId}:paid`,
        });
      });
    },

    /** Sends one order message (confirmation, delivery update, reminder, …) through the ledger. */
    async sendOrderNotification(input: OrderRef & { message: OrderMessage }): Promise<SkippableNotification> {
      const order = await loadOrder(input.tenantId, input.orderId);
      const message = composeOrderMessage(order, input.message, await messageFacts(order, input.message));
      if ('skipped' in message) return { status: 'SKIPPED', reason: message.skipped };
      if (message.channel !== 'EMAIL' && !notifier.supports(message.channel)) {
        return { status: 'SKIPPED', reason: `no ${message.channel} provider` };
      }
      return notifier.send({ tenantId: input.tenantId, ...message });
    },
  };
}

export type OrderActivities = ReturnType<typeof createOrderActivities>;
