import { randomUUID } from 'node:crypto';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { withRecordingWorker, workflowBundleAt, type FlowRecording } from '../history-recording';
import { NEXT_RETRY, outageScenarios } from '../outage';
import { FakeWaitlist } from '../waitlist-fake';
import { REQUEST_ANSWER_BOUND } from '../../../workflows/attention';
import { FailureType } from '../../../workflows/errors';
import { waitlistCascadeId } from '../../../workflows/waitlist-cascade.contract';
import {
  acceptOfferUpdate,
  declineOfferUpdate,
  expireHoldNowUpdate,
  extendHoldUpdate,
  waitlistCascadeWorkflow,
  type WaitlistCascadeInput,
} from '../../../workflows/waitlist-cascade';
import { noActivityRunning, timerStarted } from '../workflow-handles';

/*
 * The paths through the waitlist cascade whose histories test/histories/waitlist-*.json hold,
 * run on the time-skipping server with the in-memory activities of test/support/waitlist-fake.ts.
 * `npm run histories:record -- waitlist [scenario…]` records them; the existing ones must keep
 * replaying after every change to the workflow (test/replay/waitlist.replay.test.ts), or the
 * change needs `patched()`.
 */

type Handle = WorkflowHandleWithFirstExecutionRunId<typeof waitlistCascadeWorkflow>;
type Sleep = (duration: string) => Promise<void>;
type CascadeActivities = ReturnType<FakeWaitlist['activities']>;

interface Scenario {
  name: string;
  from?: string;
  input?: Partial<WaitlistCascadeInput>;
  arrange: (fake: FakeWaitlist) => void;
  /** The worker's activities; the fake's by default. */
  activities?: (fake: FakeWaitlist) => CascadeActivities;
  drive: (handle: Handle, fake: FakeWaitlist, sleep: Sleep) => Promise<void>;
  /**
   * A deploy in the middle of the run: the run starts on the `from` commit's code and goes this far,
   * then its worker stops and one with today's code runs `drive` on.
   */
  deployAfter?: (handle: Handle, fake: FakeWaitlist) => Promise<void>;
}

const duringAnOutage = outageScenarios<Handle, FakeWaitlist, CascadeActivities>((fake) => fake.activities());

const accept = async (handle: Handle, fake: FakeWaitlist, nth: number) =>
  handle.executeUpdate(acceptOfferUpdate, { args: [{ tokenHash: (await fake.delivered(nth)).tokenHash }] });
const decline = async (handle: Handle, fake: FakeWaitlist, nth: number) =>
  handle.executeUpdate(declineOfferUpdate, { args: [{ tokenHash: (await fake.delivered(nth)).tokenHash }] });
const finish = (handle: Handle) =>
  handle.result().then(
    () => undefined,
    () => undefined,
  );

