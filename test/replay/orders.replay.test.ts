import type { WorkflowBundle } from '@temporalio/worker';
import { recordedHistoryFiles, replayFailures } from '../support/replay';
import { bundleWorkflows } from '../support/stack';

const files = recordedHistoryFiles('order-');

/**
 * Every recorded order (test/histories/order-*.json, one per path through the routing workflow)
 * must replay against today's workflow code without a non-determinism error. A change that
 * breaks one needs `patched()`; a new path gets a history from
 * `npm run histories:record -- orders <scenario>`.
 */
describe('order routing replay', () => {
  let bundle: WorkflowBundle;

  beforeAll(async () => {
    bundle = await bundleWorkflows();
  });

  it('has a recorded history for each path: accepted, fallbacks, offer expired now by an operator, throttled, manual, unassigned, cancelled, refused, paid mid-way, final notice, stopped for attention, answered pending during an outage', () => {
    expect(files).toEqual([
      'order-assigned-then-cancelled.json',
      'order-cancel-answered-pending.json',
      'order-cancelled-during-offer.json',
      'order-credit-rejected.json',
      'order-failed-before-attention-stop.json',
      'order-first-vendor-accepted-paid.json',
      'order-manual-assignment-pending.json',
      'order-manual-assignment.json',
      'order-offer-throttled.json',
      'order-paid-mid-way.json',
      'order-rejected-then-fallback.json',
      'order-reminders-final-notice-paid.json',
      'order-stopped-for-attention.json',
      'order-timed-out-then-fallback.json',
      'order-unassigned-cancelled.json',
      'order-unreachable-then-fallback.json',
      'order-vendor-answer-pending.json',
      'order-vendor-offer-expired-now.json',
      'order-workflow-cancelled.json',
    ]);
  });

  it('replays every recorded order history deterministically', async () => {
    expect(await replayFailures(bundle, files)).toEqual([]);
  });

  it('an order whose run failed on a write refused for good, recorded before orders stopped for attention, still replays: it fails as it did instead of stopping', async () => {
    // Recorded with the workflow code of commit 2f898c3 (the scenario's `from` in the recorder).
    expect(await replayFailures(bundle, ['order-failed-before-attention-stop.json'])).toEqual([]);
  });
});
