import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type { Client } from '@temporalio/client';
import type { PrismaClient } from '../../lib/db';
import { collectBody, closeServer, listenOn } from '../../scripts/stack/ports';
import { orderRoutingId } from '../../workflows/order-routing.contract';
import { getOrderStateQuery, type orderRoutingWorkflow } from '../../workflows/order-routing';
import { eventually } from '../support/eventually';
import { useApiStack, type ApiStack } from '../support/api-stack';

interface ProviderMessage {
  to: string;
  body: string;
  idempotencyKey: string | undefined;
}

/**
 * A WhatsApp provider on loopback speaking the adapter's API (POST /messages → 201 { id }). It
 * can answer the first `throttle` requests 429 with a Retry-After, as a busy provider does.
 */
async function startWhatsAppProvider() {
  const messages: ProviderMessage[] = [];
  const requests: Array<{ at: number; status: number }> = [];
  const provider = { messages, requests, throttle: 0, retryAfterSeconds: 1, url: '' };
  const server = http.createServer((req, res) => {
    collectBody(req, 64 * 1024, (raw) => {
      const throttled = provider.throttle > 0;
      requests.push({ at: Date.now(), status: throttled ? 429 : 201 });
      if (throttled) {
        provider.throttle -= 1;
        res.writeHead(429, { 'Retry-After': String(provider.retryAfterSeconds), 'Content-Type': 'application/json' });
        res.end('{"error":"slow down"}');
        return;
      }
      const { to, body } = JSON.parse(raw ?? '{}') as { to: string; body: string };
      const idempotencyKey = req.headers['idempotency-key'] as string | undefined;
      if (!messages.some((message) => message.idempotencyKey === idempotencyKey)) {
        messages.push({ to, body, idempotencyKey });
      }
      res.writeHead(201, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ id: `wa-${messages.length}` }));
    });
  });
  await listenOn(server, 0, '127.0.0.1');
  provider.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { provider, stop: () => closeServer(server) };
}

