import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeMachine, type Machine } from '../harness/report';
import { measuredCommit } from '../lib/commit';
import { startTClusterArm, type HoldfastStack } from '../lib/holdfast-stack';
import { exitOnSignals, ProcessSampler, type RoleUsage } from '../lib/processes';
import { measureEngineCeiling, type EngineCeilingResult } from './run';

/**
 * One point of the capacity model checked on this machine: the engine ceiling (bench/ceiling/run.ts) on the
 * split cluster with one history process, then with two sharing the same shards, each on a fresh store.
 *
 *   npm run bench:history-processes [-- --rates 6,8,10 --level-seconds 30 --max-minutes 7 --shards 4]
 *
 * Writes bench/results/ceiling-split-history-<n>.json for n = 1 and 2; `npm run bench:capacity` puts them in
 * docs/capacity.md. About 10 minutes per topology with the defaults.
 */

export interface HistoryProcessesRun {
  measuredAt: string;
  command: string;
  commit?: string;
  machine: Machine;
  /** Load average when the run began: other work on the machine skews every figure. */
  loadAtStart: number[];
  topology: 'split';
  historyProcesses: number;
  historyShards: number;
  ceiling: EngineCeilingResult;
  /** CPU and memory of every process of the stack, over the whole ceiling run. */
  processes: RoleUsage[];
}

interface Settings {
  rates: number[];
  levelSeconds: number;
  maxMinutes: number;
  shards: number;
  counts: number[];
}

const resultsDir = path.resolve(__dirname, '..', 'results');

export const resultFileOf = (historyProcesses: number) =>
  path.join(resultsDir, `ceiling-split-history-${historyProcesses}.json`);

function parseSettings(argv: readonly string[]): Settings {
  const settings: Settings = {
    rates: [6, 8, 10, 12, 14, 17, 20, 24, 28],
    levelSeconds: 30,
    maxMinutes: 7,
    shards: 4,
    counts: [1, 2],
  };
  for (let i = 0; i < argv.length; i += 1) {
    const value = argv[i + 1];
    const number = Number(value);
    switch (argv[i]) {
      case '--rates':
        settings.rates = (value ?? '').split(',').map(Number);
        break;
      case '--level-seconds':
        settings.levelSeconds = number;
        break;
      case '--max-minutes':
        settings.maxMinutes = number;
        break;
      case '--shards':
        settings.shards = number;
        break;
      case '--only':
        settings.counts = [number];
        break;
      default:
        throw new Error(`unknown option ${argv[i]} (--rates, --level-seconds, --max-minutes, --shards, --only 1|2)`);
    }
    i += 1;
  }
  const bad = [...settings.rates, settings.levelSeconds, settings.maxMinutes, settings.shards].some(
    (n) => !Number.isFinite(n) || n <= 0,
  );
  if (bad || settings.counts.some((n) => n !== 1 && n !== 2)) {
    throw new Error('rates, level seconds, minutes and shards must be positive numbers; --only takes 1 or 2');
  }
  return settings;
}

async function measure(
  historyProcesses: number,
  settings: Settings,
  commit: string | undefined,
): Promise<HistoryProcessesRun> {
  const loadAtStart = os.loadavg().map((load) => Math.round(load * 100) / 100);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `holdfast-history-${historyProcesses}-`));
  // The cluster's PostgreSQL runs as the `postgres` user under root: it must reach its directory.
  fs.chmodSync(dataDir, 0o755);
  const log = (line: string) => console.log(`[${historyProcesses} history] ${line}`);
  let stack: HoldfastStack | undefined;
  try {
    stack = await startTClusterArm({
      dataDir,
      topology: 'split',
      historyProcesses,
      historyShards: settings.shards,
      log,
    });
    const sampler = new ProcessSampler(() => stack!.processes());
    sampler.start();
    const ceiling = await measureEngineCeiling({
      address: stack.temporalAddress,
      namespace: stack.namespace,
      rates: settings.rates,
      levelSeconds: settings.levelSeconds,
      maxDurationMs: settings.maxMinutes * 60_000,
      log,
    });
    const usage = sampler.stop();
    return {
      measuredAt: new Date().toISOString(),
      command: `npm run bench:history-processes${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      commit,
      machine: describeMachine(),
      loadAtStart,
      topology: 'split',
      historyProcesses,
      historyShards: settings.shards,
      ceiling,
      processes: usage.roles,
    };
  } finally {
    await stack?.stop().catch((error: unknown) => log(`stop failed: ${String(error)}`));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  exitOnSignals();
  const settings = parseSettings(process.argv.slice(2));
  // The code measured is the code when the run began, whatever changes on disk meanwhile.
  const commit = measuredCommit();
  for (const count of settings.counts) {
    const run = await measure(count, settings, commit);
    fs.mkdirSync(resultsDir, { recursive: true });
    fs.writeFileSync(resultFileOf(count), `${JSON.stringify(run, null, 2)}\n`);
    const history = run.processes
      .filter((role) => role.role.startsWith('temporal-history'))
      .map((role) => `${role.role} ${role.cpuSeconds.toFixed(1)} CPU-s`)
      .join(', ');
    console.log(
      `${count} history process(es): ${run.ceiling.sustainableStepsPerSecond} offers/s sustained; ${history}; written to ${path.relative(process.cwd(), resultFileOf(count))}`,
    );
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
