import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleWorkflows } from './stack';

/**
 * What the history recorders (scripts/record-histories.ts, scripts/record-order-histories.ts)
 * share: which scenarios to record, and the workflow code to record them with.
 */

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
 * The workflow code to record with: today's, or that of an earlier `commit`, exported with
 * `git archive` to a temporary directory (the working tree is left alone) and bundled from there.
 */
export async function workflowBundleAt(commit?: string): Promise<WorkflowBundleWithSourceMap> {
  if (!commit) return bundleWorkflows();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `holdfast-${commit.slice(0, 12)}-`));
  const archive = spawnSync('git', ['archive', '--format=tar', commit], {
    cwd: repositoryRoot,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (archive.status !== 0) throw new Error(`git archive ${commit} failed: ${archive.stderr.toString()}`);
  const untar = spawnSync('tar', ['-x', '-C', dir], { input: archive.stdout });
  if (untar.status !== 0) throw new Error(`tar failed: ${untar.stderr.toString()}`);
  // The export resolves its packages from this checkout.
  fs.symlinkSync(path.join(repositoryRoot, 'node_modules'), path.join(dir, 'node_modules'));
  return bundleWorkflowCode({
    workflowsPath: path.join(dir, 'workflows/index.ts'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
  });
}
