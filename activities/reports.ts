import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import {
  contentTypeOf,
  periodEndingAt,
  reportFileKey,
  reportFormats,
  reportTitles,
  reportTypes,
  schedulePeriods,
  type ReportFilters,
  type ReportFormat,
  type ReportHeading,
  type ReportType,
  type SchedulePeriod,
} from '../domain/reports';
import type { FileWriter } from '../lib/file-store';
import { ReportFailure, type ReportFile } from '../workflows/report.contract';
import type { ActivityDeps } from './index';
import { loadReportTable } from './report-data';
import { renderCsv, renderJson } from './report-csv';
import { renderPdf } from './report-pdf';

/** A finished file is kept this long when the worker was given no retention (FILE_RETENTION). */
const FALLBACK_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
/** Heartbeats go out this often while a query or the rendering runs, well inside the 30 s heartbeat timeout. */
const HEARTBEAT_EVERY_MS = 5_000;

export interface ReportRef {
  tenantId: string;
  reportId: string;
}

const notFound = (what: string) => ApplicationFailure.nonRetryable(`${what} does not exist`, ReportFailure.NotFound);
const invalid = (message: string) => ApplicationFailure.nonRetryable(message, ReportFailure.ReportDataInvalid);

/** The running activity's context, or none when a test calls the function directly. */
function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/**
 * Progress for the heartbeat and the row: the last reported value is re-sent on a timer so a
 * long query still heartbeats, and a cancellation reaches the activity at its next beat.
 */
function progressReporter(context: Context | undefined) {
  let details = { progress: 0 };
  const timer = context ? setInterval(() => context.heartbeat(details), HEARTBEAT_EVERY_MS) : undefined;
  return {
    beat(progress: number) {
      details = { progress };
      context?.heartbeat(details);
      context?.cancellationSignal.throwIfAborted();
    },
    /** Waits for `work`, or fails at once with the cancellation when the workflow cancels the report. */
    async during<T>(work: Promise<T>): Promise<T> {
      if (!context) return work;
      return Promise.race([work, context.cancelled]);
    },
    stop() {
      if (timer) clearInterval(timer);
    },
  };
}

/**
 * Reports' activities. `generateReport` runs on the reports task queue (one at a time per worker
 * by default); the others are bookkeeping on the interactive queue.
 *
 * @throws non-retryable NotFound for a row that is gone, ReportDataInvalid for a row no retry can
 *   make into a file, FileStoreNotConfigured without a file store; anything else is retried.
 */
