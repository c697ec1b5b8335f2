import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { recordedHistoryFiles, replayFailures } from '../support/replay';
import { bundleWorkflows } from '../support/stack';

const files = recordedHistoryFiles('order-');

/**
 * Every recorded order (test/histories/order-*.json, one per path through the routing workflow)
 * must replay against today's workflow code without a non-determinism error. A change that
 * breaks one needs `patched()`; a new path gets a history from
 * `npx tsx scripts/record-order-histories.ts`.
 */
describe('order routing replay', () => {
  let bundle: WorkflowBundleWithSourceMap;

  beforeAll(async () => {
    bundle = await bundleWorkflows();
  });

  it('has a recorded history for each path: accepted, fallbacks, throttled, manual, unassigned, cancelled, refused, paid mid-way, final notice', () => {
    expect(files).toEqual([
      'order-assigned-then-cancelled.json',
      'order-cancelled-during-offer.json',
      'order-credit-rejected.json',
      'order-first-vendor-accepted-paid.json',
      'order-manual-assignment.json',
      'order-offer-throttled.json',
      'order-paid-mid-way.json',
      'order-rejected-then-fallback.json',
      'order-reminders-final-notice-paid.json',
      'order-timed-out-then-fallback.json',
      'order-unassigned-cancelled.json',
      'order-unreachable-then-fallback.json',
      'order-workflow-cancelled.json',
    ]);
  });

  it('replays every recorded order history deterministically', async () => {
    expect(await replayFailures(bundle, files)).toEqual([]);
  });
});
