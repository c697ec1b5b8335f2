import fs from 'node:fs';
import path from 'node:path';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { historyFromJSON } from '../support/histories';
import { bundleWorkflows } from '../support/stack';

const historiesDir = path.resolve(__dirname, '../histories');
const files = fs.readdirSync(historiesDir).filter((file) => /^onboarding-.*\.json$/.test(file));

/**
 * Every recorded onboarding (test/histories/onboarding-*.json, one per path through the saga)
 * must replay against today's workflow code without a non-determinism error. A change that
 * breaks one needs `patched()`; a new path gets a history from
 * `npx tsx test/support/record-onboarding-histories.ts`.
 */
describe('tenant onboarding replay', () => {
  let bundle: WorkflowBundleWithSourceMap;

  beforeAll(async () => {
    bundle = await bundleWorkflows();
  });

  it('has a recorded history for each path: activated, retried, approved, expired, compensated, cancelled', () => {
    expect(files.sort()).toEqual([
      'onboarding-activated.json',
      'onboarding-approval-expired.json',
      'onboarding-cancelled-mid-way.json',
      'onboarding-card-declined-compensated.json',
      'onboarding-enterprise-approved.json',
      'onboarding-transient-billing-retry.json',
    ]);
  });

  it('replays every recorded onboarding history deterministically', async () => {
    const histories = files.map((file) => ({
      workflowId: file.replace(/\.json$/, ''),
      history: historyFromJSON(JSON.parse(fs.readFileSync(path.join(historiesDir, file), 'utf8'))),
    }));

    const failures: Array<{ workflowId: string; error: string }> = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: bundle }, histories)) {
      if (result.error) failures.push({ workflowId: result.workflowId, error: String(result.error) });
    }

    expect(failures).toEqual([]);
  });
});
