import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { armNames, type ArmName, type RunningArm } from './lib/arm';
import { measuredCommit } from './lib/commit';
import { benchCandidateEmail, createBenchSlots } from './lib/fixtures';
import { ProcessSampler, exitOnSignals } from './lib/processes';
import { readTemporalBinaries } from '../scripts/stack/temporal-binaries';
import { runArrivals, startResponder, type Responder } from './harness/load';
import { judgeBacklogGrowth, measureRun, startLiveSampler } from './harness/metrics';
import {
  describeMachine,
  mediansByArm,
  renderTable,
  roundedLoadAverage,
  temporalCliVersion,
  writeResult,
  type ArmRoundResult,
  type BenchResult,
  type EngineCeilingFigures,
  type Level,
  type LevelResult,
  type LoadStepResult,
  type Mode,
} from './harness/report';
import { writeWorkflowBundle } from '../workers/workflow-bundle';
import { armPlan, startArm, type ArmPlan } from './harness/arms';
import { buildProductionApp, type AppEntry } from './lib/production-build';
import { snapshotStores, storeActivity } from './lib/store-activity';
import { backlogTolerance, measureEngineCeiling } from './ceiling/run';

/**
 * `npm run bench [-- --quick] [--arms T-dev,B-delay] [--rounds 3] [--seed 1] [--entry compiled|source] [--out bench/results]`
 *
 * Runs the arms one at a time (only one arm's services run at once), drives open-loop load at them
 * (bench/harness/load.ts), measures from each arm's database and catcher (bench/harness/metrics.ts),
 * prints the table of issue 14 and writes JSON (bench/harness/report.ts).
 *
 * --quick: the whole command stays under 5 minutes, starting each arm included: one round, a fixed
 * moderate rate, holds of 30 s, each arm's time share split between a short arrival window and a
 * capped drain; cascades still in flight at the end are not judged lost, only stuck ones are.
 * Full: `--rounds` rounds, the arm order reversed every other round; per arm, load steps of rising
 * rate until the backlog grows, then measurements at 50 %, 80 % and 90 % of the highest sustainable
 * step, each drained to the end; medians across rounds.
 */

const quickBudgetMs = 5 * 60_000;
/** Kept back from the quick budget for the report, and for a stop that runs long. */
const quickReserveMs = 10_000;
const stopAllowanceMs = 10_000;

interface Settings {
  mode: Mode;
  arms: ArmName[];
  rounds: number;
  seed: number;
  outDir: string;
  holdSeconds: number;
  quickRate: number;
  startRate: number;
  rateFactor: number;
  maxLoadSteps: number;
  stepSeconds: number;
  measureSeconds: number;
  /**
   * Full mode: the longest wait for a level's cascades to end. Default, per arm: five holds, four times
   * the arm's own lateness on an expiry (the seed's poll adds up to a minute to each), and two minutes.
   */
  drainSeconds?: number;
  dataRoot: string;
  /** The workflow bundle Holdfast's workers load, built once per run (as a production image does). */
  workflowBundle?: string;
  /** How Holdfast's worker and API run: compiled from dist/ (the image's way, default) or through tsx. */
  entry: AppEntry;
  /** Full mode: each engine-ceiling level's length, and the bound on the whole ceiling run (0 skips it). */
  ceilingLevelSeconds: number;
  ceilingMinutes: number;
}

