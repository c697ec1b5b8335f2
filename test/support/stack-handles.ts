export interface TestStackHandles {
  stops: Array<() => Promise<void>>;
}

/** Where global setup leaves the addresses of the services it started, for the test files. */
export const testEnvironmentKeys = {
  databaseUrl: 'HOLDFAST_TEST_DATABASE_URL',
  temporalAddress: 'HOLDFAST_TEST_TEMPORAL_ADDRESS',
} as const;
