import type { WorkflowBundle } from '@temporalio/worker';
import { recordedHistoryFiles, replayFailures } from '../support/replay';
import { bundleWorkflows } from '../support/stack';

const files = recordedHistoryFiles('reminder-');

/**
 * Every recorded reminder sequence (test/histories/reminder-*.json, one per path through the
 * workflow) must replay against today's workflow code without a non-determinism error. A change
 * that breaks one needs `patched()`; a new path gets a history from
 * `npm run histories:record -- reminders <scenario>`.
 */
describe('reminder sequence replay', () => {
  let bundle: WorkflowBundle;

  beforeAll(async () => {
    bundle = await bundleWorkflows();
  });

  it('has a recorded history for each path: finished, next step sent now, completed mid-way, due date moved, two moves serialised, notified on create, a step failed, an invalid plan, cancelled', () => {
    expect(files).toEqual([
      'reminder-cancelled.json',
      'reminder-completed-mid-way.json',
      'reminder-due-moved.json',
      'reminder-finished-final-notice.json',
      'reminder-invalid-plan-closed.json',
      'reminder-next-step-sent-now.json',
      'reminder-notified-on-create-past-steps-skipped.json',
      'reminder-step-failed-then-sent.json',
      'reminder-two-moves-serialised.json',
    ]);
  });

  it('replays every recorded reminder sequence deterministically', async () => {
    expect(await replayFailures(bundle, files)).toEqual([]);
  });
});
