import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { DataConverter } from '@temporalio/common';
import type { WorkflowBundle } from '@temporalio/worker';
import type { Role } from '../../api/auth';
import { loadConfig, type Config } from '../../lib/config';
import { createPrismaClient, type PrismaClient } from '../../lib/db';
import {
  createDataConverter,
  createEncryptionCodec,
  createMemoryScopeSalts,
  type EncryptionCodec,
} from '../../lib/data-converter';
import { createConfiguredCodec } from '../../lib/payload-key-scopes';
import { signDevToken } from '../../lib/dev-token';
import { createLogger, type Logger } from '../../lib/logger';
import { temporalClientOptions } from '../../lib/temporal';
import { readTemporalBinaries, testServerExecutable } from '../../scripts/stack/temporal-binaries';
import { customSearchAttributes } from '../../workflows/search-attributes';
import { requiredTestSetting as required, testDatabaseUrl, testEnvironmentKeys } from './stack-handles';

/** Settings for the stack that global setup started, with per-test overrides. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    APP_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: testDatabaseUrl(),
    TEMPORAL_ADDRESS: required(testEnvironmentKeys.temporalAddress),
    WORKFLOW_BUNDLE_PATH: required(testEnvironmentKeys.workflowBundle),
    TEMPORAL_TASK_QUEUE: `test-${randomUUID()}`,
    WORKER_SYNC_SCHEDULES: 'false',
    WORKER_METRICS_PORT: '0',
    FILE_STORE_DIR: required(testEnvironmentKeys.filesDir),
    // Limiting stays on, with room for the suites that send thousands of requests from loopback;
    // test/api/rate-limits.test.ts sets tight limits where it needs them.
    RATE_LIMIT_PUBLIC_PER_MINUTE: '100000',
    RATE_LIMIT_TOKEN_PER_MINUTE: '100000',
    RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '100000',
    RATE_LIMIT_TENANT_WRITES_PER_MINUTE: '100000',
    ...overrides,
  });
}

export function testLogger(config: Config): Logger {
  return createLogger(config, 'test');
}

export function testPrisma(config: Config): PrismaClient {
  return createPrismaClient(config.databaseUrl!, { maxConnections: 5 });
}

/** A client of the test stack, encrypting like the API's: PAYLOAD_KEYS over the salts in `prisma`. */
export async function testTemporalClient(
  config: Config,
  prisma: PrismaClient,
): Promise<{ client: Client; connection: Connection; codec: EncryptionCodec }> {
  const connection = await Connection.connect({ address: config.temporal.address });
  const codec = createConfiguredCodec(config.payloads, prisma);
  return { client: new Client({ connection, ...temporalClientOptions(config.temporal, codec) }), connection, codec };
}

/**
 * The data converter of workflow unit tests, which have no database: the production codec with a key
 * made for this process and salts kept in memory.
 */
export function testDataConverter(): DataConverter {
  return createDataConverter(
    createEncryptionCodec({
      keys: [{ id: 'unit-test', key: randomBytes(32) }],
      salts: createMemoryScopeSalts(),
      keyCacheTtlMs: 60_000,
    }),
  );
}

/** A fresh tenant per test keeps tests independent without wiping the shared database. */
export async function createTestTenant(
  prisma: PrismaClient,
  overrides: { holdMinutes?: number; retentionDays?: number; adminEmail?: string } = {},
) {
  const id = `t-${randomUUID()}`;
  return prisma.tenant.create({
    data: { id, slug: id, name: `Test tenant ${id.slice(2, 10)}`, adminEmail: `admin@${id}.test`, ...overrides },
  });
}

export function tokenFor(config: Config, tenantId: string, ...roles: Role[]): Promise<string> {
  return signDevToken(config.auth, { tenantId, roles: roles.length > 0 ? roles : ['member'] });
}

/**
 * The time-skipping test server, with our custom search attributes and the provisioned binary. Its
 * client encrypts with {@link testDataConverter}, and the workers of the environment take the same one
 * (`env.client.options.dataConverter`). Histories recorded as fixtures (test/histories/) are kept in
 * clear (`plaintext`), so that any clone replays them.
 */
export async function createTimeSkippingEnvironment(
  options: { plaintext?: boolean } = {},
): Promise<TestWorkflowEnvironment> {
  const dataConverter: DataConverter | undefined = options.plaintext ? undefined : testDataConverter();
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: testServerExecutable(readTemporalBinaries()) },
    ...(dataConverter ? { client: { dataConverter } } : {}),
  });
  // The test server takes no search-attribute flags, but it implements the operator API.
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(
      customSearchAttributes.map((key) => [
        key.name,
        temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
      ]),
    ),
  });
  return env;
}

/**
 * The workflow code global setup bundled once for the run (`npm run build:workflows`' bundle); workers
 * then start in milliseconds.
 */
export async function bundleWorkflows(): Promise<WorkflowBundle> {
  return { code: await fs.promises.readFile(required(testEnvironmentKeys.workflowBundle), 'utf8') };
}

export { customSearchAttributes };