export function createReportActivities(deps: Pick<ActivityDeps, 'prisma' | 'files' | 'fileJobs' | 'now'>) {
  const { prisma } = deps;
  const now = () => deps.now?.() ?? new Date();

  return {
    /**
     * A scheduled run's Report row, made once per run: keyed by the run's workflow ID, so a retry
     * finds the row the first attempt made. Its period is the schedule's day, week or month ending
     * when the run was scheduled to start.
     */
    async openScheduledReport(input: {
      tenantId: string;
      scheduleId: string;
      workflowId: string;
      runStartedAt: string;
    }): Promise<{ reportId: string }> {
      const known = await prisma.report.findUnique({ where: { workflowId: input.workflowId }, select: { id: true } });
      if (known) return { reportId: known.id };
      const schedule = await prisma.reportSchedule.findFirst({
        where: { id: input.scheduleId, tenantId: input.tenantId },
      });
      if (!schedule) throw notFound(`Report schedule ${input.scheduleId}`);
      if (!schedulePeriods.includes(schedule.period as SchedulePeriod)) {
        throw invalid(`The schedule's period is not one of ${schedulePeriods.join(', ')}`);
      }
      const period = periodEndingAt(schedule.period as SchedulePeriod, new Date(input.runStartedAt), schedule.timezone);
      const row = await prisma.report.upsert({
        where: { workflowId: input.workflowId },
        create: {
          tenantId: input.tenantId,
          type: schedule.type,
          format: schedule.format,
          filters: (schedule.filters ?? undefined) as object | undefined,
          periodStart: period.start,
          periodEnd: period.end,
          notifyEmail: schedule.notifyEmail,
          workflowId: input.workflowId,
          scheduleId: schedule.id,
          requestedBy: `schedule:${schedule.id}`,
        },
        update: {},
        select: { id: true },
      });
      return { reportId: row.id };
    },

    /**
     * Reads the report's data and writes its file to the store, heartbeating its progress (also
     * kept in the row's rowsDone/rowsTotal for the API). On cancellation the partial file is
     * aborted before the activity ends, so nothing of it remains.
     */
    async generateReport({ tenantId, reportId }: ReportRef): Promise<ReportFile> {
      const files = deps.files;
      if (!files) {
        throw ApplicationFailure.nonRetryable('No file store is configured', ReportFailure.FileStoreNotConfigured);
      }
      const context = activityContext();
      const progress = progressReporter(context);
      let writer: FileWriter | undefined;
      try {
        const row = await prisma.report.findFirst({
          where: { id: reportId, tenantId },
          include: { tenant: { select: { name: true } } },
        });
        if (!row) throw notFound(`Report ${reportId}`);
        if (!reportTypes.includes(row.type as ReportType)) throw invalid('The report type is not one Holdfast makes');
        if (!reportFormats.includes(row.format as ReportFormat))
          throw invalid('The report format is not csv, json or pdf');
        if (row.periodStart.getTime() >= row.periodEnd.getTime())
          throw invalid('The report period ends before it starts');
        const type = row.type as ReportType;
        const format = row.format as ReportFormat;
        await prisma.report.updateMany({
          where: { id: reportId, status: { in: ['QUEUED', 'RUNNING'] } },
          data: { status: 'RUNNING', startedAt: row.startedAt ?? now(), rowsDone: 0 },
        });
        progress.beat(5);

        const period = { start: row.periodStart, end: row.periodEnd };
        const filters = (row.filters ?? {}) as ReportFilters;
        // Payment standing is as of the period's end or the request, whichever is first: a period
        // ending in the future does not count orders not yet due as past due, and a retry reads the same.
        const asOf = new Date(Math.min(row.periodEnd.getTime(), row.createdAt.getTime()));
        const table = await progress.during(loadReportTable(prisma, { tenantId, type, period, filters, asOf }));
        await prisma.report.update({ where: { id: reportId }, data: { rowsTotal: table.rows.length } });
        progress.beat(50);

        // The request's time, not this attempt's: a retried report renders the same bytes.
        const heading: ReportHeading = {
          reportId,
          type,
          title: reportTitles[type],
          tenantName: row.tenant.name,
          period,
          requestedAt: row.createdAt,
        };
        const content =
          format === 'csv'
            ? renderCsv(table)
            : format === 'json'
              ? renderJson(heading, table)
              : await progress.during(renderPdf(heading, table));
        progress.beat(80);

        const fileKey = reportFileKey(tenantId, reportId, format);
        // Each attempt writes its own partial file: an attempt that lost its heartbeat cannot collide with its retry.
        writer = await files.openWriter(fileKey, undefined, { attempt: context?.info.attempt });
        await writer.write(content);
        progress.beat(90);
        const { bytes, sha256 } = await writer.finish();
        writer = undefined;
        await prisma.report.update({ where: { id: reportId }, data: { rowsDone: table.rows.length } });
        return { fileKey, bytes, sha256, contentType: contentTypeOf(format), rows: table.rows.length };
      } catch (error) {
        await writer?.abort();
        if (context?.cancellationSignal.aborted && !(error instanceof CancelledFailure)) {
          throw new CancelledFailure('The report was cancelled');
        }
        throw error;
      } finally {
        progress.stop();
      }
    },

    /** Marks the report COMPLETED with its file; it is kept until expiresAt, when the cleanup removes it. */
    async completeReport({
      tenantId,
      reportId,
      file,
    }: ReportRef & { file: ReportFile }): Promise<{ expiresAt: string }> {
      const completedAt = now();
      const expiresAt = new Date(completedAt.getTime() + (deps.fileJobs?.retentionMs ?? FALLBACK_RETENTION_MS));
      const { count } = await prisma.report.updateMany({
        where: { id: reportId, tenantId, status: { in: ['QUEUED', 'RUNNING'] } },
        data: {
          status: 'COMPLETED',
          fileKey: file.fileKey,
          fileBytes: BigInt(file.bytes),
          sha256: file.sha256,
          contentType: file.contentType,
          rowsDone: file.rows,
          rowsTotal: file.rows,
          completedAt,
          expiresAt,
          error: null,
        },
      });
      if (count === 0) {
        const row = await prisma.report.findFirst({ where: { id: reportId, tenantId }, select: { expiresAt: true } });
        if (!row) throw notFound(`Report ${reportId}`);
        return { expiresAt: (row.expiresAt ?? expiresAt).toISOString() };
      }
      return { expiresAt: expiresAt.toISOString() };
    },

    /** Marks the report FAILED with the failure's type and message (never a value from the data). */
    async failReport({ tenantId, reportId, failure }: ReportRef & { failure: { type: string; message: string } }) {
      await prisma.report.updateMany({
        where: { id: reportId, tenantId, status: { in: ['QUEUED', 'RUNNING'] } },
        data: { status: 'FAILED', error: `${failure.type}: ${failure.message}`.slice(0, 1000), completedAt: now() },
      });
    },

    /**
     * Removes whatever was written of the report's file and marks it CANCELLED. Removing a file
     * that is not there is not an error, so a retry (or a report cancelled while queued) is fine.
     */
    async discardReport({ tenantId, reportId }: ReportRef): Promise<void> {
      const row = await prisma.report.findFirst({ where: { id: reportId, tenantId }, select: { format: true } });
      if (!row) return;
      if (deps.files && reportFormats.includes(row.format as ReportFormat)) {
        await deps.files.remove(reportFileKey(tenantId, reportId, row.format as ReportFormat));
      }
      await prisma.report.updateMany({
        where: { id: reportId, tenantId, status: { in: ['QUEUED', 'RUNNING'] } },
        data: { status: 'CANCELLED', completedAt: now(), fileKey: null },
      });
    },
  };
}
