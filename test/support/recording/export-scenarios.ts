import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Activities } from '../../../activities';
import { taskQueueFor } from '../../../lib/task-queues';
import {
  exportLaneId,
  exportLaneStartOptions,
  exportLaneWorkflow,
  requestSlotSignal,
} from '../../../workflows/export-lane';
import {
  ExportFailure,
  exportStartOptions,
  exportWorkflow,
  exportWorkflowId,
  type ExportWorkflowInput,
  type WrittenExport,
} from '../../../workflows/export';
import { withRecordingWorker, type FlowRecording, type RecordedRun } from '../history-recording';

/*
 * The paths through the export workflow and its tenant's lane whose histories
 * test/histories/export-*.json hold, run on the time-skipping server with the in-memory fake below.
 * `npm run histories:record -- exports [scenario…]` records them; test/replay/exports.replay.test.ts
 * replays them after every change.
 */

type ExportActivities = Pick<Activities, 'requestExportSlot' | 'writeExport' | 'settleExport' | 'announceFileReady'>;

/** The export activities in memory; the lane is the real workflow, asked through signalWithStart. */
export class FakeExportActivities {
  readonly calls: string[] = [];
  /** Exports whose writer may finish, and how (undefined: it succeeds). */
  readonly released = new Map<string, Error | undefined>();
  readonly writing = new Set<string>();
  cap = 1;

  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  release(exportId: string, failure?: Error): void {
    this.released.set(exportId, failure);
  }

  activities(): ExportActivities {
    return {
      requestExportSlot: async ({ tenantId, exportId }) => {
        this.calls.push('requestExportSlot');
        await this.client.workflow.signalWithStart(exportLaneWorkflow, {
          ...exportLaneStartOptions(tenantId, 'free'),
          taskQueue: this.taskQueue,
          args: [{ tenantId }],
          signal: requestSlotSignal,
          signalArgs: [{ workflowId: exportWorkflowId(tenantId, exportId), cap: this.cap }],
        });
        return { cap: this.cap };
      },
      writeExport: async ({ exportId }): Promise<WrittenExport> => {
        const context = Context.current();
        this.calls.push('writeExport');
        this.writing.add(exportId);
        for (;;) {
          if (this.released.has(exportId)) {
            const failure = this.released.get(exportId);
            if (failure) throw failure;
            break;
          }
          context.heartbeat({ rowsWritten: 1 });
          await context.sleep(20);
        }
        return {
          fileKey: `tenant/exports/${exportId}.csv`,
          rows: 3,
          bytes: 120,
          sha256: 'cd'.repeat(32),
          contentType: 'text/csv; charset=utf-8',
          entities: ['orders'],
          format: 'csv',
        };
      },
      settleExport: async ({ status }) => {
        this.calls.push(`settleExport:${status}`);
        return { status };
      },
      announceFileReady: async () => {
        this.calls.push('announceFileReady');
        return { eventId: 'event', notificationId: null };
      },
    };
  }
}

type Handle = WorkflowHandleWithFirstExecutionRunId<typeof exportWorkflow>;

interface Scenario {
  name: string;
  drive: (start: () => Promise<{ exportId: string; handle: Handle }>, fake: FakeExportActivities) => Promise<Handle>;
}

const settle = async (handle: Handle) => {
  await handle.result().catch(() => undefined);
};

const until = async (predicate: () => boolean) => {
  while (!predicate()) await new Promise((resolve) => setTimeout(resolve, 20));
};

const scenarios: Scenario[] = [
  {
    name: 'completed',
    drive: async (start, fake) => {
      const { exportId, handle } = await start();
      fake.release(exportId);
      await settle(handle);
      return handle;
    },
  },
  {
    name: 'queued-behind-another-then-completed',
    drive: async (start, fake) => {
      const first = await start();
      await until(() => fake.writing.has(first.exportId));
      const second = await start();
      fake.release(second.exportId);
      fake.release(first.exportId);
      await settle(first.handle);
      await settle(second.handle);
      return second.handle;
    },
  },
  {
    name: 'failed',
    drive: async (start, fake) => {
      const { exportId, handle } = await start();
      fake.release(exportId, ApplicationFailure.nonRetryable('unknown entity', ExportFailure.InvalidExport));
      await settle(handle);
      return handle;
    },
  },
  {
    name: 'cancelled-while-writing',
    drive: async (start, fake) => {
      const { exportId, handle } = await start();
      await until(() => fake.writing.has(exportId));
      await handle.cancel();
      await settle(handle);
      return handle;
    },
  },
  {
    name: 'cancelled-while-queued',
    drive: async (start, fake) => {
      const first = await start();
      await until(() => fake.writing.has(first.exportId));
      const second = await start();
      await until(() => fake.calls.filter((call) => call === 'requestExportSlot').length === 2);
      await second.handle.cancel();
      await settle(second.handle);
      fake.release(first.exportId);
      await settle(first.handle);
      return second.handle;
    },
  },
];

export const exportRecording: FlowRecording<Scenario> = {
  filePrefix: 'export',
  scenarios,
  async record(scenario, env, bundle): Promise<RecordedRun[]> {
    const taskQueue = `record-export-${randomUUID()}`;
    const tenantId = `tenant-recorded-${randomUUID().slice(0, 8)}`;
    const fake = new FakeExportActivities(env.client, taskQueue);
    const activities = fake.activities();
    const start = async () => {
      const input: ExportWorkflowInput = { tenantId, exportId: randomUUID(), tier: 'free' };
      const handle = await env.client.workflow.start(exportWorkflow, {
        taskQueue,
        args: [input],
        ...exportStartOptions(input),
      });
      return { exportId: input.exportId, handle };
    };
    return withRecordingWorker(env, bundle, taskQueue, activities, () =>
      withRecordingWorker(env, bundle, taskQueueFor(taskQueue, 'exports'), activities, async () => {
        const handle = await scenario.drive(start, fake);
        const lane = env.client.workflow.getHandle(exportLaneId(tenantId));
        await lane.result();
        const { status } = await handle.describe();
        if (status.name === 'RUNNING') throw new Error(`scenario ${scenario.name} left its export running`);
        return [
          { suffix: '', history: await handle.fetchHistory(), status: status.name },
          { suffix: '-lane', history: await lane.fetchHistory(), status: (await lane.describe()).status.name },
        ];
      }),
    );
  },
};
