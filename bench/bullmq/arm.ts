import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../lib/config';
import { createPrismaClient } from '../../lib/db';
import { seed } from '../../prisma/seed';
import { applyMigrations } from '../../scripts/stack/migrate';
import { ensureRedisServer, redisAnswers, redisServerArgs } from '../../scripts/stack/redis';
import type { ArmOptions, RunningArm } from '../lib/arm';
import { startMessageCatcher, type BenchMessageCatcher, type CatcherFault } from '../lib/catcher';
import { benchOperatorToken, ensureBenchTenant } from '../lib/fixtures';
import { inheritedEnv, startBenchPostgres } from '../lib/holdfast-stack';
import { httpAnswers, StartedParts, startService, type ServiceProcess } from '../lib/processes';
import { applicationStore } from '../lib/store-activity';

/**
 * The BullMQ baseline as the bench runs it (arms B-poll and B-delay): Redis, PostgreSQL, the
 * baseline's worker and API each as their own OS process, plus the bench's SMTP catcher in this
 * process. PostgreSQL runs exactly as in the Holdfast arms (bench/lib/holdfast-stack.ts): the same
 * binary, data layout and settings, migrated and seeded alike.
 */

const projectRoot = path.resolve(__dirname, '..', '..');

export type BullArmName = 'B-poll' | 'B-delay';

export interface BullArmPorts {
  api: number;
  postgres: number;
  smtp: number;
  redis: number;
  /** The worker's health endpoint (readiness only). */
  workerHealth: number;
}

/** Ports from `base` on (default 37000, this arm's own range): base … base + 4. */
export function defaultBullArmPorts(base = 37_000): BullArmPorts {
  return { api: base, postgres: base + 1, smtp: base + 2, redis: base + 3, workerHealth: base + 4 };
}

