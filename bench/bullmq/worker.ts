import http from 'node:http';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import nodemailer from 'nodemailer';
import { loadConfigOrExit, requireDatabaseUrl, type Config } from '../../lib/config';
import { createPrismaClient } from '../../lib/db';
import { createLogger, type Logger } from '../../lib/logger';
import { createBaselineCascade, UndeliverableMessage } from './cascade';
import {
  cascadeConcurrencyOf,
  Concurrency,
  enqueueCascade,
  escalationJobId,
  expireHoldJobId,
  expiryModeOf,
  jobOptions,
  JobName,
  pollEveryMsOf,
  QueueName,
  redisConnection,
  redisUrlOf,
  type CascadeJobData,
  type ExpireHoldJobData,
  type ExpiryMode,
  type NotificationJobData,
} from './queues';

/**
 * The background worker of the BullMQ baseline: the seed's `backgroundWorker.ts`. It processes the
 * `notification-cascade`, `expired-holds` and `notifications` queues, and expires holds either
 * with the seed's repeatable job (BULL_EXPIRY=poll, every BULL_POLL_EVERY_MS, default a minute) or
 * with one delayed job per hold (BULL_EXPIRY=delay).
 *
 * Environment: Holdfast's (lib/config.ts: DATABASE_URL, SMTP_URL, MAIL_FROM, PUBLIC_BASE_URL, the
 * dev secrets) plus REDIS_URL, BULL_EXPIRY, BULL_POLL_EVERY_MS and BULL_WORKER_HEALTH_PORT (an
 * HTTP port answering 200 once the workers run, for the bench's readiness check).
 */

export interface BaselineWorkerSettings {
  redisUrl: string;
  expiry: ExpiryMode;
  pollEveryMs: number;
  /** notification-cascade's concurrency (the seed's 3 unless BULL_CASCADE_CONCURRENCY says otherwise). */
  cascadeConcurrency: number;
  healthPort?: number;
}

export interface RunningBaselineWorker {
  close(): Promise<void>;
}

export function baselineWorkerSettings(env: NodeJS.ProcessEnv): BaselineWorkerSettings {
  const healthPort = env.BULL_WORKER_HEALTH_PORT ? Number(env.BULL_WORKER_HEALTH_PORT) : undefined;
  return {
    redisUrl: redisUrlOf(env),
    expiry: expiryModeOf(env),
    pollEveryMs: pollEveryMsOf(env),
    cascadeConcurrency: cascadeConcurrencyOf(env),
    ...(healthPort ? { healthPort } : {}),
  };
}

