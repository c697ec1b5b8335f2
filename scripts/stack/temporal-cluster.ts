import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client as PgClient } from 'pg';
import { Connection, isGrpcServiceError } from '@temporalio/client';
import { msToTs, tsToMs } from '@temporalio/common/lib/time';
import { grpc, temporal } from '@temporalio/proto';
import { stringify as toYaml } from 'yaml';
import { customSearchAttributes } from '../../workflows/search-attributes';
import { isListening } from './ports';
import { DEFAULT_NAMESPACE_RETENTION_MS, dispatchOrderSettings } from './temporal-dev-server';

/**
 * The production-shaped Temporal cluster without Docker (docs/cluster.md): the real `temporal-server`
 * 1.32 built from its Go module (scripts/provision-temporal-server.mjs), persisting to PostgreSQL
 * (both stores, persistence and visibility), run either as one process with every service or as one
 * process per service with one or two history processes sharing the shards.
 *
 * The pure parts (ports, process plan, configuration files, the shard-count rule) are exported for
 * the unit tests; {@link startTemporalCluster} runs it.
 */

/** The services of a Temporal cluster; `temporal-server start --service <name>`. */
export type TemporalService = 'frontend' | 'history' | 'matching' | 'worker';

/** `single`: one process runs every service. `split`: one process per service, as a cluster scales out. */
export type ClusterTopology = 'single' | 'split';

export const DEFAULT_FRONTEND_PORT = 7233;
export const DEFAULT_HISTORY_SHARDS = 4;
/** Each process's ports are `basePort` plus a fixed offset below 100, so a bench can reserve one block. */
export const PORT_BLOCK_SIZE = 100;
const MAX_HISTORY_PROCESSES = 2;
const SERVER_VERSION = '1.32.2';
const STATE_FILE = 'cluster.json';
const UI_ENV = 'holdfast';

export interface RpcPorts {
  grpc: number;
  membership: number;
}

/** Where every process listens, from the frontend's gRPC port (7233 by default). */
export interface ClusterPorts {
  frontend: RpcPorts & { http: number };
  matching: RpcPorts;
  worker: RpcPorts;
  /** One per history process; each needs its own gRPC and ringpop membership port on the same host. */
  history: RpcPorts[];
  /** Each process's Prometheus endpoint, by index in the process plan. */
  metrics(processIndex: number): number;
}

/**
 * The port layout. gRPC ports follow upstream's (frontend 7233, history 7234, matching 7235, worker
 * 7239); the second history process takes 7236 (upstream's internal-frontend, which we do not run).
 * Membership ports are the gRPC port + 20 (upstream uses 6933…, which would leave the block), the
 * frontend's HTTP API + 10 (7243, as upstream), Prometheus from + 40.
 */
export function clusterPorts(basePort: number = DEFAULT_FRONTEND_PORT): ClusterPorts {
  if (!Number.isInteger(basePort) || basePort < 1024 || basePort + PORT_BLOCK_SIZE > 65_535) {
    throw new RangeError(`basePort must be an integer from 1024 to ${65_535 - PORT_BLOCK_SIZE}, got ${basePort}`);
  }
  const rpc = (offset: number): RpcPorts => ({ grpc: basePort + offset, membership: basePort + 20 + offset });
  return {
    frontend: { ...rpc(0), http: basePort + 10 },
    history: [rpc(1), rpc(3)],
    matching: rpc(2),
    worker: rpc(6),
    metrics: (processIndex) => basePort + 40 + processIndex,
  };
}

/** One server process: its name (for logs, PIDs and restarts) and the services it runs. */
export interface ClusterProcessPlan {
  name: string;
  services: TemporalService[];
  /** Which of {@link ClusterPorts.history} this process's history service uses. */
  historyIndex: number;
  metricsPort: number;
}

/**
 * The processes of a topology, in start order: history first (the frontend's namespace and
 * workflow calls land there), then matching, the frontend, and the worker service (its system
 * workflows call the frontend).
 */
export function planClusterProcesses(
  topology: ClusterTopology,
  historyProcesses: number,
  ports: ClusterPorts,
): ClusterProcessPlan[] {
  if (topology === 'single') {
    if (historyProcesses !== 1) {
      throw new RangeError('A single-process cluster has one history service; use the split topology for more');
    }
    return [
      {
        name: 'temporal',
        services: ['frontend', 'history', 'matching', 'worker'],
        historyIndex: 0,
        metricsPort: ports.metrics(0),
      },
    ];
  }
  if (!Number.isInteger(historyProcesses) || historyProcesses < 1 || historyProcesses > MAX_HISTORY_PROCESSES) {
    throw new RangeError(`historyProcesses must be 1 or ${MAX_HISTORY_PROCESSES}, got ${historyProcesses}`);
  }
  const names: Array<[string, TemporalService, number]> = [
    ...Array.from({ length: historyProcesses }, (_, i): [string, TemporalService, number] => [
      `history-${i + 1}`,
      'history',
      i,
    ]),
    ['matching', 'matching', 0],
    ['frontend', 'frontend', 0],
    ['worker', 'worker', 0],
  ];
  return names.map(([name, service, historyIndex], index) => ({
    name,
    services: [service],
    historyIndex,
    metricsPort: ports.metrics(index),
  }));
}

