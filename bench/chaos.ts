import fs from 'node:fs';
import path from 'node:path';
import { readTemporalBinaries } from '../scripts/stack/temporal-binaries';
import { describeMachine, temporalCliVersion } from './harness/report';
import {
  defaultStackPorts,
  startHoldfastStack,
  type HoldfastStack,
  type HoldfastStackOptions,
} from './lib/holdfast-stack';
import type { ScenarioOptions, ScenarioResult } from './chaos/common';
import { R1_TITLE, runWorkerKills } from './chaos/r1-worker-kills';
import { R2_TITLE, runTemporalHistoryKill, runTemporalKill, runTemporalKillControl } from './chaos/r2-temporal-kill';
import { R3_TITLE, runPostgresOutage } from './chaos/r3-postgres-outage';
import { R4_TITLE, runReplayGate } from './chaos/r4-replay-gate';
import { R5_TITLE, runSmallWorkflowCache } from './chaos/r5-small-cache';
import { R6_TITLE, runApiKills } from './chaos/r6-api-kills';
import { R7_TITLE, R7_WEBHOOK_TIMEOUT, runFlakyDelivery } from './chaos/r7-flaky-delivery';
import { cachedTemporalServerBinaries } from '../scripts/stack/temporal-cluster';
import { writeWorkflowBundle } from '../workers/workflow-bundle';
import { exitOnSignals } from './lib/processes';

/**
 * `npm run chaos [-- --quick] [--only R1,R3] [--seed N] [--cluster-ports N]`: the fault battery (issue 14, R1–R7).
 * Runs each scenario against its own Holdfast stack on loopback (ports 60000–60999, data under
 * /tmp/chaos/), prints its figures, then a summary table; writes bench/results/chaos-<time>.json and
 * chaos-latest.json, and exits non-zero if any scenario found a violation (or could not run).
 *
 * Scenarios that need the same kind of stack share it, in this order: a SQLite-backed dev server
 * for R1, R2, R3 and R6 (each on its own slots; R6 last, as it kills the API); R4 needs no stack;
 * a worker with a 5-workflow cache for R5; the in-memory dev server for R2's control (killing it
 * loses its cascades); a stack whose SMTP catcher fails at random for R7; last, R2 again
 * on the production-shaped cluster (split, two history processes), killing one history process.
 */

type StackKind = 'sqlite' | 'small-cache' | 'memory' | 'flaky-smtp' | 'cluster';

interface Scenario {
  id: string;
  title: string;
  stack?: StackKind;
  run(stack: HoldfastStack | undefined, options: ScenarioOptions): Promise<ScenarioResult>;
}

const needs = (stack: HoldfastStack | undefined): HoldfastStack => {
  if (!stack) throw new Error('this scenario needs a stack');
  return stack;
};

/** In the order they run (the summary lists them by ID). */
const scenarios: Scenario[] = [
  { id: 'R1', title: R1_TITLE, stack: 'sqlite', run: (stack, options) => runWorkerKills(needs(stack), options) },
  { id: 'R2', title: R2_TITLE, stack: 'sqlite', run: (stack, options) => runTemporalKill(needs(stack), options) },
  { id: 'R3', title: R3_TITLE, stack: 'sqlite', run: (stack, options) => runPostgresOutage(needs(stack), options) },
  { id: 'R6', title: R6_TITLE, stack: 'sqlite', run: (stack, options) => runApiKills(needs(stack), options) },
  { id: 'R4', title: R4_TITLE, run: (_stack, options) => runReplayGate(options) },
  {
    id: 'R5',
    title: R5_TITLE,
    stack: 'small-cache',
    run: (stack, options) => runSmallWorkflowCache(needs(stack), options),
  },
  {
    id: 'R2-control',
    title: `${R2_TITLE}: control on the in-memory dev server`,
    stack: 'memory',
    run: (stack, options) => runTemporalKillControl(needs(stack), options),
  },
  { id: 'R7', title: R7_TITLE, stack: 'flaky-smtp', run: (stack, options) => runFlakyDelivery(needs(stack), options) },
  {
    id: 'R2-cluster',
    title: `${R2_TITLE}: a history process of the cluster`,
    stack: 'cluster',
    run: (stack, options) => runTemporalHistoryKill(needs(stack), options),
  },
];

const PORT_BASE = 60_000;
const stackPortBase: Record<StackKind, number> = {
  sqlite: PORT_BASE,
  'small-cache': PORT_BASE + 20,
  memory: PORT_BASE + 80,
  'flaky-smtp': PORT_BASE + 40,
  // Its cluster takes [base + 100, base + 200).
  cluster: PORT_BASE + 60,
};

