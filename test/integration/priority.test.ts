import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { taskQueueFor } from '../../lib/task-queues';
import { notificationWorkflowId } from '../../workflows/notification.contract';
import { useApiStack } from '../support/api-stack';
import {
  allQueuesButEmail,
  emailBacklog,
  enqueueCriticalFlowEmail,
  postEmails,
  untilEmailBacklogReaches,
  useBacklogStack,
  withDrainingEmailWorker,
} from '../support/dispatch-order';
import { until } from '../support/eventually';
import { testLogger } from '../support/stack';

/**
 * Priority on a provider's queue, on the real dev server (fairness and one partition per queue,
 * scripts/stack/temporal-dev-server.ts): a critical message that joins a backlog of low ones is
 * the next one sent once a worker polls. The stack's worker runs every queue but email, so the
 * deliveries wait; then an email worker with one slot drains them, and the order of the mails
 * it hands over is the server's dispatch order.
 */
describe('priority on the email queue: a critical message joins a backlog (API, worker, PostgreSQL, Temporal)', () => {
  const stack = useBacklogStack();

  it("sends a flow's critical notification before the low ones queued ahead of it", async () => {
    const run = randomUUID().slice(0, 8);
    const lows = Array.from({ length: 12 }, (_, index) => `low-${index}-${run}@mail.test`);
    const critical = `critical-${run}@mail.test`;

    await postEmails(stack, stack.tokens.operator, lows, 'low');
    await untilEmailBacklogReaches(stack.client, stack.config, lows.length);
    // Critical is Holdfast's own level: only a flow asks for it (tenants are refused, below).
    const criticalId = await enqueueCriticalFlowEmail(stack, stack.tenant.id, critical);
    await untilEmailBacklogReaches(stack.client, stack.config, lows.length + 1);
    const described = await stack.client.workflow
      .getHandle(notificationWorkflowId(stack.tenant.id, criticalId))
      .describe();
    // Started with its level, its tenant as the fairness key and the plan's weight (free: 1).
    expect(described.priority).toMatchObject({ priorityKey: 1, fairnessKey: stack.tenant.id, fairnessWeight: 1 });
    expect(described.raw.pendingActivities?.map((activity) => activity.activityType?.name)).toEqual([
      'deliverNotification',
    ]);

    const sent = await withDrainingEmailWorker(stack, testLogger(stack.config), async (drain) => {
      await until(() => drain.sent.length === lows.length + 1);
      return [...drain.sent];
    });

    // Queued last, dispatched first: every low one waited behind it.
    expect(sent[0]).toBe(critical);
    expect(new Set(sent.slice(1))).toEqual(new Set(lows));
  });

  it.each([
    [
      'POST /api/v1/notifications',
      '/api/v1/notifications',
      'operator',
      { channel: 'EMAIL', to: 'x@mail.test', subject: 'S', text: 'T' },
    ],
    [
      'POST /api/v1/notification-rules',
      '/api/v1/notification-rules',
      'admin',
      {
        name: 'Urgent',
        eventType: 'ticket.created',
        channel: 'EMAIL',
        template: 'ticket.update',
        recipientPath: 'customer.email',
      },
    ],
  ] as const)(
    'refuses critical from a tenant on %s (422 PRIORITY_RESERVED), for the name and the number alike',
    async (_route, path, role, body) => {
      for (const priority of ['critical', 1]) {
        const answer = await request(stack.app)
          .post(path)
          .set('Authorization', stack.tokens[role])
          .set('Idempotency-Key', `reserved-${randomUUID()}`)
          .send({ ...body, priority });
        expect(answer.status).toBe(422);
        expect(answer.body.error).toMatchObject({
          code: 'PRIORITY_RESERVED',
          details: { field: 'priority', highestAllowed: 'high' },
        });
      }
      // Nothing was recorded or started.
      expect(
        await stack.prisma.notification.count({ where: { tenantId: stack.tenant.id, priority: 1, source: 'API' } }),
      ).toBe(0);
      expect(await stack.prisma.notificationRule.count({ where: { tenantId: stack.tenant.id, priority: 1 } })).toBe(0);
    },
  );
});

describe('priority on the email queue: three levels in reverse order (API, worker, PostgreSQL, Temporal)', () => {
  const stack = useBacklogStack();

  it('keeps the order between levels: high before normal before low, whatever the order of arrival', async () => {
    const run = randomUUID().slice(0, 8);
    const byLevel = {
      low: Array.from({ length: 4 }, (_, index) => `low-${index}-${run}@mail.test`),
      normal: Array.from({ length: 4 }, (_, index) => `normal-${index}-${run}@mail.test`),
      high: Array.from({ length: 4 }, (_, index) => `high-${index}-${run}@mail.test`),
    };
    for (const level of ['low', 'normal', 'high'] as const) {
      await postEmails(stack, stack.tokens.operator, byLevel[level], level);
    }
    await untilEmailBacklogReaches(stack.client, stack.config, 12);

    const sent = await withDrainingEmailWorker(stack, testLogger(stack.config), async (drain) => {
      await until(() => drain.sent.length === 12);
      return [...drain.sent];
    });

    const levelOf = (to: string) => to.split('-')[0];
    expect(sent.map(levelOf)).toEqual([...Array(4).fill('high'), ...Array(4).fill('normal'), ...Array(4).fill('low')]);
  });
});

describe('each provider has its own queue (API, worker, PostgreSQL, Temporal, SMS sink on loopback)', () => {
  const stack = useApiStack({
    worker: true,
    sms: true,
    config: { WORKER_QUEUES: allQueuesButEmail },
    terminateOnStop: true,
  });

  it('sends an SMS while email deliveries wait on the email queue with no worker', async () => {
    const run = randomUUID().slice(0, 8);
    await postEmails(stack, stack.tokens.operator, [`waiting-${run}@mail.test`, `waiting-2-${run}@mail.test`]);
    await untilEmailBacklogReaches(stack.client, stack.config, 2);
    const phone = `+1415${String(Date.now() % 1e7).padStart(7, '0')}`;

    const answer = await request(stack.app)
      .post('/api/v1/notifications')
      .set('Authorization', stack.tokens.operator)
      .set('Idempotency-Key', `sms-${run}`)
      .send({ channel: 'SMS', to: phone, text: 'Your technician is on the way.' });
    expect(answer.status).toBe(202);

    const handle = stack.client.workflow.getHandle(answer.body.workflowId as string);
    expect(await handle.result()).toMatchObject({ status: 'SENT' });
    expect(stack.outbox(phone)).toHaveLength(1);
    const { events } = await handle.fetchHistory();
    const delivery = events!.find(
      (event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'deliverNotification',
    );
    expect(delivery?.activityTaskScheduledEventAttributes?.taskQueue?.name).toBe(
      taskQueueFor(stack.config.temporal.taskQueue, 'sms'),
    );
    // The email deliveries are still queued: nothing polls their queue.
    expect(await emailBacklog(stack.client, stack.config)).toBe(2);
  });
});
