import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import express from 'express';
import request from 'supertest';
import { PrismaPg } from '@prisma/adapter-pg';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TenantStatusCache } from '../../api/auth';
import { errorMiddleware } from '../../api/errors';
import { requestLogging } from '../../api/request-log';
import { MAX_MONEY_MINOR } from '../../domain/input-rules';
import { tenantIdForSlug } from '../../domain/tenants';
import { PrismaClient as GeneratedPrismaClient } from '../../generated/prisma/client';
import type { PrismaClient } from '../../lib/db';
import { createLogger } from '../../lib/logger';
import { freePort } from '../../scripts/stack/ports';
import { tenantOnboardingId } from '../../workflows/tenant-onboarding.contract';
import { getOnboardingProgressQuery, type tenantOnboardingWorkflow } from '../../workflows/tenant-onboarding';
import { eventually } from '../support/eventually';
import { FakeOnboarding } from '../support/onboarding-fake';
import { useApiStack, type ApiStack } from '../support/api-stack';

const NUL = 'a\u0000b';
const LONE_SURROGATE = 'a\ud800b';

/** A Temporal client that fails the test if a route reaches it: refused input must start and signal nothing. */
const untouchableTemporal = new Proxy({} as Client, {
  get() {
    throw new Error('the route reached Temporal with input it should have refused');
  },
});

