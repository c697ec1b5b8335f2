import type { WorkflowBundle } from '@temporalio/worker';
import { recordedHistoryFiles, replayFailures } from '../support/replay';
import { bundleWorkflows } from '../support/stack';

const files = recordedHistoryFiles('notification-');

/**
 * Every recorded notification (test/histories/notification-*.json, one per path through the
 * notification workflow) must replay against today's workflow code without a non-determinism
 * error. A change that breaks one needs `patched()`; a new path gets a history from
 * `npm run histories:record -- notifications <scenario>`.
 */
describe('notification replay', () => {
  let bundle: WorkflowBundle;

  beforeAll(async () => {
    bundle = await bundleWorkflows();
  });

  it('has a recorded history for each path: sent, delayed then sent, sent now by an operator, cancelled while waiting, retried then sent, failed for good, refused at once, template disabled, row deleted before delivery, sent on the email queue', () => {
    expect(files).toEqual([
      'notification-cancelled-while-waiting.json',
      'notification-delayed-then-sent.json',
      'notification-failed-for-good.json',
      'notification-refused-at-once.json',
      'notification-retried-then-sent.json',
      'notification-row-deleted-before-delivery.json',
      'notification-sent-now.json',
      'notification-sent-on-email-queue.json',
      'notification-sent.json',
      'notification-template-disabled.json',
    ]);
  });

  it('replays every recorded notification history deterministically', async () => {
    expect(await replayFailures(bundle, files)).toEqual([]);
  });
});
