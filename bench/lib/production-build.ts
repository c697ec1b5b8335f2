import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * The worker and the API as the production image runs them (Dockerfile): compiled by `tsc -p
 * tsconfig.build.json` into dist/, started with plain `node`, with no TypeScript loader in their
 * memory or on their start-up path. Measuring them through tsx would charge its transpiler cache
 * (tens of MB per process) and its load time to Holdfast.
 */

const projectRoot = path.resolve(__dirname, '..', '..');

/** How the bench starts Holdfast's own processes. */
export type AppEntry = 'source' | 'compiled';

/** Node's arguments for the worker or the API. */
export function appEntryArgs(entry: AppEntry, role: 'worker' | 'api'): string[] {
  const source = role === 'worker' ? 'workers/main.ts' : 'api/server.ts';
  if (entry === 'source') return ['--import', 'tsx', source];
  return ['--enable-source-maps', path.join('dist', source.replace(/\.ts$/, '.js'))];
}

/**
 * Builds dist/ as the image's build stage does, the console's templates and stylesheet included (tsc
 * copies only TypeScript). Returns the build's wall time in ms.
 */
export function buildProductionApp(): number {
  const started = Date.now();
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: projectRoot,
    stdio: 'inherit',
  });
  for (const folder of ['views', 'assets']) {
    fs.cpSync(
      path.join(projectRoot, 'api', 'console', folder),
      path.join(projectRoot, 'dist', 'api', 'console', folder),
      {
        recursive: true,
      },
    );
  }
  return Date.now() - started;
}
