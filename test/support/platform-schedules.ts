import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { holdfastSchedules } from '../../workers/schedules';

/**
 * Deletes the platform's Schedules, whose IDs are fixed on the server every test file shares (hold
 * `holdExclusive('platform-schedules')` around it); one already gone is fine.
 */
export async function deletePlatformSchedules(client: Client, taskQueue: string): Promise<void> {
  for (const { scheduleId } of holdfastSchedules(taskQueue)) {
    await client.schedule
      .getHandle(scheduleId)
      .delete()
      .catch((error: unknown) => {
        if (!(error instanceof ScheduleNotFoundError)) throw error;
      });
  }
}
