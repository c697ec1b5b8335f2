import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, Worker, type WorkflowBundle } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import * as workflows from '../../workflows';
import { failureConverterPath } from '../../lib/data-converter';
import { historyFromJSON } from '../support/histories';
import { recordedHistoryFiles, replayFailures } from '../support/replay';
import { testDataConverter } from '../support/stack';

const historiesDir = path.resolve(__dirname, '../histories');

/** The workflow type each recorded history started, from its first event. */
function recordedWorkflowTypes(): Set<string> {
  const types = new Set<string>();
  for (const file of recordedHistoryFiles('')) {
    const history = JSON.parse(fs.readFileSync(path.join(historiesDir, file), 'utf8')) as {
      events: Array<{ workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }>;
    };
    const type = history.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;
    if (type) types.add(type);
  }
  return types;
}

/**
 * The replay gate (the per-flow tests in test/replay/) only protects anything if it can fail. This
 * file proves both halves: every workflow the worker serves has at least one recorded history, and a
 * deliberately incompatible edit of the waitlist cascade (test/support/altered-waitlist-workflow.ts:
 * one more activity before the flow, no `patched()`) fails the replay of every recorded cascade with a
 * DeterminismViolationError.
 */
describe('replay gate', () => {
  it('has a recorded history for every workflow in workflows/index.ts', () => {
    const recorded = recordedWorkflowTypes();
    const served = Object.keys(workflows).sort();
    expect(served.filter((type) => !recorded.has(type))).toEqual([]);
  });

  describe('against a deliberately changed cascade', () => {
    let alteredBundle: WorkflowBundle;
    const cascadeHistories = recordedHistoryFiles('waitlist-');

    beforeAll(async () => {
      alteredBundle = await bundleWorkflowCode({
        workflowsPath: path.resolve(__dirname, '../support/altered-waitlist-workflow.ts'),
        failureConverterPath,
        logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
      });
    });

    it('fails the replay of every recorded cascade with a non-determinism error', async () => {
      const failures = await replayFailures(alteredBundle, cascadeHistories);
      expect(failures.map((failure) => failure.workflowId)).toEqual(
        cascadeHistories.map((file) => file.replace(/\.json$/, '')),
      );
      for (const failure of failures) expect(failure.error).toMatch(/DeterminismViolationError|nondetermin/i);
    });

    it('reports the failure as a DeterminismViolationError', async () => {
      const first = cascadeHistories[0]!;
      const history = JSON.parse(fs.readFileSync(path.join(historiesDir, first), 'utf8'));
      await expect(
        Worker.runReplayHistory(
          { workflowBundle: alteredBundle, dataConverter: testDataConverter() },
          historyFromJSON(history),
          'replay-gate',
        ),
      ).rejects.toBeInstanceOf(DeterminismViolationError);
    });
  });
});
