import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { loadConfigOrExit } from '../lib/config';
import { createPrismaClient, type PrismaClient } from '../lib/db';
import { createConfiguredCodec } from '../lib/payload-key-scopes';
import { temporalClientOptions } from '../lib/temporal';
import { signDevToken } from '../lib/dev-token';
import { demoTenant } from '../prisma/seed';
import { exportWorkflowId } from '../workflows/export.contract';
import { waitlistCascadeId } from '../workflows/waitlist-cascade.contract';

/**
 * `npm run bench:export-vs-offer [-- --rows 10000 --samples 10]`, against a running `npm run dev`.
 *
 * Does one tenant's 10,000-row export delay another tenant's offer email? Tenant A ("bench-exports")
 * gets `--rows` orders. Each sample starts an export of them all to CSV and, once it is writing,
 * tenant B (the demo tenant) releases a slot; the offer email is timed from the release request to
 * the notification's `sentAt` (one clock). Only samples whose offer fell wholly inside the export's
 * run count as loaded. The same is measured first on an idle stack. Prints figures; asserts nothing.
 *
 * From each run's history it also reads where the time went: how long the offer's send activity
 * waited in its task queue for a worker slot (scheduled → started), how long it ran (started →
 * completed), and how long the export's writer activity held its slot. "One activity slot" is the
 * send activity's own run time: the added delay is compared with it.
 */

