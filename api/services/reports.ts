import { createHash, randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { canonicalJson } from '../../domain/canonical-json';
import {
  reportFilterScopes,
  resolvePeriod,
  type ReportFilters,
  type ReportFormat,
  type ReportType,
} from '../../domain/reports';
import type { FairnessWeights } from '../../domain/tenant-fairness';
import type { FileJobStatus } from '../../generated/prisma/enums';
import type { PrismaClient } from '../../lib/db';
import { loadTenantFairness } from '../../lib/tenant-fairness';
import type { reportWorkflow } from '../../workflows/report';
import { reportStartOptions, reportWorkflowId, type ReportWorkflowInput } from '../../workflows/report.contract';
import { AppError, notFound } from '../errors';
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

/** What the report services use. */
export interface ReportServiceDeps {
  prisma: PrismaClient;
  temporal: Client;
  taskQueue: string;
  /** Each plan's weight on shared task queues (config.worker.fairnessWeights). */
  fairnessWeights: FairnessWeights;
}

export interface ReportCaller {
  tenantId: string;
  actor: string;
}

export interface ReportRequest {
  type: ReportType;
  format: ReportFormat;
  filters: ReportFilters;
  notifyEmail?: string;
}

type ReportRow = Awaited<ReturnType<PrismaClient['report']['findFirstOrThrow']>>;

/**
 * How far the report has come, 0–100: nothing while it waits for a reports worker, 10 once it
 * runs, half-way once its data is read, and the rest as its rows are written.
 */
function progressOf(row: ReportRow): number {
  switch (row.status) {
    case 'QUEUED':
      return 0;
    case 'RUNNING':
      return row.rowsTotal === null ? 10 : 50 + Math.floor((40 * row.rowsDone) / Math.max(1, row.rowsTotal));
    case 'COMPLETED':
    case 'EXPIRED':
      return 100;
    default:
      return Math.min(100, row.rowsTotal ? Math.floor((100 * row.rowsDone) / Math.max(1, row.rowsTotal)) : 0);
  }
}

/**
 * Seconds until the report is written, at the pace so far: the time since it started, scaled by
 * the share still to do. Null while it waits or reads its data (there is no pace to go by until
 * the data is read, which is most of the work); 0 once finished.
 */
export function reportEtaSeconds(
  row: Pick<ReportRow, 'status' | 'startedAt' | 'rowsTotal'>,
  percent: number,
  now: Date,
): number | null {
  if (row.status === 'COMPLETED' || row.status === 'EXPIRED') return 0;
  if (row.status !== 'RUNNING' || !row.startedAt || row.rowsTotal === null || percent <= 0) return null;
  const elapsedSeconds = Math.max(0, (now.getTime() - row.startedAt.getTime()) / 1000);
  return Math.ceil((elapsedSeconds * (100 - percent)) / percent);
}

/** A report as the API shows it: what was asked, how far it is, and its file once written. */
export function presentReport(row: ReportRow, now = new Date()) {
  const percent = progressOf(row);
  return {
    id: row.id,
    type: row.type,
    format: row.format,
    status: shownStatus(row, now),
    filters: row.filters,
    period: { from: row.periodStart.toISOString(), to: row.periodEnd.toISOString() },
    notifyEmail: row.notifyEmail,
    progress: {
      percent,
      rowsDone: row.rowsDone,
      rowsTotal: row.rowsTotal,
      etaSeconds: reportEtaSeconds(row, percent, now),
    },
    file: presentFile('report', row, now),
    error: row.error,
    scheduleId: row.scheduleId,
    workflowId: row.workflowId,
    requestedBy: row.requestedBy,
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    completedAt: row.completedAt,
  };
}

/** A stable fingerprint of what was asked, so a reused Idempotency-Key with another body is caught. */
function requestHash(request: ReportRequest): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}

/**
 * The period and filters of a request, checked beyond their shapes.
 *
 * @throws 422 INVALID_PERIOD (from after to, or more than 366 days), 422 FILTER_NOT_APPLICABLE.
 */
export function checkReportRequest(request: Pick<ReportRequest, 'type' | 'filters'>, now: Date) {
  for (const [filter, types] of Object.entries(reportFilterScopes)) {
    if (
      request.filters[filter as keyof ReportFilters] !== undefined &&
      !(types as readonly string[]).includes(request.type)
    ) {
      throw new AppError(
        422,
        'FILTER_NOT_APPLICABLE',
        `The ${filter} filter does not apply to ${request.type} reports`,
        {
          filter,
          appliesTo: types,
        },
      );
    }
  }
  const resolved = resolvePeriod(request.filters, now);
  if ('problem' in resolved) {
    throw new AppError(422, 'INVALID_PERIOD', resolved.problem.message, { field: `filters.${resolved.problem.field}` });
  }
  return resolved.period;
}

/**
 * The retailer or slot a request's filters name must be the tenant's own.
 *
 * @throws 422 UNKNOWN_RETAILER, UNKNOWN_SLOT.
 */
export async function checkFilterTargets(prisma: PrismaClient, tenantId: string, filters: ReportFilters) {
  if (filters.retailerId && !(await prisma.retailer.findFirst({ where: { id: filters.retailerId, tenantId } }))) {
    throw new AppError(422, 'UNKNOWN_RETAILER', 'No such retailer in this tenant', { retailerId: filters.retailerId });
  }
  if (filters.slotId && !(await prisma.slot.findFirst({ where: { id: filters.slotId, tenantId } }))) {
    throw new AppError(422, 'UNKNOWN_SLOT', 'No such slot in this tenant', { slotId: filters.slotId });
  }
}

