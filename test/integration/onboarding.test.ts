import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import request from 'supertest';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { hashInvitationToken } from '../../domain/invitation-token';
import { readOutbox, type OutboxMessage } from '../../domain/outbox';
import type { Config } from '../../lib/config';
import type { PrismaClient } from '../../lib/db';
import { startBillingSandbox, type BillingSandboxHandle } from '../../scripts/stack/billing-sandbox';
import { FailureType } from '../../workflows/errors';
import type { tenantOnboardingWorkflow } from '../../workflows/tenant-onboarding';
import { eventually } from '../support/eventually';
import { useApiStack, type ApiStack } from '../support/api-stack';
import { tokenFor } from '../support/stack';

const PLATFORM_ADMIN_EMAIL = 'ops@holdfast.test';

/**
 * The whole onboarding on the real stack: the API starts it, a real worker runs it against
 * PostgreSQL, the billing sandbox over HTTP and a local SMTP server.
 */
describe('tenant onboarding on the real stack (API + worker + PostgreSQL + billing sandbox + SMTP)', () => {
  let sandbox: BillingSandboxHandle;
  const stack = useApiStack({
    worker: true,
    mail: 'smtp',
    config: async () => {
      sandbox = await startBillingSandbox({ apiKey: 'sk_test_integration' });
      return {
        BILLING_API_URL: sandbox.url,
        BILLING_API_KEY: 'sk_test_integration',
        // Short, so the lost-answer test's first attempt gives up quickly.
        BILLING_TIMEOUT: '1 second',
        PLATFORM_ADMIN_EMAIL,
      };
    },
    stop: () => sandbox.stop(),
  });
  let outboxFile: string;
  let config: Config;
  let prisma: PrismaClient;
  let client: Client;
  let app: ApiStack['app'];
  let platformAdmin: string;

  beforeAll(async () => {
    ({ outboxFile, config, prisma, client, app } = stack);
    platformAdmin = await tokenFor(config, 'platform', 'platform-admin');
  });

  afterEach(() => sandbox.clearFaults());

  const slug = () => `clinic-${randomUUID().slice(0, 8)}`;
  const onboard = (payload: Record<string, unknown>) =>
    request(app).post('/api/v1/tenants').set('Authorization', `Bearer ${platformAdmin}`).send(payload);
  const resultOf = (workflowId: string) =>
    client.workflow.getHandle<typeof tenantOnboardingWorkflow>(workflowId).result();
  const progressOf = async (tenantSlug: string) =>
    (await request(app).get(`/api/v1/tenants/${tenantSlug}/onboarding`).set('Authorization', `Bearer ${platformAdmin}`))
      .body as { status: string; steps: Array<{ name: string; status: string; attempts: number | null }> };
  const mailTo = (address: string): OutboxMessage[] => readOutbox(fs.readFileSync(outboxFile, 'utf8'), { to: address });
  const customersOf = (tenantId: string) => sandbox.customers().filter((c) => c.metadata.tenant_id === tenantId);
  const failureOf = async (workflowId: string) => {
    const error = await resultOf(workflowId).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    return (error as WorkflowFailedError).cause as ApplicationFailure;
  };

  it('onboards a tenant end to end: ACTIVE, one billing customer, one welcome mail, and its admin can use the API at once', async () => {
    const tenantSlug = slug();
    const adminEmail = `ada@${tenantSlug}.test`;

    const started = await onboard({
      organizationName: 'Ada Clinics',
      slug: tenantSlug,
      adminEmail,
      adminName: 'Ada Admin',
      tier: 'professional',
    });
    const result = await resultOf(started.body.workflowId);

    const { tenantId } = started.body;
    expect(started.status).toBe(202);
    expect(result).toMatchObject({ tenantId, status: 'ACTIVE' });
    const tenant = await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId } });
    expect(tenant).toMatchObject({
      slug: tenantSlug,
      status: 'ACTIVE',
      tier: 'professional',
      holdMinutes: 30,
      retentionDays: 90,
      adminEmail,
      billingCustomerId: result.billingCustomerId,
      subscriptionId: result.subscriptionId,
    });
    expect(customersOf(tenantId)).toEqual([expect.objectContaining({ id: result.billingCustomerId, deleted: false })]);
    expect(sandbox.subscriptions().filter((s) => s.customer === result.billingCustomerId)).toEqual([
      expect.objectContaining({ id: result.subscriptionId, status: 'active', price: 'price_holdfast_professional' }),
    ]);

    const welcome = mailTo(adminEmail);
    expect(welcome).toHaveLength(1);
    expect(welcome[0]!.subject).toBe('Welcome to Holdfast, Ada Clinics');
    const token = new URL(welcome[0]!.links[0]!).searchParams.get('token')!;
    const admin = await prisma.user.findFirstOrThrow({ where: { tenantId } });
    expect(admin).toMatchObject({ email: adminEmail, role: 'tenant-admin', status: 'INVITED' });
    expect(admin.invitationTokenHash).toBe(hashInvitationToken(token));
    const accepted = await request(app).post('/api/v1/invitations/accept').send({ token });
    expect(accepted.status).toBe(200);
    expect(await prisma.user.findUniqueOrThrow({ where: { id: admin.id } })).toMatchObject({ status: 'ACTIVE' });

    expect(await prisma.outboxEvent.findMany({ where: { tenantId } })).toEqual([
      expect.objectContaining({
        type: 'tenant.activated',
        eventKey: expect.stringMatching(/^tenant.activated:/),
        subjectType: 'tenant',
        subjectId: tenantId,
        source: 'FLOW',
        payload: expect.objectContaining({ slug: tenantSlug }),
      }),
    ]);
    // The activation step started the event's fan-out after its commit, which marks the event published.
    await eventually(async () => (await prisma.outboxEvent.findFirst({ where: { tenantId } }))?.publishedAt);
    const actions = (await prisma.auditLog.findMany({ where: { tenantId }, orderBy: { at: 'asc' } })).map(
      (a) => a.action,
    );
    expect(actions).toEqual([
      'tenant.onboarding.started',
      'user.invited',
      'billing.customer.created',
      'billing.subscription.created',
      'tenant.defaults.provisioned',
      'user.welcome-sent',
      'tenant.activated',
      'user.invitation-accepted',
    ]);
    expect(await prisma.tenantNotificationTemplate.count({ where: { tenantId, channel: 'SMS' } })).toBeGreaterThan(0);

    const progress = await progressOf(tenantSlug);
    expect(progress.status).toBe('ACTIVE');
    expect(progress.steps.every((step) => step.status === 'done')).toBe(true);

    const tenantToken = await tokenFor(config, tenantId, 'tenant-admin');
    const me = await request(app).get('/api/v1/tenant').set('Authorization', `Bearer ${tenantToken}`);
    const slot = await request(app)
      .post('/api/v1/slots')
      .set('Authorization', `Bearer ${tenantToken}`)
      .send({ name: 'Dr. Who, Monday 9:00' });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: tenantId, status: 'ACTIVE', settings: { holdMinutes: 30 } });
    expect(slot.status).toBe(201);

    const again = await onboard({
      organizationName: 'Ada Clinics',
      slug: tenantSlug,
      adminEmail,
      adminName: 'Ada',
      tier: 'free',
    });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('TENANT_EXISTS');
  });

  it('a declined card fails the onboarding: the tenant is FAILED, no billing customer is left, the platform admin is told', async () => {
    const tenantSlug = slug();
    const adminEmail = `bob@${tenantSlug}.test`;
    sandbox.inject({ method: 'POST', path: '/v1/subscriptions', fault: { type: 'card_declined' } });

    const started = await onboard({
      organizationName: 'Bob Dental',
      slug: tenantSlug,
      adminEmail,
      adminName: 'Bob',
      tier: 'free',
    });
    const failure = await failureOf(started.body.workflowId);

    const { tenantId } = started.body;
    expect(failure.type).toBe(FailureType.OnboardingFailed);
    const tenant = await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId } });
    expect(tenant.status).toBe('FAILED');
    expect(tenant.failureReason).toMatch(/^createBillingSubscription failed: .*Your card was declined/);
    expect(tenant).toMatchObject({ billingCustomerId: null, subscriptionId: null });
    expect(customersOf(tenantId).length).toBeGreaterThan(0);
    expect(customersOf(tenantId).filter((customer) => !customer.deleted)).toEqual([]);
    expect(await prisma.user.findFirstOrThrow({ where: { tenantId } })).toMatchObject({
      status: 'DISABLED',
      invitationTokenHash: null,
    });
    expect(mailTo(adminEmail)).toEqual([]);
    expect(await prisma.outboxEvent.count({ where: { tenantId } })).toBe(0);
    const report = mailTo(PLATFORM_ADMIN_EMAIL).find((mail) => mail.text.includes(tenantSlug));
    expect(report?.subject).toBe('Onboarding of Bob Dental failed');
    expect(report?.text).toMatch(/deleteBillingCustomer: undone/);
    const actions = (await prisma.auditLog.findMany({ where: { tenantId }, orderBy: { at: 'asc' } })).map(
      (a) => a.action,
    );
    expect(actions.slice(-3)).toEqual(['billing.customer.deleted', 'user.disabled', 'tenant.onboarding.failed']);

    const retried = await onboard({
      organizationName: 'Bob Dental',
      slug: tenantSlug,
      adminEmail,
      adminName: 'Bob',
      tier: 'free',
    });
    const result = await resultOf(retried.body.workflowId);

    expect(retried.status).toBe(202);
    expect(retried.body.tenantId).toBe(tenantId);
    expect(result.status).toBe('ACTIVE');
    expect(await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId } })).toMatchObject({
      status: 'ACTIVE',
      failureReason: null,
    });
    expect(customersOf(tenantId).filter((customer) => !customer.deleted)).toHaveLength(1);
    expect(await prisma.user.findFirstOrThrow({ where: { tenantId } })).toMatchObject({ status: 'INVITED' });
  });

  it('a billing call that times out after the provider created the customer is retried with the same key: one customer', async () => {
    const tenantSlug = slug();
    sandbox.inject({ method: 'POST', path: '/v1/customers', fault: { type: 'process_then_hang' } });

    const started = await onboard({
      organizationName: 'Cleo Physio',
      slug: tenantSlug,
      adminEmail: `cleo@${tenantSlug}.test`,
      adminName: 'Cleo',
      tier: 'free',
    });
    const result = await resultOf(started.body.workflowId);

    const calls = sandbox
      .requests()
      .filter((r) => r.path === '/v1/customers' && r.idempotencyKey?.includes(tenantSlug));
    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatchObject({ status: null, replayed: false });
    expect(calls[1]).toMatchObject({ status: 200, replayed: true, idempotencyKey: calls[0]!.idempotencyKey });
    expect(customersOf(started.body.tenantId)).toEqual([expect.objectContaining({ id: result.billingCustomerId })]);
    const progress = await progressOf(tenantSlug);
    expect(progress.steps.find((step) => step.name === 'createBillingCustomer')).toMatchObject({
      status: 'done',
      attempts: 2,
    });
  });

  it('an enterprise onboarding driven through the API waits for approval, and a cancelled one is undone', async () => {
    const approvedSlug = slug();
    const cancelledSlug = slug();
    const enterprise = (tenantSlug: string) =>
      onboard({
        organizationName: 'Big Health',
        slug: tenantSlug,
        adminEmail: `it@${tenantSlug}.test`,
        adminName: 'IT',
        tier: 'enterprise',
      });
    const awaitingApproval = async (tenantSlug: string) => {
      while ((await progressOf(tenantSlug)).status !== 'AWAITING_APPROVAL') await new Promise((r) => setTimeout(r, 50));
    };

    const approved = await enterprise(approvedSlug);
    const cancelled = await enterprise(cancelledSlug);
    await Promise.all([awaitingApproval(approvedSlug), awaitingApproval(cancelledSlug)]);
    const approval = await request(app)
      .post(`/api/v1/tenants/${approvedSlug}/onboarding/approve`)
      .set('Authorization', `Bearer ${platformAdmin}`)
      .send({ note: 'contract signed' });
    const cancel = await request(app)
      .post(`/api/v1/tenants/${cancelledSlug}/onboarding/cancel`)
      .set('Authorization', `Bearer ${platformAdmin}`);

    expect(approval.status).toBe(200);
    expect((await resultOf(approved.body.workflowId)).status).toBe('ACTIVE');
    expect(cancel.status).toBe(202);
    const cancellation = await resultOf(cancelled.body.workflowId).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(cancellation).toBeInstanceOf(WorkflowFailedError);
    expect(await prisma.tenant.findUniqueOrThrow({ where: { id: cancelled.body.tenantId } })).toMatchObject({
      status: 'FAILED',
      failureReason: 'Onboarding cancelled',
    });
    expect(customersOf(cancelled.body.tenantId)).toEqual([]);
    expect((await progressOf(cancelledSlug)).status).toBe('CANCELLED');
  });
});
