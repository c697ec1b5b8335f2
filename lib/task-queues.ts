/**
 * The task queues Holdfast's work runs on, by kind. Workflows and the activities of interactive
 * flows share the base queue (TEMPORAL_TASK_QUEUE); each messaging provider, reports and exports
 * get their own, so a slow provider or a large export never takes an offer's worker slot. Every
 * name derives from the base, so one base names a whole deployment (and each test stack its own).
 *
 * Pure: workflows import it to route their activities.
 */
export const taskQueueKinds = ['interactive', 'email', 'sms', 'whatsapp', 'reports', 'exports'] as const;
export type TaskQueueKind = (typeof taskQueueKinds)[number];

/** The queue of `kind` under the deployment's base queue; `interactive` is the base itself. */
export function taskQueueFor(base: string, kind: TaskQueueKind): string {
  return kind === 'interactive' ? base : `${base}-${kind}`;
}

/**
 * What one worker process gives each queue by default. Reports run one at a time and WhatsApp
 * five at a time, as the queues they replace did; a rate (activities per second, across all
 * workers of the queue) is left to configuration, since it is the provider's contract.
 */
export const defaultQueueCapacity: Record<TaskQueueKind, { concurrency: number; ratePerSecond?: number }> = {
  interactive: { concurrency: 50 },
  email: { concurrency: 10 },
  sms: { concurrency: 5 },
  whatsapp: { concurrency: 5 },
  reports: { concurrency: 1 },
  exports: { concurrency: 2 },
};
