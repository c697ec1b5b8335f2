/**
 * The Temporal SDK metrics that deploy/prometheus/alerts.yml and the Grafana dashboard use, as
 * the worker's runtime exports them: counters without `_total`, latencies as millisecond
 * histograms. test/integration/business-metrics.test.ts checks each against a real scrape, and
 * test/unit/deploy-observability.test.ts checks that the rules and panels name nothing else.
 */
export const sdkMetrics = {
  temporal_workflow_completed: 'counter',
  temporal_workflow_failed: 'counter',
  temporal_activity_execution_failed: 'counter',
  temporal_activity_schedule_to_start_latency: 'histogram',
  temporal_workflow_task_schedule_to_start_latency: 'histogram',
  temporal_worker_task_slots_available: 'gauge',
  temporal_num_pollers: 'gauge',
} as const satisfies Record<string, 'counter' | 'gauge' | 'histogram'>;

/**
 * The labels of each SDK metric above that a rule or a panel may group or filter by, as the
 * worker's runtime exports them (snake_case, unlike the `taskQueue` it adds to Holdfast's own):
 * test/integration/business-metrics.test.ts checks that a real scrape carries each one.
 */
export const sdkMetricLabels = {
  temporal_workflow_completed: ['namespace', 'task_queue', 'workflow_type'],
  temporal_workflow_failed: ['namespace', 'task_queue', 'workflow_type'],
  temporal_activity_execution_failed: ['namespace', 'task_queue', 'activity_type', 'workflow_type'],
  temporal_activity_schedule_to_start_latency: ['namespace', 'task_queue'],
  temporal_workflow_task_schedule_to_start_latency: ['namespace', 'task_queue'],
  temporal_worker_task_slots_available: ['namespace', 'task_queue', 'worker_type'],
  temporal_num_pollers: ['namespace', 'task_queue', 'poller_type'],
} as const satisfies Record<keyof typeof sdkMetrics, readonly string[]>;

/**
 * The labels Prometheus adds to every sample it scrapes (deploy/prometheus/prometheus.yml): the
 * job and the target, and for workers the compose service the target was found under.
 */
export const scrapeLabels = ['job', 'instance', 'service'] as const;

/** The labels the SDK adds to Holdfast's own metrics (domain/business-metrics.ts). */
export const businessMetricSdkLabels = {
  workflow: ['namespace', 'taskQueue', 'workflowType'],
  activity: ['namespace', 'taskQueue', 'activityType'],
} as const;

/** The sample names a metric of `type` shows in a scrape: a histogram's buckets, sum and count. */
export function sampleNamesOf(name: string, type: string): string[] {
  return type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
}
