import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ScenarioOptions, ScenarioResult } from './common';

export const R4_TITLE = 'replay gate: recorded histories of every flow replay; a changed workflow fails';

const projectRoot = path.resolve(__dirname, '..', '..');
const GATE_TEST = 'test/replay/replay-gate.test.ts';

/**
 * R4 runs in `npm test` (test/replay/*.replay.test.ts replays every history in test/histories/).
 * Here it runs the gate's own proof, test/replay/replay-gate.test.ts: every workflow has a recorded
 * history, and a deliberately changed cascade fails the replay with a DeterminismViolationError.
 * Bounded: the jest run is killed after 5 minutes.
 */
export async function runReplayGate(options: ScenarioOptions): Promise<ScenarioResult> {
  const historiesDir = path.join(projectRoot, 'test', 'histories');
  const histories = fs.readdirSync(historiesDir).filter((file) => file.endsWith('.json'));
  const workflowTypes = new Set(
    histories.map((file) => {
      const history = JSON.parse(fs.readFileSync(path.join(historiesDir, file), 'utf8')) as {
        events: Array<{ workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }>;
      };
      return history.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? 'unknown';
    }),
  );
  const replayTests = fs
    .readdirSync(path.join(projectRoot, 'test', 'replay'))
    .filter((file) => file.endsWith('.test.ts'));

  const logFile = path.join(options.dataDir, 'jest.log');
  const started = Date.now();
  const { code, output } = await runJest(logFile);
  const summary = /Tests:\s+(.*)/.exec(output)?.[1]?.trim() ?? 'no summary';
  options.log(`jest ${GATE_TEST}: ${summary} (log ${logFile})`);
  const passed = code === 0;
  return {
    id: 'R4',
    title: R4_TITLE,
    passed,
    figures: {
      histories: histories.length,
      flowsWithHistories: workflowTypes.size,
      replayTestFiles: replayTests.length,
      gateTest: summary,
      changedWorkflowFailsReplay: passed ? 'yes (DeterminismViolationError)' : 'not proven',
      seconds: Math.round((Date.now() - started) / 1000),
    },
    violations: passed ? [] : [`${GATE_TEST} failed (exit ${code}); see ${logFile}`],
  };
}

function runJest(logFile: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [require.resolve('jest/bin/jest'), '--runInBand', GATE_TEST], {
      cwd: projectRoot,
      env: { ...process.env, APP_ENV: 'test' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5 * 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      fs.writeFileSync(logFile, output);
      resolve({ code, output });
    });
  });
}