describe('input the database cannot store is refused at the door with 400, never a 500', () => {
  const stack = useApiStack({ app: { temporal: untouchableTemporal } });
  let prisma: PrismaClient;
  let app: ApiStack['app'];
  let tenantId: string;
  let admin: string;
  let operator: string;
  let platformAdmin: string;
  let slotId: string;
  let retailerId: string;
  let vendorId: string;
  let orderId: string;

  beforeAll(async () => {
    ({ prisma, app } = stack);
    tenantId = stack.tenant.id;
    ({ admin, operator, platformAdmin } = stack.tokens);
    slotId = (await prisma.slot.create({ data: { tenantId, name: 'Tuesday 9:00' } })).id;
    retailerId = (
      await prisma.retailer.create({
        data: { tenantId, name: 'Corner Shop', channel: 'EMAIL', contact: 'shop@corner.test', creditLimit: 100_000 },
      })
    ).id;
    vendorId = (
      await prisma.vendor.create({
        data: {
          tenantId,
          name: 'North Foods',
          region: 'north',
          categories: ['fruit'],
          capacity: 5,
          channel: 'EMAIL',
          contact: 'orders@north.test',
        },
      })
    ).id;
    orderId = (
      await prisma.order.create({
        data: {
          tenantId,
          retailerId,
          items: [{ sku: 'A-1', name: 'Apples', category: 'fruit', quantity: 1, unitPrice: 100 }],
          total: 100,
          deliveryRegion: 'north',
          requestHash: 'input-validation',
          status: 'ROUTING',
        },
      })
    ).id;
  });

  afterAll(async () => {
    await prisma.$disconnect();
  });

  const item = (overrides: Record<string, unknown> = {}) => ({
    sku: 'A-1',
    name: 'Apples',
    category: 'fruit',
    quantity: 1,
    unitPrice: 100,
    ...overrides,
  });
  const order = (overrides: Record<string, unknown> = {}) => ({
    retailerId,
    items: [item()],
    deliveryRegion: 'north',
    ...overrides,
  });
  const onboarding = (overrides: Record<string, unknown> = {}) => ({
    organizationName: 'Acme Clinics',
    slug: `acme-${randomUUID().slice(0, 8)}`,
    adminEmail: 'ada@acme.test',
    adminName: 'Ada Admin',
    tier: 'professional',
    ...overrides,
  });

  type Case = { method: 'post' | 'patch' | 'get'; path: () => string; auth?: () => string; body?: () => object };

  /** Every free-text field a caller can send, each carrying `bad`, with the field the 400 must name. */
  const textCases = (bad: string): Array<[string, string, Case]> => [
    ['slot name', 'name', { method: 'post', path: () => '/api/v1/slots', body: () => ({ name: bad }) }],
    [
      'waitlist customerName',
      'customerName',
      {
        method: 'post',
        path: () => `/api/v1/slots/${slotId}/waitlist`,
        body: () => ({ customerName: bad, email: 'cy@example.test' }),
      },
    ],
    [
      'retailer name',
      'name',
      {
        method: 'post',
        path: () => '/api/v1/retailers',
        body: () => ({ name: bad, channel: 'EMAIL', contact: 'x@y.test', creditLimit: 1 }),
      },
    ],
    [
      'retailer contact',
      'contact',
      {
        method: 'post',
        path: () => '/api/v1/retailers',
        body: () => ({ name: 'Shop', channel: 'EMAIL', contact: `x${bad}@y.test`, creditLimit: 1 }),
      },
    ],
    [
      'retailer name, on update',
      'name',
      { method: 'patch', path: () => `/api/v1/retailers/${retailerId}`, body: () => ({ name: bad }) },
    ],
    [
      'vendor name',
      'name',
      {
        method: 'post',
        path: () => '/api/v1/vendors',
        body: () => ({
          name: bad,
          region: 'north',
          categories: ['fruit'],
          capacity: 1,
          channel: 'EMAIL',
          contact: 'v@x.test',
        }),
      },
    ],
    [
      'vendor category',
      'categories.0',
      { method: 'patch', path: () => `/api/v1/vendors/${vendorId}`, body: () => ({ categories: [bad] }) },
    ],
    [
      'vendor region',
      'region',
      { method: 'patch', path: () => `/api/v1/vendors/${vendorId}`, body: () => ({ region: bad }) },
    ],
    [
      'order item name (jsonb)',
      'items.0.name',
      { method: 'post', path: () => '/api/v1/orders', body: () => order({ items: [item({ name: bad })] }) },
    ],
    [
      'order item sku (jsonb)',
      'items.0.sku',
      { method: 'post', path: () => '/api/v1/orders', body: () => order({ items: [item({ sku: bad })] }) },
    ],
    [
      'order item category (jsonb)',
      'items.0.category',
      { method: 'post', path: () => '/api/v1/orders', body: () => order({ items: [item({ category: bad })] }) },
    ],
    [
      'order deliveryRegion',
      'deliveryRegion',
      { method: 'post', path: () => '/api/v1/orders', body: () => order({ deliveryRegion: bad }) },
    ],
    [
      'order clientOrderRef',
      'clientOrderRef',
      { method: 'post', path: () => '/api/v1/orders', body: () => order({ clientOrderRef: bad }) },
    ],
    [
      'order cancel reason',
      'reason',
      {
        method: 'post',
        path: () => `/api/v1/orders/${orderId}/cancel`,
        auth: () => operator,
        body: () => ({ reason: bad }),
      },
    ],
    [
      'payment reference',
      'reference',
      {
        method: 'post',
        path: () => `/api/v1/orders/${orderId}/payments`,
        auth: () => operator,
        body: () => ({ amount: 1, reference: bad }),
      },
    ],
    [
      'onboarding organizationName',
      'organizationName',
      {
        method: 'post',
        path: () => '/api/v1/tenants',
        auth: () => platformAdmin,
        body: () => onboarding({ organizationName: bad }),
      },
    ],
    [
      'onboarding adminName',
      'adminName',
      {
        method: 'post',
        path: () => '/api/v1/tenants',
        auth: () => platformAdmin,
        body: () => onboarding({ adminName: bad }),
      },
    ],
    [
      'approval note',
      'note',
      {
        method: 'post',
        path: () => '/api/v1/tenants/acme-clinics/onboarding/approve',
        auth: () => platformAdmin,
        body: () => ({ note: bad }),
      },
    ],
    [
      'rejection reason',
      'reason',
      {
        method: 'post',
        path: () => '/api/v1/tenants/acme-clinics/onboarding/reject',
        auth: () => platformAdmin,
        body: () => ({ reason: bad }),
      },
    ],
    [
      "vendor's reject reason on the public endpoint",
      'reason',
      {
        method: 'post',
        path: () => '/api/v1/vendor/offers/respond',
        auth: () => '',
        body: () => ({ token: 'v2.x.y', decision: 'reject', reason: bad }),
      },
    ],
    [
      'offer token on the public endpoint',
      'token',
      {
        method: 'post',
        path: () => '/api/v1/offers/respond',
        auth: () => '',
        body: () => ({ token: `v2.${bad}.y`, decision: 'accept' }),
      },
    ],
  ];

  const send = ({ method, path, auth, body }: Case) => {
    const authorization = auth ? auth() : admin;
    let call = request(app)[method](path());
    if (authorization) call = call.set('Authorization', authorization);
    return body ? call.send(body()) : call;
  };

  const expectRefused = (response: request.Response, field: string) => {
    expect({ status: response.status, code: response.body.error?.code }).toEqual({
      status: 400,
      code: 'VALIDATION_FAILED',
    });
    expect(response.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: field })]));
  };

  describe.each([
    ['a NUL byte', NUL],
    ['an unpaired surrogate', LONE_SURROGATE],
  ])('%s in free text', (_label, bad) => {
    it.each(textCases(bad))('is refused in the %s, naming the field %s', async (_name, field, testCase) => {
      const response = await send(testCase);
      expectRefused(response, field);
    });
  });

  it('a NUL byte in a list filter in the query string is refused', async () => {
    const response = await request(app).get('/api/v1/vendors?region=a%00b').set('Authorization', admin);

    expectRefused(response, 'region');
  });

  it('refused text is never echoed back in the error', async () => {
    const response = await send({ method: 'post', path: () => '/api/v1/slots', body: () => ({ name: NUL }) });

    expect(response.status).toBe(400);
    expect(JSON.stringify(response.body)).not.toContain('\\u0000');
  });

  it('nothing refused was written: no slot, entry, partner, order or payment came of it', async () => {
    const counts = async () => ({
      slots: await prisma.slot.count({ where: { tenantId } }),
      entries: await prisma.waitlistEntry.count({ where: { tenantId } }),
      retailers: await prisma.retailer.count({ where: { tenantId } }),
      vendors: await prisma.vendor.count({ where: { tenantId } }),
      orders: await prisma.order.count({ where: { tenantId } }),
      payments: await prisma.payment.count({ where: { tenantId } }),
    });
    const before = await counts();

    for (const [, , testCase] of textCases(NUL)) await send(testCase);

    expect(await counts()).toEqual(before);
  });

  describe('amounts fit the 32-bit columns they are stored in', () => {
    it('a credit limit above MAX_MONEY_MINOR is refused; MAX_MONEY_MINOR itself is stored', async () => {
      const retailer = (creditLimit: number) =>
        request(app)
          .post('/api/v1/retailers')
          .set('Authorization', admin)
          .send({ name: 'Big Shop', channel: 'EMAIL', contact: 'big@shop.test', creditLimit });

      const tooBig = await Promise.all([retailer(MAX_MONEY_MINOR + 1), retailer(1e12)]);
      const largest = await retailer(MAX_MONEY_MINOR);

      for (const response of tooBig) expectRefused(response, 'creditLimit');
      expect(largest.status).toBe(201);
      expect(largest.body.creditLimit).toBe(MAX_MONEY_MINOR);
    });

    it('an order whose total exceeds MAX_MONEY_MINOR is refused, though every item alone is allowed', async () => {
      const overflowing = [
        order({ items: [item({ quantity: 2, unitPrice: 2 ** 30 })] }),
        order({ items: [item({ unitPrice: MAX_MONEY_MINOR }), item({ sku: 'B-2', unitPrice: 1 })] }),
        order({
          items: Array.from({ length: 200 }, (_, n) =>
            item({ sku: `S-${n}`, quantity: 100_000, unitPrice: MAX_MONEY_MINOR }),
          ),
        }),
      ];

      for (const body of overflowing) {
        const response = await request(app).post('/api/v1/orders').set('Authorization', admin).send(body);
        expectRefused(response, 'items');
      }
    });

    it('a payment above MAX_MONEY_MINOR is refused', async () => {
      const response = await request(app)
        .post(`/api/v1/orders/${orderId}/payments`)
        .set('Authorization', operator)
        .send({ amount: 1e12, reference: 'big-payment' });

      expectRefused(response, 'amount');
    });

    it('an item price above MAX_MONEY_MINOR is refused', async () => {
      const response = await request(app)
        .post('/api/v1/orders')
        .set('Authorization', admin)
        .send(order({ items: [item({ unitPrice: MAX_MONEY_MINOR + 1 })] }));

      expectRefused(response, 'items.0.unitPrice');
    });
  });

  describe('dates lie between 1900 and 2200', () => {
    it.each(['0000-01-01T00:00:00Z', '0001-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '+275760-09-13T00:00:00Z'])(
      'a slot starting at %s is refused',
      async (startsAt) => {
        const response = await request(app)
          .post('/api/v1/slots')
          .set('Authorization', admin)
          .send({ name: 'x', startsAt });

        expectRefused(response, 'startsAt');
      },
    );

    it('a slot starting at a sane date is created', async () => {
      const response = await request(app)
        .post('/api/v1/slots')
        .set('Authorization', admin)
        .send({ name: 'Christmas Eve', startsAt: '2026-12-24T18:00:00+01:00' });

      expect(response.status).toBe(201);
      expect(response.body.startsAt).toBe('2026-12-24T17:00:00.000Z');
    });
  });
});

