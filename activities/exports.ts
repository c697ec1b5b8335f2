import { Context, log } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  contentTypeOf,
  exportEntities,
  exportFileKey,
  exportFormats,
  formatRow,
  inFileOrder,
  sectionStart,
  type ExportEntity,
  type ExportFilters,
  type ExportFormat,
} from '../domain/exports';
import type { Prisma, PrismaClient } from '../lib/db';
import type { FileStore, FileWriter, WriterCheckpoint } from '../lib/file-store';
import { tenantFairnessLookup, type TenantFairnessLookup } from '../lib/tenant-fairness';
import type { exportLaneWorkflow } from '../workflows/export-lane';
import { exportLaneStartOptions, requestSlotSignal } from '../workflows/export-lane.contract';
import {
  ExportFailure,
  exportProgressSignal,
  exportWorkflowId,
  type ExportProgressReport,
  type WrittenExport,
} from '../workflows/export.contract';
import { FailureType } from '../workflows/errors';
import { countExportRows, readExportPage } from './export-rows';
import { countExportedRows } from './metrics';
import type { FileJobSettings } from './index';

/**
 * Exports' activities: asking the tenant's lane for a slot, writing the file (the heavy one, on
 * the exports task queue), and settling a row that failed or was cancelled.
 */

export interface ExportActivityDeps {
  prisma: PrismaClient;
  files?: FileStore;
  fileJobs?: FileJobSettings;
  temporal?: { client: Client; taskQueue: string; fairnessOf?: TenantFairnessLookup };
  now?: () => Date;
}

/** Where the writer stands: the heartbeat details a retry resumes from. JSON only. */
export interface ExportCheckpoint {
  /** Index into the export's entities in file order. */
  entityIndex: number;
  /** The last row written of that entity (keyset), or null when none yet. */
  lastKey: string | null;
  /** Whether that entity's section start (its CSV header) is written. */
  sectionStarted: boolean;
  rowsWritten: number;
  bytes: number;
  /** The file writer's own checkpoint. */
  writer: WriterCheckpoint;
}

/** How often the writing activity tells its workflow how far it is. */
const PROGRESS_SIGNAL_INTERVAL_MS = 5_000;

const exportRef = (input: { tenantId: string; exportId: string }) => ({ id: input.exportId, tenantId: input.tenantId });

/** The export's file description as the row stores it, checked: a row no code path wrote is a data error. */
function describedExport(row: { entities: string[]; format: string; filters: Prisma.JsonValue | null }) {
  const unknown = row.entities.filter((entity) => !(exportEntities as readonly string[]).includes(entity));
  if (unknown.length > 0 || row.entities.length === 0 || !(exportFormats as readonly string[]).includes(row.format)) {
    throw ApplicationFailure.nonRetryable(
      `The export names entities or a format Holdfast cannot write (${row.format}; ${row.entities.length} entities)`,
      ExportFailure.InvalidExport,
    );
  }
  return {
    entities: inFileOrder(row.entities as ExportEntity[]),
    format: row.format as ExportFormat,
    filters: (row.filters ?? {}) as ExportFilters,
  };
}

