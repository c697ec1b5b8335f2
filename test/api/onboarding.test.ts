import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { encodeErrorToFailure } from '@temporalio/common/lib/internal-non-workflow';
import { hashInvitationToken } from '../../domain/invitation-token';
import { tenantIdForSlug } from '../../domain/tenants';
import type { Config } from '../../lib/config';
import type { PrismaClient } from '../../lib/db';
import { tenantOnboardingId } from '../../workflows/tenant-onboarding.contract';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from '../../workflows/search-attributes';
import {
  approveOnboardingUpdate,
  getOnboardingProgressQuery,
  rejectOnboardingUpdate,
  tenantOnboardingWorkflow,
  type OnboardingProgress,
} from '../../workflows/tenant-onboarding';
import { useApiStack, type ApiStack } from '../support/api-stack';
import { createTestTenant, tokenFor } from '../support/stack';

/**
 * A Temporal client double: records what the routes ask of it and answers as scripted, with the
 * real client's options (its namespace and data converter, whose codec decrypts what it describes).
 */
function fakeTemporal(options: Client['options']) {
  const handle = {
    describe: jest.fn(),
    query: jest.fn(),
    executeUpdate: jest.fn(),
    cancel: jest.fn().mockResolvedValue(undefined),
  };
  const start = jest.fn().mockResolvedValue({ firstExecutionRunId: 'run-1' });
  const getHandle = jest.fn().mockReturnValue(handle);
  const client = { workflow: { start, getHandle }, options } as unknown as Client;
  return { client, start, getHandle, handle };
}

const running = (pendingActivities: unknown[] = []) => ({
  workflowId: 'tenant-onboarding:x',
  runId: 'run-1',
  status: { name: 'RUNNING' },
  raw: { pendingActivities },
});

