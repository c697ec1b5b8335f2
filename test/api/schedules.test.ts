import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { freePort } from '../../scripts/stack/ports';
import { readTemporalBinaries } from '../../scripts/stack/temporal-binaries';
import {
  devServerRetentionMs,
  namespaceRetentionMs,
  startTemporalDevServer,
} from '../../scripts/stack/temporal-dev-server';
import { dailyCleanupScheduleId } from '../../workflows/cleanup.contract';
import { outboxSweepScheduleId } from '../../workflows/event-fan-out.contract';
import { holdfastSchedules, syncSchedules } from '../../workers/schedules';
import { scheduleNoteForTemporal } from '../../api/services/report-schedules';
import { holdExclusive } from '../support/exclusive';
import { deletePlatformSchedules } from '../support/platform-schedules';
import { useApiStack } from '../support/api-stack';
import { until } from '../support/eventually';
import { testLogger } from '../support/stack';

interface ScheduleView {
  scheduleId: string;
  scope: 'tenant' | 'platform';
  tenantId: string | null;
  reportScheduleId: string | null;
  flow: string | null;
  state: 'ACTIVE' | 'PAUSED' | 'MISSING';
  paused: boolean | null;
  note: string | null;
  nextRuns: string[];
  recentActions: Array<{ workflowId: string }>;
}

/**
 * The Schedules API (GET /api/v1/schedules, POST …/:scheduleId/pause|unpause|trigger) on the real
 * dev server and database: tenants see and touch only their report schedules, platform Schedules
 * need a platform admin, and pausing the reports flow pauses (and resuming unpauses) exactly the
 * Schedules it paused. Also: the dev server's namespace keeps closed workflows as configured.
 */
