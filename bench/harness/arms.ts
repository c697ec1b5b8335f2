import path from 'node:path';
import { cachedTemporalServerBinaries } from '../../scripts/stack/temporal-cluster';
import { startBullArm } from '../bullmq/arm';
import type { ArmName, RunningArm } from '../lib/arm';
import { startTClusterArm, startTDevArm } from '../lib/holdfast-stack';
import type { AppEntry } from '../lib/production-build';
import { defaultQueueCapacity } from '../../lib/task-queues';
import { sqliteJournalMode } from './report';

/**
 * How the bench starts each arm, in its own ports (the harness's range, 47000–47999) and data
 * directory, and what it must know of the arm to judge it.
 */
export interface ArmPlan {
  /** Why the arm cannot run on this machine now, or undefined. */
  unavailable(): string | undefined;
  /**
   * How long after a hold's deadline or a settle the arm's own mechanism may take to make the next
   * offer before a quiet cascade counts as stuck: a durable timer or a delayed job fires at once (10 s
   * covers a busy machine); the seed's poll runs once a minute.
   */
  expiryAllowanceMs: number;
  serverVersion?: string;
  /** What the arm's Temporal store was, read after the run. */
  describeStore?: (dataDir: string) => string | undefined;
}

const portBase = { 'B-poll': 47_200, 'B-delay': 47_300 } as const;
/**
 * T-cluster's server ports: [base, base + 100). Not in the harness's 47000 range: the server records each
 * process's ringpop membership port in cluster_membership.rpc_port, a SMALLINT (schema/postgresql/v12),
 * so those ports must be below 32768. BENCH_CLUSTER_BASE_PORT moves it.
 */
const clusterBasePort = Number(process.env.BENCH_CLUSTER_BASE_PORT ?? 17_100);
/** T-cluster: its application and the cluster's PostgreSQL sit here, in the harness's range. */
const clusterAppPortBase = 47_400;

/** The cluster's shape in the bench: split services with two history processes sharing the shards (issue 14). */
const clusterShape = { topology: 'split', historyProcesses: 2, historyShards: 4 } as const;

const log = (arm: ArmName) => (line: string) => console.log(`  [${arm}] ${line}`);

export function armPlan(name: ArmName): ArmPlan {
  switch (name) {
    case 'T-dev':
      return {
        unavailable: () => undefined,
        expiryAllowanceMs: 10_000,
        describeStore: (dataDir) => {
          const mode = sqliteJournalMode(path.join(dataDir, 'temporal.sqlite'));
          return mode === undefined
            ? undefined
            : `Temporal CLI dev server on a SQLite file (--db-filename), no --sqlite-pragma given (the CLI's defaults); ` +
                `journal mode read from the file's header after the run: ${mode}`;
        },
      };
    case 'T-cluster':
      return {
        unavailable: () =>
          cachedTemporalServerBinaries(process.cwd())
            ? undefined
            : 'temporal-server is not provisioned (npm run temporal:provision-server builds it, about 5 minutes; never inside --quick)',
        expiryAllowanceMs: 10_000,
        serverVersion: cachedTemporalServerBinaries(process.cwd()) ? '1.32.2' : undefined,
      };
    case 'B-poll':
      return { unavailable: () => undefined, expiryAllowanceMs: 75_000 };
    case 'B-delay':
      return { unavailable: () => undefined, expiryAllowanceMs: 10_000 };
  }
}

/**
 * Starts one arm; the caller stops it. `holdfast` says how Holdfast's worker and API run: their extra
 * environment (the prebuilt workflow bundle, as a production image runs it) and their entry point.
 */
export async function startArm(
  name: ArmName,
  dataDir: string,
  holdfast: { env?: NodeJS.ProcessEnv; entry?: AppEntry } = {},
): Promise<RunningArm> {
  switch (name) {
    case 'T-dev':
      return startTDevArm({
        dataDir,
        ports: {
          api: 47_000,
          postgres: 47_001,
          smtp: 47_002,
          temporal: 47_003,
          temporalHttp: 47_004,
          temporalMetrics: 47_005,
          workerMetrics: 47_006,
        },
        persistence: 'sqlite',
        ...holdfast,
        log: log(name),
      });
    case 'B-poll':
    case 'B-delay': {
      const base = portBase[name];
      return startBullArm(name, {
        dataDir,
        // B-poll is the seed as written (3 cascade jobs at a time); B-delay, the strongest fair design,
        // runs as many at once as Holdfast's worker sends emails (WORKER_EMAIL_CONCURRENCY's default).
        env: name === 'B-delay' ? { BULL_CASCADE_CONCURRENCY: String(defaultQueueCapacity.email.concurrency) } : {},
        ports: { api: base, postgres: base + 1, smtp: base + 2, redis: base + 3, workerHealth: base + 4 },
        log: log(name),
      });
    }
    case 'T-cluster':
      return startTClusterArm({
        dataDir,
        ...holdfast,
        ports: {
          api: clusterAppPortBase,
          postgres: clusterAppPortBase + 1,
          smtp: clusterAppPortBase + 2,
          temporal: clusterAppPortBase + 3,
          temporalHttp: clusterAppPortBase + 4,
          temporalMetrics: clusterAppPortBase + 5,
          workerMetrics: clusterAppPortBase + 6,
          temporalPostgres: clusterAppPortBase + 90,
          temporalCluster: clusterBasePort,
        },
        ...clusterShape,
        log: log(name),
      });
  }
}
