import type { Client } from '@temporalio/client';
import type { Config } from '../../lib/config';
import type { PrismaClient } from '../../lib/db';
import { syncSchedules } from '../../workers/schedules';
import { dailyCleanupWorkflow } from '../../workflows';
import { dailyCleanupScheduleId } from '../../workflows/ids';
import { useApiStack } from '../support/api-stack';
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

  it('a real worker runs the cleanup workflow, which deletes expired rows in PostgreSQL through an activity', async () => {
    const tenant = await createTestTenant(prisma, { retentionDays: 30 });
    const old = new Date(Date.now() - 40 * DAY_MS);
    const base = { tenantId: tenant.id, channel: 'EMAIL' as const, recipient: 'a@b.test', template: 'offer' };
    await prisma.notification.createMany({
      data: [
        { ...base, idempotencyKey: `${tenant.id}:old-1`, createdAt: old },
        { ...base, idempotencyKey: `${tenant.id}:old-2`, createdAt: old },
        { ...base, idempotencyKey: `${tenant.id}:recent` },
      ],
    });
    await prisma.auditLog.createMany({
      data: [
        { tenantId: tenant.id, actor: 't', action: 'old', entityType: 'Slot', entityId: 's', at: old },
        { tenantId: tenant.id, actor: 't', action: 'recent', entityType: 'Slot', entityId: 's' },
      ],
    });

    const result = await client.workflow.execute(dailyCleanupWorkflow, {
      taskQueue: config.temporal.taskQueue,
      workflowId: `cleanup-test-${tenant.id}`,
    });

    const mine = result.perTenant.find((entry) => entry.tenantId === tenant.id);
    expect(mine).toEqual({ tenantId: tenant.id, notificationsDeleted: 2, auditLogsDeleted: 1 });
    expect(await prisma.notification.findMany({ where: { tenantId: tenant.id } })).toEqual([
      expect.objectContaining({ idempotencyKey: `${tenant.id}:recent` }),
    ]);
    expect(await prisma.auditLog.count({ where: { tenantId: tenant.id } })).toBe(1);
  });

  it('registers the daily cleanup Schedule at 02:00 UTC, and syncing twice converges on one schedule', async () => {
    const logger = testLogger(config);
    await syncSchedules(client, config.temporal.taskQueue, logger);
    await syncSchedules(client, config.temporal.taskQueue, logger);

    const description = await client.schedule.getHandle(dailyCleanupScheduleId).describe();

    expect(description.spec.calendars).toEqual([expect.objectContaining({ hour: [{ start: 2, end: 2, step: 1 }] })]);
    expect(description.action).toMatchObject({ workflowType: 'dailyCleanupWorkflow' });
    expect(description.action.type === 'startWorkflow' && description.action.taskQueue).toBe(config.temporal.taskQueue);
  });
});
