import { Client, Connection } from '@temporalio/client';
import { loadConfigOrExit, requireDatabaseUrl } from '../lib/config';
import { createPrismaClient } from '../lib/db';
import { createLogger } from '../lib/logger';
import { createConfiguredCodec } from '../lib/payload-key-scopes';
import { temporalClientOptions, temporalConnectionOptions } from '../lib/temporal';
import { syncSchedules } from '../workers/schedules';

/** `npm run schedules:sync`: the same idempotent sync the worker runs at start. */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger(config, 'schedules');
  const connection = await Connection.connect(temporalConnectionOptions(config.temporal));
  // Schedules carry their workflows' input, which is encrypted like every payload.
  const prisma = createPrismaClient(requireDatabaseUrl(config));
  try {
    await syncSchedules(
      new Client({
        connection,
        ...temporalClientOptions(config.temporal, createConfiguredCodec(config.payloads, prisma)),
      }),
      config.temporal.taskQueue,
      logger,
    );
  } finally {
    await Promise.allSettled([connection.close(), prisma.$disconnect()]);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
