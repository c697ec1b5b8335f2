// Tests run far from UTC, so that nothing passes only because the host's clock is in UTC: dates read from
// PostgreSQL, rendered into messages and compared must mean the same instant in any zone. Jest's workers
// inherit it; the server processes the tests start do too.
process.env.TZ = 'Pacific/Kiritimati';

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Type errors are caught by `npm run typecheck`; tests only transpile, which keeps them fast.
    // CommonJS output turns the generated Prisma client's dynamic import() calls into require(),
    // which Jest's module registry supports without --experimental-vm-modules.
    '^.+\\.ts$': [
      'ts-jest',
      {
        isolatedModules: true,
        diagnostics: false,
        tsconfig: { module: 'commonjs', moduleResolution: 'node10', ignoreDeprecations: '6.0' },
      },
    ],
  },
  // The generated Prisma client imports its TypeScript siblings with .js extensions.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  // Workflow bundling and real servers take seconds; a hung test still fails.
  testTimeout: 120_000,
  verbose: true,
};