describe('schedules API', () => {
  const stack = useApiStack({ terminateOnStop: true });

  const get = (path: string, token: string) => request(stack.app).get(`/api/v1/${path}`).set('Authorization', token);
  const post = (path: string, token: string, body: object = {}) =>
    request(stack.app).post(`/api/v1/${path}`).set('Authorization', token).send(body);

  /** A weekly report schedule (its cron fires only on a 29 February, so nothing runs by itself). */
  async function createReportSchedule(token: string): Promise<string> {
    const response = await request(stack.app)
      .post('/api/v1/report-schedules')
      .set('Authorization', token)
      .set('Idempotency-Key', `schedules-${randomUUID()}`)
      .send({
        type: 'notifications',
        format: 'csv',
        cron: '0 6 29 2 *',
        timezone: 'Europe/Berlin',
        notifyEmail: 'reports@example.test',
      });
    expect(response.status).toBe(201);
    return response.body.scheduleId as string;
  }

  const describeSchedule = (scheduleId: string) => stack.client.schedule.getHandle(scheduleId).describe();
  const noteOf = (schedules: ScheduleView[], scheduleId: string) =>
    schedules.find((schedule) => schedule.scheduleId === scheduleId)?.note;
  const listed = async (token: string, query = '') =>
    (await get(`schedules${query}`, token)).body.schedules as ScheduleView[];

  afterAll(async () => {
    const rows = await stack.prisma.reportSchedule.findMany({
      where: { tenantId: { in: [stack.tenant.id, stack.otherTenant.id] } },
    });
    for (const row of rows)
      await stack.client.schedule
        .getHandle(row.scheduleId)
        .delete()
        .catch(() => undefined);
  });

  describe("a tenant's report schedules", () => {
    it('a tenant lists its own report schedules with their Temporal state, and none of another tenant', async () => {
      const mine = await createReportSchedule(stack.tokens.admin);
      const theirs = await createReportSchedule(stack.tokens.otherAdmin);

      const response = await get('schedules', stack.tokens.member);

      expect(response.status).toBe(200);
      expect(response.body.tenantId).toBe(stack.tenant.id);
      const schedules = response.body.schedules as ScheduleView[];
      expect(schedules.map((schedule) => schedule.scheduleId)).toContain(mine);
      expect(schedules.map((schedule) => schedule.scheduleId)).not.toContain(theirs);
      expect(schedules.every((schedule) => schedule.scope === 'tenant')).toBe(true);
      expect(schedules.find((schedule) => schedule.scheduleId === mine)).toMatchObject({
        tenantId: stack.tenant.id,
        flow: 'reports',
        state: 'ACTIVE',
        paused: false,
        when: '0 6 29 2 * (Europe/Berlin)',
      });
      expect(schedules.find((schedule) => schedule.scheduleId === mine)!.nextRuns.length).toBeGreaterThan(0);
      expect((await listed(stack.tokens.otherMember)).map((schedule) => schedule.scheduleId)).toEqual([theirs]);
    });

    it("another tenant's schedule and a platform Schedule answer a tenant 404, the same as a missing one", async () => {
      const theirs = (await listed(stack.tokens.otherMember))[0]!.scheduleId;
      const missing = `report-schedule:${stack.tenant.id}:${randomUUID()}`;

      for (const action of ['pause', 'unpause', 'trigger']) {
        const onTheirs = await post(`schedules/${theirs}/${action}`, stack.tokens.admin);
        const onMissing = await post(`schedules/${missing}/${action}`, stack.tokens.admin);
        const onPlatform = await post(`schedules/${dailyCleanupScheduleId}/${action}`, stack.tokens.admin);
        for (const response of [onTheirs, onMissing, onPlatform]) {
          expect(response.status).toBe(404);
          expect(response.body.error).toMatchObject({ code: 'NOT_FOUND', message: 'Schedule not found' });
        }
      }
      expect((await describeSchedule(theirs)).state.paused).toBe(false);
      expect((await listed(stack.tokens.member)).map((schedule) => schedule.scope)).not.toContain('platform');
      expect((await get(`schedules?tenantId=${stack.otherTenant.id}`, stack.tokens.member)).status).toBe(403);
    });

    it('a member may list but not act (403); an operator pauses, unpauses and triggers, audited', async () => {
      const scheduleId = await createReportSchedule(stack.tokens.admin);
      expect((await post(`schedules/${scheduleId}/pause`, stack.tokens.member)).status).toBe(403);
      expect((await post(`schedules/not%20an%20id/pause`, stack.tokens.operator)).status).toBe(400);

      const paused = await post(`schedules/${scheduleId}/pause`, stack.tokens.operator, { note: 'quarter close' });
      expect(paused.status).toBe(200);
      expect(paused.body).toMatchObject({ scheduleId, state: 'PAUSED', paused: true, note: 'quarter close' });
      // The note is free text: Temporal, which keeps a Schedule's note in clear, gets a fixed sentence.
      expect((await describeSchedule(scheduleId)).state.note).toBe(scheduleNoteForTemporal.paused);

      const unpaused = await post(`schedules/${scheduleId}/unpause`, stack.tokens.operator);
      expect(unpaused.body).toMatchObject({ scheduleId, state: 'ACTIVE', paused: false, note: null });
      expect((await describeSchedule(scheduleId)).state.note).toBe(scheduleNoteForTemporal.unpaused);

      const triggered = await post(`schedules/${scheduleId}/trigger`, stack.tokens.operator);
      expect(triggered.status).toBe(200);
      // The trigger starts a run of the report workflow under the Schedule's ID.
      await until(async () => (await describeSchedule(scheduleId)).info.recentActions.length === 1);
      const [run] = (await describeSchedule(scheduleId)).info.recentActions;
      const started = await stack.client.workflow.getHandle(run!.action.workflow.workflowId).describe();
      expect(started.type).toBe('reportWorkflow');
      expect(started.workflowId.startsWith(scheduleId)).toBe(true);

      const reportScheduleId = paused.body.reportScheduleId as string;
      const audit = await stack.prisma.auditLog.findMany({
        where: { tenantId: stack.tenant.id, entityType: 'ReportSchedule', entityId: reportScheduleId },
        orderBy: { at: 'asc' },
      });
      expect(audit.map((row) => row.action)).toEqual([
        'report-schedule.created',
        'report-schedule.paused',
        'report-schedule.unpaused',
        'report-schedule.triggered',
      ]);
    });
  });

  describe('pausing the reports flow', () => {
    it('pauses the running report schedules, leaves a hand-paused one paused after resume, and holds new ones', async () => {
      const running = await createReportSchedule(stack.tokens.admin);
      const handPaused = await createReportSchedule(stack.tokens.admin);
      await post(`schedules/${handPaused}/pause`, stack.tokens.operator, { note: 'paused by hand' });
      const otherTenants = (await listed(stack.tokens.otherMember))[0]!.scheduleId;

      const pause = await post('flows/reports/pause', stack.tokens.operator, { reason: 'month-end freeze' });

      expect(pause.status).toBe(200);
      expect(pause.body.pause.pausedSchedules).toContain(running);
      expect(pause.body.pause.pausedSchedules).not.toContain(handPaused);
      const runningNow = await describeSchedule(running);
      expect(runningNow.state.paused).toBe(true);
      expect(runningNow.state.note).toContain("Paused with the tenant's reports flow");
      expect(noteOf(await listed(stack.tokens.member), running)).toContain("Paused with the tenant's reports flow");
      expect(noteOf(await listed(stack.tokens.member), handPaused)).toBe('paused by hand');
      expect((await describeSchedule(otherTenants)).state.paused).toBe(false);

      // While paused: no trigger, no unpause, and a new report request is refused.
      const trigger = await post(`schedules/${running}/trigger`, stack.tokens.operator);
      expect(trigger.status).toBe(423);
      expect(trigger.body.error).toMatchObject({ code: 'FLOW_PAUSED', details: { flow: 'reports' } });
      expect((await post(`schedules/${running}/unpause`, stack.tokens.operator)).status).toBe(423);
      const row = (await listed(stack.tokens.member)).find((schedule) => schedule.scheduleId === running)!;
      expect((await post(`report-schedules/${row.reportScheduleId!}/trigger`, stack.tokens.operator)).status).toBe(423);

      // A schedule created now starts paused and joins the pause.
      const createdWhilePaused = await createReportSchedule(stack.tokens.admin);
      expect((await describeSchedule(createdWhilePaused)).state.paused).toBe(true);
      const flowPause = await stack.prisma.flowPause.findUniqueOrThrow({
        where: { tenantId_flow: { tenantId: stack.tenant.id, flow: 'reports' } },
      });
      expect(flowPause.pausedSchedules).toEqual(expect.arrayContaining([running, createdWhilePaused]));

      const resume = await post('flows/reports/resume', stack.tokens.operator);

      expect(resume.status).toBe(200);
      expect(resume.body.unpausedSchedules).toEqual(expect.arrayContaining([running, createdWhilePaused]));
      expect((await describeSchedule(running)).state.paused).toBe(false);
      expect((await describeSchedule(createdWhilePaused)).state.paused).toBe(false);
      expect((await describeSchedule(handPaused)).state.paused).toBe(true);
      expect(noteOf(await listed(stack.tokens.member), handPaused)).toBe('paused by hand');
      expect((await post(`schedules/${running}/trigger`, stack.tokens.operator)).status).toBe(200);
    });
  });

  describe('platform Schedules', () => {
    // Their IDs are fixed, on the server every test file shares: one file at a time changes them.
    let release: () => void = () => undefined;
    beforeAll(async () => {
      release = await holdExclusive('platform-schedules');
      // Created afresh for this file's task queue: an update of one another file left would carry its
      // unpaused state, and Temporal applies a pause that reaches it in the same moment before the update.
      await deletePlatformSchedules(stack.client, stack.config.temporal.taskQueue);
      await syncSchedules(stack.client, stack.config.temporal.taskQueue, testLogger(stack.config));
      // Nothing of theirs should run during the suite: they are paused until a test says otherwise.
      for (const options of holdfastSchedules(stack.config.temporal.taskQueue)) {
        await stack.client.schedule.getHandle(options.scheduleId).pause('paused for the schedules API test');
      }
    });

    afterAll(async () => {
      await deletePlatformSchedules(stack.client, stack.config.temporal.taskQueue);
      release();
    });

    it('a platform admin lists the platform Schedules, and names a tenant to see its report schedules', async () => {
      const platform = await listed(stack.tokens.platformAdmin);
      expect(platform.map((schedule) => schedule.scheduleId)).toEqual([dailyCleanupScheduleId, outboxSweepScheduleId]);
      expect(platform[0]).toMatchObject({ scope: 'platform', tenantId: null, flow: 'cleanup', state: 'PAUSED' });
      expect(platform[1]).toMatchObject({ scope: 'platform', flow: 'event-outbox-sweep' });

      const tenants = await listed(stack.tokens.platformAdmin, `?tenantId=${stack.tenant.id}`);
      expect(tenants.length).toBeGreaterThan(0);
      expect(tenants.every((schedule) => schedule.tenantId === stack.tenant.id)).toBe(true);
      expect((await get('schedules?tenantId=no-such-tenant', stack.tokens.platformAdmin)).status).toBe(404);
    });

    it('a platform admin unpauses, pauses and triggers a platform Schedule; a tenant cannot see it', async () => {
      const unpaused = await post(`schedules/${dailyCleanupScheduleId}/unpause`, stack.tokens.platformAdmin);
      expect(unpaused.status).toBe(200);
      expect(unpaused.body).toMatchObject({ scheduleId: dailyCleanupScheduleId, state: 'ACTIVE' });

      // The platform has no audit log to keep a note in, and Temporal would keep it in clear.
      const withNote = await post(`schedules/${dailyCleanupScheduleId}/pause`, stack.tokens.platformAdmin, {
        note: 'maintenance window',
      });
      expect(withNote.status).toBe(400);
      expect(withNote.body.error).toMatchObject({
        code: 'NOTE_NOT_KEPT',
        details: { scheduleId: dailyCleanupScheduleId },
      });
      expect((await describeSchedule(dailyCleanupScheduleId)).state.paused).toBe(false);

      const paused = await post(`schedules/${dailyCleanupScheduleId}/pause`, stack.tokens.platformAdmin);
      expect(paused.body).toMatchObject({ state: 'PAUSED', note: 'Paused by a platform admin through the API' });

      expect((await post(`schedules/${dailyCleanupScheduleId}/trigger`, stack.tokens.platformAdmin)).status).toBe(200);
      await until(async () => (await describeSchedule(dailyCleanupScheduleId)).info.recentActions.length === 1);

      expect((await post(`schedules/${dailyCleanupScheduleId}/trigger`, stack.tokens.admin)).status).toBe(404);
    });

    it("a platform admin acts on a tenant's report schedule, audited under that tenant", async () => {
      const scheduleId = await createReportSchedule(stack.tokens.admin);

      const paused = await post(
        `schedules/${scheduleId}/pause?tenantId=${stack.tenant.id}`,
        stack.tokens.platformAdmin,
      );

      expect(paused.body).toMatchObject({ scheduleId, state: 'PAUSED', tenantId: stack.tenant.id });
      const audit = await stack.prisma.auditLog.findFirst({
        where: { tenantId: stack.tenant.id, action: 'report-schedule.paused', entityId: paused.body.reportScheduleId },
      });
      expect(audit?.actor).toBeDefined();
      // Naming another tenant than the schedule's is a 404.
      const elsewhere = await post(
        `schedules/${scheduleId}/unpause?tenantId=${stack.otherTenant.id}`,
        stack.tokens.platformAdmin,
      );
      expect(elsewhere.status).toBe(404);
    });
  });

  describe('retention', () => {
    const DAY_MS = 24 * 60 * 60 * 1000;

    it("the suite's dev server keeps closed workflows for the configured retention (7 days by default)", async () => {
      expect(stack.config.temporal.namespaceRetentionMs).toBe(7 * DAY_MS);
      expect(await namespaceRetentionMs(stack.config.temporal.address, stack.config.temporal.namespace)).toBe(
        stack.config.temporal.namespaceRetentionMs,
      );
    });

    it('a dev server applies the retention at every start, to a namespace it kept from before', async () => {
      const { cliPath } = readTemporalBinaries();
      expect(cliPath).toBeTruthy();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'holdfast-retention-'));
      const start = async (retentionMs: number) =>
        startTemporalDevServer({
          cliPath: cliPath!,
          port: await freePort(),
          dbFilename: path.join(dir, 'temporal.sqlite'),
          logFile: path.join(dir, 'temporal.log'),
          namespaceRetentionMs: retentionMs,
        });
      try {
        const first = await start(9 * DAY_MS);
        const firstRetention = await namespaceRetentionMs(first.address, first.namespace);
        await first.stop();
        const second = await start(devServerRetentionMs('10 days')!);
        const secondRetention = await namespaceRetentionMs(second.address, second.namespace);
        await second.stop();

        expect([firstRetention, secondRetention]).toEqual([9 * DAY_MS, 10 * DAY_MS]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a TEMPORAL_NAMESPACE_RETENTION the configuration refuses leaves the dev server its default', () => {
      expect(devServerRetentionMs(undefined)).toBeUndefined();
      expect(devServerRetentionMs('2 hours')).toBeUndefined();
      expect(devServerRetentionMs('soon')).toBeUndefined();
      expect(devServerRetentionMs('168h')).toBe(7 * DAY_MS);
    });
  });
});
