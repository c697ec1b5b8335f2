import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/**
 * A Redis server for the BullMQ baseline (bench/bullmq/): Debian's `redis-server`, on loopback,
 * with the durability a production Bull deployment would run with (AOF, fsync every second, no
 * RDB snapshots), in its own data directory.
 */

export interface RedisOptions {
  port: number;
  /** The server's working directory: the AOF lives here, so a restart on it keeps the queues. */
  dataDir: string;
  /** Where the server's own log goes. */
  logFile: string;
  startupTimeoutMs?: number;
}

export interface RedisHandle {
  /** redis://127.0.0.1:<port> */
  url: string;
  port: number;
  pid: number;
  child: ChildProcess;
  /** Asks the server to SHUTDOWN (which flushes the AOF), then SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const DEBIAN_PACKAGE = 'redis-server';
const KNOWN_PATHS = ['/usr/bin/redis-server', '/usr/local/bin/redis-server', '/usr/sbin/redis-server'];

function locateRedisServer(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const onPath = found.status === 0 ? found.stdout.trim() : '';
  if (onPath) return onPath;
  return KNOWN_PATHS.find((candidate) => fs.existsSync(candidate));
}

/**
 * The path of `redis-server`, installing Debian's package first when it is missing and this
 * process may (root). Otherwise a clear error naming the package.
 */
export function ensureRedisServer(): string {
  const existing = locateRedisServer();
  if (existing) return existing;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `redis-server is not installed: install the Debian package "${DEBIAN_PACKAGE}" (apt-get install -y ${DEBIAN_PACKAGE})`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const steps: string[][] = [
    ['apt-get', 'update'],
    ['apt-get', 'install', '-y', DEBIAN_PACKAGE],
  ];
  for (const [command, ...args] of steps) {
    // Bounded: a stuck mirror must not hang the bench forever.
    const result = spawnSync(command!, args, { env, stdio: 'inherit', timeout: 10 * 60_000 });
    if (result.status !== 0) {
      throw new Error(
        `${command} ${args.join(' ')} failed (exit ${result.status ?? result.signal}); install "${DEBIAN_PACKAGE}" by hand`,
      );
    }
  }
  const installed = locateRedisServer();
  if (!installed) throw new Error(`"${DEBIAN_PACKAGE}" was installed but redis-server is still not found`);
  return installed;
}

/** Sends one inline command and returns the first reply line, or undefined when nothing answers in time. */
export function redisCommand(port: number, command: string, timeoutMs = 1_000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let reply = '';
    const finish = (answer: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('utf8');
      const end = reply.indexOf('\r\n');
      if (end >= 0) finish(reply.slice(0, end));
    });
    socket.once('error', () => finish(undefined));
    // SHUTDOWN closes the connection without a reply when it succeeds.
    socket.once('close', () => finish(reply || undefined));
  });
}

/**
 * The arguments `redis-server` runs with here: loopback only, AOF with an fsync every second and
 * no RDB snapshots (the durability a production BullMQ deployment is expected to run with), its
 * files in `dataDir`. Exported so a supervisor (bench/lib/processes.ts) can run the same server.
 */
export function redisServerArgs(options: Pick<RedisOptions, 'port' | 'dataDir'>): string[] {
  const dir = path.resolve(options.dataDir);
  return [
    '--bind',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--dir',
    dir,
    '--appendonly',
    'yes',
    '--appendfsync',
    'everysec',
    '--save',
    '',
    '--daemonize',
    'no',
    '--protected-mode',
    'yes',
    // Never the system's pidfile: several servers may run side by side.
    '--pidfile',
    path.join(dir, 'redis.pid'),
  ];
}

/** Whether a Redis server answers PING on 127.0.0.1:`port`. */
export async function redisAnswers(port: number, timeoutMs = 500): Promise<boolean> {
  return (await redisCommand(port, 'PING', timeoutMs)) === '+PONG';
}

function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function within(promise: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Starts `redis-server` on 127.0.0.1:`port` with AOF (`appendfsync everysec`) and no RDB
 * snapshots, working in `dataDir`, and waits until it answers PING.
 *
 * @throws when redis-server cannot be found or installed, exits early, or does not answer in time.
 */
export async function startRedis(options: RedisOptions): Promise<RedisHandle> {
  const binary = ensureRedisServer();
  fs.mkdirSync(options.dataDir, { recursive: true });
  fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
  const log = fs.openSync(options.logFile, 'a');
  const args = redisServerArgs(options);
  const child = spawn(binary, args, { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const exited = exitOf(child);

  const deadline = Date.now() + (options.startupTimeoutMs ?? 15_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server exited during start-up (see ${options.logFile})`);
    }
    if (await redisAnswers(options.port)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not answer PING on port ${options.port} in time (see ${options.logFile})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    url: `redis://127.0.0.1:${options.port}`,
    port: options.port,
    pid: child.pid!,
    child,
    async stop(graceMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await redisCommand(options.port, 'SHUTDOWN', graceMs);
      if (await within(exited, graceMs)) return;
      child.kill('SIGTERM');
      if (await within(exited, graceMs)) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}
