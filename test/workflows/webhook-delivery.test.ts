import { randomUUID } from 'node:crypto';
import type { temporal } from '@temporalio/proto';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../workflows/errors';
import {
  getWebhookDeliveryStateQuery,
  webhookDeliveryStartOptions,
  webhookDeliveryWorkflow,
  WebhookFailure,
} from '../../workflows/webhook-delivery';
import { useTimeSkippingWorkers } from '../support/time-skipping';
import { FakeWebhooks, unavailable } from '../support/webhooks-fake';

const seconds = (duration: { seconds?: unknown } | null | undefined) => Number(duration?.seconds ?? 0);

/** The delivery step as the server recorded it: the retry policy it was scheduled with, and its last attempt. */
function deliveryStep(history: temporal.api.history.v1.IHistory) {
  const events = history.events ?? [];
  const scheduledEvent = events.find(
    (event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'deliverWebhook',
  )!;
  const scheduled = scheduledEvent.activityTaskScheduledEventAttributes!;
  const started = events.find(
    (event) => String(event.activityTaskStartedEventAttributes?.scheduledEventId) === String(scheduledEvent.eventId),
  )!.activityTaskStartedEventAttributes!;
  const retry = scheduled.retryPolicy!;
  return {
    retryPolicy: {
      initialIntervalSeconds: seconds(retry.initialInterval),
      backoffCoefficient: retry.backoffCoefficient,
      maximumAttempts: retry.maximumAttempts,
    },
    lastAttempt: started.attempt,
  };
}

describe('webhook delivery workflow (time skipping, activities mocked)', () => {
  const temporal = useTimeSkippingWorkers();

  async function deliver(fake: FakeWebhooks) {
    const tenantId = 'tenant-a';
    const eventId = randomUUID();
    return temporal.runWithWorker(fake.activities(), 'webhook', async (taskQueue) => {
      const handle = await temporal.env.client.workflow.start(webhookDeliveryWorkflow, {
        taskQueue,
        args: [{ tenantId, deliveryId: randomUUID() }],
        ...webhookDeliveryStartOptions(tenantId, 'endpoint-1', eventId),
      });
      const result = await handle.result();
      const state = await handle.query(getWebhookDeliveryStateQuery);
      return { result, state, history: await handle.fetchHistory() };
    });
  }

  it('a receiver that fails twice and then answers 2xx gets the event on the third attempt', async () => {
    const fake = new FakeWebhooks();
    fake.answers = [unavailable(503), unavailable(500), { outcome: 'DELIVERED', statusCode: 204 }];

    const { result, state, history } = await deliver(fake);

    expect(result).toMatchObject({ status: 'SUCCEEDED', endpointDisabled: false });
    expect(state).toMatchObject({ status: 'SUCCEEDED', statusCode: 204 });
    expect(fake.attempts).toHaveLength(3);
    // The server spaced the attempts by the tenant's profile: 10 s, doubling, at most 5 attempts.
    expect(deliveryStep(history)).toEqual({
      retryPolicy: { initialIntervalSeconds: 10, backoffCoefficient: 2, maximumAttempts: 5 },
      lastAttempt: 3,
    });
    expect(fake.settlements).toEqual(['SUCCEEDED']);
  });

  it("retries as often as the tenant's settings say, then records the delivery as failed", async () => {
    const fake = new FakeWebhooks();
    fake.prepared = { status: 'READY', retry: { maximumAttempts: 3, initialIntervalSeconds: 1 } };
    fake.answers = [unavailable(500)];

    const { result, state, history } = await deliver(fake);

    expect(result).toMatchObject({ status: 'FAILED', endpointDisabled: false });
    expect(deliveryStep(history).retryPolicy).toEqual({
      initialIntervalSeconds: 1,
      backoffCoefficient: 2,
      maximumAttempts: 3,
    });
    expect(state.failure).toEqual({ type: WebhookFailure.Unavailable, message: 'The receiver answered 500' });
    expect(fake.attempts).toHaveLength(3);
    expect(fake.settlements).toEqual(['FAILED']);
    expect(fake.notices).toEqual([]);
  });

  it('410 Gone ends the delivery at once and disables the endpoint', async () => {
    const fake = new FakeWebhooks();
    fake.answers = [ApplicationFailure.nonRetryable('The receiver answered 410', WebhookFailure.EndpointGone)];

    const { result } = await deliver(fake);

    expect(result).toMatchObject({ status: 'ENDPOINT_GONE', endpointDisabled: true });
    expect(fake.attempts).toHaveLength(1);
    expect(fake.settlements).toEqual(['ENDPOINT_GONE']);
  });

  it('a 4xx refusal is not retried', async () => {
    const fake = new FakeWebhooks();
    fake.answers = [ApplicationFailure.nonRetryable('The receiver answered 400', WebhookFailure.Rejected)];

    const { result } = await deliver(fake);

    expect(result.status).toBe('FAILED');
    expect(fake.attempts).toHaveLength(1);
  });

  it("429 is retried after the receiver's Retry-After rather than the backoff", async () => {
    const fake = new FakeWebhooks();
    fake.answers = [
      ApplicationFailure.create({
        type: FailureType.ProviderThrottled,
        message: 'The receiver answered 429',
        nextRetryDelay: '2 hours',
      }),
      { outcome: 'DELIVERED', statusCode: 200 },
    ];

    const { result, history } = await deliver(fake);

    expect(result.status).toBe('SUCCEEDED');
    // The time-skipping server keeps no last failure on the started event; the API test reads the
    // Retry-After delay from the real server's history.
    expect(deliveryStep(history).lastAttempt).toBe(2);
    expect(fake.attempts).toHaveLength(2);
  });

  it("the failure that reaches the tenant's threshold disables the endpoint and the admins are told", async () => {
    const fake = new FakeWebhooks();
    fake.prepared = { status: 'READY', retry: { maximumAttempts: 1, initialIntervalSeconds: 1 } };
    fake.answers = [unavailable(502)];
    fake.settled = { endpointId: 'endpoint-1', disabledByThresholdAt: '2026-12-02T01:00:00.000Z' };

    const { result } = await deliver(fake);

    expect(result).toMatchObject({ status: 'FAILED', endpointDisabled: true });
    expect(fake.notices).toEqual([{ endpointId: 'endpoint-1', disabledAt: '2026-12-02T01:00:00.000Z' }]);
  });

  it('a delivery whose endpoint was disabled before it ran is skipped without sending', async () => {
    const fake = new FakeWebhooks();
    fake.prepared = { status: 'SKIPPED', reason: 'ENDPOINT_DISABLED' };

    const { result } = await deliver(fake);

    expect(result).toEqual({
      deliveryId: expect.any(String),
      status: 'SKIPPED',
      skipReason: 'ENDPOINT_DISABLED',
      endpointDisabled: false,
    });
    expect(fake.attempts).toEqual([]);
    expect(fake.settlements).toEqual(['SKIPPED']);
  });

  it('an endpoint disabled between attempts stops the retries without counting a failure', async () => {
    const fake = new FakeWebhooks();
    fake.answers = [unavailable(503), { outcome: 'SKIPPED', reason: 'ENDPOINT_DISABLED' }];

    const { result } = await deliver(fake);

    expect(result).toMatchObject({ status: 'SKIPPED', skipReason: 'ENDPOINT_DISABLED' });
    expect(fake.settlements).toEqual(['SKIPPED']);
  });

  it("Holdfast's own misconfiguration ends the run NEEDS_ATTENTION without settling, so nothing counts against the endpoint", async () => {
    const fake = new FakeWebhooks();
    fake.answers = [
      ApplicationFailure.nonRetryable(
        'The endpoint signing secret cannot be decrypted with the worker key (was WEBHOOK_SECRET_KEY changed?)',
        WebhookFailure.NotConfigured,
      ),
    ];

    const { result, state } = await deliver(fake);

    expect(result).toMatchObject({ status: 'NEEDS_ATTENTION', endpointDisabled: false });
    expect(state).toMatchObject({ status: 'NEEDS_ATTENTION', failure: { type: WebhookFailure.NotConfigured } });
    expect(fake.attempts).toHaveLength(1);
    expect(fake.settlements).toEqual([]);
    expect(fake.notices).toEqual([]);
  });
});