export interface BullArmOptions extends ArmOptions {
  ports?: Partial<BullArmPorts>;
  /** B-poll's interval (default the seed's 60 s). */
  pollEveryMs?: number;
  catcherFault?: CatcherFault;
  readyTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface BullServices {
  redis: ServiceProcess;
  postgres: ServiceProcess;
  worker: ServiceProcess;
  api: ServiceProcess;
}

export interface BullArm extends RunningArm {
  catcher: BenchMessageCatcher;
  services: BullServices;
  ports: BullArmPorts;
  databaseUrl: string;
  redisUrl: string;
  /** The environment the worker and the API were given. */
  appEnv: NodeJS.ProcessEnv;
}

/**
 * Starts the BullMQ baseline: Redis (AOF everysec), PostgreSQL (migrated, seeded, with the bench
 * tenant), the catcher, then the worker (BULL_EXPIRY from the variant) and the API, each waited
 * for. If any start fails, what was started is stopped and the error is rethrown.
 */
export async function startBullArm(variant: BullArmName, options: BullArmOptions): Promise<BullArm> {
  const say = options.log ?? (() => undefined);
  const dataDir = path.resolve(options.dataDir);
  const logs = path.join(dataDir, 'logs');
  fs.mkdirSync(logs, { recursive: true });
  // The postgres OS user must reach its data directory below ours.
  fs.chmodSync(dataDir, 0o755);
  const ports: BullArmPorts = { ...defaultBullArmPorts(), ...options.ports };
  const readyTimeoutMs = options.readyTimeoutMs ?? 120_000;
  const started = new StartedParts(say);
  const stopStarted = () => started.stopAll();

  try {
    say(`Redis on 127.0.0.1:${ports.redis}`);
    const redisDir = path.join(dataDir, 'redis');
    fs.mkdirSync(redisDir, { recursive: true });
    const redis = await startService({
      role: 'redis',
      command: ensureRedisServer(),
      args: redisServerArgs({ port: ports.redis, dataDir: redisDir }),
      env: inheritedEnv(),
      logFile: path.join(logs, 'redis.log'),
      ready: () => redisAnswers(ports.redis),
      readyTimeoutMs,
    });
    started.push({ name: 'Redis', stop: () => redis.stop(10_000) });
    const redisUrl = `redis://127.0.0.1:${ports.redis}`;

    say(`PostgreSQL on 127.0.0.1:${ports.postgres}`);
    const postgres = await startBenchPostgres(
      'postgres',
      path.join(dataDir, 'postgres'),
      ports.postgres,
      path.join(logs, 'postgres.log'),
      readyTimeoutMs,
    );
    started.push({ name: 'PostgreSQL', stop: () => postgres.service.stop(30_000) });
    const { databaseUrl } = postgres;
    await applyMigrations(databaseUrl, { quiet: true });
    const prisma = createPrismaClient(databaseUrl, { maxConnections: 5 });
    started.push({ name: 'Prisma client', stop: () => prisma.$disconnect() });
    await seed(prisma);
    const tenantId = await ensureBenchTenant(prisma);

    const catcher = await startMessageCatcher({ port: ports.smtp, fault: options.catcherFault });
    started.push({ name: 'catcher', stop: () => catcher.stop() });

    const apiUrl = `http://127.0.0.1:${ports.api}`;
    const appEnv: NodeJS.ProcessEnv = {
      ...inheritedEnv(),
      APP_ENV: 'development',
      LOG_LEVEL: 'info',
      // The dev secrets (JWT, offer tokens) live here: the worker, the API and our token share them.
      HOLDFAST_DATA_DIR: path.join(dataDir, 'app'),
      DATABASE_URL: databaseUrl,
      SMTP_URL: catcher.url,
      API_HOST: '127.0.0.1',
      API_PORT: String(ports.api),
      PUBLIC_BASE_URL: apiUrl,
      REDIS_URL: redisUrl,
      BULL_EXPIRY: variant === 'B-poll' ? 'poll' : 'delay',
      ...(options.pollEveryMs !== undefined ? { BULL_POLL_EVERY_MS: String(options.pollEveryMs) } : {}),
      BULL_WORKER_HEALTH_PORT: String(ports.workerHealth),
      ...options.env,
    };
    // Loading the configuration here creates the dev secrets before either process starts, and signs our token with them.
    const config = loadConfig(appEnv);
    const operatorToken = await benchOperatorToken(config.auth, tenantId);

    say(`worker (${variant})`);
    const worker = await startService({
      role: 'worker',
      command: process.execPath,
      args: ['--import', 'tsx', 'bench/bullmq/worker.ts'],
      cwd: projectRoot,
      env: appEnv,
      logFile: path.join(logs, 'worker.log'),
      ready: () => httpAnswers(`http://127.0.0.1:${ports.workerHealth}/`),
      readyTimeoutMs,
    });
    started.push({ name: 'worker', stop: () => worker.stop(15_000) });

    say('API');
    const api = await startService({
      role: 'api',
      command: process.execPath,
      args: ['--import', 'tsx', 'bench/bullmq/api.ts'],
      cwd: projectRoot,
      env: appEnv,
      logFile: path.join(logs, 'api.log'),
      ready: () => httpAnswers(`${apiUrl}/readyz`),
      readyTimeoutMs,
    });
    started.push({ name: 'API', stop: () => api.stop(10_000) });

    const services: BullServices = { redis, postgres: postgres.service, worker, api };
    let stopped: Promise<void> | undefined;
    say('ready');
    return {
      arm: variant,
      apiUrl,
      operatorToken,
      tenantId,
      prisma,
      catcher,
      services,
      ports,
      databaseUrl,
      redisUrl,
      appEnv,
      processes: () => [worker, api, redis, postgres.service],
      stores: () => [applicationStore(databaseUrl)],
      // In order: the API (no new releases), the worker (finishes its jobs), the catcher, PostgreSQL, Redis.
      stop: () => (stopped ??= stopStarted()),
    };
  } catch (error) {
    await stopStarted();
    throw error;
  }
}
