import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { ExportEntity, ExportFormat, ExportProgress } from '../domain/exports';
import { workPriority, WorkPriority, type FairnessTier } from '../domain/work-priority';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from './search-attributes';
import { exportMetadata } from './summaries';

/**
 * The export's contract: its input, state and result, the messages it takes, its workflow ID and
 * the options every start uses. The entities, format, filters and recipient stay in the Export
 * row, which the activities read, so the workflow's history holds IDs only.
 */

/** One workflow per export row; the ID holds only the tenant's and the row's UUIDs. */
export function exportWorkflowId(tenantId: string, exportId: string): string {
  return `export:${tenantId}:${exportId}`;
}

/**
 * How creating an export starts its workflow (the task queue comes from configuration): a repeat
 * while it runs joins it, a closed export is never run again, and the work is the tenant's at low
 * priority, weighted by its plan against other tenants.
 */
export function exportStartOptions(input: ExportWorkflowInput, weights?: Record<FairnessTier, number>) {
  return {
    workflowId: exportWorkflowId(input.tenantId, input.exportId),
    ...exportMetadata({ tenantId: input.tenantId, exportId: input.exportId, tier: input.tier }),
    workflowIdConflictPolicy: 'USE_EXISTING' as const,
    workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
    priority: workPriority(WorkPriority.low, { tenantId: input.tenantId, tier: input.tier }, weights),
    typedSearchAttributes: [
      { key: TenantIdKey, value: input.tenantId },
      { key: BusinessKeyKey, value: input.exportId },
      { key: FlowStatusKey, value: 'QUEUED' },
    ],
  };
}

export interface ExportWorkflowInput {
  tenantId: string;
  exportId: string;
  /** The tenant's plan when the export was asked for: its fairness weight. */
  tier: FairnessTier;
}

/**
 * QUEUED: waiting for a slot in the tenant's lane. RUNNING: writing the file. COMPLETED: the file
 * can be downloaded. FAILED: a data error or attempts exhausted. CANCELLED: cancelled, partial file removed.
 */
export type ExportStatus = 'QUEUED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';

/** What `exportState` answers. */
export interface ExportState {
  tenantId: string;
  exportId: string;
  status: ExportStatus;
  progress: ExportProgress;
  /** Why it failed, once it did. */
  error: string | null;
}

/** What the writing activity reports every few seconds. */
export interface ExportProgressReport {
  rowsDone: number;
  rowsTotal: number | null;
  bytes: number;
  etaSeconds: number | null;
}

export interface ExportResult {
  status: 'COMPLETED';
  rows: number;
  bytes: number;
  sha256: string;
}

/** What the writing activity hands back once the file is finished and the row COMPLETED. */
export interface WrittenExport {
  fileKey: string;
  rows: number;
  bytes: number;
  sha256: string;
  contentType: string;
  /** Which entities and format were written. */
  entities: ExportEntity[];
  format: ExportFormat;
}

/** The lane granted this export a slot. */
export const slotGrantedSignal = defineSignal('slotGranted');

/** Progress from the writing activity, at most every few seconds. */
export const exportProgressSignal = defineSignal<[ExportProgressReport]>('exportProgress');

/** The export's status and progress. */
export const exportStateQuery = defineQuery<ExportState>('exportState');

/** Failure types of an export's activities: the request cannot be written as it stands. */
export const ExportFailure = {
  /** The row names an entity or format Holdfast cannot export (a row written by hand). */
  InvalidExport: 'InvalidExport',
  /** No file store is configured for this worker. */
  FileStoreNotConfigured: 'FileStoreNotConfigured',
} as const;
