import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel } from '@temporalio/worker';
import { createActivities, fileJobSettings, type ActivityDeps } from '../activities';
import { createConfiguredBilling } from '../activities/billing';
import { createMessagingTransports } from '../activities/transports';
import { histogramBuckets } from '../domain/business-metrics';
import { ConfigError, exitOnConfigError, loadConfigOrExit, requireDatabaseUrl, type Config } from '../lib/config';
import { createDataConverter } from '../lib/data-converter';
import { createConfiguredCodec } from '../lib/payload-key-scopes';
import { createFileStore } from '../lib/file-store';
import { createPrismaClient, databaseConnectionLost } from '../lib/db';
import { settleWithin } from '../lib/deadline';
import { createLogger, type Logger } from '../lib/logger';
import { temporalClientOptions, temporalConnectionOptions } from '../lib/temporal';
import { taskQueueFor, taskQueueKinds, type TaskQueueKind } from '../lib/task-queues';
import { tenantFairnessLookup } from '../lib/tenant-fairness';
import { syncSchedules } from './schedules';
import { workflowCodeOption } from './workflow-bundle';

const pinoLevels: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

// The SDK filters before pino does: pass LOG_LEVEL down, or its debug lines never reach pino.
const sdkLevels: Record<Config['logLevel'], LogLevel> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
  fatal: 'ERROR',
  silent: 'ERROR',
};

/**
 * Routes the SDK's logs (worker, workflow `log`, activity `log`) into pino and exposes the
 * SDK's metrics for Prometheus. The SDK puts workflowId and runId on workflow and activity
 * log entries, so every line of a flow can be found by its ID. Once per process.
 */
export function installRuntime(
  config: Config,
  logger: Logger,
  options: { shutdownSignals?: NodeJS.Signals[] } = {},
): void {
  Runtime.install({
    logger: new DefaultLogger(sdkLevels[config.logLevel], ({ level, message, meta }) =>
      logger[pinoLevels[level]](meta ?? {}, message),
    ),
    telemetryOptions: {
      // Holdfast's business metrics (domain/business-metrics.ts) are exported here too; the cascade
      // histogram gets bounds that fit cascades of minutes to days.
      metrics: {
        prometheus: {
          bindAddress: config.worker.metricsAddress,
          histogramBucketOverrides: { ...histogramBuckets },
        },
      },
    },
    // On these the SDK stops polling and gives in-flight activities the shutdown grace time;
    // `npm run dev` passes none and stops the worker itself, after the API.
    shutdownSignals: options.shutdownSignals ?? ['SIGINT', 'SIGTERM', 'SIGQUIT'],
  });
}

function workflowTaskSlots(worker: Worker): number | null {
  const supplier = worker.options.tuner.workflowTaskSlotSupplier;
  return supplier.type === 'fixed-size' ? supplier.numSlots : null;
}

/** The workflow tasks the SDK's worker runs at once when it is not told (`maxConcurrentWorkflowTaskExecutions`). */
const sdkDefaultWorkflowTaskSlots = 40;

/**
 * The workflow tasks to run at once: WORKER_MAX_CONCURRENT_WORKFLOW_TASKS; unset, no more than a cache it
 * is given (a task runs on a cached workflow); otherwise the SDK's default (undefined).
 */
export function workflowTaskSlotsFor(config: Config): number | undefined {
  const { maxConcurrentWorkflowTasks: tasks, maxCachedWorkflows: cached } = config.worker;
  if (tasks !== undefined) return tasks;
  return cached !== undefined && cached > 0 && cached < sdkDefaultWorkflowTaskSlots ? cached : undefined;
}

/**
 * A workflow task runs on a cached workflow. Configuration refuses more tasks than a cache it is given;
 * with the cache left to the SDK, its size is known only once the worker exists: more tasks than that
 * are refused when they were asked for, and reported when they are the SDK's own default.
 */
function checkTasksAgainstCache(config: Config, worker: Worker, hostsWorkflows: boolean, logger: Logger): void {
  const cached = worker.options.maxCachedWorkflows;
  const slots = workflowTaskSlots(worker);
  if (!hostsWorkflows || cached === 0 || slots === null || slots <= cached) return;
  const tasks = config.worker.maxConcurrentWorkflowTasks;
  if (tasks !== undefined) {
    throw new ConfigError([
      `WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: ${tasks} is more than the ${cached} workflows this worker caches (the SDK's size for its memory); lower it, or set WORKER_MAX_CACHED_WORKFLOWS`,
    ]);
  }
  logger.warn(
    { maxConcurrentWorkflowTasks: slots, maxCachedWorkflows: cached },
    "the SDK's default workflow tasks at once exceed the workflows it caches for this memory; tasks past the cache replay their history: set WORKER_MAX_CONCURRENT_WORKFLOW_TASKS or WORKER_MAX_CACHED_WORKFLOWS",
  );
}

