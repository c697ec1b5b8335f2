import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { MockActivityEnvironment } from '@temporalio/testing';
import request from 'supertest';
import { createCleanupActivities } from '../../activities/cleanup';
import { createExportActivities } from '../../activities/exports';
import { fileJobSettings } from '../../activities';
import { announceFileReady } from '../../activities/file-deliveries';
import { createLocalFileStore } from '../../lib/file-store';
import type { ExpiredFiles } from '../../workflows/cleanup.contract';
import { signDownloadToken } from '../../lib/download-links';
import { exportStateQuery, exportWorkflowId } from '../../workflows/export.contract';
import { BusinessKeyKey, TenantIdKey } from '../../workflows/search-attributes';
import { useApiStack } from '../support/api-stack';
import { eventually } from '../support/eventually';
import { lockTable, orderIdOf, seedOrders, seedRetailer } from '../support/export-data';

const filesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'holdfast-exports-'));

const stack = useApiStack({
  worker: true,
  mail: 'memory',
  // Free tenants run one export at a time (the lane's cap), and pages of 1,000 rows.
  config: {
    FILE_STORE_DIR: filesDir,
    EXPORT_PAGE_SIZE: '1000',
    EXPORTS_PER_TENANT: 'free=1,professional=2,enterprise=3',
  },
});

const ORDERS = 100_000;
const CANCEL_REQUESTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED;

async function startExport(token: string, body: Record<string, unknown>) {
  const response = await request(stack.app)
    .post('/api/v1/exports')
    .set('Authorization', token)
    .set('Idempotency-Key', randomUUID())
    .send(body);
  expect(response.status).toBe(202);
  return response.body as { exportId: string; workflowId: string };
}

/** An export as `GET /exports/:id` shows it (the fields these tests read). */
interface ExportView {
  status: string;
  placeInLine?: number | null;
  startedAt: string;
  progress: { rowsDone: number; rowsTotal: number | null; percent: number | null };
  file: { bytes: number } | null;
}

const getExport = async (exportId: string, token = stack.tokens.member) => {
  const response = await request(stack.app).get(`/api/v1/exports/${exportId}`).set('Authorization', token);
  return { status: response.status, body: response.body as ExportView };
};

async function exportIn(exportId: string, ...statuses: string[]) {
  return eventually(async () => {
    const { body } = await getExport(exportId);
    return statuses.includes(body.status) ? body : undefined;
  });
}

/** Waits until the export's writer has reported a checkpoint: the row shows rows done. */
const exportWithCheckpoint = (exportId: string) =>
  eventually(async () => {
    const row = await stack.prisma.export.findUniqueOrThrow({ where: { id: exportId } });
    return row.rowsDone > 0 && row.checkpoint ? row : undefined;
  });

const storedFiles = (tenantId: string) =>
  fs.existsSync(path.join(filesDir, tenantId, 'exports'))
    ? fs.readdirSync(path.join(filesDir, tenantId, 'exports'))
    : [];

afterAll(() => fs.rmSync(filesDir, { recursive: true, force: true }));

