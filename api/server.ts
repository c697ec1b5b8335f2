import type { Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { loadConfigOrExit, requireDatabaseUrl, type Config } from '../lib/config';
import { createPrismaClient, databaseConnectionLost } from '../lib/db';
import { createLogger, type Logger } from '../lib/logger';
import { createConfiguredCodec } from '../lib/payload-key-scopes';
import { temporalClientOptions, temporalConnectionOptions } from '../lib/temporal';
import { createApp } from './app';

export interface RunningApi {
  server: Server;
  close(): Promise<void>;
}

/** Composition root of the API: one Temporal client and one Prisma client per process. */
export async function startApi(config: Config, logger: Logger = createLogger(config, 'api')): Promise<RunningApi> {
  const prisma = createPrismaClient(requireDatabaseUrl(config), {
    maxConnections: config.databasePoolSize,
    onConnectionLost: databaseConnectionLost(logger),
  });
  // Lazy: the API starts (and /readyz reports why) even while Temporal is still coming up.
  const connection = Connection.lazy(temporalConnectionOptions(config.temporal));
  // One codec for the client and the codec server, so erasing a tenant forgets its keys in both at once.
  const codec = createConfiguredCodec(config.payloads, prisma);
  const temporal = new Client({ connection, ...temporalClientOptions(config.temporal, codec) });
  const app = createApp({ config, logger, prisma, temporal, codec });

  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(config.api.port, config.api.host, () => resolve(listening));
    listening.once('error', reject);
  });
  logger.info({ host: config.api.host, port: config.api.port }, 'API listening');

  return {
    server,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await Promise.allSettled([connection.close(), prisma.$disconnect()]);
    },
  };
}

if (require.main === module) {
  const config = loadConfigOrExit();
  const logger = createLogger(config, 'api');
  startApi(config, logger).then(
    (api) => {
      const shutdown = (signal: string) => {
        logger.info({ signal }, 'API shutting down');
        api.close().then(
          () => process.exit(0),
          (error: unknown) => {
            logger.error({ err: error }, 'API shutdown failed');
            process.exit(1);
          },
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
