import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  clusterDynamicConfig,
  clusterPorts,
  dynamicConfigYaml,
  parsePostgresUrl,
  planClusterProcesses,
  readClusterState,
  resolveShardCount,
  serverConfigYaml,
  ShardCountMismatchError,
  stopOrder,
  uiServerConfig,
  type ClusterProcessPlan,
  type ServerConfigInput,
} from '../../scripts/stack/temporal-cluster';
import { dispatchOrderSettings } from '../../scripts/stack/temporal-dev-server';

const database = parsePostgresUrl('postgresql://holdfast:s3cret%21@127.0.0.1:54321/postgres');

function configOf(process: ClusterProcessPlan, overrides: Partial<ServerConfigInput> = {}) {
  const input: ServerConfigInput = {
    process,
    ports: clusterPorts(7233),
    shards: 4,
    database,
    dynamicConfigFile: '/data/config/dynamicconfig.yaml',
    logLevel: 'warn',
    ...overrides,
  };
  return parseYaml(serverConfigYaml(input)) as {
    persistence: {
      numHistoryShards: number;
      datastores: Record<string, { sql: Record<string, unknown> }>;
    };
    services: Record<string, { rpc: { grpcPort: number; membershipPort: number; bindOnLocalHost: boolean } }>;
    global: { metrics: { prometheus: { listenAddress: string } } };
    clusterMetadata: { clusterInformation: { active: { rpcAddress: string } } };
    dynamicConfigClient: { filepath: string };
  };
}

describe('the cluster ports', () => {
  it('keep upstream gRPC ports at the default base: frontend 7233, history 7234, matching 7235, worker 7239', () => {
    const ports = clusterPorts();
    expect(ports.frontend.grpc).toBe(7233);
    expect(ports.frontend.http).toBe(7243);
    expect(ports.history.map((h) => h.grpc)).toEqual([7234, 7236]);
    expect(ports.matching.grpc).toBe(7235);
    expect(ports.worker.grpc).toBe(7239);
  });

  it('are all distinct and inside the 100-port block above the base, so a bench can reserve one block', () => {
    const base = 47100;
    const ports = clusterPorts(base);
    const plan = planClusterProcesses('split', 2, ports);
    const all = [
      ports.frontend.grpc,
      ports.frontend.http,
      ports.frontend.membership,
      ports.matching.grpc,
      ports.matching.membership,
      ports.worker.grpc,
      ports.worker.membership,
      ...ports.history.flatMap((h) => [h.grpc, h.membership]),
      ...plan.map((p) => p.metricsPort),
    ];
    expect(new Set(all).size).toBe(all.length);
    for (const port of all) {
      expect(port).toBeGreaterThanOrEqual(base);
      expect(port).toBeLessThan(base + 100);
    }
  });

  it('refuse a base port that leaves no room for the block', () => {
    expect(() => clusterPorts(65_500)).toThrow(RangeError);
    expect(() => clusterPorts(80)).toThrow(RangeError);
  });
});

describe('the process plan', () => {
  it('runs every service in one process for the single topology', () => {
    const plan = planClusterProcesses('single', 1, clusterPorts());
    expect(plan.map((p) => [p.name, p.services])).toEqual([
      ['temporal', ['frontend', 'history', 'matching', 'worker']],
    ]);
  });

  it('starts history first and the worker service last for the split topology with two history processes', () => {
    const plan = planClusterProcesses('split', 2, clusterPorts());
    expect(plan.map((p) => p.name)).toEqual(['history-1', 'history-2', 'matching', 'frontend', 'worker']);
    expect(plan.map((p) => p.historyIndex).slice(0, 2)).toEqual([0, 1]);
  });

  it('stops the frontend, matching, worker, then both history processes together', () => {
    const plan = planClusterProcesses('split', 2, clusterPorts());
    expect(stopOrder(plan).map((tier) => tier.map((p) => p.name))).toEqual([
      ['frontend'],
      ['matching'],
      ['worker'],
      ['history-1', 'history-2'],
    ]);
  });

  it('refuses more than one history process in a single process, and more than two', () => {
    expect(() => planClusterProcesses('single', 2, clusterPorts())).toThrow(/split topology/);
    expect(() => planClusterProcesses('split', 3, clusterPorts())).toThrow(RangeError);
  });
});

