import type { WorkflowBundle } from '@temporalio/worker';
import { recordedHistoryFiles, replayFailures } from '../support/replay';
import { bundleWorkflows } from '../support/stack';

const files = recordedHistoryFiles('webhook-');

/**
 * Every recorded webhook delivery (test/histories/webhook-*.json, one per path through the
 * workflow) must replay against today's workflow code without a non-determinism error. A change
 * that breaks one needs `patched()`; a new path gets a history from
 * `npm run histories:record -- webhooks <scenario>`.
 */
describe('webhook delivery replay', () => {
  let bundle: WorkflowBundle;

  beforeAll(async () => {
    bundle = await bundleWorkflows();
  });

  it("has a recorded history for each path: delivered, retried, throttled, gone, failed and disabling the endpoint, skipped before or between attempts, stopped by Holdfast's configuration, replayed", () => {
    expect(files).toEqual([
      'webhook-delivered-first-attempt.json',
      'webhook-disabled-between-attempts.json',
      'webhook-endpoint-gone.json',
      'webhook-failed-endpoint-disabled-admins-notified.json',
      'webhook-failed-twice-then-delivered.json',
      'webhook-needs-attention-not-configured.json',
      'webhook-replayed.json',
      'webhook-skipped-endpoint-disabled.json',
      'webhook-throttled-then-delivered.json',
    ]);
  });

  it('replays every recorded webhook delivery deterministically', async () => {
    expect(await replayFailures(bundle, files)).toEqual([]);
  });
});