function stackOptions(
  kind: StackKind,
  dataDir: string,
  args: Arguments,
  log: (line: string) => void,
): HoldfastStackOptions {
  const seed = args.seed;
  const ports = {
    ...defaultStackPorts(stackPortBase[kind]),
    temporalCluster: args.clusterPorts,
  };
  const env: NodeJS.ProcessEnv = args.workflowBundle ? { WORKFLOW_BUNDLE_PATH: args.workflowBundle } : {};
  const common = { dataDir, ports, log, env, readyTimeoutMs: 240_000 };
  switch (kind) {
    case 'sqlite':
      return { ...common, temporal: { kind: 'dev', persistence: 'sqlite' } };
    case 'small-cache':
      return {
        ...common,
        temporal: { kind: 'dev', persistence: 'sqlite' },
        workerEnv: { WORKER_MAX_CACHED_WORKFLOWS: '5' },
      };
    case 'memory':
      return { ...common, temporal: { kind: 'dev', persistence: 'memory' } };
    case 'cluster':
      return { ...common, temporal: { kind: 'cluster', topology: 'split', historyProcesses: 2 } };
    case 'flaky-smtp':
      return {
        ...common,
        temporal: { kind: 'dev', persistence: 'sqlite' },
        // 25 % refused with a temporary error (451/421), 15 % stalled 5 s: slow, yet inside the
        // sending activity's 30 s time-out (the webhook receiver's hangs are the ones that time out).
        catcherFault: { failRate: 0.25, hangRate: 0.15, hangMs: 5_000, seed },
        workerEnv: { WEBHOOK_TIMEOUT: R7_WEBHOOK_TIMEOUT },
      };
  }
}

interface Arguments {
  quick: boolean;
  only?: Set<string>;
  seed: number;
  /**
   * The cluster's port block (100 ports) for R2 on the cluster. Temporal keeps a cluster member's
   * RPC port in a SMALLINT column, so the block must lie below 32768, outside this script's own
   * range (60000–60999). Default 18100 (the bench's cluster takes 17100, `npm run cluster` 7233).
   */
  clusterPorts: number;
  /** The workflow bundle every stack's worker loads, built once per run (as the production image does). */
  workflowBundle?: string;
}

function parseArguments(argv: readonly string[]): Arguments {
  const parsed: Arguments = { quick: false, seed: 1, clusterPorts: 18_100 };
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index]!;
    const [flag, inline] = argument.split('=', 2) as [string, string | undefined];
    const value = () => inline ?? argv[++index] ?? '';
    if (flag === '--quick') parsed.quick = true;
    else if (flag === '--only') parsed.only = new Set(value().toUpperCase().split(',').filter(Boolean));
    else if (flag === '--seed') parsed.seed = Number.parseInt(value(), 10);
    else if (flag === '--cluster-ports') parsed.clusterPorts = Number.parseInt(value(), 10);
    else throw new Error(`unknown argument ${argument} (use --quick, --only R1,R3, --seed N, --cluster-ports N)`);
  }
  if (!Number.isSafeInteger(parsed.seed) || parsed.seed <= 0) throw new Error('--seed takes a positive integer');
  const ports = parsed.clusterPorts;
  if (!(Number.isSafeInteger(ports) && ports >= 1024 && ports + 100 <= 32_768)) {
    throw new Error('--cluster-ports takes the first of 100 free ports, all below 32768');
  }
  return parsed;
}

function printSummary(results: readonly ScenarioResult[]): void {
  const rows = [...results].sort((a, b) => a.id.localeCompare(b.id));
  console.log('\n| # | scenario | result | figures |\n| --- | --- | --- | --- |');
  for (const result of rows) {
    const figures = Object.entries(result.figures)
      .map(([name, value]) => `${name} ${value}`)
      .join('; ');
    console.log(`| ${result.id} | ${result.title} | ${result.passed ? 'pass' : 'FAIL'} | ${figures} |`);
  }
}

