// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const nodeBuiltins = [
  'assert',
  'async_hooks',
  'buffer',
  'child_process',
  'cluster',
  'crypto',
  'dgram',
  'dns',
  'events',
  'fs',
  'fs/promises',
  'http',
  'http2',
  'https',
  'net',
  'os',
  'path',
  'perf_hooks',
  'process',
  'readline',
  'stream',
  'timers',
  'tls',
  'url',
  'util',
  'v8',
  'vm',
  'worker_threads',
  'zlib',
];

export default tseslint.config(
  {
    ignores: ['node_modules/', 'dist/', 'generated/', '.data/', '.tools/', 'coverage/', 'test/histories/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    // Workflow code is replayed and must be deterministic: no I/O, no clocks, no randomness
    // outside the SDK's sandbox, and activities only as types through proxyActivities.
    files: ['workflows/**/*.ts', 'bench/ceiling/workflow.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.flatMap((name) => [
              { name, message: 'Workflows must not use Node built-ins; do the I/O in an activity.' },
              { name: `node:${name}`, message: 'Workflows must not use Node built-ins; do the I/O in an activity.' },
            ]),
            { name: '@prisma/client', message: 'Database access belongs in activities.' },
            { name: 'express', message: 'Workflows know nothing of HTTP.' },
            { name: '@temporalio/client', message: 'Use @temporalio/workflow APIs inside workflows.' },
            { name: '@temporalio/worker', message: 'Use @temporalio/workflow APIs inside workflows.' },
            { name: '@temporalio/activity', message: 'Activities are proxied, never called directly.' },
          ],
          patterns: [
            {
              // lib/task-queues.ts is pure: workflows route activities to their queue with it.
              group: [
                '../activities',
                '../activities/*',
                '../lib/*',
                '!../lib/task-queues',
                '../api/*',
                '../workers/*',
                '**/generated/**',
              ],
              allowTypeImports: true,
              message: 'Workflows may import only types from activities and non-workflow modules.',
            },
            { group: ['pg', 'nodemailer', 'pino', 'pino-*', 'jose'], message: 'Side effects belong in activities.' },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'Workflows must not read the process environment.' },
        { name: 'setInterval', message: 'Use sleep() or condition() from @temporalio/workflow.' },
        { name: 'console', message: 'Use log from @temporalio/workflow.' },
      ],
    },
  },
  {
    // Tests read supertest's untyped bodies; asserting on them is the point.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Fakes implement async interfaces without awaiting anything; jest matchers pass methods around.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { ...globals.node } },
  },
);
