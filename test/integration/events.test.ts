import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createEventActivities } from '../../activities/events';
import { eraseTenantPayloadKeys } from '../../lib/payload-key-scopes';
import { tenantFairnessLookup } from '../../lib/tenant-fairness';
import { verifyWebhookSignature } from '../../lib/webhook-signature';
import { collectBody, closeServer, listenOn } from '../../scripts/stack/ports';
import { eventOutboxSweepWorkflow } from '../../workflows/event-fan-out';
import { eventFanOutId } from '../../workflows/event-fan-out.contract';
import { eventually } from '../support/eventually';
import { useApiStack } from '../support/api-stack';
import { createTestTenant } from '../support/stack';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A tenant's webhook receiver on loopback: answers 204 and keeps every request it got. */
async function startReceiver() {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    collectBody(req, 256 * 1024, (raw) => {
      received.push({ headers: req.headers, body: raw ?? '' });
      res.writeHead(204).end();
    });
  });
  await listenOn(server, 0, '127.0.0.1');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return { received, url, stop: () => closeServer(server) };
}

const ticketData = (customerEmail: string, technicianPhone: string) => ({
  tenantName: 'Northwind Repairs',
  recipientName: 'Ada',
  ticketRef: 'T-77',
  status: 'created',
  message: null,
  priority: 'urgent',
  customer: { email: customerEmail },
  technician: { phone: technicianPhone },
});

