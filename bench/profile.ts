import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { loadConfigOrExit } from '../lib/config';
import { createPrismaClient, type PrismaClient } from '../lib/db';
import { signDevToken } from '../lib/dev-token';
import { offerTokenMatching } from '../domain/offer-token';
import { demoTenant, seed } from '../prisma/seed';
import { waitlistCascadeId } from '../workflows/waitlist-cascade.contract';
import { startBillingSandbox } from '../scripts/stack/billing-sandbox';
import { startDevMailCatcher } from '../scripts/stack/dev-mail-catcher';
import { startDevSmsSink } from '../scripts/stack/dev-sms-sink';
import { applyMigrations } from '../scripts/stack/migrate';
import { isListening } from '../scripts/stack/ports';
import { startEmbeddedPostgres, stopLeftoverPostgres } from '../scripts/stack/postgres';
import { readTemporalBinaries } from '../scripts/stack/temporal-binaries';
import { startTemporalDevServer } from '../scripts/stack/temporal-dev-server';
import { measuredCommit } from './lib/commit';
import type { ProbedRequest } from './profile-probe';
import { workflowTaskSlotsFor } from '../workers/main';
import { writeWorkflowBundle } from '../workers/workflow-bundle';

/**
 * `npm run bench:profile [-- --releases 200 --clients 10 --declines 100 --label before --prebuilt-bundle]`
 *
 * Where the time goes in the API and the worker under a burst. Starts the dev stack's pieces
 * (embedded PostgreSQL, the Temporal dev server on SQLite, the SMTP catcher and sinks, the billing
 * sandbox) in this process, and the worker and the API as two child processes under
 * `node --cpu-prof`. Then:
 * 1. releases `--releases` slots (5 people waiting on each) from `--clients` concurrent clients;
 * 2. once every first offer is out, declines the first `--declines` of them, from as many clients;
 * 3. stops the API and the worker with SIGTERM, so that V8 writes their profiles;
 * 4. prints, per process, the top functions by self time and the packages by self and total time;
 *    the release request's phases as the API saw them (bench/profile-probe.ts times every DB
 *    query and Temporal start inside each request); and one cascade step (decline → next offer
 *    sent) from the workflows' histories, split into queueing and execution.
 *
 * Writes bench/results/profile-latest.json, or profile-<label>.json instead with --label. Uses the
 * default dev ports (or the DEV_*_PORT, API_PORT and WORKER_METRICS_PORT overrides) and a fresh
 * data directory under HOLDFAST_DATA_DIR (default /tmp/perf/data). Every wait is bounded.
 */

