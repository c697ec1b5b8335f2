import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { createNotifier, type MailTransport } from '../activities/notifications';
import { createWaitlistActivities } from '../activities/waitlist';
import { PrismaClient } from '../generated/prisma/client';
import { startEmbeddedPostgres } from '../scripts/stack/postgres';
import { measuredCommit } from './lib/commit';
import { createBenchSlots, ensureBenchTenant } from './lib/fixtures';
import { statementLabel } from './profile-probe';

/**
 * `npm run bench:step-queries [-- --cascades 300 --port 57320 --out bench/results]`: what one cascade step costs
 * the database and the worker's CPU, activity by activity, with nothing else running.
 *
 * The waitlist activities run directly (no Temporal) against a PostgreSQL of their own, on the worker's Prisma
 * client and driver adapter (built here with query events on, without the worker's pool settings); mail goes to
 * a transport that accepts it at once. Each cascade
 * begins, offers, sends the offer, takes a decline and offers and sends again, so a step after a decline is
 * `settleHold` + `offerNextCandidate` + `sendOfferNotification`. Prisma's query events count the statements
 * (`commit` included, `begin` not: Prisma does not report it); `process.cpuUsage` the CPU around each call,
 * which is this process's share alone (PostgreSQL's is not in it).
 *
 * Then one read of a slot by its key, through Prisma, through `$queryRaw` and through `pg` alone, gives what
 * Prisma's own layers cost per query. Prints a table and writes bench/results/step-queries-latest.json.
 */

const STEP = ['settleHold', 'offerNextCandidate', 'sendOfferNotification'] as const;
const ACTIVITIES = ['beginCascade', ...STEP] as const;
type Measured = (typeof ACTIVITIES)[number];

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback;
}

