export interface TestStackHandles {
  stops: Array<() => Promise<void>>;
}

/** Where global setup leaves the addresses of the services it started, for the test files. */
export const testEnvironmentKeys = {
  databaseUrl: 'HOLDFAST_TEST_DATABASE_URL',
  temporalAddress: 'HOLDFAST_TEST_TEMPORAL_ADDRESS',
  /** The run's file store directory (reports and exports), removed with the run's other files. */
  filesDir: 'HOLDFAST_TEST_FILES_DIR',
} as const;