export interface RunningWorker {
  /** The interactive worker (workflows and interactive activities), or the first one this process runs. */
  worker: Worker;
  /** One worker per kind of task queue this process serves (WORKER_QUEUES). */
  workers: Partial<Record<TaskQueueKind, Worker>>;
  /** Resolves when every worker has stopped polling, finished in-flight work and closed its connections. */
  done: Promise<void>;
  /** Asks every running worker to stop; await `done` for the drain to finish. */
  shutdown(): void;
}

/** What distinguishes the worker of one task-queue kind from another (everything but the shared parts). */
export interface QueueWorkerOptions {
  taskQueue: string;
  /** Only the interactive worker hosts workflows; the others execute activities of their queue. */
  hostsWorkflows: boolean;
  maxConcurrentActivityTaskExecutions: number;
  /** The provider's rate, enforced by the server across every worker polling the queue. */
  maxTaskQueueActivitiesPerSecond?: number;
  maxHeartbeatThrottleInterval?: string;
  defaultHeartbeatThrottleInterval?: string;
}

/** How long a connection may take to close once the workers have drained; the process is ending regardless. */
const connectionCloseWithinMs = 10_000;

/**
 * Closes a connection, or gives up on it after `connectionCloseWithinMs` with a warning: a pool still
 * waiting on a connection the database dropped mid-stop must not keep a stopping worker alive.
 */
async function closeWithin(what: string, close: () => Promise<void>, logger: Logger): Promise<void> {
  if ((await settleWithin(close(), connectionCloseWithinMs)) === 'late') {
    logger.warn(
      { connection: what, waitedMs: connectionCloseWithinMs },
      'connection did not close in time; leaving it',
    );
  }
}

/**
 * Reports and exports checkpoint their progress in heartbeats; a worker killed mid-file resumes
 * from the last one that reached the server, so they are flushed every second instead of the
 * SDK's 30 to 60.
 */
const checkpointingKinds: readonly TaskQueueKind[] = ['reports', 'exports'];

/** The options of the worker for `kind`, from WORKER_<KIND>_CONCURRENCY / _RATE and the base queue. */
export function queueWorkerOptions(config: Config, kind: TaskQueueKind): QueueWorkerOptions {
  const capacity = config.worker.capacity[kind];
  return {
    taskQueue: taskQueueFor(config.temporal.taskQueue, kind),
    hostsWorkflows: kind === 'interactive',
    maxConcurrentActivityTaskExecutions: capacity.concurrency,
    ...(capacity.ratePerSecond === undefined ? {} : { maxTaskQueueActivitiesPerSecond: capacity.ratePerSecond }),
    ...(checkpointingKinds.includes(kind)
      ? { maxHeartbeatThrottleInterval: '1 second', defaultHeartbeatThrottleInterval: '1 second' }
      : {}),
  };
}

/** The rate of each task queue that has one, by queue name (WORKER_<KIND>_RATE). */
export function queueRates(config: Config): ReadonlyMap<string, number> {
  const rates = new Map<string, number>();
  for (const kind of taskQueueKinds) {
    const { taskQueue, maxTaskQueueActivitiesPerSecond } = queueWorkerOptions(config, kind);
    if (maxTaskQueueActivitiesPerSecond !== undefined) rates.set(taskQueue, maxTaskQueueActivitiesPerSecond);
  }
  return rates;
}

/**
 * Composition root of the worker: builds the dependencies once, injects them into the
 * activities, registers the Schedules, and runs one worker per task-queue kind in WORKER_QUEUES
 * (all of them by default) over one connection, until a shutdown signal.
 */
