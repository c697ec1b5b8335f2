import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkerOptions, type WorkflowBundle } from '@temporalio/worker';
import { historyToJSON } from './histories';
import { createTimeSkippingEnvironment } from './stack';

/**
 * The history recorder behind `npm run histories:record -- <flow> [scenario…]`: each flow lists
 * its scenarios and how to run one (test/support/recording/<flow>-scenarios.ts); this runs the
 * chosen ones on the time-skipping server and writes each history as
 * test/histories/<prefix>-<scenario>.json.
 */

/** One path through a flow, run to its end. */
export interface RecordingScenario {
  name: string;
  /** Record with the workflow code of this commit instead of today's: how such runs went before a change. */
  from?: string;
}

/** One run a scenario recorded: `suffix` names further runs of it (a continued-as-new cascade's last). */
export interface RecordedRun {
  suffix: string;
  history: temporal.api.history.v1.IHistory;
  /** How the run ended, for the recorder's line of output. */
  status?: string;
}

/** A flow's scenarios and how to run one of them on a worker of its own. */
export interface FlowRecording<S extends RecordingScenario> {
  /** The history files are `<filePrefix>-<scenario>.json`. */
  filePrefix: string;
  scenarios: S[];
  record(scenario: S, env: TestWorkflowEnvironment, bundle: WorkflowBundle): Promise<RecordedRun[]>;
}

/**
 * Runs `run` while a worker serves `activities` and the bundled workflows on `taskQueue`, so each
 * scenario records against a worker of its own. `maxCachedWorkflows: 0` keeps runs off the worker's
 * sticky queue, for a worker that another takes over mid-run: the time-skipping server would keep
 * handing the run's tasks to the stopped worker's queue.
 */
export async function withRecordingWorker<T>(
  env: TestWorkflowEnvironment,
  bundle: WorkflowBundle,
  taskQueue: string,
  activities: WorkerOptions['activities'],
  run: () => Promise<T>,
  options: Pick<WorkerOptions, 'maxCachedWorkflows'> = {},
): Promise<T> {
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: bundle,
    // The environment's own: encrypting in tests, in clear when recording fixtures.
    dataConverter: env.client.options.dataConverter,
    activities,
    ...options,
  });
  return worker.runUntil(run);
}

/** Where recorded histories live, and where the replay tests read them. */
export const historiesDir = path.resolve(__dirname, '../histories');

const repositoryRoot = path.resolve(__dirname, '../..');

/**
 * The scenarios to record: those named on the command line, or else those with no history file
 * yet. A recorded history is never overwritten unless named, since one recorded with earlier
 * workflow code is what proves that such runs still replay.
 */
export function scenariosToRecord<S extends { name: string }>(
  scenarios: S[],
  fileOf: (scenario: S) => string,
  argv: string[] = process.argv.slice(2),
): S[] {
  const unknown = argv.filter((name) => !scenarios.some((scenario) => scenario.name === name));
  if (unknown.length > 0) {
    throw new Error(`no such scenario: ${unknown.join(', ')} (known: ${scenarios.map((s) => s.name).join(', ')})`);
  }
  if (argv.length > 0) return scenarios.filter((scenario) => argv.includes(scenario.name));
  return scenarios.filter((scenario) => !fs.existsSync(fileOf(scenario)));
}

/**
 * The workflow code to record with: today's, bundled from the working tree (recording runs outside
 * Jest, without the bundle its global setup builds), or that of an earlier `commit`, exported with
 * `git archive` to a temporary directory (the working tree is left alone) and bundled from there.
 */
export async function workflowBundleAt(commit?: string): Promise<WorkflowBundle> {
  const root = commit ? checkoutOf(commit) : repositoryRoot;
  return bundleWorkflowCode({
    workflowsPath: path.join(root, 'workflows/index.ts'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
  });
}

/** `commit`'s files in a temporary directory, resolving packages (and the generated Prisma enums) from this checkout. */
function checkoutOf(commit: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `holdfast-${commit.slice(0, 12)}-`));
  const archive = spawnSync('git', ['archive', '--format=tar', commit], {
    cwd: repositoryRoot,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (archive.status !== 0) throw new Error(`git archive ${commit} failed: ${archive.stderr.toString()}`);
  const untar = spawnSync('tar', ['-x', '-C', dir], { input: archive.stdout });
  if (untar.status !== 0) throw new Error(`tar failed: ${untar.stderr.toString()}`);
  fs.symlinkSync(path.join(repositoryRoot, 'node_modules'), path.join(dir, 'node_modules'));
  const generated = path.join(repositoryRoot, 'generated');
  if (fs.existsSync(generated) && !fs.existsSync(path.join(dir, 'generated'))) {
    fs.symlinkSync(generated, path.join(dir, 'generated'));
  }
  return dir;
}

/**
 * Records `names` (or, with none, the scenarios that have no history yet) into `outDir`, and
 * returns the files it wrote.
 */
export async function recordHistories<S extends RecordingScenario>(
  recording: FlowRecording<S>,
  names: string[],
  outDir: string = historiesDir,
): Promise<string[]> {
  const fileOf = (scenario: S, suffix = '') =>
    path.join(outDir, `${recording.filePrefix}-${scenario.name}${suffix}.json`);
  const chosen = scenariosToRecord(recording.scenarios, (scenario) => fileOf(scenario), names);
  if (chosen.length === 0) return [];
  fs.mkdirSync(outDir, { recursive: true });
  const env = await createTimeSkippingEnvironment({ plaintext: true });
  const bundles = new Map<string | undefined, WorkflowBundle>();
  const written: string[] = [];
  try {
    for (const scenario of chosen) {
      if (!bundles.has(scenario.from)) bundles.set(scenario.from, await workflowBundleAt(scenario.from));
      for (const run of await recording.record(scenario, env, bundles.get(scenario.from)!)) {
        const file = fileOf(scenario, run.suffix);
        fs.writeFileSync(file, `${historyToJSON(run.history)}\n`);
        written.push(file);
        const ending = run.status ? `${run.status}, ` : '';
        console.log(
          `recorded ${path.relative(process.cwd(), file)} (${ending}${run.history.events?.length ?? 0} events)`,
        );
      }
    }
  } finally {
    await env.teardown();
  }
  return written;
}
