import type { WorkflowBundle } from '@temporalio/worker';
import { recordedHistoryFiles, replayFailures } from '../support/replay';
import { bundleWorkflows } from '../support/stack';

const files = recordedHistoryFiles('export-');

/**
 * Every recorded export and its tenant's lane (test/histories/export-*.json, one export run and one
 * lane run per path) must replay against today's workflow code without a non-determinism error. A
 * change that breaks one needs `patched()`; a new path gets a history from
 * `npm run histories:record -- exports <scenario>`.
 */
describe('export and export lane replay', () => {
  let bundle: WorkflowBundle;

  beforeAll(async () => {
    bundle = await bundleWorkflows();
  });

  it('has a recorded history for each path: completed, queued behind another, failed, cancelled while writing or while queued, each with its lane', () => {
    expect(files).toEqual([
      'export-cancelled-while-queued-lane.json',
      'export-cancelled-while-queued.json',
      'export-cancelled-while-writing-lane.json',
      'export-cancelled-while-writing.json',
      'export-completed-lane.json',
      'export-completed.json',
      'export-failed-lane.json',
      'export-failed.json',
      'export-queued-behind-another-then-completed-lane.json',
      'export-queued-behind-another-then-completed.json',
    ]);
  });

  it('replays every recorded export and lane deterministically', async () => {
    expect(await replayFailures(bundle, files)).toEqual([]);
  });
});
