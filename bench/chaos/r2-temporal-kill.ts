import { createBenchSlots } from '../lib/fixtures';
import type { HoldfastStack } from '../lib/holdfast-stack';
import { runCascadesUnderFault } from './cascades';
import { timersThatDidNotFire } from './checks';
import {
  quantile,
  readHolds,
  readSlots,
  releaseAll,
  round,
  scenarioRandom,
  sleep,
  type ScenarioOptions,
  type ScenarioResult,
} from './common';

export const R2_TITLE = 'Temporal dev server SIGKILLed mid-flow and restarted on its store';

/** Mostly expiries, so most steps wait on a durable timer that must survive the kill. */
const TIMER_HEAVY_MIX = { accept: 0.15, decline: 0.15 };
const HOLD_SECONDS = 6;

/**
 * Kills the server (SIGKILL, its whole process group), keeps it down `downMs`, starts it again on
 * the same command (and so the same store) and waits until it answers. Answers the downtime.
 */
async function killTemporal(stack: HoldfastStack, downMs: number): Promise<number> {
  const temporal = stack.services.temporal;
  if (!temporal) throw new Error('this stack has no Temporal server of its own to kill');
  const killedAt = Date.now();
  temporal.kill('SIGKILL');
  await temporal.exited;
  await sleep(downMs);
  await temporal.restart();
  return Date.now() - killedAt;
}

/**
 * R2: cascades (quick 30, full 100) on the dev server with its SQLite file; the server is SIGKILLed
 * mid-flow (while holds wait on their timers) and restarted on the same file. Pass: every cascade
 * final, every expired hold moved on (its timer fired), no duplicates. Figure: expiry lateness.
 */
export async function runTemporalKill(stack: HoldfastStack, options: ScenarioOptions): Promise<ScenarioResult> {
  const random = scenarioRandom(options.seed, 'R2');
  let downtimeMs = 0;
  const outcome = await runCascadesUnderFault({
    stack,
    count: options.quick ? 30 : 100,
    holdSeconds: HOLD_SECONDS,
    mix: TIMER_HEAVY_MIX,
    random,
    finalTimeoutMs: options.quick ? 180_000 : 300_000,
    log: options.log,
    fault: async () => {
      // Mid-flow: first offers out, their timers running.
      await sleep(2_000 + Math.floor(random() * 3_000));
      downtimeMs = await killTemporal(stack, 3_000);
      options.log(`Temporal killed and back after ${downtimeMs} ms`);
    },
  });
  const timers = timersThatDidNotFire(outcome.slots, outcome.holds);
  const violations = [...outcome.violations, ...timers.violations];
  return {
    id: 'R2',
    title: R2_TITLE,
    passed: violations.length === 0,
    figures: {
      ...outcome.figures,
      temporalDownMs: downtimeMs,
      expiredHolds: outcome.holds.filter((hold) => hold.status === 'EXPIRED').length,
      timersNotFired: timers.violations.length,
      expiryLatenessP50Ms: round(quantile(timers.latenessMs, 0.5)),
      expiryLatenessMaxMs: round(quantile(timers.latenessMs, 1)),
    },
    violations,
  };
}

/**
 * R2's control: the same kill on the in-memory dev server, which loses every workflow. The control
 * passes only if it sees that loss (cascades that never reach a final state), proving R2's checks
 * can fail. The wait after the kill is bounded by what the cascades would need with every hold expiring.
 */
export async function runTemporalKillControl(stack: HoldfastStack, options: ScenarioOptions): Promise<ScenarioResult> {
  const random = scenarioRandom(options.seed, 'R2-control');
  const count = options.quick ? 10 : 30;
  const slotIds = await createBenchSlots(stack.prisma, { tenantId: stack.tenantId, count, holdSeconds: HOLD_SECONDS });
  const releases = await releaseAll(stack.apiUrl, stack.operatorToken, slotIds);
  await sleep(2_000 + Math.floor(random() * 2_000));
  const downtimeMs = await killTemporal(stack, 3_000);
  options.log(`in-memory Temporal killed and back after ${downtimeMs} ms; waiting for cascades that should be lost`);
  // Every hold expiring, 5 candidates: 5 × hold plus a generous margin.
  await sleep((5 * HOLD_SECONDS + 30) * 1000);
  const slots = await readSlots(stack.prisma, slotIds);
  const holds = await readHolds(stack.prisma, slotIds);
  const notFinal = slots.filter((slot) => slot.status !== 'ASSIGNED' && slot.status !== 'UNFILLED').length;
  const stuck = timersThatDidNotFire(slots, holds).violations.length;
  const lossDetected = notFinal > 0;
  return {
    id: 'R2-control',
    title: `${R2_TITLE}: control`,
    passed: lossDetected,
    figures: {
      released: releases.filter((answer) => answer.status === 202).length,
      lost: `${notFinal}/${count}`,
      timersNotFired: stuck,
      lossDetected: lossDetected ? 'yes' : 'no',
    },
    violations: lossDetected
      ? []
      : ['the in-memory control lost nothing: the R2 checks cannot tell a lossy server apart'],
  };
}

/**
 * R2 on the production-shaped cluster (split topology: frontend, matching, worker and two history
 * processes sharing the shards, on PostgreSQL): one history process is SIGKILLed mid-flow and
 * started again. Its shards move to the other history process and back; the same pass figures as
 * on the dev server.
 */
export async function runTemporalHistoryKill(stack: HoldfastStack, options: ScenarioOptions): Promise<ScenarioResult> {
  const cluster = stack.temporalCluster;
  if (!cluster) throw new Error('this stack runs no Temporal cluster');
  const random = scenarioRandom(options.seed, 'R2-cluster');
  const victim = Object.keys(cluster.pids()).find((name) => name.startsWith('history')) ?? 'temporal';
  let downtimeMs = 0;
  const outcome = await runCascadesUnderFault({
    stack,
    count: options.quick ? 30 : 100,
    holdSeconds: HOLD_SECONDS,
    mix: TIMER_HEAVY_MIX,
    random,
    finalTimeoutMs: options.quick ? 240_000 : 360_000,
    log: options.log,
    fault: async () => {
      await sleep(2_000 + Math.floor(random() * 3_000));
      const killedAt = Date.now();
      await cluster.killService(victim, 'SIGKILL');
      await sleep(3_000);
      await cluster.startService(victim);
      downtimeMs = Date.now() - killedAt;
      options.log(`cluster process ${victim} killed and back after ${downtimeMs} ms`);
    },
  });
  const timers = timersThatDidNotFire(outcome.slots, outcome.holds);
  const violations = [...outcome.violations, ...timers.violations];
  return {
    id: 'R2-cluster',
    title: `${R2_TITLE}: cluster, ${victim} killed`,
    passed: violations.length === 0,
    figures: {
      final: outcome.figures.final!,
      duplicateOffers: outcome.figures.duplicateOffers!,
      duplicateMessages: outcome.figures.duplicateMessages!,
      killed: victim,
      downMs: downtimeMs,
      timersNotFired: timers.violations.length,
      expiryLatenessP50Ms: round(quantile(timers.latenessMs, 0.5)),
      expiryLatenessMaxMs: round(quantile(timers.latenessMs, 1)),
    },
    violations,
  };
}