/** The order {@link TemporalClusterHandle.stop} stops processes in: clients of a service before the service. */
const STOP_ORDER: TemporalService[] = ['frontend', 'matching', 'worker', 'history'];

/**
 * The processes in stop order, in tiers stopped one after the other; the processes of one tier (the
 * history processes) stop together, so the shards of the first do not move to the second on the way.
 */
export function stopOrder(plan: readonly ClusterProcessPlan[]): ClusterProcessPlan[][] {
  const rank = (p: ClusterProcessPlan) => Math.min(...p.services.map((s) => STOP_ORDER.indexOf(s)));
  return STOP_ORDER.map((_, tier) => plan.filter((p) => rank(p) === tier)).filter((tier) => tier.length > 0);
}

/** A PostgreSQL server the cluster persists to, as a user that may create databases. */
export interface PostgresTarget {
  host: string;
  port: number;
  user: string;
  password: string;
}

export function parsePostgresUrl(databaseUrl: string): PostgresTarget {
  const url = new URL(databaseUrl);
  if (!/^postgres(ql)?:$/.test(url.protocol)) throw new Error(`Not a PostgreSQL URL: ${url.protocol}//…`);
  return {
    host: url.hostname || '127.0.0.1',
    port: url.port ? Number(url.port) : 5432,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
  };
}

export const TEMPORAL_DATABASES = { persistence: 'temporal', visibility: 'temporal_visibility' } as const;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface ServerConfigInput {
  process: ClusterProcessPlan;
  ports: ClusterPorts;
  shards: number;
  database: PostgresTarget;
  /** Absolute path of the dynamic config file. */
  dynamicConfigFile: string;
  logLevel: LogLevel;
}

/**
 * One process's server configuration, after the module's config/development-postgres12.yaml:
 * PostgreSQL for both stores, everything bound to 127.0.0.1, no archival. Every process gets the
 * whole `services` map, but reads only the sections of the services it runs, so the history
 * section carries this process's own ports.
 */
export function serverConfig(input: ServerConfigInput): Record<string, unknown> {
  const { ports, database } = input;
  const history = ports.history[input.process.historyIndex];
  if (!history) throw new RangeError(`No history ports for index ${input.process.historyIndex}`);
  const datastore = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${database.host}:${database.port}`,
      connectProtocol: 'tcp',
      user: database.user,
      password: database.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const rpc = (p: RpcPorts, extra: Record<string, number> = {}) => ({
    rpc: { grpcPort: p.grpc, membershipPort: p.membership, bindOnLocalHost: true, ...extra },
  });
  const frontendAddress = `127.0.0.1:${ports.frontend.grpc}`;
  return {
    log: { stdout: true, level: input.logLevel },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: input.shards,
      datastores: {
        'postgres-default': datastore(TEMPORAL_DATABASES.persistence, 20),
        'postgres-visibility': datastore(TEMPORAL_DATABASES.visibility, 10),
      },
    },
    global: {
      // Ringpop finds the other processes through the cluster_membership table in PostgreSQL.
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      pprof: { port: 0 },
      metrics: {
        prometheus: {
          framework: 'tally',
          timerType: 'histogram',
          listenAddress: `127.0.0.1:${input.process.metricsPort}`,
        },
      },
    },
    services: {
      frontend: rpc(ports.frontend, { httpPort: ports.frontend.http }),
      history: rpc(history),
      matching: rpc(ports.matching),
      worker: rpc(ports.worker),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: frontendAddress },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    // The worker service's system workflows reach the frontend here.
    publicClient: { hostPort: frontendAddress },
    dynamicConfigClient: { filepath: input.dynamicConfigFile, pollInterval: '10s' },
  };
}

const GENERATED = '# Generated by scripts/stack/temporal-cluster.ts at every start; edits are overwritten.\n';

export function serverConfigYaml(input: ServerConfigInput): string {
  return `${GENERATED}# Process ${input.process.name}: ${input.process.services.join(', ')}.\n${toYaml(serverConfig(input))}`;
}

