import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import request from 'supertest';
import type { Client } from '@temporalio/client';
import type { OutboxMessage } from '../../domain/outbox';
import type { Config } from '../../lib/config';
import type { PrismaClient } from '../../lib/db';
import { startBillingSandbox, type BillingSandboxHandle } from '../../scripts/stack/billing-sandbox';
import { startDevSmsSink, type DevSmsSinkHandle } from '../../scripts/stack/dev-sms-sink';
import { orderRoutingId } from '../../workflows/order-routing.contract';
import { waitlistCascadeId } from '../../workflows/waitlist-cascade.contract';
import { eventually } from '../support/eventually';
import { useApiStack, type ApiStack } from '../support/api-stack';
import { createTestTenant, tokenFor } from '../support/stack';

interface LogLine {
  name: string;
  level: number;
  msg?: string;
  method?: string;
  route?: string;
  path?: string;
  status?: number;
  workflowId?: string;
  [key: string]: unknown;
}

/**
 * Every flow runs on the real stack (dev server, PostgreSQL, SMTP catcher, SMS and WhatsApp
 * sinks, billing sandbox) with the API's and the worker's loggers at debug, both captured in
 * memory; the worker logger also receives the SDK's workflow and activity logs. Each test then
 * searches everything logged so far for every token, e-mail address, phone number and name it used.
 */
