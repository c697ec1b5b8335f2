import type { RecordDeadLettersInput } from '../../../activities/dead-letters';
import { dailyCleanupWorkflow, emptyPurgeResult, type PurgeResult } from '../../../workflows/cleanup';
import { withRecordingWorker, type FlowRecording } from '../history-recording';

/*
 * The paths through the daily cleanup whose histories test/histories/cleanup-*.json hold, run on
 * the time-skipping server with in-memory activities. `npm run histories:record -- cleanup
 * [scenario…]` records them; they must keep replaying after every change to the workflow
 * (test/replay/cleanup.replay.test.ts).
 */

interface Scenario {
  name: string;
  /** Record with the workflow code of this commit: how runs went before a change. */
  from?: string;
}

const scenarios: Scenario[] = [
  // Before the cleanup recorded dead letters (the `record-dead-letters` patch).
  { name: 'purged-before-dead-letters', from: 'f841d35f3aba15bc8990ea2fe310a18c75b24f12' },
  { name: 'purged-and-recorded-dead-letters' },
];

const tenantId = '00000000-0000-5000-8000-000000000001';

function activities() {
  return {
    listRetentionTargets: async () => [{ tenantId, retentionDays: 30 }],
    purgeExpiredRecords: async (): Promise<PurgeResult> => ({
      ...emptyPurgeResult(tenantId),
      notificationsDeleted: 3,
      auditLogsDeleted: 1,
    }),
    expireFiles: async () => ({ reportsExpired: 1, exportsExpired: 0, exportLeftoversRemoved: 0 }),
    recordDeadLetters: async (_input: RecordDeadLettersInput) => ({ recorded: 2, seenAgain: 1 }),
  };
}

export const cleanupRecording: FlowRecording<Scenario> = {
  filePrefix: 'cleanup',
  scenarios,
  async record(scenario, env, bundle) {
    const taskQueue = `record-cleanup-${scenario.name}`;
    return withRecordingWorker(env, bundle, taskQueue, activities(), async () => {
      const handle = await env.client.workflow.start(dailyCleanupWorkflow, {
        taskQueue,
        workflowId: `cleanup:daily-${scenario.name}`,
      });
      const result = await handle.result();
      const status = result.deadLetters ? `${result.deadLetters.recorded} dead letters recorded` : 'purged';
      return [{ suffix: '', history: await handle.fetchHistory(), status }];
    });
  },
};
