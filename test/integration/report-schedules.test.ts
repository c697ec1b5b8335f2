import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ScheduleNotFoundError } from '@temporalio/client';
import request from 'supertest';
import { scheduleNoteForTemporal } from '../../api/services/report-schedules';
import { MAX_REPORT_SCHEDULES_PER_TENANT } from '../../domain/reports';
import { reportScheduleId } from '../../workflows/report.contract';
import { useApiStack } from '../support/api-stack';
import { eventually } from '../support/eventually';
import { createTestTenant } from '../support/stack';

/**
 * Report schedules end to end: the API creates a real Temporal Schedule on the dev server, a
 * triggered run makes its report with the stack's worker, and the link arrives over real SMTP
 * at the dev mail catcher.
 */

const filesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'holdfast-report-schedules-'));

const stack = useApiStack({ worker: true, mail: 'smtp', config: { FILE_STORE_DIR: filesDir } });

const created: string[] = [];

afterAll(async () => {
  // A Schedule left behind would start runs on the shared dev server after this stack is gone.
  for (const scheduleId of created) {
    await stack.client.schedule
      .getHandle(scheduleId)
      .delete()
      .catch(() => undefined);
  }
  fs.rmSync(filesDir, { recursive: true, force: true });
});

const weekly = {
  type: 'payment-discipline',
  format: 'pdf',
  cron: '0 6 * * MON',
  timezone: 'Europe/Berlin',
  period: 'week',
};

async function createSchedule(body: Record<string, unknown>, key = randomUUID(), token = stack.tokens.admin) {
  const response = await request(stack.app)
    .post('/api/v1/report-schedules')
    .set('Authorization', token)
    .set('Idempotency-Key', key)
    .send(body);
  if (response.status === 201) created.push(response.body.scheduleId as string);
  return response;
}

/** The weekday and wall-clock time an instant shows in Berlin: `Mon 00:00`. */
const berlinWallClock = (instant: Date) =>
  new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/Berlin',
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(instant);

const api = (method: 'get' | 'post' | 'delete', url: string, token = stack.tokens.admin) =>
  request(stack.app)[method](url).set('Authorization', token);

