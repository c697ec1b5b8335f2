import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { PrismaClient } from '../../lib/db';
import { listRoutes, routeKey } from '../support/routes';
import { useApiStack, type ApiStack } from '../support/api-stack';

/**
 * The cross-tenant matrix: for every route that takes an ID, tenant B's token on tenant A's
 * object answers exactly as it does for an object that does not exist, and for tenant-scoped
 * routes that answer is 404. The routes are read from the app itself, so a new ID route without
 * a case here fails the suite.
 */

type Ids = {
  slotId: string;
  entryId: string;
  retailerId: string;
  vendorId: string;
  orderId: string;
  slug: string;
  /** Tenant B's own vendor: the assign route checks the vendor before the order. */
  ownVendorId: string;
};

interface Case {
  /** What the path's parameters are filled with. */
  params: (ids: Ids) => Record<string, string>;
  body?: (ids: Ids) => object;
  /** Tenant-scoped objects answer 404; platform routes answer 403 to any tenant's token, whatever the slug. */
  expected: 404 | 403;
}

const tenantScoped = (params: Case['params'], body?: Case['body']): Case => ({ params, body, expected: 404 });
const platformOnly = (body?: Case['body']): Case => ({ params: (ids) => ({ slug: ids.slug }), body, expected: 403 });

const slot = (ids: Ids) => ({ slotId: ids.slotId });
const order = (ids: Ids) => ({ orderId: ids.orderId });

const cases: Record<string, Case> = {
  'GET /api/v1/slots/:slotId': tenantScoped(slot),
  'POST /api/v1/slots/:slotId/waitlist': tenantScoped(slot, () => ({
    customerName: 'Mallory',
    email: `mallory-${randomUUID().slice(0, 6)}@example.test`,
  })),
  'GET /api/v1/slots/:slotId/waitlist': tenantScoped(slot),
  'DELETE /api/v1/slots/:slotId/waitlist/:entryId': tenantScoped((ids) => ({
    slotId: ids.slotId,
    entryId: ids.entryId,
  })),
  'POST /api/v1/slots/:slotId/release': tenantScoped(slot),
  'GET /api/v1/slots/:slotId/cascade': tenantScoped(slot),
  'POST /api/v1/slots/:slotId/cascade/extend': tenantScoped(slot, () => ({ minutes: 5 })),
  'POST /api/v1/slots/:slotId/cascade/cancel': tenantScoped(slot),
  'GET /api/v1/retailers/:id': tenantScoped((ids) => ({ id: ids.retailerId })),
  'PATCH /api/v1/retailers/:id': tenantScoped(
    (ids) => ({ id: ids.retailerId }),
    () => ({ name: 'Stolen' }),
  ),
  'GET /api/v1/vendors/:id': tenantScoped((ids) => ({ id: ids.vendorId })),
  'PATCH /api/v1/vendors/:id': tenantScoped(
    (ids) => ({ id: ids.vendorId }),
    () => ({ active: false }),
  ),
  'GET /api/v1/orders/:orderId': tenantScoped(order),
  'POST /api/v1/orders/:orderId/assign': tenantScoped(order, (ids) => ({ vendorId: ids.ownVendorId })),
  'POST /api/v1/orders/:orderId/status': tenantScoped(order, () => ({ status: 'DISPATCHED' })),
  'POST /api/v1/orders/:orderId/cancel': tenantScoped(order, () => ({ reason: 'not yours' })),
  'POST /api/v1/orders/:orderId/payments': tenantScoped(order, () => ({
    amount: 100,
    reference: `ref-${randomUUID()}`,
  })),
  'GET /api/v1/tenants/:slug/onboarding': tenantScoped((ids) => ({ slug: ids.slug })),
  'POST /api/v1/tenants/:slug/onboarding/approve': platformOnly(),
  'POST /api/v1/tenants/:slug/onboarding/reject': platformOnly(() => ({ reason: 'not yours' })),
  'POST /api/v1/tenants/:slug/onboarding/cancel': platformOnly(),
  'POST /api/v1/tenants/:slug/suspend': platformOnly(() => ({ reason: 'not yours' })),
  'POST /api/v1/tenants/:slug/reactivate': platformOnly(() => ({ reason: 'not yours' })),
};

const fill = (path: string, params: Record<string, string>) =>
  path.replace(/:(\w+)/g, (_match, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`no value for :${name} in ${path}`);
    return encodeURIComponent(value);
  });

