import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { Activities } from '../activities';
import {
  permanentReportFailures,
  ReportFailure,
  reportStateQuery,
  type ReportFile,
  type ReportFlowStatus,
  type ReportResult,
  type ReportState,
  type ReportWorkflowInput,
} from './report.contract';
import { FailureType } from './errors';
import { fileWriting, untilTheDatabaseAnswers } from './retry-profiles';
import { FlowStatusKey } from './search-attributes';
import { activitySummary, finishedDetails } from './summaries';

export * from './report.contract';

/** Set by Temporal on a Schedule's runs: the instant the run was due (or triggered). */
const ScheduledStartTimeKey = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

/** The state a report's query and phases share. */
class ReportRun {
  reportId: string | null;
  status: ReportFlowStatus = 'QUEUED';
  progress = 0;
  file: ReportFile | null = null;
  failure: ReportState['failure'] = null;

  constructor(readonly input: ReportWorkflowInput) {
    this.reportId = 'reportId' in input ? input.reportId : null;
  }

  setStatus(status: ReportFlowStatus, progress: number) {
    this.status = status;
    this.progress = progress;
    upsertSearchAttributes([{ key: FlowStatusKey, value: status }]);
    this.showDetails();
  }

  /** What the Web UI shows the report doing now. */
  showDetails() {
    const report = this.reportId ? `report ${this.reportId}` : 'scheduled report';
    if (this.status === 'QUEUED') setCurrentDetails(`${report}: waiting for a reports worker`);
    else if (this.status === 'RUNNING') setCurrentDetails(`${report}: generating the file`);
    else setCurrentDetails(finishedDetails(this.status));
  }

  snapshot(): ReportState {
    return {
      tenantId: this.input.tenantId,
      reportId: this.reportId,
      scheduleId: 'scheduleId' in this.input ? this.input.scheduleId : null,
      status: this.status,
      progress: this.progress,
      file: this.file,
      failure: this.failure,
    };
  }
}

/** The failure's type and message, from the activity's cause, without the stack. */
function describeFailure(error: unknown): { type: string; message: string } {
  const cause = error instanceof ActivityFailure && error.cause ? error.cause : error;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? 'Error', message: cause.message };
  return cause instanceof Error
    ? { type: cause.name, message: cause.message }
    : { type: 'Error', message: String(cause) };
}

/**
 * Makes one report's file: for a request, the Report row the API wrote; for a Schedule's run,
 * first a row of its own (its period ending when the run was due). The generation runs on the
 * reports task queue, heartbeating its progress; the row then becomes COMPLETED with the file's
 * size and digest, `report.completed` is published and the notifyEmail gets a signed link.
 *
 * Fails with `ReportFailed` (the row FAILED, the cause in its message and the state query) when
 * the row asks for something impossible, or the generation failed three times. Cancelling the
 * workflow stops the generation, removes the partial file and leaves the row CANCELLED.
 */
export async function reportWorkflow(input: ReportWorkflowInput): Promise<ReportResult> {
  const run = new ReportRun(input);
  setHandler(reportStateQuery, () => run.snapshot());
  run.showDetails();

  // Row bookkeeping: idempotent writes, retried until the database answers; a gone row is final.
  const { openScheduledReport, completeReport, failReport, discardReport, announceFileReady } =
    proxyActivities<Activities>({
      ...untilTheDatabaseAnswers,
      retry: {
        ...untilTheDatabaseAnswers.retry,
        nonRetryableErrorTypes: [
          ...untilTheDatabaseAnswers.retry.nonRetryableErrorTypes,
          ...permanentReportFailures,
          FailureType.ChannelNotConfigured,
        ],
      },
    });
  // The generation: 5 minutes an attempt (the seed's report timeout). Three attempts, not two: a
  // report is cheap to redo from the start (it aggregates in the database) and a worker restart
  // during a deployment should not cost a scheduled report; a third outage in a row is a real one.
  // It waits for the activity to acknowledge a cancellation, so the partial file is gone first.
  const { generateReport } = proxyActivities<Activities>(
    fileWriting(workflowInfo().taskQueue, 'reports', {
      startToCloseTimeout: '5 minutes',
      retry: {
        initialInterval: '10 seconds',
        backoffCoefficient: 2,
        maximumAttempts: 3,
        nonRetryableErrorTypes: permanentReportFailures,
      },
    }),
  );

  try {
    if ('scheduleId' in input) {
      const dueAt = workflowInfo().typedSearchAttributes.get(ScheduledStartTimeKey) ?? workflowInfo().startTime;
      // Not cancellable: a cancel that lands while the row is being made would otherwise leave it QUEUED for good;
      // it lands at the generation instead, which discards the row.
      const { reportId } = await CancellationScope.nonCancellable(() =>
        openScheduledReport({
          tenantId: input.tenantId,
          scheduleId: input.scheduleId,
          workflowId: workflowInfo().workflowId,
          runStartedAt: dueAt.toISOString(),
        }),
      );
      run.reportId = reportId;
    }
    const ref = { tenantId: input.tenantId, reportId: run.reportId! };
    run.setStatus('RUNNING', 10);
    const file = await generateReport.executeWithOptions({ summary: activitySummary.reportPage }, [ref]);
    // Once the file is written the report completes even if a cancel arrives now: there is nothing left to stop.
    await CancellationScope.nonCancellable(async () => {
      await completeReport({ ...ref, file });
      run.file = file;
      run.setStatus('COMPLETED', 100);
      try {
        await announceFileReady({ kind: 'report', tenantId: ref.tenantId, id: ref.reportId });
      } catch (error) {
        // The file is there and downloadable through the API; a missed announcement does not undo that.
        // Only the failure's type is logged: a message about the email could quote its address.
        log.warn('Report completed but not announced', {
          reportId: ref.reportId,
          failureType: describeFailure(error).type,
        });
      }
    });
    return { reportId: ref.reportId, status: 'COMPLETED', file };
  } catch (error) {
    if (isCancellation(error)) {
      await CancellationScope.nonCancellable(async () => {
        if (run.reportId) await discardReport({ tenantId: input.tenantId, reportId: run.reportId });
      });
      run.setStatus('CANCELLED', run.progress);
      throw error;
    }
    const failure = describeFailure(error);
    log.warn('Report failed', { reportId: run.reportId, failureType: failure.type });
    if (run.reportId) {
      const reportId = run.reportId;
      await CancellationScope.nonCancellable(() => failReport({ tenantId: input.tenantId, reportId, failure }));
    }
    run.failure = failure;
    run.setStatus('FAILED', run.progress);
    throw ApplicationFailure.create({
      type: ReportFailure.ReportFailed,
      message: `The report could not be made: ${failure.type}: ${failure.message}`,
      nonRetryable: true,
    });
  }
}