function positive(name: string, fallback: number): number {
  const value = Number(option(name, String(fallback)));
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} expects a positive whole number`);
  return value;
}

async function main(): Promise<void> {
  const cascades = positive('cascades', 300);
  const port = positive('port', 57320);
  const out = path.resolve(option('out', path.join(__dirname, 'results')));
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'holdfast-step-queries-'));
  // PostgreSQL runs as its own user when this runs as root, and must reach its data directory.
  fs.chmodSync(dataDir, 0o755);
  const pg = await startEmbeddedPostgres({
    dataDir: path.join(dataDir, 'pg'),
    port,
    database: 'steps',
    persistent: false,
  });
  const calls = new Map<Measured, { calls: number; statements: number; cpuMs: number; shape: string[] }>(
    ACTIVITIES.map((name) => [name, { calls: 0, statements: 0, cpuMs: 0, shape: [] }]),
  );
  let perQuery: PerQueryCost[] = [];
  let running: Measured | undefined;
  let shape: string[] = [];
  const prisma = new PrismaClient({
    adapter: new PrismaPg({ connectionString: pg.databaseUrl }),
    log: [{ emit: 'event', level: 'query' }],
  });
  try {
    execFileSync('node', ['scripts/prisma.mjs', 'migrate', 'deploy'], {
      cwd: path.resolve(__dirname, '..'),
      env: { ...process.env, DATABASE_URL: pg.databaseUrl },
      stdio: 'ignore',
    });
    prisma.$on('query', (event) => {
      if (running) shape.push(statementLabel(event.query));
    });
    const tenantId = await ensureBenchTenant(prisma);
    const slotIds = await createBenchSlots(prisma, { tenantId, count: cascades, holdSeconds: 300 });
    const transport: MailTransport = { sendMail: () => Promise.resolve({ messageId: `bench-${randomUUID()}` }) };
    const activities = createWaitlistActivities({
      prisma,
      notifier: createNotifier({ prisma, mail: { transport, from: 'Holdfast <bench@holdfast.test>' } }),
      offerTokenSecret: 'bench-step-queries-secret-0123456789abcdef',
      publicBaseUrl: 'http://127.0.0.1',
    });

    const measured = async <T>(name: Measured, call: () => Promise<T>): Promise<T> => {
      running = name;
      shape = [];
      const before = process.cpuUsage();
      try {
        return await call();
      } finally {
        const used = process.cpuUsage(before);
        const totals = calls.get(name)!;
        totals.calls += 1;
        totals.statements += shape.length;
        totals.cpuMs += (used.user + used.system) / 1000;
        totals.shape = shape;
        running = undefined;
      }
    };

    for (const slotId of slotIds) {
      const ref = { tenantId, slotId, cascadeId: `bench-${randomUUID()}` };
      await measured('beginCascade', () => activities.beginCascade(ref));
      const offer = async (round: number) => {
        const offered = await measured('offerNextCandidate', () =>
          activities.offerNextCandidate({ ...ref, round, offeredAt: new Date().toISOString() }),
        );
        if (!offered) throw new Error(`slot ${slotId} had nobody waiting in round ${round}`);
        await measured('sendOfferNotification', () =>
          activities.sendOfferNotification({ tenantId, holdId: offered.hold.holdId, channel: 'EMAIL' }),
        );
        return offered.hold.holdId;
      };
      const first = await offer(1);
      await measured('settleHold', () =>
        activities.settleHold({
          tenantId,
          holdId: first,
          outcome: 'DECLINED',
          entryStatus: 'DECLINED',
          actor: 'bench',
        }),
      );
      await offer(2);
    }
    perQuery = await perQueryCosts(prisma, pg.databaseUrl, slotIds[0]!);
  } finally {
    await prisma.$disconnect();
    await pg.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }

  const rows = ACTIVITIES.map((name) => {
    const totals = calls.get(name)!;
    return {
      activity: name,
      calls: totals.calls,
      statementsPerCall: round(totals.statements / totals.calls),
      cpuMsPerCall: round(totals.cpuMs / totals.calls),
      statements: totals.shape,
    };
  });
  const step = rows.filter((row) => (STEP as readonly string[]).includes(row.activity));
  const perStep = {
    statements: round(step.reduce((sum, row) => sum + row.statementsPerCall, 0)),
    cpuMs: round(step.reduce((sum, row) => sum + row.cpuMsPerCall, 0)),
  };

  console.log(
    `${cascades} cascades, each: begin, offer, send, decline, offer, send (commit ${measuredCommit() ?? '?'})`,
  );
  console.log('| activity | calls | statements per call | worker CPU per call | statements |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const row of rows) {
    console.log(
      `| ${row.activity} | ${row.calls} | ${row.statementsPerCall} | ${row.cpuMsPerCall} ms | ${row.statements.join(', ')} |`,
    );
  }
  console.log(`| a step after a decline (${STEP.join(' + ')}) | | ${perStep.statements} | ${perStep.cpuMs} ms | |`);

  console.log(`one read of a slot by its key, ${PER_QUERY_READS} times each, this process's CPU per read:`);
  for (const cost of perQuery) console.log(`  ${cost.path.padEnd(18)} ${cost.cpuMsPerQuery} ms`);

  fs.mkdirSync(out, { recursive: true });
  const file = path.join(out, 'step-queries-latest.json');
  const result = {
    kind: 'step-queries',
    at: new Date().toISOString(),
    command: `npm run bench:step-queries -- ${process.argv.slice(2).join(' ')}`.trim(),
    commit: measuredCommit(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'cpu', node: process.version },
    cascades,
    activities: rows,
    stepAfterDecline: perStep,
    perQuery,
  };
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`written to ${path.relative(process.cwd(), file)}`);
}

const round = (value: number) => Math.round(value * 100) / 100;

interface PerQueryCost {
  path: string;
  cpuMsPerQuery: number;
}

/**
 * This process's CPU for one read of a slot by its key, the same statement three ways: through Prisma (its
 * query compiler and interpreter, then the driver adapter), through Prisma's `$queryRaw`, and through `pg` alone.
 */
async function perQueryCosts(prisma: PrismaClient, databaseUrl: string, slotId: string): Promise<PerQueryCost[]> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  const reads: Array<[string, () => Promise<unknown>]> = [
    ['Prisma findFirst', () => prisma.slot.findFirst({ where: { id: slotId } })],
    ['Prisma $queryRaw', () => prisma.$queryRaw`SELECT * FROM "Slot" WHERE id = ${slotId} LIMIT 1`],
    ['pg', () => pool.query('SELECT * FROM "Slot" WHERE id = $1 LIMIT 1', [slotId])],
  ];
  const costs: PerQueryCost[] = [];
  try {
    for (const [name, read] of reads) {
      for (let warm = 0; warm < 200; warm += 1) await read();
      const before = process.cpuUsage();
      for (let at = 0; at < PER_QUERY_READS; at += 1) await read();
      const used = process.cpuUsage(before);
      costs.push({
        path: name,
        cpuMsPerQuery: Math.round(((used.user + used.system) / 1000 / PER_QUERY_READS) * 1000) / 1000,
      });
    }
  } finally {
    await pool.end();
  }
  return costs;
}

const PER_QUERY_READS = 2_000;

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
