#!/usr/bin/env node
// Runs the Prisma CLI in the offline-safe configuration this project uses.
//
// Prisma 6.19 with `engine: "js"` (prisma.config.ts) needs no native engines, but the
// CLI still tries to download them unless these variables name an existing file. We point
// them at this script: it is never executed, only checked for existence.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const self = fileURLToPath(import.meta.url);
const env = { ...process.env };
env.PRISMA_SCHEMA_ENGINE_BINARY ??= self;
env.PRISMA_QUERY_ENGINE_LIBRARY ??= self;
env.PRISMA_HIDE_UPDATE_MESSAGE = '1';
// `generate` and `migrate diff` read no database, but the schema's env("DATABASE_URL") must resolve.
const needsNoDatabase = process.argv[2] === 'generate' || process.argv.slice(2, 4).join(' ') === 'migrate diff';
if (needsNoDatabase) env.DATABASE_URL ??= 'postgresql://unused@localhost:5432/unused';

const cli = require.resolve('prisma/build/index.js');
const result = spawnSync(process.execPath, [cli, ...process.argv.slice(2)], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
