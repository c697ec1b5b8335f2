import { randomUUID } from 'node:crypto';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { taskQueueFor } from '../../../lib/task-queues';
import { withRecordingWorker, type FlowRecording } from '../history-recording';
import { FakeNotificationLedger } from '../notification-fake';
import { FailureType } from '../../../workflows/errors';
import {
  cancelNotificationUpdate,
  notificationWorkflow,
  notificationWorkflowId,
  sendNowUpdate,
  type NotificationWorkflowInput,
} from '../../../workflows/notification';

/*
 * The paths through the notification workflow whose histories test/histories/notification-*.json
 * hold, run on the time-skipping server with the in-memory ledger of test/support/notification-fake.ts.
 * `npm run histories:record -- notification [scenario…]` records them; they must keep replaying
 * after every change to the workflow (test/replay/notification.replay.test.ts), or the change
 * needs `patched()`.
 */

type Handle = WorkflowHandleWithFirstExecutionRunId<typeof notificationWorkflow>;
type Sleep = (duration: string) => Promise<void>;

interface Scenario {
  name: string;
  /** Hours from the server's clock to `sendAt`; sent at once when absent. */
  delayHours?: number;
  /**
   * The row's channel in the input, as every start since `notification-delivery-on-provider-queue`
   * passes it: the delivery then runs on that provider's queue, which a second worker polls.
   */
  channel?: 'EMAIL';
  arrange: (fake: FakeNotificationLedger) => void;
  drive: (handle: Handle, fake: FakeNotificationLedger, sleep: Sleep) => Promise<void>;
}

const finish = async (handle: Handle) => {
  await handle.result();
};

const scenarios: Scenario[] = [
  { name: 'sent', arrange: () => undefined, drive: finish },
  { name: 'sent-on-email-queue', channel: 'EMAIL', arrange: () => undefined, drive: finish },
  {
    name: 'delayed-then-sent',
    delayHours: 24,
    arrange: (fake) => void (fake.status = 'SCHEDULED'),
    drive: async (handle, _fake, sleep) => {
      await sleep('24 hours');
      await finish(handle);
    },
  },
  {
    name: 'cancelled-while-waiting',
    delayHours: 24,
    arrange: (fake) => void (fake.status = 'SCHEDULED'),
    drive: async (handle) => {
      await handle.executeUpdate(cancelNotificationUpdate, { args: [{ actor: 'user-recorded' }] });
      await finish(handle);
    },
  },
  {
    name: 'sent-now',
    delayHours: 24,
    arrange: (fake) => void (fake.status = 'SCHEDULED'),
    drive: async (handle) => {
      await handle.executeUpdate(sendNowUpdate, { args: [{ actor: 'operator-recorded' }] });
      await finish(handle);
    },
  },
  {
    name: 'retried-then-sent',
    arrange: (fake) => void (fake.transientFailures = 2),
    drive: finish,
  },
  {
    name: 'failed-for-good',
    arrange: (fake) => void (fake.alwaysFails = true),
    drive: finish,
  },
  {
    name: 'refused-at-once',
    arrange: (fake) => void (fake.permanentFailure = FailureType.InvalidRecipient),
    drive: finish,
  },
  {
    name: 'template-disabled',
    arrange: (fake) => void (fake.suppressed = true),
    drive: finish,
  },
  {
    name: 'row-deleted-before-delivery',
    arrange: (fake) => void fake.rowGoneIn.add('deliverNotification'),
    drive: finish,
  },
];

export const notificationRecording: FlowRecording<Scenario> = {
  filePrefix: 'notification',
  scenarios,
  async record(scenario, env, bundle) {
    const fake = new FakeNotificationLedger();
    scenario.arrange(fake);
    const taskQueue = `record-${randomUUID()}`;
    // The provider queue's worker runs activities only, as in production (workers/main.ts).
    const providerWorker = scenario.channel
      ? await Worker.create({
          connection: env.nativeConnection,
          taskQueue: taskQueueFor(taskQueue, 'email'),
          dataConverter: env.client.options.dataConverter,
          activities: fake.activities(),
        })
      : undefined;
    const run = () =>
      withRecordingWorker(env, bundle, taskQueue, fake.activities(), async () => {
        const notificationId = randomUUID();
        const input: NotificationWorkflowInput = { tenantId: 'tenant-recorded', notificationId, priority: 3 };
        if (scenario.channel) input.channel = scenario.channel;
        if (scenario.delayHours) {
          input.sendAt = new Date((await env.currentTimeMs()) + scenario.delayHours * 3_600_000).toISOString();
        }
        const handle = await env.client.workflow.start(notificationWorkflow, {
          taskQueue,
          workflowId: notificationWorkflowId('tenant-recorded', notificationId),
          args: [input],
        });
        await scenario.drive(handle, fake, (duration) => env.sleep(duration));
        const { status } = await handle.describe();
        if (status.name === 'RUNNING') throw new Error(`scenario ${scenario.name} left its notification running`);
        return [{ suffix: '', history: await handle.fetchHistory(), status: status.name }];
      });
    return providerWorker ? providerWorker.runUntil(run) : run();
  },
};
