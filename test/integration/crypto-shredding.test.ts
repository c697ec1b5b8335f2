import { randomUUID } from 'node:crypto';
import { ScheduleNotFoundError } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { Client as PgClient } from 'pg';
import request from 'supertest';
import { encryptedPayloadScope, PayloadScopeErasedError, type EncryptionCodec } from '../../lib/data-converter';
import { createConfiguredCodec } from '../../lib/payload-key-scopes';
import { onboardingScope, tenantScope } from '../../lib/payload-scope';
import { TENANT_ERASED_ACTION } from '../../api/services/tenant-erasure';
import { useApiStack } from '../support/api-stack';
import { eventually } from '../support/eventually';
import { createTestTenant } from '../support/stack';

const PATCH_MARKER = 'core_patch';

/**
 * Every payload in a raw history that goes through the codec (inputs, results, failures' attributes,
 * memos, summaries, …): search attributes are the server's index, kept in clear by design, and patch
 * markers are the SDK's own.
 */
function payloadsIn(value: unknown, found: Payload[] = []): Payload[] {
  if (Array.isArray(value)) {
    for (const item of value) payloadsIn(item, found);
  } else if (value && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const record = value as Record<string, unknown>;
    const metadata = record.metadata as Record<string, unknown> | undefined;
    // A patch marker's details are written by the SDK's core in clear: the patch's ID, no data of ours.
    if (record.markerName === PATCH_MARKER) return found;
    if (metadata && typeof metadata === 'object' && metadata.encoding instanceof Uint8Array) {
      found.push(record);
    } else {
      for (const [key, child] of Object.entries(record)) if (key !== 'searchAttributes') payloadsIn(child, found);
    }
  }
  return found;
}

const toJson = (payload: Payload) => ({
  metadata: Object.fromEntries(
    Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value).toString('base64')]),
  ),
  data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
});

/** The payloads' data bytes as text, to look for what they carry. */
const textOf = (payloads: Payload[]) =>
  payloads.map((payload) => Buffer.from(payload.data ?? new Uint8Array()).toString('utf8')).join('\n');

const fromJson = (payload: { data: string }): Payload => ({ data: Buffer.from(payload.data, 'base64') });

/**
 * Crypto-shredding on the real stack (API, worker, PostgreSQL, Temporal): two tenants each send a
 * notification through the API; tenant A is suspended and erased; A's histories stay ciphertext for
 * good while B's still decode.
 */
