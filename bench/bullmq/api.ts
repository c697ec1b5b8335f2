import type { Server } from 'node:http';
import { Queue } from 'bullmq';
import express, { type Express } from 'express';
import { z } from 'zod';
import { authenticate, createTenantStatusCache, createTokenVerifier, principalOf, requireRole } from '../../api/auth';
import { AppError, errorMiddleware, notFoundRoute } from '../../api/errors';
import { linkToken } from '../../api/schemas';
import { loadConfigOrExit, requireDatabaseUrl, type Config } from '../../lib/config';
import { createPrismaClient, type PrismaClient } from '../../lib/db';
import { createLogger, type Logger } from '../../lib/logger';
import { createBaselineCascade, OfferAnswerRefused, type BaselineCascade } from './cascade';
import {
  confirmationJobId,
  enqueueCascade,
  jobOptions,
  JobName,
  newCascadeId,
  QueueName,
  redisConnection,
  redisUrlOf,
  type CascadeJobData,
  type NotificationJobData,
} from './queues';

/**
 * The API process of the BullMQ baseline: the routes of the bench contract (bench/lib/arm.ts),
 * with Holdfast's bearer-token checks (api/auth.ts) and error bodies (api/errors.ts). A release
 * marks the slot CASCADING and enqueues the first cascade round; an answer settles the hold in
 * PostgreSQL and enqueues what follows.
 *
 * Environment: Holdfast's (lib/config.ts) plus REDIS_URL.
 */

export interface BaselineApiDeps {
  config: Config;
  logger: Logger;
  prisma: PrismaClient;
  cascade: BaselineCascade;
  cascadeQueue: Queue<CascadeJobData>;
  notificationQueue: Queue<NotificationJobData>;
}

const slotParams = z.object({ slotId: z.string().min(1).max(64) });
const respondBody = z.object({ token: linkToken(), decision: z.enum(['accept', 'decline']) }).strict();

export function createBaselineApp(deps: BaselineApiDeps): Express {
  const { config, logger, prisma, cascade, cascadeQueue, notificationQueue } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: config.api.bodyLimit }));
  const bearer = authenticate(createTokenVerifier(config.auth), createTenantStatusCache(prisma));

  app.get('/readyz', async (_req, res) => {
    const [database, redis] = await Promise.allSettled([
      prisma.$queryRaw`SELECT 1`,
      cascadeQueue.getJobCounts('waiting'),
    ]);
    const ready = database.status === 'fulfilled' && redis.status === 'fulfilled';
    res
      .status(ready ? 200 : 503)
      .json({ database: database.status === 'fulfilled', redis: redis.status === 'fulfilled' });
  });

  app.post('/api/v1/slots/:slotId/release', bearer, requireRole('operator'), async (req, res) => {
    const { slotId } = slotParams.parse(req.params);
    const { tenantId, subject } = principalOf(req);
    const result = await cascade.release({
      tenantId,
      slotId,
      actor: subject,
      cascadeId: newCascadeId(slotId, new Date()),
    });
    if (result.kind === 'not-found') throw new AppError(404, 'NOT_FOUND', 'Slot not found');
    if (result.kind === 'assigned') throw new AppError(409, 'SLOT_ASSIGNED', 'The slot is already assigned');
    // Enqueued after the commit: a crash in between leaves the slot CASCADING with no job, as in the seed.
    if (result.kind === 'started') await enqueueCascade(cascadeQueue, result.first);
    res.status(202).json({
      status: 'cascading',
      ...(result.kind === 'started' ? { cascadeId: result.first.cascadeId } : { joined: true }),
    });
  });

  app.post('/api/v1/offers/respond', async (req, res) => {
    const { token, decision } = respondBody.parse(req.body);
    let answer: Awaited<ReturnType<BaselineCascade['respond']>>;
    try {
      answer = await cascade.respond(token, decision);
    } catch (error) {
      if (error instanceof OfferAnswerRefused) throw new AppError(error.status, error.code, error.message);
      throw error;
    }
    if (answer.next) await enqueueCascade(cascadeQueue, answer.next);
    if (answer.status === 'confirmed') {
      await notificationQueue.add(
        JobName.confirmation,
        { kind: 'confirmation', tenantId: answer.tenantId, holdId: answer.holdId },
        { ...jobOptions.notifications, jobId: confirmationJobId(answer.holdId) },
      );
    }
    res.status(200).json({ status: answer.status });
  });

  app.use(notFoundRoute);
  app.use(errorMiddleware(logger));
  return app;
}

export interface RunningBaselineApi {
  server: Server;
  close(): Promise<void>;
}

export async function startBaselineApi(
  config: Config,
  redisUrl: string,
  logger: Logger = createLogger(config, 'bull-api'),
): Promise<RunningBaselineApi> {
  const prisma = createPrismaClient(requireDatabaseUrl(config));
  const connection = redisConnection(redisUrl);
  const cascadeQueue = new Queue<CascadeJobData>(QueueName.cascade, { connection });
  const notificationQueue = new Queue<NotificationJobData>(QueueName.notifications, { connection });
  // The API only enqueues and never sends: its cascade helper needs no mail transport.
  const cascade = createBaselineCascade({
    prisma,
    mail: {
      transport: {
        sendMail: () => Promise.reject(new Error('the API process does not send mail')),
      },
      from: config.mail.from,
    },
    offerTokenSecret: config.offerTokenSecret,
    publicBaseUrl: config.api.publicBaseUrl,
  });
  const app = createBaselineApp({ config, logger, prisma, cascade, cascadeQueue, notificationQueue });
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(config.api.port, config.api.host, () => resolve(listening));
    listening.once('error', reject);
  });
  logger.info({ host: config.api.host, port: config.api.port }, 'BullMQ baseline API listening');
  return {
    server,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await Promise.allSettled([cascadeQueue.close(), notificationQueue.close(), prisma.$disconnect()]);
    },
  };
}

if (require.main === module) {
  const config = loadConfigOrExit();
  const logger = createLogger(config, 'bull-api');
  startBaselineApi(config, redisUrlOf(process.env), logger).then(
    (api) => {
      const shutdown = (signal: string) => {
        logger.info({ signal }, 'API shutting down');
        api.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    },
    (error: unknown) => {
      logger.fatal({ err: error }, 'API failed to start');
      process.exit(1);
    },
  );
}
