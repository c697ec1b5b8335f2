import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { EVENT_KEY_TAKEN, recordEvent } from '../../activities/event-publishing';
import { createNotifier, type MailTransport } from '../../activities/notifications';
import { createOrderActivities } from '../../activities/orders';
import { createWaitlistActivities } from '../../activities/waitlist';
import type { PrismaClient } from '../../lib/db';
import { createOrderForVendor } from '../support/link-offers';
import { createTestTenant, testConfig, testPrisma } from '../support/stack';

/**
 * Holdfast's own events against a real PostgreSQL: each is published only by the step that made
 * its change, and a flow's event is never silently replaced by another event under its key.
 */
describe("the flows' events are published only on the change they report (real PostgreSQL)", () => {
  const config = testConfig();
  const transport: MailTransport = { sendMail: async () => ({ messageId: `m-${randomUUID()}` }) };
  let prisma: PrismaClient;
  let tenantId: string;

  beforeAll(async () => {
    prisma = testPrisma(config);
    tenantId = (await createTestTenant(prisma)).id;
  });

  afterAll(async () => {
    await prisma.$disconnect();
  });

  const notifierFor = (client: PrismaClient) =>
    createNotifier({ prisma: client, mail: { transport, from: 'Holdfast <t@holdfast.test>' } });
  const eventsOf = (subjectId: string) => prisma.outboxEvent.findMany({ where: { tenantId, subjectId } });

  it('a delivery that lost the race to a cancellation publishes no order.delivered', async () => {
    const { order, vendor } = await createOrderForVendor(prisma, tenantId);
    await prisma.order.update({ where: { id: order.id }, data: { status: 'ASSIGNED', vendorId: vendor.id } });
    // The order is cancelled between the step's read and its write, as a concurrent request would.
    const racing = prisma.$extends({
      query: {
        order: {
          async findFirst({ args, query }) {
            const found = await query(args);
            await prisma.order.update({ where: { id: order.id }, data: { status: 'CANCELLED' } });
            return found;
          },
        },
      },
    }) as unknown as PrismaClient;
    const activities = createOrderActivities({
      prisma: racing,
      notifier: notifierFor(racing),
      offerTokenSecret: 'flow-events-test-secret-0123456789abcdef',
      publicBaseUrl: 'http://api.test',
    });

    await activities.recordFulfilment({
      tenantId,
      orderId: order.id,
      status: 'DELIVERED',
      at: new Date().toISOString(),
      actor: 'test',
    });

    expect((await prisma.order.findUniqueOrThrow({ where: { id: order.id } })).status).toBe('CANCELLED');
    expect(await eventsOf(order.id)).toEqual([]);
  });

  it('slot.unfilled is published once, by the step that moved the slot from CASCADING, and never for a slot that left it', async () => {
    const activities = createWaitlistActivities({
      prisma,
      notifier: notifierFor(prisma),
      offerTokenSecret: 'flow-events-test-secret-0123456789abcdef',
      publicBaseUrl: 'http://api.test',
    });
    const counts = { offered: 1, declined: 1, expired: 0, unreachable: 0 };
    const cascading = await prisma.slot.create({ data: { tenantId, name: 'Cascading', status: 'CASCADING' } });
    const assigned = await prisma.slot.create({ data: { tenantId, name: 'Taken', status: 'ASSIGNED' } });

    await activities.closeUnfilledSlot({ tenantId, slotId: cascading.id, cascadeId: `c-${randomUUID()}`, counts });
    await activities.closeUnfilledSlot({ tenantId, slotId: cascading.id, cascadeId: `c-${randomUUID()}`, counts });
    await activities.closeUnfilledSlot({ tenantId, slotId: assigned.id, cascadeId: `c-${randomUUID()}`, counts });

    expect((await eventsOf(cascading.id)).map((event) => event.type)).toEqual(['slot.unfilled']);
    expect(await eventsOf(assigned.id)).toEqual([]);
    expect((await prisma.slot.findUniqueOrThrow({ where: { id: assigned.id } })).status).toBe('ASSIGNED');
  });

  it("a flow's event whose key is held by another kind of event fails non-retryable EventKeyTaken", async () => {
    const orderId = randomUUID();
    await prisma.outboxEvent.create({
      data: { tenantId, eventKey: `order.assigned:${orderId}`, type: 'ticket.created', payload: {}, source: 'FLOW' },
    });

    const recording = prisma.$transaction((tx) =>
      recordEvent(tx, {
        tenantId,
        key: `order.assigned:${orderId}`,
        type: 'order.assigned',
        data: { orderId },
        source: 'FLOW',
      }),
    );

    const failure = await recording.catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: EVENT_KEY_TAKEN, nonRetryable: true });
  });

  it("a flow's repeat finds its own event and asks for no second fan-out once the first began", async () => {
    const key = `order.assigned:${randomUUID()}`;
    const event = { tenantId, key, type: 'order.assigned', data: {}, source: 'FLOW' as const };
    const first = await recordEvent(prisma, event);
    const beforePublished = await recordEvent(prisma, event);
    await prisma.outboxEvent.update({ where: { id: first.eventId }, data: { publishedAt: new Date() } });

    const afterPublished = await recordEvent(prisma, event);

    expect(first).toEqual({ eventId: first.eventId, created: true, needsFanOut: true });
    expect(beforePublished).toEqual({ eventId: first.eventId, created: false, needsFanOut: true });
    expect(afterPublished).toEqual({ eventId: first.eventId, created: false, needsFanOut: false });
  });
});
