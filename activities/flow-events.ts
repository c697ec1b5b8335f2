import type { Prisma } from '../lib/db';
import type { OfferCounts } from '../workflows/waitlist-cascade.contract';
import { recordEvent, type RecordedEvent } from './event-publishing';

/**
 * The events Holdfast's own flows publish (docs/events.md has the catalogue). Each is written by
 * the activity that makes the change, with `record…` inside that change's transaction and only
 * when that transaction made the change (a row moved), so the event exists exactly when the change
 * does; `startFanOutsAfterCommit` (event-publishing.ts) then starts its fan-out. Keys are business
 * keys, so a retried step finds the event it wrote and never publishes twice.
 *
 * Each `record…` returns the ID of the event whose fan-out is to start after the commit, or
 * `undefined` when the row was found already published (nothing to start).
 */

type Tx = Prisma.TransactionClient;

const toStart = ({ eventId, needsFanOut }: RecordedEvent) => (needsFanOut ? eventId : undefined);

/** `offer.accepted`: a waitlist candidate took the slot (with the hold confirmed and the slot assigned). */
export async function recordOfferAccepted(tx: Tx, { tenantId, holdId }: { tenantId: string; holdId: string }) {
  const hold = await tx.hold.findFirstOrThrow({
    where: { id: holdId, tenantId },
    include: { entry: true, slot: true },
  });
  const acceptedAt = hold.respondedAt ?? hold.updatedAt;
  const recorded = await recordEvent(tx, {
    tenantId,
    key: `offer.accepted:${holdId}`,
    type: 'offer.accepted',
    subject: { type: 'slot', id: hold.slotId },
    data: {
      slotId: hold.slotId,
      slotName: hold.slot.name,
      startsAt: hold.slot.startsAt?.toISOString() ?? null,
      holdId,
      entryId: hold.entryId,
      customer: { name: hold.entry.customerName, email: hold.entry.email, phone: hold.entry.phone },
      acceptedAt: acceptedAt.toISOString(),
    },
    occurredAt: acceptedAt,
    source: 'FLOW',
  });
  return toStart(recorded);
}

/** `slot.unfilled`: a cascade ran out of candidates. */
export async function recordSlotUnfilled(
  tx: Tx,
  { tenantId, slotId, cascadeId, counts }: { tenantId: string; slotId: string; cascadeId: string; counts: OfferCounts },
) {
  const slot = await tx.slot.findFirstOrThrow({ where: { id: slotId, tenantId } });
  const recorded = await recordEvent(tx, {
    tenantId,
    key: `slot.unfilled:${cascadeId}`,
    type: 'slot.unfilled',
    subject: { type: 'slot', id: slotId },
    data: { slotId, slotName: slot.name, startsAt: slot.startsAt?.toISOString() ?? null, cascadeId, ...counts },
    source: 'FLOW',
  });
  return toStart(recorded);
}

/** `tenant.activated`: onboarding finished; `data` is what the onboarding reports of the tenant. */
export async function recordTenantActivated(
  tx: Tx,
  { tenantId, onboardingId, data }: { tenantId: string; onboardingId: string; data: Record<string, unknown> },
) {
  const recorded = await recordEvent(tx, {
    tenantId,
    key: `tenant.activated:${onboardingId}`,
    type: 'tenant.activated',
    subject: { type: 'tenant', id: tenantId },
    data,
    source: 'FLOW',
  });
  return toStart(recorded);
}

/** The parties of an order as its events carry them, so rules can address either. */
async function orderFacts(tx: Tx, tenantId: string, orderId: string) {
  const order = await tx.order.findFirstOrThrow({
    where: { id: orderId, tenantId },
    include: { retailer: true, vendor: true },
  });
  const party = (row: { id: string; name: string; channel: string; contact: string } | null) =>
    row ? { id: row.id, name: row.name, channel: row.channel, contact: row.contact } : null;
  return {
    order,
    data: {
      orderId,
      clientOrderRef: order.clientOrderRef,
      total: order.total,
      retailerId: order.retailerId,
      vendorId: order.vendorId,
      vendorName: order.vendor?.name ?? null,
      retailer: party(order.retailer),
      vendor: party(order.vendor),
    },
  };
}

/** `order.assigned`: a vendor accepted the order's offer, or an operator assigned it (`manual`). */
export async function recordOrderAssigned(
  tx: Tx,
  { tenantId, orderId, manual, at }: { tenantId: string; orderId: string; manual: boolean; at: Date },
) {
  const { data } = await orderFacts(tx, tenantId, orderId);
  const recorded = await recordEvent(tx, {
    tenantId,
    key: `order.assigned:${orderId}`,
    type: 'order.assigned',
    subject: { type: 'order', id: orderId },
    data: { ...data, manual, assignedAt: at.toISOString() },
    occurredAt: at,
    source: 'FLOW',
  });
  return toStart(recorded);
}

/** `order.delivered`: the order was reported delivered; its payment is due on `dueDate`. */
export async function recordOrderDelivered(tx: Tx, { tenantId, orderId }: { tenantId: string; orderId: string }) {
  const { order, data } = await orderFacts(tx, tenantId, orderId);
  const deliveredAt = order.deliveredAt ?? new Date();
  const recorded = await recordEvent(tx, {
    tenantId,
    key: `order.delivered:${orderId}`,
    type: 'order.delivered',
    subject: { type: 'order', id: orderId },
    data: { ...data, deliveredAt: deliveredAt.toISOString(), dueDate: order.dueDate?.toISOString() ?? null },
    occurredAt: deliveredAt,
    source: 'FLOW',
  });
  return toStart(recorded);
}

/** `payment.received`: a payment was recorded against an order. */
export async function recordPaymentReceived(tx: Tx, { tenantId, paymentId }: { tenantId: string; paymentId: string }) {
  const payment = await tx.payment.findFirstOrThrow({ where: { id: paymentId, tenantId } });
  const { data } = await orderFacts(tx, tenantId, payment.orderId);
  const paid = await tx.payment.aggregate({ where: { orderId: payment.orderId }, _sum: { amount: true } });
  const recorded = await recordEvent(tx, {
    tenantId,
    key: `payment.received:${paymentId}`,
    type: 'payment.received',
    subject: { type: 'order', id: payment.orderId },
    data: {
      ...data,
      paymentId,
      amount: payment.amount,
      reference: payment.reference,
      receivedAt: payment.receivedAt.toISOString(),
      paidSoFar: paid._sum.amount ?? 0,
    },
    occurredAt: payment.receivedAt,
    source: 'FLOW',
  });
  return toStart(recorded);
}