describe('events on the real stack: rules, webhooks and the outbox sweep (dev server, PostgreSQL, SMS sink, a receiver on loopback)', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const stack = useApiStack({
    worker: true,
    mail: 'memory',
    sms: true,
    terminateOnStop: true,
    config: async () => {
      receiver = await startReceiver();
      return {};
    },
    stop: () => receiver.stop(),
  });

  const post = (path: string, token: string, body: object) =>
    request(stack.app).post(`/api/v1/${path}`).set('Authorization', token).send(body);

  async function createRule(body: object): Promise<string> {
    const response = await post('notification-rules', stack.tokens.admin, body);
    expect(response.status).toBe(201);
    return response.body.id as string;
  }

  it('one ticket.created fans out to two rules and one webhook endpoint exactly once each, though it is reported three times', async () => {
    const eventType = `ticket.created_${randomUUID().slice(0, 8)}`;
    const customerEmail = `customer-${randomUUID().slice(0, 8)}@example.test`;
    const technicianPhone = '+14155550177';
    const emailRule = await createRule({
      name: 'Tell the customer',
      eventType,
      channel: 'EMAIL',
      template: 'ticket.update',
      recipientPath: 'customer.email',
    });
    const smsRule = await createRule({
      name: 'Page the technician on urgent tickets',
      eventType,
      condition: { path: 'priority', in: ['urgent', 'high'] },
      channel: 'SMS',
      template: 'ticket.update',
      recipientPath: 'technician.phone',
      priority: 'high',
    });
    await createRule({
      name: 'Only for low-priority tickets',
      eventType,
      condition: { path: 'priority', equals: 'low' },
      channel: 'EMAIL',
      template: 'ticket.update',
      recipientPath: 'customer.email',
    });
    const endpoint = await post('webhooks', stack.tokens.admin, { url: receiver.url, events: [eventType] });
    expect(endpoint.status).toBe(201);
    const secret = endpoint.body.secret as string;

    const event = {
      id: `ticket-77-created-${randomUUID()}`,
      type: eventType,
      subject: { type: 'ticket', id: 'T-77' },
      data: ticketData(customerEmail, technicianPhone),
    };
    const answers = await Promise.all([1, 2, 3].map(() => post('events', stack.tokens.operator, event)));

    expect(answers.map((answer) => answer.status)).toEqual([202, 202, 202]);
    const eventIds = new Set(answers.map((answer) => answer.body.eventId as string));
    expect(eventIds.size).toBe(1);
    expect(answers.filter((answer) => answer.body.duplicate === false)).toHaveLength(1);
    const [eventId] = [...eventIds] as [string];
    expect(answers[0]!.body.workflowId).toBe(`event:${stack.tenant.id}:${eventId}`);

    const shown = await eventually(async () => {
      const response = await request(stack.app)
        .get(`/api/v1/events/${eventId}`)
        .set('Authorization', stack.tokens.member);
      return response.body.fanOut?.status === 'COMPLETED' ? response : undefined;
    });
    expect(shown.body.fanOut.rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ ruleId: emailRule, outcome: 'ENQUEUED' }),
        expect.objectContaining({ ruleId: smsRule, outcome: 'ENQUEUED' }),
      ]),
    );
    expect(shown.body.fanOut.rules).toHaveLength(2);
    expect(shown.body.notifications).toHaveLength(2);
    expect(shown.body.webhookDeliveries).toEqual([expect.objectContaining({ endpointId: endpoint.body.id })]);

    const notifications = await stack.prisma.notification.findMany({ where: { tenantId: stack.tenant.id, eventId } });
    expect(notifications.map((n) => [n.ruleId, n.channel, n.recipient, n.priority, n.source]).sort()).toEqual(
      [
        [emailRule, 'EMAIL', customerEmail, 3, 'RULE'],
        [smsRule, 'SMS', technicianPhone, 2, 'RULE'],
      ].sort(),
    );

    await eventually(async () => {
      const delivery = await stack.prisma.webhookDelivery.findFirst({ where: { eventId } });
      return delivery?.status === 'SUCCEEDED';
    });
    expect(receiver.received).toHaveLength(1);
    const delivered = receiver.received[0]!;
    expect(() => verifyWebhookSignature(secret, delivered.headers, delivered.body)).not.toThrow();
    expect(JSON.parse(delivered.body)).toMatchObject({ type: eventType, data: { ticketRef: 'T-77' } });

    await eventually(() => stack.mails.find((mail) => mail.to === customerEmail));
    await eventually(() => stack.outbox(technicianPhone)[0]);
    await eventually(async () =>
      (await stack.prisma.notification.count({ where: { eventId, status: 'SENT' } })) === 2 ? true : undefined,
    );
    expect(stack.mails.filter((mail) => mail.to === customerEmail)).toHaveLength(1);
    expect(stack.outbox(technicianPhone)).toHaveLength(1);
  });

  it('a rule whose recipient is missing from the event data is skipped, and the event still completes', async () => {
    const eventType = `invoice.created_${randomUUID().slice(0, 8)}`;
    const ruleId = await createRule({
      name: 'Invoice to the billing contact',
      eventType,
      channel: 'EMAIL',
      template: 'generic.message',
      recipientPath: 'billing.email',
    });

    const reported = await post('events', stack.tokens.operator, {
      type: eventType,
      subject: { type: 'invoice', id: 'INV-1' },
      data: { subject: 'Invoice', body: 'Your invoice', billing: { email: 'not an address' } },
    });
    expect(reported.status).toBe(202);

    const shown = await eventually(async () => {
      const response = await request(stack.app)
        .get(`/api/v1/events/${reported.body.eventId as string}`)
        .set('Authorization', stack.tokens.member);
      return response.body.fanOut?.status === 'COMPLETED' ? response : undefined;
    });
    expect(shown.body.fanOut.rules).toEqual([
      { ruleId, outcome: 'SKIPPED', notificationId: null, reason: 'NO_VALID_RECIPIENT' },
    ]);
    expect(shown.body.notifications).toEqual([]);
  });

  it("a flow's own event reaches a rule, though the tenant reported an event under its key first: an order assigned by hand emails its retailer; delivery and payment publish theirs", async () => {
    const { prisma, tenant, tokens } = stack;
    const retailerEmail = `shop-${randomUUID().slice(0, 8)}@example.test`;
    const region = `events-${randomUUID().slice(0, 8)}`;
    await prisma.tenantNotificationTemplate.create({
      data: {
        tenantId: tenant.id,
        template: 'order-assigned-note',
        channel: 'EMAIL',
        subject: 'Order {{ orderId }} is assigned',
        text: 'Your order goes to {{ vendor.name }}.',
      },
    });
    const ruleId = await createRule({
      name: 'Tell the retailer who delivers',
      eventType: 'order.assigned',
      channel: 'EMAIL',
      template: 'order-assigned-note',
      recipientPath: 'retailer.contact',
    });
    const retailer = await post('retailers', tokens.admin, {
      name: 'Corner Shop',
      channel: 'EMAIL',
      contact: retailerEmail,
      creditLimit: 1_000_000,
    });
    const placed = await post('orders', tokens.operator, {
      retailerId: retailer.body.id as string,
      deliveryRegion: region,
      items: [{ sku: 'RICE-5', name: 'Rice 5 kg', category: 'grocery', quantity: 1, unitPrice: 1250 }],
    });
    expect(placed.status).toBe(202);
    const orderId = placed.body.orderId as string;
    // No vendor serves the region yet, so the order waits for an operator.
    await eventually(
      async () => (await prisma.order.findUnique({ where: { id: orderId } }))?.status === 'NEEDS_ATTENTION',
    );
    // A tenant's event reported under the key Holdfast uses for this order's assignment.
    const squatter = await post('events', tokens.operator, {
      id: `order.assigned:${orderId}`,
      type: 'ticket.created',
      subject: { type: 'ticket', id: 'T-1' },
      data: { note: 'reported first' },
    });
    expect(squatter.status).toBe(202);
    const vendor = await post('vendors', tokens.admin, {
      name: 'Manual Vendor',
      region,
      categories: ['grocery'],
      capacity: 5,
      channel: 'EMAIL',
      contact: `vendor-${randomUUID().slice(0, 8)}@example.test`,
    });

    const assigned = await post(`orders/${orderId}/assign`, tokens.operator, { vendorId: vendor.body.id as string });

    expect(assigned.status).toBe(200);
    const event = await eventually(() =>
      prisma.outboxEvent.findFirst({ where: { tenantId: tenant.id, type: 'order.assigned', subjectId: orderId } }),
    );
    expect(event.id).not.toBe(squatter.body.eventId);
    expect(await prisma.outboxEvent.findUnique({ where: { id: squatter.body.eventId as string } })).toMatchObject({
      eventKey: `api:order.assigned:${orderId}`,
      type: 'ticket.created',
      source: 'API',
    });
    expect(event).toMatchObject({
      eventKey: `order.assigned:${orderId}`,
      source: 'FLOW',
      subjectType: 'order',
      payload: expect.objectContaining({ orderId, vendorId: vendor.body.id, manual: true }),
    });
    const notification = await eventually(() =>
      prisma.notification.findFirst({ where: { eventId: event.id, ruleId } }),
    );
    expect(notification).toMatchObject({ recipient: retailerEmail, source: 'RULE', template: 'order-assigned-note' });
    const mail = await eventually(() => stack.mails.find((m) => m.to === retailerEmail && m.subject.includes(orderId)));
    expect(mail.text).toContain('Your order goes to Manual Vendor.');
    await eventually(async () => (await prisma.outboxEvent.findUnique({ where: { id: event.id } }))?.publishedAt);

    const delivered = await post(`orders/${orderId}/status`, tokens.operator, { status: 'DELIVERED' });
    expect(delivered.status).toBe(202);
    const deliveredEvent = await eventually(() =>
      prisma.outboxEvent.findFirst({ where: { tenantId: tenant.id, type: 'order.delivered', subjectId: orderId } }),
    );
    expect(deliveredEvent).toMatchObject({
      eventKey: `order.delivered:${orderId}`,
      payload: expect.objectContaining({ orderId, dueDate: expect.any(String) }),
    });
    const paid = await post(`orders/${orderId}/payments`, tokens.operator, {
      amount: 1250,
      reference: `pay-${orderId}`,
    });
    expect(paid.status).toBe(201);
    // Recorded in the payment's own transaction, so it exists as soon as the payment does.
    expect(
      await prisma.outboxEvent.findFirst({
        where: { tenantId: tenant.id, type: 'payment.received', subjectId: orderId },
      }),
    ).toMatchObject({
      eventKey: `payment.received:${paid.body.id as string}`,
      payload: expect.objectContaining({ orderId, amount: 1250, paidSoFar: 1250 }),
    });
  });

  it('the outbox sweep starts the fan-out of an event whose start was lost after its commit', async () => {
    const eventType = `settlement.created_${randomUUID().slice(0, 8)}`;
    const ruleId = await createRule({
      name: 'Settlement created',
      eventType,
      channel: 'EMAIL',
      template: 'generic.message',
      recipientPath: 'to',
    });
    const lost = await stack.prisma.outboxEvent.create({
      data: {
        tenantId: stack.tenant.id,
        eventKey: `lost-${randomUUID()}`,
        type: eventType,
        payload: { to: 'payer@example.test', subject: 'Settlement', body: 'Created' },
        source: 'FLOW',
        createdAt: new Date(Date.now() - 5 * 60_000),
      },
    });

    const result = await stack.client.workflow.execute(eventOutboxSweepWorkflow, {
      taskQueue: stack.config.temporal.taskQueue,
      workflowId: `sweep-${randomUUID()}`,
      args: [{ tenantId: stack.tenant.id }],
    });

    expect(result).toEqual({ published: 1 });
    const notification = await eventually(() =>
      stack.prisma.notification.findFirst({ where: { eventId: lost.id, ruleId } }),
    );
    expect(notification).toMatchObject({ recipient: 'payer@example.test', source: 'RULE' });
    expect((await stack.prisma.outboxEvent.findUniqueOrThrow({ where: { id: lost.id } })).publishedAt).not.toBeNull();
    const again = await stack.client.workflow.execute(eventOutboxSweepWorkflow, {
      taskQueue: stack.config.temporal.taskQueue,
      workflowId: `sweep-${randomUUID()}`,
      args: [{ tenantId: stack.tenant.id }],
    });
    expect(again).toEqual({ published: 0 });
  });

  /** A suspended tenant of its own, with an event whose fan-out never began, recorded before the sweep's grace. */
  async function suspendedTenantWithLostEvents(count: number) {
    const tenant = await createTestTenant(stack.prisma);
    await stack.prisma.tenant.update({ where: { id: tenant.id }, data: { status: 'SUSPENDED' } });
    const events = [];
    for (let index = 0; index < count; index += 1) {
      events.push(
        await stack.prisma.outboxEvent.create({
          data: {
            tenantId: tenant.id,
            eventKey: `lost-${randomUUID()}`,
            type: 'ticket.created',
            payload: ticketData('erased-customer@example.test', '+15550100'),
            source: 'FLOW',
            createdAt: new Date(Date.now() - (10 - index) * 60_000),
          },
        }),
      );
    }
    return { tenant, events };
  }

  const fanOutStarted = (tenantId: string, eventId: string) =>
    stack.client.workflow
      .getHandle(eventFanOutId(tenantId, eventId))
      .describe()
      .then(
        () => true,
        (error: unknown) => {
          if (error instanceof WorkflowNotFoundError) return false;
          throw error;
        },
      );

  it("the outbox sweep passes over an erased tenant's events: they stay unpublished and the sweep completes", async () => {
    const { tenant, events } = await suspendedTenantWithLostEvents(1);
    await eraseTenantPayloadKeys(stack.prisma, tenant, 'platform-admin');

    const result = await stack.client.workflow.execute(eventOutboxSweepWorkflow, {
      taskQueue: stack.config.temporal.taskQueue,
      workflowId: `sweep-${randomUUID()}`,
      args: [{ tenantId: tenant.id }],
    });

    expect(result).toEqual({ published: 0 });
    expect((await stack.prisma.outboxEvent.findUniqueOrThrow({ where: { id: events[0]!.id } })).publishedAt).toBeNull();
    expect(await fanOutStarted(tenant.id, events[0]!.id)).toBe(false);
  });

  it('a tenant erased while the sweep runs: each of its events is passed over and logged by ID, and the sweep goes on', async () => {
    const { tenant, events } = await suspendedTenantWithLostEvents(2);
    const warnings: { message: string; meta?: Record<string, unknown> }[] = [];
    const logger: Logger = {
      log: () => {},
      trace: () => {},
      debug: () => {},
      info: () => {},
      warn: (message, meta) => warnings.push({ message, meta }),
      error: () => {},
    };
    const fairnessOf = tenantFairnessLookup(stack.prisma);
    let erasedMidSweep = false;
    const activities = createEventActivities({
      prisma: stack.prisma,
      temporal: {
        client: stack.client,
        taskQueue: stack.config.temporal.taskQueue,
        // The erasure lands after the sweep read its events, before it starts the first fan-out.
        fairnessOf: async (tenantId) => {
          if (!erasedMidSweep) {
            erasedMidSweep = true;
            await eraseTenantPayloadKeys(stack.prisma, tenant, 'platform-admin');
          }
          return fairnessOf(tenantId);
        },
      },
    });

    const result = await new MockActivityEnvironment({}, { logger }).run(activities.publishUnpublishedEvents, {
      tenantId: tenant.id,
      graceSeconds: 60,
      limit: 10,
    });

    expect(result).toEqual({ published: 0 });
    expect(warnings.map((warning) => warning.meta)).toEqual(
      events.map((event): unknown => expect.objectContaining({ tenantId: tenant.id, eventId: event.id })),
    );
    expect(JSON.stringify(warnings)).not.toMatch(/erased-customer|\+15550100|Northwind/);
    const rows = await stack.prisma.outboxEvent.findMany({ where: { tenantId: tenant.id } });
    expect(rows.map((row) => row.publishedAt)).toEqual([null, null]);
    for (const event of events) expect(await fanOutStarted(tenant.id, event.id)).toBe(false);
  });

  it('the waitlist publishes offer.accepted when a candidate takes the slot, and slot.unfilled when the list runs out', async () => {
    const { prisma, tenant, tokens } = stack;
    await prisma.tenantNotificationTemplate.create({
      data: {
        tenantId: tenant.id,
        template: 'slot-taken-note',
        channel: 'EMAIL',
        subject: '{{ slotName }} is yours',
        text: 'See you at {{ slotName }}.',
      },
    });
    const ruleId = await createRule({
      name: 'Welcome the candidate who took the slot',
      eventType: 'offer.accepted',
      channel: 'EMAIL',
      template: 'slot-taken-note',
      recipientPath: 'customer.email',
    });
    const slotWithCandidate = async (name: string, email: string) => {
      const slot = await post('slots', tokens.operator, { name });
      const joined = await post(`slots/${slot.body.id as string}/waitlist`, tokens.operator, {
        customerName: 'Ada',
        email,
      });
      expect(joined.status).toBe(201);
      expect((await post(`slots/${slot.body.id as string}/release`, tokens.operator, {})).status).toBe(202);
      return { slotId: slot.body.id as string, entryId: joined.body.id as string };
    };
    const answer = async (email: string, decision: 'accept' | 'decline') => {
      const offer = await eventually(() => stack.mails.find((mail) => mail.to === email));
      const link = new URL(offer.text.match(new RegExp(`https?://\\S+decision=${decision}\\S*`))![0]);
      const response = await request(stack.app)
        .post(link.pathname)
        .send({ token: link.searchParams.get('token'), decision });
      expect(response.status).toBeLessThan(300);
    };
    const takerEmail = `taker-${randomUUID().slice(0, 8)}@example.test`;
    const declinerEmail = `decliner-${randomUUID().slice(0, 8)}@example.test`;
    const taken = await slotWithCandidate('Dr. Lee, Tuesday 14:30', takerEmail);
    const unfilled = await slotWithCandidate('Dr. Lee, Tuesday 15:00', declinerEmail);

    await answer(takerEmail, 'accept');
    await answer(declinerEmail, 'decline');

    const accepted = await eventually(() =>
      prisma.outboxEvent.findFirst({ where: { tenantId: tenant.id, type: 'offer.accepted', subjectId: taken.slotId } }),
    );
    expect(accepted).toMatchObject({
      source: 'FLOW',
      subjectType: 'slot',
      payload: expect.objectContaining({
        slotId: taken.slotId,
        slotName: 'Dr. Lee, Tuesday 14:30',
        entryId: taken.entryId,
        customer: expect.objectContaining({ name: 'Ada', email: takerEmail }),
      }),
    });
    const notification = await eventually(() =>
      prisma.notification.findFirst({ where: { eventId: accepted.id, ruleId } }),
    );
    expect(notification).toMatchObject({ recipient: takerEmail, source: 'RULE' });
    const exhausted = await eventually(() =>
      prisma.outboxEvent.findFirst({
        where: { tenantId: tenant.id, type: 'slot.unfilled', subjectId: unfilled.slotId },
      }),
    );
    expect(exhausted).toMatchObject({
      source: 'FLOW',
      subjectType: 'slot',
      payload: expect.objectContaining({ slotId: unfilled.slotId, slotName: 'Dr. Lee, Tuesday 15:00', declined: 1 }),
    });
    // Each fan-out began: the row is marked published by its run.
    await eventually(async () => (await prisma.outboxEvent.findUnique({ where: { id: exhausted.id } }))?.publishedAt);
    await eventually(async () => (await prisma.outboxEvent.findUnique({ where: { id: accepted.id } }))?.publishedAt);
    expect(
      await prisma.outboxEvent.count({
        where: { tenantId: tenant.id, subjectId: { in: [taken.slotId, unfilled.slotId] } },
      }),
    ).toBe(2);
  });
});
