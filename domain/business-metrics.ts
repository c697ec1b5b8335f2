/**
 * Holdfast's business metrics: what the workflows (workflows/metrics.ts) and the export activity
 * (activities/metrics.ts) emit through the SDK's metric meters, and the worker's runtime exports
 * on WORKER_METRICS_PORT under exactly these names (no `temporal_` prefix, `_total` as written).
 *
 * Labels name flows, channels, steps and outcomes only: never a tenant, a person or an ID, so
 * every series stays bounded and carries no personal data. The SDK adds `namespace` and
 * `taskQueue`, plus `workflowType` (workflow metrics) or `activityType` (activity metrics).
 * Pure data: the dashboard and alert tests check their expressions against it.
 */
export const BusinessMetric = {
  offersSent: 'holdfast_offers_sent_total',
  holdsExpired: 'holdfast_holds_expired_total',
  cascadeDuration: 'holdfast_cascade_duration_seconds',
  vendorFallbacks: 'holdfast_vendor_fallbacks_total',
  onboardingFailures: 'holdfast_onboarding_failures_total',
  notifications: 'holdfast_notifications_total',
  webhookDeliveries: 'holdfast_webhook_deliveries_total',
  flowsCompleted: 'holdfast_flows_completed_total',
  exportRows: 'holdfast_exports_rows_total',
} as const;

export type BusinessMetricName = (typeof BusinessMetric)[keyof typeof BusinessMetric];

export interface BusinessMetricDefinition {
  type: 'counter' | 'histogram';
  /** Holdfast's own labels. */
  labels: readonly string[];
  /** Whether a workflow or an activity emits it, which decides the SDK's extra label. */
  emittedBy: 'workflow' | 'activity';
}

export const businessMetrics: Readonly<Record<BusinessMetricName, BusinessMetricDefinition>> = {
  holdfast_offers_sent_total: { type: 'counter', labels: ['flow'], emittedBy: 'workflow' },
  holdfast_holds_expired_total: { type: 'counter', labels: ['flow'], emittedBy: 'workflow' },
  holdfast_cascade_duration_seconds: { type: 'histogram', labels: ['outcome'], emittedBy: 'workflow' },
  holdfast_vendor_fallbacks_total: { type: 'counter', labels: ['flow', 'outcome'], emittedBy: 'workflow' },
  holdfast_onboarding_failures_total: { type: 'counter', labels: ['step'], emittedBy: 'workflow' },
  holdfast_notifications_total: { type: 'counter', labels: ['channel', 'outcome'], emittedBy: 'workflow' },
  holdfast_webhook_deliveries_total: { type: 'counter', labels: ['outcome'], emittedBy: 'workflow' },
  holdfast_flows_completed_total: { type: 'counter', labels: ['flow', 'outcome'], emittedBy: 'workflow' },
  holdfast_exports_rows_total: { type: 'counter', labels: ['format'], emittedBy: 'activity' },
};

/**
 * Bucket bounds of the cascade histogram, in seconds: a cascade lasts one hold (minutes) when the
 * first candidate answers, and many holds (hours, days) when the list is long. The runtime's
 * default bounds (50 to 10 000) would put every quick cascade in one bucket. The worker's runtime
 * applies them (workers/main.ts installRuntime).
 */
export const histogramBuckets: Readonly<Record<string, number[]>> = {
  holdfast_cascade_duration_seconds: [60, 300, 900, 1_800, 3_600, 7_200, 14_400, 43_200, 86_400, 259_200, 604_800],
};
