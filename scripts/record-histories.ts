import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { historyToJSON } from '../test/support/histories';
import { bundleWorkflows, createTimeSkippingEnvironment } from '../test/support/stack';
import { FakeWaitlist } from '../test/support/waitlist-fake';
import { FailureType } from '../workflows/errors';
import { waitlistCascadeId } from '../workflows/ids';
import {
  acceptOfferUpdate,
  declineOfferUpdate,
  extendHoldUpdate,
  waitlistCascadeWorkflow,
  type WaitlistCascadeInput,
} from '../workflows/waitlist-cascade';
import { noActivityRunning } from '../test/support/workflow-handles';

/**
 * Records the replay histories of test/histories/waitlist-*.json: one cascade per path through
 * the workflow, run on the time-skipping server with the in-memory activities of
 * test/support/waitlist-fake.ts. Run it (`npx tsx scripts/record-histories.ts`) only to add a
 * history for a new path; the existing ones must keep replaying after every change to the
 * workflow (test/replay/waitlist.replay.test.ts), or the change needs `patched()`.
 */

type Handle = WorkflowHandleWithFirstExecutionRunId<typeof waitlistCascadeWorkflow>;

interface Scenario {
  name: string;
  input?: Partial<WaitlistCascadeInput>;
  arrange: (fake: FakeWaitlist) => void;
  drive: (handle: Handle, fake: FakeWaitlist, sleep: (duration: string) => Promise<void>) => Promise<void>;
}

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
];

async function main(): Promise<void> {
  const outDir = path.resolve(__dirname, '../test/histories');
  const [env, bundle] = await Promise.all([createTimeSkippingEnvironment(), bundleWorkflows()]);
  try {
    for (const scenario of scenarios) {
      const fake = new FakeWaitlist();
      scenario.arrange(fake);
      const taskQueue = `record-${randomUUID()}`;
      const worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue,
        workflowBundle: bundle,
        activities: fake.activities(),
      });
      await worker.runUntil(async () => {
        const handle = await env.client.workflow.start(waitlistCascadeWorkflow, {
          taskQueue,
          workflowId: waitlistCascadeId('tenant-recorded', `slot-${scenario.name}`),
          args: [{ tenantId: 'tenant-recorded', slotId: `slot-${scenario.name}`, ...scenario.input }],
        });
        await scenario.drive(handle, fake, (duration) => env.sleep(duration));
        const runs = [{ suffix: '', runId: handle.firstExecutionRunId }];
        const { runId: lastRunId } = await env.client.workflow.getHandle(handle.workflowId).describe();
        // A cascade that continued as new is recorded as its first and its last run.
        if (lastRunId !== handle.firstExecutionRunId) runs.push({ suffix: '-last-run', runId: lastRunId });
        for (const { suffix, runId } of runs) {
          const history = await env.client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
          const file = path.join(outDir, `waitlist-${scenario.name}${suffix}.json`);
          fs.writeFileSync(file, `${historyToJSON(history)}\n`);
          console.log(`recorded ${path.relative(process.cwd(), file)} (${history.events?.length ?? 0} events)`);
        }
      });
    }
  } finally {
    await env.teardown();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