async function main(): Promise<number> {
  exitOnSignals();
  const args = parseArguments(process.argv.slice(2));
  const runId = new Date().toISOString().replace(/[:.]/g, '-');
  const root = path.join('/tmp/chaos', runId);
  const selected = scenarios.filter(
    (scenario) => !args.only || args.only.has(scenario.id) || args.only.has(scenario.id.split('-')[0]!),
  );
  if (selected.length === 0) throw new Error(`--only matches no scenario (${scenarios.map((s) => s.id).join(', ')})`);
  const startedAt = Date.now();
  fs.mkdirSync(root, { recursive: true });
  args.workflowBundle = path.join(root, 'workflow-bundle.js');
  await writeWorkflowBundle(args.workflowBundle);
  const clock = () => `${((Date.now() - startedAt) / 1000).toFixed(0).padStart(4)} s`;

  const results: ScenarioResult[] = [];
  let current: { kind: StackKind; stack: HoldfastStack } | undefined;
  const stopCurrent = async () => {
    if (!current) return;
    console.log(`${clock()} stopping the ${current.kind} stack`);
    await current.stack.stop();
    current = undefined;
  };
  try {
    for (const scenario of selected) {
      const log = (line: string) => console.log(`${clock()} [${scenario.id}] ${line}`);
      const dataDir = path.join(root, scenario.id);
      fs.mkdirSync(dataDir, { recursive: true });
      let result: ScenarioResult;
      if (scenario.stack === 'cluster' && !cachedTemporalServerBinaries(process.cwd())) {
        const reason = 'not run: temporal-server is not provisioned (npm run temporal:provision-server)';
        results.push({
          id: scenario.id,
          title: scenario.title,
          passed: true,
          figures: { status: reason },
          violations: [],
        });
        log(reason);
        continue;
      }
      try {
        if (scenario.stack && current?.kind !== scenario.stack) {
          await stopCurrent();
          const stackLog = (line: string) => console.log(`${clock()} [stack ${scenario.stack}] ${line}`);
          const stackDir = path.join(root, `stack-${scenario.stack}`);
          const stack = await startHoldfastStack(stackOptions(scenario.stack, stackDir, args, stackLog));
          current = { kind: scenario.stack, stack };
        }
        log(`${scenario.title}`);
        result = await scenario.run(current?.stack, {
          quick: args.quick,
          seed: args.seed,
          dataDir,
          portBase: PORT_BASE + 60 + results.length * 10,
          log,
        });
      } catch (error) {
        // A scenario that cannot run proves nothing: it fails, and the next one gets a fresh stack.
        result = {
          id: scenario.id,
          title: scenario.title,
          passed: false,
          figures: { error: error instanceof Error ? error.message.slice(0, 300) : String(error) },
          violations: [`could not run: ${String(error)}`],
        };
        await stopCurrent().catch(() => undefined);
      }
      results.push(result);
      log(`${result.passed ? 'PASS' : 'FAIL'} ${JSON.stringify(result.figures)}`);
      for (const violation of result.violations.slice(0, 10)) log(`  violation: ${violation}`);
      if (result.violations.length > 10) log(`  … and ${result.violations.length - 10} more`);
    }
  } finally {
    await stopCurrent();
  }

  const merged = mergeControl(results).sort((a, b) => a.id.localeCompare(b.id));
  printSummary(merged);
  const report = {
    scenarios: merged.map(({ id, title, passed, figures }) => ({ id, title, passed, figures })),
    machine: describeMachine({ temporalCli: temporalCliVersion(readTemporalBinaries().cliPath) }),
    command: `npm run chaos${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    finishedAt: new Date().toISOString(),
  };
  const resultsDir = path.resolve(__dirname, 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  fs.writeFileSync(path.join(resultsDir, `chaos-${runId}.json`), json);
  fs.writeFileSync(path.join(resultsDir, 'chaos-latest.json'), json);
  console.log(`\nwrote bench/results/chaos-${runId}.json and chaos-latest.json (${clock()} in all)`);
  return merged.every((result) => result.passed) ? 0 : 1;
}

/**
 * R2's control and cluster runs are part of R2 (figures prefixed `control`, `cluster`): R2 passes
 * when each part passes, the control by losing cascades, as it must.
 */
function mergeControl(results: readonly ScenarioResult[]): ScenarioResult[] {
  const parts = results.filter((result) => result.id.startsWith('R2-'));
  if (parts.length === 0) return [...results];
  const main = results.find((result) => result.id === 'R2');
  const merged: ScenarioResult = {
    id: 'R2',
    title: main?.title ?? R2_TITLE,
    passed: (main?.passed ?? true) && parts.every((part) => part.passed),
    figures: { ...main?.figures },
    violations: [...(main?.violations ?? [])],
  };
  for (const part of parts) {
    const prefix = part.id.slice('R2-'.length);
    for (const [name, value] of Object.entries(part.figures)) merged.figures[`${prefix} ${name}`] = value;
    merged.violations.push(...part.violations.map((violation) => `${prefix}: ${violation}`));
  }
  return [...results.filter((result) => !result.id.startsWith('R2')), merged];
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  },
);
