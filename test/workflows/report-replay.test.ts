import type { WorkflowBundle } from '@temporalio/worker';
import { recordedHistoryFiles, replayFailures } from '../support/replay';
import { bundleWorkflows } from '../support/stack';

const files = recordedHistoryFiles('report-');

/**
 * Every recorded report run (test/histories/report-*.json, one per path through the report
 * workflow) must replay against today's workflow code without a non-determinism error. A change
 * that breaks one needs `patched()`; a new path gets a history from
 * `npm run histories:record -- reports <scenario>` (test/support/recording/report-scenarios.ts).
 */
describe('report replay', () => {
  let bundle: WorkflowBundle;

  beforeAll(async () => {
    bundle = await bundleWorkflows();
  });

  it('has a recorded history for each path: completed, failed, cancelled, a scheduled run', () => {
    expect(files).toEqual([
      'report-cancelled.json',
      'report-completed.json',
      'report-failed.json',
      'report-scheduled-run.json',
    ]);
  });

  it('replays every recorded report history deterministically', async () => {
    expect(await replayFailures(bundle, files)).toEqual([]);
  });
});
