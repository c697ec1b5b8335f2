import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { createConfiguredBilling } from '../activities/billing';
import { createMessagingTransports } from '../activities/transports';
import { loadConfigOrExit, requireDatabaseUrl, type Config } from '../lib/config';
import { createDataConverter } from '../lib/data-converter';
import { createPrismaClient } from '../lib/db';
import { createLogger, type Logger } from '../lib/logger';
import { temporalClientOptions, temporalConnectionOptions } from '../lib/temporal';
import { syncSchedules } from './schedules';

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
      metrics: { prometheus: { bindAddress: `0.0.0.0:${config.worker.metricsPort}` } },
    },
    // On these the SDK stops polling and gives in-flight activities the shutdown grace time;
    // `npm run dev` passes none and stops the worker itself, after the API.
    shutdownSignals: options.shutdownSignals ?? ['SIGINT', 'SIGTERM', 'SIGQUIT'],
  });
}

export interface RunningWorker {
  worker: Worker;
  /** Resolves when the worker has stopped polling, finished in-flight work and closed its connections. */
  done: Promise<void>;
}

/**
 * Composition root of the worker: builds the dependencies once, injects them into the
 * activities, registers the Schedules, and runs until a shutdown signal.
 */
export async function startWorker(
  config: Config,
  logger: Logger,
  overrides: Partial<ActivityDeps> = {},
): Promise<RunningWorker> {
  const ownsPrisma = overrides.prisma === undefined;
  const prisma = overrides.prisma ?? createPrismaClient(requireDatabaseUrl(config));
  const connectionOptions = temporalConnectionOptions(config.temporal);
  const connection = await NativeConnection.connect(connectionOptions);
  // Activities that start other workflows (an event's fan-out, a notification's delivery) use this client.
  const clientConnection = await Connection.connect(connectionOptions);
  const client = new Client({ connection: clientConnection, ...temporalClientOptions(config.temporal) });

  if (config.worker.syncSchedules) {
    await syncSchedules(client, config.temporal.taskQueue, logger);
  }

  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowsPath: require.resolve('../workflows'),
    activities: createActivities({
      prisma,
      ...createMessagingTransports(config),
      offerTokenSecret: config.offerTokenSecret,
      publicBaseUrl: config.api.publicBaseUrl,
      billing: createConfiguredBilling(config.billing),
      onboarding: { billingPrices: config.billing.prices, ...config.onboarding },
      temporal: { client, taskQueue: config.temporal.taskQueue },
      webhooks: config.webhooks,
      ...overrides,
    }),
    dataConverter: createDataConverter(),
    // In-flight activities get this long to finish after a shutdown signal, then they are cancelled.
    shutdownGraceTime: config.worker.shutdownGrace,
  });
  logger.info(
    {
      taskQueue: config.temporal.taskQueue,
      namespace: config.temporal.namespace,
      metricsPort: config.worker.metricsPort,
    },
    'worker started',
  );

  const done = worker.run().finally(async () => {
    await Promise.allSettled([
      connection.close(),
      clientConnection.close(),
      ownsPrisma ? prisma.$disconnect() : undefined,
    ]);
    logger.info('worker stopped');
  });
  return { worker, done };
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
        logger.fatal({ err: error }, 'worker failed');
        process.exit(1);
      },
    );
}
