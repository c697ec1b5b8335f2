import { randomUUID } from 'node:crypto';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { ReminderStepSpec } from '../../../domain/reminder-plan';
import {
  completeReminderUpdate,
  moveDueAtUpdate,
  reminderSequenceStartOptions,
  reminderSequenceWorkflow,
  sendNextReminderNowUpdate,
} from '../../../workflows/reminder-sequence';
import { withRecordingWorker, type FlowRecording } from '../history-recording';
import { FakeReminders } from '../reminders-fake';

/*
 * The paths through a reminder sequence whose histories test/histories/reminder-*.json hold, run
 * on the time-skipping server with the in-memory activities of test/support/reminders-fake.ts.
 * `npm run histories:record -- reminders [scenario…]` records them; the existing ones must keep
 * replaying after every change to the workflow (test/replay/reminders.replay.test.ts), or the
 * change needs `patched()`.
 */

type Handle = WorkflowHandleWithFirstExecutionRunId<typeof reminderSequenceWorkflow>;
type Sleep = (duration: string) => Promise<void>;

interface Scenario {
  name: string;
  /** Days from creation to the due date. */
  dueInDays: number;
  steps?: ReminderStepSpec[];
  notifyOnCreate?: boolean;
  arrange?: (fake: FakeReminders) => void;
  drive: (handle: Handle, fake: FakeReminders, sleep: Sleep, created: number) => Promise<void>;
}

const DAY_MS = 24 * 60 * 60 * 1000;

const settlementSteps: ReminderStepSpec[] = [
  { at: '-2d', kind: 'DUE_SOON' },
  { at: '0', kind: 'DUE' },
  { every: '3d', from: '+3d', until: '+12d', kind: 'OVERDUE' },
  { at: '+14d', kind: 'FINAL_NOTICE' },
];

const finish = (handle: Handle) =>
  handle.result().then(
    () => undefined,
    () => undefined,
  );

const scenarios: Scenario[] = [
  {
    name: 'finished-final-notice',
    dueInDays: 16,
    drive: (handle) => finish(handle),
  },
  {
    name: 'next-step-sent-now',
    dueInDays: 16,
    drive: async (handle, fake) => {
      await handle.executeUpdate(sendNextReminderNowUpdate, { args: [{ actor: 'operator-recorded' }] });
      await fake.sent(1);
      await finish(handle);
    },
  },
  {
    name: 'completed-mid-way',
    dueInDays: 16,
    drive: async (handle, fake, sleep) => {
      await sleep('16 days');
      await fake.sent(2);
      await handle.executeUpdate(completeReminderUpdate, { args: [{ reason: 'settled', actor: 'recorder' }] });
      await finish(handle);
    },
  },
  {
    name: 'due-moved',
    dueInDays: 5,
    steps: [
      { at: '-2d', kind: 'DUE_SOON' },
      { at: '0', kind: 'DUE' },
      { at: '+3d', kind: 'OVERDUE' },
    ],
    drive: async (handle, fake, sleep, created) => {
      await sleep('3 days');
      await fake.sent(1);
      const dueAt = new Date(created + 12 * DAY_MS).toISOString();
      await handle.executeUpdate(moveDueAtUpdate, { args: [{ dueAt, actor: 'recorder' }] });
      await finish(handle);
    },
  },
  {
    name: 'notified-on-create-past-steps-skipped',
    dueInDays: -1,
    notifyOnCreate: true,
    drive: async (handle, fake) => {
      await fake.sent(1);
      await handle.executeUpdate(completeReminderUpdate, { args: [{ actor: 'recorder' }] });
      await finish(handle);
    },
  },
  {
    name: 'step-failed-then-sent',
    dueInDays: 3,
    steps: [
      { at: '-2d', kind: 'DUE_SOON' },
      { at: '0', kind: 'DUE' },
    ],
    arrange: (fake) => void fake.failing.add('DUE_SOON@-2880'),
    drive: (handle) => finish(handle),
  },
  {
    name: 'invalid-plan-closed',
    dueInDays: 10,
    // Only a caller that bypassed the API's validation can start one: the row closes, nothing is sent.
    steps: [{ at: 'next tuesday', kind: 'DUE' }],
    drive: (handle) => finish(handle),
  },
  {
    name: 'two-moves-serialised',
    dueInDays: 10,
    steps: [{ at: '0', kind: 'DUE' }],
    drive: async (handle, fake, sleep, created) => {
      let releaseFirstWrite!: () => void;
      fake.moveGate = new Promise<void>((resolve) => (releaseFirstWrite = resolve));
      const move = (days: number) =>
        handle.startUpdate(moveDueAtUpdate, {
          args: [{ dueAt: new Date(created + days * DAY_MS).toISOString(), actor: 'recorder' }],
          waitForStage: 'ACCEPTED',
        });
      const first = await move(20);
      await fake.moved(1);
      const second = await move(30);
      releaseFirstWrite();
      await first.result();
      await second.result();
      await handle.executeUpdate(completeReminderUpdate, { args: [{ actor: 'recorder' }] });
      await finish(handle);
    },
  },
  {
    name: 'cancelled',
    dueInDays: 10,
    drive: async (handle) => {
      await handle.cancel();
      await finish(handle);
    },
  },
];

export const reminderRecording: FlowRecording<Scenario> = {
  filePrefix: 'reminder',
  scenarios,
  async record(scenario, env, bundle) {
    const fake = new FakeReminders();
    fake.serverClock = () => env.currentTimeMs();
    scenario.arrange?.(fake);
    const taskQueue = `record-${randomUUID()}`;
    return withRecordingWorker(env, bundle, taskQueue, fake.activities(), async () => {
      const tenantId = 'tenant-recorded';
      const reminderId = `reminder-${scenario.name}`;
      const created = await env.currentTimeMs();
      const handle = await env.client.workflow.start(reminderSequenceWorkflow, {
        taskQueue,
        args: [
          {
            tenantId,
            reminderId,
            dueAt: new Date(created + scenario.dueInDays * DAY_MS).toISOString(),
            steps: scenario.steps ?? settlementSteps,
            notifyOnCreate: scenario.notifyOnCreate ?? false,
            createdAt: new Date(created).toISOString(),
          },
        ],
        ...reminderSequenceStartOptions(tenantId, reminderId),
      });
      await scenario.drive(handle, fake, (duration) => env.sleep(duration), created);
      const { status } = await handle.describe();
      return [{ suffix: '', history: await handle.fetchHistory(), status: status.name }];
    });
  },
};