describe('the server configuration', () => {
  const [history1, history2, , frontend] = planClusterProcesses('split', 2, clusterPorts(7233));

  it('persists both stores to PostgreSQL with the requested shard count and the given credentials', () => {
    const config = configOf(history1!, { shards: 16 });
    expect(config.persistence.numHistoryShards).toBe(16);
    expect(config.persistence.datastores['postgres-default']?.sql).toMatchObject({
      pluginName: 'postgres12',
      databaseName: 'temporal',
      connectAddr: '127.0.0.1:54321',
      user: 'holdfast',
      password: 's3cret!',
    });
    expect(config.persistence.datastores['postgres-visibility']?.sql).toMatchObject({
      databaseName: 'temporal_visibility',
    });
  });

  it('gives each history process its own gRPC and membership ports, all bound to 127.0.0.1', () => {
    const first = configOf(history1!).services.history!.rpc;
    const second = configOf(history2!).services.history!.rpc;
    expect([first.grpcPort, first.membershipPort]).toEqual([7234, 7254]);
    expect([second.grpcPort, second.membershipPort]).toEqual([7236, 7256]);
    expect(first.bindOnLocalHost && second.bindOnLocalHost).toBe(true);
  });

  it('gives each process its own metrics port and points the cluster at the frontend', () => {
    const a = configOf(history1!);
    const b = configOf(frontend!);
    expect(a.global.metrics.prometheus.listenAddress).not.toBe(b.global.metrics.prometheus.listenAddress);
    expect(b.clusterMetadata.clusterInformation.active.rpcAddress).toBe('127.0.0.1:7233');
    expect(b.dynamicConfigClient.filepath).toBe('/data/config/dynamicconfig.yaml');
  });
});

describe('the dynamic config', () => {
  it('carries the dev server dispatch-order settings in the server file format', () => {
    const parsed = parseYaml(dynamicConfigYaml(clusterDynamicConfig())) as Record<
      string,
      Array<{ value: unknown; constraints: object }>
    >;
    for (const [key, value] of Object.entries(dispatchOrderSettings)) {
      expect(parsed[key]).toEqual([{ value, constraints: {} }]);
    }
    expect(parsed['limit.maxIDLength']?.[0]?.value).toBe(255);
  });
});

describe('the Web UI configuration', () => {
  it('points at the frontend and decodes through the API codec with credentials, like Compose', () => {
    const config = uiServerConfig({
      frontendAddress: '127.0.0.1:7233',
      port: 8233,
      namespace: 'default',
      codecEndpoint: 'http://localhost:3000/codec',
    });
    expect(config).toMatchObject({
      temporalGrpcAddress: '127.0.0.1:7233',
      host: '127.0.0.1',
      port: 8233,
      codec: { endpoint: 'http://localhost:3000/codec', includeCredentials: true },
    });
  });
});

describe('the history shard count', () => {
  const existing = { historyShards: 4, serverVersion: '1.32.2', createdAt: '2026-12-02T00:00:00.000Z' };

  it('is the requested one, or 4, for a new store', () => {
    expect(resolveShardCount(undefined, 128, '/data')).toBe(128);
    expect(resolveShardCount(undefined, undefined, '/data')).toBe(4);
  });

  it('is the stored one when none is requested or the same one is', () => {
    expect(resolveShardCount(existing, undefined, '/data')).toBe(4);
    expect(resolveShardCount(existing, 4, '/data')).toBe(4);
  });

  it('refuses a different count on an existing store, saying how to proceed', () => {
    expect(() => resolveShardCount(existing, 8, '/data/cluster')).toThrow(ShardCountMismatchError);
    expect(() => resolveShardCount(existing, 8, '/data/cluster')).toThrow(
      /created with 4 history shards.*--shards 4.*new data directory/,
    );
  });

  it('refuses a count that is not a positive integer', () => {
    expect(() => resolveShardCount(undefined, 0, '/data')).toThrow(RangeError);
    expect(() => resolveShardCount(undefined, 2.5, '/data')).toThrow(RangeError);
  });

  it('is read back from the data directory the cluster created', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'holdfast-cluster-state-'));
    try {
      expect(readClusterState(dir)).toBeUndefined();
      fs.writeFileSync(path.join(dir, 'cluster.json'), JSON.stringify(existing));
      expect(resolveShardCount(readClusterState(dir), undefined, dir)).toBe(4);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
