import { activityInfo, heartbeat } from '@temporalio/activity';
import { exportFileKey, exportFormats, type ExportFormat } from '../domain/exports';
import { Prisma, type PrismaClient } from '../lib/db';
import type { FileStore, WriterCheckpoint } from '../lib/file-store';
import { emptyPurgeResult, type ExpiredFiles, type PurgeCounts, type PurgeResult } from '../workflows/cleanup.contract';

export interface RetentionTarget {
  tenantId: string;
  retentionDays: number;
}

export interface PurgeInput extends RetentionTarget {
  /** The run's reference time (ISO); rows older than it minus the retention are deleted. */
  asOf: string;
  batchSize?: number;
}

const DEFAULT_BATCH_SIZE = 500;
const DAY_MS = 24 * 60 * 60 * 1000;

/** One kind of row the retention purges: how to find a batch of expired IDs, and delete them. */
interface PurgeKind {
  counter: keyof PurgeCounts;
  expiredIds(tenantId: string, before: Date, size: number): Promise<{ id: string }[]>;
  deleteIds(ids: string[]): Promise<{ count: number }>;
}

/**
 * Retention activities for the daily cleanup.
 *
 * `purgeExpiredRecords` deletes in batches and heartbeats its running totals, so a retry
 * after a worker crash resumes the count instead of starting a huge delete again.
 */
