import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { orderReference, vendorResponseUrl, type OrderTemplate } from '../domain/order-messages';
import {
  CREDIT_COMMITTED_STATUSES,
  ORDER_ROUTING_ACTOR,
  VENDOR_OPEN_STATUSES,
  creditDecision,
  creditScore,
  isCancellable,
  orderCategories,
  type CreditRefusal,
  type OrderItem,
  type OrderStatus,
} from '../domain/orders';
import { paymentDueDate, type ScheduledReminder } from '../domain/payment-reminders';
import { RECENT_REJECTION_DAYS, rankVendors } from '../domain/vendors';
import { hashVendorToken, signVendorToken, vendorTokenMatching } from '../domain/vendor-token';
import type { NotificationChannel } from '../domain/notifications';
import { isUniqueViolation, type Prisma, type PrismaClient } from '../lib/db';
import { FailureType } from '../workflows/errors';
import { writeAudit } from './audit';
import type { Notifier } from './notifications';
import type { SkippableNotification } from './waitlist';

export interface OrderDeps {
  prisma: PrismaClient;
  notifier: Notifier;
  /** Signs vendors' response tokens (a key derived from config.offerTokenSecret). */
  offerTokenSecret: string;
  /** Where the vendor's links point. */
  publicBaseUrl: string;
  now?: () => Date;
}

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

export interface RankedVendor {
  vendorId: string;
  vendorName: string;
}

export interface VendorOffer {
  attemptId: string;
  /** SHA-256 of the vendor's response token; the workflow matches responses against it. */
  tokenHash: string;
  deadline: string;
}

export type SettledRoutingOutcome = 'REJECTED' | 'TIMED_OUT' | 'UNREACHABLE' | 'CANCELLED';

export interface AssignOrderInput extends OrderRef {
  vendorId: string;
  /** The number this assignment gets among the order's routing attempts. */
  attempt: number;
  /** The vendor's accepted offer; absent for an operator's manual assignment. */
  attemptId?: string;
  actor: string;
}

/** Who a notification about an order goes to, and what it says. */
export type OrderMessage =
  | { kind: 'confirmed' }
  | { kind: 'rejected' }
  | { kind: 'needs-attention' }
  | { kind: 'cancelled'; audience: 'retailer' }
  | { kind: 'cancelled'; audience: 'vendor'; vendorId: string }
  | { kind: 'delivery-update'; status: 'DISPATCHED' | 'DELIVERED' }
  | { kind: 'reminder'; reminder: ScheduledReminder; amountDue: number };

type Tx = Prisma.TransactionClient;

const DAY_MS = 24 * 60 * 60 * 1000;

/** The Notification ledger's key for the offer of routing attempt `attempt`. */
const vendorOfferKey = (orderId: string, attempt: number) => `order:${orderId}:offer:${attempt}`;

const notFound = (what: string) => ApplicationFailure.nonRetryable(`${what} not found`, FailureType.NotFound);
const stateConflict = (message: string) => ApplicationFailure.nonRetryable(message, FailureType.OrderStateConflict);

