import {
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { sumPurgeCounts, type DailyCleanupResult, type PurgeResult } from './cleanup.contract';
import { PermanentFailures } from './errors';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from './search-attributes';
import { activitySummary, finishedDetails } from './summaries';

// Data the database refuses fails the same way on every attempt: never retried.
const { listRetentionTargets } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: PermanentFailures.step },
});

const { purgeExpiredRecords, expireFiles, recordDeadLetters } = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  // A batch of deletes takes seconds; a silent minute means the worker died, so retry elsewhere.
  heartbeatTimeout: '1 minute',
  retry: {
    initialInterval: '10 seconds',
    backoffCoefficient: 2,
    maximumAttempts: 5,
    nonRetryableErrorTypes: PermanentFailures.step,
  },
});

export * from './cleanup.contract';

/** How far back the dead-letter record looks for closed runs: two days, for a day's overlap. */
const DEAD_LETTER_LOOKBACK_MS = 2 * 24 * 60 * 60 * 1000;

/**
 * Deletes what each tenant's retention period has run out on: finished notifications, closed
 * reminders, webhook attempts and finished deliveries, published events whose deliveries have all
 * finished, and audit rows. Anything still waiting or running keeps its rows. Then the files of
 * reports and exports past their expiry are removed and their rows marked EXPIRED. Last, every
 * tenant's failures are recorded in the dead-letter inbox, read or not.
 * Started daily at 02:00 UTC by the `holdfast:daily-cleanup` Schedule (workflows/cleanup.contract.ts).
 *
 * Tenants are purged one after another: cleanup is background work and must not compete
 * with live flows for database connections.
 */
export async function dailyCleanupWorkflow(): Promise<DailyCleanupResult> {
  const asOf = workflowInfo().startTime.toISOString();
  upsertSearchAttributes([
    { key: TenantIdKey, value: 'platform' },
    { key: BusinessKeyKey, value: `cleanup:${asOf.slice(0, 10)}` },
    { key: FlowStatusKey, value: 'RUNNING' },
  ]);

  setCurrentDetails('listing tenants and their retention');
  const targets = await listRetentionTargets();
  const perTenant: PurgeResult[] = [];
  for (const [index, target] of targets.entries()) {
    setCurrentDetails(`purging tenant ${index + 1} of ${targets.length}`);
    perTenant.push(
      await purgeExpiredRecords.executeWithOptions(
        { summary: activitySummary.purgeTenant(index + 1, targets.length) },
        [{ ...target, asOf }],
      ),
    );
  }
  setCurrentDetails('expiring report and export files, recording dead letters');

  // Runs started before report and export files existed replay without this step.
  const files = patched('expire-report-and-export-files') ? await expireFiles({ asOf }) : undefined;

  // Every tenant's failures become dead-letter rows even if nobody opens the inbox before Temporal's
  // retention deletes the runs. Runs that closed in the last two days: a day's overlap covers a
  // cleanup that ran late or was skipped. Runs started before this step replay without it.
  const deadLetters = patched('record-dead-letters')
    ? await recordDeadLetters({ closedSince: new Date(Date.parse(asOf) - DEAD_LETTER_LOOKBACK_MS).toISOString() })
    : undefined;

  const result: DailyCleanupResult = {
    asOf,
    tenants: targets.length,
    ...sumPurgeCounts(perTenant),
    perTenant,
    ...(files ? { files } : {}),
    ...(deadLetters ? { deadLetters } : {}),
  };
  upsertSearchAttributes([{ key: FlowStatusKey, value: 'COMPLETED' }]);
  setCurrentDetails(finishedDetails('COMPLETED'));
  log.info('Daily cleanup finished', { ...result, perTenant: undefined });
  return result;
}
