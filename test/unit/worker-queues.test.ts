import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../lib/config';
import { taskQueueKinds } from '../../lib/task-queues';
import { queueRates, queueWorkerOptions, workflowTaskSlotsFor } from '../../workers/main';

const configOf = (env: Record<string, string> = {}) =>
  loadConfig({
    APP_ENV: 'development',
    HOLDFAST_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'holdfast-worker-queues-')),
    TEMPORAL_TASK_QUEUE: 'holdfast',
    ...env,
  });

const problemsOf = (env: Record<string, string>): string => {
  try {
    configOf(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.join('\n');
    throw error;
  }
  throw new Error('expected a ConfigError');
};

describe('the workflow tasks a worker runs at once', () => {
  it('is WORKER_MAX_CONCURRENT_WORKFLOW_TASKS when set', () => {
    expect(
      workflowTaskSlotsFor(
        configOf({ WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '10', WORKER_MAX_CACHED_WORKFLOWS: '100' }),
      ),
    ).toBe(10);
  });

  it("unset, is no more than a cache smaller than the SDK's 40 tasks: each task runs on a cached workflow", () => {
    expect(workflowTaskSlotsFor(configOf({ WORKER_MAX_CACHED_WORKFLOWS: '5' }))).toBe(5);
  });

  it("unset, is the SDK's default with a larger cache, no cache, or the SDK's own cache", () => {
    expect(workflowTaskSlotsFor(configOf({ WORKER_MAX_CACHED_WORKFLOWS: '100' }))).toBeUndefined();
    expect(workflowTaskSlotsFor(configOf({ WORKER_MAX_CACHED_WORKFLOWS: '0' }))).toBeUndefined();
    expect(workflowTaskSlotsFor(configOf())).toBeUndefined();
  });
});

describe('the workers a process runs, by task-queue kind', () => {
  it('serves every kind by default, and only the listed kinds when WORKER_QUEUES names them', () => {
    expect(configOf().worker.queues).toEqual([...taskQueueKinds]);
    expect(configOf({ WORKER_QUEUES: 'all' }).worker.queues).toEqual([...taskQueueKinds]);
    expect(configOf({ WORKER_QUEUES: 'exports' }).worker.queues).toEqual(['exports']);
    expect(configOf({ WORKER_QUEUES: ' email , sms,email ' }).worker.queues).toEqual(['email', 'sms']);
  });

  it('rejects an unknown kind by name', () => {
    expect(problemsOf({ WORKER_QUEUES: 'email,fax' })).toMatch(/WORKER_QUEUES.*'fax'/);
  });

  it('puts each kind on its own queue under the base, and only the interactive worker hosts workflows', () => {
    const config = configOf({ TEMPORAL_TASK_QUEUE: 'acme' });

    const byKind = Object.fromEntries(taskQueueKinds.map((kind) => [kind, queueWorkerOptions(config, kind)]));

    expect(byKind.interactive).toMatchObject({ taskQueue: 'acme', hostsWorkflows: true });
    expect(byKind.email).toMatchObject({ taskQueue: 'acme-email', hostsWorkflows: false });
    expect(byKind.sms).toMatchObject({ taskQueue: 'acme-sms', hostsWorkflows: false });
    expect(byKind.whatsapp).toMatchObject({ taskQueue: 'acme-whatsapp', hostsWorkflows: false });
    expect(byKind.reports).toMatchObject({ taskQueue: 'acme-reports', hostsWorkflows: false });
    expect(byKind.exports).toMatchObject({ taskQueue: 'acme-exports', hostsWorkflows: false });
  });

  it('takes the default concurrency per kind, as the replaced queues had it, and no rate', () => {
    const config = configOf();

    expect(queueWorkerOptions(config, 'reports').maxConcurrentActivityTaskExecutions).toBe(1);
    expect(queueWorkerOptions(config, 'whatsapp').maxConcurrentActivityTaskExecutions).toBe(5);
    for (const kind of taskQueueKinds) {
      expect(queueWorkerOptions(config, kind)).not.toHaveProperty('maxTaskQueueActivitiesPerSecond');
    }
  });

  it('applies WORKER_<KIND>_CONCURRENCY and WORKER_<KIND>_RATE to that kind only', () => {
    const config = configOf({ WORKER_SMS_CONCURRENCY: '3', WORKER_SMS_RATE: '2.5', WORKER_EMAIL_CONCURRENCY: '40' });

    expect(queueWorkerOptions(config, 'sms')).toMatchObject({
      maxConcurrentActivityTaskExecutions: 3,
      maxTaskQueueActivitiesPerSecond: 2.5,
    });
    expect(queueWorkerOptions(config, 'email')).toMatchObject({ maxConcurrentActivityTaskExecutions: 40 });
    expect(queueWorkerOptions(config, 'email')).not.toHaveProperty('maxTaskQueueActivitiesPerSecond');
    expect(queueWorkerOptions(config, 'whatsapp').maxConcurrentActivityTaskExecutions).toBe(5);
    // The messages that waited out a database outage run again at the same rate.
    expect(queueRates(config)).toEqual(new Map([[`${config.temporal.taskQueue}-sms`, 2.5]]));
  });

  it('rejects a concurrency below one and a rate that is not positive', () => {
    const problems = problemsOf({ WORKER_EXPORTS_CONCURRENCY: '0', WORKER_WHATSAPP_RATE: '-1' });

    expect(problems).toMatch(/WORKER_EXPORTS_CONCURRENCY/);
    expect(problems).toMatch(/WORKER_WHATSAPP_RATE/);
  });

  it('flushes heartbeats every second on the reports and exports queues only, so a restart resumes near where it stopped', () => {
    const config = configOf();

    for (const kind of ['reports', 'exports'] as const) {
      expect(queueWorkerOptions(config, kind)).toMatchObject({
        maxHeartbeatThrottleInterval: '1 second',
        defaultHeartbeatThrottleInterval: '1 second',
      });
    }
    for (const kind of ['interactive', 'email', 'sms', 'whatsapp'] as const) {
      expect(queueWorkerOptions(config, kind)).not.toHaveProperty('maxHeartbeatThrottleInterval');
    }
  });
});
