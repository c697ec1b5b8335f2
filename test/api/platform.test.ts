import { SignJWT } from 'jose';
import request from 'supertest';
import type { Config } from '../../lib/config';
import type { PrismaClient } from '../../lib/db';
import { useApiStack, type ApiStack } from '../support/api-stack';
import { tokenFor } from '../support/stack';

describe('API platform: health, auth and errors', () => {
  const stack = useApiStack();
  let config: Config;
  let prisma: PrismaClient;
  let app: ApiStack['app'];
  let tenantId: string;

  beforeAll(() => {
    ({ config, prisma, app } = stack);
    tenantId = stack.tenant.id;
  });

  const signWith = (secret: string, claims: Record<string, unknown>, expires = '5m') =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('someone')
      .setIssuer(config.auth.issuer)
      .setAudience(config.auth.audience)
      .setExpirationTime(expires)
      .sign(new TextEncoder().encode(secret));

  it('reports liveness on /healthz', async () => {
    const response = await request(app).get('/healthz');

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'ok' });
  });

  it('reports ready when Temporal and the database answer', async () => {
    const response = await request(app).get('/readyz');

    expect(response.status).toBe(200);
    expect(response.body.checks).toEqual({ temporal: 'ok', database: 'ok' });
  });

  it('answers 503 with the reason when a dependency is unreachable', async () => {
    const broken = stack.appWith({
      readinessProbes: [
        {
          name: 'temporal',
          check: () => Promise.reject(new Error('connection refused')),
        },
      ],
    });

    const response = await request(broken).get('/readyz');

    expect(response.status).toBe(503);
    expect(response.body.error).toMatchObject({ code: 'NOT_READY', details: { temporal: 'connection refused' } });
  });

  it('echoes the caller’s X-Request-Id, or makes one', async () => {
    const echoed = await request(app).get('/healthz').set('X-Request-Id', 'trace-123');
    const generated = await request(app).get('/healthz');

    expect(echoed.headers['x-request-id']).toBe('trace-123');
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('rejects /api/v1 without a token with a 401 JSON error', async () => {
    const response = await request(app).get('/api/v1/me');

    expect(response.status).toBe(401);
    expect(response.body).toEqual({
      error: { code: 'UNAUTHORIZED', message: 'A bearer token is required', details: null },
    });
  });

  it('rejects tokens signed with another secret, for another audience, expired, or without claims', async () => {
    const claims = { tenantId, roles: ['member'] };
    const forged = await signWith('another-secret-of-at-least-thirty-two-chars', claims);
    const wrongAudience = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('someone')
      .setIssuer(config.auth.issuer)
      .setAudience('someone-else')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(config.auth.jwtSecret));
    const expired = await signWith(config.auth.jwtSecret!, claims, '-1m');
    const noTenant = await signWith(config.auth.jwtSecret!, { roles: ['member'] });

    for (const token of [forged, wrongAudience, expired, noTenant, 'not-a-jwt']) {
      const response = await request(app).get('/api/v1/me').set('Authorization', `Bearer ${token}`);
      expect(response.status).toBe(401);
      expect(response.body.error.code).toBe('UNAUTHORIZED');
    }
  });

  it('rejects an unsigned (alg: none) token', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(
      JSON.stringify({
        sub: 'x',
        tenantId,
        roles: ['platform-admin'],
        iss: config.auth.issuer,
        aud: config.auth.audience,
        exp: Math.floor(Date.now() / 1000) + 60,
      }),
    ).toString('base64url');

    const response = await request(app).get('/api/v1/me').set('Authorization', `Bearer ${header}.${payload}.`);

    expect(response.status).toBe(401);
  });

  it('takes the tenant from the token', async () => {
    const token = await tokenFor(config, tenantId, 'operator');

    const response = await request(app).get('/api/v1/me').set('Authorization', `Bearer ${token}`);

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ tenantId, roles: ['operator'] });
  });

  it('answers 403 when the role is too weak', async () => {
    const token = await tokenFor(config, tenantId, 'member');

    const response = await request(app)
      .patch('/api/v1/tenant/settings')
      .set('Authorization', `Bearer ${token}`)
      .send({ holdMinutes: 20 });

    expect(response.status).toBe(403);
    expect(response.body.error).toMatchObject({ code: 'FORBIDDEN', details: { required: 'tenant-admin' } });
  });

  it('lets a tenant admin change the tenant settings, and audits it', async () => {
    const token = await tokenFor(config, tenantId, 'tenant-admin');

    const response = await request(app)
      .patch('/api/v1/tenant/settings')
      .set('Authorization', `Bearer ${token}`)
      .send({ holdMinutes: 20, retentionDays: 45 });

    expect(response.status).toBe(200);
    expect(response.body.settings).toMatchObject({ holdMinutes: 20, retentionDays: 45 });
    const audit = await prisma.auditLog.findMany({ where: { tenantId, action: 'tenant.settings.updated' } });
    expect(audit).toHaveLength(1);
  });

  it('lets a tenant admin set its webhook retry profile and default locale, within bounds', async () => {
    const token = await tokenFor(config, tenantId, 'tenant-admin');
    const settings = { webhookMaxAttempts: 8, webhookRetryInitialSeconds: 30, webhookFailureThreshold: 3 };

    const changed = await request(app)
      .patch('/api/v1/tenant/settings')
      .set('Authorization', `Bearer ${token}`)
      .send({ ...settings, defaultLocale: 'pt-BR' });
    const outOfBounds = await request(app)
      .patch('/api/v1/tenant/settings')
      .set('Authorization', `Bearer ${token}`)
      .send({ webhookMaxAttempts: 0, defaultLocale: 'english' });

    expect(changed.status).toBe(200);
    expect(changed.body.settings).toMatchObject({ ...settings, defaultLocale: 'pt-BR' });
    expect(await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId } })).toMatchObject(settings);
    expect(outOfBounds.status).toBe(400);
    const details = outOfBounds.body.error.details as { path: string }[];
    expect(details.map((issue) => issue.path).sort()).toEqual(['defaultLocale', 'webhookMaxAttempts']);
  });

  it('answers 400 with the field-level details for invalid input', async () => {
    const token = await tokenFor(config, tenantId, 'tenant-admin');

    const response = await request(app)
      .patch('/api/v1/tenant/settings')
      .set('Authorization', `Bearer ${token}`)
      .send({ holdMinutes: -5, surprise: true });

    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('VALIDATION_FAILED');
    expect(response.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: '' })]));
  });

  it('answers 400 for malformed JSON and 413 for an oversized body, never 500', async () => {
    const token = await tokenFor(config, tenantId, 'tenant-admin');

    const malformed = await request(app)
      .patch('/api/v1/tenant/settings')
      .set('Authorization', `Bearer ${token}`)
      .set('Content-Type', 'application/json')
      .send('{"holdMinutes": ');
    const oversized = await request(app)
      .patch('/api/v1/tenant/settings')
      .set('Authorization', `Bearer ${token}`)
      .send({ padding: 'x'.repeat(200 * 1024) });

    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('MALFORMED_JSON');
    expect(oversized.status).toBe(413);
    expect(oversized.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('answers 404 JSON for unknown routes, and 401 TENANT_UNKNOWN to a token whose tenant does not exist', async () => {
    const member = await tokenFor(config, tenantId, 'member');
    const unknownTenant = await tokenFor(config, 'no-such-tenant', 'member');

    const route = await request(app).get('/api/v1/nothing-here').set('Authorization', `Bearer ${member}`);
    const tenant = await request(app).get('/api/v1/tenant').set('Authorization', `Bearer ${unknownTenant}`);

    expect(route.status).toBe(404);
    expect(route.body.error.code).toBe('ROUTE_NOT_FOUND');
    expect(tenant.status).toBe(401);
    expect(tenant.body.error.code).toBe('TENANT_UNKNOWN');
  });
});
