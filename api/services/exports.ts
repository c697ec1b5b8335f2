import { createHash, randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { canonicalJson } from '../../domain/canonical-json';
import {
  exportProgress,
  inFileOrder,
  type ExportEntity,
  type ExportFilters,
  type ExportFormat,
} from '../../domain/exports';
import type { FairnessWeights } from '../../domain/tenant-fairness';
import type { FileJobStatus } from '../../generated/prisma/enums';
import type { PrismaClient } from '../../lib/db';
import { loadTenantFairness } from '../../lib/tenant-fairness';
import { exportLaneId, exportLaneStateQuery, placeInLine } from '../../workflows/export-lane.contract';
import type { exportWorkflow } from '../../workflows/export';
import { exportStartOptions, exportWorkflowId, type ExportWorkflowInput } from '../../workflows/export.contract';
import { notFound } from '../errors';
import { assertFlowAccepting } from './flow-pauses';
import {
  cancelFileJob,
  checkFileReady,
  fileLink,
  presentFile,
  rowForIdempotencyKey,
  shownStatus,
  startOrJoin,
  type DownloadLinkSettings,
} from './file-jobs';

/** What the export services use. */
export interface ExportServiceDeps {
  prisma: PrismaClient;
  temporal: Client;
  taskQueue: string;
  /** Each plan's weight on shared task queues (config.worker.fairnessWeights). */
  fairnessWeights: FairnessWeights;
}

export interface ExportCaller {
  tenantId: string;
  actor: string;
}

export interface ExportRequest {
  entities: ExportEntity[];
  format: ExportFormat;
  filters: ExportFilters;
  notifyEmail?: string;
}

type ExportRow = Awaited<ReturnType<PrismaClient['export']['findFirstOrThrow']>>;

/** An export as the API shows it: what was asked, how far it is, how often it resumed, and its file. */
export function presentExport(row: ExportRow, now = new Date(), extra: { placeInLine?: number | null } = {}) {
  const finished = row.status === 'COMPLETED' || row.status === 'EXPIRED';
  const progress = exportProgress(
    row.rowsDone,
    row.rowsTotal,
    Number(row.bytesDone),
    row.status === 'RUNNING' ? row.startedAt : null,
    now,
  );
  return {
    id: row.id,
    entities: row.entities,
    format: row.format,
    filters: row.filters,
    notifyEmail: row.notifyEmail,
    status: shownStatus(row, now),
    ...(row.status === 'QUEUED' ? { placeInLine: extra.placeInLine ?? null } : {}),
    progress: finished ? { ...progress, percent: 100, etaSeconds: 0 } : progress,
    resumes: row.resumes,
    file: presentFile('export', row, now),
    error: row.error,
    workflowId: row.workflowId,
    requestedBy: row.requestedBy,
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    completedAt: row.completedAt,
  };
}

/** A stable fingerprint of what was asked, so a reused Idempotency-Key with another body is caught. */
function requestHash(request: ExportRequest): string {
  return createHash('sha256')
    .update(
      canonicalJson({ ...request, entities: inFileOrder(request.entities), notifyEmail: request.notifyEmail ?? null }),
    )
    .digest('hex');
}

/** Starts (or joins) the export's workflow; a run that has already closed is left as it ended. */
async function startExportWorkflow(deps: ExportServiceDeps, tenantId: string, exportId: string) {
  const { tier, weights } = await loadTenantFairness(deps.prisma, tenantId, deps.fairnessWeights);
  const input: ExportWorkflowInput = { tenantId, exportId, tier };
  await startOrJoin(() =>
    deps.temporal.workflow.start<typeof exportWorkflow>('exportWorkflow', {
      taskQueue: deps.taskQueue,
      args: [input],
      ...exportStartOptions(input, weights),
    }),
  );
}

/**
 * Records an export request (QUEUED) and starts its workflow, once per Idempotency-Key: a repeat
 * with the same body answers the same export (`created: false`).
 *
 * @throws 422 IDEMPOTENCY_KEY_REUSED for a known key with another body.
 */
export async function requestExport(
  deps: ExportServiceDeps,
  { tenantId, actor, idempotencyKey }: ExportCaller & { idempotencyKey: string },
  request: ExportRequest,
) {
  const { prisma } = deps;
  await assertFlowAccepting(prisma, tenantId, 'exports');
  const hash = requestHash(request);
  const { row, created } = await rowForIdempotencyKey(
    'export',
    hash,
    () => prisma.export.findUnique({ where: { tenantId_idempotencyKey: { tenantId, idempotencyKey } } }),
    () => {
      const id = randomUUID();
      return prisma.export.create({
        data: {
          id,
          tenantId,
          entities: inFileOrder(request.entities),
          format: request.format,
          filters: { ...request.filters },
          notifyEmail: request.notifyEmail ?? null,
          workflowId: exportWorkflowId(tenantId, id),
          idempotencyKey,
          requestHash: hash,
          requestedBy: actor,
        },
      });
    },
  );
  // Started on every repeat too: a request whose start failed after its row was written is completed by its retry.
  await startExportWorkflow(deps, tenantId, row.id);
  return { exportId: row.id, workflowId: row.workflowId, created };
}

export async function findExport(prisma: PrismaClient, tenantId: string, exportId: string) {
  const row = await prisma.export.findFirst({ where: { id: exportId, tenantId } });
  if (!row) throw notFound('Export', { exportId });
  return row;
}

/** How long GET /exports/:id waits for the lane to say the place in line before answering without it. */
const PLACE_IN_LINE_DEADLINE_MS = 2_000;

/** The export's place in its tenant's line while QUEUED, from the lane; null when the lane cannot say in time. */
async function placeOf(temporal: Client, row: ExportRow): Promise<number | null> {
  if (row.status !== 'QUEUED') return null;
  try {
    const lane = await temporal.withDeadline(Date.now() + PLACE_IN_LINE_DEADLINE_MS, () =>
      temporal.workflow.getHandle(exportLaneId(row.tenantId)).query(exportLaneStateQuery),
    );
    return placeInLine(lane, row.workflowId);
  } catch {
    // No lane yet (the workflow has not asked), or it is busy or has no worker: the status alone says QUEUED.
    return null;
  }
}

export async function getExport(
  deps: Pick<ExportServiceDeps, 'prisma' | 'temporal'>,
  tenantId: string,
  exportId: string,
) {
  const row = await findExport(deps.prisma, tenantId, exportId);
  return presentExport(row, new Date(), { placeInLine: await placeOf(deps.temporal, row) });
}

export interface ExportListFilter {
  status?: FileJobStatus;
  limit: number;
  offset: number;
}

/** A page of the tenant's exports, newest first, with how many match in all. */
export async function listExports(prisma: PrismaClient, tenantId: string, filter: ExportListFilter) {
  const { status, limit, offset } = filter;
  const where = { tenantId, ...(status ? { status } : {}) };
  const [rows, total] = await Promise.all([
    prisma.export.findMany({ where, orderBy: [{ createdAt: 'desc' }, { id: 'asc' }], take: limit, skip: offset }),
    prisma.export.count({ where }),
  ]);
  const now = new Date();
  return { exports: rows.map((row) => presentExport(row, now)), total, limit, offset };
}

/**
 * Asks the export's workflow to stop: it cancels the writer, removes the partial file, marks the
 * row CANCELLED and gives its lane slot back. Cancelling a cancelled export answers it as it is.
 *
 * @throws 409 EXPORT_FINISHED for an export that completed, failed or expired.
 */
export async function cancelExport(
  deps: Pick<ExportServiceDeps, 'prisma' | 'temporal'>,
  tenantId: string,
  exportId: string,
) {
  const row = await findExport(deps.prisma, tenantId, exportId);
  const reload = () => findExport(deps.prisma, tenantId, exportId);
  return cancelFileJob(deps, 'export', row, reload, (shown) => presentExport(shown));
}

/**
 * The completed export's row, ready to be read.
 *
 * @throws 404 for another tenant's or no export, 409 EXPORT_NOT_READY before it completed (or when
 *   it failed or was cancelled), 410 EXPORT_EXPIRED after its retention.
 */
export async function readyExport(prisma: PrismaClient, tenantId: string, exportId: string, now = new Date()) {
  return checkFileReady('export', await findExport(prisma, tenantId, exportId), now);
}

/** A short-lived signed link to the completed export's file; it never outlives the file. */
export async function exportLink(
  prisma: PrismaClient,
  settings: DownloadLinkSettings,
  tenantId: string,
  exportId: string,
  now = new Date(),
) {
  return fileLink(settings, 'export', await readyExport(prisma, tenantId, exportId, now), now);
}
