import {
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { exportProgress } from '../domain/exports';
import { exportLaneId, releaseSlotSignal } from './export-lane.contract';
import {
  ExportFailure,
  exportProgressSignal,
  exportStateQuery,
  exportWorkflowId,
  slotGrantedSignal,
  type ExportResult,
  type ExportState,
  type ExportStatus,
  type ExportWorkflowInput,
} from './export.contract';
import { PermanentFailures } from './errors';
import { fileWriting, untilTheDatabaseAnswers } from './retry-profiles';
import { FlowStatusKey } from './search-attributes';
import { activitySummary, finishedDetails, timerSummary } from './summaries';

export * from './export.contract';

/** How often a waiting export asks its lane again (idempotent), rebuilding a lane that was lost. */
const SLOT_REQUEST_REPEAT = '5 minutes';

// Asking the lane, settling the row, announcing the file: small idempotent steps, retried until
// the database and Temporal answer (a gone tenant or row is final).
const { requestExportSlot, settleExport, announceFileReady } = proxyActivities<Activities>({
  ...untilTheDatabaseAnswers,
  retry: {
    ...untilTheDatabaseAnswers.retry,
    nonRetryableErrorTypes: [...PermanentFailures.message, ExportFailure.FileStoreNotConfigured],
  },
});

/** The export's state, changed by its phases and the writer's progress signals. */
class ExportRun {
  readonly state: ExportState;
  granted = false;

  constructor(input: ExportWorkflowInput) {
    this.state = {
      tenantId: input.tenantId,
      exportId: input.exportId,
      status: 'QUEUED',
      progress: { rowsDone: 0, rowsTotal: null, percent: null, etaSeconds: null, bytes: 0 },
      error: null,
    };
  }

  moveTo(status: ExportStatus): void {
    this.state.status = status;
    upsertSearchAttributes([{ key: FlowStatusKey, value: status }]);
    this.showDetails();
  }

  /** What the Web UI shows the export doing now: its place in the lane, or the rows written so far. */
  showDetails(): void {
    const { status, progress } = this.state;
    if (status === 'QUEUED') setCurrentDetails("waiting for a slot in the tenant's export lane");
    else if (status === 'RUNNING') {
      const of = progress.rowsTotal === null ? '' : ` of ${progress.rowsTotal}`;
      const percent = progress.percent === null ? '' : ` (${progress.percent}%)`;
      setCurrentDetails(`writing the file: ${progress.rowsDone}${of} rows${percent}`);
    } else setCurrentDetails(finishedDetails(status));
  }
}

/**
 * Writes one export's file, in the tenant's turn. First it asks the tenant's export lane for a
 * slot and waits, QUEUED, until the lane grants one (at most EXPORTS_PER_TENANT of a tenant's
 * exports run at once). Then the `writeExport` activity, on the exports task queue, streams the
 * rows into the file store with checkpoints in its heartbeats: 10 minutes per attempt, a heartbeat
 * every 30 s at most, 2 attempts (the seed's data-export queue), and a retry resumes at the last
 * checkpoint. Finally `announceFileReady` publishes `export.completed` and emails the link.
 *
 * Cancelling the workflow cancels the writer and waits for it to stop, then marks the row
 * CANCELLED with its partial file removed. A failure marks it FAILED with the reason, and the
 * workflow fails with it. Either way the lane slot is given back.
 */
export async function exportWorkflow(input: ExportWorkflowInput): Promise<ExportResult> {
  const run = new ExportRun(input);
  run.showDetails();
  setHandler(exportStateQuery, () => run.state);
  setHandler(slotGrantedSignal, () => {
    run.granted = true;
  });
  setHandler(exportProgressSignal, (report) => {
    run.state.progress = exportProgress(report.rowsDone, report.rowsTotal, report.bytes, null, new Date());
    run.state.progress.etaSeconds = report.etaSeconds;
    if (run.state.status === 'RUNNING') run.showDetails();
  });

  // A page takes well under a second, so a retry resumes from the last checkpoint; the cancel
  // reaches the writer through its heartbeat.
  const { writeExport } = proxyActivities<Activities>(
    fileWriting(workflowInfo().taskQueue, 'exports', {
      startToCloseTimeout: '10 minutes',
      retry: {
        initialInterval: '5 seconds',
        maximumAttempts: 2,
        nonRetryableErrorTypes: [...PermanentFailures.message, ...Object.values(ExportFailure)],
      },
    }),
  );

  const ids = { tenantId: input.tenantId, exportId: input.exportId };
  // Whether the lane may count this export as holding or waiting: set before the first request,
  // cleared only once the lane has heard the release (or is gone).
  let requested = false;
  try {
    requested = true;
    await requestExportSlot(ids);
    // Asking again is idempotent; it rebuilds a lane that was terminated or cancelled meanwhile,
    // so a waiting export is never left without anyone to grant it a slot.
    while (!(await condition(() => run.granted, SLOT_REQUEST_REPEAT, { summary: timerSummary.askLaneAgain }))) {
      await requestExportSlot(ids);
    }
    run.moveTo('RUNNING');
    const written = await writeExport.executeWithOptions({ summary: activitySummary.writeExport }, [ids]);
    // The file is written and the row COMPLETED: a cancel arriving now has nothing left to stop,
    // so the export completes, gives its slot back and is announced regardless.
    return await CancellationScope.nonCancellable(async () => {
      run.state.progress = {
        rowsDone: written.rows,
        rowsTotal: written.rows,
        percent: 100,
        etaSeconds: 0,
        bytes: written.bytes,
      };
      run.moveTo('COMPLETED');
      if (await releaseSlot(input)) requested = false;
      try {
        await announceFileReady({ kind: 'export', tenantId: input.tenantId, id: input.exportId });
      } catch (error) {
        // The file is there and downloadable: a message that cannot be sent does not undo the export.
        // The type only: a message about the email could quote its address.
        log.warn('export ready but not announced', { ...ids, failureType: failureType(error) });
      }
      return { status: 'COMPLETED' as const, rows: written.rows, bytes: written.bytes, sha256: written.sha256 };
    });
  } catch (error) {
    if (run.state.status === 'COMPLETED') throw error;
    const cancelled = isCancellation(error);
    const reason = cancelled ? null : failureMessage(error);
    await CancellationScope.nonCancellable(async () => {
      await settleExport({ ...ids, status: cancelled ? 'CANCELLED' : 'FAILED', ...(reason ? { error: reason } : {}) });
    });
    run.state.error = reason;
    run.moveTo(cancelled ? 'CANCELLED' : 'FAILED');
    if (cancelled) throw error;
    throw ApplicationFailure.create({
      type: failureType(error),
      message: reason ?? 'export failed',
      nonRetryable: true,
    });
  } finally {
    if (requested) await CancellationScope.nonCancellable(() => releaseSlot(input));
  }
}

/**
 * Gives the lane slot back (or leaves the line); the lane ignores an export it does not know.
 * Returns whether the lane heard it: true also when the lane is gone, since a gone lane holds
 * nothing. Any other failure is a bug and fails the workflow task rather than leaking the slot.
 */
async function releaseSlot(input: ExportWorkflowInput): Promise<boolean> {
  const workflowId = exportWorkflowId(input.tenantId, input.exportId);
  try {
    await getExternalWorkflowHandle(exportLaneId(input.tenantId)).signal(releaseSlotSignal, { workflowId });
    return true;
  } catch (error) {
    if (!isExternalWorkflowNotFound(error)) throw error;
    log.warn('export slot not released: the lane has closed', { workflowId });
    return true;
  }
}

/** The failure Temporal reports for a signal to a workflow that is not running. */
function isExternalWorkflowNotFound(error: unknown): boolean {
  return error instanceof Error && !isCancellation(error) && /not found/i.test(error.message);
}

function failureMessage(error: unknown): string {
  let current: unknown = error;
  while (current instanceof Error && current.cause) current = current.cause;
  return current instanceof Error ? current.message : String(error);
}

function failureType(error: unknown): string {
  let current: unknown = error;
  while (current instanceof Error) {
    if (current instanceof ApplicationFailure && current.type) return current.type;
    current = current.cause;
  }
  return 'ExportFailed';
}
