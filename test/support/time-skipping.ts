import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkerOptions, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleWorkflows, createTimeSkippingEnvironment } from './stack';

export interface TimeSkippingWorkers {
  /** The time-skipping environment; available inside tests (it starts in `beforeAll`). */
  readonly env: TestWorkflowEnvironment;
  /**
   * Runs `body` while a fresh worker serves `activities` and the bundled workflows on a task
   * queue of its own (`<taskQueuePrefix>-<uuid>`), so tests never share a worker.
   */
  runWithWorker<T>(
    activities: WorkerOptions['activities'],
    taskQueuePrefix: string,
    body: (taskQueue: string) => Promise<T>,
  ): Promise<T>;
}

/**
 * Registers `beforeAll`/`afterAll` hooks for the enclosing `describe`: one time-skipping test
 * server and one workflow bundle per file, torn down afterwards.
 */
export function useTimeSkippingWorkers(): TimeSkippingWorkers {
  let env: TestWorkflowEnvironment | undefined;
  let bundle: WorkflowBundleWithSourceMap | undefined;

  beforeAll(async () => {
    [env, bundle] = await Promise.all([createTimeSkippingEnvironment(), bundleWorkflows()]);
  });

  afterAll(async () => {
    await env?.teardown();
  });

  const started = (): { env: TestWorkflowEnvironment; bundle: WorkflowBundleWithSourceMap } => {
    if (!env || !bundle) throw new Error('the time-skipping environment is not started: use it inside a test');
    return { env, bundle };
  };

  return {
    get env() {
      return started().env;
    },
    async runWithWorker(activities, taskQueuePrefix, body) {
      const { env, bundle } = started();
      const taskQueue = `${taskQueuePrefix}-${randomUUID()}`;
      const worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue,
        workflowBundle: bundle,
        activities,
      });
      return worker.runUntil(() => body(taskQueue));
    },
  };
}
