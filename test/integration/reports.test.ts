import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { createReportActivities } from '../../activities/reports';
import { reportTypes } from '../../domain/reports';
import type { PrismaClient } from '../../lib/db';
import { createLocalFileStore } from '../../lib/file-store';
import { useApiStack } from '../support/api-stack';
import { eventually } from '../support/eventually';
import { lockTable } from '../support/export-data';
import { createTestTenant } from '../support/stack';

/**
 * Reports end to end: the API, a real worker (interactive and reports queues), PostgreSQL and the
 * local file store, over a fixture whose numbers are worked out by hand below.
 */

const filesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'holdfast-reports-'));
const artifactsDir = path.resolve(__dirname, '../../test-artifacts');

const stack = useApiStack({ worker: true, config: { FILE_STORE_DIR: filesDir } });

afterAll(() => fs.rmSync(filesDir, { recursive: true, force: true }));

const NOVEMBER = { from: '2026-11-01', to: '2026-11-30' };
const at = (iso: string) => new Date(iso);

/**
 * Two retailers and six orders:
 *  - O1 Annapurna, placed 11-02, 1,200.00, due 11-17, paid in full 11-10 (on time);
 *  - O2 Annapurna, placed 11-02, 800.00, due 11-18, 300.00 paid 11-20, the rest unpaid (past due);
 *  - O3 Bhaktapur, placed 11-05, 500.00, due 11-20, paid 11-25 (late);
 *  - O4 Bhaktapur, placed 11-05, 300.00, cancelled (counted as cancelled, not in the value);
 *  - O5 Bhaktapur, placed 11-20, 700.00, due 12-05, unpaid (not yet due);
 *  - O6 Annapurna, placed 08-01, 400.00, due 08-16, unpaid (107 days past due on 12-01).
 */
async function seedOrders(prisma: PrismaClient, tenantId: string) {
  const retailer = (name: string, contact: string, creditLimit: number, creditScore: number) =>
    prisma.retailer.create({ data: { tenantId, name, channel: 'EMAIL', contact, creditLimit, creditScore } });
  const annapurna = await retailer('Annapurna Traders', 'a@example.test', 500_000, 700);
  const bhaktapur = await retailer('Bhaktapur Mart', 'b@example.test', 200_000, 550);
  const order = async (
    retailerId: string,
    total: number,
    fields: {
      createdAt: string;
      status: 'PAID' | 'DELIVERED' | 'CANCELLED';
      deliveredAt?: string;
      dueDate?: string;
      paidAt?: string;
    },
    payments: { amount: number; receivedAt: string }[] = [],
  ) => {
    const row = await prisma.order.create({
      data: {
        tenantId,
        retailerId,
        items: [{ sku: 'RICE-5', name: 'Rice', category: 'grocery', quantity: 1, unitPrice: total }],
        total,
        deliveryRegion: 'kathmandu',
        requestHash: randomUUID(),
        status: fields.status,
        createdAt: at(fields.createdAt),
        ...(fields.deliveredAt ? { deliveredAt: at(fields.deliveredAt) } : {}),
        ...(fields.dueDate ? { dueDate: at(fields.dueDate) } : {}),
        ...(fields.paidAt ? { paidAt: at(fields.paidAt) } : {}),
      },
    });
    for (const payment of payments) {
      await prisma.payment.create({
        data: {
          tenantId,
          orderId: row.id,
          amount: payment.amount,
          reference: randomUUID(),
          receivedAt: at(payment.receivedAt),
          recordedBy: 'test',
        },
      });
    }
  };
  // Every order is due 14 days after its delivery (the retailers' payment terms).
  const dueAfter = (deliveredAt: string) => new Date(at(deliveredAt).getTime() + 14 * 86_400_000).toISOString();
  /** An order placed at `createdAt` and delivered at `deliveredAt`, with the payments received for it. */
  const delivered = (
    retailerId: string,
    total: number,
    [createdAt, deliveredAt]: [string, string],
    payments: { amount: number; receivedAt: string }[] = [],
  ) =>
    order(retailerId, total, { createdAt, status: 'DELIVERED', deliveredAt, dueDate: dueAfter(deliveredAt) }, payments);
  /** A delivered order paid in full, in one payment, at `paidAt`. */
  const paidInFull = (retailerId: string, total: number, [createdAt, deliveredAt, paidAt]: [string, string, string]) =>
    order(retailerId, total, { createdAt, status: 'PAID', deliveredAt, dueDate: dueAfter(deliveredAt), paidAt }, [
      { amount: total, receivedAt: paidAt },
    ]);
  // [placed, delivered(, paid)]
  await paidInFull(annapurna.id, 120_000, ['2026-11-02T09:00:00Z', '2026-11-03T10:00:00Z', '2026-11-10T12:00:00Z']);
  await delivered(
    annapurna.id,
    80_000,
    ['2026-11-02T15:00:00Z', '2026-11-04T10:00:00Z'],
    [{ amount: 30_000, receivedAt: '2026-11-20T09:00:00Z' }],
  );
  await paidInFull(bhaktapur.id, 50_000, ['2026-11-05T10:00:00Z', '2026-11-06T10:00:00Z', '2026-11-25T10:00:00Z']);
  await order(bhaktapur.id, 30_000, { createdAt: '2026-11-05T11:00:00Z', status: 'CANCELLED' });
  await delivered(bhaktapur.id, 70_000, ['2026-11-20T08:00:00Z', '2026-11-21T10:00:00Z']);
  await delivered(annapurna.id, 40_000, ['2026-08-01T08:00:00Z', '2026-08-02T10:00:00Z']);
}

