import { FailureType } from '../../../workflows/errors';
import {
  eventFanOutStartOptions,
  eventFanOutWorkflow,
  eventOutboxSweepWorkflow,
} from '../../../workflows/event-fan-out';
import { FakeEventFanOut, permanentFailure } from '../events-fake';
import { withRecordingWorker, type FlowRecording } from '../history-recording';

/*
 * The paths through the event fan-out (and the outbox sweep) whose histories
 * test/histories/events-*.json hold, run on the time-skipping server with the in-memory activities
 * of test/support/events-fake.ts. `npm run histories:record -- events [scenario…]` records them;
 * they must keep replaying after every change to the workflows (test/replay/events.replay.test.ts).
 */

interface Scenario {
  name: string;
  /** The fan-out's plan and failures; a sweep scenario runs the outbox sweep instead. */
  arrange: (fake: FakeEventFanOut) => void;
  sweep?: boolean;
}

const tenantId = '00000000-0000-5000-8000-000000000001';
const eventId = '00000000-0000-5000-8000-00000000e001';

const scenarios: Scenario[] = [
  {
    name: 'fanned-out',
    arrange: (fake) => void fake.planned(eventId, ['rule-email', 'rule-sms'], ['endpoint-1']),
  },
  {
    name: 'rule-skipped-endpoint-gone',
    arrange: (fake) => {
      fake.planned(eventId, ['rule-no-recipient'], ['endpoint-gone']);
      fake.ruleAnswers.set('rule-no-recipient', {
        outcome: 'SKIPPED',
        notificationId: null,
        reason: 'NO_VALID_RECIPIENT',
      });
      fake.failing('endpoint-gone', permanentFailure(FailureType.NotFound));
    },
  },
  {
    name: 'outage-retried',
    arrange: (fake) =>
      void fake.planned(eventId, ['rule-email'], []).failing('rule-email', new Error('database unavailable')),
  },
  { name: 'event-not-found', arrange: () => undefined },
  {
    name: 'sweep-published',
    sweep: true,
    arrange: (fake) => {
      fake.sweepResult = { published: 3 };
    },
  },
];

export const eventRecording: FlowRecording<Scenario> = {
  filePrefix: 'events',
  scenarios,
  async record(scenario, env, bundle) {
    const fake = new FakeEventFanOut();
    scenario.arrange(fake);
    const taskQueue = `record-events-${scenario.name}`;
    return withRecordingWorker(env, bundle, taskQueue, fake.activities(), async () => {
      if (scenario.sweep) {
        const handle = await env.client.workflow.start(eventOutboxSweepWorkflow, {
          taskQueue,
          workflowId: `events:outbox-sweep-${scenario.name}`,
          args: [{}],
        });
        await handle.result();
        return [{ suffix: '', history: await handle.fetchHistory(), status: 'swept' }];
      }
      const handle = await env.client.workflow.start(eventFanOutWorkflow, {
        taskQueue,
        args: [{ tenantId, eventId }],
        ...eventFanOutStartOptions(tenantId, eventId),
        workflowId: `${eventFanOutStartOptions(tenantId, eventId).workflowId}:${scenario.name}`,
      });
      const result = await handle.result();
      return [{ suffix: '', history: await handle.fetchHistory(), status: result.status }];
    });
  },
};