function parseSettings(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      arms: { type: 'string' },
      rounds: { type: 'string' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string', default: path.join('bench', 'results') },
      'hold-seconds': { type: 'string', default: '30' },
      rate: { type: 'string', default: '2' },
      'start-rate': { type: 'string', default: '2' },
      'rate-factor': { type: 'string', default: '1.5' },
      'max-load-steps': { type: 'string', default: '8' },
      'step-seconds': { type: 'string', default: '120' },
      'measure-seconds': { type: 'string', default: '120' },
      'drain-seconds': { type: 'string' },
      'data-dir': { type: 'string', default: path.join(os.tmpdir(), 'holdfast-bench') },
      'ceiling-level-seconds': { type: 'string', default: '30' },
      'ceiling-minutes': { type: 'string', default: '8' },
      entry: { type: 'string', default: 'compiled' },
    },
    strict: true,
  });
  const number = (name: string, text: string | undefined, min: number, max: number): number => {
    const value = Number(text);
    if (!Number.isFinite(value) || value < min || value > max) {
      throw new Error(`--${name} expects a number from ${min} to ${max}, got ${text}`);
    }
    return value;
  };
  const arms = (values.arms ?? armNames.join(',')).split(',').map((name) => name.trim());
  for (const arm of arms) {
    if (!armNames.includes(arm as ArmName)) throw new Error(`--arms: unknown arm ${arm} (${armNames.join(', ')})`);
  }
  const mode: Mode = values.quick ? 'quick' : 'full';
  if (values.entry !== 'compiled' && values.entry !== 'source') {
    throw new Error(`--entry expects compiled or source, got ${values.entry}`);
  }
  const holdSeconds = number('hold-seconds', values['hold-seconds'], 30, 3600);
  return {
    mode,
    arms: arms as ArmName[],
    rounds: mode === 'quick' ? 1 : Math.round(number('rounds', values.rounds ?? '3', 1, 20)),
    seed: Math.round(number('seed', values.seed, 0, 2 ** 32 - 1)),
    outDir: values.out,
    holdSeconds,
    quickRate: number('rate', values.rate, 0.1, 200),
    startRate: number('start-rate', values['start-rate'], 0.1, 200),
    rateFactor: number('rate-factor', values['rate-factor'], 1.1, 4),
    maxLoadSteps: Math.round(number('max-load-steps', values['max-load-steps'], 1, 20)),
    stepSeconds: number('step-seconds', values['step-seconds'], 10, 3600),
    measureSeconds: number('measure-seconds', values['measure-seconds'], 10, 3600),
    ...(values['drain-seconds'] === undefined
      ? {}
      : { drainSeconds: number('drain-seconds', values['drain-seconds'], 10, 7200) }),
    dataRoot: values['data-dir'],
    ceilingLevelSeconds: number('ceiling-level-seconds', values['ceiling-level-seconds'], 10, 600),
    ceilingMinutes: number('ceiling-minutes', values['ceiling-minutes'], 0, 120),
    entry: values.entry,
  };
}

/**
 * Start-up times seen on the 2-core machine (shared with other work) for each arm: T-dev bundles its
 * workflows, T-cluster creates its schemas and starts five server processes. Quick mode gives each arm its
 * start-up plus an equal part of the rest of the budget.
 */
const expectedStartupMs: Record<ArmName, number> = {
  'T-dev': 60_000,
  'T-cluster': 95_000,
  'B-poll': 30_000,
  'B-delay': 30_000,
};