describe('tenant isolation: tenant B on tenant A’s objects', () => {
  const stack = useApiStack();
  let prisma: PrismaClient;
  let app: ApiStack['app'];
  let ownedByA: Ids;
  let missing: Ids;
  let tenantA: string;
  let adminOfB: string;

  beforeAll(async () => {
    ({ prisma, app } = stack);
    const [a, b] = [stack.tenant, stack.otherTenant];
    tenantA = a.id;
    adminOfB = stack.tokens.otherAdmin;

    const slotRow = await prisma.slot.create({ data: { tenantId: a.id, name: 'Dr. Lee, 14:30' } });
    const entry = await prisma.waitlistEntry.create({
      data: { tenantId: a.id, slotId: slotRow.id, customerName: 'Ana', email: 'ana@example.test' },
    });
    const retailer = await prisma.retailer.create({
      data: {
        tenantId: a.id,
        name: 'Corner Shop',
        channel: 'EMAIL',
        contact: 'shop@example.test',
        creditLimit: 100_000,
      },
    });
    const vendorFields = { region: 'north', categories: ['produce'], capacity: 5, channel: 'EMAIL' as const };
    const vendor = await prisma.vendor.create({
      data: { tenantId: a.id, name: 'Fresh Farms', contact: 'farm@example.test', ...vendorFields },
    });
    const ownVendor = await prisma.vendor.create({
      data: { tenantId: b.id, name: 'B Farms', contact: 'b-farm@example.test', ...vendorFields },
    });
    const orderRow = await prisma.order.create({
      data: {
        tenantId: a.id,
        retailerId: retailer.id,
        items: [{ sku: 'A-1', name: 'Apples', category: 'produce', quantity: 1, unitPrice: 100 }],
        total: 100,
        deliveryRegion: 'north',
        requestHash: 'isolation-test',
      },
    });
    ownedByA = {
      slotId: slotRow.id,
      entryId: entry.id,
      retailerId: retailer.id,
      vendorId: vendor.id,
      orderId: orderRow.id,
      slug: a.slug,
      ownVendorId: ownVendor.id,
    };
    missing = {
      ...ownedByA,
      slotId: randomUUID(),
      entryId: randomUUID(),
      retailerId: randomUUID(),
      vendorId: randomUUID(),
      orderId: randomUUID(),
      slug: `missing-${randomUUID().slice(0, 8)}`,
    };
  });

  const idRoutes = () =>
    listRoutes(app)
      .filter((route) => route.path.includes('/:'))
      .map(routeKey);

  it('has a case for every route that takes an ID, and no case for a route that is gone', () => {
    const routes = idRoutes();

    expect([...routes].sort()).toEqual(Object.keys(cases).sort());
    expect(routes.length).toBe(23);
  });

  const send = (key: string, ids: Ids) => {
    const [method, path] = key.split(' ') as [string, string];
    const { params, body } = cases[key]!;
    const verb = method.toLowerCase() as 'get' | 'post' | 'patch' | 'delete';
    const agent = request(app);
    const call = agent[verb](fill(path, params(ids))).set('Authorization', adminOfB);
    return body ? call.send(body(ids)) : call;
  };

  it.each(Object.keys(cases))('%s answers B as if A’s object did not exist', async (key) => {
    const onA = await send(key, ownedByA);
    const onNothing = await send(key, missing);

    expect({ status: onA.status, code: onA.body?.error?.code }).toEqual({
      status: cases[key]!.expected,
      code: cases[key]!.expected === 404 ? 'NOT_FOUND' : 'FORBIDDEN',
    });
    expect(onNothing.status).toBe(onA.status);
    expect(onNothing.body.error.code).toBe(onA.body.error.code);
  });

  it('A’s objects are absent from B’s lists, and untouched by B’s attempts', async () => {
    for (const path of ['/api/v1/retailers', '/api/v1/vendors', '/api/v1/orders']) {
      const listed = await request(app).get(path).set('Authorization', adminOfB);
      expect(listed.status).toBe(200);
      expect(JSON.stringify(listed.body)).not.toContain(tenantA);
      for (const id of [ownedByA.retailerId, ownedByA.vendorId, ownedByA.orderId]) {
        expect(JSON.stringify(listed.body)).not.toContain(id);
      }
    }
    const retailer = await prisma.retailer.findUniqueOrThrow({ where: { id: ownedByA.retailerId } });
    const vendor = await prisma.vendor.findUniqueOrThrow({ where: { id: ownedByA.vendorId } });
    const entries = await prisma.waitlistEntry.count({ where: { slotId: ownedByA.slotId } });
    expect({ retailer: retailer.name, vendorActive: vendor.active, entries }).toEqual({
      retailer: 'Corner Shop',
      vendorActive: true,
      entries: 1,
    });
  });
});
