import type { WorkflowBundle } from '@temporalio/worker';
import { recordedHistoryFiles, replayFailures } from '../support/replay';
import { bundleWorkflows } from '../support/stack';

const files = recordedHistoryFiles('onboarding-');

/**
 * Every recorded onboarding (test/histories/onboarding-*.json, one per path through the saga)
 * must replay against today's workflow code without a non-determinism error. A change that
 * breaks one needs `patched()`; a new path gets a history from
 * `npm run histories:record -- onboarding <scenario>`.
 */
describe('tenant onboarding replay', () => {
  let bundle: WorkflowBundle;

  beforeAll(async () => {
    bundle = await bundleWorkflows();
  });

  it('has a recorded history for each path: activated, retried, approved, expired, compensated, cancelled', () => {
    expect(files).toEqual([
      'onboarding-activated.json',
      'onboarding-approval-expired.json',
      'onboarding-cancelled-mid-way.json',
      'onboarding-card-declined-compensated.json',
      'onboarding-enterprise-approved.json',
      'onboarding-transient-billing-retry.json',
    ]);
  });

  it('replays every recorded onboarding history deterministically', async () => {
    expect(await replayFailures(bundle, files)).toEqual([]);
  });
});