/** This arm's part of what is left of the quick budget, with `later` arms still to run after it. */
function quickShare(arm: ArmName, later: readonly ArmName[], remainingMs: number): number {
  const fixed = [arm, ...later].reduce((sum, name) => sum + expectedStartupMs[name] + stopAllowanceMs, 0);
  return expectedStartupMs[arm] + stopAllowanceMs + Math.max(0, (remainingMs - fixed) / (later.length + 1));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const log = (message: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

/** How long a full-mode level waits for its last cascades: see {@link Settings.drainSeconds}. */
function levelDrainLimitMs({ settings, plan }: Pick<Session, 'settings' | 'plan'>): number {
  if (settings.drainSeconds !== undefined) return settings.drainSeconds * 1000;
  return settings.holdSeconds * 5 * 1000 + 4 * plan.expiryAllowanceMs + 120_000;
}

/** What one running arm session keeps between its load runs. */
interface Session {
  arm: RunningArm;
  plan: ArmPlan;
  settings: Settings;
  responder: Responder;
  /** Recipient → `<slot ordinal>:<rank>`, so every arm's n-th cascade answers alike. */
  candidateKeys: Map<string, string>;
  slotsMade: number;
}

async function makeSlots(session: Session, count: number): Promise<string[]> {
  const slotIds = await createBenchSlots(session.arm.prisma, {
    tenantId: session.arm.tenantId,
    count,
    candidatesPerSlot: 5,
    holdSeconds: session.settings.holdSeconds,
  });
  slotIds.forEach((slotId, index) => {
    for (let rank = 1; rank <= 5; rank += 1) {
      session.candidateKeys.set(benchCandidateEmail(slotId, rank), `${session.slotsMade + index}:${rank}`);
    }
  });
  session.slotsMade += slotIds.length;
  return slotIds;
}

/** Waits (bounded) until every released slot is ASSIGNED or UNFILLED. */
async function drain(arm: RunningArm, slotIds: readonly string[], maxMs: number): Promise<boolean> {
  const until = Date.now() + maxMs;
  for (let check = 0; check < 10_000; check += 1) {
    let open = 0;
    for (let start = 0; start < slotIds.length; start += 2_000) {
      open += await arm.prisma.slot.count({
        where: { id: { in: slotIds.slice(start, start + 2_000) }, status: { notIn: ['ASSIGNED', 'UNFILLED'] } },
      });
    }
    if (open === 0) return true;
    if (Date.now() >= until) return false;
    await sleep(Math.min(2_000, until - Date.now()));
  }
  return false;
}

/** One measured run: arrivals for `windowMs` at `rate`, then a drain of at most `drainMs`. */
async function measureLevel(session: Session, rate: number, windowMs: number, drainMs: number): Promise<LevelResult> {
  const { arm } = session;
  const count = Math.max(1, Math.ceil(rate * (windowMs / 1000) * 2 + 10));
  const slotIds = await makeSlots(session, count);
  const released: string[] = [];
  const sampler = new ProcessSampler(() => arm.processes(), {
    intervalMs: 1_000,
    maxDurationMs: windowMs + drainMs + 120_000,
  });
  const live = startLiveSampler(arm.prisma, {
    tenantId: arm.tenantId,
    releasedSlotIds: () => released,
    maxDurationMs: windowMs + drainMs + 120_000,
  });
  const answersBefore = session.responder.answers().length;
  const decisionsBefore = session.responder.decisions();
  const warn = (line: string) => log(`${arm.arm}: ${line}`);
  const storesBefore = await snapshotStores(arm.stores(), warn);
  sampler.start();
  const windowStart = Date.now();
  const releases = await runArrivals(arm, {
    slotIds,
    ratePerSecond: rate,
    maxDurationMs: windowMs,
    seed: session.settings.seed,
    onReleased: (slotId) => released.push(slotId),
  });
  const windowEnd = Date.now();
  const drainStart = Date.now();
  // Arrivals that ran over or under their window take from or give to the drain: the level keeps its length.
  const drainLimitMs = Math.max(0, drainMs - (windowEnd - windowStart - windowMs));
  const drainedFully = await drain(
    arm,
    releases.map((release) => release.slotId),
    drainLimitMs,
  );
  const drainedMs = Date.now() - drainStart;
  const usage = sampler.stop();
  const storesAfter = await snapshotStores(arm.stores(), warn);
  const liveSamples = await live.stop();
  const decisionsAfter = session.responder.decisions();
  const metrics = await measureRun({
    prisma: arm.prisma,
    releases,
    declines: session.responder
      .answers()
      .slice(answersBefore)
      .filter((answer) => answer.decision === 'decline'),
    messages: arm.catcher.messages(),
    live: liveSamples,
    windowStart,
    windowEnd,
    expiryAllowanceMs: session.plan.expiryAllowanceMs,
    processUsage: Object.fromEntries(
      usage.roles.map((role) => [role.role, { cpuSeconds: role.cpuSeconds, peakRssBytes: role.peakRssBytes }]),
    ),
  });
  return {
    cascadesPerSecond: rate,
    stores: storeActivity(
      storesBefore,
      storesAfter,
      metrics.holdsCreated + metrics.holdsSettled,
      metrics.cascadesReleased,
    ),
    arrivalWindowMs: windowEnd - windowStart,
    drainMs: drainedMs,
    drainLimitMs,
    drainedFully,
    decisions: Object.fromEntries(
      Object.entries(decisionsAfter).map(([decision, count]) => [
        decision,
        count - decisionsBefore[decision as keyof typeof decisionsBefore],
      ]),
    ),
    metrics,
  };
}

/** Full mode: load steps of rising rate, back to back, until the backlog grows over a step. */
async function findSustainableRate(
  session: Session,
): Promise<{ steps: LoadStepResult[]; sustainable?: LoadStepResult }> {
  const { arm, settings } = session;
  const steps: LoadStepResult[] = [];
  const released: string[] = [];
  const stepMs = settings.stepSeconds * 1000;
  const live = startLiveSampler(arm.prisma, {
    tenantId: arm.tenantId,
    releasedSlotIds: () => released,
    maxDurationMs: settings.maxLoadSteps * (stepMs + 60_000),
  });
  let sustainable: LoadStepResult | undefined;
  let rate = settings.startRate;
  try {
    for (let step = 0; step < settings.maxLoadSteps; step += 1) {
      const slotIds = await makeSlots(session, Math.ceil(rate * settings.stepSeconds * 2 + 10));
      const stepStart = Date.now();
      await runArrivals(arm, {
        slotIds,
        ratePerSecond: rate,
        maxDurationMs: stepMs,
        seed: settings.seed + step,
        onReleased: (slotId) => released.push(slotId),
      });
      const stepEnd = Date.now();
      const samples = live.backlog().filter((sample) => sample.at >= stepStart && sample.at <= stepEnd);
      // A few cascades' worth of noise is not growth; a backlog that keeps a second's arrivals more is. The
      // engine ceiling's levels are judged by the same rule.
      const judgement = judgeBacklogGrowth(samples, backlogTolerance(rate));
      const holdsCreated = await arm.prisma.hold.count({
        where: { tenantId: arm.tenantId, createdAt: { gte: new Date(stepStart), lte: new Date(stepEnd) } },
      });
      const holdsSettled = await arm.prisma.hold.count({
        where: {
          tenantId: arm.tenantId,
          status: { not: 'OFFERED' },
          updatedAt: { gte: new Date(stepStart), lte: new Date(stepEnd) },
        },
      });
      const result: LoadStepResult = {
        cascadesPerSecond: rate,
        durationMs: stepEnd - stepStart,
        stepsPerSecond: (holdsCreated + holdsSettled) / ((stepEnd - stepStart) / 1000),
        backlogGrew: judgement.grew,
        backlog: { firstHalfMin: judgement.firstHalfMin, secondHalfMin: judgement.secondHalfMin, last: judgement.last },
      };
      steps.push(result);
      log(
        `${arm.arm} load step ${rate.toFixed(2)} cascades/s: ${result.stepsPerSecond.toFixed(1)} steps/s, backlog ` +
          `${judgement.firstHalfMin ?? '?'} → ${judgement.secondHalfMin ?? '?'} (${judgement.grew ? 'grew' : 'kept up'})`,
      );
      if (judgement.grew) break;
      sustainable = result;
      rate *= settings.rateFactor;
    }
  } finally {
    await live.stop();
  }
  // Let the steps' cascades finish before measuring, so the levels start from an empty backlog.
  await drain(arm, released, levelDrainLimitMs(session));
  return { steps, sustainable };
}

function openSession(arm: RunningArm, plan: ArmPlan, settings: Settings): Session {
  const candidateKeys = new Map<string, string>();
  const responder = startResponder(arm, {
    seed: settings.seed,
    candidateKey: (recipient) => candidateKeys.get(recipient),
    // Well inside the hold: an accept or decline never races the expiry.
    thinkMs: { min: 500, max: Math.min(5_000, settings.holdSeconds * 250) },
  });
  return { arm, plan, settings, responder, candidateKeys, slotsMade: 0 };
}

/**
 * The same server's engine ceiling, measured after Holdfast's levels while its services still run (idle):
 * the trivial cascade of bench/ceiling/ with the events of a real step and no-op activities. Rates start
 * below Holdfast's own sustainable rate and rise past it.
 */
async function engineCeiling(
  engine: { address: string; namespace: string },
  holdfastStepsPerSecond: number | undefined,
  settings: Settings,
  name: ArmName,
): Promise<EngineCeilingFigures> {
  const holdfastOffersPerSecond = holdfastStepsPerSecond === undefined ? undefined : holdfastStepsPerSecond / 2;
  // Levels a tenth apart around Holdfast's own rate, wider above: the fraction is exact to one level.
  const base = holdfastOffersPerSecond ?? 2;
  const rates = [0.8, 0.9, 1, 1.1, 1.25, 1.5, 2, 3, 4, 6, 8].map((factor) => Math.round(base * factor * 10) / 10);
  const began = Date.now();
  log(`${name}: engine ceiling at ${rates.join(', ')} offers/s, ${settings.ceilingLevelSeconds} s each`);
  try {
    const ceiling = await measureEngineCeiling({
      ...engine,
      rates,
      levelSeconds: settings.ceilingLevelSeconds,
      holdMs: settings.holdSeconds * 1000,
      maxDurationMs: settings.ceilingMinutes * 60_000,
      log: (line) => log(`  [${name} ceiling] ${line}`),
    });
    const lastRun = ceiling.levels.at(-1);
    if (!lastRun) throw new Error(`no level fits in --ceiling-minutes ${settings.ceilingMinutes}`);
    const offersPerSecond = ceiling.sustainableStepsPerSecond;
    log(`${name}: engine ceiling ${offersPerSecond} offers/s`);
    return {
      offersPerSecond,
      lowerBound: lastRun?.sustainable === true,
      ...(holdfastOffersPerSecond === undefined ? {} : { holdfastOffersPerSecond }),
      ...(holdfastOffersPerSecond !== undefined && offersPerSecond > 0
        ? { fraction: holdfastOffersPerSecond / offersPerSecond }
        : {}),
      levels: ceiling.levels.map((level) => ({
        offeredStepsPerSecond: level.offeredStepsPerSecond,
        arrivedStepsPerSecond: level.arrivedStepsPerSecond,
        completedStepsPerSecond: level.completedStepsPerSecond,
        backlogGrowthPerSecond: level.backlogGrowthPerSecond,
        backlogGrew: level.backlogGrew,
        stepP99Ms: level.stepLatencyMs.p99,
        sustainable: level.sustainable,
      })),
      durationMs: Date.now() - began,
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(`${name}: engine ceiling failed: ${message}`);
    return { offersPerSecond: 0, lowerBound: false, levels: [], durationMs: Date.now() - began, error: message };
  }
}

async function runArmRound(
  name: ArmName,
  round: number,
  settings: Settings,
  quickShareMs: number | undefined,
): Promise<ArmRoundResult> {
  const plan = armPlan(name);
  const unavailable = plan.unavailable();
  if (unavailable) {
    log(`${name}: skipped: ${unavailable}`);
    return { arm: name, round, skipped: unavailable, levels: {} };
  }
  const dataDir = path.join(settings.dataRoot, `${name}-round${round}`);
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(dataDir, { recursive: true });
  const startedAt = Date.now();
  log(`${name}: starting (data in ${dataDir})`);
  let arm: RunningArm | undefined;
  const result: ArmRoundResult = { arm: name, round, levels: {} };
  try {
    arm = await startArm(name, dataDir, {
      env: settings.workflowBundle ? { WORKFLOW_BUNDLE_PATH: settings.workflowBundle } : {},
      entry: settings.entry,
    });
    result.startupMs = Date.now() - startedAt;
    log(`${name}: ready in ${(result.startupMs / 1000).toFixed(1)} s (API ${arm.apiUrl})`);
    const session = openSession(arm, plan, settings);
    try {
      if (quickShareMs !== undefined) {
        const left = quickShareMs - (Date.now() - startedAt) - stopAllowanceMs;
        // Under 15 s nothing but a few releases could be seen: say so rather than report noise. Between that and a
        // hold's length, starts and declines are measured but no hold can expire (the lateness stays empty).
        if (left < 15_000) {
          result.skipped = `only ${Math.round(left / 1000)} s of its share of the 5-minute budget left after start-up`;
          log(`${name}: skipped: ${result.skipped}`);
          return result;
        }
        // A third of what is left for arrivals (at most 20 s), the rest to let holds expire and cascades move on.
        const windowMs = Math.min(20_000, Math.round(left / 3));
        const drainMs = left - windowMs - 5_000;
        log(
          `${name}: quick run at ${settings.quickRate} cascades/s for ${Math.round(windowMs / 1000)} s, drain ≤ ${Math.round(drainMs / 1000)} s`,
        );
        result.levels.quick = await measureLevel(session, settings.quickRate, windowMs, drainMs);
      } else {
        const found = await findSustainableRate(session);
        result.loadSteps = found.steps;
        const base = found.sustainable ?? found.steps[0];
        if (found.sustainable) {
          result.sustainable = {
            cascadesPerSecond: found.sustainable.cascadesPerSecond,
            stepsPerSecond: found.sustainable.stepsPerSecond,
            // No step's backlog grew before --max-load-steps ran out: the true ceiling lies higher.
            lowerBound: !found.steps.some((step) => step.backlogGrew),
          };
        }
        const baseRate = base?.cascadesPerSecond ?? settings.startRate;
        for (const [level, share] of [
          ['50%', 0.5],
          ['80%', 0.8],
          ['90%', 0.9],
        ] as const) {
          const rate = baseRate * share;
          log(`${name}: measuring at ${level} (${rate.toFixed(2)} cascades/s) for ${settings.measureSeconds} s`);
          result.levels[level as Level] = await measureLevel(
            session,
            rate,
            settings.measureSeconds * 1000,
            levelDrainLimitMs(session),
          );
        }
        if (arm.engine && settings.ceilingMinutes > 0) {
          result.engineCeiling = await engineCeiling(arm.engine, result.sustainable?.stepsPerSecond, settings, name);
        }
      }
    } finally {
      await session.responder.stop();
    }
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    log(`${name}: failed: ${result.error}`);
  } finally {
    if (arm) {
      log(`${name}: stopping`);
      await arm.stop().catch((error: unknown) => log(`${name}: stop failed: ${String(error)}`));
    }
  }
  return result;
}

async function main(): Promise<void> {
  exitOnSignals();
  const startedAt = new Date();
  // Other work on the machine skews every figure: the JSON keeps the load the run began and ended in.
  const loadAtStart = roundedLoadAverage();
  const settings = parseSettings(process.argv.slice(2));
  const deadline = settings.mode === 'quick' ? startedAt.getTime() + quickBudgetMs - quickReserveMs : undefined;
  log(`${settings.mode} mode: arms ${settings.arms.join(', ')}; ${settings.rounds} round(s); seed ${settings.seed}`);
  if (settings.arms.some((arm) => arm.startsWith('T-'))) {
    // Built once here instead of by every worker at its start, like the production image (Dockerfile).
    settings.workflowBundle = path.join(settings.dataRoot, 'workflow-bundle.js');
    fs.mkdirSync(settings.dataRoot, { recursive: true });
    const bundleStarted = Date.now();
    await writeWorkflowBundle(settings.workflowBundle);
    log(`workflow bundle built in ${((Date.now() - bundleStarted) / 1000).toFixed(1)} s`);
    if (settings.entry === 'compiled') {
      log(`worker and API compiled into dist/ in ${(buildProductionApp() / 1000).toFixed(1)} s`);
    }
  }
  const rounds: ArmRoundResult[] = [];
  for (let round = 1; round <= settings.rounds; round += 1) {
    // Interleaved, reversed every other round, so no arm always runs first on a cold machine.
    const order = round % 2 === 1 ? settings.arms : [...settings.arms].reverse();
    const runnable = order.filter((arm) => !armPlan(arm).unavailable());
    for (const [index, name] of order.entries()) {
      const later = order.slice(index + 1).filter((arm) => runnable.includes(arm));
      const shareMs =
        deadline === undefined || !runnable.includes(name) ? undefined : quickShare(name, later, deadline - Date.now());
      rounds.push(await runArmRound(name, round, settings, shareMs));
    }
  }

  const ran = (arm: ArmName) => rounds.some((round) => round.arm === arm && round.startupMs !== undefined);
  const binaries = (() => {
    try {
      return readTemporalBinaries();
    } catch {
      return {};
    }
  })();
  const result: BenchResult = {
    mode: settings.mode,
    command: ['npm run bench --', ...process.argv.slice(2)].join(' '),
    seed: settings.seed,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    ...(measuredCommit() ? { commit: measuredCommit() } : {}),
    machine: describeMachine({
      loadAverage: { atStart: loadAtStart, atEnd: roundedLoadAverage() },
      temporalCli: ran('T-dev') || ran('T-cluster') ? temporalCliVersion(binaries.cliPath) : undefined,
      temporalServer: ran('T-cluster') ? armPlan('T-cluster').serverVersion : undefined,
      devServerSqlite: ran('T-dev')
        ? armPlan('T-dev').describeStore?.(path.join(settings.dataRoot, 'T-dev-round1'))
        : undefined,
    }),
    settings: { ...settings },
    rounds,
    medians: mediansByArm(rounds),
    notes: [
      'A step is one offer made (hold created) or one hold settled.',
      'Answers: seeded mix accept 30 % / decline 30 % / expire 40 %, think time 0.5–5 s, holds of ' +
        `${settings.holdSeconds} s, 5 candidates per slot.`,
      settings.mode === 'quick'
        ? 'Quick mode: one fixed rate; "p99" of few samples is close to the max; lateness appears only for holds that expired inside the short run; B-poll polls once a minute, so its quick figures rarely include an expiry.'
        : 'Full mode: the 50/80/90 % levels are shares of the highest load step whose backlog did not grow.',
    ],
  };
  const written = writeResult(result, settings.outDir);
  console.log('');
  console.log(renderTable(result));
  console.log('');
  for (const round of rounds) {
    if (round.skipped) console.log(`${round.arm} round ${round.round}: skipped: ${round.skipped}`);
    if (round.error) console.log(`${round.arm} round ${round.round}: failed: ${round.error}`);
    if (round.sustainable) {
      console.log(
        `${round.arm} round ${round.round}: max sustainable ${round.sustainable.cascadesPerSecond.toFixed(2)} cascades/s = ` +
          `${round.sustainable.stepsPerSecond.toFixed(1)} steps/s${round.sustainable.lowerBound ? ' (a lower bound: no load step grew the backlog)' : ''}`,
      );
    }
    for (const [level, figures] of Object.entries(round.levels)) {
      const correctness = figures.metrics.correctness;
      console.log(
        `${round.arm} round ${round.round} ${level}: ${figures.metrics.cascadesReleased} cascades at ` +
          `${figures.cascadesPerSecond.toFixed(2)}/s; ${correctness.cascadesFinal} final, ${correctness.cascadesInFlight} in flight, ` +
          `${correctness.cascadesStuck} stuck ${JSON.stringify(correctness.stuckReasons)}; ${figures.metrics.holdsCreated} offers; ${correctness.liveSamples} live samples; ` +
          `decisions ${JSON.stringify(figures.decisions)}; ${correctness.judgedBy}`,
      );
    }
  }
  console.log(
    `\nwritten: ${written.file} and ${written.latest} (${Math.round((Date.now() - startedAt.getTime()) / 1000)} s)`,
  );
  if (rounds.some((round) => round.error)) process.exitCode = 1;
}

// Exits explicitly: a library's leftover handle must not keep the command past its budget, nor an exit hook
// replace its status.
main().then(
  () => process.exit(process.exitCode ?? 0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
