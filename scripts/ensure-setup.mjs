#!/usr/bin/env node
// Makes a fresh clone runnable, so `npm run dev` and `npm test` work as the only command:
// installs the locked dependencies when they are missing or stale, generates the Prisma
// client, and provisions the pinned Temporal binaries. Every step is skipped when done.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');
const say = (line) => quiet || console.log(`[setup] ${line}`);

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.status !== 0) {
    console.error(`[setup] \`${command} ${args.join(' ')}\` failed (exit ${result.status ?? result.signal}).`);
    process.exit(result.status ?? 1);
  }
}

const mtime = (file) => (fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0);

// npm writes node_modules/.package-lock.json on every install; older than the lock means stale.
const installedLock = path.join(root, 'node_modules', '.package-lock.json');
if (mtime(installedLock) < mtime(path.join(root, 'package-lock.json'))) {
  say('installing dependencies (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

if (mtime(path.join(root, 'generated', 'prisma', 'client.ts')) < mtime(path.join(root, 'prisma', 'schema.prisma'))) {
  say('generating the Prisma client');
  run(process.execPath, [path.join(root, 'scripts', 'prisma.mjs'), 'generate']);
}

run(process.execPath, [path.join(root, 'scripts', 'provision-temporal.mjs'), ...(quiet ? ['--quiet'] : [])]);
