import { Client as PgClient } from 'pg';

/**
 * What a PostgreSQL instance wrote during a measured run: the capacity model's IOPS and storage rows
 * come from here (docs/capacity.md). Each arm's stores are their own instances, so instance-wide
 * figures (WAL position) belong to that store alone.
 */

/** A PostgreSQL instance the bench measures: the application's, or Temporal's own (T-cluster). */
export interface MeasuredStore {
  /** `postgres` (the application's domain data) or `temporal-postgres` (the cluster's persistence and visibility). */
  role: string;
  /** Any database on the instance, to connect through. */
  databaseUrl: string;
  /** The databases whose commits and size count. */
  databases: string[];
  /** The database holding Temporal's `history_node` table, when this store is Temporal's. */
  historyDatabase?: string;
}

export interface StoreSnapshot {
  /** Committed transactions in the counted databases (pg_stat_database.xact_commit), read-only ones included. */
  commits: number;
  /**
   * Times the whole instance flushed its WAL to disk: the write IOPS a commit waits on. PostgreSQL 14–17
   * count them in pg_stat_wal.wal_sync, 18 in pg_stat_io (object 'wal'); undefined where neither answers.
   */
  walSyncs?: number;
  /** WAL written by the whole instance since it was created, in bytes. */
  walBytes: number;
  /** pg_database_size summed over the counted databases. */
  sizeBytes: number;
  /** Temporal's event histories as stored (history_node.data), in bytes. */
  historyBytes?: number;
}

/** Per measured step (an offer made or a hold settled), from two snapshots. */
export interface StoreActivity {
  role: string;
  commitsPerStep: number;
  walSyncsPerStep?: number;
  walBytesPerStep: number;
  sizeBytesPerStep: number;
  /** Temporal's store only: history bytes per cascade started in the window. */
  historyBytesPerCascade?: number;
}

async function withClient<T>(databaseUrl: string, use: (client: PgClient) => Promise<T>): Promise<T> {
  // A snapshot sits between two load levels: a database that does not answer must not stall the run.
  const client = new PgClient({
    connectionString: databaseUrl,
    connectionTimeoutMillis: 10_000,
    statement_timeout: 60_000,
  });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

export async function snapshotStore(store: MeasuredStore): Promise<StoreSnapshot> {
  const totals = await withClient(store.databaseUrl, async (client) => {
    // A backend reports its statistics at most about once a second: the snapshot may miss the last second's.
    await client.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await client.query<{ commits: string; size: string; wal: string; version: string }>(
      `SELECT coalesce(sum(xact_commit), 0)::text AS commits,
              coalesce(sum(pg_database_size(datname)), 0)::text AS size,
              pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS wal,
              current_setting('server_version_num') AS version
         FROM pg_stat_database WHERE datname = ANY($1)`,
      [store.databases],
    );
    const totals = rows[0]!;
    return { ...totals, walSyncs: await walSyncs(client, Number(totals.version)) };
  });
  const historyBytes = store.historyDatabase
    ? await withClient(databaseUrlFor(store.databaseUrl, store.historyDatabase), async (client) => {
        const { rows } = await client.query<{ bytes: string }>(
          'SELECT coalesce(sum(octet_length(data)), 0)::text AS bytes FROM history_node',
        );
        return Number(rows[0]!.bytes);
      })
    : undefined;
  return {
    commits: Number(totals.commits),
    ...(totals.walSyncs === undefined ? {} : { walSyncs: totals.walSyncs }),
    walBytes: Number(totals.wal),
    sizeBytes: Number(totals.size),
    ...(historyBytes === undefined ? {} : { historyBytes }),
  };
}

/** WAL flushes since the statistics were reset; undefined when this server keeps no such count. */
async function walSyncs(client: PgClient, serverVersion: number): Promise<number | undefined> {
  const query =
    serverVersion >= 180_000
      ? "SELECT coalesce(sum(fsyncs), 0)::text AS syncs FROM pg_stat_io WHERE object = 'wal'"
      : 'SELECT wal_sync::text AS syncs FROM pg_stat_wal';
  try {
    const { rows } = await client.query<{ syncs: string | null }>(query);
    return rows[0]?.syncs === null || rows[0]?.syncs === undefined ? undefined : Number(rows[0].syncs);
  } catch {
    return undefined;
  }
}

/** Snapshots every store; a store that cannot be read is left out rather than failing the run. */
export async function snapshotStores(
  stores: readonly MeasuredStore[],
  warn: (line: string) => void,
): Promise<Map<string, StoreSnapshot>> {
  const snapshots = new Map<string, StoreSnapshot>();
  for (const store of stores) {
    try {
      snapshots.set(store.role, await snapshotStore(store));
    } catch (error) {
      warn(`could not read ${store.role}'s statistics: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return snapshots;
}

/** Per-step figures between two snapshots of each store; none for a run without steps. */
export function storeActivity(
  before: ReadonlyMap<string, StoreSnapshot>,
  after: ReadonlyMap<string, StoreSnapshot>,
  steps: number,
  cascades: number,
): StoreActivity[] {
  if (steps <= 0) return [];
  return [...after].flatMap(([role, end]) => {
    const start = before.get(role);
    if (!start) return [];
    const history =
      start.historyBytes !== undefined && end.historyBytes !== undefined && cascades > 0
        ? { historyBytesPerCascade: (end.historyBytes - start.historyBytes) / cascades }
        : {};
    return [
      {
        role,
        commitsPerStep: (end.commits - start.commits) / steps,
        ...(start.walSyncs !== undefined && end.walSyncs !== undefined
          ? { walSyncsPerStep: (end.walSyncs - start.walSyncs) / steps }
          : {}),
        walBytesPerStep: (end.walBytes - start.walBytes) / steps,
        sizeBytesPerStep: (end.sizeBytes - start.sizeBytes) / steps,
        ...history,
      },
    ];
  });
}

/** The application's database: the one its URL names. */
export function applicationStore(databaseUrl: string): MeasuredStore {
  return { role: 'postgres', databaseUrl, databases: [new URL(databaseUrl).pathname.slice(1)] };
}

function databaseUrlFor(databaseUrl: string, database: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
