import type { WorkflowBundle } from '@temporalio/worker';
import { recordedHistoryFiles, replayFailures } from '../support/replay';
import { bundleWorkflows } from '../support/stack';

const files = recordedHistoryFiles('cleanup-');

/**
 * Every recorded daily cleanup (test/histories/cleanup-*.json) must replay against today's
 * workflow code without a non-determinism error: one recorded before the cleanup recorded dead
 * letters, and one with that step (`record-dead-letters`). A change that breaks one needs
 * `patched()`; a new path gets a history from `npm run histories:record -- cleanup <scenario>`.
 */
describe('daily cleanup replay', () => {
  let bundle: WorkflowBundle;

  beforeAll(async () => {
    bundle = await bundleWorkflows();
  });

  it('has a recorded history from before the dead-letter record and one with it', () => {
    expect(files).toEqual(['cleanup-purged-and-recorded-dead-letters.json', 'cleanup-purged-before-dead-letters.json']);
  });

  it('replays every recorded cleanup history deterministically', async () => {
    expect(await replayFailures(bundle, files)).toEqual([]);
  });
});