const scenarios: Scenario[] = [
  {
    name: 'accepted-first-offer',
    arrange: (fake) => void fake.join('Ada'),
    drive: async (handle, fake) => {
      await accept(handle, fake, 1);
      await finish(handle);
    },
  },
  {
    name: 'declined-then-accepted',
    arrange: (fake) => {
      fake.join('Ada');
      fake.join('Ben');
    },
    drive: async (handle, fake) => {
      await decline(handle, fake, 1);
      await accept(handle, fake, 2);
      await finish(handle);
    },
  },
  {
    name: 'expired-then-exhausted',
    arrange: (fake) => {
      fake.join('Ada');
      fake.join('Ben');
    },
    drive: async (handle, fake, sleep) => {
      await fake.delivered(1);
      await sleep('15 minutes');
      await decline(handle, fake, 2);
      await finish(handle);
    },
  },
  {
    name: 'hold-expired-now',
    arrange: (fake) => {
      fake.join('Ada');
      fake.join('Ben');
    },
    drive: async (handle, fake) => {
      await fake.delivered(1);
      await handle.executeUpdate(expireHoldNowUpdate, { args: [{ actor: 'operator-recorded' }] });
      await accept(handle, fake, 2);
      await finish(handle);
    },
  },
  {
    name: 'unreachable-then-accepted',
    arrange: (fake) => {
      const ada = fake.join('Ada');
      fake.join('Ben');
      fake.notificationBehaviour.set(ada.id, () => {
        throw ApplicationFailure.nonRetryable('no such mailbox', FailureType.InvalidRecipient);
      });
    },
    drive: async (handle, fake) => {
      await accept(handle, fake, 1);
      await finish(handle);
    },
  },
  {
    name: 'notification-retried',
    arrange: (fake) => {
      const ada = fake.join('Ada');
      fake.notificationBehaviour.set(ada.id, (attempt) => {
        if (attempt <= 2) throw new Error('421 try again later');
      });
    },
    drive: async (handle, fake) => {
      await accept(handle, fake, 1);
      await finish(handle);
    },
  },
  {
    name: 'extended-then-accepted',
    arrange: (fake) => void fake.join('Ada'),
    drive: async (handle, fake, sleep) => {
      await fake.delivered(1);
      await sleep('10 minutes');
      await handle.executeUpdate(extendHoldUpdate, { args: [{ minutes: 30, actor: 'operator-1' }] });
      await sleep('10 minutes');
      await accept(handle, fake, 1);
      await finish(handle);
    },
  },
  {
    name: 'cancelled-during-offer',
    arrange: (fake) => void fake.join('Ada'),
    drive: async (handle, fake) => {
      await fake.delivered(1);
      await noActivityRunning(handle);
      await handle.cancel();
      await finish(handle);
    },
  },
  {
    name: 'continued-as-new',
    input: { maxRoundsPerRun: 2 },
    arrange: (fake) => {
      fake.holdMs = 60_000;
      for (const name of ['Ada', 'Ben', 'Cy']) fake.join(name);
    },
    drive: finish,
  },
  {
    name: 'stopped-for-attention',
    arrange: (fake) => void fake.join('Ada'),
    // Confirming the accepted offer fails for good: the accept is refused, the hold released, the slot reopened.
    activities: (fake) => ({
      ...fake.activities(),
      confirmHold: () =>
        Promise.reject(
          ApplicationFailure.create({
            type: FailureType.DataRejected,
            message: 'The database refused the data: a row it refers to does not exist (SQLSTATE 23503)',
            nonRetryable: true,
          }),
        ),
    }),
    drive: async (handle, fake) => {
      await accept(handle, fake, 1).catch(() => undefined);
      await finish(handle);
    },
  },
  duringAnOutage({
    name: 'accept-answered-pending',
    arrange: (fake) => void fake.join('Ada'),
    failing: ['confirmHold'],
    drive: async (handle, fake, sleep, outage) => {
      const accepted = accept(handle, fake, 1);
      await outage.called(1);
      await sleep(REQUEST_ANSWER_BOUND);
      await accepted;
      outage.end();
      await finish(handle);
    },
  }),
  duringAnOutage({
    name: 'extend-answered-pending',
    arrange: (fake) => void fake.join('Ada'),
    failing: ['moveHoldDeadline'],
    drive: async (handle, fake, sleep, outage) => {
      await fake.delivered(1);
      const extended = handle.executeUpdate(extendHoldUpdate, { args: [{ minutes: 30, actor: 'operator-1' }] });
      await outage.called(1);
      await sleep(REQUEST_ANSWER_BOUND);
      await extended;
      outage.end();
      await sleep(NEXT_RETRY);
      await accept(handle, fake, 1);
      await finish(handle);
    },
  }),
];

/**
 * Every path as cascades started before the offer step became one activity ran it: they pick and hold in two
 * (`pickNextCandidate`, `createHold`), and must go on replaying so (`patched('waitlist-offer-in-one-step')`).
 */
