export interface TestStackHandles {
  stops: Array<() => Promise<void>>;
}

/** Where global setup leaves the addresses of the services it started, for the test files. */
export const testEnvironmentKeys = {
  databaseUrl: 'HOLDFAST_TEST_DATABASE_URL',
  temporalAddress: 'HOLDFAST_TEST_TEMPORAL_ADDRESS',
  /** The run's file store directory (reports and exports), removed with the run's other files. */
  filesDir: 'HOLDFAST_TEST_FILES_DIR',
  /** The workflow code, bundled once for the run: every test worker loads it instead of bundling again. */
  workflowBundle: 'HOLDFAST_TEST_WORKFLOW_BUNDLE',
} as const;

/**
 * The database of Jest worker `worker` (1, 2, …): the first uses the database global setup migrated,
 * the others a copy of it each. A test file that locks a table (the export tests stop an export
 * half-way that way) then never stalls the file running beside it.
 */
export function workerDatabaseUrl(migratedUrl: string, worker: number): string {
  if (worker <= 1) return migratedUrl;
  const url = new URL(migratedUrl);
  url.pathname = `${url.pathname}_w${worker}`;
  return url.toString();
}

/** A setting global setup left in the environment (one of {@link testEnvironmentKeys}). */
export function requiredTestSetting(key: string): string {
  const value = process.env[key];
  if (!value) throw new Error(`${key} is not set: run the tests through jest (global setup starts the stack)`);
  return value;
}

/** The database of the Jest worker running this test file. */
export function testDatabaseUrl(): string {
  return workerDatabaseUrl(
    requiredTestSetting(testEnvironmentKeys.databaseUrl),
    Number(process.env.JEST_WORKER_ID ?? '1'),
  );
}
