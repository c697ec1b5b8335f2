import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../../workflows/errors';
import {
  webhookDeliveryStartOptions,
  webhookDeliveryWorkflow,
  WebhookFailure,
  type WebhookDeliveryInput,
} from '../../../workflows/webhook-delivery';
import { withRecordingWorker, type FlowRecording } from '../history-recording';
import { FakeWebhooks, unavailable } from '../webhooks-fake';

/*
 * The paths through a webhook delivery whose histories test/histories/webhook-*.json hold, run on
 * the time-skipping server with the scripted receiver of test/support/webhooks-fake.ts.
 * `npm run histories:record -- webhooks [scenario…]` records them; the existing ones must keep
 * replaying after every change to the workflow (test/replay/webhooks.replay.test.ts), or the
 * change needs `patched()`.
 */

interface Scenario {
  name: string;
  arrange: (fake: FakeWebhooks) => void;
  replay?: boolean;
}

const scenarios: Scenario[] = [
  { name: 'delivered-first-attempt', arrange: () => undefined },
  {
    name: 'failed-twice-then-delivered',
    arrange: (fake) => {
      fake.answers = [unavailable(503), unavailable(500), { outcome: 'DELIVERED', statusCode: 200 }];
    },
  },
  {
    name: 'throttled-then-delivered',
    arrange: (fake) => {
      fake.answers = [
        ApplicationFailure.create({
          type: FailureType.ProviderThrottled,
          message: 'The receiver answered 429',
          nextRetryDelay: '30 seconds',
        }),
        { outcome: 'DELIVERED', statusCode: 204 },
      ];
    },
  },
  {
    name: 'endpoint-gone',
    arrange: (fake) => {
      fake.answers = [ApplicationFailure.nonRetryable('The receiver answered 410', WebhookFailure.EndpointGone)];
    },
  },
  {
    name: 'failed-endpoint-disabled-admins-notified',
    arrange: (fake) => {
      fake.prepared = { status: 'READY', retry: { maximumAttempts: 2, initialIntervalSeconds: 10 } };
      fake.answers = [unavailable(500)];
      fake.settled = { endpointId: 'endpoint-recorded', disabledByThresholdAt: '2026-12-02T01:00:00.000Z' };
    },
  },
  {
    name: 'skipped-endpoint-disabled',
    arrange: (fake) => {
      fake.prepared = { status: 'SKIPPED', reason: 'ENDPOINT_DISABLED' };
    },
  },
  {
    name: 'disabled-between-attempts',
    arrange: (fake) => {
      fake.answers = [unavailable(503), { outcome: 'SKIPPED', reason: 'ENDPOINT_DISABLED' }];
    },
  },
  {
    name: 'needs-attention-not-configured',
    arrange: (fake) => {
      fake.answers = [
        ApplicationFailure.nonRetryable(
          'Webhook delivery is not configured on the worker (WEBHOOK_SECRET_KEY)',
          WebhookFailure.NotConfigured,
        ),
      ];
    },
  },
  {
    name: 'replayed',
    replay: true,
    arrange: () => undefined,
  },
];

export const webhookRecording: FlowRecording<Scenario> = {
  filePrefix: 'webhook',
  scenarios,
  async record(scenario, env, bundle) {
    const fake = new FakeWebhooks();
    scenario.arrange(fake);
    const taskQueue = `record-${scenario.name}`;
    return withRecordingWorker(env, bundle, taskQueue, fake.activities(), async () => {
      const tenantId = 'tenant-recorded';
      const input: WebhookDeliveryInput = {
        tenantId,
        deliveryId: `delivery-${scenario.name}`,
        ...(scenario.replay ? { replay: true } : {}),
      };
      const handle = await env.client.workflow.start(webhookDeliveryWorkflow, {
        taskQueue,
        args: [input],
        ...webhookDeliveryStartOptions(tenantId, 'endpoint-recorded', `event-${scenario.name}`),
      });
      await handle.result();
      const { status } = await handle.describe();
      return [{ suffix: '', history: await handle.fetchHistory(), status: status.name }];
    });
  },
};
