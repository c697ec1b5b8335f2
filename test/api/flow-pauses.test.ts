import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { flowCatalog, pausableFlowNames } from '../../domain/flow-catalog';
import type { Client } from '@temporalio/client';
import { flowPauseScheduleNote, resumeFlow } from '../../api/services/flow-pauses';
import { getNotificationStateQuery, sendNowUpdate } from '../../workflows/notification';
import { useApiStack } from '../support/api-stack';
import { until } from '../support/eventually';

/**
 * Pausing a flow for a tenant (POST /api/v1/flows/:flow/pause|resume, GET /api/v1/flows) on the
 * real dev server and database, with a worker: new starts answer 423 FLOW_PAUSED, runs already
 * going continue, another tenant is unaffected, and resuming starts work again.
 */
describe('flow pauses API', () => {
  const stack = useApiStack({ worker: true, mail: 'memory', terminateOnStop: true });

  const get = (path: string, token: string) => request(stack.app).get(`/api/v1/${path}`).set('Authorization', token);
  const post = (path: string, token: string, body?: object, headers: Record<string, string> = {}) =>
    request(stack.app)
      .post(`/api/v1/${path}`)
      .set('Authorization', token)
      .set(headers)
      .send(body ?? {});

  /** A notification a day ahead: a start of the notifications flow that sends nothing while the suite runs. */
  const requestNotification = (token: string) =>
    post(
      'notifications',
      token,
      {
        channel: 'EMAIL',
        to: 'pause-test@example.test',
        template: 'generic.message',
        data: { subject: 'Pause test', body: 'Hello' },
        delay: '24h',
      },
      { 'Idempotency-Key': `pause-${randomUUID()}` },
    );

  /** Each pausable flow's start, with a body the route accepts; they answer 423 while the flow is paused. */
  const starts: Record<string, (token: string) => Promise<request.Response>> = {
    notifications: requestNotification,
    events: (token) =>
      post('events', token, {
        id: `pause-${randomUUID()}`,
        type: 'pause.tested',
        subject: { type: 'ticket', id: 'T-1' },
        data: {},
      }),
    reminders: (token) =>
      post(
        'reminders',
        token,
        {
          subject: { type: 'settlement', id: 'S-1' },
          recipient: { channel: 'EMAIL', to: 'payer@example.test', name: 'Corner Shop' },
          template: 'settlement.reminder',
          data: { reference: 'S-1', amountDue: 1000 },
          dueAt: '2027-01-05T09:00:00Z',
          steps: [{ at: '-2d', kind: 'DUE_SOON' }],
          notifyOnCreate: false,
        },
        { 'Idempotency-Key': `pause-${randomUUID()}` },
      ),
    reports: (token) =>
      post(
        'reports',
        token,
        {
          type: 'credit-summary',
          format: 'csv',
          filters: { from: '2026-11-01', to: '2026-11-30T12:00:00Z' },
          notifyEmail: 'reports@example.test',
        },
        { 'Idempotency-Key': `pause-${randomUUID()}` },
      ),
    exports: (token) =>
      post(
        'exports',
        token,
        { entities: ['vendors'], format: 'csv', notifyEmail: 'exports@example.test' },
        { 'Idempotency-Key': `pause-${randomUUID()}` },
      ),
  };

  it('lists every tenant flow, pausable or not, to any role', async () => {
    const response = await get('flows', stack.tokens.member);

    expect(response.status).toBe(200);
    const flows = response.body.flows as Array<{ flow: string; pausable: boolean; paused: boolean; pause: unknown }>;
    expect(flows.map((flow) => flow.flow)).toEqual(
      flowCatalog.filter((flow) => flow.scope === 'tenant').map((flow) => flow.name),
    );
    expect(flows.find((flow) => flow.flow === 'onboarding')).toMatchObject({ pausable: false, paused: false });
    expect(flows.find((flow) => flow.flow === 'waitlist')).toMatchObject({
      pausable: true,
      paused: false,
      pause: null,
    });
    expect(response.body.tenantId).toBe(stack.tenant.id);
  });

  it('refuses a member (403), an unknown or platform flow (404 FLOW_NOT_FOUND) and a flow that cannot pause (409)', async () => {
    expect((await post('flows/notifications/pause', stack.tokens.member)).status).toBe(403);
    expect((await post('flows/notifications/resume', stack.tokens.member)).status).toBe(403);

    const unknown = await post('flows/no-such-flow/pause', stack.tokens.operator);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('FLOW_NOT_FOUND');
    expect((await post('flows/cleanup/pause', stack.tokens.operator)).body.error.code).toBe('FLOW_NOT_FOUND');

    const onboarding = await post('flows/onboarding/pause', stack.tokens.operator);
    expect(onboarding.status).toBe(409);
    expect(onboarding.body.error).toMatchObject({ code: 'FLOW_NOT_PAUSABLE', details: { flow: 'onboarding' } });

    const badBody = await post('flows/notifications/pause', stack.tokens.operator, { reason: 'x', extra: true });
    expect(badBody.status).toBe(400);
    expect(await stack.prisma.flowPause.count({ where: { tenantId: stack.tenant.id } })).toBe(0);
  });

  it('while notifications are paused, a new one is refused with 423 FLOW_PAUSED; the one already waiting is still sent', async () => {
    const waiting = await requestNotification(stack.tokens.operator);
    expect(waiting.status).toBe(202);

    const paused = await post('flows/notifications/pause', stack.tokens.operator, { reason: 'provider incident' });

    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({
      flow: 'notifications',
      paused: true,
      changed: true,
      pause: { reason: 'provider incident', pausedSchedules: [] },
    });
    const pausedBy = paused.body.pause.pausedBy as string;
    const pausedAt = paused.body.pause.pausedAt as string;

    const before = await stack.prisma.notification.count({ where: { tenantId: stack.tenant.id } });
    const refused = await requestNotification(stack.tokens.operator);
    expect(refused.status).toBe(423);
    expect(refused.body).toEqual({
      error: {
        code: 'FLOW_PAUSED',
        message: expect.stringContaining('POST /api/v1/flows/notifications/resume') as string,
        details: { flow: 'notifications', pausedAt, pausedBy, reason: 'provider incident' },
      },
    });
    expect(refused.body.error.message).toContain(pausedAt);
    expect(await stack.prisma.notification.count({ where: { tenantId: stack.tenant.id } })).toBe(before);

    // The run that was waiting goes on: an Update still reaches it, and it sends.
    const handle = stack.client.workflow.getHandle(waiting.body.workflowId as string);
    await handle.executeUpdate(sendNowUpdate, { args: [{ actor: 'operator-test' }] });
    await until(async () => (await handle.query(getNotificationStateQuery)).status === 'SENT');

    // Another tenant's notifications are not paused.
    expect((await requestNotification(stack.tokens.otherAdmin)).status).toBe(202);

    const resumed = await post('flows/notifications/resume', stack.tokens.operator);
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ flow: 'notifications', paused: false, changed: true, pause: null });
    expect((await requestNotification(stack.tokens.operator)).status).toBe(202);

    const audit = await stack.prisma.auditLog.findMany({
      where: { tenantId: stack.tenant.id, entityType: 'Flow', entityId: 'notifications' },
      orderBy: { at: 'asc' },
    });
    expect(audit.map((row) => row.action)).toEqual(['flow.paused', 'flow.resumed']);
    expect(audit[0]).toMatchObject({
      actor: pausedBy,
      details: expect.objectContaining({ reason: 'provider incident' }),
    });
  });

  it('pausing a paused flow answers the existing pause, and resuming a running one changes nothing', async () => {
    const first = await post('flows/exports/pause', stack.tokens.operator, { reason: 'first' });
    const again = await post('flows/exports/pause', stack.tokens.admin, { reason: 'second' });

    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ paused: true, changed: false, pause: first.body.pause });
    expect((await get('flows', stack.tokens.member)).body.flows).toContainEqual(
      expect.objectContaining({ flow: 'exports', paused: true, pause: first.body.pause }),
    );

    await post('flows/exports/resume', stack.tokens.operator);
    const idle = await post('flows/exports/resume', stack.tokens.operator);
    expect(idle.status).toBe(200);
    expect(idle.body).toMatchObject({ paused: false, changed: false });
  });

  it('every API start of a pausable flow answers 423 while it is paused, and starts again once resumed', async () => {
    const slot = await post('slots', stack.tokens.admin, { name: 'Pause slot' });
    const retailer = await post('retailers', stack.tokens.admin, {
      name: 'Pause Shop',
      channel: 'EMAIL',
      contact: 'shop@example.test',
      creditLimit: 1_000_000,
    });
    const order = (token: string) =>
      post('orders', token, {
        retailerId: retailer.body.id as string,
        items: [{ sku: 'APL-1', name: 'Apples', category: 'produce', quantity: 1, unitPrice: 100 }],
        deliveryRegion: 'north',
        clientOrderRef: `pause-${randomUUID().slice(0, 8)}`,
      });
    const allStarts = {
      ...starts,
      waitlist: (token: string) => post(`slots/${slot.body.id as string}/release`, token),
      orders: order,
    };
    expect(Object.keys(allStarts).sort()).toEqual([...pausableFlowNames].sort());

    for (const flow of pausableFlowNames) {
      expect((await post(`flows/${flow}/pause`, stack.tokens.operator)).status).toBe(200);
    }
    const refused: Record<string, number> = {};
    for (const [flow, start] of Object.entries(allStarts)) {
      const response = await start(stack.tokens.admin);
      refused[flow] = response.status;
      if (response.status === 423) expect(response.body.error.details.flow).toBe(flow);
    }
    expect(refused).toEqual(Object.fromEntries(pausableFlowNames.map((flow) => [flow, 423])));

    for (const flow of pausableFlowNames) await post(`flows/${flow}/resume`, stack.tokens.operator);
    const accepted: Record<string, boolean> = {};
    for (const [flow, start] of Object.entries(allStarts)) accepted[flow] = (await start(stack.tokens.admin)).ok;
    expect(accepted).toEqual(Object.fromEntries(pausableFlowNames.map((flow) => [flow, true])));
  });

  it("an order's payment reminder sent now is a notification start: 423 while notifications are paused, sent once resumed", async () => {
    const retailer = await stack.prisma.retailer.create({
      data: {
        tenantId: stack.tenant.id,
        name: 'Pause Shop',
        channel: 'EMAIL',
        contact: `pause-${randomUUID().slice(0, 8)}@example.test`,
        creditLimit: 100_000,
      },
    });
    // A delivered order a day overdue, with nothing paid: it has a reminder to send.
    const dueDate = new Date(Date.now() - 86_400_000);
    const order = await stack.prisma.order.create({
      data: {
        tenantId: stack.tenant.id,
        retailerId: retailer.id,
        items: [{ sku: 'A-1', name: 'Apples', category: 'produce', quantity: 10, unitPrice: 100 }],
        total: 1000,
        deliveryRegion: 'north',
        requestHash: randomUUID(),
        status: 'DELIVERED',
        deliveredAt: new Date(dueDate.getTime() - 14 * 86_400_000),
        dueDate,
      },
    });
    const sendNow = (key: string) =>
      post(
        `orders/${order.id}/reminders/send-now`,
        stack.tokens.operator,
        { kind: 'OVERDUE' },
        { 'Idempotency-Key': key },
      );
    const key = `pause-${randomUUID()}`;

    expect(
      (await post('flows/notifications/pause', stack.tokens.operator, { reason: 'provider incident' })).status,
    ).toBe(200);
    const refused = await sendNow(key);

    expect(refused.status).toBe(423);
    expect(refused.body.error).toMatchObject({ code: 'FLOW_PAUSED', details: { flow: 'notifications' } });
    expect(
      await stack.prisma.notification.count({ where: { tenantId: stack.tenant.id, recipient: retailer.contact } }),
    ).toBe(0);
    expect(
      await stack.prisma.auditLog.count({ where: { entityId: order.id, action: 'order.reminder-sent-now' } }),
    ).toBe(0);

    await post('flows/notifications/resume', stack.tokens.operator);
    const sent = await sendNow(key);
    expect(sent.status).toBe(202);
    expect(sent.body).toMatchObject({ orderId: order.id, kind: 'OVERDUE', created: true });
  });

  describe('scope', () => {
    it('a platform admin names the tenant; without one it is 400 TENANT_REQUIRED, an unknown one 404', async () => {
      const none = await get('flows', stack.tokens.platformAdmin);
      expect(none.status).toBe(400);
      expect(none.body.error.code).toBe('TENANT_REQUIRED');
      const unknownTenant = await get('flows?tenantId=no-such-tenant', stack.tokens.platformAdmin);
      // The same answer as every operations route (workflows, stats, dead letters) gives.
      expect(unknownTenant.status).toBe(404);
      expect(unknownTenant.body.error.code).toBe('TENANT_NOT_FOUND');

      const paused = await post(`flows/events/pause?tenantId=${stack.otherTenant.id}`, stack.tokens.platformAdmin, {
        reason: 'noisy integration',
      });
      expect(paused.status).toBe(200);
      const listed = await get(`flows?tenantId=${stack.otherTenant.id}`, stack.tokens.platformAdmin);
      expect(listed.body.flows).toContainEqual(expect.objectContaining({ flow: 'events', paused: true }));

      // Tenant A sees none of B's pause, and B's operators see it as theirs.
      const own = await get('flows', stack.tokens.member);
      expect(own.body.flows).toContainEqual(expect.objectContaining({ flow: 'events', paused: false }));
      const theirs = await get('flows', stack.tokens.otherMember);
      expect(theirs.body.flows).toContainEqual(expect.objectContaining({ flow: 'events', paused: true }));

      await post(`flows/events/resume?tenantId=${stack.otherTenant.id}`, stack.tokens.platformAdmin);
      expect(await stack.prisma.flowPause.count({ where: { tenantId: stack.otherTenant.id } })).toBe(0);
    });

    it("a tenant's token may not name another tenant (403), whether or not it exists", async () => {
      for (const tenantId of [stack.otherTenant.id, 'no-such-tenant']) {
        const listed = await get(`flows?tenantId=${tenantId}`, stack.tokens.admin);
        const paused = await post(`flows/events/pause?tenantId=${tenantId}`, stack.tokens.admin);
        expect([listed.status, paused.status]).toEqual([403, 403]);
      }
      expect(await stack.prisma.flowPause.count({ where: { tenantId: stack.otherTenant.id } })).toBe(0);
      expect((await get(`flows?tenantId=${stack.tenant.id}`, stack.tokens.member)).status).toBe(200);
    });
  });
  describe('report schedules and a pause', () => {
    const createdSchedules: string[] = [];
    afterAll(async () => {
      for (const scheduleId of createdSchedules) {
        await stack.client.schedule
          .getHandle(scheduleId)
          .delete()
          .catch(() => undefined);
      }
    });

    /** A report schedule (its cron fires only on a 29 February, so nothing runs by itself). */
    const createSchedule = async (idempotencyKey: string) => {
      const response = await post(
        'report-schedules',
        stack.tokens.admin,
        {
          type: 'notifications',
          format: 'csv',
          cron: '0 6 29 2 *',
          timezone: 'Europe/Berlin',
          notifyEmail: 'reports@example.test',
        },
        { 'Idempotency-Key': idempotencyKey },
      );
      expect([200, 201]).toContain(response.status);
      const scheduleId = response.body.scheduleId as string;
      if (!createdSchedules.includes(scheduleId)) createdSchedules.push(scheduleId);
      return scheduleId;
    };
    const scheduleState = async (scheduleId: string) =>
      (await stack.client.schedule.getHandle(scheduleId).describe()).state;
    const reportsPause = () =>
      stack.prisma.flowPause.findUnique({ where: { tenantId_flow: { tenantId: stack.tenant.id, flow: 'reports' } } });

    it('a schedule that missed a pause (created as it was made, or by an earlier attempt) joins it when its request is repeated', async () => {
      const key = `pause-schedule-${randomUUID()}`;
      const scheduleId = await createSchedule(key);
      expect((await scheduleState(scheduleId)).paused).toBe(false);

      // A pause committed after the creation read the pause state, before its Schedule existed:
      // the pause's own scan did not see the Schedule.
      const pausedAt = new Date();
      await stack.prisma.flowPause.create({
        data: { tenantId: stack.tenant.id, flow: 'reports', pausedBy: 'dev:operator', pausedAt, reason: 'race' },
      });
      await createSchedule(key);
      expect(await scheduleState(scheduleId)).toMatchObject({
        paused: true,
        note: flowPauseScheduleNote('reports', pausedAt),
      });
      expect((await reportsPause())?.pausedSchedules).toEqual([scheduleId]);
      await createSchedule(key);
      expect((await reportsPause())?.pausedSchedules).toEqual([scheduleId]);

      const resumed = await post('flows/reports/resume', stack.tokens.operator);
      expect(resumed.body).toMatchObject({ changed: true, unpausedSchedules: [scheduleId] });
      expect((await scheduleState(scheduleId)).paused).toBe(false);
    });

    it('a resume that Temporal fails keeps the pause and its list of paused schedules; resuming again finishes it', async () => {
      const scheduleId = await createSchedule(`pause-schedule-${randomUUID()}`);
      const paused = await post('flows/reports/pause', stack.tokens.operator, { reason: 'ledger migration' });
      // With the one the test before left running.
      const pausedSchedules = paused.body.pause.pausedSchedules as string[];
      expect(pausedSchedules).toContain(scheduleId);

      // Temporal refuses the unpause (an outage): nothing of the pause may be lost.
      const unreachable = Object.create(stack.client, {
        schedule: {
          value: {
            getHandle: (id: string) =>
              Object.create(stack.client.schedule.getHandle(id), {
                unpause: { value: () => Promise.reject(new Error('Temporal is unavailable')) },
              }) as ReturnType<Client['schedule']['getHandle']>,
          },
        },
      }) as Client;
      await expect(
        resumeFlow(
          { prisma: stack.prisma, temporal: unreachable },
          { tenantId: stack.tenant.id, actor: 'dev:operator' },
          'reports',
        ),
      ).rejects.toThrow('Temporal is unavailable');
      expect((await reportsPause())?.pausedSchedules).toEqual(pausedSchedules);
      expect((await scheduleState(scheduleId)).paused).toBe(true);
      const resumedAudits = () =>
        stack.prisma.auditLog.count({
          where: {
            tenantId: stack.tenant.id,
            action: 'flow.resumed',
            entityId: 'reports',
            at: { gte: new Date(paused.body.pause.pausedAt) },
          },
        });
      expect(await resumedAudits()).toBe(0);

      const resumed = await post('flows/reports/resume', stack.tokens.operator);
      expect(resumed.body).toMatchObject({ changed: true, unpausedSchedules: pausedSchedules });
      expect((await scheduleState(scheduleId)).paused).toBe(false);
      expect(await reportsPause()).toBeNull();
      expect(await resumedAudits()).toBe(1);
    });
  });
});
