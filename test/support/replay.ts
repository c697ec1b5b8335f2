import fs from 'node:fs';
import path from 'node:path';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import { historyFromJSON } from './histories';
import { testDataConverter } from './stack';

const historiesDir = path.resolve(__dirname, '../histories');

/** The file names in test/histories/ that start with `prefix`, sorted. */
export function recordedHistoryFiles(prefix: string): string[] {
  return fs
    .readdirSync(historiesDir)
    .filter((file) => file.startsWith(prefix) && file.endsWith('.json'))
    .sort();
}

/**
 * Replays recorded histories (file names in `dir`, test/histories/ by default) against `bundle`
 * (today's workflow code) and answers the ones that fail, e.g. with a non-determinism error; an
 * empty list means all replayed. Through the production codec, as a worker replays them: the
 * histories recorded in clear pass through its decoding unchanged.
 */
export async function replayFailures(
  bundle: WorkflowBundle,
  files: string[],
  dir: string = historiesDir,
): Promise<Array<{ workflowId: string; error: string }>> {
  const histories = files.map((file) => ({
    workflowId: file.replace(/\.json$/, ''),
    history: historyFromJSON(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'))),
  }));
  const failures: Array<{ workflowId: string; error: string }> = [];
  for await (const result of Worker.runReplayHistories(
    { workflowBundle: bundle, dataConverter: testDataConverter() },
    histories,
  )) {
    if (result.error) failures.push({ workflowId: result.workflowId, error: String(result.error) });
  }
  return failures;
}
