import { Client, Connection } from '@temporalio/client';
import { loadConfigOrExit } from '../lib/config';
import { createLogger } from '../lib/logger';
import { temporalClientOptions, temporalConnectionOptions } from '../lib/temporal';
import { syncSchedules } from '../workers/schedules';

/** `npm run schedules:sync`: the same idempotent sync the worker runs at start. */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger(config, 'schedules');
  const connection = await Connection.connect(temporalConnectionOptions(config.temporal));
  try {
    await syncSchedules(
      new Client({ connection, ...temporalClientOptions(config.temporal) }),
      config.temporal.taskQueue,
      logger,
    );
  } finally {
    await connection.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
