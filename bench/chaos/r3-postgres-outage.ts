import type { HoldfastStack } from '../lib/holdfast-stack';
import { nextProgressAfter, runCascadesUnderFault } from './cascades';
import { timersThatDidNotFire } from './checks';
import { round, scenarioRandom, sleep, type ScenarioOptions, type ScenarioResult } from './common';
import { attemptFigures, cascadeResult, cascadeWorkflowId, connectTemporal } from './temporal';

export const R3_TITLE = "the application's PostgreSQL stopped mid-flow, then started again";

/**
 * R3: cascades (quick 30, full 100; holds of 10 s) while the application's PostgreSQL is stopped
 * (quick 15 s, full 30 s) and started again on the same data. Pass: every cascade final, no
 * duplicates, every outcome as answered, activities retried through the outage, and no lost
 * write: each completed cascade's own totals (offered, declined, expired, confirmed) match the
 * Hold rows, and every hold's offer is recorded SENT. Figure: recovery (database back → the
 * cascades next move).
 */
export async function runPostgresOutage(stack: HoldfastStack, options: ScenarioOptions): Promise<ScenarioResult> {
  const random = scenarioRandom(options.seed, 'R3');
  const outageMs = options.quick ? 15_000 : 30_000;
  let recoveryMs: number | undefined;
  let measuredOutageMs = 0;
  const outcome = await runCascadesUnderFault({
    stack,
    count: options.quick ? 30 : 100,
    holdSeconds: 10,
    mix: { accept: 0.3, decline: 0.3 },
    random,
    finalTimeoutMs: options.quick ? 240_000 : 360_000,
    log: options.log,
    fault: async (slotIds) => {
      await sleep(2_000 + Math.floor(random() * 3_000));
      const stoppedAt = Date.now();
      await stack.stopPostgres();
      options.log(`PostgreSQL stopped for ${outageMs / 1000} s`);
      await sleep(outageMs);
      await stack.startPostgres();
      const backAt = Date.now();
      measuredOutageMs = backAt - stoppedAt;
      recoveryMs = await nextProgressAfter(stack, slotIds, backAt, 120_000);
      options.log(
        `PostgreSQL back after ${measuredOutageMs} ms; cascades moving again ${recoveryMs ?? 'n/a'} ms later`,
      );
    },
  });

  const temporal = await connectTemporal(stack);
  const violations = [...outcome.violations];
  let attempts = { retriedActivities: 0, maxAttempt: 0, workflowTaskTimeouts: 0 };
  try {
    const workflowIds = outcome.slotIds.map((slotId) => cascadeWorkflowId(stack, slotId));
    attempts = await attemptFigures(temporal.client, workflowIds);
    for (const slotId of outcome.slotIds) {
      const result = await cascadeResult(temporal.client, cascadeWorkflowId(stack, slotId));
      if (!result) {
        violations.push(`${slotId}: cascade did not complete`);
        continue;
      }
      const holds = outcome.holds.filter((hold) => hold.slotId === slotId);
      const rows = (status: string) => holds.filter((hold) => hold.status === status).length;
      const recorded = {
        offered: holds.length,
        declined: rows('DECLINED'),
        expired: rows('EXPIRED'),
        confirmed: rows('CONFIRMED'),
      };
      for (const [name, count] of Object.entries(recorded)) {
        const flowCount = result.totals[name as keyof typeof recorded];
        if (flowCount !== count)
          violations.push(`${slotId}: the cascade counted ${flowCount} ${name}, the database has ${count}`);
      }
    }
  } finally {
    await temporal.close();
  }
  if (attempts.retriedActivities === 0) violations.push('no activity was retried: the outage did not reach the flows');
  const timers = timersThatDidNotFire(outcome.slots, outcome.holds);
  violations.push(...timers.violations);
  return {
    id: 'R3',
    title: R3_TITLE,
    passed: violations.length === 0,
    figures: {
      ...outcome.figures,
      outageSeconds: round(measuredOutageMs / 1000, 1),
      recoveryMs: recoveryMs ?? 'n/a',
      retriedActivities: attempts.retriedActivities,
      maxActivityAttempt: attempts.maxAttempt,
      lostWrites: violations.filter((line) => line.includes('the database has') || line.includes('no SENT')).length,
    },
    violations,
  };
}