describe('logs carry no secrets or personal data (every flow on the real stack, loggers at debug)', () => {
  const captured: string[] = [];
  let whatsapp: DevSmsSinkHandle;
  let billing: BillingSandboxHandle;
  const stack = useApiStack({
    worker: true,
    mail: 'smtp',
    sms: true,
    logs: new Writable({
      write(chunk, _encoding, done) {
        captured.push(String(chunk));
        done();
      },
    }),
    config: async ({ outboxFile }) => {
      [whatsapp, billing] = await Promise.all([
        startDevSmsSink({
          port: 0,
          outboxFile: outboxFile!,
          token: 'whatsapp-sink-token-0123456789',
          channel: 'whatsapp',
        }),
        startBillingSandbox({ apiKey: 'sk_test_log_hygiene_0123456789' }),
      ]);
      return {
        LOG_LEVEL: 'debug',
        WHATSAPP_PROVIDER_URL: whatsapp.url,
        WHATSAPP_PROVIDER_TOKEN: 'whatsapp-sink-token-0123456789',
        BILLING_API_URL: billing.url,
        BILLING_API_KEY: 'sk_test_log_hygiene_0123456789',
        PLATFORM_ADMIN_EMAIL: 'platform-ops@holdfast-logs.test',
      };
    },
    stop: async () => {
      await Promise.all([whatsapp.stop(), billing.stop()]);
    },
  });
  let config: Config;
  let prisma: PrismaClient;
  let client: Client;
  let app: ApiStack['app'];

  beforeAll(() => {
    ({ config, prisma, client, app } = stack);
  });

  const outbox = (to: string): OutboxMessage[] => stack.outbox(to);
  const linkIn = async (to: string, includes: string): Promise<URL> => {
    const message = await eventually(() => outbox(to).find((m) => m.links.some((link) => link.includes(includes))));
    return new URL(message.links.find((link) => link.includes(includes))!);
  };
  const lines = (): LogLine[] =>
    captured
      .join('')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as LogLine);

  /** Each secret or personal value that appears anywhere in the captured log. */
  const leaked = (values: string[]) => {
    const text = captured.join('');
    return values.filter((value) => text.includes(value) || text.includes(encodeURIComponent(value)));
  };

  const requestLines = (method: string, route: string) =>
    lines().filter((line) => line.name === 'api' && line.method === method && line.route === route);

  it('waitlist cascade: release, offer by mail and SMS, the offer page and the accept, log no token, address, number or name', async () => {
    const tenant = await createTestTenant(prisma, { adminEmail: 'clinic-owner@holdfast-logs.test' });
    const operator = await tokenFor(config, tenant.id, 'operator');
    const candidate = {
      customerName: 'Zebulon Quackenbush',
      email: 'zebulon@holdfast-logs.test',
      phone: '+14155550177',
    };
    const slot = await request(app)
      .post('/api/v1/slots')
      .set('Authorization', `Bearer ${operator}`)
      .send({ name: 'Dr. Lee, Tuesday 14:30' });
    const joined = await request(app)
      .post(`/api/v1/slots/${slot.body.id}/waitlist`)
      .set('Authorization', `Bearer ${operator}`)
      .send({ ...candidate, priority: 1 });
    const released = await request(app)
      .post(`/api/v1/slots/${slot.body.id}/release`)
      .set('Authorization', `Bearer ${operator}`);
    const link = await linkIn(candidate.email, 'decision=accept');
    await eventually(() => outbox(candidate.phone)[0]);
    const offerToken = link.searchParams.get('token')!;

    const page = await request(app).get(`${link.pathname}${link.search}`);
    const accepted = await request(app).post(link.pathname).send({ token: offerToken, decision: 'accept' });
    const result = await client.workflow.getHandle(waitlistCascadeId(tenant.id, slot.body.id as string)).result();
    await eventually(() => outbox(candidate.email).find((m) => m.subject?.startsWith('Confirmed')));

    expect([slot.status, joined.status, released.status, page.status, accepted.status]).toEqual([
      201, 201, 202, 200, 200,
    ]);
    expect(result).toMatchObject({ outcome: 'confirmed' });
    expect(requestLines('GET', '/api/v1/offers/respond')).not.toHaveLength(0);
    expect(requestLines('POST', '/api/v1/offers/respond')).not.toHaveLength(0);
    expect(requestLines('POST', '/api/v1/slots/:slotId/release')).not.toHaveLength(0);
    expect(lines().some((line) => line.name === 'worker' && line.workflowId?.includes(slot.body.id as string))).toBe(
      true,
    );
    expect(
      leaked([
        offerToken,
        link.searchParams.get('token')!.split('.')[2]!,
        operator,
        candidate.email,
        candidate.phone,
        candidate.customerName,
        tenant.adminEmail!,
      ]),
    ).toEqual([]);
  });

  it('order routing: the vendor offer over WhatsApp, the vendor accepting and reporting dispatch with its token, log none of them', async () => {
    const tenant = await createTestTenant(prisma, { adminEmail: 'shop-owner@holdfast-logs.test' });
    const [admin, operator] = await Promise.all([
      tokenFor(config, tenant.id, 'tenant-admin'),
      tokenFor(config, tenant.id, 'operator'),
    ]);
    const retailerContact = '+14155550188';
    const vendorContact = '+14155550199';
    const region = `region-${randomUUID().slice(0, 8)}`;
    const retailer = await request(app)
      .post('/api/v1/retailers')
      .set('Authorization', `Bearer ${admin}`)
      .send({ name: 'Corner Shop', channel: 'WHATSAPP', contact: retailerContact, creditLimit: 1_000_000 });
    const vendor = await request(app)
      .post('/api/v1/vendors')
      .set('Authorization', `Bearer ${admin}`)
      .send({
        name: 'Quill Wholesale',
        region,
        categories: ['grocery'],
        capacity: 5,
        rating: 4.5,
        channel: 'WHATSAPP',
        contact: vendorContact,
      });
    const placed = await request(app)
      .post('/api/v1/orders')
      .set('Authorization', `Bearer ${operator}`)
      .set('Idempotency-Key', `log-hygiene-${randomUUID()}`)
      .send({
        retailerId: retailer.body.id,
        deliveryRegion: region,
        items: [{ sku: 'RICE-5', name: 'Rice 5 kg', category: 'grocery', quantity: 2, unitPrice: 1250 }],
      });
    const orderId = placed.body.orderId as string;
    const acceptLink = await linkIn(vendorContact, 'decision=accept');
    const vendorToken = acceptLink.searchParams.get('token')!;

    const page = await request(app).get(`${acceptLink.pathname}${acceptLink.search}`);
    const accepted = await request(app).post(acceptLink.pathname).send({ token: vendorToken, decision: 'accept' });
    const dispatched = await request(app)
      .post('/api/v1/vendor/orders/status')
      .send({ token: vendorToken, status: 'DISPATCHED' });
    await eventually(async () => (await prisma.order.findUniqueOrThrow({ where: { id: orderId } })).dispatchedAt);
    const delivered = await request(app)
      .post(`/api/v1/orders/${orderId}/status`)
      .set('Authorization', `Bearer ${operator}`)
      .send({ status: 'DELIVERED' });
    const paid = await request(app)
      .post(`/api/v1/orders/${orderId}/payments`)
      .set('Authorization', `Bearer ${operator}`)
      .send({ amount: 2500, reference: `bank-${orderId}` });
    const result = await client.workflow.getHandle(orderRoutingId(tenant.id, orderId)).result();

    expect([retailer.status, vendor.status, placed.status, page.status, accepted.status]).toEqual([
      201, 201, 202, 200, 200,
    ]);
    expect([dispatched.status, delivered.status, paid.status]).toEqual([202, 202, 201]);
    expect(result).toMatchObject({ outcome: 'paid' });
    expect(requestLines('GET', '/api/v1/vendor/offers/respond')).not.toHaveLength(0);
    expect(requestLines('POST', '/api/v1/vendor/offers/respond')).not.toHaveLength(0);
    expect(requestLines('POST', '/api/v1/vendor/orders/status')).not.toHaveLength(0);
    expect(lines().some((line) => line.name === 'worker' && line.workflowId?.includes(orderId))).toBe(true);
    expect(leaked([vendorToken, admin, operator, retailerContact, vendorContact, tenant.adminEmail!])).toEqual([]);
  });

  it('onboarding: the welcome mail and the invitation accepted with its token log no token, address or name', async () => {
    const platformAdmin = await tokenFor(config, 'platform', 'platform-admin');
    const slug = `logs-${randomUUID().slice(0, 8)}`;
    const adminEmail = `ophelia@${slug}.test`;
    const adminName = 'Ophelia Thistlewood';

    const started = await request(app)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${platformAdmin}`)
      .send({ organizationName: 'Thistlewood Dental', slug, adminEmail, adminName, tier: 'professional' });
    const result = await client.workflow.getHandle(started.body.workflowId as string).result();
    const link = await linkIn(adminEmail, 'token=');
    const invitationToken = link.searchParams.get('token')!;
    const page = await request(app).get(`${link.pathname}${link.search}`);
    const accepted = await request(app).post('/api/v1/invitations/accept').send({ token: invitationToken });

    expect([started.status, page.status, accepted.status]).toEqual([202, 200, 200]);
    expect(result).toMatchObject({ status: 'ACTIVE' });
    expect(requestLines('GET', '/api/v1/invitations/accept')).not.toHaveLength(0);
    expect(requestLines('POST', '/api/v1/invitations/accept')).not.toHaveLength(0);
    expect(lines().some((line) => line.name === 'worker' && line.workflowId === started.body.workflowId)).toBe(true);
    expect(leaked([invitationToken, platformAdmin, adminEmail, adminName, 'platform-ops@holdfast-logs.test'])).toEqual(
      [],
    );
  });

  it('a request line names the method, route, status, duration and request ID, and nothing else of the request', async () => {
    const requestId = `log-shape-${randomUUID()}`;

    await request(app)
      .get('/api/v1/offers/respond?token=v1.c29tZXRoaW5nLWxvbmc.c2lnbmF0dXJlLXRoYXQtaXMtbG9uZw&decision=accept')
      .set('X-Request-Id', requestId)
      .set('Cookie', 'session=private-cookie-value')
      .set('User-Agent', 'private-agent');

    const requestLine = lines().find((line) => line.reqId === requestId && line.msg === 'request finished');
    expect(requestLine).toEqual({
      level: 30,
      time: expect.any(Number),
      pid: expect.any(Number),
      hostname: expect.any(String),
      name: 'api',
      reqId: requestId,
      method: 'GET',
      route: '/api/v1/offers/respond',
      status: 400,
      durationMs: expect.any(Number),
      msg: 'request finished',
    });
    expect(leaked(['c2lnbmF0dXJlLXRoYXQtaXMtbG9uZw', 'private-cookie-value', 'private-agent'])).toEqual([]);
  });
});
