import type { HoldfastStack } from '../lib/holdfast-stack';
import { nextProgressAfter, runCascadesUnderFault } from './cascades';
import { round, scenarioRandom, sleep, type ScenarioOptions, type ScenarioResult } from './common';

export const R1_TITLE = 'worker SIGKILLed and restarted while cascades are in flight';

/**
 * R1: cascades in flight (quick 50, full 200; holds of 15 s; answers 30 % accept, 30 % decline, the
 * rest expire) while the worker is SIGKILLed 5 times at random moments and restarted each time.
 * Pass: every cascade final, no entry offered twice, no two live offers, no message twice, every
 * outcome as answered. Figures: per kill, the restart time and the recovery time (kill → the next
 * hold created or settled).
 */
export async function runWorkerKills(stack: HoldfastStack, options: ScenarioOptions): Promise<ScenarioResult> {
  const random = scenarioRandom(options.seed, 'R1');
  const kills = 5;
  const restartMs: number[] = [];
  const recoveryMs: Array<number | undefined> = [];
  const outcome = await runCascadesUnderFault({
    stack,
    count: options.quick ? 50 : 200,
    holdSeconds: 15,
    mix: { accept: 0.3, decline: 0.3 },
    random,
    finalTimeoutMs: options.quick ? 360_000 : 600_000,
    log: options.log,
    fault: async (slotIds) => {
      for (let kill = 1; kill <= kills; kill += 1) {
        // A random moment: 1–8 s after the worker came back (or after the releases).
        await sleep(1_000 + Math.floor(random() * 7_000));
        const killedAt = Date.now();
        stack.services.worker.kill('SIGKILL');
        await stack.services.worker.exited;
        await stack.services.worker.restart();
        restartMs.push(Date.now() - killedAt);
        recoveryMs.push(await nextProgressAfter(stack, slotIds, killedAt, 60_000));
        options.log(
          `kill ${kill}: worker back after ${restartMs.at(-1)} ms, cascades moving again after ${recoveryMs.at(-1) ?? 'n/a'} ms`,
        );
      }
    },
  });
  const recovered = recoveryMs.filter((ms): ms is number => ms !== undefined);
  return {
    id: 'R1',
    title: R1_TITLE,
    passed: outcome.violations.length === 0,
    figures: {
      ...outcome.figures,
      kills: restartMs.length,
      restartMsPerKill: restartMs.join(' / '),
      recoveryMsPerKill: recoveryMs.map((ms) => ms ?? 'n/a').join(' / '),
      maxRecoverySeconds: recovered.length > 0 ? round(Math.max(...recovered) / 1000, 1) : 'n/a',
    },
    violations: outcome.violations,
  };
}