export async function startWorker(
  config: Config,
  logger: Logger,
  overrides: Partial<ActivityDeps> = {},
): Promise<RunningWorker> {
  const ownsPrisma = overrides.prisma === undefined;
  const prisma =
    overrides.prisma ??
    createPrismaClient(requireDatabaseUrl(config), {
      maxConnections: config.databasePoolSize,
      onConnectionLost: databaseConnectionLost(logger),
    });
  const connectionOptions = temporalConnectionOptions(config.temporal);
  const connection = await NativeConnection.connect(connectionOptions);
  // Activities that start other workflows (an event's fan-out, a notification's delivery) use this client.
  const clientConnection = await Connection.connect(connectionOptions);
  const codec = createConfiguredCodec(config.payloads, prisma);
  const client = new Client({ connection: clientConnection, ...temporalClientOptions(config.temporal, codec) });
  const closeConnections = () =>
    Promise.allSettled([
      closeWithin('Temporal worker connection', () => connection.close(), logger),
      closeWithin('Temporal client connection', () => clientConnection.close(), logger),
      ownsPrisma ? closeWithin('database pool', () => prisma.$disconnect(), logger) : undefined,
    ]);

  const workers: Partial<Record<TaskQueueKind, Worker>> = {};
  try {
    // Schedules start workflows; the deployment that hosts them registers them.
    if (config.worker.syncSchedules && config.worker.queues.includes('interactive')) {
      await syncSchedules(client, config.temporal.taskQueue, logger);
    }

    // Every worker registers the whole activity set: a worker only receives its queue's tasks,
    // and a workflow names the queue of each activity it schedules.
    const activities = createActivities({
      prisma,
      ...createMessagingTransports(config),
      offerTokenSecret: config.offerTokenSecret,
      publicBaseUrl: config.api.publicBaseUrl,
      billing: createConfiguredBilling(config.billing),
      onboarding: { billingPrices: config.billing.prices, ...config.onboarding },
      temporal: {
        client,
        taskQueue: config.temporal.taskQueue,
        fairnessOf: tenantFairnessLookup(prisma, config.worker.fairnessWeights),
      },
      webhooks: config.webhooks,
      files: createFileStore(config.files.store),
      fileJobs: fileJobSettings(config),
      messageRates: queueRates(config),
      ...overrides,
    });
    const dataConverter = createDataConverter(codec);

    for (const kind of config.worker.queues) {
      const { hostsWorkflows, ...options } = queueWorkerOptions(config, kind);
      workers[kind] = await Worker.create({
        connection,
        namespace: config.temporal.namespace,
        ...options,
        ...(hostsWorkflows ? workflowCodeOption(config.worker.workflowBundlePath) : {}),
        ...(hostsWorkflows && config.worker.maxCachedWorkflows !== undefined
          ? { maxCachedWorkflows: config.worker.maxCachedWorkflows }
          : {}),
        ...(hostsWorkflows && workflowTaskSlotsFor(config) !== undefined
          ? { maxConcurrentWorkflowTaskExecutions: workflowTaskSlotsFor(config) }
          : {}),
        activities,
        dataConverter,
        // In-flight activities get this long to finish after a shutdown signal, then they are cancelled.
        shutdownGraceTime: config.worker.shutdownGrace,
      });
      checkTasksAgainstCache(config, workers[kind], hostsWorkflows, logger);
    }
  } catch (error) {
    // A worker holds the native connection from its creation on, and the connection refuses to
    // close while any does: finalise the workers already created (run and stop at once) first.
    await Promise.allSettled(Object.values(workers).map((created) => created.runUntil(Promise.resolve())));
    await closeConnections();
    throw error;
  }

  const running = Object.values(workers);
  const shutdown = () => {
    for (const worker of running) {
      // Only a worker still running can be asked to stop; one that already stopped is left alone.
      if (worker.getState() === 'RUNNING') worker.shutdown();
    }
  };
  // One worker failing stops the others: a process missing a queue must not look healthy.
  const runs = running.map((worker) =>
    worker.run().catch((error: unknown) => {
      shutdown();
      throw error;
    }),
  );
  // Logged once every worker polls: a shutdown signal from here on reaches all of them.
  for (const [kind, worker] of Object.entries(workers) as [TaskQueueKind, Worker][]) {
    const options = queueWorkerOptions(config, kind);
    logger.info(
      {
        kind,
        taskQueue: worker.options.taskQueue,
        namespace: config.temporal.namespace,
        concurrency: options.maxConcurrentActivityTaskExecutions,
        ratePerSecond: options.maxTaskQueueActivitiesPerSecond ?? null,
        hostsWorkflows: options.hostsWorkflows,
        // The workflow cache in force (WORKER_MAX_CACHED_WORKFLOWS or the SDK's memory-based default).
        maxCachedWorkflows: options.hostsWorkflows ? worker.options.maxCachedWorkflows : null,
        // The workflow tasks it runs at once (WORKER_MAX_CONCURRENT_WORKFLOW_TASKS or the SDK's default).
        maxConcurrentWorkflowTasks: options.hostsWorkflows ? workflowTaskSlots(worker) : null,
        metricsAddress: config.worker.metricsAddress,
      },
      'worker started',
    );
  }

  // Connections close only after every worker has drained, and the first failure is reported.
  const done = Promise.allSettled(runs).then(async (outcomes) => {
    logger.info('worker drained; closing its connections');
    await closeConnections();
    logger.info('worker stopped');
    const failure = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failure) throw failure.reason;
  });
  return { worker: workers.interactive ?? running[0]!, workers, done, shutdown };
}

if (require.main === module) {
  const config = loadConfigOrExit();
  const logger = createLogger(config, 'worker');
  installRuntime(config, logger);
  startWorker(config, logger)
    .then(({ done }) => done)
    .then(
      () => process.exit(0),
      (error: unknown) => {
        // Settings only the running worker can check: the same exit as for any other invalid setting.
        exitOnConfigError(error);
        logger.fatal({ err: error }, 'worker failed');
        process.exit(1);
      },
    );
}
