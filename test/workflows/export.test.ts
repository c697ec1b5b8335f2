import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import {
  exportLaneWorkflow,
  exportLaneId,
  exportLaneStartOptions,
  exportLaneStateQuery,
  requestSlotSignal,
} from '../../workflows/export-lane';
import {
  ExportFailure,
  exportStartOptions,
  exportStateQuery,
  exportWorkflow,
  exportWorkflowId,
  type WrittenExport,
} from '../../workflows/export';
import { taskQueueFor } from '../../lib/task-queues';
import { until } from '../support/eventually';
import { useTimeSkippingWorkers } from '../support/time-skipping';
import { resultOnceClosed } from '../support/workflow-handles';

/** The export activities, faked at the activity boundary; the lane itself is the real workflow. */
class FakeExports {
  readonly started: string[] = [];
  readonly settled: { exportId: string; status: string }[] = [];
  readonly announced: string[] = [];
  /** Exports whose writer is on its last step: a cancel reaching it now does not stop it. */
  readonly finishingDespiteCancel = new Set<string>();
  readonly cancelSeen = new Set<string>();
  private readonly gates = new Map<string, { open: boolean; failWith?: Error }>();
  cap = 1;

  constructor(
    private readonly client: Client,
    private readonly taskQueue: () => string,
  ) {}

  /** Lets the export's writer finish (or fail with `error`). */
  finish(exportId: string, error?: Error): void {
    this.gates.set(exportId, { open: true, ...(error ? { failWith: error } : {}) });
  }