describe('order routing on the real stack (dev server, PostgreSQL, a WhatsApp provider on loopback)', () => {
  let whatsapp: Awaited<ReturnType<typeof startWhatsAppProvider>>;
  const stack = useApiStack({
    worker: true,
    // The worker builds its real WhatsApp adapter (activities/sms-provider.ts) from this config.
    config: async () => {
      whatsapp = await startWhatsAppProvider();
      return { WHATSAPP_PROVIDER_URL: whatsapp.provider.url, WHATSAPP_PROVIDER_TOKEN: 'wa-test-token' };
    },
    stop: () => whatsapp.stop(),
  });
  let prisma: PrismaClient;
  let client: Client;
  let app: ApiStack['app'];
  let tenantId: string;
  let admin: string;
  let operator: string;

  beforeAll(() => {
    ({ prisma, client, app } = stack);
    tenantId = stack.tenant.id;
    ({ admin, operator } = stack.tokens);
  });

  async function create(path: string, body: object): Promise<string> {
    const response = await request(app).post(`/api/v1/${path}`).set('Authorization', admin).send(body);
    expect(response.status).toBe(201);
    return response.body.id as string;
  }

  /** A region of its own per test, so vendors of one test are never offered another's order. */
  async function market(region: string, phonePrefix: string, vendorRatings: number[]) {
    const retailerId = await create('retailers', {
      name: `Shop in ${region}`,
      channel: 'WHATSAPP',
      contact: '+14155550100',
      creditLimit: 1_000_000,
    });
    const vendorIds: string[] = [];
    for (const [index, rating] of vendorRatings.entries()) {
      vendorIds.push(
        await create('vendors', {
          name: `Vendor ${index + 1} of ${region}`,
          region,
          categories: ['grocery'],
          capacity: 5,
          rating,
          channel: 'WHATSAPP',
          contact: `${phonePrefix}${index}`,
        }),
      );
    }
    return { retailerId, vendorIds };
  }

  /** The accept or reject link in the newest offer message the vendor's number received. */
  async function offerLink(contact: string, decision: 'accept' | 'reject'): Promise<URL> {
    const offer = await eventually(() =>
      [...whatsapp.provider.messages].reverse().find((m) => m.to === contact && m.body.includes('offers you order')),
    );
    return new URL(offer.body.split(/\s+/).find((word) => word.includes(`decision=${decision}`))!);
  }

  const answerLink = (link: URL) =>
    request(app)
      .post(link.pathname)
      .send({ token: link.searchParams.get('token'), decision: link.searchParams.get('decision') });

  it('an order is routed, the first vendor rejects through its link, the second accepts, the order is delivered and paid, and the reminders stop', async () => {
    const { retailerId, vendorIds } = await market('north', '+1415555020', [4.9, 4.0]);
    const placed = await request(app)
      .post('/api/v1/orders')
      .set('Authorization', operator)
      .set('Idempotency-Key', 'integration-order-1')
      .send({
        retailerId,
        deliveryRegion: 'north',
        items: [{ sku: 'RICE-5', name: 'Rice 5 kg', category: 'grocery', quantity: 4, unitPrice: 1250 }],
      });
    expect(placed.status).toBe(202);
    const { orderId } = placed.body as { orderId: string };

    const rejected = await answerLink(await offerLink('+14155550200', 'reject'));
    expect(rejected.body).toEqual({ status: 'rejected' });
    const acceptLink = await offerLink('+14155550201', 'accept');
    const accepted = await answerLink(acceptLink);
    expect(accepted.body).toEqual({ status: 'accepted' });

    const assigned = await prisma.order.findUniqueOrThrow({ where: { id: orderId } });
    expect(assigned).toMatchObject({ status: 'ASSIGNED', vendorId: vendorIds[1] });
    const attempts = await prisma.routingAttempt.findMany({ where: { orderId }, orderBy: { attempt: 'asc' } });
    expect(attempts.map((a) => [a.vendorId, a.outcome])).toEqual([
      [vendorIds[0], 'REJECTED'],
      [vendorIds[1], 'ACCEPTED'],
    ]);
    await eventually(() => whatsapp.provider.messages.find((m) => m.to === '+14155550100' && /confirmed/.test(m.body)));

    // The vendor reports dispatch with the token from its offer; an operator records delivery.
    const dispatched = await request(app)
      .post('/api/v1/vendor/orders/status')
      .send({ token: acceptLink.searchParams.get('token'), status: 'DISPATCHED' });
    expect(dispatched.status).toBe(202);
    await eventually(async () => (await prisma.order.findUniqueOrThrow({ where: { id: orderId } })).dispatchedAt);
    const delivered = await request(app)
      .post(`/api/v1/orders/${orderId}/status`)
      .set('Authorization', operator)
      .send({ status: 'DELIVERED' });
    expect(delivered.status).toBe(202);

    const handle = client.workflow.getHandle<typeof orderRoutingWorkflow>(orderRoutingId(tenantId, orderId));
    const scheduled = await eventually(async () => {
      const state = await handle.query(getOrderStateQuery);
      return state.reminders.length > 0 ? state : undefined;
    });
    expect(scheduled.reminders.map((r) => r.kind)).toEqual([
      'DUE_SOON',
      'OVERDUE',
      'OVERDUE',
      'OVERDUE',
      'OVERDUE',
      'OVERDUE',
      'FINAL_NOTICE',
    ]);
    const deliveredRow = await prisma.order.findUniqueOrThrow({ where: { id: orderId } });
    expect(deliveredRow.status).toBe('DELIVERED');
    expect(deliveredRow.dueDate!.getTime() - deliveredRow.deliveredAt!.getTime()).toBe(14 * 24 * 60 * 60 * 1000);

    const paid = await request(app)
      .post(`/api/v1/orders/${orderId}/payments`)
      .set('Authorization', operator)
      .send({ amount: 5000, reference: `bank-${orderId}` });
    expect(paid.status).toBe(201);

    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'paid', status: 'PAID', vendorId: vendorIds[1], remindersSent: 0 });
    const final = await handle.query(getOrderStateQuery);
    expect(final.reminders.every((r) => r.status === 'cancelled')).toBe(true);
    const order = await prisma.order.findUniqueOrThrow({ where: { id: orderId }, include: { retailer: true } });
    expect(order.status).toBe('PAID');
    // One order paid on time: the base score plus one on-time payment.
    expect(order.retailer.creditScore).toBe(610);
    const reminders = await prisma.notification.count({ where: { tenantId, template: 'payment.reminder' } });
    expect(reminders).toBe(0);
    const detail = await request(app).get(`/api/v1/orders/${orderId}`).set('Authorization', operator);
    expect(detail.body).toMatchObject({ status: 'PAID', routing: { status: 'PAID', paid: 5000 } });
  });

  it('a vendor offer throttled with 429 Retry-After is sent once the provider allows it, exactly once', async () => {
    const { retailerId } = await market('south', '+1415555030', [4.5]);
    whatsapp.provider.throttle = 1;
    whatsapp.provider.retryAfterSeconds = 2;
    const before = whatsapp.provider.requests.length;

    const placed = await request(app)
      .post('/api/v1/orders')
      .set('Authorization', operator)
      .send({
        retailerId,
        deliveryRegion: 'south',
        items: [{ sku: 'TEA-1', name: 'Tea', category: 'grocery', quantity: 1, unitPrice: 300 }],
      });
    expect(placed.status).toBe(202);
    await offerLink('+14155550300', 'accept').then(answerLink);

    const calls = whatsapp.provider.requests.slice(before, before + 2);
    expect(calls.map((call) => call.status)).toEqual([429, 201]);
    // The retry waited for the provider's Retry-After, not the policy's 1-second backoff.
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(2000);
    const offers = await prisma.notification.findMany({
      where: {
        tenantId,
        template: 'order.vendor-offer',
        idempotencyKey: { startsWith: `order:${placed.body.orderId}` },
      },
    });
    expect(offers.map((n) => [n.status, n.attempts])).toEqual([['SENT', 2]]);
  });
});