const beforeOneStepOffer: Scenario[] = scenarios.map((scenario) => ({
  ...scenario,
  name: `${scenario.name}-before-one-step-offer`,
  from: '9fbf6e1aebd190914ec4170d8ffce7fa7b9c283a',
}));

/**
 * Every path as cascades started before they wrote their rows in local activities ran it: each write a
 * queued activity, and they must go on replaying so (`patched('waitlist-database-steps-in-the-worker')`).
 */
const beforeLocalWrites: Scenario[] = scenarios.map((scenario) => ({
  ...scenario,
  name: `${scenario.name}-before-local-writes`,
  from: 'fc0565a35acf1c0eeb8b1747a32bcdf64d7a6f0f',
}));

/**
 * A cascade in flight while new code deploys: its first offer made on the code of `from`, its decline, next offer
 * and accept on today's. Each `patched()` marker is then recorded in the middle of the run, where the run switches.
 */
const deployedMidCascade = (name: string, from: string): Scenario => ({
  name,
  from,
  arrange: (fake) => {
    fake.join('Ada');
    fake.join('Ben');
  },
  deployAfter: async (handle, fake) => {
    await fake.delivered(1);
    // The first hold's timer: the run has recorded the offer and waits for its answer.
    await timerStarted(handle);
  },
  drive: async (handle, fake) => {
    await decline(handle, fake, 1);
    await accept(handle, fake, 2);
    await finish(handle);
  },
});

const deployedMidRun: Scenario[] = [
  deployedMidCascade('deployed-after-queued-writes', 'fc0565a35acf1c0eeb8b1747a32bcdf64d7a6f0f'),
  deployedMidCascade('deployed-after-two-step-offer', '9fbf6e1aebd190914ec4170d8ffce7fa7b9c283a'),
];

/** A cascade that continued as new is recorded as its first and its last run (`-last-run`). */
export const waitlistRecording: FlowRecording<Scenario> = {
  filePrefix: 'waitlist',
  scenarios: [...scenarios, ...beforeLocalWrites, ...beforeOneStepOffer, ...deployedMidRun],
  async record(scenario, env, bundle) {
    const fake = new FakeWaitlist();
    scenario.arrange(fake);
    const taskQueue = `record-${randomUUID()}`;
    const activities = scenario.activities?.(fake) ?? fake.activities();
    const sleep: Sleep = (duration) => env.sleep(duration);
    const start = () =>
      env.client.workflow.start(waitlistCascadeWorkflow, {
        taskQueue,
        workflowId: waitlistCascadeId('tenant-recorded', `slot-${scenario.name}`),
        args: [{ tenantId: 'tenant-recorded', slotId: `slot-${scenario.name}`, ...scenario.input }],
      });
    let handle: Handle;
    if (scenario.deployAfter) {
      const { deployAfter } = scenario;
      handle = await withRecordingWorker(
        env,
        bundle,
        taskQueue,
        activities,
        async () => {
          const started = await start();
          await deployAfter(started, fake);
          return started;
        },
        { maxCachedWorkflows: 0 },
      );
      const today = await workflowBundleAt();
      await withRecordingWorker(env, today, taskQueue, activities, () => scenario.drive(handle, fake, sleep));
    } else {
      handle = await withRecordingWorker(env, bundle, taskQueue, activities, async () => {
        const started = await start();
        await scenario.drive(started, fake, sleep);
        return started;
      });
    }
    const runs = [{ suffix: '', runId: handle.firstExecutionRunId }];
    const { runId: lastRunId } = await env.client.workflow.getHandle(handle.workflowId).describe();
    if (lastRunId !== handle.firstExecutionRunId) runs.push({ suffix: '-last-run', runId: lastRunId });
    const recorded = [];
    for (const { suffix, runId } of runs) {
      recorded.push({
        suffix,
        history: await env.client.workflow.getHandle(handle.workflowId, runId).fetchHistory(),
      });
    }
    return recorded;
  },
};
