import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { createApp } from '../../api/app';
import { createTenantStatusCache, type TenantStatus } from '../../api/auth';
import { tenantIdForSlug } from '../../domain/tenants';
import type { Config } from '../../lib/config';
import type { PrismaClient } from '../../lib/db';
import { useApiStack } from '../support/api-stack';
import { consoleRoutes, listRoutes, routeKey, type AppRoute } from '../support/routes';
import { createTestTenant, tokenFor } from '../support/stack';

/**
 * Routes that answer without a JWT: probes, the links in candidates', vendors' and invitees' messages, and
 * signed download links (the link is the credential).
 */
const publicRoutes = [
  'GET /healthz',
  'GET /readyz',
  'GET /api/v1/offers/respond',
  'POST /api/v1/offers/respond',
  'GET /api/v1/invitations/accept',
  'POST /api/v1/invitations/accept',
  'GET /api/v1/vendor/offers/respond',
  'POST /api/v1/vendor/offers/respond',
  'POST /api/v1/vendor/orders/status',
  'GET /api/v1/downloads/:token',
];

/**
 * Routes that are not the bearer-token JSON API, left out by name (a route in neither list is checked
 * here). Their own tests cover who may use them:
 * - the landing page, the OpenAPI document and Swagger UI are open, like the probes: test/api/landing.test.ts
 *   and test/api/openapi.test.ts;
 * - GET /metrics is scraped by Prometheus, guarded by METRICS_TOKEN when set: test/api/metrics.test.ts;
 * - the console's pages sign in with the API's token and then a cookie session; test/browser/console.test.ts
 *   refuses tokens of unknown tenants at sign-in and ends a session once its tenant is suspended.
 */
const notBearerApi = ['GET /', 'GET /api/openapi.json', 'GET /api/docs', 'GET /metrics', ...consoleRoutes];

/** A request to `route` with made-up IDs: authentication answers before any handler looks at them. */
function send(app: ReturnType<typeof createApp>, route: AppRoute, token: string) {
  const url = route.path.replace(/:(\w+)/g, (_match, name: string) => (name === 'slug' ? 'some-tenant' : randomUUID()));
  const call = request(app)[route.method.toLowerCase() as 'get' | 'post' | 'patch' | 'delete'](url);
  call.set('Authorization', `Bearer ${token}`);
  return route.method === 'GET' ? call : call.send({});
}

