import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Role } from '../../api/auth';
import { loadConfig, type Config } from '../../lib/config';
import { createPrismaClient, type PrismaClient } from '../../lib/db';
import { signDevToken } from '../../lib/dev-token';
import { createLogger, type Logger } from '../../lib/logger';
import { temporalClientOptions } from '../../lib/temporal';
import { readTemporalBinaries, testServerExecutable } from '../../scripts/stack/temporal-binaries';
import { customSearchAttributes } from '../../workflows/search-attributes';
import { testEnvironmentKeys } from './stack-handles';

function required(key: string): string {
  const value = process.env[key];
  if (!value) throw new Error(`${key} is not set: run the tests through jest (global setup starts the stack)`);
  return value;
}

/** Settings for the stack that global setup started, with per-test overrides. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    APP_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: required(testEnvironmentKeys.databaseUrl),
    TEMPORAL_ADDRESS: required(testEnvironmentKeys.temporalAddress),
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

export async function testTemporalClient(config: Config): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: config.temporal.address });
  return { client: new Client({ connection, ...temporalClientOptions(config.temporal) }), connection };
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

/** The time-skipping test server, with our custom search attributes and the provisioned binary. */
export async function createTimeSkippingEnvironment(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: testServerExecutable(readTemporalBinaries()) },
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

/** Workflow code bundled once per test file; workers then start in milliseconds. */
export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: path.resolve(__dirname, '../../workflows/index.ts'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
  });
}

export { customSearchAttributes };