/**
 * Starts (or joins) the report's workflow; a run that has already closed is left as it ended. The
 * type and format name the report in the Web UI's summary.
 */
async function startReportWorkflow(
  deps: ReportServiceDeps,
  tenantId: string,
  reportId: string,
  about: { type: string; format: string },
) {
  const work = { tenantId, ...(await loadTenantFairness(deps.prisma, tenantId, deps.fairnessWeights)) };
  const input: ReportWorkflowInput = { tenantId, reportId };
  await startOrJoin(() =>
    deps.temporal.workflow.start<typeof reportWorkflow>('reportWorkflow', {
      taskQueue: deps.taskQueue,
      args: [input],
      ...reportStartOptions(work, reportId, about),
    }),
  );
}

/**
 * Records a report request and starts its workflow, once per Idempotency-Key: a repeat with the
 * same body answers the same report (`created: false`).
 *
 * @throws 422 INVALID_PERIOD, FILTER_NOT_APPLICABLE, UNKNOWN_RETAILER, UNKNOWN_SLOT, IDEMPOTENCY_KEY_REUSED
 *   (a known key with another body).
 */
export async function requestReport(
  deps: ReportServiceDeps,
  { tenantId, actor, idempotencyKey }: ReportCaller & { idempotencyKey: string },
  request: ReportRequest,
  now = new Date(),
) {
  const { prisma } = deps;
  await assertFlowAccepting(prisma, tenantId, 'reports');
  const hash = requestHash(request);
  const { row, created } = await rowForIdempotencyKey(
    'report',
    hash,
    () => prisma.report.findUnique({ where: { tenantId_idempotencyKey: { tenantId, idempotencyKey } } }),
    async () => {
      const period = checkReportRequest(request, now);
      await checkFilterTargets(prisma, tenantId, request.filters);
      const id = randomUUID();
      return prisma.report.create({
        data: {
          id,
          tenantId,
          type: request.type,
          format: request.format,
          filters: request.filters,
          periodStart: period.start,
          periodEnd: period.end,
          notifyEmail: request.notifyEmail ?? null,
          workflowId: reportWorkflowId(tenantId, id),
          idempotencyKey,
          requestHash: hash,
          requestedBy: actor,
        },
      });
    },
  );
  // Started on every repeat too: a request whose start failed after its row was written is completed by its retry.
  if (!row.scheduleId) await startReportWorkflow(deps, tenantId, row.id, { type: row.type, format: row.format });
  return { reportId: row.id, workflowId: row.workflowId, created };
}

export async function findReport(prisma: PrismaClient, tenantId: string, reportId: string) {
  const row = await prisma.report.findFirst({ where: { id: reportId, tenantId } });
  if (!row) throw notFound('Report', { reportId });
  return row;
}

export async function getReport(prisma: PrismaClient, tenantId: string, reportId: string) {
  return presentReport(await findReport(prisma, tenantId, reportId));
}

export interface ReportListFilter {
  status?: FileJobStatus;
  type?: ReportType;
  scheduleId?: string;
  limit: number;
  offset: number;
}

/** A page of the tenant's reports, newest first, with how many match in all. */
export async function listReports(prisma: PrismaClient, tenantId: string, filter: ReportListFilter) {
  const { status, type, scheduleId, limit, offset } = filter;
  const where = {
    tenantId,
    ...(status ? { status } : {}),
    ...(type ? { type } : {}),
    ...(scheduleId ? { scheduleId } : {}),
  };
  const [rows, total] = await Promise.all([
    prisma.report.findMany({ where, orderBy: [{ createdAt: 'desc' }, { id: 'asc' }], take: limit, skip: offset }),
    prisma.report.count({ where }),
  ]);
  const now = new Date();
  return { reports: rows.map((row) => presentReport(row, now)), total, limit, offset };
}

/**
 * Asks the report's workflow to stop: it removes the partial file and marks the row CANCELLED.
 * Cancelling a cancelled report answers it as it is.
 *
 * @throws 409 REPORT_FINISHED for a report that completed, failed or expired.
 */
export async function cancelReport(
  deps: Pick<ReportServiceDeps, 'prisma' | 'temporal'>,
  tenantId: string,
  reportId: string,
) {
  const row = await findReport(deps.prisma, tenantId, reportId);
  const reload = () => findReport(deps.prisma, tenantId, reportId);
  return cancelFileJob(deps, 'report', row, reload, (shown) => presentReport(shown));
}

/**
 * The completed report's row, ready to be read.
 *
 * @throws 409 REPORT_NOT_READY before it completed (or when it failed or was cancelled), 410 REPORT_EXPIRED after its retention.
 */
export async function readyReport(prisma: PrismaClient, tenantId: string, reportId: string, now = new Date()) {
  return checkFileReady('report', await findReport(prisma, tenantId, reportId), now);
}

/** A short-lived signed link to the completed report's file; it never outlives the file. */
export async function reportLink(
  prisma: PrismaClient,
  settings: DownloadLinkSettings,
  tenantId: string,
  reportId: string,
  now = new Date(),
) {
  return fileLink(settings, 'report', await readyReport(prisma, tenantId, reportId, now), now);
}
