import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { exportLaneWorkflow, exportLaneStartOptions, exportLaneStateQuery } from '../../workflows/export-lane';
import { exportStartOptions, exportStateQuery, exportWorkflow, exportWorkflowId } from '../../workflows/export';
import { taskQueueFor } from '../../lib/task-queues';
import { until } from '../support/eventually';
import { useTimeSkippingWorkers } from '../support/time-skipping';
import { noActivityRunning, resultOnceClosed, timerStarted } from '../support/workflow-handles';

/*
 * Time skipping: the test server advances its clock only while the client awaits a workflow's
 * result or `env.sleep` (and no activity is running). A lane started by `signalWithStart` is never
 * awaited, so its five-minute holder check fires only under `await env.sleep(...)`; without one the
 * timer runs in real time and the test seems to hang. The server also stops skipping while any
 * activity is pending: one scheduled on a queue nobody polls (the exports queue), or one cut off by
 * terminating its run mid-activity, holds the clock back for good. And a task that cancels a timer
 * the server skipped past while the task was in flight is refused by the test server for good.
 */
describe('export lane and waiting exports over time (time skipping, activities mocked)', () => {
  const temporal = useTimeSkippingWorkers();

  it('every 5 minutes takes back the slot of a holder that is gone and grants it to the next in line', async () => {
    const tenantId = `tenant-${randomUUID()}`;
    const started: string[] = [];
    const checked: string[][] = [];
    const client = (): Client => temporal.env.client;
    const activities = {
      // The lane is started by the test, with its holder and waiter; asking again changes nothing.
      requestExportSlot: async () => ({ cap: 1 }),
      writeExport: async (input: { exportId: string }) => {
        started.push(input.exportId);
        return {
          fileKey: `${input.exportId}.csv`,
          rows: 1,
          bytes: 1,
          sha256: 'f'.repeat(64),
          contentType: 'text/csv',
          entities: ['orders'],
          format: 'csv',
        };
      },
      settleExport: async (input: { status: string }) => ({ status: input.status }),
      announceFileReady: async () => ({ eventId: 'event', notificationId: null }),
      // As the real activity: a holder that is not RUNNING (or gone) is closed.
      closedExports: async (input: { workflowIds: string[] }) => {
        checked.push(input.workflowIds);
        const closed: string[] = [];
        for (const workflowId of input.workflowIds) {
          try {
            const { status } = await client().workflow.getHandle(workflowId).describe();
            if (status.name !== 'RUNNING') closed.push(workflowId);
          } catch (error) {
            if (!(error instanceof WorkflowNotFoundError)) throw error;
            closed.push(workflowId);
          }
        }
        return closed;
      },
    };

    await temporal.runWithWorker(activities, 'export-lane', async (taskQueue) => {
      // The writer runs on the exports task queue: without a worker there it would stay pending, and
      // a pending activity stops the server from skipping time.
      const exportsWorker = await Worker.create({
        connection: temporal.env.nativeConnection,
        dataConverter: temporal.env.client.options.dataConverter,
        taskQueue: taskQueueFor(taskQueue, 'exports'),
        activities,
      });
      await exportsWorker.runUntil(async () => {
        const start = async () => {
          const input = { tenantId, exportId: randomUUID(), tier: 'free' as const };
          const handle = await client().workflow.start(exportWorkflow, {
            taskQueue,
            args: [input],
            ...exportStartOptions(input),
          });
          // Its slot request sent and its timer to ask again started: that timer comes before the
          // lane's holder check, so the grant never cancels a timer the server is skipping to.
          await timerStarted(handle);
          return { exportId: input.exportId, handle };
        };
        // The holder's run is gone (terminated, then past retention): it never gives its slot back. It is
        // not run and terminated here, because a run terminated at the wrong moment can lock the test
        // server's time skipping for good (see above), which a loaded machine hits now and then.
        const holder = { handle: { workflowId: exportWorkflowId(tenantId, randomUUID()) } };
        const waiter = await start();
        // The lane as it stands once the holder was granted and the waiter queued behind it.
        const lane = await client().workflow.start(exportLaneWorkflow, {
          ...exportLaneStartOptions(tenantId, 'free'),
          taskQueue,
          args: [
            { tenantId, carried: { cap: 1, holders: [holder.handle.workflowId], waiters: [waiter.handle.workflowId] } },
          ],
        });
        expect(await lane.query(exportLaneStateQuery)).toEqual({
          cap: 1,
          holders: [holder.handle.workflowId],
          waiters: [waiter.handle.workflowId],
        });
        expect((await waiter.handle.query(exportStateQuery)).status).toBe('QUEUED');

        // Nobody awaits the lane's result: only this sleep lets the server skip to its holder check.
        await temporal.env.sleep('6 minutes');
        // Both close without a timer once the slot is granted.
        await expect(resultOnceClosed(waiter.handle)).resolves.toMatchObject({ status: 'COMPLETED', rows: 1 });
        expect(started).toEqual([waiter.exportId]);
        expect(checked[0]).toEqual([holder.handle.workflowId]);
        await expect(resultOnceClosed(lane)).resolves.toEqual({ cap: 1, holders: [], waiters: [] });
      });
    });
  });

  it('a waiting export asks its lane again every 5 minutes until a slot is granted', async () => {
    const tenantId = `tenant-${randomUUID()}`;
    const exportId = randomUUID();
    const requests: string[] = [];
    const written: string[] = [];
    const activities = {
      // No lane answers: as if the lane had been terminated after the first request.
      requestExportSlot: async (input: { exportId: string }) => {
        requests.push(input.exportId);
        return { cap: 1 };
      },
      writeExport: async (input: { exportId: string }) => {
        written.push(input.exportId);
        return {
          fileKey: 'f.csv',
          rows: 1,
          bytes: 1,
          sha256: 'f'.repeat(64),
          contentType: 'text/csv',
          entities: ['orders'],
          format: 'csv',
        };
      },
      settleExport: async (input: { status: string }) => ({ status: input.status }),
      announceFileReady: async () => ({ eventId: 'event', notificationId: null }),
    };
    const input = { tenantId, exportId, tier: 'free' as const };
    await temporal.runWorkflow(
      activities,
      'export-rerequest',
      { workflow: exportWorkflow, workflowId: exportWorkflowId(tenantId, exportId), args: [input] },
      async (handle) => {
        await until(() => requests.length === 1);
        await noActivityRunning(handle);
        expect((await handle.query(exportStateQuery)).status).toBe('QUEUED');

        await temporal.env.sleep('6 minutes');
        await until(() => requests.length === 2);
        await temporal.env.sleep('5 minutes');
        await until(() => requests.length === 3);

        expect(requests).toEqual([exportId, exportId, exportId]);
        expect(written).toEqual([]);
        expect((await handle.query(exportStateQuery)).status).toBe('QUEUED');
      },
    );
  });
});