const apiUrl = (process.env.BENCH_API_URL ?? 'http://localhost:3000').replace(/\/$/, '');
const exporterId = 'bench-exports';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} expects a positive whole number`);
  return value;
}

/** The few fields of the API's answers the bench reads. */
interface Answer {
  id?: string;
  exportId?: string;
  status?: string;
  startedAt?: string;
  completedAt?: string;
  rowsDone?: number;
  progress?: { rowsDone?: number };
  total?: number;
}

async function call(token: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(method === 'POST' ? { 'idempotency-key': randomUUID() } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as Answer;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Tenant A with a retailer, a vendor and `rows` orders (added in one statement when short). */
async function prepareExporter(prisma: PrismaClient, rows: number): Promise<void> {
  await prisma.tenant.upsert({
    where: { id: exporterId },
    update: { status: 'ACTIVE' },
    create: { id: exporterId, slug: exporterId, name: 'Bench Exports Ltd', status: 'ACTIVE' },
  });
  const retailer = await prisma.retailer.upsert({
    where: { id: '00000000-0000-4000-8000-00000000b001' },
    update: {},
    create: {
      id: '00000000-0000-4000-8000-00000000b001',
      tenantId: exporterId,
      name: 'Bench Retailer',
      channel: 'EMAIL',
      contact: 'retailer@bench.example.test',
      creditLimit: 1_000_000_000,
    },
  });
  const have = await prisma.order.count({ where: { tenantId: exporterId } });
  if (have >= rows) return;
  await prisma.$executeRawUnsafe(
    `INSERT INTO "Order" (id, "tenantId", "retailerId", items, total, "deliveryRegion", status, "requestHash", "createdAt", "updatedAt")
     SELECT gen_random_uuid()::text, $1, $2,
            jsonb_build_array(jsonb_build_object('sku', 'SKU-' || n, 'name', 'Item ' || n, 'category', 'grocery', 'quantity', 1 + n % 5, 'unitPrice', 100 + n % 900)),
            (1 + n % 5) * (100 + n % 900), 'kathmandu', 'DELIVERED', md5(n::text), now() - (n || ' minutes')::interval, now()
     FROM generate_series(1, $3::int) AS n`,
    exporterId,
    retailer.id,
    rows - have,
  );
}

interface OfferSample {
  /** Release request to the offer email's sentAt. */
  latencyMs: number;
  /** The send activity's wait for a worker slot: scheduled → started, from the cascade's history. */
  queueWaitMs: number;
  /** The send activity's run: started → completed. */
  sendMs: number;
  releasedAt: number;
  sentAt: number;
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const millisOf = (event: HistoryEvent | undefined) =>
  event?.eventTime ? Number(event.eventTime.seconds ?? 0) * 1000 + Math.floor((event.eventTime.nanos ?? 0) / 1e6) : NaN;

/** Scheduled, started and closed times of the first activity of `type` in a workflow's history. */
async function activityTimes(client: Client, workflowId: string, type: string) {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const scheduled = events.find((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === type);
  const scheduledId = Number(scheduled?.eventId ?? -1);
  const started = events.find(
    (event) => Number(event.activityTaskStartedEventAttributes?.scheduledEventId ?? -2) === scheduledId,
  );
  const closed = events.find(
    (event) =>
      Number(
        event.activityTaskCompletedEventAttributes?.scheduledEventId ??
          event.activityTaskFailedEventAttributes?.scheduledEventId ??
          -3,
      ) === scheduledId,
  );
  return { scheduled: millisOf(scheduled), started: millisOf(started), closed: millisOf(closed) };
}

/** Tenant B releases a slot with one person waiting; answers how long the offer email took. */
async function timeOneOffer(
  prisma: PrismaClient,
  client: Client,
  token: string,
  index: number,
  beforeRelease: () => Promise<void> = () => Promise.resolve(),
): Promise<OfferSample> {
  const stamp = `${Date.now().toString(36)}-${index}`;
  const slot = await call(token, 'POST', '/api/v1/slots', { name: `Bench slot ${stamp}` });
  const email = `bench.${stamp}@example.test`;
  await call(token, 'POST', `/api/v1/slots/${slot.id!}/waitlist`, { customerName: 'Bench', email });
  await beforeRelease();
  const releasedAt = Date.now();
  await call(token, 'POST', `/api/v1/slots/${slot.id!}/release`);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const sent = await prisma.notification.findFirst({
      where: { tenantId: demoTenant.id, recipient: email, status: 'SENT', idempotencyKey: { startsWith: 'offer:' } },
      select: { sentAt: true },
    });
    if (sent?.sentAt) {
      // The history is written when the activity completes, a moment after the row says SENT.
      await sleep(200);
      const send = await activityTimes(client, waitlistCascadeId(demoTenant.id, slot.id!), 'sendOfferNotification');
      return {
        latencyMs: sent.sentAt.getTime() - releasedAt,
        queueWaitMs: send.started - send.scheduled,
        sendMs: send.closed - send.started,
        releasedAt,
        sentAt: sent.sentAt.getTime(),
      };
    }
    await sleep(10);
  }
  throw new Error(`no offer email to ${email} within 60 s`);
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};

const ms = (value: number) => `${Math.round(value)} ms`;

function summary(label: string, samples: OfferSample[]) {
  const latencies = samples.map((sample) => sample.latencyMs);
  const figures = {
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    max: Math.max(...latencies),
    queueWaitMax: Math.max(...samples.map((sample) => sample.queueWaitMs)),
    send: percentile(
      samples.map((sample) => sample.sendMs),
      50,
    ),
  };
  console.log(
    `${label.padEnd(28)} n=${String(samples.length).padEnd(3)} p50 ${ms(figures.p50)}  p95 ${ms(figures.p95)}  max ${ms(figures.max)}` +
      `  | send activity: queue wait max ${ms(figures.queueWaitMax)}, run p50 ${ms(figures.send)}`,
  );
  return figures;
}

/** Starts one export of tenant A's orders and answers once its writer runs, with a way to wait for its end. */
interface ExportRun {
  rows: number;
  /** The writer activity's time holding its exports-queue slot: started → completed. */
  writerMs: number;
  startedAt: number;
  completedAt: number;
}

async function startExport(client: Client, token: string): Promise<{ finished: Promise<ExportRun> }> {
  // Answers as soon as the writer runs; the offer is released at that moment.
  const { exportId } = await call(token, 'POST', '/api/v1/exports', { entities: ['orders'], format: 'csv' });
  const read = () => call(token, 'GET', `/api/v1/exports/${exportId!}`);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const state = await read();
    if (state.status === 'RUNNING') break;
    if (state.status !== 'QUEUED' && state.status !== 'RUNNING') throw new Error(`export ${exportId!} ${state.status}`);
    if (Date.now() > deadline) throw new Error('the export did not start within 60 s');
    await sleep(5);
  }
  const finished = (async () => {
    for (;;) {
      const state = await read();
      if (state.status === 'COMPLETED') {
        const writer = await activityTimes(client, exportWorkflowId(exporterId, exportId!), 'writeExport');
        return {
          rows: state.progress?.rowsDone ?? 0,
          writerMs: writer.closed - writer.started,
          startedAt: writer.started,
          completedAt: writer.closed,
        };
      }
      if (state.status !== 'QUEUED' && state.status !== 'RUNNING')
        throw new Error(`export ${exportId!} ${state.status}`);
      await sleep(100);
    }
  })();
  return { finished };
}

async function main(): Promise<void> {
  const rows = option('rows', 10_000);
  const samples = option('samples', 10);
  const config = loadConfigOrExit({ ...process.env, APP_ENV: 'development' });
  const databaseUrl =
    config.databaseUrl ?? `postgresql://holdfast:holdfast@127.0.0.1:${process.env.DEV_POSTGRES_PORT ?? 54320}/holdfast`;
  const prisma = createPrismaClient(databaseUrl, { maxConnections: 2 });
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({
    connection,
    ...temporalClientOptions(config.temporal, createConfiguredCodec(config.payloads, prisma)),
  });
  try {
    const offers = await signDevToken(config.auth, { tenantId: demoTenant.id, roles: ['tenant-admin'] });
    const exporter = await signDevToken(config.auth, { tenantId: exporterId, roles: ['tenant-admin'] });
    await prepareExporter(prisma, rows);
    console.log(`tenant ${exporterId}: ${rows} orders; tenant ${demoTenant.id}: ${samples} offers per phase\n`);

    // One offer first, unmeasured: it warms the API's and the worker's connections and caches.
    await timeOneOffer(prisma, client, offers, 0);
    const idle: OfferSample[] = [];
    for (let i = 1; i <= samples; i += 1) idle.push(await timeOneOffer(prisma, client, offers, i));

    // Each sample: a fresh export of the whole table starts writing, then the slot is released.
    const loaded: OfferSample[] = [];
    const exports: ExportRun[] = [];
    for (let i = 1; loaded.length < samples && i <= samples * 3; i += 1) {
      let finished: Promise<ExportRun> | undefined;
      const offer = await timeOneOffer(prisma, client, offers, samples + i, async () => {
        ({ finished } = await startExport(client, exporter));
      });
      const run = await finished!;
      exports.push(run);
      // Only an offer that ran wholly while the export's writer held its slot counts as loaded.
      if (run.startedAt <= offer.releasedAt && offer.sentAt <= run.completedAt) loaded.push(offer);
    }

    const quiet = summary('offer email, idle', idle);
    const busy = summary('offer email, during an export', loaded);
    const writers = exports.map((run) => run.writerMs);
    console.log(
      `\nexports: ${exports.length} of ${exports[0]?.rows ?? 0} rows; the writer held its slot p50 ${ms(percentile(writers, 50))}, ` +
        `max ${ms(Math.max(...writers))} (${Math.round(((exports[0]?.rows ?? 0) * 1000) / percentile(writers, 50))} rows/s)`,
    );
    console.log(
      `delay added by the export: p50 ${ms(busy.p50 - quiet.p50)}, p95 ${ms(busy.p95 - quiet.p95)}, max ${ms(busy.max - quiet.max)}; ` +
        `one activity slot (the send activity's run, idle p50): ${ms(quiet.send)}`,
    );
    console.log(
      `the offer's send activity waited at most ${ms(busy.queueWaitMax)} for a worker slot during exports (idle: ${ms(quiet.queueWaitMax)}); ` +
        `on one shared queue it could wait for a whole export (${ms(percentile(writers, 50))})`,
    );
  } finally {
    await connection.close();
    await prisma.$disconnect();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