describe('onboarding API', () => {
  const stack = useApiStack();
  let config: Config;
  let prisma: PrismaClient;
  let temporal: ReturnType<typeof fakeTemporal>;
  let app: ApiStack['app'];
  let platformAdmin: string;
  let tenantAdmin: string;
  let ownTenantId: string;

  const slug = () => `acme-${randomUUID().slice(0, 8)}`;
  const body = (overrides: Record<string, unknown> = {}) => ({
    organizationName: 'Acme Clinics',
    slug: slug(),
    adminEmail: 'ada@acme.test',
    adminName: 'Ada Admin',
    tier: 'professional',
    ...overrides,
  });
  const post = (path: string, token: string, payload?: object) =>
    request(app).post(path).set('Authorization', `Bearer ${token}`).send(payload);
  const get = (path: string, token: string) => request(app).get(path).set('Authorization', `Bearer ${token}`);

  beforeAll(async () => {
    ({ config, prisma } = stack);
    const own = stack.tenant;
    ownTenantId = own.id;
    platformAdmin = await tokenFor(config, 'platform', 'platform-admin');
    tenantAdmin = await tokenFor(config, own.id, 'tenant-admin');
  });

  beforeEach(() => {
    temporal = fakeTemporal(stack.client.options);
    app = stack.appWith({ temporal: temporal.client });
  });

  describe('POST /api/v1/tenants', () => {
    it('starts the onboarding with the exact options: ID from the slug, USE_EXISTING while it runs, ALLOW_DUPLICATE once closed', async () => {
      const payload = body();

      const response = await post('/api/v1/tenants', platformAdmin, payload);

      const tenantId = tenantIdForSlug(payload.slug);
      const workflowId = tenantOnboardingId(payload.slug);
      expect(response.status).toBe(202);
      expect(response.headers.location).toBe(`/api/v1/tenants/${payload.slug}/onboarding`);
      expect(response.body).toEqual({ workflowId, runId: 'run-1', tenantId, slug: payload.slug });
      expect(temporal.start).toHaveBeenCalledWith(tenantOnboardingWorkflow, {
        taskQueue: config.temporal.taskQueue,
        workflowId,
        args: [{ tenantId, ...payload, requestedBy: 'dev:platform-admin' }],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        // High priority, fair by tenant at the weight of the plan being bought (docs/queues.md).
        priority: { priorityKey: 2, fairnessKey: tenantId, fairnessWeight: 2 },
        // What the Web UI lists it by: the slug and the plan, never the organization or the admin.
        staticSummary: `Onboarding ${payload.slug} (professional)`,
        staticDetails: expect.stringContaining(`**Slug:** ${payload.slug}`),
        typedSearchAttributes: [
          { key: TenantIdKey, value: tenantId },
          { key: BusinessKeyKey, value: payload.slug },
          { key: FlowStatusKey, value: 'PROVISIONING' },
        ],
      });
    });

    it('derives the slug from the organization name when none is given', async () => {
      const response = await post(
        '/api/v1/tenants',
        platformAdmin,
        body({ slug: undefined, organizationName: 'Café Zürich & Co.' }),
      );

      expect(response.status).toBe(202);
      expect(response.body.slug).toBe('cafe-zurich-co');
      expect(response.body.tenantId).toBe(tenantIdForSlug('cafe-zurich-co'));
    });

    it('answers a repeated request for the same slug with the same workflow and tenant', async () => {
      const payload = body();

      const first = await post('/api/v1/tenants', platformAdmin, payload);
      const second = await post('/api/v1/tenants', platformAdmin, payload);

      expect(second.status).toBe(202);
      expect(second.body).toEqual(first.body);
    });

    it('starts a new onboarding for the slug of a tenant whose onboarding failed', async () => {
      const payload = body();
      await prisma.tenant.create({
        data: { id: tenantIdForSlug(payload.slug), slug: payload.slug, name: 'Acme', status: 'FAILED' },
      });

      const response = await post('/api/v1/tenants', platformAdmin, payload);

      expect(response.status).toBe(202);
      expect(temporal.start).toHaveBeenCalledTimes(1);
    });

    it('refuses with 409 TENANT_EXISTS a slug whose tenant is active, or that another tenant holds', async () => {
      const active = body();
      await prisma.tenant.create({
        data: { id: tenantIdForSlug(active.slug), slug: active.slug, name: 'Acme', status: 'ACTIVE' },
      });
      const other = await createTestTenant(prisma);
      await prisma.tenant.update({ where: { id: other.id }, data: { status: 'PENDING' } });

      const responses = [
        await post('/api/v1/tenants', platformAdmin, active),
        await post('/api/v1/tenants', platformAdmin, body({ slug: other.slug })),
      ];

      for (const response of responses) {
        expect(response.status).toBe(409);
        expect(response.body.error.code).toBe('TENANT_EXISTS');
      }
      expect(temporal.start).not.toHaveBeenCalled();
    });

    it.each([
      ['no admin email', { adminEmail: undefined }, 'adminEmail'],
      ['an invalid email', { adminEmail: 'not-an-email' }, 'adminEmail'],
      ['an unknown tier', { tier: 'platinum' }, 'tier'],
      ['a slug with capitals and spaces', { slug: 'Acme Clinics' }, 'slug'],
      ['a reserved slug', { slug: 'admin' }, 'slug'],
      ['a name no slug can be made from', { slug: undefined, organizationName: '!!' }, 'slug'],
      ['an unknown field', { plan: 'gold' }, ''],
    ])('rejects %s with 400', async (_case, overrides, path) => {
      const response = await post('/api/v1/tenants', platformAdmin, body(overrides));

      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
      expect(response.body.error.details).toContainEqual(expect.objectContaining({ path }));
      expect(temporal.start).not.toHaveBeenCalled();
    });

    it('answers 401 without a token and 403 to anyone but a platform admin', async () => {
      const anonymous = await request(app).post('/api/v1/tenants').send(body());
      const forbidden = await post('/api/v1/tenants', tenantAdmin, body());

      expect(anonymous.status).toBe(401);
      expect(forbidden.status).toBe(403);
      expect(forbidden.body.error.code).toBe('FORBIDDEN');
      expect(temporal.start).not.toHaveBeenCalled();
    });
  });

  describe('GET /api/v1/tenants/:slug/onboarding', () => {
    const progress = (overrides: Partial<OnboardingProgress> = {}): OnboardingProgress => ({
      tenantId: 't',
      slug: 's',
      organizationName: 'Acme',
      tier: 'free',
      status: 'PROVISIONING',
      steps: [
        {
          name: 'createBillingCustomer',
          status: 'running',
          attempts: null,
          lastError: null,
          startedAt: '2026-11-25T00:00:00.000Z',
          finishedAt: null,
          compensation: null,
        },
      ],
      approval: null,
      failure: null,
      startedAt: '2026-11-25T00:00:00.000Z',
      finishedAt: null,
      ...overrides,
    });

    it('serves the progress query, with the live attempt count and last error of a step still retrying', async () => {
      // The server describes the step's last failure as stored: its message encrypted, "Encoded failure" in clear.
      const converter = stack.client.options.loadedDataConverter;
      const context = {
        type: 'workflow' as const,
        namespace: 'default',
        workflowId: tenantOnboardingId('acme-clinics'),
      };
      const lastFailure = await encodeErrorToFailure(converter, new Error('answered 503'), context);
      expect(lastFailure.message).toBe('Encoded failure');
      temporal.handle.describe.mockResolvedValue(
        running([{ activityType: { name: 'createBillingCustomer' }, attempt: 3, lastFailure }]),
      );
      temporal.handle.query.mockResolvedValue(progress());

      const response = await get('/api/v1/tenants/acme-clinics/onboarding', platformAdmin);

      expect(response.status).toBe(200);
      expect(temporal.getHandle).toHaveBeenCalledWith('tenant-onboarding:acme-clinics');
      expect(temporal.handle.query).toHaveBeenCalledWith(getOnboardingProgressQuery);
      expect(response.body).toMatchObject({ execution: 'RUNNING', status: 'PROVISIONING' });
      expect(response.body.steps[0]).toMatchObject({ status: 'running', attempts: 3, lastError: 'answered 503' });
    });

    it('lets the tenant-admin of the tenant being onboarded read it; another tenant finds nothing, a member is refused', async () => {
      temporal.handle.describe.mockResolvedValue(running());
      temporal.handle.query.mockResolvedValue(progress());
      const ownSlug = (await prisma.tenant.findUniqueOrThrow({ where: { id: ownTenantId } })).slug;
      const ownAdmin = await tokenFor(config, tenantIdForSlug('acme-clinics'), 'tenant-admin');
      const member = await tokenFor(config, tenantIdForSlug('acme-clinics'), 'member');

      const own = await get('/api/v1/tenants/acme-clinics/onboarding', ownAdmin);
      const otherTenant = await get('/api/v1/tenants/acme-clinics/onboarding', tenantAdmin);
      const notAdmin = await get('/api/v1/tenants/acme-clinics/onboarding', member);
      const anonymous = await request(app).get(`/api/v1/tenants/${ownSlug}/onboarding`);

      expect(own.status).toBe(200);
      expect(otherTenant.status).toBe(404);
      expect(notAdmin.status).toBe(403);
      expect(anonymous.status).toBe(401);
    });

    it('answers 404 for a slug that never had an onboarding, and 400 for a malformed slug', async () => {
      temporal.handle.describe.mockRejectedValue(
        new WorkflowNotFoundError('not found', 'tenant-onboarding:nobody', undefined),
      );

      const missing = await get('/api/v1/tenants/nobody/onboarding', platformAdmin);
      const malformed = await get('/api/v1/tenants/Not_A_Slug/onboarding', platformAdmin);

      expect(missing.status).toBe(404);
      expect(malformed.status).toBe(400);
    });
  });

  describe('approval, rejection and cancellation', () => {
    it('approves through the approveOnboarding Update, as the calling platform admin', async () => {
      temporal.handle.executeUpdate.mockResolvedValue({ decision: 'approved', decidedAt: '2026-11-25T00:00:00.000Z' });

      const response = await post('/api/v1/tenants/acme-clinics/onboarding/approve', platformAdmin, { note: 'signed' });

      expect(response.status).toBe(200);
      expect(response.body.decision).toBe('approved');
      expect(temporal.handle.executeUpdate).toHaveBeenCalledWith(approveOnboardingUpdate, {
        args: [{ actor: 'dev:platform-admin', note: 'signed' }],
      });
    });

    it('rejects through the rejectOnboarding Update, and needs a reason (400 without one)', async () => {
      temporal.handle.executeUpdate.mockResolvedValue({ decision: 'rejected', decidedAt: '2026-11-25T00:00:00.000Z' });

      const rejected = await post('/api/v1/tenants/acme-clinics/onboarding/reject', platformAdmin, { reason: 'fraud' });
      const noReason = await post('/api/v1/tenants/acme-clinics/onboarding/reject', platformAdmin, {});

      expect(rejected.status).toBe(200);
      expect(temporal.handle.executeUpdate).toHaveBeenCalledWith(rejectOnboardingUpdate, {
        args: [{ actor: 'dev:platform-admin', reason: 'fraud' }],
      });
      expect(noReason.status).toBe(400);
    });

    it('answers 409 NOT_AWAITING_APPROVAL when the workflow refuses the decision', async () => {
      temporal.handle.executeUpdate.mockRejectedValue(
        new WorkflowUpdateFailedError(
          'refused',
          ApplicationFailure.create({
            type: 'NOT_AWAITING_APPROVAL',
            message: 'This onboarding is not waiting for approval',
          }),
        ),
      );

      const response = await post('/api/v1/tenants/acme-clinics/onboarding/approve', platformAdmin);

      expect(response.status).toBe(409);
      expect(response.body.error.code).toBe('NOT_AWAITING_APPROVAL');
    });

    it('answers 409 ONBOARDING_CLOSED for a decision on a finished onboarding', async () => {
      temporal.handle.executeUpdate.mockRejectedValue(
        new WorkflowNotFoundError('closed', 'tenant-onboarding:acme', undefined),
      );
      temporal.handle.describe.mockResolvedValue({ ...running(), status: { name: 'FAILED' } });

      const response = await post('/api/v1/tenants/acme-clinics/onboarding/approve', platformAdmin);

      expect(response.status).toBe(409);
      expect(response.body.error).toMatchObject({ code: 'ONBOARDING_CLOSED', details: { status: 'FAILED' } });
    });

    it('cancels a running onboarding (202) and audits who asked', async () => {
      const target = slug();
      const tenantId = tenantIdForSlug(target);
      await prisma.tenant.create({ data: { id: tenantId, slug: target, name: 'Acme', status: 'PENDING' } });
      temporal.handle.describe.mockResolvedValue(running());

      const response = await post(`/api/v1/tenants/${target}/onboarding/cancel`, platformAdmin);

      expect(response.status).toBe(202);
      expect(response.body).toMatchObject({ workflowId: tenantOnboardingId(target), status: 'cancelling' });
      expect(temporal.handle.cancel).toHaveBeenCalledTimes(1);
      expect(await prisma.auditLog.findMany({ where: { tenantId } })).toEqual([
        expect.objectContaining({ action: 'tenant.onboarding.cancel-requested', actor: 'dev:platform-admin' }),
      ]);
    });

    it('answers 409 ONBOARDING_CLOSED when cancelling a finished onboarding', async () => {
      temporal.handle.describe.mockResolvedValue({ ...running(), status: { name: 'COMPLETED' } });

      const response = await post('/api/v1/tenants/acme-clinics/onboarding/cancel', platformAdmin);

      expect(response.status).toBe(409);
      expect(response.body.error.code).toBe('ONBOARDING_CLOSED');
      expect(temporal.handle.cancel).not.toHaveBeenCalled();
    });

    it('keeps approval, rejection and cancellation to platform admins (403)', async () => {
      for (const action of ['approve', 'reject', 'cancel']) {
        const response = await post(`/api/v1/tenants/acme-clinics/onboarding/${action}`, tenantAdmin, { reason: 'x' });
        expect(response.status).toBe(403);
      }
      expect(temporal.handle.executeUpdate).not.toHaveBeenCalled();
      expect(temporal.handle.cancel).not.toHaveBeenCalled();
    });
  });

  describe('invitations', () => {
    const DAY_MS = 24 * 60 * 60 * 1000;

    /** An invited user of a tenant in the given state, and the raw token of their invitation. */
    async function invitation(tenantStatus: 'ACTIVE' | 'PENDING' = 'ACTIVE', expiresInMs = DAY_MS) {
      const tenantSlug = slug();
      const token = `token-${randomUUID()}`;
      const tenant = await prisma.tenant.create({
        data: { id: tenantIdForSlug(tenantSlug), slug: tenantSlug, name: 'Acme', status: tenantStatus },
      });
      const user = await prisma.user.create({
        data: {
          tenantId: tenant.id,
          email: `ada@${tenantSlug}.test`,
          name: 'Ada',
          role: 'tenant-admin',
          invitationTokenHash: hashInvitationToken(token),
          invitationExpiresAt: new Date(Date.now() + expiresInMs),
        },
      });
      return { token, user };
    }

    it('the link opens a page that offers to accept and changes nothing (mail scanners prefetch links)', async () => {
      const { token, user } = await invitation();

      const response = await request(app).get('/api/v1/invitations/accept').query({ token });

      expect(response.status).toBe(200);
      expect(response.type).toBe('text/html');
      expect(response.text).toContain('<form method="post" action="/api/v1/invitations/accept">');
      expect(await prisma.user.findUniqueOrThrow({ where: { id: user.id } })).toMatchObject({ status: 'INVITED' });
    });

    it('accepting makes the user ACTIVE, audits it, and the token then stops working', async () => {
      const { token, user } = await invitation();

      const accepted = await request(app).post('/api/v1/invitations/accept').send({ token });
      const reused = await request(app).post('/api/v1/invitations/accept').send({ token });

      expect(accepted.status).toBe(200);
      expect(accepted.body).toEqual({
        userId: user.id,
        tenantId: user.tenantId,
        email: user.email,
        role: 'tenant-admin',
        status: 'ACTIVE',
      });
      expect(await prisma.user.findUniqueOrThrow({ where: { id: user.id } })).toMatchObject({
        status: 'ACTIVE',
        invitationTokenHash: null,
      });
      expect(await prisma.auditLog.count({ where: { entityId: user.id, action: 'user.invitation-accepted' } })).toBe(1);
      expect(reused.status).toBe(404);
      expect(reused.body.error.code).toBe('INVITATION_NOT_FOUND');
    });

    it('refuses an expired invitation, one to a tenant still onboarding, an unknown token (404) and a missing one (400)', async () => {
      const expired = await invitation('ACTIVE', -1000);
      const pending = await invitation('PENDING');

      const responses = await Promise.all([
        request(app).post('/api/v1/invitations/accept').send({ token: expired.token }),
        request(app).post('/api/v1/invitations/accept').send({ token: pending.token }),
        request(app)
          .post('/api/v1/invitations/accept')
          .send({ token: `token-${randomUUID()}` }),
        request(app).post('/api/v1/invitations/accept').send({}),
      ]);

      expect(responses.map((r) => [r.status, (r.body as { error: { code: string } }).error.code])).toEqual([
        [409, 'INVITATION_EXPIRED'],
        [409, 'TENANT_NOT_ACTIVE'],
        [404, 'INVITATION_NOT_FOUND'],
        [400, 'VALIDATION_FAILED'],
      ]);
    });
  });
});
