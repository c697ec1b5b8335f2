import { defineQuery } from '@temporalio/workflow';
import type { ReportFormat, ReportType } from '../domain/reports';
import { WorkPriority, workPriority, type FairnessTier } from '../domain/work-priority';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from './search-attributes';
import { reportMetadata } from './summaries';

/**
 * The report workflow's contract: its input, state and result, its query, the failures it ends
 * with, its workflow ID, and the options a request's start and a tenant's Schedule use. One
 * workflow makes one Report row's file.
 */

/** One workflow per requested report; both parts are row IDs, never tenant-supplied text. */
export function reportWorkflowId(tenantId: string, reportId: string): string {
  return `report:${tenantId}:${reportId}`;
}

/**
 * A tenant's report schedule: the Temporal Schedule's ID, which is also the workflow ID its runs
 * get (Temporal appends each run's scheduled time, so every run has its own).
 */
export function reportScheduleId(tenantId: string, scheduleRowId: string): string {
  return `report-schedule:${tenantId}:${scheduleRowId}`;
}

/**
 * A request's report: `reportId` names the row the API wrote. A scheduled run: `scheduleId` names
 * the ReportSchedule row, and the run makes its own Report row (keyed by its workflow ID). IDs
 * only; the recipient of the link stays in the row.
 */
export type ReportWorkflowInput = { tenantId: string; reportId: string } | { tenantId: string; scheduleId: string };

/**
 * QUEUED: waiting for a reports worker (they run one at a time by default); RUNNING: the file is
 * being written; then how it ended.
 */
export type ReportFlowStatus = 'QUEUED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';

/** What the file came to, once written. */
export interface ReportFile {
  fileKey: string;
  bytes: number;
  sha256: string;
  contentType: string;
  rows: number;
}

export interface ReportState {
  tenantId: string;
  /** Null until a scheduled run has made its row. */
  reportId: string | null;
  scheduleId: string | null;
  status: ReportFlowStatus;
  /** 0–100: 0 while queued, 100 once the file is complete. */
  progress: number;
  file: ReportFile | null;
  /** The failure that ended it FAILED: its type and message. */
  failure: { type: string; message: string } | null;
}

export interface ReportResult {
  reportId: string;
  status: 'COMPLETED';
  file: ReportFile;
}

/** The report's state: its status, progress and, once written, its file. */
export const reportStateQuery = defineQuery<ReportState>('reportState');

/** Why a report could not be made; activities throw these non-retryable, the workflow records them. */
export const ReportFailure = {
  /** The Report row (or a scheduled run's ReportSchedule row) is gone: deleted with its tenant or schedule. */
  NotFound: 'NotFound',
  /** The row asks for something no retry can make: an unknown type or format, an impossible period. */
  ReportDataInvalid: 'ReportDataInvalid',
  /** The worker has no file store configured; retrying cannot help. */
  FileStoreNotConfigured: 'FileStoreNotConfigured',
  /** The database refused a value (activities/database-failures.ts). */
  DataRejected: 'DataRejected',
  /** The type the workflow fails with once the row is FAILED; its message names the cause. */
  ReportFailed: 'ReportFailed',
} as const;
export type ReportFailure = (typeof ReportFailure)[keyof typeof ReportFailure];

/** The failures the generation never retries: they would fail the same way on every attempt. */
export const permanentReportFailures: ReportFailure[] = [
  ReportFailure.NotFound,
  ReportFailure.ReportDataInvalid,
  ReportFailure.FileStoreNotConfigured,
  ReportFailure.DataRejected,
];

/** A tenant's place on shared queues: reports are low priority, weighted by the tenant's plan. */
export interface ReportWork {
  tenantId: string;
  tier: FairnessTier;
  weights?: Record<FairnessTier, number>;
}

function reportPriority({ tenantId, tier, weights }: ReportWork) {
  return workPriority(WorkPriority.low, { tenantId, tier }, weights);
}

/**
 * How a request starts its report (the task queue comes from configuration): a repeat while it
 * runs joins it, and a closed report is never run again under the same ID.
 */
export function reportStartOptions(work: ReportWork, reportId: string, about: { type?: string; format?: string } = {}) {
  return {
    workflowId: reportWorkflowId(work.tenantId, reportId),
    ...reportMetadata({ tenantId: work.tenantId, reportId, ...about }),
    workflowIdConflictPolicy: 'USE_EXISTING' as const,
    workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
    priority: reportPriority(work),
    typedSearchAttributes: [
      { key: TenantIdKey, value: work.tenantId },
      { key: BusinessKeyKey, value: reportId },
      { key: FlowStatusKey, value: 'QUEUED' },
    ],
  };
}

/** What a report schedule is asked for: when, in which zone, and what each run reports on. */
export interface ReportScheduleSpec {
  cron: string;
  timezone: string;
  type: ReportType;
  format: ReportFormat;
}

/**
 * A tenant's report Schedule (the task queue comes from configuration). Its runs start the report
 * workflow with IDs only; a run that would overlap one still running is skipped (a slow report is
 * not made twice at once), and a run missed while the server was down is caught up within an hour.
 */
export function reportScheduleOptions(
  work: ReportWork,
  scheduleRowId: string,
  spec: ReportScheduleSpec,
  taskQueue: string,
) {
  const scheduleId = reportScheduleId(work.tenantId, scheduleRowId);
  const input: ReportWorkflowInput = { tenantId: work.tenantId, scheduleId: scheduleRowId };
  return {
    scheduleId,
    spec: { cronExpressions: [spec.cron], timezone: spec.timezone },
    action: {
      type: 'startWorkflow' as const,
      workflowType: 'reportWorkflow',
      workflowId: scheduleId,
      taskQueue,
      args: [input],
      ...reportMetadata({ tenantId: work.tenantId, scheduleId: scheduleRowId, type: spec.type, format: spec.format }),
      priority: reportPriority(work),
      typedSearchAttributes: [
        { key: TenantIdKey, value: work.tenantId },
        { key: BusinessKeyKey, value: scheduleRowId },
        { key: FlowStatusKey, value: 'QUEUED' },
      ],
    },
    policies: { overlap: 'SKIP' as const, catchupWindow: '1 hour' },
    memo: { purpose: `A ${spec.format} ${spec.type} report on ${spec.cron} (${spec.timezone})` },
  };
}