const root = path.resolve(__dirname, '..');

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} expects a whole number`);
  return value;
}

function textOption(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? process.argv[at + 1] : undefined;
  if (value !== undefined && !/^[\w.-]{1,40}$/.test(value)) throw new Error(`--${name} expects a short plain name`);
  return value;
}

const settings = {
  releases: option('releases', 200),
  clients: Math.max(1, option('clients', 10)),
  declines: option('declines', 100),
  candidatesPerSlot: 5,
  label: textOption('label'),
  /** Build the workflow bundle ahead (workers/workflow-bundle.ts) instead of letting the worker bundle at start. */
  prebuiltBundle: process.argv.includes('--prebuilt-bundle'),
};
if (settings.declines > settings.releases) throw new Error('--declines cannot exceed --releases');

const ports = {
  api: Number(process.env.API_PORT ?? 3000),
  metrics: Number(process.env.WORKER_METRICS_PORT ?? 9464),
  temporal: Number(process.env.DEV_TEMPORAL_PORT ?? 7233),
  postgres: Number(process.env.DEV_POSTGRES_PORT ?? 54320),
  smtp: Number(process.env.DEV_SMTP_PORT ?? 1025),
  sms: Number(process.env.DEV_SMS_PORT ?? 1026),
  whatsapp: Number(process.env.DEV_WHATSAPP_PORT ?? 1027),
  billing: Number(process.env.DEV_BILLING_PORT ?? 12111),
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const say = (line: string) => process.stdout.write(`[profile] ${line}\n`);

// ---------------------------------------------------------------------------------------------
// Statistics

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const round1 = (value: number) => Math.round(value * 10) / 10;

function spread(values: readonly number[]) {
  return {
    n: values.length,
    p50: round1(percentile(values, 50)),
    p90: round1(percentile(values, 90)),
    p99: round1(percentile(values, 99)),
    max: round1(values.length ? Math.max(...values) : NaN),
  };
}

const ms = (value: number) => (Number.isFinite(value) ? `${Math.round(value)} ms` : 'n/a');

// ---------------------------------------------------------------------------------------------
// The application's processes, each under the CPU profiler

interface ProfiledProcess {
  role: 'api' | 'worker';
  child: ChildProcess;
  profileDir: string;
  logFile: string;
  exited: Promise<number | null>;
}

function startProfiled(
  role: ProfiledProcess['role'],
  entry: string,
  env: NodeJS.ProcessEnv,
  runDir: string,
  extraArgs: string[] = [],
): ProfiledProcess {
  const profileDir = path.join(runDir, 'profiles', role);
  fs.mkdirSync(profileDir, { recursive: true });
  const logFile = path.join(runDir, 'logs', `${role}.log`);
  const log = fs.openSync(logFile, 'a');
  const child = spawn(
    process.execPath,
    ['--cpu-prof', '--cpu-prof-dir', profileDir, '--import', 'tsx', ...extraArgs, path.join(root, entry)],
    { cwd: root, env, stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { role, child, profileDir, logFile, exited };
}

/** SIGTERM, then up to `graceMs` for the process to drain and V8 to write its profile; SIGKILL after that. */
async function stopProfiled(process_: ProfiledProcess, graceMs: number): Promise<boolean> {
  if (process_.child.exitCode !== null) return true;
  process_.child.kill('SIGTERM');
  const stopped = await Promise.race([process_.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!stopped) process_.child.kill('SIGKILL');
  return stopped;
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await check()) return Date.now() - started;
    await sleep(100);
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
}

// ---------------------------------------------------------------------------------------------
// CPU-seconds per process tree, from /proc (Linux)

const CLOCK_TICKS_PER_SECOND = 100;

/** Every process's parent and CPU ticks (user + system) from /proc; empty where /proc is missing. */
function processTable(): Map<number, { ppid: number; ticks: number; cmdline: string }> {
  const table = new Map<number, { ppid: number; ticks: number; cmdline: string }>();
  if (!fs.existsSync('/proc')) return table;
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name (field 2) may hold spaces: the fields that follow its ')' are fixed.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmdline = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ');
      table.set(Number(name), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]), cmdline });
    } catch {
      // The process ended while being read.
    }
  }
  return table;
}

/** CPU-seconds used so far by each role's process and all its descendants. */
function cpuSecondsByRole(roots: Record<string, (table: ReturnType<typeof processTable>) => number | undefined>) {
  const table = processTable();
  const children = new Map<number, number[]>();
  for (const [pid, { ppid }] of table) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const treeTicks = (pid: number, depth = 0): number =>
    depth > 20
      ? 0
      : (table.get(pid)?.ticks ?? 0) +
        (children.get(pid) ?? []).reduce((sum, child) => sum + treeTicks(child, depth + 1), 0);
  return Object.fromEntries(
    Object.entries(roots).map(([role, find]) => {
      const pid = find(table);
      return [role, pid === undefined ? NaN : treeTicks(pid) / CLOCK_TICKS_PER_SECOND];
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// CPU profiles

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Which part of the system a frame belongs to. */
export function packageOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName === '(garbage collector)') return '(gc)';
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(program)') return '(program: native, incl. the Temporal core bridge)';
    return '(native / V8 builtins)';
  }
  if (url.startsWith('node:')) return 'node internals';
  // The only WebAssembly these processes run is Prisma's query compiler (query_compiler_bg.wasm).
  if (url.startsWith('wasm://')) return 'prisma / pg';
  const modulePath = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modulePath) {
    const name = modulePath[1]!;
    if (name.startsWith('@temporalio/')) return `@temporalio (${name.slice('@temporalio/'.length)})`;
    if (name.startsWith('@prisma/') || name === 'pg' || name.startsWith('pg-') || name === 'postgres-array')
      return 'prisma / pg';
    if (['express', 'router', 'body-parser', 'helmet', 'express-rate-limit', 'finalhandler', 'send'].includes(name))
      return 'express';
    if (name === 'pino' || name === 'pino-http' || name.startsWith('pino-') || name === 'sonic-boom') return 'pino';
    if (name === 'tsx' || name === 'esbuild' || name === 'get-tsconfig') return 'tsx (loader)';
    if (
      ['webpack', '@swc/core', 'terser', 'enhanced-resolve', 'schema-utils'].includes(name) ||
      name.startsWith('@webassemblyjs')
    )
      return 'workflow bundler (webpack/swc)';
    if (name === 'protobufjs' || name.startsWith('@protobufjs') || name.startsWith('@grpc/')) return 'grpc / protobuf';
    return name;
  }
  if (url.includes('/generated/prisma/')) return 'prisma / pg';
  // The workflow bundle is evaluated in the worker threads' V8 contexts under webpack's own URLs.
  if (url.startsWith('webpack') || url.includes('workflow-bundle')) return 'workflow bundle (our workflows + SDK)';
  if (url.includes(root)) return 'holdfast (our code)';
  return 'other';
}

interface ProfileSummary {
  file: string;
  thread: string;
  durationS: number;
  sampledS: number;
  idleS: number;
  topSelf: Array<{ function: string; location: string; package: string; selfMs: number; selfPct: number }>;
  packagesBySelf: Array<{ package: string; selfMs: number; pct: number }>;
  packagesByTotal: Array<{ package: string; totalMs: number; pct: number }>;
}

/**
 * A monotonic window in microseconds. V8 stamps profiles with the same monotonic clock as
 * `process.hrtime` on Linux, so the bench's own clock cuts the load phase out of the processes'
 * start-up and shutdown.
 */
export interface MonotonicWindow {
  fromUs: number;
  toUs: number;
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

export function summarizeProfile(file: string, thread: string, window?: MonotonicWindow): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const selfUs = new Map<number, number>();
  let stampUs = profile.startTime;
  let firstUs = Infinity;
  let lastUs = -Infinity;
  profile.samples.forEach((id, index) => {
    const deltaUs = profile.timeDeltas[index] ?? 0;
    stampUs += deltaUs;
    if (window && (stampUs < window.fromUs || stampUs > window.toUs)) return;
    firstUs = Math.min(firstUs, stampUs);
    lastUs = Math.max(lastUs, stampUs);
    selfUs.set(id, (selfUs.get(id) ?? 0) + deltaUs);
  });

  const key = (node: CpuProfileNode) =>
    `${node.callFrame.functionName || '(anonymous)'}|${node.callFrame.url}|${node.callFrame.lineNumber}`;
  const selfByFunction = new Map<string, number>();
  const selfByPackage = new Map<string, number>();
  const totalByPackage = new Map<string, number>();
  let idleUs = 0;
  let sampledUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const pkg = packageOf(node.callFrame.url, node.callFrame.functionName);
    sampledUs += us;
    if (pkg === '(idle)') {
      idleUs += us;
      continue;
    }
    selfByFunction.set(key(node), (selfByFunction.get(key(node)) ?? 0) + us);
    selfByPackage.set(pkg, (selfByPackage.get(pkg) ?? 0) + us);
    // Total time: a sample counts once for every package on its stack (recursion counted once).
    const seen = new Set<string>();
    for (let at: number | undefined = id, depth = 0; at !== undefined && depth < 2000; depth += 1) {
      const frame = byId.get(at)!;
      if (frame.callFrame.functionName !== '(root)')
        seen.add(packageOf(frame.callFrame.url, frame.callFrame.functionName));
      at = parentOf.get(at);
    }
    for (const pkg_ of seen) totalByPackage.set(pkg_, (totalByPackage.get(pkg_) ?? 0) + us);
  }
  const busyUs = Math.max(1, sampledUs - idleUs);
  const pct = (us: number) => round1((100 * us) / busyUs);
  return {
    file: path.relative(root, file),
    thread,
    durationS: round1(Math.max(0, lastUs - firstUs) / 1e6),
    sampledS: round1(busyUs / 1e6),
    idleS: round1(idleUs / 1e6),
    topSelf: [...selfByFunction]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([name, us]) => {
        const [fn, url, line] = name.split('|');
        return {
          function: fn!,
          location: url
            ? `${url.replace(`file://${root}/`, '').replace(/^.*node_modules\//, '')}:${Number(line) + 1}`
            : '',
          package: packageOf(url!, fn!),
          selfMs: Math.round(us / 1000),
          selfPct: pct(us),
        };
      }),
    packagesBySelf: [...selfByPackage]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([pkg, us]) => ({ package: pkg, selfMs: Math.round(us / 1000), pct: pct(us) })),
    packagesByTotal: [...totalByPackage]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([pkg, us]) => ({ package: pkg, totalMs: Math.round(us / 1000), pct: pct(us) })),
  };
}

