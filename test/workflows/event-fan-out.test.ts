import { randomUUID } from 'node:crypto';
import {
  eventFanOutStartOptions,
  eventFanOutWorkflow,
  eventOutboxSweepWorkflow,
  getFanOutStateQuery,
  OUTBOX_SWEEP_BATCH,
  OUTBOX_SWEEP_GRACE_SECONDS,
} from '../../workflows/event-fan-out';
import { FailureType } from '../../workflows/errors';
import { FakeEventFanOut, permanentFailure } from '../support/events-fake';
import { useTimeSkippingWorkers } from '../support/time-skipping';

describe('event fan-out workflow (time skipping, activities mocked)', () => {
  const temporal = useTimeSkippingWorkers();
  const tenantId = randomUUID();

  /** Runs one fan-out of `eventId` to its end with `fake`'s activities; returns its result and final state. */
  async function fanOut(fake: FakeEventFanOut, eventId = fake.plan?.eventId ?? randomUUID()) {
    return temporal.runWithWorker(fake.activities(), 'event-fan-out', async (taskQueue) => {
      const handle = await temporal.env.client.workflow.start(eventFanOutWorkflow, {
        taskQueue,
        args: [{ tenantId, eventId }],
        ...eventFanOutStartOptions(tenantId, eventId),
      });
      const result = await handle.result();
      return { result, state: await handle.query(getFanOutStateQuery) };
    });
  }

  it('enqueues one notification per matching rule and one delivery per subscribed endpoint, and reports them', async () => {
    const eventId = randomUUID();
    const fake = new FakeEventFanOut().planned(eventId, ['rule-a', 'rule-b'], ['endpoint-1']);

    const { result, state } = await fanOut(fake);

    // The rules and endpoints are handled concurrently, so their calls come in any order.
    expect(fake.calls.plans).toBe(1);
    expect([...fake.calls.rules].sort()).toEqual(['rule-a', 'rule-b']);
    expect(fake.calls.endpoints).toEqual(['endpoint-1']);
    expect(result.status).toBe('COMPLETED');
    expect(result.eventType).toBe('ticket.created');
    expect(result.rules).toEqual([
      { ruleId: 'rule-a', outcome: 'ENQUEUED', notificationId: expect.any(String), reason: null },
      { ruleId: 'rule-b', outcome: 'ENQUEUED', notificationId: expect.any(String), reason: null },
    ]);
    expect(result.deliveries).toEqual([
      {
        endpointId: 'endpoint-1',
        outcome: 'ENQUEUED',
        deliveryId: expect.any(String),
        workflowId: `webhook:${tenantId}:endpoint-1:${eventId}`,
        reason: null,
      },
    ]);
    expect(state).toEqual(result);
  });

  it('records a rule whose event data holds no valid recipient as skipped, and still serves the others', async () => {
    const fake = new FakeEventFanOut().planned(randomUUID(), ['no-recipient', 'fine'], []);
    fake.ruleAnswers.set('no-recipient', { outcome: 'SKIPPED', notificationId: null, reason: 'NO_VALID_RECIPIENT' });

    const { result } = await fanOut(fake);

    expect(result.status).toBe('COMPLETED');
    expect(result.rules.map((r) => [r.ruleId, r.outcome, r.reason])).toEqual([
      ['no-recipient', 'SKIPPED', 'NO_VALID_RECIPIENT'],
      ['fine', 'ENQUEUED', null],
    ]);
  });

  it('records a step that fails for good with its failure type and completes with failures, never retrying it', async () => {
    const fake = new FakeEventFanOut()
      .planned(randomUUID(), ['rule-a'], ['gone-endpoint'])
      .failing('gone-endpoint', permanentFailure(FailureType.NotFound), permanentFailure(FailureType.NotFound));

    const { result } = await fanOut(fake);

    expect(fake.calls.endpoints).toEqual(['gone-endpoint']);
    expect(result.status).toBe('COMPLETED_WITH_FAILURES');
    expect(result.deliveries).toEqual([
      { endpointId: 'gone-endpoint', outcome: 'FAILED', deliveryId: null, workflowId: null, reason: 'NotFound' },
    ]);
    expect(result.rules[0]!.outcome).toBe('ENQUEUED');
  });

  it('retries a step through an outage until it succeeds, enqueueing it once', async () => {
    const fake = new FakeEventFanOut()
      .planned(randomUUID(), ['rule-a'], [])
      .failing('rule-a', new Error('database unavailable'), new Error('database unavailable'));

    const { result } = await fanOut(fake);

    expect(fake.calls.rules).toEqual(['rule-a', 'rule-a', 'rule-a']);
    expect(result.status).toBe('COMPLETED');
    expect(result.rules[0]!.outcome).toBe('ENQUEUED');
  });

  it('ends EVENT_NOT_FOUND without a step when the event is gone', async () => {
    const fake = new FakeEventFanOut();

    const { result } = await fanOut(fake, randomUUID());

    expect(result).toMatchObject({ status: 'EVENT_NOT_FOUND', eventType: null, rules: [], deliveries: [] });
    expect(fake.calls).toMatchObject({ plans: 1, rules: [], endpoints: [] });
  });

  it('the outbox sweep asks for events older than the grace period, one batch at a time', async () => {
    const fake = new FakeEventFanOut();
    fake.sweepResult = { published: 2 };

    const result = await temporal.runWithWorker(fake.activities(), 'outbox-sweep', (taskQueue) =>
      temporal.env.client.workflow.execute(eventOutboxSweepWorkflow, {
        taskQueue,
        workflowId: `sweep-${randomUUID()}`,
        args: [{ tenantId }],
      }),
    );

    expect(result).toEqual({ published: 2 });
    expect(fake.calls.sweeps).toEqual([
      { tenantId, graceSeconds: OUTBOX_SWEEP_GRACE_SECONDS, limit: OUTBOX_SWEEP_BATCH },
    ]);
  });
});