export function createCleanupActivities({ prisma, files }: { prisma: PrismaClient; files?: FileStore }) {
  const select = { id: true } as const;
  // Only what has finished: a notification still waiting for its sendAt, an active reminder, a
  // delivery still being retried or an event whose deliveries still run keep their rows however old.
  // Attempts go first and events last, so nothing is left to cascade that was not counted.
  const kinds: PurgeKind[] = [
    {
      counter: 'webhookAttemptsDeleted',
      expiredIds: (tenantId, before, take) =>
        prisma.webhookAttempt.findMany({ where: { delivery: { tenantId }, startedAt: { lt: before } }, select, take }),
      deleteIds: (ids) => prisma.webhookAttempt.deleteMany({ where: { id: { in: ids } } }),
    },
    {
      counter: 'webhookDeliveriesDeleted',
      expiredIds: (tenantId, before, take) =>
        prisma.webhookDelivery.findMany({
          where: { tenantId, status: { not: 'PENDING' }, createdAt: { lt: before }, updatedAt: { lt: before } },
          select,
          take,
        }),
      deleteIds: (ids) => prisma.webhookDelivery.deleteMany({ where: { id: { in: ids }, status: { not: 'PENDING' } } }),
    },
    {
      counter: 'eventsDeleted',
      expiredIds: (tenantId, before, take) =>
        prisma.outboxEvent.findMany({
          where: {
            tenantId,
            createdAt: { lt: before },
            publishedAt: { not: null, lt: before },
            webhookDeliveries: { none: { status: 'PENDING' } },
          },
          select,
          take,
        }),
      deleteIds: (ids) =>
        prisma.outboxEvent.deleteMany({
          where: { id: { in: ids }, webhookDeliveries: { none: { status: 'PENDING' } } },
        }),
    },
    {
      counter: 'remindersDeleted',
      expiredIds: (tenantId, before, take) =>
        prisma.reminder.findMany({
          where: { tenantId, status: { not: 'ACTIVE' }, createdAt: { lt: before }, updatedAt: { lt: before } },
          select,
          take,
        }),
      deleteIds: (ids) => prisma.reminder.deleteMany({ where: { id: { in: ids }, status: { not: 'ACTIVE' } } }),
    },
    {
      counter: 'notificationsDeleted',
      expiredIds: (tenantId, before, take) =>
        prisma.notification.findMany({
          where: {
            tenantId,
            status: { in: ['SENT', 'FAILED', 'CANCELLED'] },
            createdAt: { lt: before },
            updatedAt: { lt: before },
          },
          select,
          take,
        }),
      // The status again: a retry may have reopened a FAILED row between the read and the delete.
      deleteIds: (ids) =>
        prisma.notification.deleteMany({ where: { id: { in: ids }, status: { in: ['SENT', 'FAILED', 'CANCELLED'] } } }),
    },
    {
      counter: 'auditLogsDeleted',
      expiredIds: (tenantId, before, take) =>
        prisma.auditLog.findMany({ where: { tenantId, at: { lt: before } }, select, take }),
      deleteIds: (ids) => prisma.auditLog.deleteMany({ where: { id: { in: ids } } }),
    },
  ];

  return {
    async listRetentionTargets(): Promise<RetentionTarget[]> {
      const tenants = await prisma.tenant.findMany({
        select: { id: true, retentionDays: true },
        orderBy: { id: 'asc' },
      });
      return tenants.map((tenant) => ({ tenantId: tenant.id, retentionDays: tenant.retentionDays }));
    },

    /**
     * Deletes one tenant's rows past its retention: finished notifications, closed reminders,
     * webhook attempts, finished webhook deliveries, published events whose deliveries have all
     * finished, and audit rows.
     */
    async purgeExpiredRecords(input: PurgeInput): Promise<PurgeResult> {
      const before = new Date(new Date(input.asOf).getTime() - input.retentionDays * DAY_MS);
      const batchSize = input.batchSize ?? DEFAULT_BATCH_SIZE;
      const resumed = activityInfo().heartbeatDetails as Partial<PurgeResult> | undefined;
      const totals: PurgeResult = { ...emptyPurgeResult(input.tenantId), ...resumed };

      for (const kind of kinds) {
        for (;;) {
          const ids = await kind.expiredIds(input.tenantId, before, batchSize);
          const { count } = ids.length === 0 ? { count: 0 } : await kind.deleteIds(ids.map((row) => row.id));
          totals[kind.counter] += count;
          heartbeat(totals);
          if (ids.length < batchSize) break;
        }
      }
      return totals;
    },

    /**
     * Removes the files of reports and exports whose retention ran out by `asOf` and marks their
     * rows EXPIRED, in batches, heartbeating the running counts. A file already gone is not an
     * error; the row is marked only after its file is removed, so a crash leaves it for the next run.
     */
    async expireFiles(input: { asOf: string; batchSize?: number }): Promise<ExpiredFiles> {
      const asOf = new Date(input.asOf);
      const take = input.batchSize ?? DEFAULT_BATCH_SIZE;
      const totals: ExpiredFiles = {
        reportsExpired: 0,
        exportsExpired: 0,
        ...(activityInfo().heartbeatDetails as Partial<ExpiredFiles> | undefined),
      };
      if (!files) return totals;
      const expiring = { status: 'COMPLETED' as const, expiresAt: { lte: asOf } };
      const select = { id: true, fileKey: true } as const;
      const kinds = [
        {
          counter: 'reportsExpired' as const,
          next: () => prisma.report.findMany({ where: expiring, select, take, orderBy: { id: 'asc' } }),
          mark: (ids: string[]) =>
            prisma.report.updateMany({ where: { id: { in: ids }, ...expiring }, data: { status: 'EXPIRED' } }),
        },
        {
          counter: 'exportsExpired' as const,
          next: () => prisma.export.findMany({ where: expiring, select, take, orderBy: { id: 'asc' } }),
          mark: (ids: string[]) =>
            prisma.export.updateMany({ where: { id: { in: ids }, ...expiring }, data: { status: 'EXPIRED' } }),
        },
      ];
      for (const kind of kinds) {
        for (;;) {
          const rows = await kind.next();
          for (const row of rows) if (row.fileKey) await files.remove(row.fileKey);
          const { count } = rows.length === 0 ? { count: 0 } : await kind.mark(rows.map((row) => row.id));
          totals[kind.counter] += count;
          heartbeat(totals);
          if (rows.length < take) break;
        }
      }
      // Exports that failed or were cancelled: their workflow removed the partial file and any
      // unfinished upload, but one it could not reach (a crash, a late attempt) is removed here,
      // once; clearing the checkpoint marks the row swept.
      const unfinished = {
        status: { in: ['FAILED' as const, 'CANCELLED' as const] },
        completedAt: { lte: asOf },
        checkpoint: { not: Prisma.DbNull },
      };
      totals.exportLeftoversRemoved ??= 0;
      for (;;) {
        const rows = await prisma.export.findMany({
          where: unfinished,
          select: { id: true, tenantId: true, format: true, checkpoint: true },
          take,
          orderBy: { id: 'asc' },
        });
        for (const row of rows) {
          if (!(exportFormats as readonly string[]).includes(row.format)) continue;
          const writer = (row.checkpoint as { writer?: WriterCheckpoint } | null)?.writer;
          await files.remove(exportFileKey(row.tenantId, row.id, row.format as ExportFormat), writer);
        }
        if (rows.length > 0) {
          const { count } = await prisma.export.updateMany({
            where: { id: { in: rows.map((row) => row.id) }, ...unfinished },
            data: { checkpoint: Prisma.DbNull },
          });
          totals.exportLeftoversRemoved += count;
        }
        heartbeat(totals);
        if (rows.length < take) break;
      }
      return totals;
    },
  };
}