/** What a retailer owes on its credit-committed orders, other than `exceptOrderId`: totals less payments. */
async function outstandingFor(db: Tx | PrismaClient, retailerId: string, exceptOrderId?: string): Promise<number> {
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
  const { prisma, notifier, offerTokenSecret, publicBaseUrl } = deps;
  const now = deps.now ?? (() => new Date());

  async function loadOrder(tenantId: string, orderId: string) {
    const order = await prisma.order.findFirst({
      where: { id: orderId, tenantId },
      include: { tenant: true, retailer: true, vendor: true },
    });
    if (!order) throw notFound(`Order ${orderId}`);
    return order;
  }

  type LoadedOrder = Awaited<ReturnType<typeof loadOrder>>;

  /** The message for `request`: its recipient, channel, template and business identity. */
  async function orderMessage(
    order: LoadedOrder,
    request: OrderMessage,
  ): Promise<
    | { channel: NotificationChannel; recipient: string; idempotencyKey: string; template: OrderTemplate }
    | { skipped: string }
  > {
    const tenantName = order.tenant.name;
    const orderRef = orderReference(order.id);
    const retailer = { channel: order.retailer.channel, recipient: order.retailer.contact };
    const key = (suffix: string) => `order:${order.id}:${suffix}`;
    switch (request.kind) {
      case 'confirmed':
        return {
          ...retailer,
          idempotencyKey: key('confirmed'),
          template: {
            name: 'order.confirmed',
            data: {
              tenantName,
              retailerName: order.retailer.name,
              orderRef,
              vendorName: order.vendor?.name ?? 'a vendor',
              total: order.total,
            },
          },
        };
      case 'rejected':
        return {
          ...retailer,
          idempotencyKey: key('rejected'),
          template: {
            name: 'order.rejected',
            data: { tenantName, retailerName: order.retailer.name, orderRef, reason: order.statusReason ?? 'refused' },
          },
        };
      case 'needs-attention': {
        if (!order.tenant.adminEmail) return { skipped: 'the tenant has no admin email' };
        const vendorsTried = await prisma.routingAttempt.count({ where: { orderId: order.id } });
        return {
          channel: 'EMAIL',
          recipient: order.tenant.adminEmail,
          idempotencyKey: key('needs-attention'),
          template: {
            name: 'order.needs-attention',
            data: {
              tenantName,
              orderId: order.id,
              orderRef,
              retailerName: order.retailer.name,
              deliveryRegion: order.deliveryRegion,
              vendorsTried,
            },
          },
        };
      }
      case 'cancelled': {
        const reason = order.statusReason ?? 'cancelled';
        if (request.audience === 'retailer') {
          return {
            ...retailer,
            idempotencyKey: key('cancelled:retailer'),
            template: {
              name: 'order.cancelled',
              data: { tenantName, recipientName: order.retailer.name, orderRef, reason },
            },
          };
        }
        const vendor = await prisma.vendor.findFirst({ where: { id: request.vendorId, tenantId: order.tenantId } });
        if (!vendor) return { skipped: 'the vendor no longer exists' };
        return {
          channel: vendor.channel,
          recipient: vendor.contact,
          idempotencyKey: key(`cancelled:vendor:${vendor.id}`),
          template: { name: 'order.cancelled', data: { tenantName, recipientName: vendor.name, orderRef, reason } },
        };
      }
      case 'delivery-update':
        return {
          ...retailer,
          idempotencyKey: key(request.status.toLowerCase()),
          template: {
            name: 'order.delivery-update',
            data: {
              tenantName,
              retailerName: order.retailer.name,
              orderRef,
              status: request.status,
              dueDate: order.dueDate?.toISOString() ?? null,
              total: order.total,
            },
          },
        };
      case 'reminder': {
        const { reminder, amountDue } = request;
        return {
          ...retailer,
          idempotencyKey: key(`reminder:${reminder.sequence}:${reminder.kind.toLowerCase()}`),
          template: {
            name: 'payment.reminder',
            data: {
              tenantName,
              retailerName: order.retailer.name,
              orderRef,
              kind: reminder.kind,
              amountDue,
              dueDate: order.dueDate?.toISOString() ?? reminder.at,
            },
          },
        };
      }
    }
  }

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
      const found = await existing();
      if (found) return present(found);
      const id = randomUUID();
      try {
        const created = await prisma.$transaction(async (tx) => {
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
          await writeAudit(tx, {
            tenantId,
            actor: ORDER_ROUTING_ACTOR,
            action: 'order.offered',
            entityType: 'RoutingAttempt',
            entityId: id,
            details: { orderId, vendorId, attempt, deadline },
            dedupKey: `routing:${id}:offered`,
          });
          return row;
        });
        return present(created);
      } catch (error) {
        if (isUniqueViolation(error)) {
          const raced = await existing();
          if (raced) return present(raced);
        }
        throw error;
      }
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
     * manual assignment, a MANUAL attempt) and the order ASSIGNED. A retry finds it done.
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
      await prisma.$transaction(async (tx) => {
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
      });
      return assigned;
    },

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
     * tenant's payment terms. A retry answers what was recorded.
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
      return prisma.$transaction(async (tx) => {
        await tx.order.updateMany({ where: { id: orderId, status: { in: from } }, data });
        await writeAudit(tx, {
          tenantId,
          actor,
          action: `order.${status.toLowerCase()}`,
          entityType: 'Order',
          entityId: orderId,
          dedupKey: `order:${orderId}:${status.toLowerCase()}`,
        });
        return present(await tx.order.findUniqueOrThrow({ where: { id: orderId } }));
      });
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
     * stores it. A pure recomputation, so running it twice writes the same score.
     */
    async recalculateCreditScore(input: {
      tenantId: string;
      retailerId: string;
      trigger: string;
    }): Promise<{ creditScore: number }> {
      const { tenantId, retailerId, trigger } = input;
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
      if (score !== retailer.creditScore) {
        await writeAudit(prisma, {
          tenantId,
          actor: ORDER_ROUTING_ACTOR,
          action: 'retailer.credit-score',
          entityType: 'Retailer',
          entityId: retailerId,
          // No dedup key: a retry finds the score already stored and writes no second row.
          details: { from: retailer.creditScore, to: score, trigger },
        });
      }
      return { creditScore: score };
    },

    /** Sends one order message (confirmation, delivery update, reminder, …) through the ledger. */
    async sendOrderNotification(input: OrderRef & { message: OrderMessage }): Promise<SkippableNotification> {
      const order = await loadOrder(input.tenantId, input.orderId);
      const message = await orderMessage(order, input.message);
      if ('skipped' in message) return { status: 'SKIPPED', reason: message.skipped };
      if (message.channel !== 'EMAIL' && !notifier.supports(message.channel)) {
        return { status: 'SKIPPED', reason: `no ${message.channel} provider` };
      }
      return notifier.send({ tenantId: input.tenantId, ...message });
    },
  };
}

export type OrderActivities = ReturnType<typeof createOrderActivities>;
