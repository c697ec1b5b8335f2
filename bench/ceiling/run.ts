import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { CeilingWorkerMessage } from './worker';
import { CEILING_KEY_ENV, CEILING_SALT_ENV, createCeilingDataConverter } from './codec';
import { answerOfferUpdate, type CeilingCascadeInput, type CeilingDecision } from './workflow';
import { exitOnSignals } from '../lib/processes';
import { judgeBacklogGrowth } from '../harness/metrics';

/**
 * The engine ceiling: how many cascade steps per second the Temporal server, the worker's SDK and Holdfast's
 * payload codec sustain when the activities do nothing (bench/ceiling/workflow.ts has the same events per step
 * as the waitlist cascade). Holdfast's own rate is reported as a fraction of it.
 *
 * Open loop: cascades arrive as a Poisson process at (rate / offers per cascade) per second, so offered steps
 * arrive at `rate` per second whatever the system does; every offer is declined as soon as it is sent (or left
 * to expire, `expireShare`), the last one accepted. Rates rise level by level; a level is sustainable when its
 * backlog does not grow, judged as Holdfast's own load steps are (`judgeBacklogGrowth`), and its steps stay
 * under a latency bound. Every level and drain is bounded in time, and the whole run by `maxDurationMs`.
 */

export interface EngineCeilingOptions {
  /** host:port of the Temporal frontend (the arm's server). */
  address: string;
  namespace?: string;
  /** Offered steps per second, one level each, in rising order. */
  rates?: number[];
  levelSeconds?: number;
  offersPerCascade?: number;
  /** The hold each offer starts as a timer (cancelled by a decline). */
  holdMs?: number;
  /** Share of offers (not the last) left to expire instead of declined. */
  expireShare?: number;
  /** The worker's sticky cache; the SDK's default when omitted (as the real worker). */
  maxCachedWorkflows?: number;
  /** Extra environment for the worker process (e.g. NODE_OPTIONS=--cpu-prof). */
  workerEnv?: NodeJS.ProcessEnv;
  /** A level whose step p99 exceeds this is not sustainable (default 2 s). */
  stepLatencyBoundMs?: number;
  /** Stops the run after this long, whatever level it is at. */
  maxDurationMs?: number;
  log?: (line: string) => void;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export interface CeilingLevel {
  offeredStepsPerSecond: number;
  cascadesStarted: number;
  /** Cascades started × offers per cascade, per second of the level (Poisson: near the offered rate). */
  arrivedStepsPerSecond: number;
  stepsCompleted: number;
  /** Steps completed within the level, per second of it. */
  completedStepsPerSecond: number;
  /** Cascades waiting on the engine: mean over the last quarter minus mean over the second quarter, per second. */
  backlogGrowthPerSecond: number;
  /** Whether the backlog grew by more than the tolerance (`backlogTolerance`): what the level is judged by. */
  backlogGrew: boolean;
  /** Decline sent → the next offer's send activity running; accept sent → its Update answered. */
  stepLatencyMs: LatencySummary;
  /** Start requested → the first offer's send activity running. */
  firstOfferLatencyMs: LatencySummary;
  /** Hold's expiresAt → the next offer's send activity running. */
  expiryLatenessMs: LatencySummary;
  /** Client-side start call duration. */
  startCallMs: LatencySummary;
  errors: number;
  /** Cascades still open after the drain bound (terminated). */
  stuckCascades: number;
  workerCpuSeconds: number;
  sustainable: boolean;
}

export interface EngineCeilingResult {
  address: string;
  namespace: string;
  /** What one step (one offer) costs the engine, counted from the waitlist cascade's recorded histories. */
  perStep: { activities: number; timers: number; updates: number };
  /** A cascade adds beginCascade and sendConfirmation (confirmHold takes the accepted offer's settleHold place). */
  perCascadeExtra: { activities: number; searchAttributeUpserts: number };
  offersPerCascade: number;
  holdMs: number;
  expireShare: number;
  levelSeconds: number;
  /** The highest level that was sustainable (0 if none was). */
  sustainableStepsPerSecond: number;
  levels: CeilingLevel[];
  worker: { pid: number; peakRssMb: number; cpuSeconds: number; maxCachedWorkflows: number | 'sdk-default' };
  durationMs: number;
}

const DEFAULT_RATES = [5, 10, 20, 30, 40, 60, 80, 120, 160];
/** The time a level leaves for its cascades to finish before the run's bound. */
const DRAIN_ALLOWANCE_MS = 60_000;
/** More open cascades than this means the engine fell far behind: the level stops adding load. */
const MAX_OPEN_CASCADES = 5_000;
const CLOCK_TICKS_PER_SECOND = 100;

/** p50/p99/max of a sample, in whole milliseconds. */
export function summarize(values: readonly number[]): LatencySummary {
  if (values.length === 0) return { count: 0, p50: 0, p99: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { count: sorted.length, p50: Math.round(at(0.5)), p99: Math.round(at(0.99)), max: Math.round(at(1)) };
}

/**
 * Whether a level kept up: its backlog of cascades did not grow, by the rule that judges Holdfast's own load
 * steps (the second half's trough no more than a second's arrivals, and at least 3 cascades, above the
 * first's), so that the fraction compares two rates judged alike; steps stayed under the latency bound (a
 * backlog that grows shows there first); and nothing failed or stayed open. Completed steps per second are
 * reported, not judged: with a few dozen Poisson arrivals per level they scatter too much to compare.
 */
export function isSustainable(
  level: {
    backlogGrew: boolean;
    stepLatencyMs: LatencySummary;
    errors: number;
    stuckCascades: number;
  },
  latencyBoundMs: number,
): boolean {
  return (
    !level.backlogGrew && level.errors === 0 && level.stuckCascades === 0 && level.stepLatencyMs.p99 <= latencyBoundMs
  );
}

/** A second's arrivals of cascades, and at least 3: the backlog growth a level may show and still keep up. */
export function backlogTolerance(cascadesPerSecond: number): number {
  return Math.max(3, cascadesPerSecond);
}

/** CPU-seconds and peak RSS of one process, from /proc (0 once it is gone). */
function processUsage(pid: number): { cpuSeconds: number; peakRssMb: number } {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwmKb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { cpuSeconds, peakRssMb: Math.round(hwmKb / 1024) };
  } catch {
    return { cpuSeconds: 0, peakRssMb: 0 };
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Cascade {
  handle: WorkflowHandle;
  level: number;
  startRequestedAt: number;
  /** When the open offer was answered (undefined while it waits to expire). */
  answeredAt?: number;
  /** The open offer's deadline, for offers left to expire. */
  expiringAt?: number;
  done: boolean;
}

interface LevelStats {
  started: number;
  completions: number[];
  stepLatency: number[];
  firstOffer: number[];
  expiryLateness: number[];
  startCall: number[];
  backlogSamples: { at: number; backlog: number }[];
  errors: number;
}

const newLevelStats = (): LevelStats => ({
  started: 0,
  completions: [],
  stepLatency: [],
  firstOffer: [],
  expiryLateness: [],
  startCall: [],
  backlogSamples: [],
  errors: 0,
});

async function startCeilingWorker(
  options: EngineCeilingOptions & { namespace: string; taskQueue: string; key: string; salt: string },
  onEvent: (message: CeilingWorkerMessage) => void,
): Promise<ChildProcess> {
  const child = fork(path.join(__dirname, 'worker.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      ...options.workerEnv,
      CEILING_ADDRESS: options.address,
      CEILING_NAMESPACE: options.namespace,
      CEILING_TASK_QUEUE: options.taskQueue,
      [CEILING_KEY_ENV]: options.key,
      [CEILING_SALT_ENV]: options.salt,
      ...(options.maxCachedWorkflows === undefined
        ? {}
        : { CEILING_MAX_CACHED_WORKFLOWS: String(options.maxCachedWorkflows) }),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  child.on('message', (message: CeilingWorkerMessage) => onEvent(message));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the ceiling worker did not start within 120 s')), 120_000);
    child.on('message', (message: CeilingWorkerMessage) => {
      if (message.kind !== 'ready') return;
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the ceiling worker exited with code ${code} during start-up`));
    });
  });
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Runs the ceiling against one server: see the module comment. */
export async function measureEngineCeiling(options: EngineCeilingOptions): Promise<EngineCeilingResult> {
  const began = Date.now();
  const namespace = options.namespace ?? 'default';
  const rates = options.rates ?? DEFAULT_RATES;
  const levelMs = (options.levelSeconds ?? 20) * 1000;
  const latencyBoundMs = options.stepLatencyBoundMs ?? 2000;
  const offers = options.offersPerCascade ?? 5;
  const holdMs = options.holdMs ?? 30_000;
  const expireShare = options.expireShare ?? 0;
  const deadline = began + (options.maxDurationMs ?? 6 * 60_000);
  const log = options.log ?? ((line: string) => console.log(line));
  if (offers < 1 || expireShare < 0 || expireShare >= 1) throw new Error('offers ≥ 1 and 0 ≤ expireShare < 1');

  const runId = randomBytes(4).toString('hex');
  const key = randomBytes(32).toString('base64');
  const salt = randomBytes(32).toString('base64');
  const taskQueue = `bench-ceiling-${runId}`;
  const cascades = new Map<string, Cascade>();
  const stats: LevelStats[] = [];
  const connection = await Connection.connect({ address: options.address });
  const client = new Client({ connection, namespace, dataConverter: createCeilingDataConverter(key, salt) });
  let openCascades = 0;

  const finish = (cascade: Cascade) => {
    if (cascade.done) return;
    cascade.done = true;
    openCascades -= 1;
  };

  // Plays the candidate of each offer the worker reports sent: decline, accept the last, or let it expire.
  const answer = (workflowId: string, cascade: Cascade, offer: number, decision: CeilingDecision) => {
    const answeredAt = Date.now();
    cascade.answeredAt = answeredAt;
    cascade.handle
      .executeUpdate(answerOfferUpdate, { args: [{ offer, decision }] })
      .then(() => {
        if (decision !== 'accept') return;
        const level = stats[cascade.level]!;
        level.completions.push(Date.now());
        level.stepLatency.push(Date.now() - answeredAt);
        finish(cascade);
      })
      .catch((error: unknown) => {
        stats[cascade.level]!.errors += 1;
        log(`  update failed on ${workflowId}: ${String(error)}`);
        finish(cascade);
      });
  };

  const onEvent = (message: CeilingWorkerMessage) => {
    if (message.kind !== 'offer-sent') return;
    const cascade = cascades.get(message.workflowId);
    if (!cascade || cascade.done) return;
    const level = stats[cascade.level]!;
    if (message.offer === 1) level.firstOffer.push(message.at - cascade.startRequestedAt);
    else {
      level.completions.push(message.at);
      if (cascade.answeredAt !== undefined) level.stepLatency.push(message.at - cascade.answeredAt);
      else if (cascade.expiringAt !== undefined) level.expiryLateness.push(message.at - cascade.expiringAt);
    }
    cascade.answeredAt = undefined;
    cascade.expiringAt = undefined;
    if (message.offer >= offers) answer(message.workflowId, cascade, message.offer, 'accept');
    else if (Math.random() < expireShare) cascade.expiringAt = message.expiresAt;
    else answer(message.workflowId, cascade, message.offer, 'decline');
  };

  /** Cascades waiting on the engine: open ones, less those whose offer waits for its hold to run out. */
  const backlog = () => {
    let waitingOnHolds = 0;
    for (const cascade of cascades.values()) {
      if (!cascade.done && cascade.expiringAt !== undefined && cascade.expiringAt > Date.now()) waitingOnHolds += 1;
    }
    return openCascades - waitingOnHolds;
  };

  const startCascade = (levelIndex: number, sequence: number) => {
    const workflowId = `ceiling:${runId}:${levelIndex}-${sequence}`;
    const input: CeilingCascadeInput = { tenantId: `ceiling-${runId}`, offers, holdMs };
    const level = stats[levelIndex]!;
    const cascade: Cascade = {
      handle: client.workflow.getHandle(workflowId),
      level: levelIndex,
      startRequestedAt: Date.now(),
      done: false,
    };
    cascades.set(workflowId, cascade);
    openCascades += 1;
    level.started += 1;
    client.workflow
      .start('ceilingCascadeWorkflow', { taskQueue, workflowId, args: [input] })
      .then(() => level.startCall.push(Date.now() - cascade.startRequestedAt))
      .catch((error: unknown) => {
        level.errors += 1;
        log(`  start failed on ${workflowId}: ${String(error)}`);
        finish(cascade);
      });
  };

  const worker = await startCeilingWorker({ ...options, namespace, taskQueue, key, salt }, onEvent).catch(
    async (error: unknown) => {
      await connection.close();
      throw error;
    },
  );
  const levels: CeilingLevel[] = [];
  try {
    for (const [levelIndex, rate] of rates.entries()) {
      // A level needs its drain too: one cut short by the bound would count its open cascades as stuck and
      // pass a time limit off as the ceiling.
      if (Date.now() + levelMs + DRAIN_ALLOWANCE_MS > deadline) {
        log(`stopping before ${rate} steps/s: the run's time bound is reached`);
        break;
      }
      stats.push(newLevelStats());
      const level = stats[levelIndex]!;
      const cpuBefore = processUsage(worker.pid!).cpuSeconds;
      const levelStart = Date.now();
      const levelEnd = levelStart + levelMs;
      const cascadesPerSecond = rate / offers;
      let nextArrival = levelStart;
      let sequence = 0;
      let nextSample = levelStart;
      while (Date.now() < levelEnd && openCascades < MAX_OPEN_CASCADES) {
        const now = Date.now();
        while (nextArrival <= now && nextArrival < levelEnd) {
          startCascade(levelIndex, sequence);
          sequence += 1;
          // Poisson arrivals: exponential gaps.
          nextArrival += (-Math.log(1 - Math.random()) / cascadesPerSecond) * 1000;
        }
        if (now >= nextSample) {
          level.backlogSamples.push({ at: now, backlog: backlog() });
          nextSample += 250;
        }
        await sleep(Math.max(1, Math.min(nextArrival, nextSample, levelEnd) - Date.now()));
      }
      const overloaded = openCascades >= MAX_OPEN_CASCADES;

      // Drain: every cascade of this level finishes (expiring holds included) before the next level starts.
      const drainBound = Math.min(deadline, Date.now() + DRAIN_ALLOWANCE_MS + (expireShare > 0 ? holdMs * offers : 0));
      while (openCascades > 0 && Date.now() < drainBound) await sleep(200);
      let stuck = 0;
      for (const [workflowId, cascade] of cascades) {
        if (cascade.done) continue;
        stuck += 1;
        finish(cascade);
        await cascade.handle.terminate('engine ceiling: still open after the drain bound').catch(() => undefined);
        cascades.delete(workflowId);
      }
      cascades.clear();

      const quarterMean = (from: number, to: number) => {
        const inQuarter = level.backlogSamples.filter((sample) => sample.at >= from && sample.at < to);
        return inQuarter.reduce((sum, sample) => sum + sample.backlog, 0) / Math.max(1, inQuarter.length);
      };
      const quarter = levelMs / 4;
      const growth =
        (quarterMean(levelStart + 3 * quarter, levelEnd) -
          quarterMean(levelStart + quarter, levelStart + 2 * quarter)) /
        ((2 * quarter) / 1000);
      const completedInLevel = level.completions.filter((at) => at < levelEnd).length;
      const perSecond = (count: number) => Math.round((count / (levelMs / 1000)) * 10) / 10;
      const measured = {
        offeredStepsPerSecond: rate,
        cascadesStarted: level.started,
        arrivedStepsPerSecond: perSecond(level.started * offers),
        stepsCompleted: level.completions.length,
        completedStepsPerSecond: perSecond(completedInLevel),
        backlogGrowthPerSecond: Math.round(growth * 100) / 100,
        backlogGrew: judgeBacklogGrowth(level.backlogSamples, backlogTolerance(cascadesPerSecond)).grew,
        stepLatencyMs: summarize(level.stepLatency),
        firstOfferLatencyMs: summarize(level.firstOffer),
        expiryLatenessMs: summarize(level.expiryLateness),
        startCallMs: summarize(level.startCall),
        errors: level.errors,
        stuckCascades: stuck,
        workerCpuSeconds: Math.round((processUsage(worker.pid!).cpuSeconds - cpuBefore) * 100) / 100,
      };
      const result: CeilingLevel = {
        ...measured,
        sustainable: !overloaded && isSustainable(measured, latencyBoundMs),
      };
      levels.push(result);
      log(
        `${String(rate).padStart(4)} steps/s offered (${result.arrivedStepsPerSecond} arrived): ` +
          `${result.completedStepsPerSecond} completed/s, backlog ` +
          `${result.backlogGrowthPerSecond >= 0 ? '+' : ''}${result.backlogGrowthPerSecond}/s, step p50 ` +
          `${result.stepLatencyMs.p50} ms p99 ${result.stepLatencyMs.p99} ms, start p50 ${result.startCallMs.p50} ms, ` +
          `worker ${result.workerCpuSeconds} CPU-s, errors ${result.errors}, stuck ${stuck}` +
          `${result.backlogGrew ? ', backlog grew' : ''}` +
          `${result.sustainable ? '' : '  ← not sustainable'}`,
      );
      if (!result.sustainable) break;
    }
  } finally {
    await connection.close();
  }
  const usage = processUsage(worker.pid!);
  await stopChild(worker);
  const sustainable = levels.filter((level) => level.sustainable);
  return {
    address: options.address,
    namespace,
    perStep: { activities: 3, timers: 1, updates: 1 },
    perCascadeExtra: { activities: 2, searchAttributeUpserts: 2 },
    offersPerCascade: offers,
    holdMs,
    expireShare,
    levelSeconds: levelMs / 1000,
    sustainableStepsPerSecond: sustainable.length ? sustainable[sustainable.length - 1]!.offeredStepsPerSecond : 0,
    levels,
    worker: {
      pid: worker.pid!,
      peakRssMb: usage.peakRssMb,
      cpuSeconds: usage.cpuSeconds,
      maxCachedWorkflows: options.maxCachedWorkflows ?? 'sdk-default',
    },
    durationMs: Date.now() - began,
  };
}

function argument(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

function numberArgument(name: string, fallback: number): number {
  const text = argument(name);
  const value = text === undefined ? fallback : Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} expects a number ≥ 0`);
  return value;
}

/**
 * `npx tsx bench/ceiling/run.ts --address 127.0.0.1:<port> [--namespace default] [--rates 5,10,20]
 * [--level-seconds 20] [--offers 5] [--hold-seconds 30] [--expire-share 0] [--max-cached N]
 * [--latency-bound-ms 2000] [--max-minutes 6] [--out bench/results/ceiling-latest.json]`
 */
async function main(): Promise<void> {
  exitOnSignals();
  const address = argument('address');
  if (!address) throw new Error('--address host:port of a Temporal frontend is required');
  const maxCached = argument('max-cached');
  const result = await measureEngineCeiling({
    address,
    namespace: argument('namespace') ?? 'default',
    rates: argument('rates')?.split(',').map(Number) ?? DEFAULT_RATES,
    levelSeconds: numberArgument('level-seconds', 20),
    offersPerCascade: numberArgument('offers', 5),
    holdMs: numberArgument('hold-seconds', 30) * 1000,
    expireShare: numberArgument('expire-share', 0),
    stepLatencyBoundMs: numberArgument('latency-bound-ms', 2000),
    maxDurationMs: numberArgument('max-minutes', 6) * 60_000,
    ...(maxCached === undefined ? {} : { maxCachedWorkflows: Number(maxCached) }),
  });
  const out = argument('out') ?? path.join(__dirname, '..', 'results', 'ceiling-latest.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify({ measuredAt: new Date().toISOString(), ...result }, null, 2)}\n`);
  console.log(
    `engine ceiling: ${result.sustainableStepsPerSecond} steps/s sustained (${result.perStep.activities} activities, ` +
      `${result.perStep.timers} timer, ${result.perStep.updates} Update per step); worker peak RSS ` +
      `${result.worker.peakRssMb} MB; written to ${out}`,
  );
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