describe('a token for a tenant that does not exist', () => {
  /** Trusts every token's tenant, as authentication did before it loaded the tenant: the database must still hold. */
  const trustingTenantStatus: TenantStatusCache = { status: () => Promise.resolve('ACTIVE'), forget: () => undefined };
  const stack = useApiStack({ app: { temporal: untouchableTemporal, tenantStatus: trustingTenantStatus } });
  let app: ApiStack['app'];
  let ghost: string;

  beforeAll(async () => {
    app = stack.app;
    ghost = await stack.bearer(`t-${randomUUID()}`, 'tenant-admin');
  });

  it.each([
    ['/api/v1/slots', { name: 'Tuesday 9:00' }],
    ['/api/v1/retailers', { name: 'Corner Shop', channel: 'EMAIL', contact: 'shop@corner.test', creditLimit: 100 }],
    [
      '/api/v1/vendors',
      {
        name: 'North Foods',
        region: 'north',
        categories: ['fruit'],
        capacity: 1,
        channel: 'EMAIL',
        contact: 'v@x.test',
      },
    ],
  ])('gets 404 NOT_FOUND, not a 500, from the foreign key on POST %s', async (path, body) => {
    const response = await request(app).post(path).set('Authorization', ghost).send(body);

    expect(response.status).toBe(404);
    expect(response.body.error).toEqual({
      code: 'NOT_FOUND',
      message: 'A record this request refers to does not exist',
      details: null,
    });
  });
});

