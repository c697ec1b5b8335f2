import { Context } from '@temporalio/activity';
import { BusinessMetric } from '../domain/business-metrics';

/**
 * Business metrics an activity emits, through the activity's metric meter (exported by the
 * worker's runtime with `activityType`, `namespace` and `taskQueue` added; see
 * domain/business-metrics.ts). Counted where the work is done, not in the workflow, because only
 * the activity knows how many rows it wrote.
 */

/**
 * An export's file is complete with `rows` rows. Counted once per completed file: an attempt
 * that resumes from a checkpoint counts nothing until the file is finished, and the retry that
 * finds the export already completed returns before this, so no row is counted twice.
 */
export function countExportedRows(rows: number, format: string): void {
  if (rows <= 0) return;
  Context.current()
    .metricMeter.createCounter(
      BusinessMetric.exportRows,
      undefined,
      'Rows written to completed export files, by format',
    )
    .add(rows, { format: format.toLowerCase() });
}