async function requestReport(body: Record<string, unknown>, token = stack.tokens.operator) {
  const response = await request(stack.app)
    .post('/api/v1/reports')
    .set('Authorization', token)
    .set('Idempotency-Key', randomUUID())
    .send(body);
  expect(response.status).toBe(202);
  return response.body as { reportId: string; workflowId: string };
}

/** A report as GET /reports/:id answers it, as far as these tests read it. */
type ReportAnswer = { status: string; file: { sha256: string } | null } & Record<string, unknown>;
/** A JSON report file. */
type ReportDocument = { rows: Record<string, string | number>[]; totals: Record<string, string | number> } & Record<
  string,
  unknown
>;

/** The report once it has ended, whichever way. */
const finishedReport = (reportId: string, token = stack.tokens.member) =>
  eventually(async () => {
    const { body } = (await request(stack.app).get(`/api/v1/reports/${reportId}`).set('Authorization', token)) as {
      body: ReportAnswer;
    };
    return ['COMPLETED', 'FAILED', 'CANCELLED'].includes(body.status) ? body : undefined;
  }, 200);

const download = (reportId: string, token = stack.tokens.member) =>
  request(stack.app)
    .get(`/api/v1/reports/${reportId}/download`)
    .set('Authorization', token)
    .buffer(true)
    .parse((res, callback) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => callback(null, Buffer.concat(chunks)));
    });

type ErrorBody = { error: { code: string } };

/** The bytes of a download (the parser above collects them). */
const bytesOf = (response: { body: unknown }) => response.body as Buffer;

/** Every day of November 2026 as a CSV line of zeros, with the given days' lines in their place. */
function novemberLines(columns: number, days: Record<string, string>): string[] {
  return Array.from({ length: 30 }, (_, index) => {
    const day = `2026-11-${String(index + 1).padStart(2, '0')}`;
    return days[day] ?? [day, ...Array<string>(columns - 1).fill('0')].join(',');
  });
}

/**
 * A slot with three people (two joined 11-03, one 11-10) and their offers: confirmed 11-04,
 * declined 11-05, expired 11-11; and five notifications over two days and three channels.
 */
