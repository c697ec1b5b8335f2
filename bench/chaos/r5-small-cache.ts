import fs from 'node:fs';
import type { HoldfastStack } from '../lib/holdfast-stack';
import { runCascadesUnderFault } from './cascades';
import { scenarioRandom, type ScenarioOptions, type ScenarioResult } from './common';

export const R5_TITLE = 'a worker caching only 5 workflows while many cascades wait on holds and answers';

/** The cache size the worker reported at start (workers/main.ts logs it), from its log. */
function reportedCacheSize(stack: HoldfastStack): number | undefined {
  const log = fs.readFileSync(stack.services.worker.logFile, 'utf8');
  const sizes = [...log.matchAll(/"maxCachedWorkflows":(\d+)/g)].map((match) => Number(match[1]));
  return sizes.at(-1);
}

/**
 * R5: with WORKER_MAX_CACHED_WORKFLOWS=5 (the stack sets it), cascades (quick 60, full 200; holds of
 * 20 s; 35 % accept, 35 % decline, the rest expire) far outnumber the cache, so nearly every
 * workflow task replays its workflow from history. Pass: every outcome correct (accepted slots
 * ASSIGNED to the accepter, declines and expiries moved on, exhausted slots UNFILLED), no duplicates.
 */
export async function runSmallWorkflowCache(stack: HoldfastStack, options: ScenarioOptions): Promise<ScenarioResult> {
  const cacheSize = reportedCacheSize(stack);
  const outcome = await runCascadesUnderFault({
    stack,
    count: options.quick ? 60 : 200,
    holdSeconds: 20,
    mix: { accept: 0.35, decline: 0.35 },
    random: scenarioRandom(options.seed, 'R5'),
    finalTimeoutMs: options.quick ? 420_000 : 600_000,
    log: options.log,
    fault: () => Promise.resolve(),
  });
  const violations = [...outcome.violations];
  if (cacheSize !== 5) violations.push(`the worker reports a workflow cache of ${cacheSize ?? 'unknown'}, not 5`);
  return {
    id: 'R5',
    title: R5_TITLE,
    passed: violations.length === 0,
    figures: { maxCachedWorkflows: cacheSize ?? 'unknown', ...outcome.figures },
    violations,
  };
}