describe('exports', () => {
  beforeAll(async () => {
    await seedOrders(stack.prisma, stack.tenant.id, ORDERS);
    await seedOrders(stack.prisma, stack.otherTenant.id, 5);
  });

  it('exports 100,000 orders to CSV in bounded memory: every row once, escaped, and only the tenant’s', async () => {
    const { exportId, workflowId } = await startExport(stack.tokens.operator, { entities: ['orders'], format: 'csv' });
    expect(workflowId).toBe(exportWorkflowId(stack.tenant.id, exportId));

    const done = await exportIn(exportId, 'COMPLETED', 'FAILED');
    console.log(
      `peak RSS of the test process (API + worker) after a ${ORDERS}-row export: ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB`,
    );

    expect(done).toMatchObject({
      status: 'COMPLETED',
      progress: { rowsDone: ORDERS, rowsTotal: ORDERS, percent: 100 },
      file: { contentType: 'text/csv; charset=utf-8', download: `/api/v1/exports/${exportId}/download` },
    });
    const download = await request(stack.app)
      .get(`/api/v1/exports/${exportId}/download`)
      .set('Authorization', stack.tokens.member)
      .buffer(true)
      .parse((res, callback) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => callback(null, Buffer.concat(chunks)));
      });
    expect(download.status).toBe(200);
    expect(download.headers['content-disposition']).toMatch(/^attachment; filename="export-.*\.csv"$/);
    const text = (download.body as Buffer).toString('utf8');
    expect(download.body.length).toBe(done.file!.bytes);
    const lines = text.split('\r\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(ORDERS + 1);
    expect(lines[0]).toBe(
      'entity,id,retailerId,vendorId,status,statusReason,total,deliveryRegion,clientOrderRef,items,dispatchedAt,deliveredAt,dueDate,paidAt,createdAt,updatedAt',
    );
    const orderLine = async (n: number) => {
      const id = await orderIdOf(stack.prisma, stack.tenant.id, n);
      return lines.find((line) => line.startsWith(`orders,${id},`));
    };
    const retailerId = (await stack.prisma.order.findFirstOrThrow({ where: { tenantId: stack.tenant.id } })).retailerId;
    expect(await orderLine(1)).toBe(
      `orders,${await orderIdOf(stack.prisma, stack.tenant.id, 1)},${retailerId},,PENDING,"'=HYPERLINK(""http://x"")",1,region-1,,"[{""sku"":""RICE-5"",""quantity"":1}]",,,,,2026-01-01T00:00:01.000Z,2026-01-01T00:00:01.000Z`,
    );
    expect(await orderLine(2)).toContain(`,2,"north, ""upper""",`);
    expect(await orderLine(ORDERS)).toContain(`,${ORDERS},region-${ORDERS % 7},`);
    // Rows come in key order: a keyset walk writes each row exactly once.
    const ids = lines.slice(1).map((line) => line.split(',')[1]!);
    expect(new Set(ids).size).toBe(ORDERS);
    expect([...ids].sort()).toEqual(ids);
    for (let n = 1; n <= 5; n += 1) {
      expect(text).not.toContain(await orderIdOf(stack.prisma, stack.otherTenant.id, n));
    }
  });

  it('publishes export.completed and emails a signed link that downloads the file without a bearer token', async () => {
    const { exportId } = await startExport(stack.tokens.operator, {
      entities: ['retailers', 'orders'],
      format: 'ndjson',
      filters: { from: '2026-01-01T00:00:00Z', to: '2026-01-01T00:00:04Z' },
      notifyEmail: 'exports@example.test',
    });

    const done = await exportIn(exportId, 'COMPLETED', 'FAILED');

    expect(done.status).toBe('COMPLETED');
    // Three seeded orders were created in the window (1 s, 2 s, 3 s); the retailer was created now.
    expect(done.progress.rowsDone).toBe(3);
    const event = await eventually(() =>
      stack.prisma.outboxEvent.findFirst({
        where: { tenantId: stack.tenant.id, type: 'export.completed', subjectId: exportId },
      }),
    );
    expect(event.payload).toEqual({
      id: exportId,
      kind: 'export',
      format: 'ndjson',
      bytes: done.file!.bytes,
      rows: 3,
      entities: ['orders', 'retailers'],
    });
    const mail = await eventually(() =>
      stack.mails.find((m) => m.to === 'exports@example.test' && m.text.includes(exportId)),
    );
    const url = /https?:\/\/\S+\/api\/v1\/downloads\/(\S+)/.exec(mail.text);
    expect(url).not.toBeNull();

    const download = await request(stack.app).get(`/api/v1/downloads/${url![1]}`);

    expect(download.status).toBe(200);
    const lines = download.text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(3);
    expect(lines.every((line) => line.entity === 'orders')).toBe(true);
    expect(Object.keys(lines[0]!)[0]).toBe('entity');
  });

  it('serves a link only while it is genuine and unexpired, and only the tenant’s own file', async () => {
    const { exportId } = await startExport(stack.tokens.operator, { entities: ['retailers'], format: 'csv' });
    await exportIn(exportId, 'COMPLETED');
    const link = await request(stack.app)
      .post(`/api/v1/exports/${exportId}/link`)
      .set('Authorization', stack.tokens.member);
    expect(link.status).toBe(201);
    const token = new URL(link.body.url).pathname.split('/').pop()!;

    const genuine = await request(stack.app).get(`/api/v1/downloads/${token}`);
    const [version, payload, signature] = token.split('.');
    const tampered = await request(stack.app).get(
      `/api/v1/downloads/${version}.${payload}.${signature!.slice(0, -2)}${signature!.endsWith('AA') ? 'BB' : 'AA'}`,
    );
    const expired = await request(stack.app).get(
      `/api/v1/downloads/${signDownloadToken(stack.config.files.downloadLinkSecret, {
        kind: 'export',
        id: exportId,
        tenantId: stack.tenant.id,
        expiresAt: new Date(Date.now() - 1000),
      })}`,
    );
    const otherTenantsClaim = await request(stack.app).get(
      `/api/v1/downloads/${signDownloadToken(stack.config.files.downloadLinkSecret, {
        kind: 'export',
        id: exportId,
        tenantId: stack.otherTenant.id,
        expiresAt: new Date(Date.now() + 60_000),
      })}`,
    );
    const otherTenantsDownload = await request(stack.app)
      .get(`/api/v1/exports/${exportId}/download`)
      .set('Authorization', stack.tokens.otherMember);

    expect(genuine.status).toBe(200);
    expect(genuine.text.split('\r\n')[0]).toBe(
      'entity,id,name,channel,contact,creditLimit,creditScore,flagged,createdAt,updatedAt',
    );
    expect(tampered.status).toBe(404);
    expect(tampered.body.error.code).toBe('NOT_FOUND');
    expect(expired.status).toBe(410);
    expect(expired.body.error.code).toBe('DOWNLOAD_LINK_EXPIRED');
    expect(otherTenantsClaim.status).toBe(404);
    expect(otherTenantsDownload.status).toBe(404);
    expect(otherTenantsDownload.body.error.code).toBe('NOT_FOUND');
  });

  it('cancelling a running export removes its partial file and marks it CANCELLED', async () => {
    const { exportId, workflowId } = await startExport(stack.tokens.operator, { entities: ['orders'], format: 'csv' });
    await exportWithCheckpoint(exportId);
    // Reads of orders wait from here on: the export is stopped mid-file whatever its speed.
    const lock = await lockTable(stack.config.databaseUrl!, 'Order');
    try {
      expect(storedFiles(stack.tenant.id)).toContain(`${exportId}.csv.1.partial`);
      const cancel = await request(stack.app)
        .post(`/api/v1/exports/${exportId}/cancel`)
        .set('Authorization', stack.tokens.operator);
      expect(cancel.status).toBe(202);
      await eventually(async () => {
        const description = await stack.client.workflow.getHandle(workflowId).describe();
        return description.raw.pendingActivities?.some((activity) => activity.state === CANCEL_REQUESTED)
          ? true
          : undefined;
      });
    } finally {
      await lock.release();
    }

    const cancelled = await exportIn(exportId, 'CANCELLED', 'COMPLETED');

    expect(cancelled.status).toBe('CANCELLED');
    expect(storedFiles(stack.tenant.id).filter((name) => name.startsWith(exportId))).toEqual([]);
    const state = await stack.client.workflow.getHandle(workflowId).query(exportStateQuery);
    expect(state.status).toBe('CANCELLED');
    const again = await request(stack.app)
      .post(`/api/v1/exports/${exportId}/cancel`)
      .set('Authorization', stack.tokens.operator);
    expect(again.status).toBe(200);
    const download = await request(stack.app)
      .get(`/api/v1/exports/${exportId}/download`)
      .set('Authorization', stack.tokens.member);
    expect(download.status).toBe(409);
    expect(download.body.error.code).toBe('EXPORT_NOT_READY');
  });

  it('runs one tenant’s exports one at a time at a cap of 1, in order, without holding up another tenant', async () => {
    await seedRetailer(stack.prisma, stack.otherTenant.id);
    const first = await startExport(stack.tokens.operator, { entities: ['orders'], format: 'csv' });
    await exportWithCheckpoint(first.exportId);
    const lock = await lockTable(stack.config.databaseUrl!, 'Order');
    let second: { exportId: string; workflowId: string };
    try {
      second = await startExport(stack.tokens.operator, { entities: ['retailers'], format: 'csv' });
      const otherOperator = await stack.bearer(stack.otherTenant.id, 'operator');
      const others = await startExport(otherOperator, { entities: ['retailers'], format: 'csv' });

      // The other tenant's export completes while this tenant's first still holds its only slot.
      const otherDone = await eventually(async () => {
        const { body } = await getExport(others.exportId, stack.tokens.otherMember);
        return body.status === 'COMPLETED' ? body : undefined;
      });
      expect(otherDone.status).toBe('COMPLETED');
      const waiting = await eventually(async () => {
        const { body } = await getExport(second.exportId);
        return body.placeInLine === 1 ? body : undefined;
      });
      expect(waiting.status).toBe('QUEUED');
      expect((await getExport(first.exportId)).body.status).toBe('RUNNING');
      const state = await stack.client.workflow.getHandle(second.workflowId).query(exportStateQuery);
      expect(state.status).toBe('QUEUED');
    } finally {
      await lock.release();
    }

    const secondDone = await exportIn(second.exportId, 'COMPLETED');
    const firstRow = await stack.prisma.export.findUniqueOrThrow({ where: { id: first.exportId } });

    expect(firstRow.status).toBe('COMPLETED');
    expect(new Date(secondDone.startedAt).getTime()).toBeGreaterThanOrEqual(firstRow.completedAt!.getTime());
  });

  it('announcing a file twice publishes one event and enqueues one email', async () => {
    const { exportId } = await startExport(stack.tokens.operator, {
      entities: ['vendors'],
      format: 'csv',
      notifyEmail: 'twice@example.test',
    });
    await exportIn(exportId, 'COMPLETED');
    const deps = {
      prisma: stack.prisma,
      temporal: { client: stack.client, taskQueue: stack.config.temporal.taskQueue },
      fileJobs: fileJobSettings(stack.config),
      publicBaseUrl: stack.config.api.publicBaseUrl,
    };

    const again = await announceFileReady(deps, { kind: 'export', tenantId: stack.tenant.id, id: exportId });
    const third = await announceFileReady(deps, { kind: 'export', tenantId: stack.tenant.id, id: exportId });

    expect(third).toEqual(again);
    expect(again.eventId).not.toBeNull();
    expect(
      await stack.prisma.outboxEvent.count({
        where: { tenantId: stack.tenant.id, type: 'export.completed', subjectId: exportId },
      }),
    ).toBe(1);
    const emails = await stack.prisma.notification.findMany({
      where: { tenantId: stack.tenant.id, template: 'export.ready', recipient: 'twice@example.test' },
    });
    expect(emails.map((email) => email.id)).toEqual([again.notificationId]);
    await expect(
      announceFileReady(deps, { kind: 'export', tenantId: stack.otherTenant.id, id: exportId }),
    ).rejects.toMatchObject({ type: 'NotFound' });
  });

  it('a failed export’s partial file is removed when it is settled, and the cleanup sweeps what is left once', async () => {
    const files = createLocalFileStore(filesDir);
    const newPartial = async () => {
      const exportId = randomUUID();
      const writer = await files.openWriter(`${stack.tenant.id}/exports/${exportId}.csv`, undefined, { attempt: 1 });
      await writer.write('header\r\n');
      const row = await stack.prisma.export.create({
        data: {
          id: exportId,
          tenantId: stack.tenant.id,
          entities: ['orders'],
          format: 'csv',
          workflowId: exportWorkflowId(stack.tenant.id, exportId),
          status: 'RUNNING',
          checkpoint: { writer: { bytes: 0, partial: writer.unfinished().partial! } },
        },
      });
      expect(storedFiles(stack.tenant.id)).toContain(`${exportId}.csv.1.partial`);
      return row;
    };

    const settled = await newPartial();
    const exports = createExportActivities({ prisma: stack.prisma, files });
    await exports.settleExport({ tenantId: stack.tenant.id, exportId: settled.id, status: 'FAILED', error: 'outage' });
    expect(storedFiles(stack.tenant.id).filter((name) => name.startsWith(settled.id))).toEqual([]);
    expect(await stack.prisma.export.findUniqueOrThrow({ where: { id: settled.id } })).toMatchObject({
      status: 'FAILED',
      error: 'outage',
    });

    // A failed row whose leftovers its workflow never reached: the daily cleanup removes them.
    const leftover = await newPartial();
    await stack.prisma.export.update({
      where: { id: leftover.id },
      data: { status: 'FAILED', completedAt: new Date() },
    });
    const cleanup = createCleanupActivities({ prisma: stack.prisma, files });
    const swept = await new MockActivityEnvironment().run<[{ asOf: string }], ExpiredFiles, typeof cleanup.expireFiles>(
      cleanup.expireFiles,
      { asOf: new Date().toISOString() },
    );
    expect(swept.exportLeftoversRemoved).toBeGreaterThanOrEqual(2);
    expect(storedFiles(stack.tenant.id).filter((name) => name.startsWith(leftover.id))).toEqual([]);
    expect((await stack.prisma.export.findUniqueOrThrow({ where: { id: leftover.id } })).checkpoint).toBeNull();
  });

  it('the cleanup removes a file past its expiry and marks the export EXPIRED; its download answers 410', async () => {
    const { exportId } = await startExport(stack.tokens.operator, { entities: ['retailers'], format: 'csv' });
    await exportIn(exportId, 'COMPLETED');
    const row = await stack.prisma.export.update({
      where: { id: exportId },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    expect(storedFiles(stack.tenant.id)).toContain(`${exportId}.csv`);
    const cleanup = createCleanupActivities({ prisma: stack.prisma, files: createLocalFileStore(filesDir) });

    const expired = await new MockActivityEnvironment().run<
      [{ asOf: string }],
      ExpiredFiles,
      typeof cleanup.expireFiles
    >(cleanup.expireFiles, {
      asOf: new Date().toISOString(),
    });

    expect(expired.exportsExpired).toBeGreaterThanOrEqual(1);
    expect(storedFiles(stack.tenant.id)).not.toContain(`${exportId}.csv`);
    expect((await stack.prisma.export.findUniqueOrThrow({ where: { id: row.id } })).status).toBe('EXPIRED');
    const download = await request(stack.app)
      .get(`/api/v1/exports/${exportId}/download`)
      .set('Authorization', stack.tokens.member);
    expect(download.status).toBe(410);
    expect(download.body.error.code).toBe('EXPORT_EXPIRED');
  });

  it('starts one workflow per export at low priority, fair by tenant, with IDs only in its input and attributes', async () => {
    const { exportId, workflowId } = await startExport(stack.tokens.operator, {
      entities: ['vendors'],
      format: 'ndjson',
      notifyEmail: 'private@example.test',
    });

    const description = await stack.client.workflow.getHandle(workflowId).describe();
    expect(description.taskQueue).toBe(stack.config.temporal.taskQueue);
    expect(description.typedSearchAttributes.get(TenantIdKey)).toBe(stack.tenant.id);
    expect(description.typedSearchAttributes.get(BusinessKeyKey)).toBe(exportId);
    expect(description.priority).toMatchObject({ priorityKey: 4, fairnessKey: stack.tenant.id, fairnessWeight: 1 });
    const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
    const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
    expect(input.map((payload) => Buffer.from(payload.data ?? []).toString()).join()).not.toContain('private@');
    await exportIn(exportId, 'COMPLETED');
  });

  it('answers 400 for unknown entities, duplicate entities and a status no chosen entity has', async () => {
    const post = (body: unknown) =>
      request(stack.app)
        .post('/api/v1/exports')
        .set('Authorization', stack.tokens.operator)
        .set('Idempotency-Key', randomUUID())
        .send(body as object);

    const unknown = await post({ entities: ['users'], format: 'csv' });
    const duplicate = await post({ entities: ['orders', 'orders'], format: 'csv' });
    const status = await post({ entities: ['retailers'], format: 'csv', filters: { status: 'PAID' } });
    const noKey = await request(stack.app)
      .post('/api/v1/exports')
      .set('Authorization', stack.tokens.operator)
      .send({ entities: ['orders'], format: 'csv' });
    const member = await request(stack.app)
      .post('/api/v1/exports')
      .set('Authorization', stack.tokens.member)
      .set('Idempotency-Key', randomUUID())
      .send({ entities: ['orders'], format: 'csv' });

    expect([unknown.status, duplicate.status, status.status]).toEqual([400, 400, 400]);
    expect(noKey.status).toBe(400);
    expect(noKey.body.error.code).toBe('IDEMPOTENCY_KEY_REQUIRED');
    expect(member.status).toBe(403);
  });

  it('answers a repeat with the same Idempotency-Key with the same export, and 422 for another body', async () => {
    const key = randomUUID();
    const post = (body: object) =>
      request(stack.app)
        .post('/api/v1/exports')
        .set('Authorization', stack.tokens.operator)
        .set('Idempotency-Key', key)
        .send(body);

    const first = await post({ entities: ['vendors'], format: 'csv' });
    const repeat = await post({ entities: ['vendors'], format: 'csv' });
    const other = await post({ entities: ['vendors'], format: 'ndjson' });

    expect(first.status).toBe(202);
    expect(repeat.status).toBe(202);
    expect(repeat.headers['idempotent-replayed']).toBe('true');
    expect(repeat.body.exportId).toBe(first.body.exportId);
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    await exportIn(first.body.exportId, 'COMPLETED');
    const list = await request(stack.app).get('/api/v1/exports?limit=2').set('Authorization', stack.tokens.member);
    expect(list.body).toMatchObject({ limit: 2, offset: 0 });
    expect(list.body.total).toBeGreaterThanOrEqual(5);
    expect(list.body.exports).toHaveLength(2);
  });
});
