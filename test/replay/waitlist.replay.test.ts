import type { WorkflowBundle } from '@temporalio/worker';
import { recordedHistoryFiles, replayFailures } from '../support/replay';
import { bundleWorkflows } from '../support/stack';

const files = recordedHistoryFiles('waitlist-');

/**
 * Every recorded cascade (test/histories/waitlist-*.json, one per path through the workflow)
 * must replay against today's workflow code without a non-determinism error. A change that
 * breaks one needs `patched()`; a new path gets a history from
 * `npm run histories:record -- waitlist <scenario>`.
 */
describe('waitlist cascade replay', () => {
  let bundle: WorkflowBundle;

  beforeAll(async () => {
    bundle = await bundleWorkflows();
  });

  it('has a recorded history for each path, as cascades run it now (one activity picks and holds) and as those started before that ran it: accepted, declined, expired, unreachable, retried, extended, expired now by an operator, cancelled, continued as new, stopped for attention, answered pending during an outage', () => {
    expect(files).toEqual([
      'waitlist-accept-answered-pending-before-one-step-offer.json',
      'waitlist-accept-answered-pending.json',
      'waitlist-accepted-first-offer-before-one-step-offer.json',
      'waitlist-accepted-first-offer.json',
      'waitlist-cancelled-during-offer-before-one-step-offer.json',
      'waitlist-cancelled-during-offer.json',
      'waitlist-continued-as-new-before-one-step-offer-last-run.json',
      'waitlist-continued-as-new-before-one-step-offer.json',
      'waitlist-continued-as-new-last-run.json',
      'waitlist-continued-as-new.json',
      'waitlist-declined-then-accepted-before-one-step-offer.json',
      'waitlist-declined-then-accepted.json',
      'waitlist-expired-then-exhausted-before-one-step-offer.json',
      'waitlist-expired-then-exhausted.json',
      'waitlist-extend-answered-pending-before-one-step-offer.json',
      'waitlist-extend-answered-pending.json',
      'waitlist-extended-then-accepted-before-one-step-offer.json',
      'waitlist-extended-then-accepted.json',
      'waitlist-hold-expired-now-before-one-step-offer.json',
      'waitlist-hold-expired-now.json',
      'waitlist-notification-retried-before-one-step-offer.json',
      'waitlist-notification-retried.json',
      'waitlist-stopped-for-attention-before-one-step-offer.json',
      'waitlist-stopped-for-attention.json',
      'waitlist-unreachable-then-accepted-before-one-step-offer.json',
      'waitlist-unreachable-then-accepted.json',
    ]);
  });

  it('replays every recorded cascade history deterministically', async () => {
    expect(await replayFailures(bundle, files)).toEqual([]);
  });
});