describe('onboarding refuses unstorable text before anything starts or is decided', () => {
  const stack = useApiStack({ fakeActivities: new FakeOnboarding().activities() });
  let prisma: PrismaClient;
  let client: Client;
  let app: ApiStack['app'];
  let platformAdmin: string;

  beforeAll(() => {
    ({ prisma, client, app } = stack);
    platformAdmin = stack.tokens.platformAdmin;
  });

  const onboard = (body: object) => request(app).post('/api/v1/tenants').set('Authorization', platformAdmin).send(body);
  const slug = () => `clinic-${randomUUID().slice(0, 8)}`;
  const onboarding = (tenantSlug: string, overrides: Record<string, unknown> = {}) => ({
    organizationName: 'Ada Clinics',
    slug: tenantSlug,
    adminEmail: `ada@${tenantSlug}.test`,
    adminName: 'Ada Admin',
    tier: 'enterprise',
    ...overrides,
  });

  it('a NUL in organizationName gets 400 and no onboarding workflow, and no tenant, is created', async () => {
    const tenantSlug = slug();

    const response = await onboard(onboarding(tenantSlug, { organizationName: 'Ada\u0000Clinics' }));

    expect(response.status).toBe(400);
    expect(response.body.error.details).toEqual([expect.objectContaining({ path: 'organizationName' })]);
    await expect(client.workflow.getHandle(tenantOnboardingId(tenantSlug)).describe()).rejects.toBeInstanceOf(
      WorkflowNotFoundError,
    );
    expect(await prisma.tenant.count({ where: { id: tenantIdForSlug(tenantSlug) } })).toBe(0);
  });

  it('a NUL in the approval note, or in a rejection reason, gets 400 and the onboarding still waits for a decision', async () => {
    const tenantSlug = slug();
    const started = await onboard(onboarding(tenantSlug));
    expect(started.status).toBe(202);
    const handle = client.workflow.getHandle<typeof tenantOnboardingWorkflow>(started.body.workflowId);
    await eventually(async () => (await handle.query(getOnboardingProgressQuery)).status === 'AWAITING_APPROVAL');
    const decide = (verb: 'approve' | 'reject', body: object) =>
      request(app)
        .post(`/api/v1/tenants/${tenantSlug}/onboarding/${verb}`)
        .set('Authorization', platformAdmin)
        .send(body);

    const badNote = await decide('approve', { note: 'looks fine\u0000' });
    const badReason = await decide('reject', { reason: 'no\ud800' });

    expect([badNote.status, badReason.status]).toEqual([400, 400]);
    const progress = await handle.query(getOnboardingProgressQuery);
    expect(progress.status).toBe('AWAITING_APPROVAL');
    expect(progress.approval).toMatchObject({ decision: null });
    const approved = await decide('approve', { note: 'looks fine' });
    expect(approved.status).toBe(200);
    expect(await handle.result()).toMatchObject({ status: 'ACTIVE' });
  });
});

