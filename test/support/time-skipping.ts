import { randomUUID } from 'node:crypto';
import type { WorkflowHandleWithFirstExecutionRunId, WorkflowStartOptions } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkerOptions, type WorkflowBundle } from '@temporalio/worker';
import type { Workflow } from '@temporalio/workflow';
import { orderRoutingWorkflow } from '../../workflows/order-routing';
import { orderRoutingId } from '../../workflows/order-routing.contract';
import { waitlistCascadeWorkflow } from '../../workflows/waitlist-cascade';
import { waitlistCascadeId } from '../../workflows/waitlist-cascade.contract';
import { bundleWorkflows, createTimeSkippingEnvironment } from './stack';
import { terminateWhenIdle } from './workflow-handles';

/** One run to start: the workflow, its business-keyed ID and its arguments. */
export interface WorkflowStart<W extends Workflow> {
  workflow: W;
  workflowId: string;
  args: Parameters<W>;
  /** Search attributes set at start, as the route that starts this flow sets them (none: the workflow sets its own). */
  typedSearchAttributes?: WorkflowStartOptions['typedSearchAttributes'];
  /** Runs after `body`, before the run is terminated (e.g. opening a fake's gates so that it can go idle). */
  beforeTerminate?: () => void;
}

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
  /**
   * Starts `start.workflow` on a fresh worker serving `activities` (as {@link runWithWorker}) and runs
   * `body` with its handle; afterwards terminates the run if it is still going, once it is idle, so
   * that no run holds the shared server's clock back.
   */
  runWorkflow<W extends Workflow, T>(
    activities: WorkerOptions['activities'],
    taskQueuePrefix: string,
    start: WorkflowStart<W>,
    body: (handle: WorkflowHandleWithFirstExecutionRunId<W>) => Promise<T>,
  ): Promise<T>;
}

/** A new order's routing run for `tenantId`, under its business-keyed ID. */
export function orderRoutingStart(
  tenantId: string,
  orderId = randomUUID(),
): WorkflowStart<typeof orderRoutingWorkflow> {
  return {
    workflow: orderRoutingWorkflow,
    workflowId: orderRoutingId(tenantId, orderId),
    args: [{ tenantId, orderId }],
  };
}

/** A new slot's waitlist cascade for `tenantId`, under its business-keyed ID. */
export function waitlistCascadeStart(
  tenantId: string,
  slotId = randomUUID(),
): WorkflowStart<typeof waitlistCascadeWorkflow> {
  return {
    workflow: waitlistCascadeWorkflow,
    workflowId: waitlistCascadeId(tenantId, slotId),
    args: [{ tenantId, slotId }],
  };
}

/**
 * Registers `beforeAll`/`afterAll` hooks for the enclosing `describe`: one time-skipping test
 * server and one workflow bundle per file, torn down afterwards.
 */
export function useTimeSkippingWorkers(): TimeSkippingWorkers {
  let env: TestWorkflowEnvironment | undefined;
  let bundle: WorkflowBundle | undefined;

  beforeAll(async () => {
    [env, bundle] = await Promise.all([createTimeSkippingEnvironment(), bundleWorkflows()]);
  });

  afterAll(async () => {
    await env?.teardown();
  });

  const started = (): { env: TestWorkflowEnvironment; bundle: WorkflowBundle } => {
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
        dataConverter: env.client.options.dataConverter,
        activities,
      });
      return worker.runUntil(() => body(taskQueue));
    },
    runWorkflow<W extends Workflow, T>(
      activities: WorkerOptions['activities'],
      taskQueuePrefix: string,
      { workflow, workflowId, args, typedSearchAttributes, beforeTerminate }: WorkflowStart<W>,
      body: (handle: WorkflowHandleWithFirstExecutionRunId<W>) => Promise<T>,
    ): Promise<T> {
      return this.runWithWorker(activities, taskQueuePrefix, async (taskQueue) => {
        // The SDK types the options per workflow; for a generic one it cannot check args against them.
        const options = { taskQueue, workflowId, args, typedSearchAttributes } as unknown as WorkflowStartOptions<W>;
        const handle = (await started().env.client.workflow.start(
          workflow,
          options,
        )) as WorkflowHandleWithFirstExecutionRunId<W>;
        try {
          return await body(handle);
        } finally {
          beforeTerminate?.();
          await terminateWhenIdle(handle);
        }
      });
    },
  };
}
