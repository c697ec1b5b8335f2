import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from './search-attributes';
import { dailyCleanupMetadata } from './summaries';

/**
 * The daily cleanup's contract: its input and result, the Schedule that starts it, its workflow
 * ID and the options that Schedule starts it with. It takes no input: the run's start time is
 * the reference each tenant's retention is counted back from.
 */

/** The Schedule that starts the daily cleanup. */
export const dailyCleanupScheduleId = 'holdfast:daily-cleanup';

/** The workflow ID the Schedule gives each run; Temporal appends the run's scheduled time to it. */
export const dailyCleanupWorkflowId = 'cleanup:daily';

/** How many rows of each kind a purge deleted. */
export interface PurgeCounts {
  /** Notifications that were SENT, FAILED or CANCELLED; those still waiting to be sent stay. */
  notificationsDeleted: number;
  auditLogsDeleted: number;
  /** Reminder sequences no longer ACTIVE. */
  remindersDeleted: number;
  webhookAttemptsDeleted: number;
  /** Webhook deliveries that succeeded, failed or were skipped. */
  webhookDeliveriesDeleted: number;
  /** Published events none of whose webhook deliveries is still pending. */
  eventsDeleted: number;
}

/** What one tenant's purge deleted. */
export interface PurgeResult extends PurgeCounts {
  tenantId: string;
}

/** Report and export files whose retention ran out: removed from the file store, rows marked EXPIRED. */
export interface ExpiredFiles {
  reportsExpired: number;
  exportsExpired: number;
  /** Failed or cancelled exports whose leftover partial file or upload was removed (absent in runs without the `expire-report-and-export-files` patch). */
  exportLeftoversRemoved?: number;
}

/** Every tenant's failures the cleanup recorded in the dead-letter inbox. */
export interface RecordedDeadLetters {
  /** Failures that became DeadLetter rows this run: nobody had listed them in the inbox yet. */
  recorded: number;
  /** Failures the inbox had a row for already. */
  seenAgain: number;
}

export interface DailyCleanupResult extends PurgeCounts {
  /** Dead letters recorded this run (absent in runs without the `record-dead-letters` patch). */
  deadLetters?: RecordedDeadLetters;
  /** Files removed this run (absent in runs from before files were cleaned up). */
  files?: ExpiredFiles;
  /** The run's reference time (ISO): rows older than it minus each tenant's retention were deleted. */
  asOf: string;
  tenants: number;
  perTenant: PurgeResult[];
}

/** A purge that has deleted nothing yet. */
export function emptyPurgeResult(tenantId: string): PurgeResult {
  return {
    tenantId,
    notificationsDeleted: 0,
    auditLogsDeleted: 0,
    remindersDeleted: 0,
    webhookAttemptsDeleted: 0,
    webhookDeliveriesDeleted: 0,
    eventsDeleted: 0,
  };
}

/** The tenants' counts added up, kind by kind. */
export function sumPurgeCounts(results: PurgeResult[]): PurgeCounts {
  const sum = (counter: keyof PurgeCounts) => results.reduce((total, result) => total + (result[counter] ?? 0), 0);
  return {
    notificationsDeleted: sum('notificationsDeleted'),
    auditLogsDeleted: sum('auditLogsDeleted'),
    remindersDeleted: sum('remindersDeleted'),
    webhookAttemptsDeleted: sum('webhookAttemptsDeleted'),
    webhookDeliveriesDeleted: sum('webhookDeliveriesDeleted'),
    eventsDeleted: sum('eventsDeleted'),
  };
}

/**
 * The Schedule's options (the task queue comes from configuration): every day at 02:00 UTC, a
 * run that would overlap one still running is skipped, and a missed run is caught up within an hour.
 */
export function dailyCleanupScheduleOptions(taskQueue: string) {
  return {
    scheduleId: dailyCleanupScheduleId,
    spec: { calendars: [{ hour: 2, minute: 0, comment: 'daily at 02:00 UTC' }] },
    action: {
      type: 'startWorkflow' as const,
      workflowType: 'dailyCleanupWorkflow',
      workflowId: dailyCleanupWorkflowId,
      taskQueue,
      ...dailyCleanupMetadata(),
      typedSearchAttributes: [
        { key: TenantIdKey, value: 'platform' },
        { key: BusinessKeyKey, value: dailyCleanupWorkflowId },
        { key: FlowStatusKey, value: 'SCHEDULED' },
      ],
    },
    // A cleanup still running at the next 02:00 has more to do than one run can catch up.
    policies: { overlap: 'SKIP' as const, catchupWindow: '1 hour' },
    memo: {
      purpose:
        'Deletes finished notifications, reminders, webhook deliveries, events and audit rows past each tenant retention',
    },
  };
}
