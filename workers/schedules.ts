import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import type { Logger } from '../lib/logger';
import { dailyCleanupScheduleId } from '../workflows/ids';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from '../workflows/search-attributes';

/** The Schedules Holdfast owns: recurring work runs as Temporal Schedules, visible and pausable beside the flows. */
export function holdfastSchedules(taskQueue: string): ScheduleOptions[] {
  return [
    {
      scheduleId: dailyCleanupScheduleId,
      spec: { calendars: [{ hour: 2, minute: 0, comment: 'daily at 02:00 UTC' }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'dailyCleanupWorkflow',
        workflowId: 'cleanup:daily',
        taskQueue,
        typedSearchAttributes: [
          { key: TenantIdKey, value: 'platform' },
          { key: BusinessKeyKey, value: 'cleanup:daily' },
          { key: FlowStatusKey, value: 'SCHEDULED' },
        ],
      },
      // A cleanup still running at the next 02:00 has more to do than one run can catch up.
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
      memo: { purpose: 'Deletes notifications and audit rows past each tenant retention' },
    },
  ];
}

/**
 * Creates each Schedule, or updates it in place when it exists, so running this at every
 * worker start (or `npm run schedules:sync`) converges on the code's definition.
 */
export async function syncSchedules(client: Client, taskQueue: string, logger: Logger): Promise<void> {
  for (const options of holdfastSchedules(taskQueue)) {
    try {
      await client.schedule.create(options);
      logger.info({ scheduleId: options.scheduleId }, 'schedule created');
    } catch (error) {
      if (!(error instanceof ScheduleAlreadyRunning)) throw error;
      await client.schedule.getHandle(options.scheduleId).update((previous) => ({
        ...previous,
        spec: options.spec,
        action: options.action,
        policies: { ...previous.policies, ...options.policies },
      }));
      logger.info({ scheduleId: options.scheduleId }, 'schedule updated');
    }
  }
}