function printProfile(role: string, summary: ProfileSummary): void {
  say(
    `${role} ${summary.thread}: ${summary.durationS} s profiled, ${summary.sampledS} s on CPU ` +
      `(idle ${summary.idleS} s) — ${summary.file}`,
  );
  say('  top 15 functions by self time:');
  for (const row of summary.topSelf) {
    say(
      `    ${String(row.selfMs).padStart(6)} ms ${String(row.selfPct).padStart(5)}%  ${row.function}  ${row.location}  [${row.package}]`,
    );
  }
  say('  packages by self time / by total (inclusive) time:');
  for (let index = 0; index < Math.max(summary.packagesBySelf.length, summary.packagesByTotal.length); index += 1) {
    const self = summary.packagesBySelf[index];
    const total = summary.packagesByTotal[index];
    say(
      `    ${(self ? `${String(self.pct).padStart(5)}% ${self.package}` : '').padEnd(58)}` +
        `${total ? `${String(total.pct).padStart(5)}% ${total.package}` : ''}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// The API's request phases (bench/profile-probe.ts)

interface PhaseRow {
  phase: string;
  p50: number;
  p90: number;
  n: number;
}

/** Each request's timeline cut at its spans: before the first span, each span, the gaps, after the last. */
function requestPhases(requests: readonly ProbedRequest[]): { rows: PhaseRow[]; total: ReturnType<typeof spread> } {
  const byPhase = new Map<string, number[]>();
  const add = (phase: string, value: number) => byPhase.set(phase, [...(byPhase.get(phase) ?? []), value]);
  for (const request of requests) {
    const spans = [...request.spans].sort((a, b) => a.startMs - b.startMs);
    let cursor = 0;
    let position = 0;
    for (const span of spans) {
      // A query made inside a Temporal call (the codec's key lookup) is reported within it.
      if (span.startMs < cursor) {
        add(`${position - 1} ~ within the call above: ${span.kind} ${span.label}`, span.endMs - span.startMs);
        continue;
      }
      add(
        position === 0
          ? '0 before the first call (parse, auth middleware, rate limit)'
          : `${position} gap before ${span.label}`,
        span.startMs - cursor,
      );
      add(`${position} ${span.kind} ${span.label}`, span.endMs - span.startMs);
      cursor = span.endMs;
      position += 1;
    }
    add(`${position} after the last call (respond, log)`, Math.max(0, request.finishMs - cursor));
  }
  const order = (phase: string) =>
    Number(phase.split(' ', 1)[0]) * 4 +
    (phase.includes('gap') ? 0 : phase.includes('after') ? 3 : phase.includes('~') ? 2 : 1);
  const rows = [...byPhase]
    .sort((a, b) => order(a[0]) - order(b[0]))
    .map(([phase, values]) => ({
      phase: phase.replace(/^\d+ /, ''),
      p50: round1(percentile(values, 50)),
      p90: round1(percentile(values, 90)),
      n: values.length,
    }))
    .filter((row) => row.n >= requests.length / 2);
  return { rows, total: spread(requests.map((request) => request.finishMs)) };
}

function printPhases(title: string, phases: ReturnType<typeof requestPhases>): void {
  say(
    `${title}: total p50 ${ms(phases.total.p50)}, p90 ${ms(phases.total.p90)}, p99 ${ms(phases.total.p99)} (n=${phases.total.n}; as the API timed it)`,
  );
  for (const row of phases.rows) say(`    ${ms(row.p50).padStart(8)} p50 ${ms(row.p90).padStart(8)} p90  ${row.phase}`);
}

// ---------------------------------------------------------------------------------------------
// A cascade step from the workflow history

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const millisOf = (event: HistoryEvent) =>
  event.eventTime ? Number(event.eventTime.seconds ?? 0) * 1000 + (event.eventTime.nanos ?? 0) / 1e6 : NaN;

const eventName = (event: HistoryEvent) =>
  Object.keys(event)
    .find((name) => name.endsWith('EventAttributes') && event[name as keyof HistoryEvent] != null)
    ?.replace(/EventAttributes$/, '')
    .replace(/^./, (first) => first.toUpperCase()) ?? 'Event';

interface StepSegment {
  /** `workflow task: queue`, `activity settleHold: run`… */
  segment: string;
  ms: number;
}

/**
 * The events of one step, from the decline update's acceptance to the next offer's send
 * completing, as segments: workflow tasks and activities each split into queue (scheduled →
 * started) and run (started → completed); whatever lies between is the workflow's own wait.
 */
function stepSegments(events: readonly HistoryEvent[]): { timeline: string[]; segments: StepSegment[] } | undefined {
  const accepted = events.findIndex((event) => event.workflowExecutionUpdateAcceptedEventAttributes != null);
  if (accepted < 0) return undefined;
  const startMs = millisOf(events[accepted]!);
  const activityType = new Map<string, string>();
  const scheduledAt = new Map<string, number>();
  const startedAt = new Map<string, number>();
  const segments: StepSegment[] = [];
  const timeline: string[] = [];
  let workflowTaskScheduled = NaN;
  let workflowTaskStarted = NaN;
  let sendsCompleted = 0;
  for (const event of events.slice(accepted)) {
    const at = millisOf(event);
    const name = eventName(event);
    const scheduled = event.activityTaskScheduledEventAttributes;
    const id = String(event.eventId);
    let detail = '';
    if (scheduled) {
      activityType.set(id, scheduled.activityType?.name ?? 'activity');
      scheduledAt.set(id, at);
      detail = ` ${scheduled.activityType?.name ?? ''}`;
    }
    const started = event.activityTaskStartedEventAttributes;
    if (started) {
      const ref = String(started.scheduledEventId);
      startedAt.set(ref, at);
      segments.push({ segment: `activity ${activityType.get(ref)}: queue`, ms: at - (scheduledAt.get(ref) ?? at) });
      detail = ` ${activityType.get(ref) ?? ''}`;
    }
    const completed = event.activityTaskCompletedEventAttributes ?? event.activityTaskFailedEventAttributes;
    if (completed) {
      const ref = String(completed.scheduledEventId);
      segments.push({ segment: `activity ${activityType.get(ref)}: run`, ms: at - (startedAt.get(ref) ?? at) });
      detail = ` ${activityType.get(ref) ?? ''}`;
      if (activityType.get(ref) === 'sendOfferNotification') sendsCompleted += 1;
    }
    if (event.workflowTaskScheduledEventAttributes) workflowTaskScheduled = at;
    if (event.workflowTaskStartedEventAttributes) {
      workflowTaskStarted = at;
      segments.push({ segment: 'workflow task: queue', ms: at - workflowTaskScheduled });
    }
    if (event.workflowTaskCompletedEventAttributes) {
      segments.push({ segment: 'workflow task: run (worker)', ms: at - workflowTaskStarted });
    }
    timeline.push(`+${String(Math.round(at - startMs)).padStart(5)} ms  ${name}${detail}`);
    if (sendsCompleted > 0 && event.workflowTaskCompletedEventAttributes) break;
  }
  if (sendsCompleted === 0) return undefined;
  const endMs = millisOf(events[accepted + timeline.length - 1]!);
  segments.push({ segment: 'step total (update accepted → next offer sent, task completed)', ms: endMs - startMs });
  return { timeline, segments };
}

// ---------------------------------------------------------------------------------------------
// The run

async function createSlots(prisma: PrismaClient, count: number, stamp: string): Promise<string[]> {
  const ids: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const slot = await prisma.slot.create({
      data: {
        tenantId: demoTenant.id,
        name: `Profile slot ${stamp}-${index}`,
        // Long holds: no offer expires during the run, so every step measured is a decline.
        holdSeconds: 30 * 60,
        entries: {
          create: Array.from({ length: settings.candidatesPerSlot }, (_, position) => ({
            tenantId: demoTenant.id,
            customerName: `Candidate ${position + 1}`,
            email: `profile.${stamp}.${index}.${position}@example.test`,
            priority: settings.candidatesPerSlot - position,
          })),
        },
      },
      select: { id: true },
    });
    ids.push(slot.id);
  }
  return ids;
}

/** Runs `jobs` on `clients` concurrent lanes; answers each job's client-side latency. */
async function burst<T>(items: readonly T[], clients: number, job: (item: T) => Promise<void>): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < items.length) {
        const item = items[next++]!;
        const started = performance.now();
        await job(item);
        latencies.push(performance.now() - started);
      }
    }),
  );
  return latencies;
}

async function post(url: string, token: string | undefined, body?: unknown): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`POST ${new URL(url).pathname}: HTTP ${response.status} ${text.slice(0, 200)}`);
}

async function main(): Promise<void> {
  const dataDir = path.resolve(process.env.HOLDFAST_DATA_DIR ?? '/tmp/perf/data');
  const runDir = path.join(dataDir, `profile-${settings.label ?? 'run'}`);
  // A killed earlier run's PostgreSQL outlives it (a session of its own): stopped before its directory goes.
  await stopLeftoverPostgres(path.join(runDir, 'postgres'));
  fs.rmSync(runDir, { recursive: true, force: true });
  fs.mkdirSync(path.join(runDir, 'logs'), { recursive: true });
  for (const [name, port] of Object.entries(ports)) {
    if (await isListening(port)) throw new Error(`port ${port} (${name}) is in use: stop what holds it first`);
  }

  const stops: Array<{ name: string; stop: () => Promise<void> }> = [];
  const children: ProfiledProcess[] = [];
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    for (const child of children) child.child.kill('SIGTERM');
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    say(
      `run directory ${runDir}; ${settings.releases} releases from ${settings.clients} clients, ${settings.declines} declines`,
    );
    const postgres = await startEmbeddedPostgres({
      dataDir: path.join(runDir, 'postgres'),
      port: ports.postgres,
      database: 'holdfast',
      persistent: false,
      callerHandlesSignals: true,
    });
    stops.push({ name: 'PostgreSQL', stop: () => postgres.stop() });
    await applyMigrations(postgres.databaseUrl, { quiet: true });

    const { cliPath } = readTemporalBinaries();
    if (!cliPath) throw new Error('No Temporal CLI is provisioned: run `npm run temporal:provision`.');
    const temporalServer = await startTemporalDevServer({
      cliPath,
      port: ports.temporal,
      // The same SQLite persistence as `npm run dev`, so the server's costs are the dev stack's.
      dbFilename: path.join(runDir, 'temporal.sqlite'),
      logFile: path.join(runDir, 'logs', 'temporal.log'),
    });
    stops.push({ name: 'Temporal dev server', stop: () => temporalServer.stop() });

    const outboxFile = path.join(runDir, 'outbox.jsonl');
    const catcher = await startDevMailCatcher({ port: ports.smtp, outboxFile });
    stops.push({ name: 'SMTP catcher', stop: () => catcher.stop() });
    const sms = await startDevSmsSink({ port: ports.sms, outboxFile });
    stops.push({ name: 'SMS sink', stop: () => sms.stop() });
    const whatsapp = await startDevSmsSink({ port: ports.whatsapp, outboxFile, channel: 'whatsapp' });
    stops.push({ name: 'WhatsApp sink', stop: () => whatsapp.stop() });
    const billing = await startBillingSandbox({ port: ports.billing });
    stops.push({ name: 'billing sandbox', stop: () => billing.stop() });

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      APP_ENV: 'development',
      HOLDFAST_DATA_DIR: runDir,
      DATABASE_URL: postgres.databaseUrl,
      TEMPORAL_ADDRESS: temporalServer.address,
      SMTP_URL: `smtp://127.0.0.1:${catcher.port}`,
      SMS_PROVIDER_URL: sms.url,
      WHATSAPP_PROVIDER_URL: whatsapp.url,
      BILLING_API_URL: billing.url,
      DEV_OUTBOX_FILE: outboxFile,
      API_PORT: String(ports.api),
      API_HOST: '127.0.0.1',
      PUBLIC_BASE_URL: `http://127.0.0.1:${ports.api}`,
      WORKER_METRICS_PORT: String(ports.metrics),
      // The burst comes from one address and one tenant; the limits are not what is measured.
      RATE_LIMIT_PUBLIC_PER_MINUTE: process.env.RATE_LIMIT_PUBLIC_PER_MINUTE ?? '100000',
      RATE_LIMIT_TENANT_WRITES_PER_MINUTE: process.env.RATE_LIMIT_TENANT_WRITES_PER_MINUTE ?? '100000',
    };
    const config = loadConfigOrExit(env);
    const prisma = createPrismaClient(postgres.databaseUrl, { maxConnections: 4 });
    stops.push({ name: 'bench database client', stop: () => prisma.$disconnect() });
    await seed(prisma);
    const token = await signDevToken(config.auth, { tenantId: demoTenant.id, roles: ['tenant-admin'] });

    if (settings.prebuiltBundle) {
      const bundleFile = path.join(runDir, 'workflow-bundle.js');
      const bundlingStarted = Date.now();
      await writeWorkflowBundle(bundleFile);
      env.WORKFLOW_BUNDLE_PATH = bundleFile;
      say(`workflow bundle built ahead in ${ms(Date.now() - bundlingStarted)} (what \`npm run build:workflows\` does)`);
    }
    const workerStartedAt = Date.now();
    const worker = startProfiled('worker', 'workers/main.ts', env, runDir);
    children.push(worker);
    const probeFile = path.join(runDir, 'api-requests.json');
    const api = startProfiled('api', 'api/server.ts', { ...env, HOLDFAST_PROFILE_PROBE_FILE: probeFile }, runDir, [
      '--import',
      path.join(root, 'bench/profile-probe.ts'),
    ]);
    children.push(api);
    const apiUrl = `http://127.0.0.1:${ports.api}`;
    await waitFor('the API answering /readyz', 120_000, async () => {
      if (api.child.exitCode !== null) throw new Error(`the API exited; see ${api.logFile}`);
      return (await fetch(`${apiUrl}/readyz`).catch(() => undefined))?.ok ?? false;
    });
    await waitFor('the worker polling', 180_000, () => {
      if (worker.child.exitCode !== null) throw new Error(`the worker exited; see ${worker.logFile}`);
      return fs.readFileSync(worker.logFile, 'utf8').includes('worker started');
    });
    const workerStartMs = Date.now() - workerStartedAt;
    say(
      `worker polling ${(workerStartMs / 1000).toFixed(1)} s after its spawn` +
        (settings.prebuiltBundle ? ' (prebuilt workflow bundle)' : ' (includes bundling the workflow code)'),
    );

    const stamp = Date.now().toString(36);
    const slotIds = await createSlots(prisma, settings.releases, stamp);
    const releasedAt = new Map<string, number>();

    // 1. The burst of releases.
    const cpuRoots = {
      api: () => api.child.pid,
      worker: () => worker.child.pid,
      temporal: () => temporalServer.process.pid,
      postgres: (table: ReturnType<typeof processTable>) =>
        [...table].find(
          ([, entry]) =>
            entry.cmdline.includes(path.join(runDir, 'postgres')) &&
            /\/postgres$/.test(entry.cmdline.split(' ', 1)[0]!),
        )?.[0],
    };
    const cpuAtStart = cpuSecondsByRole(cpuRoots);
    const loadFromUs = monotonicUs();
    const loadAtStart = os.loadavg();
    const burstStart = Date.now();
    const releaseLatencies = await burst(slotIds, settings.clients, async (slotId) => {
      releasedAt.set(slotId, Date.now());
      await post(`${apiUrl}/api/v1/slots/${slotId}/release`, token);
    });
    const releaseWallMs = Date.now() - burstStart;
    say(
      `releases: ${settings.releases} in ${ms(releaseWallMs)}; client latency ${JSON.stringify(spread(releaseLatencies))}`,
    );

    const firstHolds = async () =>
      prisma.hold.findMany({
        where: { slotId: { in: slotIds }, round: 1 },
        select: { id: true, slotId: true, tokenHash: true, createdAt: true },
      });
    await waitFor('every first offer', 180_000, async () => (await firstHolds()).length >= slotIds.length).catch(
      (error: unknown) => say(String(error)),
    );
    const holds = await firstHolds();
    const sentAtOf = async (holdIds: readonly string[]) =>
      new Map(
        (
          await prisma.notification.findMany({
            where: { idempotencyKey: { in: holdIds.map((id) => `offer:${id}:email`) }, status: 'SENT' },
            select: { idempotencyKey: true, sentAt: true },
          })
        ).map((row) => [row.idempotencyKey.split(':')[1]!, row.sentAt!.getTime()]),
      );
    // A hold is answerable once its offer is out (the cascade opens it just before sending).
    await waitFor(
      'every first offer email',
      180_000,
      async () => (await sentAtOf(holds.map((hold) => hold.id))).size >= holds.length,
    ).catch((error: unknown) => say(String(error)));
    const firstSent = await sentAtOf(holds.map((hold) => hold.id));
    const firstOfferLatencies = holds.map((hold) => hold.createdAt.getTime() - releasedAt.get(hold.slotId)!);
    const firstEmailLatencies = holds
      .filter((hold) => firstSent.has(hold.id))
      .map((hold) => firstSent.get(hold.id)! - releasedAt.get(hold.slotId)!);
    const allFirstOffersMs = Math.max(...holds.map((hold) => hold.createdAt.getTime())) - burstStart;
    say(
      `first offers: ${holds.length}/${slotIds.length}; release → hold created ${JSON.stringify(spread(firstOfferLatencies))}; ` +
        `→ email sent ${JSON.stringify(spread(firstEmailLatencies))}; ` +
        `last hold ${ms(allFirstOffersMs)} after the burst began (${(holds.length / (allFirstOffersMs / 1000)).toFixed(1)} cascades/s)`,
    );

    // 2. Declines: each is one cascade step (settle, pick, hold, send).
    const toDecline = holds.slice(0, settings.declines);
    const declinedAt = new Map<string, number>();
    const declineLatencies = await burst(toDecline, settings.clients, async (hold) => {
      declinedAt.set(hold.slotId, Date.now());
      const offerToken = offerTokenMatching(
        config.offerTokenSecret,
        { tenantId: demoTenant.id, holdId: hold.id },
        hold.tokenHash,
      );
      await post(`${apiUrl}/api/v1/offers/respond`, undefined, { token: offerToken, decision: 'decline' });
    });
    say(
      `declines: ${toDecline.length}; client latency (the update waits for the hold to be settled) ${JSON.stringify(spread(declineLatencies))}`,
    );
    const declinedSlots = toDecline.map((hold) => hold.slotId);
    const secondHolds = async () =>
      prisma.hold.findMany({
        where: { slotId: { in: declinedSlots }, round: 2 },
        select: { id: true, slotId: true, createdAt: true },
      });
    await waitFor(
      'every second offer',
      120_000,
      async () => (await secondHolds()).length >= declinedSlots.length,
    ).catch((error: unknown) => say(String(error)));
    const nextHolds = await secondHolds();
    await waitFor(
      'every second offer email',
      120_000,
      async () => (await sentAtOf(nextHolds.map((hold) => hold.id))).size >= nextHolds.length,
    ).catch((error: unknown) => say(String(error)));
    const secondSent = await sentAtOf(nextHolds.map((hold) => hold.id));
    const nextOfferLatencies = nextHolds.map((hold) => hold.createdAt.getTime() - declinedAt.get(hold.slotId)!);
    const nextEmailLatencies = nextHolds
      .filter((hold) => secondSent.has(hold.id))
      .map((hold) => secondSent.get(hold.id)! - declinedAt.get(hold.slotId)!);
    say(
      `decline sent → next hold created ${JSON.stringify(spread(nextOfferLatencies))}; → its email sent ${JSON.stringify(spread(nextEmailLatencies))}`,
    );

    const loadWindow: MonotonicWindow = { fromUs: loadFromUs, toUs: monotonicUs() };
    const cpuAtEnd = cpuSecondsByRole(cpuRoots);
    const loadCpuSeconds = Object.fromEntries(
      Object.keys(cpuRoots).map((role) => [role, round1(cpuAtEnd[role]! - cpuAtStart[role]!)]),
    );
    const startupCpuSeconds = { api: round1(cpuAtStart.api!), worker: round1(cpuAtStart.worker!) };

    // 3. Cascade steps from the histories (a sample; each fetch is one RPC).
    const connection = await Connection.connect({ address: temporalServer.address });
    const client = new Client({ connection, namespace: config.temporal.namespace });
    const stepSamples: Array<NonNullable<ReturnType<typeof stepSegments>>> = [];
    // Let the last sends' completions reach the histories.
    await sleep(1000);
    for (const slotId of declinedSlots.slice(0, 30)) {
      const history = await client.workflow.getHandle(waitlistCascadeId(demoTenant.id, slotId)).fetchHistory();
      const step = stepSegments(history.events ?? []);
      if (step) stepSamples.push(step);
    }
    const firstStepHistory = await client.workflow
      .getHandle(waitlistCascadeId(demoTenant.id, slotIds[0]!))
      .fetchHistory();
    // A workflow task handed to a worker that does not complete it within 10 s (start-to-close) times out,
    // goes back to the shared queue behind the backlog, and is replayed: the long tail of first offers.
    // One that waits 10 s on a worker's sticky queue (schedule-to-start) moves to the shared queue too.
    // Counted apart, over every cascade of the run.
    const { TimeoutType } = temporal.api.enums.v1;
    const workflowTaskTimeouts = { startToClose: 0, scheduleToStart: 0 };
    let cascadesWithTimeouts = 0;
    for (const slotId of slotIds) {
      const history = await client.workflow.getHandle(waitlistCascadeId(demoTenant.id, slotId)).fetchHistory();
      const timeouts = (history.events ?? []).flatMap((event) =>
        event.workflowTaskTimedOutEventAttributes ? [event.workflowTaskTimedOutEventAttributes.timeoutType] : [],
      );
      workflowTaskTimeouts.startToClose += timeouts.filter(
        (type) => type === TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE,
      ).length;
      workflowTaskTimeouts.scheduleToStart += timeouts.filter(
        (type) => type === TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START,
      ).length;
      if (timeouts.length > 0) cascadesWithTimeouts += 1;
    }
    await connection.close();
    const segmentValues = new Map<string, number[]>();
    for (const sample of stepSamples) {
      const perSample = new Map<string, number>();
      for (const { segment, ms: value } of sample.segments)
        perSample.set(segment, (perSample.get(segment) ?? 0) + value);
      for (const [segment, value] of perSample)
        segmentValues.set(segment, [...(segmentValues.get(segment) ?? []), value]);
    }
    const stepBreakdown = [...segmentValues].map(([segment, values]) => ({ segment, ...spread(values) }));
    const firstStep = (firstStepHistory.events ?? []).slice(0, 40).map((event) => {
      const start = millisOf(firstStepHistory.events![0]!);
      return `+${String(Math.round(millisOf(event) - start)).padStart(5)} ms  ${eventName(event)}${
        event.activityTaskScheduledEventAttributes
          ? ` ${event.activityTaskScheduledEventAttributes.activityType?.name ?? ''}`
          : ''
      }`;
    });

    // 4. Stop the profiled processes so that V8 writes their profiles.
    const apiStopped = await stopProfiled(api, 30_000);
    const workerStopped = await stopProfiled(worker, 60_000);
    children.length = 0;
    if (!apiStopped || !workerStopped) say('a process had to be killed: its profile may be missing');

    const probed = fs.existsSync(probeFile) ? (JSON.parse(fs.readFileSync(probeFile, 'utf8')) as ProbedRequest[]) : [];
    const releasePhases = requestPhases(
      probed.filter((request) => request.route.endsWith('/release') && request.status < 300),
    );
    const declinePhases = requestPhases(
      probed.filter((request) => request.route === '/api/v1/offers/respond' && request.method === 'POST'),
    );

    // The load phase (burst start → last next offer out) is what the findings are about; start-up
    // (module loading, the workflow bundle) is summarized apart.
    const profiles: Record<string, ProfileSummary[]> = {};
    const startup: Record<string, ProfileSummary[]> = {};
    for (const process_ of [api, worker]) {
      const files = fs
        .readdirSync(process_.profileDir)
        .filter((name) => name.endsWith('.cpuprofile'))
        .sort();
      // Node names them CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main one.
      const threadOf = (name: string) => (name.split('.')[4] === '0' ? 'main thread' : `thread ${name.split('.')[4]}`);
      profiles[process_.role] = files.map((name) =>
        summarizeProfile(path.join(process_.profileDir, name), threadOf(name), loadWindow),
      );
      startup[process_.role] = files.map((name) =>
        summarizeProfile(path.join(process_.profileDir, name), threadOf(name), { fromUs: 0, toUs: loadWindow.fromUs }),
      );
    }

    // 5. Findings.
    say('');
    say(
      `machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}; ` +
        `load average at the start ${loadAtStart.map(round1).join(' / ')}, at the end ${os.loadavg().map(round1).join(' / ')} ` +
        '(other processes share these cores: wall-clock figures stretch with it, CPU-seconds much less)',
    );
    say(
      `CPU-seconds in the load phase (from /proc, whole process trees): ${Object.entries(loadCpuSeconds)
        .map(([role, seconds]) => `${role} ${seconds}`)
        .join(', ')}; before it (start-up): api ${startupCpuSeconds.api}, worker ${startupCpuSeconds.worker}`,
    );
    say(
      '(the profiles below count wall time while a thread was not idle: on a loaded machine that includes time ' +
        'waiting for a core, so read their shares, not their seconds)',
    );
    say(
      `CPU profiles of the load phase (${round1((loadWindow.toUs - loadWindow.fromUs) / 1e6)} s: releases, first offers, declines, next offers)`,
    );
    for (const [role, summaries] of Object.entries(profiles)) {
      for (const summary of summaries.filter((item) => item.sampledS >= 0.2)) printProfile(role, summary);
    }
    for (const [role, summaries] of Object.entries(startup)) {
      for (const summary of summaries.filter((item) => item.sampledS >= 0.2)) {
        say(
          `start-up of the ${role} ${summary.thread}: ${summary.sampledS} s on CPU; by package: ` +
            summary.packagesBySelf
              .slice(0, 5)
              .map((row) => `${row.package} ${row.pct}%`)
              .join(', '),
        );
      }
    }
    say('');
    printPhases('POST /slots/:id/release', releasePhases);
    printPhases('POST /offers/respond (decline)', declinePhases);
    say('');
    say(`one cascade step (decline → next offer sent), from ${stepSamples.length} histories: p50 / p90 ms`);
    for (const row of stepBreakdown)
      say(`    ${String(row.p50).padStart(7)} ${String(row.p90).padStart(7)}  ${row.segment}`);
    if (stepSamples[0]) {
      say('  one of them, event by event:');
      for (const line of stepSamples[0].timeline) say(`    ${line}`);
    }
    say(
      `workflow tasks timed out: ${workflowTaskTimeouts.startToClose} inside a worker (start-to-close), ` +
        `${workflowTaskTimeouts.scheduleToStart} on a sticky queue (schedule-to-start), in ${cascadesWithTimeouts} of ${slotIds.length} cascades ` +
        '(each one waits again in the shared queue and replays: the long tail of first offers)',
    );
    say('  a cascade from its start (release) to its first offer:');
    for (const line of firstStep.slice(0, 24)) say(`    ${line}`);

    const result = {
      kind: 'profile',
      at: new Date().toISOString(),
      command: `npm run bench:profile -- ${process.argv.slice(2).join(' ')}`.trim(),
      machine: {
        cpus: os.cpus().length,
        model: os.cpus()[0]?.model,
        node: process.version,
        totalMemGb: round1(os.totalmem() / 2 ** 30),
        loadAverageAtStart: loadAtStart.map(round1),
        loadAverageAtEnd: os.loadavg().map(round1),
      },
      ...(measuredCommit() ? { commit: measuredCommit() } : {}),
      settings,
      // What the worker ran with (null: the SDK's own default).
      workerSettings: {
        maxCachedWorkflows: config.worker.maxCachedWorkflows ?? null,
        maxConcurrentWorkflowTasks: workflowTaskSlotsFor(config) ?? null,
        databasePoolSize: config.databasePoolSize,
      },
      workerStartMs,
      cpuSeconds: { loadPhase: loadCpuSeconds, startup: startupCpuSeconds },
      release: { wallMs: releaseWallMs, clientLatencyMs: spread(releaseLatencies), apiPhases: releasePhases },
      firstOffer: {
        count: holds.length,
        holdCreatedMs: spread(firstOfferLatencies),
        emailSentMs: spread(firstEmailLatencies),
        lastAfterBurstStartMs: allFirstOffersMs,
      },
      decline: {
        clientLatencyMs: spread(declineLatencies),
        nextHoldMs: spread(nextOfferLatencies),
        nextEmailMs: spread(nextEmailLatencies),
        apiPhases: declinePhases,
      },
      workflowTaskTimeouts: { ...workflowTaskTimeouts, cascades: cascadesWithTimeouts },
      cascadeStep: { samples: stepSamples.length, segmentsMs: stepBreakdown, example: stepSamples[0]?.timeline ?? [] },
      profiles,
      startup,
    };
    const resultsDir = path.join(root, 'bench', 'results');
    fs.mkdirSync(resultsDir, { recursive: true });
    // A labelled run is a variant beside the latest plain one, not a replacement for it.
    const resultFile = `profile-${settings.label ?? 'latest'}.json`;
    fs.writeFileSync(path.join(resultsDir, resultFile), `${JSON.stringify(result, null, 2)}\n`);
    say(`wrote bench/results/${resultFile}; raw profiles in ${path.join(runDir, 'profiles')}`);
  } finally {
    for (const child of children) await stopProfiled(child, 30_000);
    for (const { name, stop } of stops.reverse()) {
      await stop().catch((error: unknown) => say(`could not stop ${name}: ${String(error)}`));
    }
    if (interrupted) process.exitCode = 130;
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(process.exitCode ?? 0),
    (error: unknown) => {
      process.stderr.write(
        `[profile] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