describe('report schedules', () => {
  it('A weekly PDF report arrives by email from a Schedule the tenant created through the API', async () => {
    const notifyEmail = `finance-${randomUUID().slice(0, 8)}@example.test`;

    // Created: a Temporal Schedule of the tenant, active, its next run ahead.
    const creation = await createSchedule({ ...weekly, notifyEmail });
    expect(creation.status).toBe(201);
    const id = creation.body.id as string;
    expect(creation.body.scheduleId).toBe(reportScheduleId(stack.tenant.id, id));
    const listed = await api('get', '/api/v1/report-schedules', stack.tokens.member);
    expect(listed.body.schedules).toEqual([
      expect.objectContaining({ id, state: 'ACTIVE', paused: false, cron: '0 6 * * MON', timezone: 'Europe/Berlin' }),
    ]);
    const nextRun = Date.parse(listed.body.schedules[0].nextRuns[0] as string);
    expect(nextRun).toBeGreaterThan(Date.now());
    expect(new Date(nextRun).getUTCDay()).toBe(1);

    // Paused with a note, then unpaused.
    const paused = await api('post', `/api/v1/report-schedules/${id}/pause`, stack.tokens.operator).send({
      note: 'closing the books',
    });
    expect(paused.body).toMatchObject({ state: 'PAUSED', paused: true, note: 'closing the books' });
    // Who paused it, and the note, are in the audit log; the Temporal Schedule, which keeps its note in
    // clear, gets a fixed sentence.
    const pausedSchedule = await stack.client.schedule.getHandle(creation.body.scheduleId as string).describe();
    expect(pausedSchedule.state.note).toBe(scheduleNoteForTemporal.paused);
    const pausedAudit = await stack.prisma.auditLog.findFirst({
      where: { tenantId: stack.tenant.id, entityId: id, action: 'report-schedule.paused' },
    });
    expect(pausedAudit).toMatchObject({ details: { note: 'closing the books' } });
    expect(pausedAudit?.actor).toBeTruthy();
    const unpaused = await api('post', `/api/v1/report-schedules/${id}/unpause`, stack.tokens.operator);
    expect(unpaused.body).toMatchObject({ state: 'ACTIVE', paused: false, note: null });

    // Triggered now instead of next Monday: the run makes a report of the schedule, for the week ending now.
    const triggered = await api('post', `/api/v1/report-schedules/${id}/trigger`, stack.tokens.operator);
    expect(triggered.status).toBe(202);
    const report = await eventually(async () => {
      const row = await stack.prisma.report.findFirst({ where: { tenantId: stack.tenant.id, scheduleId: id } });
      return row && ['COMPLETED', 'FAILED', 'CANCELLED'].includes(row.status) ? row : undefined;
    }, 200);
    expect(report).toMatchObject({ status: 'COMPLETED', type: 'payment-discipline', format: 'pdf', notifyEmail });
    expect(report.workflowId.startsWith(`${creation.body.scheduleId as string}-`)).toBe(true);
    // The last full week in the schedule's zone: Berlin Monday midnight to Berlin Monday midnight.
    expect([berlinWallClock(report.periodStart), berlinWallClock(report.periodEnd)]).toEqual([
      'Mon 00:00',
      'Mon 00:00',
    ]);
    expect(report.periodEnd.getTime()).toBeLessThanOrEqual(report.createdAt.getTime());
    const weekHours = (report.periodEnd.getTime() - report.periodStart.getTime()) / 3_600_000;
    expect([167, 168, 169]).toContain(weekHours);

    // The email with its link arrives; the link downloads the PDF without a bearer token.
    const mail = await eventually(() => stack.outbox(notifyEmail).find((message) => message.links.length > 0), 200);
    expect(mail.subject).toContain('payment-discipline');
    const link = mail.links.find((url) => url.includes('/api/v1/downloads/'))!;
    const file = await request(stack.app)
      .get(new URL(link).pathname)
      .buffer(true)
      .parse((res, callback) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => callback(null, Buffer.concat(chunks)));
      });
    expect(file.status).toBe(200);
    expect(file.headers['content-type']).toBe('application/pdf');
    expect((file.body as Buffer).subarray(0, 5).toString()).toBe('%PDF-');
    expect(file.headers.etag).toBe(`"${report.sha256}"`);

    // The schedule shows the run and its report.
    const described = await eventually(async () => {
      const { body } = (await api('get', `/api/v1/report-schedules/${id}`, stack.tokens.member)) as {
        body: { recentRuns: { status: string | null; reportId: string | null }[] };
      };
      return body.recentRuns[0]?.status === 'COMPLETED' ? body : undefined;
    }, 200);
    expect(described.recentRuns[0]).toMatchObject({ reportId: report.id, workflowId: report.workflowId });

    // Deleted: the Schedule and the row go; the report stays.
    const deleted = await api('delete', `/api/v1/report-schedules/${id}`);
    expect(deleted.status).toBe(204);
    expect((await api('get', `/api/v1/report-schedules/${id}`)).status).toBe(404);
    expect((await api('delete', `/api/v1/report-schedules/${id}`)).status).toBe(404);
    await expect(stack.client.schedule.getHandle(creation.body.scheduleId as string).describe()).rejects.toBeInstanceOf(
      ScheduleNotFoundError,
    );
    expect(await stack.prisma.report.findUnique({ where: { id: report.id } })).toMatchObject({ scheduleId: null });
  });

  it("another tenant gets 404 on every route of a tenant's schedule, and does not see it listed", async () => {
    const creation = await createSchedule({ ...weekly, notifyEmail: 'a@example.test' });
    const id = creation.body.id as string;
    const other = stack.tokens.otherAdmin;

    const answers = await Promise.all([
      api('get', `/api/v1/report-schedules/${id}`, other),
      api('post', `/api/v1/report-schedules/${id}/pause`, other),
      api('post', `/api/v1/report-schedules/${id}/unpause`, other),
      api('post', `/api/v1/report-schedules/${id}/trigger`, other),
      api('delete', `/api/v1/report-schedules/${id}`, other),
    ]);
    const list = await api('get', '/api/v1/report-schedules', other);
    const own = await api('get', `/api/v1/report-schedules/${id}`);

    expect(answers.map((answer) => answer.status)).toEqual([404, 404, 404, 404, 404]);
    expect(list.body).toMatchObject({ schedules: [], total: 0 });
    expect(own.body).toMatchObject({ id, state: 'ACTIVE' });
  });

  it('an invalid cron expression or time zone is refused with 422, and no Schedule is made', async () => {
    const refused = async (change: Record<string, unknown>) => {
      const response = await createSchedule({ ...weekly, notifyEmail: 'a@example.test', ...change });
      return { status: response.status, code: response.body.error?.code };
    };

    expect(await refused({ cron: 'every monday' })).toEqual({ status: 422, code: 'INVALID_CRON' });
    expect(await refused({ cron: '0 6 * *' })).toEqual({ status: 422, code: 'INVALID_CRON' });
    expect(await refused({ cron: '0 0 6 * * MON' })).toEqual({ status: 422, code: 'INVALID_CRON' });
    expect(await refused({ cron: '61 6 * * MON' })).toEqual({ status: 422, code: 'INVALID_CRON' });
    expect(await refused({ timezone: 'Mars/Olympus_Mons' })).toEqual({ status: 422, code: 'INVALID_TIMEZONE' });
    expect(await refused({ period: 'fortnight' })).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    expect(
      await stack.prisma.reportSchedule.count({ where: { tenantId: stack.tenant.id, cron: '61 6 * * MON' } }),
    ).toBe(0);
  });

  it('a schedule that would run more than once an hour is refused with 422 SCHEDULE_TOO_FREQUENT', async () => {
    for (const cron of ['* * * * *', '*/5 * * * *', '0,30 6 * * *', '0-9 6 * * MON']) {
      const response = await createSchedule({ ...weekly, notifyEmail: 'a@example.test', cron });
      expect({ cron, status: response.status, code: response.body.error?.code }).toEqual({
        cron,
        status: 422,
        code: 'SCHEDULE_TOO_FREQUENT',
      });
    }
    const hourly = await createSchedule({
      ...weekly,
      notifyEmail: 'a@example.test',
      cron: '15 * * * *',
      period: 'day',
    });
    expect(hourly.status).toBe(201);
    expect(
      await stack.prisma.reportSchedule.count({ where: { tenantId: stack.tenant.id, cron: { in: ['* * * * *'] } } }),
    ).toBe(0);
  });

  it(`a tenant has at most ${MAX_REPORT_SCHEDULES_PER_TENANT} schedules; one more is refused with 409 REPORT_SCHEDULE_LIMIT`, async () => {
    const tenant = await createTestTenant(stack.prisma);
    const admin = await stack.bearer(tenant.id, 'tenant-admin');
    // All but one made directly (no Temporal Schedule needed to count), the last through the API.
    await stack.prisma.reportSchedule.createMany({
      data: Array.from({ length: MAX_REPORT_SCHEDULES_PER_TENANT - 1 }, () => {
        const id = randomUUID();
        return {
          id,
          tenantId: tenant.id,
          type: 'order-volume',
          format: 'csv',
          cron: '0 6 * * MON',
          timezone: 'UTC',
          period: 'week',
          scheduleId: reportScheduleId(tenant.id, id),
        };
      }),
    });
    const lastKey = randomUUID();
    const body = { ...weekly, notifyEmail: 'a@example.test' };

    const last = await createSchedule(body, lastKey, admin);
    const oneMore = await createSchedule(body, randomUUID(), admin);
    const repeatOfLast = await createSchedule(body, lastKey, admin);

    expect(last.status).toBe(201);
    expect(oneMore.status).toBe(409);
    expect(oneMore.body.error).toMatchObject({
      code: 'REPORT_SCHEDULE_LIMIT',
      details: { limit: MAX_REPORT_SCHEDULES_PER_TENANT },
    });
    // A repeat of a request already answered is not a new schedule, so the cap does not refuse it.
    expect(repeatOfLast.status).toBe(200);
    expect(await stack.prisma.reportSchedule.count({ where: { tenantId: tenant.id } })).toBe(
      MAX_REPORT_SCHEDULES_PER_TENANT,
    );
    // Another tenant's schedules do not count against this one.
    expect((await createSchedule(body)).status).toBe(201);
  });

  it('a repeated request with the same Idempotency-Key answers the same schedule; another body under it is refused', async () => {
    const key = randomUUID();
    const body = { ...weekly, notifyEmail: 'a@example.test', cron: '30 7 * * *', period: 'day' };

    const first = await createSchedule(body, key);
    const repeat = await createSchedule(body, key);
    const other = await createSchedule({ ...body, cron: '30 8 * * *' }, key);

    expect(first.status).toBe(201);
    expect(repeat.status).toBe(200);
    expect(repeat.headers['idempotent-replayed']).toBe('true');
    expect(repeat.body.id).toBe(first.body.id);
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('only a tenant admin creates or deletes a schedule; a member reads them', async () => {
    const byOperator = await createSchedule(
      { ...weekly, notifyEmail: 'a@example.test' },
      randomUUID(),
      stack.tokens.operator,
    );
    const list = await api('get', '/api/v1/report-schedules', stack.tokens.member);

    expect(byOperator.status).toBe(403);
    expect(list.status).toBe(200);
  });
});