/**
 * The cluster's dynamic config: the dev server's dispatch-order settings (docs/queues.md), which are
 * server dynamic-config keys, and the ID length the SQL schemas' 255-character columns hold.
 */
export function clusterDynamicConfig(
  extra: Record<string, boolean | number | string> = {},
): Record<string, boolean | number | string> {
  return { 'limit.maxIDLength': 255, ...dispatchOrderSettings, ...extra };
}

export function dynamicConfigYaml(settings: Record<string, boolean | number | string>): string {
  const entries = Object.fromEntries(
    Object.entries(settings).map(([key, value]) => [key, [{ value, constraints: {} }]]),
  );
  return `${GENERATED}${toYaml(entries)}`;
}

export interface UiServerConfigInput {
  frontendAddress: string;
  port: number;
  namespace: string;
  /** `<PUBLIC_BASE_URL>/codec`; the UI then decodes payloads through the API (docs/web-ui.md). */
  codecEndpoint?: string;
}

/** The standalone Web UI's configuration, as docker-compose.yml's `temporal-ui` service sets it. */
export function uiServerConfig(input: UiServerConfigInput): Record<string, unknown> {
  return {
    temporalGrpcAddress: input.frontendAddress,
    host: '127.0.0.1',
    port: input.port,
    enableUi: true,
    defaultNamespace: input.namespace,
    distribution: 'server',
    disableNewsFetch: true,
    notifyOnNewVersion: false,
    refreshInterval: '0s',
    cors: {
      cookieInsecure: true,
      allowOrigins: [`http://localhost:${input.port}`, `http://127.0.0.1:${input.port}`],
    },
    codec: input.codecEndpoint
      ? { endpoint: input.codecEndpoint, includeCredentials: true, passAccessToken: false }
      : { endpoint: '' },
    auth: { enabled: false },
  };
}

/** What the data directory remembers about the cluster it created. */
export interface ClusterState {
  historyShards: number;
  serverVersion: string;
  createdAt: string;
}

/** Asking an existing cluster for another shard count: Temporal fixes it when the cluster is created. */
export class ShardCountMismatchError extends Error {
  constructor(
    readonly existing: number,
    readonly requested: number,
    where: string,
  ) {
    super(
      `The Temporal cluster in ${where} was created with ${existing} history shards, and a cluster's shard ` +
        `count is fixed when it is created (the server would silently keep ${existing}). ` +
        `Start it with --shards ${existing}, or use a new data directory (HOLDFAST_DATA_DIR) for ${requested} shards.`,
    );
    this.name = 'ShardCountMismatchError';
  }
}

/**
 * The shard count to start with: the one the store was created with; a requested one must match it.
 * A new store takes the requested count, or {@link DEFAULT_HISTORY_SHARDS}.
 */
export function resolveShardCount(
  existing: ClusterState | undefined,
  requested: number | undefined,
  where: string,
): number {
  if (requested !== undefined && (!Number.isInteger(requested) || requested < 1)) {
    throw new RangeError(`The history shard count must be a positive integer, got ${requested}`);
  }
  if (!existing) return requested ?? DEFAULT_HISTORY_SHARDS;
  if (requested !== undefined && requested !== existing.historyShards) {
    throw new ShardCountMismatchError(existing.historyShards, requested, where);
  }
  return existing.historyShards;
}

