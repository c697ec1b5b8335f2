import fs from 'node:fs';
import path from 'node:path';
import type { EphemeralServerExecutable } from '@temporalio/testing';

/** Where the Temporal binaries are; a missing path means "let the SDK download it" (needs internet). */
export interface TemporalBinaries {
  cliPath?: string;
  testServerPath?: string;
}

interface ManifestEntry {
  version: string;
  path: string | null;
  source: string;
}

const MANIFEST = path.join('.tools', 'temporal', 'manifest.json');

/**
 * Reads what `scripts/provision-temporal.mjs` recorded in .tools/temporal/manifest.json.
 * TEMPORAL_CLI_PATH and TEMPORAL_TEST_SERVER_PATH win over the manifest. Throws when the manifest
 * is needed but missing, telling the user to run `npm run temporal:provision`.
 */
export function readTemporalBinaries(projectRoot: string = findProjectRoot()): TemporalBinaries {
  const fromEnv = {
    cliPath: process.env.TEMPORAL_CLI_PATH || undefined,
    testServerPath: process.env.TEMPORAL_TEST_SERVER_PATH || undefined,
  };
  if (fromEnv.cliPath && fromEnv.testServerPath) return fromEnv;

  const manifest = readManifest(path.join(projectRoot, MANIFEST));
  return {
    cliPath: fromEnv.cliPath ?? entryPath(projectRoot, manifest.cli),
    testServerPath: fromEnv.testServerPath ?? entryPath(projectRoot, manifest.testServer),
  };
}

/** The `server.executable` option of `TestWorkflowEnvironment.createTimeSkipping()`. */
export function testServerExecutable(binaries: TemporalBinaries): EphemeralServerExecutable {
  return executable(binaries.testServerPath);
}

/** The `server.executable` option of `TestWorkflowEnvironment.createLocal()` (the CLI's dev server). */
export function devServerExecutable(binaries: TemporalBinaries): EphemeralServerExecutable {
  return executable(binaries.cliPath);
}

function executable(binaryPath: string | undefined): EphemeralServerExecutable {
  return binaryPath ? { type: 'existing-path', path: binaryPath } : { type: 'cached-download' };
}

function readManifest(file: string): { cli?: ManifestEntry; testServer?: ManifestEntry } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new Error(
      `The Temporal binaries are not provisioned (${file} is missing).\n` +
        'Run `npm run temporal:provision`, or set TEMPORAL_CLI_PATH and TEMPORAL_TEST_SERVER_PATH.',
    );
  }
  try {
    return JSON.parse(text) as { cli?: ManifestEntry; testServer?: ManifestEntry };
  } catch (error) {
    throw new Error(`${file} is not valid JSON (${(error as Error).message}); run \`npm run temporal:provision\`.`);
  }
}

// Paths inside the project are stored relative to it, so a moved clone keeps a valid manifest.
function entryPath(projectRoot: string, entry: ManifestEntry | undefined): string | undefined {
  if (!entry?.path) return undefined;
  return path.resolve(projectRoot, entry.path);
}

// The nearest directory with a package.json: the project root from the sources and from dist/.
function findProjectRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
  return dir;
}