describe('the error middleware maps database errors by what they mean', () => {
  const stack = useApiStack();
  let prisma: PrismaClient;
  let unreachable: GeneratedPrismaClient;
  let logLines: Array<Record<string, unknown>>;
  let app: express.Express;
  let tenantId: string;

  beforeAll(async () => {
    prisma = stack.prisma;
    tenantId = stack.tenant.id;
    unreachable = new GeneratedPrismaClient({
      adapter: new PrismaPg({ connectionString: `postgresql://nobody:nothing@127.0.0.1:${await freePort()}/none` }),
    });
    logLines = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const logger = createLogger({ logLevel: 'info' }, 'test', { destination });

    app = express();
    app.use(requestLogging(logger));
    const route = (path: string, action: () => Promise<unknown>) =>
      app.get(path, async (_req, res) => {
        await action();
        res.status(204).end();
      });
    route('/duplicate', () => prisma.tenant.create({ data: { id: tenantId, slug: `t-${randomUUID()}`, name: 'Dup' } }));
    route('/missing-reference', () => prisma.slot.create({ data: { tenantId: `t-${randomUUID()}`, name: 'x' } }));
    route('/still-referenced', () =>
      prisma.$transaction(async (tx) => {
        await tx.$executeRawUnsafe('CREATE TEMP TABLE parent (id int PRIMARY KEY) ON COMMIT DROP');
        await tx.$executeRawUnsafe('CREATE TEMP TABLE child (parent int REFERENCES parent) ON COMMIT DROP');
        await tx.$executeRawUnsafe('INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1)');
        await tx.$executeRawUnsafe('DELETE FROM parent');
      }),
    );
    route('/nul', () => prisma.slot.create({ data: { tenantId, name: 'secret\u0000value' } }));
    route('/nul-jsonb', () =>
      prisma.auditLog.create({
        data: { tenantId, actor: 'test', action: 'x', entityType: 'x', entityId: 'x', details: { note: '\u0000' } },
      }),
    );
    route('/int-overflow', () =>
      prisma.retailer.create({
        data: { tenantId, name: 'Shop', channel: 'EMAIL', contact: 's@x.test', creditLimit: 1e12 },
      }),
    );
    route('/year-zero', () =>
      prisma.slot.create({ data: { tenantId, name: 'x', startsAt: new Date('0000-01-01T00:00:00Z') } }),
    );
    route('/no-such-row', () => prisma.slot.update({ where: { id: randomUUID() }, data: { name: 'renamed' } }));
    route('/unreachable', () => unreachable.tenant.count());
    route('/bug', () => Promise.reject(new Error('a bug')));
    route('/update-invalid-input', () =>
      Promise.reject(
        new WorkflowUpdateFailedError(
          'Workflow Update failed',
          ApplicationFailure.create({ type: 'INVALID_INPUT', message: 'note must be text without NUL characters' }),
        ),
      ),
    );
    route('/update-refused-by-state', () =>
      Promise.reject(
        new WorkflowUpdateFailedError(
          'Workflow Update failed',
          ApplicationFailure.create({ type: 'NOT_AWAITING_APPROVAL', message: 'This onboarding is not waiting' }),
        ),
      ),
    );
    app.use(errorMiddleware(logger));
  });

  beforeEach(() => {
    logLines.length = 0;
  });

  afterAll(async () => {
    await unreachable.$disconnect();
  });

  it.each([
    ['/duplicate', 409, 'ALREADY_EXISTS'],
    ['/missing-reference', 404, 'NOT_FOUND'],
    ['/still-referenced', 409, 'STILL_REFERENCED'],
    ['/nul', 400, 'INVALID_DATA'],
    ['/nul-jsonb', 400, 'INVALID_DATA'],
    ['/int-overflow', 400, 'INVALID_DATA'],
    ['/year-zero', 400, 'INVALID_DATA'],
    ['/no-such-row', 404, 'NOT_FOUND'],
  ])('GET %s answers %i %s with no detail from the database', async (path, status, code) => {
    const response = await request(app).get(path);

    expect(response.status).toBe(status);
    expect(response.body.error).toEqual({ code, message: expect.any(String), details: null });
    expect(JSON.stringify(response.body)).not.toMatch(/secret|\\u0000|Prisma|constraint|invocation/i);
  });

  it('a database that cannot be reached answers 503 SERVICE_UNAVAILABLE with Retry-After, and is logged as a warning', async () => {
    const response = await request(app).get('/unreachable');

    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(response.body.error.code).toBe('SERVICE_UNAVAILABLE');
    expect(logLines.filter((line) => line.msg === 'database unavailable')).toEqual([
      expect.objectContaining({ level: 40, database: { kind: 'transient', prismaCode: 'P1001' } }),
    ]);
  });

  it('a refused value is logged by its class only, never by the value', async () => {
    await request(app).get('/nul');

    expect(logLines.filter((line) => line.msg === 'database refused the request')).toEqual([
      expect.objectContaining({ database: { kind: 'invalid-data', sqlState: '22021' } }),
    ]);
    expect(JSON.stringify(logLines)).not.toContain('secret');
  });

  it('an unexpected error is a 500 whose only detail is the request ID, logged once with the error', async () => {
    const response = await request(app).get('/bug').set('X-Request-Id', 'req-123');

    expect(response.status).toBe(500);
    expect(response.body.error).toEqual({
      code: 'INTERNAL',
      message: 'Something went wrong on our side',
      details: { requestId: 'req-123' },
    });
    const logged = logLines.filter((line) => line.msg === 'unhandled error');
    expect(logged).toEqual([
      expect.objectContaining({ reqId: 'req-123', err: expect.objectContaining({ message: 'a bug' }) }),
    ]);
  });

  it('an Update a validator refused as bad input answers 400; one the flow refused for its state stays 409', async () => {
    const invalid = await request(app).get('/update-invalid-input');
    const refused = await request(app).get('/update-refused-by-state');

    expect([invalid.status, invalid.body.error.code]).toEqual([400, 'INVALID_INPUT']);
    expect([refused.status, refused.body.error.code]).toEqual([409, 'NOT_AWAITING_APPROVAL']);
  });
});
