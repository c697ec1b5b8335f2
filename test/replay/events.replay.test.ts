import type { WorkflowBundle } from '@temporalio/worker';
import { recordedHistoryFiles, replayFailures } from '../support/replay';
import { bundleWorkflows } from '../support/stack';

const files = recordedHistoryFiles('events-');

/**
 * Every recorded event fan-out and outbox sweep (test/histories/events-*.json, one per path) must
 * replay against today's workflow code without a non-determinism error. A change that breaks one
 * needs `patched()`; a new path gets a history from `npm run histories:record -- events <scenario>`.
 */
describe('event fan-out replay', () => {
  let bundle: WorkflowBundle;

  beforeAll(async () => {
    bundle = await bundleWorkflows();
  });

  it('has a recorded history for each path: fanned out, a rule skipped and an endpoint gone, an outage retried, the event gone, and the sweep', () => {
    expect(files).toEqual([
      'events-event-not-found.json',
      'events-fanned-out.json',
      'events-outage-retried.json',
      'events-rule-skipped-endpoint-gone.json',
      'events-sweep-published.json',
    ]);
  });

  it('replays every recorded fan-out and sweep history deterministically', async () => {
    expect(await replayFailures(bundle, files)).toEqual([]);
  });
});