  activities() {
    return {
      requestExportSlot: async (input: { tenantId: string; exportId: string }) => {
        await this.client.workflow.signalWithStart(exportLaneWorkflow, {
          ...exportLaneStartOptions(input.tenantId, 'free'),
          taskQueue: this.taskQueue(),
          args: [{ tenantId: input.tenantId }],
          signal: requestSlotSignal,
          signalArgs: [{ workflowId: exportWorkflowId(input.tenantId, input.exportId), cap: this.cap }],
        });
        return { cap: this.cap };
      },
      writeExport: async (input: { tenantId: string; exportId: string }): Promise<WrittenExport> => {
        this.started.push(input.exportId);
        const ctx = Context.current();
        for (;;) {
          const gate = this.gates.get(input.exportId);
          if (gate?.open) {
            if (gate.failWith) throw gate.failWith;
            break;
          }
          ctx.heartbeat({ rowsWritten: 0 });
          if (ctx.cancellationSignal.aborted) {
            this.cancelSeen.add(input.exportId);
            if (!this.finishingDespiteCancel.has(input.exportId)) await ctx.cancelled;
          }
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        return {
          fileKey: `${input.exportId}.csv`,
          rows: 10,
          bytes: 100,
          sha256: 'f'.repeat(64),
          contentType: 'text/csv',
          entities: ['orders'],
          format: 'csv',
        };
      },
      settleExport: async (input: { exportId: string; status: string }) => {
        this.settled.push({ exportId: input.exportId, status: input.status });
        return { status: input.status };
      },
      announceFileReady: async (input: { id: string }) => {
        this.announced.push(input.id);
        return { eventId: 'event', notificationId: null };
      },
      closedExports: async (input: { workflowIds: string[] }) => {
        const closed: string[] = [];
        for (const workflowId of input.workflowIds) {
          try {
            const { status } = await this.client.workflow.getHandle(workflowId).describe();
            if (status.name !== 'RUNNING') closed.push(workflowId);
          } catch (error) {
            if (!(error instanceof WorkflowNotFoundError)) throw error;
            closed.push(workflowId);
          }
        }
        return closed;
      },
    };
  }
}

describe('export workflow and export lane (time skipping, activities mocked)', () => {
  const temporal = useTimeSkippingWorkers();
  const tenantId = 'tenant-lane';

  /** Runs `body` with workers on the base queue and its exports queue, both serving the fakes. */
  async function withExports<T>(
    fake: (queue: () => string) => FakeExports,
    body: (run: Run) => Promise<T>,
  ): Promise<T> {
    let queue = '';
    const exports = fake(() => queue);
    return temporal.runWithWorker(exports.activities(), 'export', async (taskQueue) => {
      queue = taskQueue;
      const exportsWorker = await Worker.create({
        connection: temporal.env.nativeConnection,
        dataConverter: temporal.env.client.options.dataConverter,
        taskQueue: taskQueueFor(taskQueue, 'exports'),
        activities: exports.activities(),
        // As the production exports worker: heartbeats (and so cancellations) reach the server within a second.
        maxHeartbeatThrottleInterval: '1 second',
        defaultHeartbeatThrottleInterval: '1 second',
      });
      return exportsWorker.runUntil(() => body(new Run(temporal.env.client, taskQueue, exports)));
    });
  }

  class Run {
    constructor(
      readonly client: Client,
      readonly taskQueue: string,
      readonly fake: FakeExports,
    ) {}

    async start(tenant = tenantId) {
      const exportId = randomUUID();
      const input = { tenantId: tenant, exportId, tier: 'free' as const };
      const handle = await this.client.workflow.start(exportWorkflow, {
        taskQueue: this.taskQueue,
        args: [input],
        ...exportStartOptions(input),
      });
      return { exportId, handle };
    }

    lane(tenant = tenantId) {
      return this.client.workflow.getHandle(exportLaneId(tenant));
    }
  }

  const newFake =
    (cap = 1) =>
    (queue: () => string) => {
      const fake = new FakeExports(temporal.env.client, queue);
      fake.cap = cap;
      return fake;
    };

  it('grants a tenant’s slots first come, first served, one at a time at a cap of 1, and closes the lane when idle', async () => {
    await withExports(newFake(1), async (run) => {
      const first = await run.start();
      await until(() => run.fake.started.includes(first.exportId));
      const second = await run.start();
      // One at a time, so the lane hears them in this order.
      await until(async () => (await run.lane().query(exportLaneStateQuery)).waiters.length === 1);
      const third = await run.start();
      await until(async () => (await run.lane().query(exportLaneStateQuery)).waiters.length === 2);

      expect(await run.lane().query(exportLaneStateQuery)).toEqual({
        cap: 1,
        holders: [first.handle.workflowId],
        waiters: [second.handle.workflowId, third.handle.workflowId],
      });
      expect((await second.handle.query(exportStateQuery)).status).toBe('QUEUED');
      expect((await first.handle.query(exportStateQuery)).status).toBe('RUNNING');

      run.fake.finish(first.exportId);
      await until(() => run.fake.started.includes(second.exportId));
      expect(run.fake.started).toEqual([first.exportId, second.exportId]);
      run.fake.finish(second.exportId);
      run.fake.finish(third.exportId);

      await expect(resultOnceClosed(third.handle)).resolves.toMatchObject({ status: 'COMPLETED', rows: 10 });
      expect(run.fake.started).toEqual([first.exportId, second.exportId, third.exportId]);
      expect(run.fake.announced).toEqual([first.exportId, second.exportId, third.exportId]);
      expect(await first.handle.query(exportStateQuery)).toMatchObject({
        status: 'COMPLETED',
        progress: { rowsDone: 10, rowsTotal: 10, percent: 100 },
      });
      await expect(resultOnceClosed(run.lane())).resolves.toEqual({ cap: 1, holders: [], waiters: [] });
    });
  });

  it('runs as many at once as the cap allows', async () => {
    await withExports(newFake(2), async (run) => {
      const tenant = `tenant-${randomUUID()}`;
      const first = await run.start(tenant);
      const second = await run.start(tenant);
      const third = await run.start(tenant);
      await until(() => run.fake.started.length === 2);
      await until(async () => (await run.lane(tenant).query(exportLaneStateQuery)).waiters.length === 1);

      // Which two go first depends on which request reached the lane first; the third waits for a release.
      const all = [first, second, third];
      const [runningA, runningB] = [...run.fake.started];
      const waiting = all.find((entry) => !run.fake.started.includes(entry.exportId))!;
      expect((await run.lane(tenant).query(exportLaneStateQuery)).waiters).toEqual([waiting.handle.workflowId]);
      expect((await waiting.handle.query(exportStateQuery)).status).toBe('QUEUED');
      run.fake.finish(runningA!);
      await until(() => run.fake.started.includes(waiting.exportId));
      expect(run.fake.started).toHaveLength(3);
      run.fake.finish(runningB!);
      run.fake.finish(waiting.exportId);
      await Promise.all(all.map((entry) => resultOnceClosed(entry.handle)));
      await expect(resultOnceClosed(run.lane(tenant))).resolves.toEqual({ cap: 2, holders: [], waiters: [] });
    });
  });

  it('a cancelled export stops its writer, is settled CANCELLED and gives its slot to the next in line', async () => {
    await withExports(newFake(1), async (run) => {
      const tenant = `tenant-${randomUUID()}`;
      const running = await run.start(tenant);
      await until(() => run.fake.started.includes(running.exportId));
      const waiting = await run.start(tenant);
      const leaving = await run.start(tenant);
      await until(async () => (await run.lane(tenant).query(exportLaneStateQuery)).waiters.length === 2);

      await leaving.handle.cancel();
      await expect(resultOnceClosed(leaving.handle)).rejects.toThrow();
      await running.handle.cancel();
      await expect(resultOnceClosed(running.handle)).rejects.toThrow();
      await until(() => run.fake.started.includes(waiting.exportId));

      expect(run.fake.settled).toEqual(
        expect.arrayContaining([
          { exportId: leaving.exportId, status: 'CANCELLED' },
          { exportId: running.exportId, status: 'CANCELLED' },
        ]),
      );
      expect(run.fake.started).not.toContain(leaving.exportId);
      expect((await running.handle.query(exportStateQuery)).status).toBe('CANCELLED');
      expect(await run.lane(tenant).query(exportLaneStateQuery)).toMatchObject({
        holders: [waiting.handle.workflowId],
        waiters: [],
      });
      run.fake.finish(waiting.exportId);
      await resultOnceClosed(waiting.handle);
      await expect(resultOnceClosed(run.lane(tenant))).resolves.toEqual({ cap: 1, holders: [], waiters: [] });
    });
  });

  it('a data error fails the export with its type, is settled FAILED and releases the slot', async () => {
    await withExports(newFake(1), async (run) => {
      const tenant = `tenant-${randomUUID()}`;
      const failing = await run.start(tenant);
      await until(() => run.fake.started.includes(failing.exportId));
      const next = await run.start(tenant);
      run.fake.finish(failing.exportId, ApplicationFailure.nonRetryable('unknown entity', ExportFailure.InvalidExport));

      const failure = await resultOnceClosed(failing.handle).catch(
        (error: Error & { cause?: ApplicationFailure }) => error,
      );
      expect(failure).toBeInstanceOf(Error);
      expect((failure as { cause?: ApplicationFailure }).cause?.type).toBe(ExportFailure.InvalidExport);
      expect(await failing.handle.query(exportStateQuery)).toMatchObject({ status: 'FAILED', error: 'unknown entity' });
      expect(run.fake.settled).toContainEqual({ exportId: failing.exportId, status: 'FAILED' });
      expect(run.fake.started.filter((id) => id === failing.exportId)).toHaveLength(1);
      await until(() => run.fake.started.includes(next.exportId));
      run.fake.finish(next.exportId);
      await resultOnceClosed(next.handle);
      await expect(resultOnceClosed(run.lane(tenant))).resolves.toEqual({ cap: 1, holders: [], waiters: [] });
    });
  });

  it('a cancel that reaches a writer already finishing still completes the export, releases its slot and announces it', async () => {
    await withExports(newFake(1), async (run) => {
      const tenant = `tenant-${randomUUID()}`;
      const finishing = await run.start(tenant);
      run.fake.finishingDespiteCancel.add(finishing.exportId);
      await until(() => run.fake.started.includes(finishing.exportId));
      const next = await run.start(tenant);
      await until(async () => (await run.lane(tenant).query(exportLaneStateQuery)).waiters.length === 1);

      await finishing.handle.cancel();
      await until(() => run.fake.cancelSeen.has(finishing.exportId));
      run.fake.finish(finishing.exportId);

      await expect(resultOnceClosed(finishing.handle)).resolves.toMatchObject({ status: 'COMPLETED', rows: 10 });
      expect((await finishing.handle.query(exportStateQuery)).status).toBe('COMPLETED');
      expect(run.fake.announced).toContain(finishing.exportId);
      expect(run.fake.settled).not.toContainEqual(expect.objectContaining({ exportId: finishing.exportId }));
      // The slot went back: the next export runs.
      await until(() => run.fake.started.includes(next.exportId));
      expect(await run.lane(tenant).query(exportLaneStateQuery)).toMatchObject({
        holders: [next.handle.workflowId],
        waiters: [],
      });
      run.fake.finish(next.exportId);
      await resultOnceClosed(next.handle);
      await expect(resultOnceClosed(run.lane(tenant))).resolves.toEqual({ cap: 1, holders: [], waiters: [] });
    });
  });
});