/** @see {@link createExportActivities} */
export function createExportActivities(deps: ExportActivityDeps) {
  const { prisma } = deps;
  const now = deps.now ?? (() => new Date());

  const requireFiles = (): FileStore => {
    if (!deps.files) {
      throw ApplicationFailure.nonRetryable('No file store is configured', ExportFailure.FileStoreNotConfigured);
    }
    return deps.files;
  };
  const requireSettings = (): FileJobSettings => {
    if (!deps.fileJobs) {
      throw ApplicationFailure.nonRetryable(
        'File-job settings are not configured',
        ExportFailure.FileStoreNotConfigured,
      );
    }
    return deps.fileJobs;
  };
  const findExport = async (input: { tenantId: string; exportId: string }) => {
    const row = await prisma.export.findFirst({ where: exportRef(input) });
    if (!row)
      throw ApplicationFailure.nonRetryable(`Export ${input.exportId} of the tenant is gone`, FailureType.NotFound);
    return row;
  };

  /** Tells the export workflow how far the file is; progress is also on the row, so a lost signal costs nothing. */
  const reportProgress = async (workflowId: string, report: ExportProgressReport) => {
    if (!deps.temporal) return;
    try {
      await deps.temporal.client.workflow.getHandle(workflowId).signal(exportProgressSignal, report);
    } catch (error) {
      log.warn('export progress not signalled', { workflowId, error: (error as Error).message });
    }
  };

  return {
    /**
     * Asks the tenant's export lane for a slot, starting the lane if it is not running
     * (`signalWithStart`). The lane answers later with `slotGranted`. The cap is the tenant's plan's
     * now, so an upgrade takes effect at the next request. Asking twice is harmless.
     *
     * @throws ApplicationFailure NotFound (non-retryable) when the tenant is gone.
     */
    async requestExportSlot(input: { tenantId: string; exportId: string }): Promise<{ cap: number }> {
      const settings = requireSettings();
      if (!deps.temporal) {
        throw ApplicationFailure.nonRetryable(
          'No Temporal client for the export lane',
          FailureType.ChannelNotConfigured,
        );
      }
      const tenant = await prisma.tenant.findUnique({ where: { id: input.tenantId }, select: { tier: true } });
      if (!tenant) throw ApplicationFailure.nonRetryable(`Tenant ${input.tenantId} is gone`, FailureType.NotFound);
      const cap = settings.exportsPerTenant[tenant.tier] ?? 1;
      // The lane runs at the tenant's share, with the weights FAIRNESS_WEIGHTS configures.
      const fairness = await (deps.temporal.fairnessOf ?? tenantFairnessLookup(prisma))(input.tenantId);
      await deps.temporal.client.workflow.signalWithStart<
        typeof exportLaneWorkflow,
        [{ workflowId: string; cap: number }]
      >('exportLaneWorkflow', {
        ...exportLaneStartOptions(input.tenantId, fairness.tier, fairness.weights),
        taskQueue: deps.temporal.taskQueue,
        args: [{ tenantId: input.tenantId }],
        signal: requestSlotSignal,
        signalArgs: [{ workflowId: exportWorkflowId(input.tenantId, input.exportId), cap }],
      });
      return { cap };
    },

    /**
     * Which of the lane's holders are no longer running (terminated, timed out, reset, or gone):
     * their slots are the lane's to take back. An export that runs is left alone.
     */
    async closedExports(input: { workflowIds: string[] }): Promise<string[]> {
      if (!deps.temporal) {
        throw ApplicationFailure.nonRetryable(
          'No Temporal client for the export lane',
          FailureType.ChannelNotConfigured,
        );
      }
      const client = deps.temporal.client;
      const closed: string[] = [];
      for (const workflowId of input.workflowIds) {
        try {
          const { status } = await client.workflow.getHandle(workflowId).describe();
          if (status.name !== 'RUNNING') closed.push(workflowId);
        } catch (error) {
          if (!(error instanceof WorkflowNotFoundError)) throw error;
          closed.push(workflowId);
        }
      }
      return closed;
    },

    /**
     * Writes the export's file: counts the rows, then streams each entity's rows by keyset pages
     * into a file-store writer. After every page the writer checkpoints; each checkpoint it
     * returns is heartbeated (`ExportCheckpoint`), stored on the row with the progress, and logged
     * (`export checkpoint`, counts only). A retry after a lost worker reopens the writer at the
     * last heartbeated checkpoint and continues after its last key, so the file comes out
     * byte-identical. Memory holds one page at a time. Finishing marks the row COMPLETED with the
     * file's key, size, SHA-256 and expiry.
     *
     * Cancellation (delivered by heartbeats): a cancel the workflow asked for aborts the writer,
     * removing the partial file, and rethrows; a worker shutting down or a timeout keeps the
     * partial file for the retry.
     *
     * @throws ApplicationFailure InvalidExport / NotFound / FileStoreNotConfigured (non-retryable).
     */
    async writeExport(input: { tenantId: string; exportId: string }): Promise<WrittenExport> {
      const ctx = Context.current();
      const files = requireFiles();
      const settings = requireSettings();
      const row = await findExport(input);
      const { entities, format, filters } = describedExport(row);
      const fileKey = exportFileKey(input.tenantId, input.exportId, format);
      const contentType = contentTypeOf(format);
      if (row.status === 'COMPLETED' && row.sha256 && row.fileBytes !== null) {
        // A retry after the row was completed but before the activity's result reached the server.
        return {
          fileKey,
          rows: row.rowsDone,
          bytes: Number(row.fileBytes),
          sha256: row.sha256,
          contentType,
          entities,
          format,
        };
      }

      // Counted before a writer is open, so an outage here leaves no file handle behind.
      const counts = await Promise.all(
        entities.map((entity) => countExportRows(prisma, input.tenantId, entity, filters)),
      );
      const rowsTotal = counts.reduce((sum, count) => sum + count, 0);

      const ids = { exportId: input.exportId, tenantId: input.tenantId };
      const saved = ctx.info.heartbeatDetails as ExportCheckpoint | undefined;
      let position = { entityIndex: 0, lastKey: null as string | null, sectionStarted: false, rowsWritten: 0 };
      let writer: FileWriter;
      let resumed = false;
      const attempt = { attempt: ctx.info.attempt };
      if (saved?.writer) {
        try {
          writer = await files.openWriter(fileKey, saved.writer, attempt);
          position = {
            entityIndex: saved.entityIndex,
            lastKey: saved.lastKey,
            sectionStarted: saved.sectionStarted,
            rowsWritten: saved.rowsWritten,
          };
          resumed = true;
          log.info('export resumed from checkpoint', { ...ids, rowsWritten: saved.rowsWritten, bytes: saved.bytes });
        } catch (error) {
          // The partial file is gone (or shorter than the checkpoint): the only correct file is a new one.
          log.warn('export checkpoint unusable; writing the file again', { ...ids, error: (error as Error).message });
          await files.remove(fileKey, saved.writer).catch(() => undefined);
          writer = await files.openWriter(fileKey, undefined, attempt);
        }
      } else {
        // An earlier attempt that crashed before its first checkpoint left only what the row names.
        const left = (row.checkpoint as { writer?: WriterCheckpoint } | null)?.writer;
        if (left) await files.remove(fileKey, left);
        writer = await files.openWriter(fileKey, undefined, attempt);
      }

      let lastCheckpoint: ExportCheckpoint | undefined = resumed ? saved : undefined;
      const startedAt = row.startedAt ?? now();
      await prisma.export.update({
        where: { id: input.exportId },
        data: {
          status: 'RUNNING',
          startedAt,
          rowsTotal,
          ...(resumed ? { resumes: { increment: 1 } } : {}),
          // Names the upload or partial file from now on, so a crash before the first checkpoint leaks nothing.
          checkpoint: (lastCheckpoint ?? { writer: writer.unfinished() }) as unknown as Prisma.InputJsonObject,
        },
      });

      const workflowId = ctx.info.workflowExecution?.workflowId ?? exportWorkflowId(input.tenantId, input.exportId);
      let lastSignalAt = 0;
      const attemptStart = Date.now();
      const rowsAtAttemptStart = position.rowsWritten;
      try {
        while (position.entityIndex < entities.length) {
          const entity = entities[position.entityIndex]!;
          if (!position.sectionStarted) {
            await writer.write(sectionStart(format, entity, position.entityIndex === 0));
            position.sectionStarted = true;
          }
          const page = await readExportPage(
            prisma,
            input.tenantId,
            entity,
            filters,
            position.lastKey,
            settings.exportPageSize,
          );
          if (page.length > 0) {
            await writer.write(page.map((record) => formatRow(format, entity, record)).join(''));
            position.lastKey = String(page[page.length - 1]!.id);
            position.rowsWritten += page.length;
          }
          if (page.length < settings.exportPageSize) {
            position = { ...position, entityIndex: position.entityIndex + 1, lastKey: null, sectionStarted: false };
          }

          const checkpoint = await writer.checkpoint();
          if (checkpoint) {
            lastCheckpoint = { ...position, bytes: checkpoint.bytes, writer: checkpoint };
            ctx.heartbeat(lastCheckpoint);
            await prisma.export.update({
              where: { id: input.exportId },
              data: {
                rowsDone: position.rowsWritten,
                bytesDone: BigInt(checkpoint.bytes),
                checkpoint: {
                  entity: entities[Math.min(position.entityIndex, entities.length - 1)]!,
                  ...lastCheckpoint,
                } as unknown as Prisma.InputJsonObject,
              },
            });
            log.info('export checkpoint', { ...ids, rowsWritten: position.rowsWritten, bytes: checkpoint.bytes });
          } else {
            // Keeps the activity alive and lets cancellation in, without losing the last durable checkpoint.
            ctx.heartbeat(lastCheckpoint);
          }

          if (Date.now() - lastSignalAt >= PROGRESS_SIGNAL_INTERVAL_MS) {
            lastSignalAt = Date.now();
            const rate = (position.rowsWritten - rowsAtAttemptStart) / Math.max(1, Date.now() - attemptStart);
            await reportProgress(workflowId, {
              rowsDone: position.rowsWritten,
              rowsTotal,
              bytes: lastCheckpoint?.bytes ?? 0,
              etaSeconds: rate > 0 ? Math.ceil((rowsTotal - position.rowsWritten) / rate / 1000) : null,
            });
          }
          if (ctx.cancellationSignal.aborted) await ctx.cancelled;
        }
      } catch (error) {
        if (ctx.cancellationDetails?.cancelRequested) {
          await writer.abort();
          log.info('export cancelled; partial file removed', { ...ids, rowsWritten: position.rowsWritten });
        } else {
          // An outage or a timeout: the next attempt resumes from the checkpoint, so the file stays.
          await writer.release().catch(() => undefined);
        }
        throw error;
      }

      const { bytes, sha256 } = await writer.finish();
      const completedAt = now();
      await prisma.export.update({
        where: { id: input.exportId },
        data: {
          status: 'COMPLETED',
          fileKey,
          fileBytes: BigInt(bytes),
          bytesDone: BigInt(bytes),
          sha256,
          contentType,
          rowsDone: position.rowsWritten,
          completedAt,
          expiresAt: new Date(completedAt.getTime() + settings.retentionMs),
          error: null,
        },
      });
      // The worker process's peak memory so far: operators see that a large export did not raise it.
      const peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
      log.info('export written', { ...ids, rows: position.rowsWritten, bytes, resumed, peakRssMiB });
      countExportedRows(position.rowsWritten, format);
      return { fileKey, rows: position.rowsWritten, bytes, sha256, contentType, entities, format };
    },

    /**
     * Ends an export that will not complete: FAILED with the reason, or CANCELLED, either way with
     * its partial file (and any unfinished upload the row's checkpoint names) removed. A COMPLETED
     * row is left as it is, and settling twice changes nothing.
     */
    async settleExport(input: {
      tenantId: string;
      exportId: string;
      status: 'FAILED' | 'CANCELLED';
      error?: string;
    }): Promise<{ status: string }> {
      const row = await prisma.export.findFirst({ where: exportRef(input) });
      if (!row) return { status: 'GONE' };
      if (row.status === 'COMPLETED' || row.status === 'EXPIRED') return { status: row.status };
      if (deps.files && (exportFormats as readonly string[]).includes(row.format)) {
        const checkpoint = row.checkpoint as { writer?: WriterCheckpoint } | null;
        await deps.files.remove(
          exportFileKey(input.tenantId, input.exportId, row.format as ExportFormat),
          checkpoint?.writer,
        );
      }
      await prisma.export.updateMany({
        where: { ...exportRef(input), status: { in: ['QUEUED', 'RUNNING'] } },
        data: {
          status: input.status,
          completedAt: now(),
          ...(input.error ? { error: input.error.slice(0, 1000) } : {}),
        },
      });
      return { status: input.status };
    },
  };
}

export type ExportActivities = ReturnType<typeof createExportActivities>;
