import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { sha256Of } from '../../lib/file-store';
import { useApiStack } from '../support/api-stack';
import { eventually, until } from '../support/eventually';
import { lockTable, seedOrders } from '../support/export-data';

const root = path.resolve(__dirname, '../..');
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'holdfast-export-crash-'));
const filesDir = path.join(workDir, 'files');
const ORDERS = 40_000;

// The in-process worker serves every queue but exports; the exports worker is a child process the test can kill.
const stack = useApiStack({
  worker: true,
  config: {
    FILE_STORE_DIR: filesDir,
    EXPORT_PAGE_SIZE: '500',
    WORKER_QUEUES: 'interactive,email,sms,whatsapp,reports',
  },
});

interface ExportsWorker {
  child: ChildProcess;
  logFile: string;
  exited: Promise<void>;
}

/** Starts `workers/main.ts` serving only the exports queue, in one node process (so SIGKILL reaches the worker itself). */
function startExportsWorker(name: string): ExportsWorker {
  const logFile = path.join(workDir, `${name}.log`);
  const log = fs.openSync(logFile, 'w');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'workers', 'main.ts')], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      APP_ENV: 'test',
      LOG_LEVEL: 'info',
      DATABASE_URL: stack.config.databaseUrl!,
      TEMPORAL_ADDRESS: stack.config.temporal.address,
      TEMPORAL_TASK_QUEUE: stack.config.temporal.taskQueue,
      FILE_STORE_DIR: filesDir,
      EXPORT_PAGE_SIZE: '500',
      WORKER_QUEUES: 'exports',
      WORKFLOW_BUNDLE_PATH: stack.config.worker.workflowBundlePath!,
      WORKER_METRICS_PORT: '0',
      WORKER_SYNC_SCHEDULES: 'false',
    },
    stdio: ['ignore', log, log],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, logFile, exited };
}

/** The worker's JSON log lines. */
const logLines = (worker: ExportsWorker) =>
  fs
    .readFileSync(worker.logFile, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

const started: ExportsWorker[] = [];
afterAll(async () => {
  for (const worker of started) {
    if (worker.child.exitCode === null && worker.child.signalCode === null) {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
  }
  fs.rmSync(workDir, { recursive: true, force: true });
});

async function requestOrdersExport() {
  const response = await request(stack.app)
    .post('/api/v1/exports')
    .set('Authorization', stack.tokens.operator)
    .set('Idempotency-Key', randomUUID())
    .send({ entities: ['orders'], format: 'csv' });
  expect(response.status).toBe(202);
  return response.body as { exportId: string; workflowId: string };
}

const completed = (exportId: string) =>
  eventually(async () => {
    const row = await stack.prisma.export.findUniqueOrThrow({ where: { id: exportId } });
    if (row.status === 'FAILED') throw new Error(`export failed: ${row.error}`);
    return row.status === 'COMPLETED' ? row : undefined;
  }, 200);

const fileHash = (fileKey: string) => sha256Of(fs.createReadStream(path.join(filesDir, fileKey)));

describe('an export whose worker is killed', () => {
  beforeAll(async () => {
    await seedOrders(stack.prisma, stack.tenant.id, ORDERS);
  });

  it('resumes from its last checkpoint on a new worker and writes the same file as an uninterrupted export', async () => {
    const first = startExportsWorker('first');
    started.push(first);
    await until(() => logLines(first).some((line) => line.msg === 'worker started'), 100);
    const { exportId, workflowId } = await requestOrdersExport();

    // Killed once the server holds a checkpoint in the activity's heartbeat details, and the worker's log
    // has reached the file (the worker heartbeats a checkpoint before it logs it).
    await eventually(async () => {
      if (!logLines(first).some((line) => line.msg === 'export checkpoint')) return undefined;
      const { raw } = await stack.client.workflow.getHandle(workflowId).describe();
      return (
        raw.pendingActivities?.some((activity) => (activity.heartbeatDetails?.payloads?.length ?? 0) > 0) || undefined
      );
    }, 100);
    // Reads of orders wait from here: the export cannot finish before the kill, however fast it is.
    const lock = await lockTable(stack.config.databaseUrl!, 'Order');
    first.child.kill('SIGKILL');
    await first.exited;
    await lock.release();
    const partial = await stack.prisma.export.findUniqueOrThrow({ where: { id: exportId } });
    expect(partial.status).toBe('RUNNING');
    expect(partial.rowsDone).toBeGreaterThan(0);
    expect(partial.rowsDone).toBeLessThan(ORDERS);

    const second = startExportsWorker('second');
    started.push(second);
    const resumedRow = await completed(exportId);

    const written = logLines(second).find((line) => line.msg === 'export written');
    console.log(
      `peak RSS of the exports worker process after writing ${ORDERS} rows: ${String(written?.peakRssMiB)} MiB`,
    );
    const resumed = logLines(second).find((line) => line.msg === 'export resumed from checkpoint');
    expect(resumed).toMatchObject({ exportId, tenantId: stack.tenant.id });
    expect(resumed!.rowsWritten).toEqual(expect.any(Number));
    expect(resumed!.rowsWritten as number).toBeGreaterThan(0);
    expect(resumedRow).toMatchObject({ resumes: 1, rowsDone: ORDERS });
    const checkpoints = logLines(first).filter((line) => line.msg === 'export checkpoint');
    expect(checkpoints.length).toBeGreaterThan(0);
    // The log lines carry counts, never the rows' content (the retailer's address, the order's items).
    for (const line of checkpoints) expect(JSON.stringify(line)).not.toMatch(/retailer@example\.test|RICE-5/);

    const uninterrupted = await requestOrdersExport();
    const referenceRow = await completed(uninterrupted.exportId);
    expect(referenceRow.resumes).toBe(0);
    expect(Number(resumedRow.fileBytes)).toBe(Number(referenceRow.fileBytes));
    expect(await fileHash(resumedRow.fileKey!)).toBe(await fileHash(referenceRow.fileKey!));
    expect(resumedRow.sha256).toBe(referenceRow.sha256);
  });
});