async function seedWaitlistAndNotifications(prisma: PrismaClient, tenantId: string) {
  const slot = await prisma.slot.create({ data: { tenantId, name: 'Dr. Lee, Tue 14:30' } });
  const entry = (joinedAt: string) =>
    prisma.waitlistEntry.create({
      data: {
        tenantId,
        slotId: slot.id,
        customerName: 'Ana',
        email: `${randomUUID()}@example.test`,
        joinedAt: at(joinedAt),
      },
    });
  const [ana, ben, cai] = [
    await entry('2026-11-03T09:00:00Z'),
    await entry('2026-11-03T10:00:00Z'),
    await entry('2026-11-10T09:00:00Z'),
  ];
  const hold = (
    entryId: string,
    round: number,
    createdAt: string,
    status: 'CONFIRMED' | 'DECLINED' | 'EXPIRED',
    ended: string,
  ) =>
    prisma.hold.create({
      data: {
        tenantId,
        slotId: slot.id,
        entryId,
        cascadeId: `waitlist:${tenantId}:${slot.id}`,
        round,
        status,
        tokenHash: randomUUID(),
        createdAt: at(createdAt),
        expiresAt: status === 'EXPIRED' ? at(ended) : at('2026-11-30T00:00:00Z'),
        ...(status === 'EXPIRED' ? {} : { respondedAt: at(ended) }),
      },
    });
  await hold(ana.id, 1, '2026-11-04T09:00:00Z', 'CONFIRMED', '2026-11-04T09:30:00Z');
  await hold(ben.id, 2, '2026-11-04T11:00:00Z', 'DECLINED', '2026-11-05T08:00:00Z');
  await hold(cai.id, 3, '2026-11-11T09:00:00Z', 'EXPIRED', '2026-11-11T12:00:00Z');
  const notification = (
    channel: 'EMAIL' | 'SMS' | 'WHATSAPP',
    status: 'SENT' | 'FAILED' | 'CANCELLED' | 'PENDING',
    createdAt: string,
  ) =>
    prisma.notification.create({
      data: {
        tenantId,
        channel,
        status,
        recipient: channel === 'EMAIL' ? 'ana@example.test' : '+14155550101',
        template: 'generic.message',
        idempotencyKey: `${tenantId}:report-fixture:${randomUUID()}`,
        createdAt: at(createdAt),
      },
    });
  await notification('EMAIL', 'SENT', '2026-11-02T09:00:00Z');
  await notification('EMAIL', 'FAILED', '2026-11-02T10:00:00Z');
  await notification('SMS', 'SENT', '2026-11-02T11:00:00Z');
  await notification('EMAIL', 'CANCELLED', '2026-11-09T09:00:00Z');
  await notification('WHATSAPP', 'PENDING', '2026-11-09T10:00:00Z');
}

