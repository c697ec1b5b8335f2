import { activityInfo, heartbeat } from '@temporalio/activity';
import type { PrismaClient } from '../lib/db';

export interface RetentionTarget {
  tenantId: string;
  retentionDays: number;
}

export interface PurgeInput extends RetentionTarget {
  /** The run's reference time (ISO); rows older than it minus the retention are deleted. */
  asOf: string;
  batchSize?: number;
}

export interface PurgeResult {
  tenantId: string;
  notificationsDeleted: number;
  auditLogsDeleted: number;
}

const DEFAULT_BATCH_SIZE = 500;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Retention activities for the daily cleanup.
 *
 * `purgeExpiredRecords` deletes in batches and heartbeats its running totals, so a retry
 * after a worker crash resumes the count instead of starting a huge delete again.
 */
export function createCleanupActivities({ prisma }: { prisma: PrismaClient }) {
  async function deleteBatch(model: 'notification' | 'auditLog', tenantId: string, before: Date, size: number) {
    const where = model === 'notification' ? { tenantId, createdAt: { lt: before } } : { tenantId, at: { lt: before } };
    const ids =
      model === 'notification'
        ? await prisma.notification.findMany({ where, select: { id: true }, take: size })
        : await prisma.auditLog.findMany({ where, select: { id: true }, take: size });
    if (ids.length === 0) return 0;
    const idFilter = { id: { in: ids.map((row) => row.id) } };
    const { count } =
      model === 'notification'
        ? await prisma.notification.deleteMany({ where: idFilter })
        : await prisma.auditLog.deleteMany({ where: idFilter });
    return count;
  }

  return {
    async listRetentionTargets(): Promise<RetentionTarget[]> {
      const tenants = await prisma.tenant.findMany({
        select: { id: true, retentionDays: true },
        orderBy: { id: 'asc' },
      });
      return tenants.map((tenant) => ({ tenantId: tenant.id, retentionDays: tenant.retentionDays }));
    },

    async purgeExpiredRecords(input: PurgeInput): Promise<PurgeResult> {
      const before = new Date(new Date(input.asOf).getTime() - input.retentionDays * DAY_MS);
      const batchSize = input.batchSize ?? DEFAULT_BATCH_SIZE;
      const resumed = activityInfo().heartbeatDetails as PurgeResult | undefined;
      const totals: PurgeResult = resumed ?? { tenantId: input.tenantId, notificationsDeleted: 0, auditLogsDeleted: 0 };

      for (const model of ['notification', 'auditLog'] as const) {
        for (;;) {
          const deleted = await deleteBatch(model, input.tenantId, before, batchSize);
          if (model === 'notification') totals.notificationsDeleted += deleted;
          else totals.auditLogsDeleted += deleted;
          heartbeat(totals);
          if (deleted < batchSize) break;
        }
      }
      return totals;
    },
  };
}
