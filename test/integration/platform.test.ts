import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Config } from '../../lib/config';
import type { PrismaClient } from '../../lib/db';
import { holdfastSchedules, scheduleChanges, syncSchedules } from '../../workers/schedules';
import { dailyCleanupWorkflow } from '../../workflows';
import { dailyCleanupScheduleId, dailyCleanupScheduleOptions } from '../../workflows/cleanup.contract';
import { outboxSweepScheduleId, outboxSweepScheduleOptions } from '../../workflows/event-fan-out.contract';
import { notificationStartOptions, type NotificationWorkflowInput } from '../../workflows/notification.contract';
import { useApiStack } from '../support/api-stack';
import { until } from '../support/eventually';
import { holdExclusive } from '../support/exclusive';
import { deletePlatformSchedules } from '../support/platform-schedules';
import { createTestTenant, testLogger } from '../support/stack';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('platform on the real stack (dev server + PostgreSQL + worker)', () => {
  const stack = useApiStack({ worker: true });
  let config: Config;
  let prisma: PrismaClient;
  let client: Client;

  beforeAll(() => {
    ({ config, prisma, client } = stack);
  });

  it('a real worker runs the cleanup workflow, which deletes what has finished and expired, and keeps what waits or runs', async () => {
    const tenant = await createTestTenant(prisma, { retentionDays: 30 });
    const old = new Date(Date.now() - 40 * DAY_MS);
    const aged = { createdAt: old, updatedAt: old };
    const key = (name: string) => `${tenant.id}:${name}`;
    const base = { tenantId: tenant.id, channel: 'EMAIL' as const, recipient: 'a@b.test', template: 'offer' };
    await prisma.notification.createMany({
      data: [
        { ...base, ...aged, idempotencyKey: key('old-sent'), status: 'SENT' },
        { ...base, ...aged, idempotencyKey: key('old-failed'), status: 'FAILED' },
        { ...base, ...aged, idempotencyKey: key('old-cancelled'), status: 'CANCELLED' },
        // Requested long ago and due in the future: still waiting to be sent, so it stays.
        {
          ...base,
          ...aged,
          idempotencyKey: key('old-scheduled'),
          status: 'SCHEDULED',
          sendAt: new Date(Date.now() + 300 * DAY_MS),
        },
        { ...base, ...aged, idempotencyKey: key('old-pending'), status: 'PENDING' },
        { ...base, idempotencyKey: key('recent-sent'), status: 'SENT' },
      ],
    });
    await prisma.auditLog.createMany({
      data: [
        { tenantId: tenant.id, actor: 't', action: 'old', entityType: 'Slot', entityId: 's', at: old },
        { tenantId: tenant.id, actor: 't', action: 'recent', entityType: 'Slot', entityId: 's' },
      ],
    });
    const reminder = (name: string, status: 'ACTIVE' | 'COMPLETED' | 'FINISHED' | 'CANCELLED', times = aged) => ({
      ...times,
      tenantId: tenant.id,
      idempotencyKey: name,
      requestHash: 'h',
      subjectType: 'invoice',
      subjectId: name,
      channel: 'EMAIL' as const,
      recipient: 'a@b.test',
      template: 'payment.reminder',
      dueAt: old,
      steps: [],
      status,
      workflowId: `reminder:${tenant.id}:${name}`,
    });
    await prisma.reminder.createMany({
      data: [
        reminder('old-completed', 'COMPLETED'),
        reminder('old-finished', 'FINISHED'),
        reminder('old-active', 'ACTIVE'),
        reminder('recent-cancelled', 'CANCELLED', { createdAt: old, updatedAt: new Date() }),
      ],
    });
    const endpoint = await prisma.webhookEndpoint.create({
      data: { tenantId: tenant.id, url: 'https://hooks.example.test/in', events: ['*'], secretCiphertext: 'x' },
    });
    const event = (name: string, publishedAt: Date | null, createdAt = old) =>
      prisma.outboxEvent.create({
        data: { tenantId: tenant.id, eventKey: name, type: 'ticket.created', payload: {}, createdAt, publishedAt },
      });
    const delivered = await event('old-delivered', old);
    const stillDelivering = await event('old-delivering', old);
    const unpublished = await event('old-unpublished', null);
    const recent = await event('recent', new Date(), new Date());
    const delivery = (eventId: string, status: 'PENDING' | 'SUCCEEDED' | 'FAILED', times = aged) =>
      prisma.webhookDelivery.create({
        data: {
          ...times,
          tenantId: tenant.id,
          endpointId: endpoint.id,
          eventId,
          eventType: 'ticket.created',
          status,
          workflowId: `webhook:${tenant.id}:${endpoint.id}:${eventId}`,
        },
      });
    const succeeded = await delivery(delivered.id, 'SUCCEEDED');
    const pending = await delivery(stillDelivering.id, 'PENDING');
    await delivery(unpublished.id, 'FAILED');
    await delivery(recent.id, 'SUCCEEDED', { createdAt: new Date(), updatedAt: new Date() });
    await prisma.webhookAttempt.createMany({
      data: [
        { deliveryId: succeeded.id, attemptKey: `${succeeded.id}:1`, startedAt: old, durationMs: 5 },
        { deliveryId: pending.id, attemptKey: `${pending.id}:1`, startedAt: old, durationMs: 5 },
        { deliveryId: pending.id, attemptKey: `${pending.id}:2`, startedAt: new Date(), durationMs: 5 },
      ],
    });

    const result = await client.workflow.execute(dailyCleanupWorkflow, {
      taskQueue: config.temporal.taskQueue,
      workflowId: `cleanup-test-${tenant.id}`,
    });

    const mine = result.perTenant.find((entry) => entry.tenantId === tenant.id);
    expect(mine).toEqual({
      tenantId: tenant.id,
      notificationsDeleted: 3,
      auditLogsDeleted: 1,
      remindersDeleted: 2,
      webhookAttemptsDeleted: 2,
      webhookDeliveriesDeleted: 2,
      eventsDeleted: 1,
    });
    const sorted = (values: string[]) => [...values].sort();
    const notifications = await prisma.notification.findMany({ where: { tenantId: tenant.id } });
    expect(sorted(notifications.map((row) => row.idempotencyKey))).toEqual([
      key('old-pending'),
      key('old-scheduled'),
      key('recent-sent'),
    ]);
    const reminders = await prisma.reminder.findMany({ where: { tenantId: tenant.id } });
    expect(sorted(reminders.map((row) => row.idempotencyKey))).toEqual(['old-active', 'recent-cancelled']);
    const events = await prisma.outboxEvent.findMany({ where: { tenantId: tenant.id } });
    expect(sorted(events.map((row) => row.eventKey))).toEqual(['old-delivering', 'old-unpublished', 'recent']);
    const deliveries = await prisma.webhookDelivery.findMany({ where: { tenantId: tenant.id } });
    expect(sorted(deliveries.map((row) => row.eventId))).toEqual(sorted([stillDelivering.id, recent.id]));
    expect(await prisma.webhookAttempt.findMany({ where: { delivery: { tenantId: tenant.id } } })).toEqual([
      expect.objectContaining({ attemptKey: `${pending.id}:2` }),
    ]);
    expect(await prisma.auditLog.count({ where: { tenantId: tenant.id } })).toBe(1);
  });

  it('the cleanup records every tenant’s failures in the dead-letter inbox, even those nobody listed', async () => {
    const tenant = await createTestTenant(prisma);
    // A notification due tomorrow whose run may last a second: it times out, and nobody opens the inbox.
    const input: NotificationWorkflowInput = {
      tenantId: tenant.id,
      notificationId: randomUUID(),
      priority: 3,
      sendAt: new Date(Date.now() + DAY_MS).toISOString(),
    };
    const timedOut = await client.workflow.start('notificationWorkflow', {
      taskQueue: config.temporal.taskQueue,
      args: [input],
      ...notificationStartOptions(input, new Date()),
      workflowExecutionTimeout: '1 second',
    });
    await expect(timedOut.result()).rejects.toThrow();
    await until(
      async () =>
        (await client.workflow.count(`WorkflowId = "${timedOut.workflowId}" AND ExecutionStatus = "TimedOut"`))
          .count === 1,
    );
    // And a notification that failed for good, in the ledger only.
    const failedNotification = await prisma.notification.create({
      data: {
        tenantId: tenant.id,
        channel: 'EMAIL',
        recipient: 'a@b.test',
        template: 'offer',
        status: 'FAILED',
        lastError: 'ProviderRejected: mailbox unavailable',
        idempotencyKey: `${tenant.id}:failed-for-good`,
        workflowId: `notification:${tenant.id}:failed-for-good`,
      },
    });
    expect(await prisma.deadLetter.count({ where: { tenantId: tenant.id } })).toBe(0);

    const result = await client.workflow.execute(dailyCleanupWorkflow, {
      taskQueue: config.temporal.taskQueue,
      workflowId: `cleanup-test-dead-letters-${tenant.id}`,
    });

    expect(result.deadLetters?.recorded).toBeGreaterThanOrEqual(2);
    const rows = await prisma.deadLetter.findMany({ where: { tenantId: tenant.id }, orderBy: { kind: 'asc' } });
    expect(rows).toEqual([
      expect.objectContaining({
        kind: 'WORKFLOW_TIMED_OUT',
        flow: 'notifications',
        workflowId: timedOut.workflowId,
        runId: timedOut.firstExecutionRunId,
        failureType: 'Timeout',
        resolution: null,
      }),
      expect.objectContaining({
        kind: 'NOTIFICATION_FAILED',
        notificationId: failedNotification.id,
        failureMessage: 'ProviderRejected: mailbox unavailable',
        resolution: null,
      }),
    ]);

    // The next cleanup finds them again, and records nothing twice.
    const again = await client.workflow.execute(dailyCleanupWorkflow, {
      taskQueue: config.temporal.taskQueue,
      workflowId: `cleanup-test-dead-letters-again-${tenant.id}`,
    });
    expect(again.deadLetters?.seenAgain).toBeGreaterThanOrEqual(2);
    expect(await prisma.deadLetter.count({ where: { tenantId: tenant.id } })).toBe(2);
  });

  describe("the platform's Schedules (fixed IDs on the shared server: one test file at a time)", () => {
    let release: () => void = () => undefined;
    beforeAll(async () => {
      release = await holdExclusive('platform-schedules');
    });
    // Left registered, they would run in a later file's time.
    afterAll(async () => {
      await deletePlatformSchedules(client, config.temporal.taskQueue);
      release();
    });

    it('registers the daily cleanup Schedule at 02:00 UTC, and syncing twice converges on one schedule', async () => {
      const logger = testLogger(config);
      await syncSchedules(client, config.temporal.taskQueue, logger);
      await syncSchedules(client, config.temporal.taskQueue, logger);

      const handle = client.schedule.getHandle(dailyCleanupScheduleId);
      const description = await handle.describe();
      // Left registered, it would run in a later file's time.
      await handle.delete();

      expect(description.spec.calendars).toEqual([expect.objectContaining({ hour: [{ start: 2, end: 2, step: 1 }] })]);
      expect(description.action).toMatchObject({ workflowType: 'dailyCleanupWorkflow' });
      expect(description.action.type === 'startWorkflow' && description.action.taskQueue).toBe(
        config.temporal.taskQueue,
      );
    });

    it('registers the outbox sweep Schedule every minute, skipping a run while one is still sweeping', async () => {
      await syncSchedules(client, config.temporal.taskQueue, testLogger(config));
      const handle = client.schedule.getHandle(outboxSweepScheduleId);
      try {
        const description = await handle.describe();

        expect(description.spec.intervals).toEqual([expect.objectContaining({ every: 60_000 })]);
        expect(description.policies.overlap).toBe('SKIP');
        expect(description.action).toMatchObject({ workflowType: 'eventOutboxSweepWorkflow' });
      } finally {
        // Every test file shares the dev server: a sweep left running would start other files' fan-outs here.
        await handle.delete();
      }
    });

    it("a sync leaves a Schedule that matches the code alone, so a worker start keeps an operator's pause", async () => {
      await deletePlatformSchedules(client, config.temporal.taskQueue);
      const logger = testLogger(config);
      await syncSchedules(client, config.temporal.taskQueue, logger);
      // A sweep left running would start other files' fan-outs.
      const sweep = client.schedule.getHandle(outboxSweepScheduleId);
      await sweep.pause('paused by an operator');
      const cleanup = client.schedule.getHandle(dailyCleanupScheduleId);
      await cleanup.pause('paused by an operator');
      const paused = await cleanup.describe();
      const sweepOptions = outboxSweepScheduleOptions(config.temporal.taskQueue);
      const sweepDescription = await sweep.describe();
      expect(scheduleChanges(sweepDescription, sweepOptions)).toEqual([]);
      // A field the code no longer sets is a change too: the update replaces the whole action.
      expect(
        scheduleChanges(sweepDescription, {
          ...sweepOptions,
          action: { ...sweepOptions.action, args: undefined },
        }),
      ).toEqual(['action.args']);
      // The cleanup's description matches its own definition, and not the sweep's in any part.
      expect(holdfastSchedules(config.temporal.taskQueue).map((options) => scheduleChanges(paused, options))).toEqual([
        [],
        [
          'spec',
          'action.workflowType',
          'action.workflowId',
          'action.staticSummary',
          'action.staticDetails',
          'action.args',
          'action.typedSearchAttributes',
          'policies',
        ],
      ]);

      await syncSchedules(client, config.temporal.taskQueue, logger);

      const afterSync = await cleanup.describe();
      expect(afterSync.state).toMatchObject({ paused: true, note: 'paused by an operator' });
      // No update reached it: Temporal stamps every update.
      expect(afterSync.info.lastUpdatedAt).toEqual(paused.info.lastUpdatedAt);
    });

    it('a sync updates a Schedule whose definition changed, only in the parts that differ, and keeps its pause', async () => {
      await deletePlatformSchedules(client, config.temporal.taskQueue);
      const logger = testLogger(config);
      const elsewhere = `${config.temporal.taskQueue}-previous-deploy`;
      await syncSchedules(client, elsewhere, logger);
      // Nobody polls that queue: a sweep it started would stay open.
      await client.schedule.getHandle(outboxSweepScheduleId).pause('paused by an operator');
      const cleanup = client.schedule.getHandle(dailyCleanupScheduleId);
      await cleanup.pause('paused by an operator');
      const cleanupOptions = dailyCleanupScheduleOptions(config.temporal.taskQueue);
      const before = await cleanup.describe();
      expect(scheduleChanges(before, cleanupOptions)).toEqual(['action.taskQueue']);
      expect(
        scheduleChanges(before, { ...cleanupOptions, action: { ...cleanupOptions.action, taskQueue: elsewhere } }),
      ).toEqual([]);
      expect(
        scheduleChanges(before, {
          ...cleanupOptions,
          action: { ...cleanupOptions.action, taskQueue: elsewhere },
          spec: { calendars: [{ hour: 3, minute: 0, comment: 'daily at 02:00 UTC' }] },
          policies: { ...cleanupOptions.policies, catchupWindow: '2 hours' },
        }),
      ).toEqual(['spec', 'policies']);

      await syncSchedules(client, config.temporal.taskQueue, logger);

      const after = await cleanup.describe();
      expect(after.action).toMatchObject({ taskQueue: config.temporal.taskQueue });
      expect(after.state).toMatchObject({ paused: true, note: 'paused by an operator' });
      expect(scheduleChanges(after, cleanupOptions)).toEqual([]);
    });
  });
});