describe('reports', () => {
  beforeAll(async () => {
    await seedOrders(stack.prisma, stack.tenant.id);
    await seedWaitlistAndNotifications(stack.prisma, stack.tenant.id);
  });

  it('a waitlist-activity JSON report counts, per day, people joining, offers made and how the offers ended', async () => {
    const { reportId } = await requestReport({ type: 'waitlist-activity', format: 'json', filters: NOVEMBER });

    await finishedReport(reportId);
    const content = JSON.parse(bytesOf(await download(reportId)).toString('utf8')) as ReportDocument;

    const active = content.rows.filter((row) =>
      ['joined', 'offered', 'confirmed', 'declined', 'expired'].some((key) => row[key] !== 0),
    );
    expect(content.rows).toHaveLength(30);
    expect(active).toEqual([
      { day: '2026-11-03', joined: 2, offered: 0, confirmed: 0, declined: 0, expired: 0 },
      { day: '2026-11-04', joined: 0, offered: 2, confirmed: 1, declined: 0, expired: 0 },
      { day: '2026-11-05', joined: 0, offered: 0, confirmed: 0, declined: 1, expired: 0 },
      { day: '2026-11-10', joined: 1, offered: 0, confirmed: 0, declined: 0, expired: 0 },
      { day: '2026-11-11', joined: 0, offered: 1, confirmed: 0, declined: 0, expired: 1 },
    ]);
    expect(content.totals).toEqual({ day: 'Total', joined: 3, offered: 3, confirmed: 1, declined: 1, expired: 1 });
  });

  it('a notifications CSV report has a line per day and channel with messages sent, failed, cancelled and pending', async () => {
    const { reportId } = await requestReport({ type: 'notifications', format: 'csv', filters: NOVEMBER });

    await finishedReport(reportId);
    const csv = bytesOf(await download(reportId)).toString('utf8');

    expect(csv).toBe(
      [
        'day,channel,sent,failed,cancelled,pending',
        '2026-11-02,EMAIL,1,1,0,0',
        '2026-11-02,SMS,1,0,0,0',
        '2026-11-09,EMAIL,0,0,1,0',
        '2026-11-09,WHATSAPP,0,0,0,1',
        '',
      ].join('\r\n'),
    );
  });

  it('an order-volume CSV report has one line per day of the period, with the orders placed, their statuses and value', async () => {
    const { reportId, workflowId } = await requestReport({ type: 'order-volume', format: 'csv', filters: NOVEMBER });
    expect(workflowId).toBe(`report:${stack.tenant.id}:${reportId}`);

    const report = await finishedReport(reportId);
    const file = await download(reportId);

    expect(report).toMatchObject({
      status: 'COMPLETED',
      progress: { percent: 100, rowsDone: 30, rowsTotal: 30, etaSeconds: 0 },
    });
    expect(file.status).toBe(200);
    expect(file.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(file.headers.etag).toBe(`"${report.file?.sha256}"`);
    expect((file.body as Buffer).toString('utf8')).toBe(
      [
        'day,placed,open,dispatched,delivered,paid,rejected,cancelled,value',
        ...novemberLines(9, {
          '2026-11-02': '2026-11-02,2,0,0,1,1,0,0,200000',
          // O3 paid 500.00 and O4 cancelled 300.00: the value is O3's alone.
          '2026-11-05': '2026-11-05,2,0,0,0,1,0,1,50000',
          '2026-11-20': '2026-11-20,1,0,0,1,0,0,0,70000',
        }),
      ].join('\r\n') + '\r\n',
    );
  });

  it('a payment-discipline JSON report counts, per due week, payments on time, late and past due with the unpaid amount', async () => {
    const { reportId } = await requestReport({ type: 'payment-discipline', format: 'json', filters: NOVEMBER });

    await finishedReport(reportId);
    const content = JSON.parse(bytesOf(await download(reportId)).toString('utf8')) as ReportDocument;

    const quietWeek = (week: string) => ({
      week,
      due: 0,
      onTime: 0,
      late: 0,
      outstanding: 0,
      notYetDue: 0,
      onTimeRate: '',
      outstandingAmount: 0,
    });
    expect(content).toMatchObject({
      reportId,
      type: 'payment-discipline',
      title: 'Payment discipline',
      tenant: stack.tenant.name,
      period: { from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z' },
    });
    const weekOfNovember16 = {
      due: 3,
      onTime: 1,
      late: 1,
      outstanding: 1,
      notYetDue: 0,
      onTimeRate: 33.3,
      outstandingAmount: 50_000,
    };
    expect(content.rows).toEqual([
      quietWeek('2026-10-26'),
      quietWeek('2026-11-02'),
      quietWeek('2026-11-09'),
      { week: '2026-11-16', ...weekOfNovember16 },
      quietWeek('2026-11-23'),
      quietWeek('2026-11-30'),
    ]);
    // Only that week had orders due, so the totals are its figures.
    expect(content.totals).toEqual({ week: 'Total', ...weekOfNovember16 });
  });

  it('a period ending in the future judges payments as of the request: orders due later are not yet due, not past due', async () => {
    // A tenant of its own, with dates around now, so the numbers do not depend on the day the suite runs.
    const tenant = await createTestTenant(stack.prisma);
    const operator = await stack.bearer(tenant.id, 'operator');
    const retailer = await stack.prisma.retailer.create({
      data: {
        tenantId: tenant.id,
        name: 'Chitwan Stores',
        channel: 'EMAIL',
        contact: 'c@example.test',
        creditLimit: 100_000,
        creditScore: 600,
      },
    });
    const day = 86_400_000;
    const now = Date.now();
    const order = (total: number, dueDate: Date, paidAt?: Date) =>
      stack.prisma.order.create({
        data: {
          tenantId: tenant.id,
          retailerId: retailer.id,
          items: [{ sku: 'TEA-1', name: 'Tea', category: 'grocery', quantity: 1, unitPrice: total }],
          total,
          deliveryRegion: 'chitwan',
          requestHash: randomUUID(),
          status: paidAt ? 'PAID' : 'DELIVERED',
          createdAt: new Date(dueDate.getTime() - 15 * day),
          deliveredAt: new Date(dueDate.getTime() - 14 * day),
          dueDate,
          ...(paidAt ? { paidAt } : {}),
        },
      });
    // Past due: 100.00 due two days ago, unpaid. A payment filed under another tenant does not count for it.
    const pastDue = await order(10_000, new Date(now - 2 * day));
    await stack.prisma.payment.create({
      data: {
        tenantId: stack.otherTenant.id,
        orderId: pastDue.id,
        amount: 4_000,
        reference: randomUUID(),
        receivedAt: new Date(now - day),
        recordedBy: 'test',
      },
    });
    // Not yet due: 200.00 due in ten days. On time: 50.00 due yesterday, paid three days ago.
    await order(20_000, new Date(now + 10 * day));
    const onTime = await order(5_000, new Date(now - day), new Date(now - 3 * day));
    await stack.prisma.payment.create({
      data: {
        tenantId: tenant.id,
        orderId: onTime.id,
        amount: 5_000,
        reference: randomUUID(),
        receivedAt: new Date(now - 3 * day),
        recordedBy: 'test',
      },
    });
    const dateOf = (instant: number) => new Date(instant).toISOString().slice(0, 10);

    const { reportId } = await requestReport(
      {
        type: 'payment-discipline',
        format: 'json',
        filters: { from: dateOf(now - 7 * day), to: dateOf(now + 20 * day) },
      },
      operator,
    );
    expect(await finishedReport(reportId, operator)).toMatchObject({ status: 'COMPLETED' });
    const content = JSON.parse(bytesOf(await download(reportId, operator)).toString('utf8')) as ReportDocument;

    expect(content.totals).toEqual({
      week: 'Total',
      due: 3,
      onTime: 1,
      late: 0,
      outstanding: 1,
      notYetDue: 1,
      onTimeRate: 50,
      outstandingAmount: 10_000,
    });
  });

  it('a PDF report names its title, tenant and period, shows its totals, and draws a chart (page 1 rendered to test-artifacts/)', async () => {
    const pdftotext = spawnSync('pdftotext', ['-v']);
    if (pdftotext.error) {
      throw new Error(
        'pdftotext is missing: install poppler-utils (apt-get install -y poppler-utils) to check PDF reports',
      );
    }
    const { reportId } = await requestReport({ type: 'outstanding-liability', format: 'pdf', filters: NOVEMBER });

    const report = await finishedReport(reportId);
    const file = await download(reportId);

    expect(report.status).toBe('COMPLETED');
    expect(file.headers['content-type']).toBe('application/pdf');
    fs.mkdirSync(artifactsDir, { recursive: true });
    const pdfPath = path.join(artifactsDir, 'report-outstanding-liability.pdf');
    fs.writeFileSync(pdfPath, file.body as Buffer);
    const text = spawnSync('pdftotext', ['-layout', pdfPath, '-'], { encoding: 'utf8' }).stdout;
    expect(text).toContain('Outstanding liability');
    expect(text).toContain(stack.tenant.name);
    expect(text).toContain('Period: 2026-11-01 – 2026-11-30 (UTC)');
    expect(text).toContain('Unpaid amounts per retailer by days past due');
    // Annapurna: 500.00 at 13 days past due and 400.00 at 107; Bhaktapur: 700.00 not yet due.
    expect(text).toMatch(/Annapurna Traders\s+500\.00\s+0\.00\s+0\.00\s+400\.00\s+900\.00/);
    expect(text).toMatch(/Bhaktapur Mart\s+700\.00\s+0\.00\s+0\.00\s+0\.00\s+700\.00/);
    expect(text).toMatch(/Total\s+1,200\.00\s+0\.00\s+0\.00\s+400\.00\s+1,600\.00/);
    const rendered = spawnSync('pdftoppm', [
      '-png',
      '-r',
      '60',
      '-f',
      '1',
      '-l',
      '1',
      pdfPath,
      path.join(artifactsDir, 'report-outstanding-liability'),
    ]);
    expect(rendered.status).toBe(0);
  });

  it('the same data renders the same PDF bytes: the creation date is the report request time', async () => {
    const { reportId } = await requestReport({ type: 'order-volume', format: 'pdf', filters: NOVEMBER });
    await finishedReport(reportId);
    const first = await download(reportId);
    const row = await stack.prisma.report.findUniqueOrThrow({ where: { id: reportId } });

    // A second generation of the same row (as a retry would run it) writes the same bytes.
    const again = await createReportActivities({
      prisma: stack.prisma,
      files: createLocalFileStore(filesDir),
    }).generateReport({ tenantId: stack.tenant.id, reportId });

    expect(again.sha256).toBe(row.sha256);
    expect(again.bytes).toBe((first.body as Buffer).length);
  });

  it.each(reportTypes)('%s reports complete in every format: csv, json and pdf', async (type) => {
    const reports = [];
    for (const format of ['csv', 'json', 'pdf']) {
      reports.push(await requestReport({ type, format, filters: NOVEMBER }));
    }
    for (const { reportId } of reports) {
      expect(await finishedReport(reportId)).toMatchObject({ status: 'COMPLETED', error: null });
    }
    // Kept for a look at each type's chart: test-artifacts/report-<type>.pdf.
    fs.mkdirSync(artifactsDir, { recursive: true });
    fs.writeFileSync(
      path.join(artifactsDir, `report-${type}.pdf`),
      (await download(reports[2]!.reportId)).body as Buffer,
    );
  });

  it('a repeated request with the same Idempotency-Key answers the same report; another body under it is refused', async () => {
    const key = randomUUID();
    const body = { type: 'credit-summary', format: 'csv' };
    const send = (payload: object) =>
      request(stack.app)
        .post('/api/v1/reports')
        .set('Authorization', stack.tokens.operator)
        .set('Idempotency-Key', key)
        .send(payload);

    const first = await send(body);
    const repeat = await send(body);
    const other = await send({ ...body, format: 'json' });

    expect(first.status).toBe(202);
    expect(repeat.status).toBe(202);
    expect(repeat.headers['idempotent-replayed']).toBe('true');
    expect(repeat.body).toEqual(first.body);
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('a period without from covers the 30 days before to; more than 366 days, from after to, or another tenant’s retailer is refused with 422', async () => {
    const { reportId } = await requestReport({ type: 'notifications', format: 'csv', filters: { to: '2026-11-30' } });
    const row = await stack.prisma.report.findUniqueOrThrow({ where: { id: reportId } });
    const refused = async (filters: object) => {
      const response = await request(stack.app)
        .post('/api/v1/reports')
        .set('Authorization', stack.tokens.operator)
        .set('Idempotency-Key', randomUUID())
        .send({ type: 'order-volume', format: 'csv', filters });
      return { status: response.status, code: response.body.error?.code };
    };

    expect(row.periodStart.toISOString()).toBe('2026-11-01T00:00:00.000Z');
    expect(row.periodEnd.toISOString()).toBe('2026-12-01T00:00:00.000Z');
    expect(await refused({ from: '2025-01-01', to: '2026-11-30' })).toEqual({ status: 422, code: 'INVALID_PERIOD' });
    expect(await refused({ from: '2026-12-01', to: '2026-11-01' })).toEqual({ status: 422, code: 'INVALID_PERIOD' });
    expect(await refused({ slotId: randomUUID() })).toEqual({ status: 422, code: 'FILTER_NOT_APPLICABLE' });
    expect(await refused({ retailerId: randomUUID() })).toEqual({ status: 422, code: 'UNKNOWN_RETAILER' });
    expect(await refused({ from: 'yesterday' })).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
  });

  it('a report not yet completed is 409 to download; one past its retention is 410', async () => {
    const row = (status: 'QUEUED' | 'COMPLETED', expiresAt?: Date) =>
      stack.prisma.report.create({
        data: {
          tenantId: stack.tenant.id,
          type: 'order-volume',
          format: 'csv',
          periodStart: at('2026-11-01T00:00:00Z'),
          periodEnd: at('2026-12-01T00:00:00Z'),
          status,
          workflowId: `report:${stack.tenant.id}:${randomUUID()}`,
          ...(expiresAt ? { expiresAt, fileKey: 'x', fileBytes: 1n, contentType: 'text/csv' } : {}),
        },
      });
    const queued = await row('QUEUED');
    const expired = await row('COMPLETED', at('2026-01-01T00:00:00Z'));

    const notReady = await download(queued.id);
    const gone = await download(expired.id);
    const link = await request(stack.app)
      .post(`/api/v1/reports/${expired.id}/link`)
      .set('Authorization', stack.tokens.member);

    expect([notReady.status, (JSON.parse(bytesOf(notReady).toString()) as ErrorBody).error.code]).toEqual([
      409,
      'REPORT_NOT_READY',
    ]);
    expect([gone.status, (JSON.parse(bytesOf(gone).toString()) as ErrorBody).error.code]).toEqual([
      410,
      'REPORT_EXPIRED',
    ]);
    expect(link.status).toBe(410);
  });

  it("another tenant's report is 404 on every route, and its list does not show it", async () => {
    const { reportId } = await requestReport({ type: 'credit-summary', format: 'csv' });
    await finishedReport(reportId);
    const other = stack.tokens.otherAdmin;

    const answers = await Promise.all([
      request(stack.app).get(`/api/v1/reports/${reportId}`).set('Authorization', other),
      download(reportId, other),
      request(stack.app).post(`/api/v1/reports/${reportId}/cancel`).set('Authorization', other),
      request(stack.app).post(`/api/v1/reports/${reportId}/link`).set('Authorization', other),
    ]);
    const list = await request(stack.app).get('/api/v1/reports').set('Authorization', other);

    expect(answers.map((answer) => answer.status)).toEqual([404, 404, 404, 404]);
    expect(list.body).toMatchObject({ reports: [], total: 0 });
  });

  it('a signed link downloads a credit-summary CSV without a bearer token: limits, scores, orders in the period, outstanding', async () => {
    const { reportId } = await requestReport({ type: 'credit-summary', format: 'csv', filters: NOVEMBER });
    const report = await finishedReport(reportId);

    const link = await request(stack.app)
      .post(`/api/v1/reports/${reportId}/link`)
      .set('Authorization', stack.tokens.member);
    const url = new URL(link.body.url as string);
    const file = await request(stack.app).get(url.pathname);

    expect(link.status).toBe(201);
    expect(Date.parse(link.body.expiresAt as string)).toBeGreaterThan(Date.now());
    expect(file.status).toBe(200);
    expect(file.headers.etag).toBe(`"${report.file?.sha256}"`);
    // Outstanding as the credit check counts it: Annapurna 800.00 − 300.00 + 400.00, Bhaktapur 700.00.
    expect(file.text).toBe(
      [
        'retailer,creditLimit,creditScore,orders,value,outstanding,utilisation',
        'Annapurna Traders,500000,700,2,200000,90000,18',
        'Bhaktapur Mart,200000,550,3,150000,70000,35',
        '',
      ].join('\r\n'),
    );
  });

  it('a completed report cannot be cancelled (409); the list shows the tenant its reports, newest first', async () => {
    const { reportId } = await requestReport({ type: 'credit-summary', format: 'json' });
    await finishedReport(reportId);

    const cancel = await request(stack.app)
      .post(`/api/v1/reports/${reportId}/cancel`)
      .set('Authorization', stack.tokens.operator);
    const list = await request(stack.app).get('/api/v1/reports?limit=1').set('Authorization', stack.tokens.member);

    expect(cancel.status).toBe(409);
    expect(cancel.body.error.code).toBe('REPORT_FINISHED');
    expect(list.body).toMatchObject({ limit: 1, offset: 0, reports: [{ id: reportId, status: 'COMPLETED' }] });
  });

  it('cancelling a running report stops it: the row ends CANCELLED and nothing of its file is left in the store', async () => {
    // The orders table is locked, so the report's query waits: the report is caught running.
    const lock = await lockTable(stack.config.databaseUrl!, 'Order');
    let reportId: string;
    try {
      ({ reportId } = await requestReport({ type: 'order-volume', format: 'csv', filters: NOVEMBER }));
      await eventually(async () => {
        const row = await stack.prisma.report.findUniqueOrThrow({ where: { id: reportId } });
        return row.status === 'RUNNING';
      }, 100);

      const cancel = await request(stack.app)
        .post(`/api/v1/reports/${reportId}/cancel`)
        .set('Authorization', stack.tokens.operator);
      expect(cancel.status).toBe(202);
      expect(await finishedReport(reportId)).toMatchObject({ status: 'CANCELLED', file: null });
    } finally {
      await lock.release();
    }
    const again = await request(stack.app)
      .post(`/api/v1/reports/${reportId}/cancel`)
      .set('Authorization', stack.tokens.operator);
    const reportsDir = path.join(filesDir, stack.tenant.id, 'reports');

    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ status: 'CANCELLED', cancelRequested: false });
    const stored = fs.existsSync(reportsDir) ? fs.readdirSync(reportsDir) : [];
    expect(stored.filter((file) => file.startsWith(reportId))).toEqual([]);
  });
});
