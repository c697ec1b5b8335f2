import { createBenchSlots } from '../lib/fixtures';
import type { HoldfastStack } from '../lib/holdfast-stack';
import {
  releaseSlot,
  scenarioRandom,
  sleep,
  type ReleaseAnswer,
  type ScenarioOptions,
  type ScenarioResult,
} from './common';
import { cascadeWorkflowId, connectTemporal, workflowExists } from './temporal';

export const R6_TITLE = 'the API SIGKILLed and restarted during a stream of releases';

/**
 * R6: releases stream at a steady pace (4 concurrent clients, one slot each time, quick 40 s, full
 * 90 s) while the API is SIGKILLed (quick once, full 3 times) at random moments and restarted.
 * Pass: every release is either a 2xx whose workflow exists on the server (described) or an error
 * the client saw (no answer, or a non-2xx status); none answered 2xx and then missing. Holds are
 * long (10 min): the cascades only need to exist.
 */
export async function runApiKills(stack: HoldfastStack, options: ScenarioOptions): Promise<ScenarioResult> {
  const random = scenarioRandom(options.seed, 'R6');
  const streamMs = options.quick ? 40_000 : 90_000;
  const kills = options.quick ? 1 : 3;
  const clients = 4;
  // At most one release per 100 ms per client: enough slots for the whole stream.
  const slotIds = await createBenchSlots(stack.prisma, {
    tenantId: stack.tenantId,
    count: Math.ceil((streamMs / 100) * clients),
    holdSeconds: 600,
  });
  const answers: ReleaseAnswer[] = [];
  let next = 0;
  const streamEnds = Date.now() + streamMs;
  const stream = Array.from({ length: clients }, async () => {
    while (Date.now() < streamEnds && next < slotIds.length) {
      const slotId = slotIds[next]!;
      next += 1;
      const started = Date.now();
      answers.push(await releaseSlot(stack.apiUrl, stack.operatorToken, slotId, 15_000));
      await sleep(Math.max(0, 100 - (Date.now() - started)));
    }
  });
  const restartMs: number[] = [];
  const killer = (async () => {
    for (let kill = 1; kill <= kills; kill += 1) {
      const window = (streamEnds - Date.now()) / (kills - kill + 1);
      await sleep(Math.floor(window * (0.2 + 0.5 * random())));
      if (Date.now() >= streamEnds) break;
      const killedAt = Date.now();
      stack.services.api.kill('SIGKILL');
      await stack.services.api.exited;
      await stack.services.api.restart();
      restartMs.push(Date.now() - killedAt);
      options.log(`kill ${kill}: API back after ${restartMs.at(-1)} ms`);
    }
  })();
  await Promise.all([...stream, killer]);

  const accepted = answers.filter((answer) => answer.status >= 200 && answer.status < 300);
  const sawError = answers.filter((answer) => answer.status === 0 || answer.status >= 300);
  const violations: string[] = [];
  const temporal = await connectTemporal(stack);
  try {
    for (const answer of accepted) {
      const workflowId = answer.workflowId ?? cascadeWorkflowId(stack, answer.slotId);
      if (!(await workflowExists(temporal.client, workflowId))) {
        violations.push(`release of ${answer.slotId} answered ${answer.status} but ${workflowId} does not exist`);
      }
    }
  } finally {
    await temporal.close();
  }
  const errorKinds = new Map<string, number>();
  for (const answer of sawError) {
    const kind = answer.status === 0 ? (answer.error ?? 'no answer') : `HTTP ${answer.status}`;
    errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
  }
  return {
    id: 'R6',
    title: R6_TITLE,
    passed: violations.length === 0 && kills === restartMs.length,
    figures: {
      releases: answers.length,
      accepted2xx: accepted.length,
      workflowsFound: accepted.length - violations.length,
      errorsClientSaw: sawError.length,
      errorKinds: [...errorKinds].map(([kind, count]) => `${kind} ×${count}`).join(', ') || 'none',
      kills: restartMs.length,
      restartMsPerKill: restartMs.join(' / '),
      silentlyLost: violations.length,
    },
    violations:
      kills === restartMs.length ? violations : [...violations, `only ${restartMs.length}/${kills} kills happened`],
  };
}