describe('erasing a tenant crypto-shreds its Temporal histories', () => {
  const stack = useApiStack({ worker: true, mail: 'memory', terminateOnStop: true });
  const emailOfA = `${randomUUID().slice(0, 8)}@clinic-a.test`;
  const emailOfB = `${randomUUID().slice(0, 8)}@clinic-b.test`;
  let workflowOfA: string;
  let workflowOfB: string;
  /** What each flow's payloads carry (its input and result name the notification). */
  let notificationOfA: string;
  let notificationOfB: string;

  const erase = (slug: string, token = stack.tokens.platformAdmin) =>
    request(stack.app).post(`/api/v1/tenants/${slug}/erase`).set('Authorization', token).send();
  const notify = (token: string, body: object) =>
    request(stack.app)
      .post('/api/v1/notifications')
      .set('Authorization', token)
      .set('Idempotency-Key', randomUUID())
      .send(body);
  const sent = (token: string, notificationId: string) =>
    eventually(async () => {
      const res = await request(stack.app).get(`/api/v1/notifications/${notificationId}`).set('Authorization', token);
      return res.body.status === 'SENT';
    });
  const runningCount = async (tenantId: string) =>
    (await stack.client.workflow.count(`TenantId = "${tenantId}" AND ExecutionStatus = "Running"`)).count;
  /** A codec that remembers no key: every decode reads the salts in PostgreSQL afresh. */
  const freshCodec = (): EncryptionCodec => createConfiguredCodec(stack.config.payloads, stack.prisma);
  const historyPayloads = async (workflowId: string) =>
    payloadsIn((await stack.client.workflow.getHandle(workflowId).fetchHistory()).events);
  /** The first argument a Temporal Schedule starts its runs with, as the server keeps it (no codec). */
  const rawScheduleInput = async (scheduleId: string): Promise<Payload | undefined> => {
    const described = await stack.client.workflowService.describeSchedule({
      namespace: stack.client.options.namespace,
      scheduleId,
    });
    return described.schedule?.action?.startWorkflow?.input?.payloads?.[0] ?? undefined;
  };

  beforeAll(async () => {
    const message = { channel: 'EMAIL', subject: 'Your appointment', text: 'See you on Tuesday.' };
    const [ofA, ofB] = await Promise.all([
      notify(stack.tokens.operator, { ...message, to: emailOfA }),
      notify(await stack.bearer(stack.otherTenant.id, 'operator'), { ...message, to: emailOfB }),
    ]);
    expect([ofA.status, ofB.status]).toEqual([202, 202]);
    workflowOfA = ofA.body.workflowId as string;
    workflowOfB = ofB.body.workflowId as string;
    notificationOfA = ofA.body.notificationId as string;
    notificationOfB = ofB.body.notificationId as string;
    await sent(stack.tokens.member, ofA.body.notificationId as string);
    await sent(stack.tokens.otherMember, ofB.body.notificationId as string);
    await stack.client.workflow.getHandle(workflowOfA).result();
    await stack.client.workflow.getHandle(workflowOfB).result();
  });

  it('keeps every payload of a history encrypted under its tenant’s scope, decodable before erasure', async () => {
    const payloads = await historyPayloads(workflowOfA);

    expect(payloads.length).toBeGreaterThan(0);
    expect(payloads.map(encryptedPayloadScope)).toEqual(payloads.map(() => tenantScope(stack.tenant.id)));
    expect(textOf(payloads)).not.toContain(notificationOfA);
    expect(textOf(await freshCodec().decode(payloads))).toContain(notificationOfA);
  });

  it('refuses while the tenant is ACTIVE (409 TENANT_NOT_SUSPENDED), and for anyone but a platform admin', async () => {
    const whileActive = await erase(stack.tenant.slug);
    const byTenantAdmin = await erase(stack.tenant.slug, stack.tokens.admin);
    const unknown = await erase(`nobody-${randomUUID().slice(0, 8)}`);

    expect(whileActive.status).toBe(409);
    expect(whileActive.body.error).toMatchObject({
      code: 'TENANT_NOT_SUSPENDED',
      details: { slug: stack.tenant.slug, status: 'ACTIVE' },
    });
    expect(byTenantAdmin.status).toBe(403);
    expect(unknown.status).toBe(404);
    expect(await stack.prisma.payloadKeyScope.count({ where: { tenantId: stack.tenant.id, salt: null } })).toBe(0);
  });

  it('refuses while one of the tenant’s flows still runs (409 TENANT_FLOWS_OPEN), then erases once it is closed', async () => {
    // A report schedule whose Temporal Schedule holds input under the tenant's key; it runs on 29 February only.
    const reportSchedule = await request(stack.app)
      .post('/api/v1/report-schedules')
      .set('Authorization', stack.tokens.admin)
      .set('Idempotency-Key', randomUUID())
      .send({ type: 'notifications', format: 'csv', cron: '0 6 29 2 *', timezone: 'UTC', notifyEmail: emailOfA });
    expect(reportSchedule.status).toBe(201);
    const temporalScheduleOfA = reportSchedule.body.scheduleId as string;
    expect(encryptedPayloadScope((await rawScheduleInput(temporalScheduleOfA))!)).toBe(tenantScope(stack.tenant.id));
    const pending = await notify(stack.tokens.operator, {
      channel: 'EMAIL',
      to: emailOfA,
      subject: 'Later',
      text: 'Sent in an hour.',
      delay: '1h',
    });
    expect(pending.status).toBe(202);
    await eventually(async () => (await runningCount(stack.tenant.id)) > 0);
    const suspended = await request(stack.app)
      .post(`/api/v1/tenants/${stack.tenant.slug}/suspend`)
      .set('Authorization', stack.tokens.platformAdmin)
      .send({ reason: 'offboarding' });
    expect(suspended.status).toBe(200);

    const whileRunning = await erase(stack.tenant.slug);

    expect(whileRunning.status).toBe(409);
    expect(whileRunning.body.error).toMatchObject({
      code: 'TENANT_FLOWS_OPEN',
      details: { slug: stack.tenant.slug, runningFlows: 1, onboardingRunning: false },
    });
    // The Schedules go before the running flows are counted, so none can start a run after the count.
    await expect(stack.client.schedule.getHandle(temporalScheduleOfA).describe()).rejects.toBeInstanceOf(
      ScheduleNotFoundError,
    );

    await stack.client.workflow.getHandle(pending.body.workflowId as string).terminate('offboarding');
    await eventually(async () => (await runningCount(stack.tenant.id)) === 0);

    const erased = await erase(stack.tenant.slug);
    const again = await erase(stack.tenant.slug);

    expect(erased.status).toBe(200);
    expect(erased.body).toEqual({
      tenantId: stack.tenant.id,
      erasedScopes: [tenantScope(stack.tenant.id), onboardingScope(stack.tenant.slug)],
      deletedSchedules: [temporalScheduleOfA],
      erasedAt: expect.any(String),
    });
    await expect(stack.client.schedule.getHandle(temporalScheduleOfA).describe()).rejects.toBeInstanceOf(
      ScheduleNotFoundError,
    );
    expect(again.status).toBe(200);
    expect(again.body).toEqual(erased.body);
    // The row is the tenant's PostgreSQL data, which erasure leaves to the database's retention.
    expect(await stack.prisma.reportSchedule.count({ where: { id: reportSchedule.body.id as string } })).toBe(1);
    const audit = await stack.prisma.auditLog.findMany({
      where: { tenantId: stack.tenant.id, action: TENANT_ERASED_ACTION },
    });
    expect(audit).toEqual([
      expect.objectContaining({
        actor: expect.any(String),
        entityType: 'Tenant',
        entityId: stack.tenant.id,
        details: expect.objectContaining({ deletedSchedules: [temporalScheduleOfA] }),
      }),
    ]);
  });

  it('leaves the erased tenant’s payloads undecodable, and the other tenant’s readable', async () => {
    const ofA = await historyPayloads(workflowOfA);
    const ofB = await historyPayloads(workflowOfB);

    expect(ofA.length).toBeGreaterThan(0);
    for (const payload of ofA) {
      await expect(freshCodec().decode([payload])).rejects.toBeInstanceOf(PayloadScopeErasedError);
    }
    const decodedB = await freshCodec().decode(ofB);
    expect(textOf(decodedB)).toContain(notificationOfB);

    // The API process's own codec, which forgot the keys at once, through the codec server.
    const viaServer = await request(stack.app)
      .post('/codec/decode')
      .set('Authorization', stack.tokens.platformAdmin)
      .send({ payloads: [...ofA, ...ofB].map(toJson) });

    expect(viaServer.status).toBe(200);
    const answered = viaServer.body.payloads as Array<ReturnType<typeof toJson>>;
    expect(answered.slice(0, ofA.length)).toEqual(ofA.map(toJson));
    expect(answered.slice(ofA.length)).toEqual(decodedB.map(toJson));
    expect(textOf(answered.slice(0, ofA.length).map(fromJson))).not.toContain(notificationOfA);
  });

  it('refuses to bring the erased tenant back: no reactivation, no new onboarding of its slug (409 TENANT_ERASED)', async () => {
    const reactivated = await request(stack.app)
      .post(`/api/v1/tenants/${stack.tenant.slug}/reactivate`)
      .set('Authorization', stack.tokens.platformAdmin)
      .send({ reason: 'changed our mind' });
    const onboarded = await request(stack.app)
      .post('/api/v1/tenants')
      .set('Authorization', stack.tokens.platformAdmin)
      .send({
        organizationName: 'Clinic A again',
        slug: stack.tenant.slug,
        adminEmail: 'new-admin@clinic-a.test',
        adminName: 'New Admin',
        tier: 'free',
      });

    expect({ status: reactivated.status, code: reactivated.body.error?.code }).toEqual({
      status: 409,
      code: 'TENANT_ERASED',
    });
    expect({ status: onboarded.status, code: onboarded.body.error?.code }).toEqual({
      status: 409,
      code: 'TENANT_ERASED',
    });
    expect((await stack.prisma.tenant.findUniqueOrThrow({ where: { id: stack.tenant.id } })).status).toBe('SUSPENDED');
  });

  it('answers the erased tenant’s onboarding with 409 TENANT_ERASED: its history can no longer be read', async () => {
    const answer = await request(stack.app)
      .get(`/api/v1/tenants/${stack.tenant.slug}/onboarding`)
      .set('Authorization', stack.tokens.platformAdmin);

    expect({ status: answer.status, error: answer.body.error }).toEqual({
      status: 409,
      error: { code: 'TENANT_ERASED', message: expect.any(String), details: { slug: stack.tenant.slug } },
    });
  });

  it('an erasure and a reactivation at the same moment: exactly one of them succeeds', async () => {
    const tenant = await createTestTenant(stack.prisma);
    await stack.prisma.tenant.update({ where: { id: tenant.id }, data: { status: 'SUSPENDED' } });
    // Holds the tenant's row, so both requests reach their lock on it before either goes on.
    const locker = new PgClient({ connectionString: stack.config.databaseUrl });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('SELECT id FROM "Tenant" WHERE id = $1 FOR UPDATE', [tenant.id]);
      const lockerPid = ((await locker.query('SELECT pg_backend_pid() AS pid')).rows[0] as { pid: number }).pid;
      const erasing = erase(tenant.slug).then((answer) => answer);
      const reactivating = request(stack.app)
        .post(`/api/v1/tenants/${tenant.slug}/reactivate`)
        .set('Authorization', stack.tokens.platformAdmin)
        .send({ reason: 'changed our mind' })
        .then((answer) => answer);
      await eventually(async () => {
        const { rows } = await locker.query(
          "SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> $1",
          [lockerPid],
        );
        return (rows[0] as { waiting: number }).waiting >= 2;
      });
      await locker.query('COMMIT');

      const [erased, reactivated] = await Promise.all([erasing, reactivating]);

      const status = (await stack.prisma.tenant.findUniqueOrThrow({ where: { id: tenant.id } })).status;
      const tombstones = await stack.prisma.payloadKeyScope.count({ where: { tenantId: tenant.id, salt: null } });
      if (erased.status === 200) {
        expect({ status: reactivated.status, code: reactivated.body.error?.code }).toEqual({
          status: 409,
          code: 'TENANT_ERASED',
        });
        expect({ status, tombstones }).toEqual({ status: 'SUSPENDED', tombstones: 2 });
      } else {
        expect(reactivated.status).toBe(200);
        expect({ status: erased.status, code: erased.body.error?.code }).toEqual({
          status: 409,
          code: 'TENANT_NOT_SUSPENDED',
        });
        expect({ status, tombstones }).toEqual({ status: 'ACTIVE', tombstones: 0 });
        expect(
          await stack.prisma.auditLog.count({ where: { tenantId: tenant.id, action: TENANT_ERASED_ACTION } }),
        ).toBe(0);
      }
    } finally {
      await locker.end();
    }
  });

  it('writes nothing new under an erased scope', async () => {
    const codec = freshCodec();

    await expect(
      codec.encodeInScope([defaultPayloadConverter.toPayload('new data')], tenantScope(stack.tenant.id)),
    ).rejects.toBeInstanceOf(PayloadScopeErasedError);
  });
});