export async function startBaselineWorker(
  config: Config,
  settings: BaselineWorkerSettings,
  logger: Logger = createLogger(config, 'bull-worker'),
): Promise<RunningBaselineWorker> {
  if (!config.mail.smtpUrl) throw new Error('SMTP_URL must be set: the baseline sends its offers by email');
  const prisma = createPrismaClient(requireDatabaseUrl(config));
  const cascade = createBaselineCascade({
    prisma,
    mail: { transport: nodemailer.createTransport(config.mail.smtpUrl), from: config.mail.from },
    offerTokenSecret: config.offerTokenSecret,
    publicBaseUrl: config.api.publicBaseUrl,
  });
  const connection = redisConnection(settings.redisUrl);
  const cascadeQueue = new Queue<CascadeJobData>(QueueName.cascade, { connection });
  const expiryQueue = new Queue(QueueName.expiredHolds, { connection });
  const notificationQueue = new Queue<NotificationJobData>(QueueName.notifications, { connection });

  const scheduleExpiry = (tenantId: string, holdId: string, expiresAt: Date) =>
    expiryQueue.add(JobName.expireHold, { tenantId, holdId } satisfies ExpireHoldJobData, {
      ...jobOptions.expiredHolds,
      delay: Math.max(0, expiresAt.getTime() - Date.now()),
      jobId: expireHoldJobId(holdId),
    });

  const cascadeWorker = new Worker<CascadeJobData>(
    QueueName.cascade,
    async (job) => {
      const outcome = await cascade.prepareRound(job.data);
      if (outcome.kind === 'unfilled') {
        await notificationQueue.add(
          JobName.escalation,
          { kind: 'escalation', tenantId: job.data.tenantId, slotId: job.data.slotId, cascadeId: job.data.cascadeId },
          { ...jobOptions.notifications, jobId: escalationJobId(job.data.cascadeId) },
        );
      }
      if (outcome.kind !== 'offered') return outcome;
      // Scheduled before the message, so a hold whose message keeps failing still expires.
      if (settings.expiry === 'delay') await scheduleExpiry(job.data.tenantId, outcome.holdId, outcome.expiresAt);
      try {
        await cascade.sendOffer(outcome.holdId);
      } catch (error) {
        if (error instanceof UndeliverableMessage) throw new UnrecoverableError(error.message);
        throw error;
      }
      return outcome;
    },
    { connection, concurrency: settings.cascadeConcurrency },
  );

  // When a round's message fails for good, its hold is released and the cascade moves on.
  cascadeWorker.on('failed', (job: Job<CascadeJobData> | undefined, error: Error) => {
    if (!job) return;
    const final = error instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
    logger.warn(
      { queue: QueueName.cascade, jobId: job.id, attempt: job.attemptsMade, final, error: error.name },
      'job failed',
    );
    if (!final) return;
    cascade.releaseUndeliverable(job.data).then(
      (next) => (next ? enqueueCascade(cascadeQueue, next) : undefined),
      (releaseError: unknown) =>
        logger.error({ err: releaseError, jobId: job.id }, 'could not release an undeliverable hold'),
    );
  });

  const expiryWorker = new Worker(
    QueueName.expiredHolds,
    async (job: Job) => {
      if (job.name === JobName.expireHold) {
        const next = await cascade.expireHold((job.data as ExpireHoldJobData).holdId);
        if (next) await enqueueCascade(cascadeQueue, next);
        return { expired: next ? 1 : 0 };
      }
      let expired = 0;
      for (const holdId of await cascade.dueHolds()) {
        const next = await cascade.expireHold(holdId);
        if (next) {
          await enqueueCascade(cascadeQueue, next);
          expired++;
        }
      }
      return { expired };
    },
    // The seed runs the poll one at a time; B-delay's many small jobs get the cascade's concurrency.
    { connection, concurrency: settings.expiry === 'poll' ? Concurrency.expiredHolds : settings.cascadeConcurrency },
  );

  const notificationWorker = new Worker<NotificationJobData>(
    QueueName.notifications,
    async (job) => {
      try {
        const sent =
          job.data.kind === 'confirmation'
            ? await cascade.sendConfirmation(job.data.holdId)
            : await cascade.sendEscalation(job.data);
        return { sent };
      } catch (error) {
        if (error instanceof UndeliverableMessage) throw new UnrecoverableError(error.message);
        throw error;
      }
    },
    { connection, concurrency: Concurrency.notifications },
  );

  for (const worker of [cascadeWorker, expiryWorker, notificationWorker]) {
    worker.on('error', (error) => logger.error({ err: error, queue: worker.name }, 'worker error'));
  }

  if (settings.expiry === 'poll') {
    await expiryQueue.upsertJobScheduler(
      JobName.pollExpiredHolds,
      { every: settings.pollEveryMs },
      { name: JobName.pollExpiredHolds, opts: jobOptions.expiredHolds },
    );
  } else {
    await expiryQueue.removeJobScheduler(JobName.pollExpiredHolds);
  }
  await Promise.all([cascadeWorker, expiryWorker, notificationWorker].map((worker) => worker.waitUntilReady()));

  const health = settings.healthPort
    ? await new Promise<http.Server>((resolve, reject) => {
        const server = http.createServer((_req, res) => {
          const running = [cascadeWorker, expiryWorker, notificationWorker].every((worker) => worker.isRunning());
          res.writeHead(running ? 200 : 503, { 'content-type': 'text/plain' }).end(running ? 'ok' : 'not running');
        });
        server.once('error', reject);
        server.listen(settings.healthPort, '127.0.0.1', () => resolve(server));
      })
    : undefined;
  logger.info(
    { expiry: settings.expiry, pollEveryMs: settings.pollEveryMs, cascadeConcurrency: settings.cascadeConcurrency },
    'BullMQ baseline worker running',
  );

  return {
    async close() {
      health?.close();
      // Active jobs finish first (BullMQ waits for them), then the connections close.
      await Promise.allSettled([cascadeWorker.close(), expiryWorker.close(), notificationWorker.close()]);
      await Promise.allSettled([cascadeQueue.close(), expiryQueue.close(), notificationQueue.close()]);
      await prisma.$disconnect();
    },
  };
}

if (require.main === module) {
  const config = loadConfigOrExit();
  const logger = createLogger(config, 'bull-worker');
  startBaselineWorker(config, baselineWorkerSettings(process.env), logger).then(
    (worker) => {
      const shutdown = (signal: string) => {
        logger.info({ signal }, 'worker shutting down');
        worker.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    },
    (error: unknown) => {
      logger.fatal({ err: error }, 'worker failed to start');
      process.exit(1);
    },
  );
}
