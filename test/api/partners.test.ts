import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Client } from '@temporalio/client';
import type { Config } from '../../lib/config';
import type { PrismaClient } from '../../lib/db';
import { useApiStack, type ApiStack } from '../support/api-stack';
import { createTestTenant, tokenFor } from '../support/stack';

/** The reference data routes never touch Temporal; a client that does nothing proves it. */
const noTemporal = { workflow: {} } as unknown as Client;

describe('partners API (retailers and vendors)', () => {
  const stack = useApiStack({ app: { temporal: noTemporal } });
  let config: Config;
  let prisma: PrismaClient;
  let app: ApiStack['app'];
  let tenantId: string;
  let admin: string;
  let operator: string;
  let member: string;
  let otherAdmin: string;

  beforeAll(() => {
    ({ config, prisma, app } = stack);
    tenantId = stack.tenant.id;
    ({ admin, operator, member, otherAdmin } = stack.tokens);
  });

  const post = (path: string, body: unknown, auth = admin) =>
    request(app)
      .post(path)
      .set('Authorization', auth)
      .send(body as object);
  const patch = (path: string, body: unknown, auth = admin) =>
    request(app)
      .patch(path)
      .set('Authorization', auth)
      .send(body as object);
  const get = (path: string, auth = member) => request(app).get(path).set('Authorization', auth);

  const expectValidationFailed = (response: request.Response, body: unknown) => {
    if (response.status !== 400) throw new Error(`expected 400 for ${JSON.stringify(body)}, got ${response.status}`);
    expect(response.body.error.code).toBe('VALIDATION_FAILED');
  };

  describe('retailers', () => {
    const retailer = (overrides: Record<string, unknown> = {}) => ({
      name: 'Corner Shop',
      channel: 'EMAIL',
      contact: 'orders@corner.test',
      creditLimit: 500_000,
      ...overrides,
    });

    async function createRetailer(overrides: Record<string, unknown> = {}, auth = admin): Promise<string> {
      const response = await post('/api/v1/retailers', retailer(overrides), auth);
      expect(response.status).toBe(201);
      return response.body.id as string;
    }

    it('a tenant admin creates a retailer (201 with Location), and any role reads it back', async () => {
      const created = await post('/api/v1/retailers', retailer({ name: 'Kiosk 7', contact: 'kiosk7@shops.test' }));

      expect(created.status).toBe(201);
      expect(created.headers.location).toBe(`/api/v1/retailers/${created.body.id}`);
      expect(created.body).toEqual({
        id: expect.any(String),
        name: 'Kiosk 7',
        channel: 'EMAIL',
        contact: 'kiosk7@shops.test',
        creditLimit: 500_000,
        creditScore: 600,
        flagged: false,
        flaggedReason: null,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      const shown = await get(`/api/v1/retailers/${created.body.id}`);
      expect(shown.status).toBe(200);
      expect(shown.body).toEqual(created.body);
      const row = await prisma.retailer.findUniqueOrThrow({ where: { id: created.body.id } });
      expect(row.tenantId).toBe(tenantId);
      const audit = await prisma.auditLog.findFirst({ where: { entityId: row.id, action: 'retailer.created' } });
      expect(audit).toMatchObject({ tenantId, entityType: 'Retailer', actor: 'dev:tenant-admin' });
    });

    it('accepts a WhatsApp or SMS retailer with an E.164 number', async () => {
      const whatsapp = await post('/api/v1/retailers', retailer({ channel: 'WHATSAPP', contact: '+14155550123' }));
      const sms = await post('/api/v1/retailers', retailer({ channel: 'SMS', contact: '+447700900123' }));

      expect([whatsapp.status, sms.status]).toEqual([201, 201]);
      expect(whatsapp.body).toMatchObject({ channel: 'WHATSAPP', contact: '+14155550123' });
    });

    it('writing retailers needs tenant-admin (403 for member and operator) and every route needs a token (401)', async () => {
      const id = await createRetailer();

      const createdBy = await Promise.all(
        [member, operator].map((auth) => post('/api/v1/retailers', retailer(), auth)),
      );
      const patchedBy = await Promise.all(
        [member, operator].map((auth) => patch(`/api/v1/retailers/${id}`, { creditLimit: 1 }, auth)),
      );
      const anonymous = await Promise.all([
        request(app).post('/api/v1/retailers').send(retailer()),
        request(app).get('/api/v1/retailers'),
        request(app).get(`/api/v1/retailers/${id}`),
        request(app).patch(`/api/v1/retailers/${id}`).send({ creditLimit: 1 }),
      ]);

      expect([...createdBy, ...patchedBy].map((response) => response.status)).toEqual([403, 403, 403, 403]);
      expect(createdBy[0]!.body.error).toMatchObject({ code: 'FORBIDDEN', details: { required: 'tenant-admin' } });
      expect(anonymous.map((response) => response.status)).toEqual([401, 401, 401, 401]);
      expect((await prisma.retailer.findUniqueOrThrow({ where: { id } })).creditLimit).toBe(500_000);
    });

    it('answers 400 for every invalid field, and creates nothing', async () => {
      const before = await prisma.retailer.count({ where: { tenantId } });
      const invalid = [
        {},
        retailer({ name: '' }),
        retailer({ name: undefined }),
        retailer({ channel: 'FAX' }),
        retailer({ channel: 'WHATSAPP', contact: 'orders@corner.test' }),
        retailer({ channel: 'SMS', contact: '0800 123' }),
        retailer({ channel: 'EMAIL', contact: '+14155550123' }),
        retailer({ contact: '' }),
        retailer({ creditLimit: -1 }),
        retailer({ creditLimit: 10.5 }),
        retailer({ creditLimit: '1000' }),
        retailer({ creditLimit: 1_000_000_000_001 }),
        retailer({ flagged: true }),
        retailer({ creditScore: 800 }),
        retailer({ surprise: 1 }),
      ];

      for (const body of invalid) expectValidationFailed(await post('/api/v1/retailers', body), body);
      const wrongContact = await post('/api/v1/retailers', retailer({ channel: 'WHATSAPP' }));
      expect(wrongContact.body.error.details).toEqual([
        { path: 'contact', message: 'expected an E.164 number such as +14155550123' },
      ]);
      expect(await prisma.retailer.count({ where: { tenantId } })).toBe(before);
    });

    it('PATCH changes only the fields given and checks the contact against the resulting channel', async () => {
      const id = await createRetailer({ name: 'Patchable' });

      const limit = await patch(`/api/v1/retailers/${id}`, { creditLimit: 750_000 });
      const channelOnly = await patch(`/api/v1/retailers/${id}`, { channel: 'WHATSAPP' });
      const both = await patch(`/api/v1/retailers/${id}`, { channel: 'WHATSAPP', contact: '+14155550199' });

      expect(limit.status).toBe(200);
      expect(limit.body).toMatchObject({ name: 'Patchable', channel: 'EMAIL', creditLimit: 750_000 });
      expectValidationFailed(channelOnly, { channel: 'WHATSAPP' });
      expect(channelOnly.body.error.details).toEqual([expect.objectContaining({ path: 'contact' })]);
      expect(both.status).toBe(200);
      expect(await prisma.retailer.findUniqueOrThrow({ where: { id } })).toMatchObject({
        name: 'Patchable',
        channel: 'WHATSAPP',
        contact: '+14155550199',
        creditLimit: 750_000,
      });
    });

    it('PATCH answers 400 for an empty body, unknown fields, bad values, and flagged:true', async () => {
      const id = await createRetailer();
      const invalid = [
        {},
        { nickname: 'x' },
        { creditLimit: -5 },
        { channel: 'PIGEON' },
        { name: '   ' },
        { flagged: true },
        { flagged: 'false' },
        { flaggedReason: null },
        { creditScore: 850 },
      ];

      for (const body of invalid) expectValidationFailed(await patch(`/api/v1/retailers/${id}`, body), body);
      expect(await prisma.retailer.findUniqueOrThrow({ where: { id } })).toMatchObject({
        flagged: false,
        creditLimit: 500_000,
        creditScore: 600,
      });
    });

    it('PATCH flagged:false clears a flag set by a final notice, with its reason', async () => {
      const id = await createRetailer({ name: 'Late Payer' });
      await prisma.retailer.update({
        where: { id },
        data: { flagged: true, flaggedReason: 'final payment notice for order ORD-1234' },
      });
      const flagged = await get(`/api/v1/retailers/${id}`);

      const cleared = await patch(`/api/v1/retailers/${id}`, { flagged: false });

      expect(flagged.body).toMatchObject({ flagged: true, flaggedReason: 'final payment notice for order ORD-1234' });
      expect(cleared.status).toBe(200);
      expect(cleared.body).toMatchObject({ flagged: false, flaggedReason: null });
      expect(await prisma.retailer.findUniqueOrThrow({ where: { id } })).toMatchObject({
        flagged: false,
        flaggedReason: null,
      });
      const audit = await prisma.auditLog.findFirst({ where: { entityId: id, action: 'retailer.updated' } });
      expect(audit?.details).toEqual({ flagged: false });
    });

    it('answers 400 for a non-UUID ID and 404 for an unknown retailer or another tenant’s (GET and PATCH)', async () => {
      const theirs = await createRetailer({ name: 'Theirs' }, otherAdmin);

      const malformed = await get('/api/v1/retailers/not-a-uuid');
      const malformedPatch = await patch('/api/v1/retailers/not-a-uuid', { creditLimit: 1 });
      const unknown = await get(`/api/v1/retailers/${randomUUID()}`);
      const unknownPatch = await patch(`/api/v1/retailers/${randomUUID()}`, { creditLimit: 1 });
      const foreign = await get(`/api/v1/retailers/${theirs}`);
      const foreignPatch = await patch(`/api/v1/retailers/${theirs}`, { creditLimit: 1 });

      expect([malformed.status, malformedPatch.status]).toEqual([400, 400]);
      expect([unknown.status, unknownPatch.status, foreign.status, foreignPatch.status]).toEqual([404, 404, 404, 404]);
      expect(foreign.body.error.code).toBe('NOT_FOUND');
      expect((await prisma.retailer.findUniqueOrThrow({ where: { id: theirs } })).creditLimit).toBe(500_000);
    });

    it('lists only the caller’s tenant’s retailers, oldest first, paged by limit and offset; a bad query is 400', async () => {
      const listTenant = (await createTestTenant(prisma)).id;
      const listAdmin = `Bearer ${await tokenFor(config, listTenant, 'tenant-admin')}`;
      const first = await createRetailer({ name: 'First' }, listAdmin);
      const second = await createRetailer({ name: 'Second' }, listAdmin);
      const third = await createRetailer({ name: 'Third' }, listAdmin);

      const all = await get('/api/v1/retailers', listAdmin);
      const page = await get('/api/v1/retailers?limit=1&offset=1', listAdmin);
      const ours = await get('/api/v1/retailers?limit=500');
      const bad = await Promise.all(
        ['limit=0', 'limit=501', 'offset=-1', 'limit=many', 'region=north'].map((query) =>
          get(`/api/v1/retailers?${query}`),
        ),
      );

      expect(all.status).toBe(200);
      expect((all.body.retailers as Array<{ id: string }>).map((r) => r.id)).toEqual([first, second, third]);
      expect((page.body.retailers as Array<{ id: string }>).map((r) => r.id)).toEqual([second]);
      expect((ours.body.retailers as Array<{ id: string }>).map((r) => r.id)).not.toContain(first);
      expect(bad.map((response) => response.status)).toEqual([400, 400, 400, 400, 400]);
    });
  });

  describe('vendors', () => {
    const vendor = (overrides: Record<string, unknown> = {}) => ({
      name: 'Fresh Farms',
      region: 'north',
      categories: ['produce'],
      capacity: 5,
      channel: 'EMAIL',
      contact: 'dispatch@fresh.test',
      ...overrides,
    });

    async function createVendor(overrides: Record<string, unknown> = {}, auth = admin): Promise<string> {
      const response = await post('/api/v1/vendors', vendor(overrides), auth);
      expect(response.status).toBe(201);
      return response.body.id as string;
    }

    it('a tenant admin creates a vendor (201 with Location, rating 3 and active by default), and any role reads it back', async () => {
      const created = await post('/api/v1/vendors', vendor({ categories: ['produce', 'dairy'] }));

      expect(created.status).toBe(201);
      expect(created.headers.location).toBe(`/api/v1/vendors/${created.body.id}`);
      expect(created.body).toEqual({
        id: expect.any(String),
        name: 'Fresh Farms',
        region: 'north',
        categories: ['produce', 'dairy'],
        capacity: 5,
        rating: 3,
        active: true,
        channel: 'EMAIL',
        contact: 'dispatch@fresh.test',
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      const shown = await get(`/api/v1/vendors/${created.body.id}`);
      expect(shown.status).toBe(200);
      expect(shown.body).toEqual(created.body);
      expect((await prisma.vendor.findUniqueOrThrow({ where: { id: created.body.id } })).tenantId).toBe(tenantId);
    });

    it('takes an explicit rating and active flag, and a WhatsApp vendor with an E.164 number', async () => {
      const created = await post(
        '/api/v1/vendors',
        vendor({ rating: 4.5, active: false, channel: 'WHATSAPP', contact: '+14155550123' }),
      );

      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ rating: 4.5, active: false, channel: 'WHATSAPP', contact: '+14155550123' });
    });

    it('writing vendors needs tenant-admin (403 for member and operator) and every route needs a token (401)', async () => {
      const id = await createVendor();

      const createdBy = await Promise.all([member, operator].map((auth) => post('/api/v1/vendors', vendor(), auth)));
      const patchedBy = await Promise.all(
        [member, operator].map((auth) => patch(`/api/v1/vendors/${id}`, { rating: 5 }, auth)),
      );
      const anonymous = await Promise.all([
        request(app).post('/api/v1/vendors').send(vendor()),
        request(app).get('/api/v1/vendors'),
        request(app).get(`/api/v1/vendors/${id}`),
        request(app).patch(`/api/v1/vendors/${id}`).send({ rating: 5 }),
      ]);

      expect([...createdBy, ...patchedBy].map((response) => response.status)).toEqual([403, 403, 403, 403]);
      expect(anonymous.map((response) => response.status)).toEqual([401, 401, 401, 401]);
      expect((await prisma.vendor.findUniqueOrThrow({ where: { id } })).rating).toBe(3);
    });

    it('answers 400 for every invalid field, and creates nothing', async () => {
      const before = await prisma.vendor.count({ where: { tenantId } });
      const invalid = [
        {},
        vendor({ name: '' }),
        vendor({ region: '' }),
        vendor({ region: undefined }),
        vendor({ categories: [] }),
        vendor({ categories: [''] }),
        vendor({ categories: 'produce' }),
        vendor({ capacity: 0 }),
        vendor({ capacity: 2.5 }),
        vendor({ capacity: 100_001 }),
        vendor({ rating: 6 }),
        vendor({ rating: -1 }),
        vendor({ active: 'yes' }),
        vendor({ channel: 'FAX' }),
        vendor({ channel: 'WHATSAPP', contact: 'dispatch@fresh.test' }),
        vendor({ channel: 'SMS', contact: 'dispatch@fresh.test' }),
        vendor({ channel: 'EMAIL', contact: '+14155550123' }),
        vendor({ surprise: 1 }),
      ];

      for (const body of invalid) expectValidationFailed(await post('/api/v1/vendors', body), body);
      expect(await prisma.vendor.count({ where: { tenantId } })).toBe(before);
    });

    it('PATCH changes only the fields given; 400 for an empty body, unknown fields, bad values or a contact the channel cannot reach', async () => {
      const id = await createVendor({ name: 'Patchable Vendor' });

      const updated = await patch(`/api/v1/vendors/${id}`, { rating: 4.8, active: false, capacity: 12 });
      const invalid = [
        {},
        { flagged: false },
        { capacity: 0 },
        { rating: 6 },
        { categories: [] },
        { channel: 'SMS' },
        { contact: '+14155550123' },
      ];
      const rejected = await Promise.all(invalid.map((body) => patch(`/api/v1/vendors/${id}`, body)));

      expect(updated.status).toBe(200);
      expect(updated.body).toMatchObject({
        name: 'Patchable Vendor',
        region: 'north',
        rating: 4.8,
        active: false,
        capacity: 12,
        channel: 'EMAIL',
      });
      rejected.forEach((response, index) => expectValidationFailed(response, invalid[index]));
      expect(await prisma.vendor.findUniqueOrThrow({ where: { id } })).toMatchObject({
        rating: 4.8,
        active: false,
        capacity: 12,
        categories: ['produce'],
        channel: 'EMAIL',
        contact: 'dispatch@fresh.test',
      });
    });

    it('answers 400 for a non-UUID ID and 404 for an unknown vendor or another tenant’s (GET and PATCH)', async () => {
      const theirs = await createVendor({ name: 'Their Vendor' }, otherAdmin);

      const malformed = await get('/api/v1/vendors/12345');
      const malformedPatch = await patch('/api/v1/vendors/12345', { rating: 1 });
      const unknown = await get(`/api/v1/vendors/${randomUUID()}`);
      const unknownPatch = await patch(`/api/v1/vendors/${randomUUID()}`, { rating: 1 });
      const foreign = await get(`/api/v1/vendors/${theirs}`);
      const foreignPatch = await patch(`/api/v1/vendors/${theirs}`, { rating: 1 });

      expect([malformed.status, malformedPatch.status]).toEqual([400, 400]);
      expect([unknown.status, unknownPatch.status, foreign.status, foreignPatch.status]).toEqual([404, 404, 404, 404]);
      expect((await prisma.vendor.findUniqueOrThrow({ where: { id: theirs } })).rating).toBe(3);
    });

    it('lists vendors filtered by region and active, only the caller’s tenant’s; a bad query is 400', async () => {
      const region = `east-${randomUUID().slice(0, 8)}`;
      const activeHere = await createVendor({ name: 'Active East', region });
      const inactiveHere = await createVendor({ name: 'Idle East', region, active: false });
      const elsewhere = await createVendor({ name: 'West', region: `${region}-west` });
      await createVendor({ name: 'Their East', region }, otherAdmin);

      const inRegion = await get(`/api/v1/vendors?region=${region}`);
      const activeInRegion = await get(`/api/v1/vendors?region=${region}&active=true`);
      const inactiveInRegion = await get(`/api/v1/vendors?region=${region}&active=false`);
      const all = await get('/api/v1/vendors?limit=500');
      const bad = await Promise.all(
        ['active=yes', 'region=', 'limit=0', 'offset=-1', 'surprise=1'].map((query) => get(`/api/v1/vendors?${query}`)),
      );

      const ids = (response: request.Response) => (response.body.vendors as Array<{ id: string }>).map((v) => v.id);
      expect(inRegion.status).toBe(200);
      expect(ids(inRegion)).toEqual([activeHere, inactiveHere]);
      expect(ids(activeInRegion)).toEqual([activeHere]);
      expect(ids(inactiveInRegion)).toEqual([inactiveHere]);
      expect(ids(all)).toEqual(expect.arrayContaining([activeHere, inactiveHere, elsewhere]));
      expect((all.body.vendors as Array<{ name: string }>).map((v) => v.name)).not.toContain('Their East');
      expect(bad.map((response) => response.status)).toEqual([400, 400, 400, 400, 400]);
    });
  });
});
