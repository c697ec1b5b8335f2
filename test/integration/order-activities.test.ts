import { ApplicationFailure } from '@temporalio/common';
import { createNotifier, type MailTransport } from '../../activities/notifications';
import { createOrderActivities } from '../../activities/orders';
import { orderTotal, type OrderItem } from '../../domain/orders';
import { hashVendorToken, signVendorToken } from '../../domain/vendor-token';
import type { PrismaClient } from '../../lib/db';
import { FailureType } from '../../workflows/errors';
import { createTestTenant, testConfig, testPrisma } from '../support/stack';

/**
 * The order activities against a real PostgreSQL, each run twice as a retry would run it: the
 * second run must change nothing and send nothing.
 */
describe('order activities are idempotent and transactional (real PostgreSQL)', () => {
  const config = testConfig();
  const secret = 'order-activities-test-secret-0123456789abcdef';
  const mails: Array<{ to: string; subject: string; text: string }> = [];
  const transport: MailTransport = {
    sendMail: async (message) => {
      mails.push(message);
      return { messageId: `m-${mails.length}` };
    },
  };
  let prisma: PrismaClient;
  let activities: ReturnType<typeof createOrderActivities>;
  let tenantId: string;

  beforeAll(async () => {
    prisma = testPrisma(config);
    const notifier = createNotifier({ prisma, mail: { transport, from: 'Holdfast <t@holdfast.test>' } });
    activities = createOrderActivities({
      prisma,
      notifier,
      offerTokenSecret: secret,
      publicBaseUrl: 'http://api.test',
    });
    tenantId = (await createTestTenant(prisma)).id;
  });

  afterAll(async () => {
    await prisma.$disconnect();
  });

  const items: OrderItem[] = [{ sku: 'S1', name: 'Soap', category: 'household', quantity: 2, unitPrice: 500 }];

  async function retailer(creditLimit = 100_000, email = `shop-${Math.random()}@retail.test`) {
    return prisma.retailer.create({ data: { tenantId, name: 'Shop', channel: 'EMAIL', contact: email, creditLimit } });
  }

  async function vendor(
    overrides: Partial<{ region: string; rating: number; capacity: number; active: boolean }> = {},
  ) {
    return prisma.vendor.create({
      data: {
        tenantId,
        name: `Vendor ${Math.random().toString(36).slice(2, 7)}`,
        region: 'east',
        categories: ['household'],
        capacity: 3,
        rating: 4,
        channel: 'EMAIL',
        contact: `v-${Math.random()}@vendor.test`,
        ...overrides,
      },
    });
  }

  async function order(retailerId: string, lines: OrderItem[] = items, deliveryRegion = 'east') {
    return prisma.order.create({
      data: { tenantId, retailerId, items: lines, total: orderTotal(lines), deliveryRegion, requestHash: 'test' },
    });
  }

  const audits = (entityId: string, action: string) => prisma.auditLog.count({ where: { entityId, action } });

  it('the credit check decides once: a retry answers the same decision and writes no second audit row', async () => {
    const shop = await retailer(5_000);
    const placed = await order(shop.id);

    const first = await activities.checkCredit({ tenantId, orderId: placed.id });
    const again = await activities.checkCredit({ tenantId, orderId: placed.id });

    expect(first).toMatchObject({ approved: true, total: 1000, vendorResponseMs: 10 * 60_000 });
    expect(again).toMatchObject({ approved: true });
    expect((await prisma.order.findUniqueOrThrow({ where: { id: placed.id } })).status).toBe('ROUTING');
    expect(await audits(placed.id, 'order.credit-approved')).toBe(1);
  });

  it('two orders checked at once cannot both spend the same credit', async () => {
    const shop = await retailer(1_500);
    const [a, b] = [await order(shop.id), await order(shop.id)];

    const decisions = await Promise.all([
      activities.checkCredit({ tenantId, orderId: a.id }),
      activities.checkCredit({ tenantId, orderId: b.id }),
    ]);

    expect(decisions.map((d) => d.approved).sort()).toEqual([false, true]);
    const refused = decisions.find((d) => !d.approved)!;
    expect(refused).toMatchObject({ code: 'CREDIT_LIMIT_EXCEEDED' });
  });

  it('a flagged retailer is refused, whatever its credit', async () => {
    const shop = await retailer(1_000_000);
    await prisma.retailer.update({ where: { id: shop.id }, data: { flagged: true } });
    const placed = await order(shop.id);

    const decision = await activities.checkCredit({ tenantId, orderId: placed.id });

    expect(decision).toMatchObject({ approved: false, code: 'RETAILER_FLAGGED' });
    expect(await prisma.order.findUniqueOrThrow({ where: { id: placed.id } })).toMatchObject({
      status: 'REJECTED',
      statusReason: expect.stringContaining('flagged'),
    });
  });

  it('ranks only eligible vendors of the region, and a vendor that keeps rejecting drops down', async () => {
    const region = `rank-${Date.now()}`;
    const steady = await vendor({ region, rating: 4 });
    const choosy = await vendor({ region, rating: 4.5 });
    await vendor({ region, rating: 5, active: false });
    await vendor({ region: 'elsewhere', rating: 5 });
    const shop = await retailer();
    const earlier = await order(shop.id, items, region);
    for (const attempt of [1, 2]) {
      await prisma.routingAttempt.create({
        data: { tenantId, orderId: earlier.id, vendorId: choosy.id, attempt, outcome: 'REJECTED' },
      });
    }
    const placed = await order(shop.id, items, region);

    const ranked = await activities.rankVendorsForOrder({ tenantId, orderId: placed.id });

    expect(ranked.map((v) => v.vendorId)).toEqual([steady.id, choosy.id]);
  });

  it('an offer, its message, its acceptance and the delivery each happen once however often they are retried', async () => {
    const shop = await retailer();
    const chosen = await vendor();
    const placed = await order(shop.id);
    await activities.checkCredit({ tenantId, orderId: placed.id });
    const deadline = new Date(Date.now() + 600_000).toISOString();
    const ref = { tenantId, orderId: placed.id };

    const offer = await activities.offerOrderToVendor({ ...ref, vendorId: chosen.id, attempt: 1, deadline });
    const offerAgain = await activities.offerOrderToVendor({ ...ref, vendorId: chosen.id, attempt: 1, deadline });
    const sent = await activities.sendVendorOffer({ tenantId, attemptId: offer.attemptId });
    const sentAgain = await activities.sendVendorOffer({ tenantId, attemptId: offer.attemptId });
    const assignment = { ...ref, vendorId: chosen.id, attempt: 1, attemptId: offer.attemptId, actor: 'vendor:x' };
    await activities.assignOrder(assignment);
    await activities.assignOrder(assignment);
    const at = '2026-12-01T10:00:00.000Z';
    const delivered = await activities.recordFulfilment({ ...ref, status: 'DELIVERED', at, actor: 'op' });
    const deliveredAgain = await activities.recordFulfilment({
      ...ref,
      status: 'DELIVERED',
      at: new Date().toISOString(),
      actor: 'op',
    });

    expect(offerAgain).toEqual(offer);
    expect(offer.tokenHash).toBe(hashVendorToken(signVendorToken(secret, { tenantId, attemptId: offer.attemptId })));
    expect([sent.status, sentAgain.status]).toEqual(['SENT', 'ALREADY_SENT']);
    expect(mails.filter((mail) => mail.to === chosen.contact)).toHaveLength(1);
    expect(mails.find((mail) => mail.to === chosen.contact)!.text).toContain('/api/v1/vendor/offers/respond?token=');
    expect(await prisma.routingAttempt.count({ where: { orderId: placed.id } })).toBe(1);
    expect(await audits(placed.id, 'order.assigned')).toBe(1);
    expect(deliveredAgain).toEqual(delivered);
    expect(delivered).toEqual({ deliveredAt: at, dueDate: '2026-12-15T10:00:00.000Z' });
    expect(await prisma.order.findUniqueOrThrow({ where: { id: placed.id } })).toMatchObject({
      status: 'DELIVERED',
      vendorId: chosen.id,
    });
  });

  it('settling an offer twice records one outcome; cancelling twice answers the same vendors to tell, those that got the offer', async () => {
    const shop = await retailer();
    const [first, second] = [await vendor(), await vendor()];
    const placed = await order(shop.id);
    await activities.checkCredit({ tenantId, orderId: placed.id });
    const ref = { tenantId, orderId: placed.id };
    const deadline = new Date(Date.now() + 600_000).toISOString();
    const rejected = await activities.offerOrderToVendor({ ...ref, vendorId: first.id, attempt: 1, deadline });
    const settle = {
      tenantId,
      attemptId: rejected.attemptId,
      outcome: 'REJECTED' as const,
      reason: 'no stock',
      actor: 'vendor',
    };
    await activities.settleRoutingAttempt(settle);
    await activities.settleRoutingAttempt({ ...settle, outcome: 'TIMED_OUT' });
    const open = await activities.offerOrderToVendor({ ...ref, vendorId: second.id, attempt: 2, deadline });
    await activities.sendVendorOffer({ tenantId, attemptId: open.attemptId });
    // Offered but never sent (cancelled before its message went out): that vendor is not told.
    const unsent = await activities.offerOrderToVendor({ ...ref, vendorId: first.id, attempt: 3, deadline });

    const cancel = { ...ref, reason: 'customer changed their mind', actor: 'op' };
    const cancelled = await activities.cancelOrderRecord(cancel);
    const cancelledAgain = await activities.cancelOrderRecord(cancel);

    expect(await prisma.routingAttempt.findUniqueOrThrow({ where: { id: rejected.attemptId } })).toMatchObject({
      outcome: 'REJECTED',
      reason: 'no stock',
    });
    expect(await prisma.routingAttempt.findUniqueOrThrow({ where: { id: open.attemptId } })).toMatchObject({
      outcome: 'CANCELLED',
    });
    expect(await prisma.routingAttempt.findUniqueOrThrow({ where: { id: unsent.attemptId } })).toMatchObject({
      outcome: 'CANCELLED',
    });
    expect(cancelled).toEqual({ vendorIds: [second.id] });
    expect(cancelledAgain).toEqual(cancelled);
    expect(await audits(placed.id, 'order.cancelled')).toBe(1);
  });

  it('a dispatched order can no longer be cancelled, and a manual assignment to an inactive vendor is refused', async () => {
    const shop = await retailer();
    const chosen = await vendor();
    const idle = await vendor({ active: false });
    const placed = await order(shop.id);
    const ref = { tenantId, orderId: placed.id };
    await activities.checkCredit(ref);
    await activities.markNeedsAttention(ref);

    const refused = await activities
      .assignOrder({ ...ref, vendorId: idle.id, attempt: 1, actor: 'op' })
      .catch((e: unknown) => e);
    await activities.assignOrder({ ...ref, vendorId: chosen.id, attempt: 1, actor: 'op' });
    await activities.recordFulfilment({ ...ref, status: 'DISPATCHED', at: new Date().toISOString(), actor: 'op' });
    const late = await activities
      .cancelOrderRecord({ ...ref, reason: 'too late', actor: 'op' })
      .catch((e: unknown) => e);

    expect(refused).toBeInstanceOf(ApplicationFailure);
    expect((refused as ApplicationFailure).type).toBe(FailureType.VendorUnavailable);
    expect(late).toBeInstanceOf(ApplicationFailure);
    expect((late as ApplicationFailure).type).toBe(FailureType.OrderStateConflict);
    expect(await prisma.routingAttempt.findMany({ where: { orderId: placed.id } })).toEqual([
      expect.objectContaining({ vendorId: chosen.id, outcome: 'MANUAL', attempt: 1 }),
    ]);
  });

  it('a final notice flags the retailer and lowers its score; recalculating twice gives the same score', async () => {
    const shop = await retailer(10_000);
    const placed = await order(shop.id);
    const ref = { tenantId, orderId: placed.id };
    await prisma.order.update({
      where: { id: placed.id },
      data: { status: 'DELIVERED', deliveredAt: new Date('2026-01-01'), dueDate: new Date('2026-01-15') },
    });

    await activities.flagRetailer({ ...ref, at: '2026-01-29T00:00:00.000Z' });
    await activities.flagRetailer({ ...ref, at: '2026-01-30T00:00:00.000Z' });
    const scored = await activities.recalculateCreditScore({ tenantId, retailerId: shop.id, trigger: 'final_notice' });
    const again = await activities.recalculateCreditScore({ tenantId, retailerId: shop.id, trigger: 'final_notice' });

    const after = await prisma.retailer.findUniqueOrThrow({ where: { id: shop.id } });
    expect(after.flagged).toBe(true);
    // 600, less 40 for one overdue unpaid order and 80 for one final notice.
    expect(scored.creditScore).toBe(480);
    expect(again).toEqual(scored);
    expect(after.creditScore).toBe(480);
    expect((await prisma.order.findUniqueOrThrow({ where: { id: placed.id } })).finalNoticeAt).toEqual(
      new Date('2026-01-29T00:00:00.000Z'),
    );
    expect(await audits(shop.id, 'retailer.flagged')).toBe(1);
    expect(await audits(shop.id, 'retailer.credit-score')).toBe(1);
  });

  it('a reminder is sent once per sequence number, to the retailer, with the amount due', async () => {
    const shop = await retailer(10_000, 'reminded@retail.test');
    const placed = await order(shop.id);
    await prisma.order.update({
      where: { id: placed.id },
      data: { status: 'DELIVERED', dueDate: new Date('2026-02-01') },
    });
    const message = {
      kind: 'reminder' as const,
      reminder: { kind: 'OVERDUE' as const, sequence: 3, at: '2026-02-04T00:00:00.000Z' },
      amountDue: 1000,
    };

    const sent = await activities.sendOrderNotification({ tenantId, orderId: placed.id, message });
    const again = await activities.sendOrderNotification({ tenantId, orderId: placed.id, message });

    expect([sent.status, again.status]).toEqual(['SENT', 'ALREADY_SENT']);
    const toShop = mails.filter((mail) => mail.to === 'reminded@retail.test');
    expect(toShop).toHaveLength(1);
    expect(toShop[0]!.subject).toMatch(/^Payment overdue/);
    expect(toShop[0]!.text).toContain('10.00');
  });
});
