import { randomUUID } from 'node:crypto';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { taskQueueFor } from '../../lib/task-queues';
import { FailureType } from '../../workflows/errors';
import {
  cancelNotificationUpdate,
  getNotificationStateQuery,
  notificationWorkflow,
  notificationWorkflowId,
  NotificationRejection,
  type NotificationWorkflowInput,
} from '../../workflows/notification';
import { FlowStatusKey, TenantIdKey } from '../../workflows/search-attributes';
import { FakeNotificationLedger } from '../support/notification-fake';
import { useTimeSkippingWorkers } from '../support/time-skipping';
import { until } from '../support/eventually';
import { rejectionOf, terminateWhenIdle } from '../support/workflow-handles';

type Handle = WorkflowHandleWithFirstExecutionRunId<typeof notificationWorkflow>;

describe('notification workflow (time skipping, activities mocked)', () => {
  const temporal = useTimeSkippingWorkers();

  async function withNotification<T>(
    fake: FakeNotificationLedger,
    input: Partial<NotificationWorkflowInput>,
    body: (handle: Handle) => Promise<T>,
  ): Promise<T> {
    const tenantId = 'tenant-a';
    const notificationId = randomUUID();
    return temporal.runWithWorker(fake.activities(), 'notification', async (taskQueue) => {
      const handle = await temporal.env.client.workflow.start(notificationWorkflow, {
        taskQueue,
        workflowId: notificationWorkflowId(tenantId, notificationId),
        args: [{ tenantId, notificationId, priority: 3, ...input }],
        typedSearchAttributes: [{ key: TenantIdKey, value: tenantId }],
      });
      try {
        return await body(handle);
      } finally {
        await terminateWhenIdle(handle);
      }
    });
  }

  /** An instant on the time-skipping server's clock, which runs ahead of the machine's. */
  const inHours = async (hours: number) =>
    new Date((await temporal.env.currentTimeMs()) + hours * 3_600_000).toISOString();

  it('a notification without sendAt is delivered at once and ends SENT', async () => {
    const fake = new FakeNotificationLedger();

    const result = await withNotification(fake, {}, (handle) => handle.result());

    expect(result).toMatchObject({ status: 'SENT', lastError: null });
    expect(result.sentAt).not.toBeNull();
    expect(fake.deliveries).toBe(1);
  });

  it('a notification due in 24 hours waits on a durable timer, then is sent', async () => {
    const fake = new FakeNotificationLedger();
    fake.status = 'SCHEDULED';

    await withNotification(fake, { sendAt: await inHours(24) }, async (handle) => {
      const state = await handle.query(getNotificationStateQuery);
      expect(state.status).toBe('SCHEDULED');
      await temporal.env.sleep('23 hours');
      expect(fake.deliveries).toBe(0);
      const result = await handle.result();
      expect(result.status).toBe('SENT');
      expect((await handle.describe()).typedSearchAttributes.get(FlowStatusKey)).toBe('SENT');
    });

    expect(fake.markedDue).toBe(1);
    expect(fake.deliveries).toBe(1);
  });

  it('cancelling while it waits ends it CANCELLED without sending anything', async () => {
    const fake = new FakeNotificationLedger();
    fake.status = 'SCHEDULED';

    const result = await withNotification(fake, { sendAt: await inHours(24) }, async (handle) => {
      const answer = await handle.executeUpdate(cancelNotificationUpdate, { args: [{ actor: 'user-1' }] });
      expect(answer).toEqual({ status: 'CANCELLED' });
      return handle.result();
    });

    expect(result.status).toBe('CANCELLED');
    expect(fake.deliveries).toBe(0);
    expect(fake.cancellations).toEqual([{ reason: 'REQUESTED', actor: 'user-1' }]);
  });

  it('a cancel once sending has started is refused with NOTIFICATION_SENDING, and the message is still sent', async () => {
    const fake = new FakeNotificationLedger();
    let release = () => undefined as void;
    fake.holdDelivery = new Promise<void>((resolve) => (release = resolve));

    const result = await withNotification(fake, {}, async (handle) => {
      await until(() => fake.deliveries === 1);
      const refusal = rejectionOf(handle.executeUpdate(cancelNotificationUpdate, { args: [{ actor: 'user-1' }] }));
      expect(await refusal).toBe(NotificationRejection.Sending);
      release();
      return handle.result();
    });

    expect(result.status).toBe('SENT');
    expect(fake.cancellations).toEqual([]);
  });

  it('two transient failures are retried, and the third attempt sends it', async () => {
    const fake = new FakeNotificationLedger();
    fake.transientFailures = 2;

    const result = await withNotification(fake, {}, (handle) => handle.result());

    expect(result.status).toBe('SENT');
    expect(fake.deliveries).toBe(3);
    expect(fake.failures).toEqual([]);
  });

  it('a permanent failure is not retried: it ends FAILED at once and publishes the failure', async () => {
    const fake = new FakeNotificationLedger();
    fake.permanentFailure = FailureType.InvalidRecipient;

    const result = await withNotification(fake, {}, (handle) => handle.result());

    expect(result.status).toBe('FAILED');
    expect(result.lastError).toMatch(/^InvalidRecipient: /);
    expect(fake.deliveries).toBe(1);
    expect(fake.failures).toHaveLength(1);
  });

  it('after 5 failed attempts the notification has failed for good', async () => {
    const fake = new FakeNotificationLedger();
    fake.alwaysFails = true;

    const result = await withNotification(fake, {}, (handle) => handle.result());

    expect(result).toMatchObject({ status: 'FAILED', lastError: 'Error: SMTP connection refused' });
    expect(fake.deliveries).toBe(5);
    expect(fake.failures).toEqual(['Error: SMTP connection refused']);
  });

  it('a template the tenant disabled ends the notification CANCELLED with TEMPLATE_DISABLED', async () => {
    const fake = new FakeNotificationLedger();
    fake.suppressed = true;

    await withNotification(fake, {}, async (handle) => {
      const result = await handle.result();
      expect(result.status).toBe('CANCELLED');
      const state = await handle.query(getNotificationStateQuery);
      expect(state.cancellation).toEqual({ reason: 'TEMPLATE_DISABLED', actor: null });
    });
  });

  it.each([
    ['before it is delivered', 'deliverNotification', null],
    ['after a permanent failure, before the failure is recorded', 'failNotification', FailureType.InvalidRecipient],
  ] as const)(
    'a notification whose row was deleted %s ends CANCELLED with reason DELETED, not a failed run',
    async (_, gone, permanentFailure) => {
      const fake = new FakeNotificationLedger();
      fake.permanentFailure = permanentFailure;
      fake.rowGoneIn.add(gone);

      await withNotification(fake, {}, async (handle) => {
        const result = await handle.result();
        expect(result).toMatchObject({ status: 'CANCELLED', lastError: 'The notification no longer exists' });
        const state = await handle.query(getNotificationStateQuery);
        expect(state.cancellation).toEqual({ reason: 'DELETED', actor: null });
      });
      expect(fake.failures).toEqual([]);
    },
  );

  it('a cancel of a notification whose row was deleted while it waited ends CANCELLED with reason DELETED', async () => {
    const fake = new FakeNotificationLedger();
    fake.rowGoneIn.add('cancelNotification');

    await withNotification(fake, { sendAt: await inHours(24) }, async (handle) => {
      await handle.executeUpdate(cancelNotificationUpdate, { args: [{ actor: 'user-1' }] });
      const state = await handle.query(getNotificationStateQuery);
      expect(state).toMatchObject({ status: 'CANCELLED', cancellation: { reason: 'DELETED', actor: null } });
    });
    expect(fake.deliveries).toBe(0);
  });
  it.each([
    ['EMAIL', 'email'],
    ['SMS', 'sms'],
  ] as const)(
    'a notification started with channel %s schedules its delivery on the %s provider queue, and bookkeeping on its own',
    async (channel, kind) => {
      const fake = new FakeNotificationLedger();
      fake.status = 'SCHEDULED';
      const tenantId = 'tenant-a';
      const notificationId = randomUUID();

      const { result, deliveryQueues, bookkeepingQueues, base } = await temporal.runWithWorker(
        fake.activities(),
        'notification',
        async (taskQueue) => {
          // The provider's queue has a worker of its own (activities only), as in production.
          const providerWorker = await Worker.create({
            connection: temporal.env.nativeConnection,
            dataConverter: temporal.env.client.options.dataConverter,
            taskQueue: taskQueueFor(taskQueue, kind),
            activities: fake.activities(),
          });
          return providerWorker.runUntil(async () => {
            const handle = await temporal.env.client.workflow.start(notificationWorkflow, {
              taskQueue,
              workflowId: notificationWorkflowId(tenantId, notificationId),
              // Due in an hour, so the run also does bookkeeping (marking it due) before it delivers.
              args: [{ tenantId, notificationId, priority: 3, channel, sendAt: await inHours(1) }],
              typedSearchAttributes: [{ key: TenantIdKey, value: tenantId }],
            });
            const outcome = await handle.result();
            const { events } = await handle.fetchHistory();
            const scheduled = (events ?? []).flatMap((event) => {
              const attributes = event.activityTaskScheduledEventAttributes;
              return attributes ? [{ type: attributes.activityType?.name, queue: attributes.taskQueue?.name }] : [];
            });
            return {
              result: outcome,
              base: taskQueue,
              deliveryQueues: scheduled.filter((a) => a.type === 'deliverNotification').map((a) => a.queue),
              bookkeepingQueues: scheduled.filter((a) => a.type !== 'deliverNotification').map((a) => a.queue),
            };
          });
        },
      );

      expect(result.status).toBe('SENT');
      expect(deliveryQueues).toEqual([`${base}-${kind}`]);
      // Only the provider call moves: the ledger's bookkeeping stays on the workflow's queue.
      expect(bookkeepingQueues).toEqual([base]);
      expect(fake.deliveries).toBe(1);
    },
  );
});