export function readClusterState(dataDir: string): ClusterState | undefined {
  const file = path.join(dataDir, STATE_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const state = JSON.parse(text) as Partial<ClusterState>;
  if (typeof state.historyShards !== 'number') throw new Error(`${file} has no historyShards; remove it or fix it`);
  return state as ClusterState;
}

function writeClusterState(dataDir: string, state: ClusterState): void {
  const file = path.join(dataDir, STATE_FILE);
  fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  fs.renameSync(`${file}.tmp`, file);
}

// ---------------------------------------------------------------------------------------------
// Binaries.

export interface TemporalServerBinaries {
  serverPath: string;
  sqlToolPath: string;
  /** Absent when the Web UI server could not be built: the cluster runs without a UI. */
  uiServerPath?: string;
}

interface ManifestEntry {
  path: string | null;
}

/**
 * Reads what scripts/provision-temporal-server.mjs recorded in .tools/temporal/manifest.json;
 * undefined when the server is not provisioned.
 */
export function readTemporalServerBinaries(projectRoot: string): TemporalServerBinaries | undefined {
  let manifest: Record<string, ManifestEntry | undefined>;
  try {
    manifest = JSON.parse(
      fs.readFileSync(path.join(projectRoot, '.tools', 'temporal', 'manifest.json'), 'utf8'),
    ) as Record<string, ManifestEntry | undefined>;
  } catch {
    return undefined;
  }
  const existing = (entry: ManifestEntry | undefined) => {
    const file = entry?.path ? path.resolve(projectRoot, entry.path) : undefined;
    return file && fs.existsSync(file) ? file : undefined;
  };
  const serverPath = existing(manifest.server);
  const sqlToolPath = existing(manifest.sqlTool);
  if (!serverPath || !sqlToolPath) return undefined;
  return { serverPath, sqlToolPath, uiServerPath: existing(manifest.uiServer) };
}

/**
 * The server as {@link readTemporalServerBinaries} finds it, after linking a build this machine
 * already has (the user's cache) into a checkout that has not seen it yet, such as a fresh clone.
 * Never builds: undefined when no build exists.
 */
export function cachedTemporalServerBinaries(projectRoot: string): TemporalServerBinaries | undefined {
  const found = readTemporalServerBinaries(projectRoot);
  if (found) return found;
  spawnSync(
    process.execPath,
    [path.join(projectRoot, 'scripts', 'provision-temporal-server.mjs'), '--quiet', '--no-build', '--only', 'server'],
    { stdio: 'ignore', timeout: 60_000 },
  );
  return readTemporalServerBinaries(projectRoot);
}

// ---------------------------------------------------------------------------------------------
// Running it.

export interface TemporalClusterOptions extends TemporalServerBinaries {
  /** A running PostgreSQL, as a user that may create databases (the path part is ignored). */
  databaseUrl: string;
  /** Configuration, state and logs (logs/<process>.log). */
  dataDir: string;
  /** Fixed when the cluster is first created; a different count on an existing store is refused. */
  historyShards?: number;
  topology?: ClusterTopology;
  /** Split topology only: 1 or 2 history processes sharing the shards. */
  historyProcesses?: number;
  /** The frontend's gRPC port; every other port of the cluster is in [basePort, basePort + 100). */
  basePort?: number;
  /** Web UI port (when uiServerPath is set); basePort + 1000 by default, i.e. 8233 beside 7233. */
  uiPort?: number;
  /** Set to false to run without the Web UI even when it is provisioned (benchmarks). */
  ui?: boolean;
  uiCodecEndpoint?: string;
  namespace?: string;
  namespaceRetentionMs?: number;
  logLevel?: LogLevel;
  /** Extra dynamic config (e.g. `matching.numTaskqueueReadPartitions`). */
  dynamicConfig?: Record<string, boolean | number | string>;
  startupTimeoutMs?: number;
  /** Progress lines (e.g. the schema being created); silent by default. */
  onProgress?: (line: string) => void;
}

export interface ClusterProcess {
  /** `temporal` (single), `frontend`, `matching`, `worker`, `history-1`, `history-2`, or `ui`. */
  service: string;
  child: ChildProcess;
}

export interface TemporalClusterHandle {
  /** The frontend, `127.0.0.1:<basePort>`. */
  address: string;
  namespace: string;
  uiUrl?: string;
  historyShards: number;
  topology: ClusterTopology;
  ports: ClusterPorts;
  /** The running processes now (a restarted one has a new child), in start order. */
  readonly processes: ClusterProcess[];
  /** PIDs by process name; undefined for a process that is not running. */
  pids(): Record<string, number | undefined>;
  /** Sends `signal` to one process (SIGKILL by default) and waits until it has exited; it stays down. */
  killService(name: string, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a process that was killed and waits until its services answer again. */
  startService(name: string): Promise<void>;
  /** Stops one process (SIGTERM, then SIGKILL after a grace), starts it again, and waits until it answers. */
  restartService(name: string, options?: { signal?: NodeJS.Signals }): Promise<void>;
  /** Stops everything: the UI, frontend, matching, worker, then history; SIGTERM, then SIGKILL after a grace. */
  stop(): Promise<void>;
}

const STOP_GRACE_MS = 15_000;

interface ManagedProcess {
  name: string;
  /** What it runs; for the UI, none of the server's services. */
  services: TemporalService[];
  command: string;
  args: string[];
  logFile: string;
  child?: ChildProcess;
  exited?: Promise<void>;
}

/**
 * Creates the schemas if needed, writes the configuration, starts the processes of the topology
 * (and the Web UI when provisioned), waits until the cluster serves, and registers the namespace and
 * Holdfast's search attributes. Safe to call again on the same data directory and database: the
 * workflows stored there survive.
 */
export async function startTemporalCluster(options: TemporalClusterOptions): Promise<TemporalClusterHandle> {
  const progress = options.onProgress ?? (() => undefined);
  const dataDir = path.resolve(options.dataDir);
  const topology = options.topology ?? 'single';
  const historyProcesses = options.historyProcesses ?? 1;
  const namespace = options.namespace ?? 'default';
  const ports = clusterPorts(options.basePort ?? DEFAULT_FRONTEND_PORT);
  const plan = planClusterProcesses(topology, historyProcesses, ports);
  const database = parsePostgresUrl(options.databaseUrl);
  const address = `127.0.0.1:${ports.frontend.grpc}`;
  const timeoutMs = options.startupTimeoutMs ?? 120_000;

  const existing = readClusterState(dataDir);
  const shards = resolveShardCount(existing, options.historyShards, dataDir);
  const logsDir = path.join(dataDir, 'logs');
  const configDir = path.join(dataDir, 'config');
  fs.mkdirSync(logsDir, { recursive: true });
  fs.mkdirSync(configDir, { recursive: true });

  const uiPath = options.ui === false ? undefined : options.uiServerPath;
  const uiPort = options.uiPort ?? ports.frontend.grpc + 1000;
  await ensurePortsFree([...plan.flatMap((p) => processPorts(p, ports)), ...(uiPath ? [uiPort] : [])]);

  await ensureSchemas(options.sqlToolPath, database, path.join(logsDir, 'schema.log'), progress);
  writeClusterState(dataDir, {
    historyShards: shards,
    serverVersion: existing?.serverVersion ?? SERVER_VERSION,
    createdAt: existing?.createdAt ?? new Date().toISOString(),
  });

  const dynamicConfigFile = path.join(configDir, 'dynamicconfig.yaml');
  fs.writeFileSync(dynamicConfigFile, dynamicConfigYaml(clusterDynamicConfig(options.dynamicConfig)));
  const managed: ManagedProcess[] = plan.map((process) => {
    const configFile = path.join(configDir, `${process.name}.yaml`);
    fs.writeFileSync(
      configFile,
      serverConfigYaml({ process, ports, shards, database, dynamicConfigFile, logLevel: options.logLevel ?? 'warn' }),
    );
    return {
      name: process.name,
      services: process.services,
      command: options.serverPath,
      args: [
        '--config-file',
        configFile,
        '--allow-no-auth',
        'start',
        ...process.services.flatMap((s) => ['--service', s]),
      ],
      logFile: path.join(logsDir, `${process.name}.log`),
    };
  });
  let uiUrl: string | undefined;
  if (uiPath) {
    const uiConfigDir = path.join(dataDir, 'ui', 'config');
    fs.mkdirSync(uiConfigDir, { recursive: true });
    const uiConfig = uiServerConfig({
      frontendAddress: address,
      port: uiPort,
      namespace,
      codecEndpoint: options.uiCodecEndpoint,
    });
    fs.writeFileSync(path.join(uiConfigDir, `${UI_ENV}.yaml`), `${GENERATED}${toYaml(uiConfig)}`);
    managed.push({
      name: 'ui',
      services: [],
      command: uiPath,
      args: ['--root', path.join(dataDir, 'ui'), '--config', 'config', '--env', UI_ENV, 'start'],
      logFile: path.join(logsDir, 'ui.log'),
    });
    uiUrl = `http://localhost:${uiPort}`;
  }

  const byName = new Map(managed.map((m) => [m.name, m]));
  const killAllOnExit = () => {
    for (const m of managed) m.child?.kill('SIGKILL');
  };
  // Detached children outlive a crashed parent; this keeps a crash from leaving ports taken.
  process.once('exit', killAllOnExit);

  const stopProcess = async (m: ManagedProcess, signal: NodeJS.Signals = 'SIGTERM') => {
    const { child, exited } = m;
    if (!child || !exited || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };
  const stopAll = async () => {
    process.removeListener('exit', killAllOnExit);
    const ui = byName.get('ui');
    if (ui) await stopProcess(ui);
    for (const tier of stopOrder(plan)) {
      await Promise.all(tier.map((p) => stopProcess(processNamed(byName, p.name))));
    }
  };

  const startAndWait = async (m: ManagedProcess, deadlineMs: number) => {
    launch(m);
    await raceExit(m, waitForProcess(m, { address, namespace, uiPort, deadline: Date.now() + deadlineMs }));
  };

  let createdNamespaceOrAttributes = false;
  try {
    progress(`starting ${managed.map((m) => m.name).join(', ')} (logs in ${logsDir})`);
    const deadline = Date.now() + timeoutMs;
    const serverProcesses = managed.filter((m) => m.name !== 'ui');
    // The first process to start on a new store writes the cluster's metadata (its shard count
    // among it); processes starting alongside it race to write the same row and all but one exit.
    const [first, ...others] = serverProcesses;
    if (!first) throw new Error('The process plan is empty');
    launch(first);
    await raceExit(first, waitForClusterMetadata(database, deadline));
    for (const m of others) launch(m);
    await raceExits(serverProcesses, waitForFrontend(address, deadline));
    const described = await raceExits(serverProcesses, clusterInfo(address));
    if (described.historyShardCount !== shards) {
      // A store created before the state file existed, or by another tool.
      throw new ShardCountMismatchError(described.historyShardCount, shards, dataDir);
    }
    createdNamespaceOrAttributes = await raceExits(
      serverProcesses,
      registerNamespace(address, namespace, options.namespaceRetentionMs ?? DEFAULT_NAMESPACE_RETENTION_MS, deadline),
    );
    await raceExits(serverProcesses, waitForHistory(address, namespace, deadline));
    await raceExits(serverProcesses, waitForMatching(address, namespace, deadline));
    if (createdNamespaceOrAttributes) {
      // History and matching hosts cache namespaces (and their search attributes) for up to
      // system.namespaceCacheRefreshInterval (10 s); a start before then could be refused.
      progress('waiting for every service to see the new namespace (10 s)');
      await sleep(NAMESPACE_CACHE_REFRESH_MS);
    }
    const ui = byName.get('ui');
    if (ui) await startAndWait(ui, timeoutMs);
  } catch (error) {
    await stopAll();
    throw error;
  }

  return {
    address,
    namespace,
    uiUrl,
    historyShards: shards,
    topology,
    ports,
    get processes() {
      return managed.flatMap((m) => (m.child && isRunning(m.child) ? [{ service: m.name, child: m.child }] : []));
    },
    pids: () =>
      Object.fromEntries(managed.map((m) => [m.name, m.child && isRunning(m.child) ? m.child.pid : undefined])),
    killService: async (name, signal = 'SIGKILL') => stopProcess(processNamed(byName, name), signal),
    startService: async (name) => {
      const m = processNamed(byName, name);
      if (m.child && isRunning(m.child)) throw new Error(`${name} is already running (pid ${m.child.pid})`);
      await startAndWait(m, timeoutMs);
    },
    restartService: async (name, restartOptions = {}) => {
      const m = processNamed(byName, name);
      await stopProcess(m, restartOptions.signal ?? 'SIGTERM');
      await startAndWait(m, timeoutMs);
    },
    stop: stopAll,
  };
}

const NAMESPACE_CACHE_REFRESH_MS = 11_000;

function processNamed(byName: Map<string, ManagedProcess>, name: string): ManagedProcess {
  const m = byName.get(name);
  if (!m) throw new Error(`No cluster process named ${name}; there are ${[...byName.keys()].join(', ')}`);
  return m;
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function launch(m: ManagedProcess): void {
  const log = fs.openSync(m.logFile, 'a');
  fs.writeSync(log, `\n--- ${new Date().toISOString()} starting ${m.name}\n`);
  // Its own process group: a terminal's Ctrl-C reaches only our process, which stops them in order.
  const child = spawn(m.command, m.args, { stdio: ['ignore', log, log], detached: true });
  fs.closeSync(log);
  m.child = child;
  m.exited = new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Rejects as soon as `m` exits, naming its log; otherwise resolves as `work` does. */
async function raceExit<T>(m: ManagedProcess, work: Promise<T>): Promise<T> {
  return raceExits([m], work);
}

async function raceExits<T>(processes: ManagedProcess[], work: Promise<T>): Promise<T> {
  const exits = processes.map((m) =>
    (m.exited ?? new Promise<never>(() => undefined)).then(() => {
      throw new Error(
        `Temporal ${m.name} exited with ${m.child?.exitCode ?? m.child?.signalCode} during start-up; ` +
          `see ${m.logFile}:${tail(m.logFile, 8)}`,
      );
    }),
  );
  return Promise.race([work, ...exits]);
}

function tail(file: string, lines: number): string {
  try {
    const text = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).slice(-lines);
    return text.map((l) => `\n    ${l.slice(0, 400)}`).join('');
  } catch {
    return '';
  }
}

function processPorts(p: ClusterProcessPlan, ports: ClusterPorts): number[] {
  const list = [p.metricsPort];
  for (const service of p.services) {
    if (service === 'history') {
      const h = ports.history[p.historyIndex];
      if (h) list.push(h.grpc, h.membership);
    } else {
      const r = ports[service];
      list.push(r.grpc, r.membership);
      if (service === 'frontend') list.push(ports.frontend.http);
    }
  }
  return list;
}

async function ensurePortsFree(list: number[]): Promise<void> {
  const taken: number[] = [];
  for (const port of list) if (await isListening(port)) taken.push(port);
  if (taken.length > 0) {
    throw new Error(
      `Port(s) ${taken.join(', ')} already in use, so the Temporal cluster cannot start there. Stop whatever ` +
        'holds them (an earlier `npm run cluster` or `npm run dev`?), or choose another base port.',
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Schemas.

/**
 * Creates the `temporal` and `temporal_visibility` databases when missing, and brings both schemas
 * to the version this server expects, with the server's own `temporal-sql-tool` (it embeds the
 * schema files). Every step is a no-op on an up-to-date store, so this runs at every start.
 */
async function ensureSchemas(
  sqlToolPath: string,
  database: PostgresTarget,
  logFile: string,
  progress: (line: string) => void,
): Promise<void> {
  const missing = await missingDatabases(database, Object.values(TEMPORAL_DATABASES));
  const sqlTool = (db: string, args: string[]) =>
    runLogged(
      sqlToolPath,
      [
        ...['--plugin', 'postgres12', '--ep', database.host, '--port', String(database.port)],
        ...['--user', database.user, '--password', database.password, '--db', db],
        ...args,
      ],
      logFile,
    );
  for (const [kind, db] of Object.entries(TEMPORAL_DATABASES)) {
    if (missing.includes(db)) {
      progress(`creating the ${db} database and its schema`);
      sqlTool(db, ['create-database']);
    }
    sqlTool(db, ['setup-schema', '-v', '0.0']);
    sqlTool(db, [
      'update-schema',
      '--schema-name',
      `postgresql/v12/${kind === 'persistence' ? 'temporal' : 'visibility'}`,
    ]);
  }
}

async function missingDatabases(database: PostgresTarget, names: string[]): Promise<string[]> {
  const client = new PgClient({ ...database, database: 'postgres' });
  await client.connect();
  try {
    const result = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname = ANY($1)', [
      names,
    ]);
    const present = new Set(result.rows.map((r) => r.datname));
    return names.filter((n) => !present.has(n));
  } finally {
    await client.end();
  }
}

/** Waits until a server process has written the cluster's metadata row (at once on an existing store). */
async function waitForClusterMetadata(database: PostgresTarget, deadline: number): Promise<void> {
  await retryUntil('The cluster metadata being written', deadline, async () => {
    const client = new PgClient({ ...database, database: TEMPORAL_DATABASES.persistence });
    await client.connect();
    try {
      const result = await client.query<{ count: string }>('SELECT count(*) AS count FROM cluster_metadata_info');
      return Number(result.rows[0]?.count ?? 0) > 0;
    } finally {
      await client.end();
    }
  });
}

function runLogged(command: string, args: string[], logFile: string): void {
  const log = fs.openSync(logFile, 'a');
  try {
    // The password is on the command line, not in the log.
    fs.writeSync(log, `\n--- ${new Date().toISOString()} ${path.basename(command)} ${args.slice(-3).join(' ')}\n`);
    const result = spawnSync(command, args, { stdio: ['ignore', log, log], timeout: 120_000 });
    if (result.error) throw result.error;
    if (result.status !== 0) {
      throw new Error(
        `${path.basename(command)} ${args.slice(-3).join(' ')} exited with ${result.status}; see ${logFile}`,
      );
    }
  } finally {
    fs.closeSync(log);
  }
}

// ---------------------------------------------------------------------------------------------
// Readiness and registration, through the frontend.

async function withConnection<T>(address: string, work: (connection: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address, connectTimeout: 2_000 });
  try {
    return await work(connection);
  } finally {
    await connection.close();
  }
}

/** Retries `attempt` every 250 ms until it returns true or the deadline passes. */
async function retryUntil(what: string, deadline: number, attempt: () => Promise<boolean>): Promise<void> {
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await attempt()) return;
    } catch (error) {
      lastError = error;
    }
    await sleep(250);
  }
  throw new Error(`${what} did not happen in time${lastError === undefined ? '' : `: ${describeError(lastError)}`}`);
}

const GRPC_NOT_FOUND = 5;
const GRPC_ALREADY_EXISTS = 6;
const WORKFLOW_SERVICE = 'temporal.api.workflowservice.v1.WorkflowService';

/** What `temporal operator cluster health` checks: the frontend's gRPC health service says SERVING. */
async function waitForFrontend(address: string, deadline: number): Promise<void> {
  await retryUntil(`The Temporal frontend at ${address} serving`, deadline, () =>
    withConnection(address, async (connection) => {
      const response = await connection.withDeadline(Date.now() + 2_000, () =>
        connection.healthService.check({ service: WORKFLOW_SERVICE }),
      );
      return response.status === grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING;
    }),
  );
}

export interface ClusterInfo {
  serverVersion: string;
  historyShardCount: number;
  persistenceStore: string;
  visibilityStore: string;
  clusterName: string;
}

/** The figures `temporal operator cluster describe` prints. */
export async function clusterInfo(address: string): Promise<ClusterInfo> {
  return withConnection(address, async (connection) => {
    const info = await connection.workflowService.getClusterInfo({});
    return {
      serverVersion: info.serverVersion ?? '',
      historyShardCount: info.historyShardCount ?? 0,
      persistenceStore: info.persistenceStore ?? '',
      visibilityStore: info.visibilityStore ?? '',
      clusterName: info.clusterName ?? '',
    };
  });
}

/**
 * Creates the namespace with its retention (or sets the retention of an existing one) and adds
 * Holdfast's search attributes that are missing, as deploy/temporal/register-namespace.sh does for
 * Compose. Returns whether it created anything.
 */
async function registerNamespace(
  address: string,
  namespace: string,
  retentionMs: number,
  deadline: number,
): Promise<boolean> {
  let created = false;
  await retryUntil(`Registering the namespace ${namespace}`, deadline, () =>
    withConnection(address, async (connection) => {
      try {
        const described = await connection.workflowService.describeNamespace({ namespace });
        if (tsToMs(described.config?.workflowExecutionRetentionTtl) !== retentionMs) {
          await connection.workflowService.updateNamespace({
            namespace,
            config: { workflowExecutionRetentionTtl: msToTs(retentionMs) },
          });
        }
      } catch (error) {
        if (!isGrpcServiceError(error) || Number(error.code) !== GRPC_NOT_FOUND) throw error;
        try {
          await connection.workflowService.registerNamespace({
            namespace,
            workflowExecutionRetentionPeriod: msToTs(retentionMs),
          });
          created = true;
        } catch (registerError) {
          if (!isGrpcServiceError(registerError) || Number(registerError.code) !== GRPC_ALREADY_EXISTS)
            throw registerError;
        }
      }
      const listed = await connection.operatorService.listSearchAttributes({ namespace });
      const missing = customSearchAttributes.filter((key) => !(key.name in (listed.customAttributes ?? {})));
      if (missing.length === 0) return true;
      await connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(
          missing.map((key) => [key.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
        ),
      });
      created = true;
      // Listed again on the next attempt, which returns true once they are visible.
      return false;
    }),
  );
  return created;
}

/**
 * History answers for the namespace: asking for a workflow that does not exist reaches the shard
 * that would own it, which says NOT_FOUND only when a history host holds that shard. Several IDs
 * spread the question over the shards.
 */
async function waitForHistory(address: string, namespace: string, deadline: number): Promise<void> {
  await retryUntil('Every history shard answering', deadline, () =>
    withConnection(address, async (connection) => {
      for (let i = 0; i < 16; i += 1) {
        try {
          await connection.withDeadline(Date.now() + 3_000, () =>
            connection.workflowService.getWorkflowExecutionHistory({
              namespace,
              execution: { workflowId: `holdfast-readiness-${randomUUID()}` },
            }),
          );
        } catch (error) {
          if (!isGrpcServiceError(error) || Number(error.code) !== GRPC_NOT_FOUND) return false;
        }
      }
      return true;
    }),
  );
}

/** Matching answers: describing a task queue reaches the matching host that owns it. */
async function waitForMatching(address: string, namespace: string, deadline: number): Promise<void> {
  await retryUntil('The matching service answering', deadline, () =>
    withConnection(address, async (connection) => {
      await connection.withDeadline(Date.now() + 3_000, () =>
        connection.workflowService.describeTaskQueue({
          namespace,
          taskQueue: { name: 'holdfast-readiness' },
          taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        }),
      );
      return true;
    }),
  );
}

async function waitForHttp(url: string, deadline: number): Promise<void> {
  await retryUntil(`${url} answering`, deadline, async () => (await fetch(url)).ok);
}

/** Waits until the services `m` runs answer (after a start or restart). */
async function waitForProcess(
  m: ManagedProcess,
  where: { address: string; namespace: string; uiPort: number; deadline: number },
): Promise<void> {
  if (m.name === 'ui') return waitForHttp(`http://127.0.0.1:${where.uiPort}/`, where.deadline);
  if (m.services.includes('frontend')) await waitForFrontend(where.address, where.deadline);
  if (m.services.includes('history')) await waitForHistory(where.address, where.namespace, where.deadline);
  if (m.services.includes('matching')) await waitForMatching(where.address, where.namespace, where.deadline);
  // The worker service answers nobody directly: still running after a moment is the best sign.
  if (m.services.length === 1 && m.services[0] === 'worker') await sleep(1_000);
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : JSON.stringify(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
