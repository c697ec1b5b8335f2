import { randomUUID } from 'node:crypto';
import { hashOfferToken } from '../../domain/offer-token';
import { hashVendorToken } from '../../domain/vendor-token';
import type { PrismaClient } from '../../lib/db';
import { createRetailer, createVendor, uniqueContact } from './partners';

/*
 * Offers as the rows a waitlist cascade or an order's routing leaves behind, with no workflow run
 * behind them: enough for the pages and answers of the links in their messages, which read the
 * rows and then find no run to answer (so an answer is refused as superseded).
 */

const HOUR_MS = 60 * 60 * 1000;

/** Makes the link token of a new hold or routing attempt from its ID (signed as now, or as an older release did). */
export type TokenFor = (id: string) => string;

/** A CASCADING slot "Dr. Lee 14:30" with one OFFERED candidate "Ada Lovelace", at an email address of her own. */
export async function createOfferedCandidate(prisma: PrismaClient, tenantId: string) {
  const email = uniqueContact('ada', 'waitlist.test');
  const slot = await prisma.slot.create({ data: { tenantId, name: 'Dr. Lee 14:30', status: 'CASCADING' } });
  const entry = await prisma.waitlistEntry.create({
    data: { tenantId, slotId: slot.id, customerName: 'Ada Lovelace', email, status: 'OFFERED' },
  });
  return { slot, entry };
}

/**
 * An OFFERED hold for "Ada Lovelace" open for another hour, whose row stores the hash of the token
 * `tokenFor` makes for it; returns that token and the candidate's email.
 */
export async function createOfferedHold(prisma: PrismaClient, tenantId: string, tokenFor: TokenFor) {
  const { slot, entry } = await createOfferedCandidate(prisma, tenantId);
  const holdId = randomUUID();
  const token = tokenFor(holdId);
  await prisma.hold.create({
    data: {
      id: holdId,
      tenantId,
      slotId: slot.id,
      entryId: entry.id,
      cascadeId: `no-run-${holdId}`,
      round: 1,
      tokenHash: hashOfferToken(token),
      expiresAt: new Date(Date.now() + HOUR_MS),
    },
  });
  return { holdId, token, email: entry.email };
}

/** A ROUTING order of one produce item, for vendor "Fresh Farms" in its region; no routing workflow runs for it. */
export async function createOrderForVendor(prisma: PrismaClient, tenantId: string) {
  const retailer = await createRetailer(prisma, tenantId);
  const vendor = await createVendor(prisma, tenantId);
  const order = await prisma.order.create({
    data: {
      tenantId,
      retailerId: retailer.id,
      items: [{ sku: 'apple', name: 'Apples', category: 'produce', quantity: 1, unitPrice: 100 }],
      total: 100,
      deliveryRegion: vendor.region,
      status: 'ROUTING',
      requestHash: randomUUID(),
    },
  });
  return { vendor, order };
}

/**
 * An OFFERED routing attempt of a new order to "Fresh Farms", open for another hour, whose row
 * stores the hash of the token `tokenFor` makes for it; returns that token and the vendor's contact.
 */
export async function createOfferedAttempt(prisma: PrismaClient, tenantId: string, tokenFor: TokenFor) {
  const { vendor, order } = await createOrderForVendor(prisma, tenantId);
  const attemptId = randomUUID();
  const token = tokenFor(attemptId);
  await prisma.routingAttempt.create({
    data: {
      id: attemptId,
      tenantId,
      orderId: order.id,
      vendorId: vendor.id,
      attempt: 1,
      offeredAt: new Date(),
      tokenHash: hashVendorToken(token),
      deadline: new Date(Date.now() + HOUR_MS),
    },
  });
  return { attemptId, token, contact: vendor.contact };
}
