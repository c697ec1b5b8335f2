import { ScheduleAlreadyRunning, type Client, type ScheduleOptions } from '@temporalio/client';
import type { Logger } from '../lib/logger';
import { dailyCleanupScheduleOptions } from '../workflows/cleanup.contract';
import { outboxSweepScheduleOptions } from '../workflows/event-fan-out.contract';

/** The Schedules Holdfast owns: recurring work runs as Temporal Schedules, visible and pausable beside the flows. */
export function holdfastSchedules(taskQueue: string): ScheduleOptions[] {
  return [dailyCleanupScheduleOptions(taskQueue), outboxSweepScheduleOptions(taskQueue)];
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