describe('tenants must exist and be ACTIVE', () => {
  // Development mode mounts the dev outbox too, so that every authenticated route is in the list.
  const stack = useApiStack({
    devOutbox: true,
    // An hour-long cache: anything seen within a test comes from invalidation, never from expiry.
    app: ({ prisma }) => ({ tenantStatus: createTenantStatusCache(prisma, { ttlMs: 3_600_000 }) }),
  });
  let config: Config;
  let prisma: PrismaClient;
  let app: ReturnType<typeof createApp>;
  let platformAdmin: string;

  beforeAll(async () => {
    ({ config, prisma, app } = stack);
    platformAdmin = await tokenFor(config, 'platform', 'platform-admin');
  });

  const authenticatedRoutes = () =>
    listRoutes(app).filter(
      (route) => !publicRoutes.includes(routeKey(route)) && !notBearerApi.includes(routeKey(route)),
    );

  async function tenantWithStatus(status: TenantStatus) {
    const tenant = await createTestTenant(prisma);
    return prisma.tenant.update({ where: { id: tenant.id }, data: { status } });
  }

  it('knows every public route it leaves out, and covers the routes that write', () => {
    const keys = listRoutes(app).map(routeKey);

    expect(keys).toEqual(expect.arrayContaining(publicRoutes));
    expect(keys).toEqual(expect.arrayContaining(notBearerApi));
    expect(authenticatedRoutes().map(routeKey)).toEqual(
      expect.arrayContaining([
        'POST /api/v1/slots',
        'POST /api/v1/retailers',
        'POST /api/v1/vendors',
        'POST /api/v1/orders',
        'PATCH /api/v1/tenant/settings',
        'GET /api/v1/dev/outbox',
        'POST /api/v1/tenants/:slug/suspend',
        'POST /api/v1/workflows/:workflowId/terminate',
        'POST /api/v1/dead-letter/:id/retry',
        'POST /api/v1/flows/:flow/pause',
        'POST /api/v1/schedules/:scheduleId/trigger',
      ]),
    );
  });

  describe('a token for a tenant that does not exist', () => {
    it('gets 401 TENANT_UNKNOWN on every authenticated route', async () => {
      const token = await tokenFor(config, `t-${randomUUID()}`, 'tenant-admin');
      const answers: string[] = [];

      for (const route of authenticatedRoutes()) {
        const response = await send(app, route, token);
        answers.push(`${routeKey(route)} → ${response.status} ${response.body.error?.code}`);
      }

      expect(answers.filter((answer) => !answer.endsWith('→ 401 TENANT_UNKNOWN'))).toEqual([]);
      expect(answers.length).toBe(authenticatedRoutes().length);
    });

    it('creates nothing with valid bodies on the routes that write', async () => {
      const tenantId = `t-${randomUUID()}`;
      const auth = `Bearer ${await tokenFor(config, tenantId, 'tenant-admin')}`;
      const item = { sku: 'APL-1', name: 'Apples', category: 'produce', quantity: 1, unitPrice: 250 };

      const responses = [
        await request(app).post('/api/v1/slots').set('Authorization', auth).send({ name: 'Dr. Lee, 9:00' }),
        await request(app)
          .post('/api/v1/retailers')
          .set('Authorization', auth)
          .send({ name: 'Corner Shop', channel: 'EMAIL', contact: 'orders@corner.test', creditLimit: 500 }),
        await request(app)
          .post('/api/v1/vendors')
          .set('Authorization', auth)
          .send({
            name: 'Fresh Farms',
            region: 'north',
            categories: ['produce'],
            capacity: 5,
            channel: 'EMAIL',
            contact: 'dispatch@fresh.test',
          }),
        await request(app)
          .post('/api/v1/orders')
          .set('Authorization', auth)
          .send({ retailerId: randomUUID(), items: [item], deliveryRegion: 'north' }),
        await request(app).patch('/api/v1/tenant/settings').set('Authorization', auth).send({ holdMinutes: 10 }),
      ];

      expect(responses.map((response) => `${response.status} ${response.body.error.code}`)).toEqual(
        Array<string>(5).fill('401 TENANT_UNKNOWN'),
      );
      expect(await prisma.auditLog.count({ where: { tenantId } })).toBe(0);
    });

    it.each([
      ['a NUL byte', 'tenant\u0000id'],
      ['an unpaired surrogate', 'tenant\ud800'],
      ['300 characters', 'x'.repeat(300)],
      ['SQL', "' OR '1'='1"],
      ['a well-formed UUID no tenant has', randomUUID()],
    ])('gets 401 TENANT_UNKNOWN, not 500, when its tenantId is %s', async (_name, tenantId) => {
      const auth = `Bearer ${await tokenFor(config, tenantId, 'tenant-admin')}`;

      const read = await request(app).get('/api/v1/tenant').set('Authorization', auth);
      const write = await request(app).post('/api/v1/slots').set('Authorization', auth).send({ name: 'x' });

      expect([read.status, read.body.error.code]).toEqual([401, 'TENANT_UNKNOWN']);
      expect([write.status, write.body.error.code]).toEqual([401, 'TENANT_UNKNOWN']);
    });
  });

  describe.each(['PENDING', 'FAILED', 'SUSPENDED'] as const)('a %s tenant', (status) => {
    it('gets 403 TENANT_INACTIVE on every authenticated route, whatever its role', async () => {
      const tenant = await tenantWithStatus(status);
      const admin = await tokenFor(config, tenant.id, 'tenant-admin');
      const member = await tokenFor(config, tenant.id, 'member');
      const answers: string[] = [];

      for (const route of authenticatedRoutes()) {
        for (const token of [admin, member]) {
          const response = await send(app, route, token);
          answers.push(`${routeKey(route)} → ${response.status} ${response.body.error?.code}`);
        }
      }

      expect(answers.filter((answer) => !answer.endsWith('→ 403 TENANT_INACTIVE'))).toEqual([]);
      expect(answers.length).toBe(authenticatedRoutes().length * 2);
    });

    it('still lets its admin read its own onboarding progress, and nothing else about onboardings', async () => {
      const slug = `own-${randomUUID().slice(0, 8)}`;
      const tenantId = tenantIdForSlug(slug);
      await prisma.tenant.create({ data: { id: tenantId, slug, name: 'Onboarding Co', status } });
      const admin = `Bearer ${await tokenFor(config, tenantId, 'tenant-admin')}`;
      const member = `Bearer ${await tokenFor(config, tenantId, 'member')}`;

      // No onboarding workflow runs for this slug here: 404 shows the request got past authentication.
      const own = await request(app).get(`/api/v1/tenants/${slug}/onboarding`).set('Authorization', admin);
      const byMember = await request(app).get(`/api/v1/tenants/${slug}/onboarding`).set('Authorization', member);
      const other = await request(app).get('/api/v1/tenants/someone-else/onboarding').set('Authorization', admin);
      const cancel = await request(app).post(`/api/v1/tenants/${slug}/onboarding/cancel`).set('Authorization', admin);

      expect([own.status, own.body.error.code]).toEqual([404, 'NOT_FOUND']);
      expect([byMember.status, byMember.body.error.code]).toEqual([403, 'FORBIDDEN']);
      expect([other.status, other.body.error.code]).toEqual([403, 'TENANT_INACTIVE']);
      expect([cancel.status, cancel.body.error.code]).toEqual([403, 'TENANT_INACTIVE']);
    });

    it('tells the caller which status keeps it out', async () => {
      const tenant = await tenantWithStatus(status);

      const response = await request(app)
        .get('/api/v1/me')
        .set('Authorization', `Bearer ${await tokenFor(config, tenant.id, 'operator')}`);

      expect(response.body).toEqual({
        error: { code: 'TENANT_INACTIVE', message: expect.stringContaining(status), details: { status } },
      });
    });
  });

  describe('the platform pseudo-tenant', () => {
    const platformRoutes = [
      'GET /api/v1/me',
      'POST /api/v1/tenants',
      'GET /api/v1/tenants/:slug/onboarding',
      'POST /api/v1/tenants/:slug/onboarding/approve',
      'POST /api/v1/tenants/:slug/onboarding/reject',
      'POST /api/v1/tenants/:slug/onboarding/cancel',
      'POST /api/v1/tenants/:slug/suspend',
      'POST /api/v1/tenants/:slug/reactivate',
      'POST /api/v1/tenants/:slug/erase',
      'GET /api/v1/dev/outbox',
      // The operations API: a platform admin names a tenant with ?tenantId=, or looks across all.
      'GET /api/v1/workflows',
      'GET /api/v1/workflows/:workflowId',
      'POST /api/v1/workflows/:workflowId/cancel',
      'POST /api/v1/workflows/:workflowId/terminate',
      'POST /api/v1/workflows/:workflowId/reset',
      'POST /api/v1/workflows/:workflowId/actions/:action',
      'GET /api/v1/stats',
      'GET /api/v1/dead-letter',
      'POST /api/v1/dead-letter/:id/retry',
      'POST /api/v1/dead-letter/:id/discard',
      'GET /api/v1/flows',
      'POST /api/v1/flows/:flow/pause',
      'POST /api/v1/flows/:flow/resume',
      'GET /api/v1/schedules',
      'POST /api/v1/schedules/:scheduleId/pause',
      'POST /api/v1/schedules/:scheduleId/unpause',
      'POST /api/v1/schedules/:scheduleId/trigger',
      // The codec server decodes every tenant's payloads for a platform admin.
      'POST /codec/encode',
      'POST /codec/decode',
    ];

    it('lets platform admins use the platform routes, and refuses them every route on one tenant’s data', async () => {
      const refused: string[] = [];
      const served: string[] = [];

      for (const route of authenticatedRoutes()) {
        const response = await send(app, route, platformAdmin);
        const answer = `${routeKey(route)} → ${response.status} ${response.body.error?.code}`;
        (platformRoutes.includes(routeKey(route)) ? served : refused).push(answer);
      }

      expect(refused.filter((answer) => !answer.endsWith('→ 403 TENANT_REQUIRED'))).toEqual([]);
      expect(refused.length).toBe(authenticatedRoutes().length - platformRoutes.length);
      // A flow's pause is one tenant's: those routes themselves answer 400 TENANT_REQUIRED until one is named.
      expect(served.filter((answer) => /403 TENANT_REQUIRED| 5\d\d /.test(answer))).toEqual([]);
      expect(served).toHaveLength(platformRoutes.length);
    });

    it('works with the platform-admin role', async () => {
      const response = await request(app).get('/api/v1/me').set('Authorization', `Bearer ${platformAdmin}`);

      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ tenantId: 'platform', roles: ['platform-admin'] });
    });

    it.each(['tenant-admin', 'operator', 'member'] as const)('is unknown to tokens with the %s role', async (role) => {
      const token = await tokenFor(config, 'platform', role);

      const response = await request(app).get('/api/v1/me').set('Authorization', `Bearer ${token}`);

      expect([response.status, response.body.error.code]).toEqual([401, 'TENANT_UNKNOWN']);
    });
  });

  describe('suspension and reactivation', () => {
    const change = (slug: string, verb: 'suspend' | 'reactivate', token = platformAdmin, body: unknown = {}) =>
      request(app)
        .post(`/api/v1/tenants/${slug}/${verb}`)
        .set('Authorization', `Bearer ${token}`)
        .send(body as object);

    it('a suspended tenant is refused from its very next request, and reactivation lets it back in', async () => {
      const tenant = await tenantWithStatus('ACTIVE');
      const operator = `Bearer ${await tokenFor(config, tenant.id, 'operator')}`;
      const before = await request(app).get('/api/v1/tenant').set('Authorization', operator);

      const suspended = await change(tenant.slug, 'suspend', platformAdmin, { reason: 'unpaid invoices' });
      const during = await request(app).get('/api/v1/tenant').set('Authorization', operator);
      const start = await request(app).post('/api/v1/slots').set('Authorization', operator).send({ name: 'New slot' });
      const reactivated = await change(tenant.slug, 'reactivate', platformAdmin, { reason: 'paid in full' });
      const after = await request(app).get('/api/v1/tenant').set('Authorization', operator);

      expect(before.status).toBe(200);
      expect(suspended.status).toBe(200);
      expect(suspended.body).toEqual({ tenantId: tenant.id, slug: tenant.slug, status: 'SUSPENDED' });
      expect([during.status, during.body.error.code]).toEqual([403, 'TENANT_INACTIVE']);
      expect([start.status, start.body.error.code]).toEqual([403, 'TENANT_INACTIVE']);
      expect(await prisma.slot.count({ where: { tenantId: tenant.id } })).toBe(0);
      expect(reactivated.body).toEqual({ tenantId: tenant.id, slug: tenant.slug, status: 'ACTIVE' });
      expect(after.status).toBe(200);
      expect(after.body.status).toBe('ACTIVE');
    });

    it('records who changed the status, and why, in the audit log', async () => {
      const tenant = await tenantWithStatus('ACTIVE');

      await change(tenant.slug, 'suspend', platformAdmin, { reason: '  chargeback fraud  ' });
      await change(tenant.slug, 'reactivate', platformAdmin, { reason: 'cleared by finance' });

      const rows = await prisma.auditLog.findMany({ where: { tenantId: tenant.id }, orderBy: { at: 'asc' } });
      expect(
        rows.map(({ actor, action, entityType, entityId, details }) => ({
          actor,
          action,
          entityType,
          entityId,
          details,
        })),
      ).toEqual([
        {
          actor: 'dev:platform-admin',
          action: 'tenant.suspended',
          entityType: 'Tenant',
          entityId: tenant.id,
          details: { reason: 'chargeback fraud', from: 'ACTIVE', to: 'SUSPENDED' },
        },
        {
          actor: 'dev:platform-admin',
          action: 'tenant.reactivated',
          entityType: 'Tenant',
          entityId: tenant.id,
          details: { reason: 'cleared by finance', from: 'SUSPENDED', to: 'ACTIVE' },
        },
      ]);
    });

    it('is for platform admins only', async () => {
      const tenant = await tenantWithStatus('ACTIVE');
      const tenantAdmin = await tokenFor(config, tenant.id, 'tenant-admin');
      const operator = await tokenFor(config, tenant.id, 'operator');

      const byAdmin = await change(tenant.slug, 'suspend', tenantAdmin, { reason: 'x' });
      const byOperator = await change(tenant.slug, 'reactivate', operator, { reason: 'x' });
      const anonymous = await request(app).post(`/api/v1/tenants/${tenant.slug}/suspend`).send({ reason: 'x' });

      expect([byAdmin.status, byAdmin.body.error.code]).toEqual([403, 'FORBIDDEN']);
      expect([byOperator.status, byOperator.body.error.code]).toEqual([403, 'FORBIDDEN']);
      expect(anonymous.status).toBe(401);
      expect((await prisma.tenant.findUniqueOrThrow({ where: { id: tenant.id } })).status).toBe('ACTIVE');
    });

    it.each([
      ['no body', undefined],
      ['no reason', {}],
      ['an empty reason', { reason: '' }],
      ['a blank reason', { reason: '   ' }],
      ['a reason with a NUL byte', { reason: 'late\u0000payment' }],
      ['a reason of 1001 characters', { reason: 'x'.repeat(1001) }],
      ['a reason that is not a string', { reason: 42 }],
      ['an unknown field', { reason: 'late payment', status: 'ACTIVE' }],
    ])('needs a reason: %s is 400', async (_name, body) => {
      const tenant = await tenantWithStatus('ACTIVE');

      const response = await change(tenant.slug, 'suspend', platformAdmin, body);

      expect([response.status, response.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
      expect((await prisma.tenant.findUniqueOrThrow({ where: { id: tenant.id } })).status).toBe('ACTIVE');
    });

    it('answers 404 for an unknown slug and 400 for a malformed one', async () => {
      const unknown = await change(`nobody-${randomUUID().slice(0, 8)}`, 'suspend', platformAdmin, { reason: 'x' });
      const malformed = await change('Not_A_Slug', 'reactivate', platformAdmin, { reason: 'x' });

      expect([unknown.status, unknown.body.error.code]).toEqual([404, 'NOT_FOUND']);
      expect(malformed.status).toBe(400);
    });

    it.each([
      ['suspend', 'PENDING', 'TENANT_NOT_ACTIVE'],
      ['suspend', 'FAILED', 'TENANT_NOT_ACTIVE'],
      ['suspend', 'SUSPENDED', 'TENANT_NOT_ACTIVE'],
      ['reactivate', 'ACTIVE', 'TENANT_NOT_SUSPENDED'],
      ['reactivate', 'PENDING', 'TENANT_NOT_SUSPENDED'],
      ['reactivate', 'FAILED', 'TENANT_NOT_SUSPENDED'],
    ] as const)('refuses to %s a tenant that is %s: 409 %s, and nothing is audited', async (verb, status, code) => {
      const tenant = await tenantWithStatus(status);

      const response = await change(tenant.slug, verb, platformAdmin, { reason: 'by mistake' });

      expect(response.status).toBe(409);
      expect(response.body.error).toMatchObject({ code, details: { slug: tenant.slug, status } });
      expect((await prisma.tenant.findUniqueOrThrow({ where: { id: tenant.id } })).status).toBe(status);
      expect(await prisma.auditLog.count({ where: { tenantId: tenant.id } })).toBe(0);
    });
  });
});
