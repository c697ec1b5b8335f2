#!/usr/bin/env node
// Provisions the production Temporal server (`server`, and the `sql` tool that creates its
// schemas) and the standalone Web UI server, for `npm run cluster` (docs/cluster.md), and records
// where they are in .tools/temporal/manifest.json beside the CLI's entries.
//
// No registry ships these as binaries we can reach, so they are built from their Go modules with
// `go install <package>@<pinned version>` through the Go module proxy. The server takes minutes to
// build, so the result is cached in the user's cache directory (~/.cache/holdfast/, which fresh CI
// clones reuse) and hard-linked into the project (.tools/temporal/).
//
// Usage: node scripts/provision-temporal-server.mjs [--quiet] [--only server|ui] [--no-build]
//   --no-build  use the caches only; exit 2 when the server is not built yet (e.g. `bench --quick`)
// The Web UI is optional: when it cannot be built, the cluster runs without it and this says why.
// Plain Node ESM without dependencies, like scripts/provision-temporal.mjs.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PROJECT_CACHE = path.join(PROJECT_ROOT, '.tools', 'temporal');
const USER_CACHE = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'holdfast');
const MANIFEST = path.join(PROJECT_CACHE, 'manifest.json');
const PLATFORM = `${process.platform}-${process.arch}`;
const PROVENANCE = 'provenance.json';

// The Go this machine kind ships (1.26.8) is older than what the server's go.mod asks for; the Go
// module proxy serves this toolchain, and the go command fetches it once per machine.
const NEWER_TOOLCHAIN = 'go1.27.3';

const BUILDS = [
  {
    id: 'server',
    label: 'temporal server',
    version: '1.32.2',
    module: 'go.temporal.io/server',
    minimumGo: '1.26.10',
    // ~/.cache/holdfast/temporal-server/<version>/ and .tools/temporal/server-<version>/
    userCacheDir: 'temporal-server',
    projectCacheName: 'server',
    programs: [
      { manifestKey: 'server', file: 'server', package: 'go.temporal.io/server/cmd/server' },
      // temporal-sql-tool: creates and upgrades the schemas (it embeds them, so no module cache is needed at run time).
      { manifestKey: 'sqlTool', file: 'sql', package: 'go.temporal.io/server/cmd/tools/sql' },
    ],
    // Both report the server version: `temporal version 1.32.2`, `temporal-sql-tool version 1.32.2`.
    versionPattern: /version (\d+\.\d+\.\d+)/,
    buildMinutes: '5',
  },
  {
    id: 'ui',
    label: 'temporal Web UI server',
    // The same UI release as docker-compose.yml's temporalio/ui image; the module embeds the built UI.
    version: '2.55.0',
    module: 'github.com/temporalio/ui-server/v2',
    minimumGo: '1.26.5',
    userCacheDir: 'temporal-ui-server',
    projectCacheName: 'ui-server',
    programs: [
      {
        manifestKey: 'uiServer',
        file: 'ui-server',
        package: 'github.com/temporalio/ui-server/v2/cmd/server',
        // `go install` names the binary after its directory; `server` would be confusing beside the Temporal server.
        builtAs: 'server',
      },
    ],
    versionPattern: /version (\d+\.\d+\.\d+)/,
    buildMinutes: '2–4',
    optional: true,
  },
];

/** Something the user must act on; stops this build, with a hint. */
class BuildError extends Error {}

let quiet = false;
const tempPaths = new Set();

function main() {
  const options = parseOptions();
  quiet = options.quiet;
  process.on('exit', removeTempPaths);
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

  const entries = {};
  let failed = false;
  for (const build of BUILDS.filter((b) => !options.only || b.id === options.only)) {
    try {
      const entry = resolveBuild(build, options);
      Object.assign(entries, entry);
    } catch (error) {
      if (!(error instanceof BuildError)) throw error;
      if (build.optional && !options.only) {
        console.warn(
          `warning: ${build.label} ${build.version} is unavailable, so \`npm run cluster\` runs without a Web UI:\n` +
            `  ${error.message}`,
        );
        continue;
      }
      console.error(`error: ${build.label} ${build.version}: ${error.message}`);
      failed = true;
    }
  }
  if (Object.keys(entries).length > 0) writeManifest(entries);
  if (failed) process.exit(options.noBuild ? 2 : 1);
}

function parseOptions() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        quiet: { type: 'boolean', default: false },
        only: { type: 'string' },
        'no-build': { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    usage(error.message);
  }
  if (values.only && !BUILDS.some((b) => b.id === values.only)) usage('--only must be server or ui');
  return { quiet: values.quiet, only: values.only, noBuild: values['no-build'] };
}

function usage(message) {
  console.error(`provision-temporal-server: ${message}`);
  console.error('usage: node scripts/provision-temporal-server.mjs [--quiet] [--only server|ui] [--no-build]');
  process.exit(2);
}

/** The manifest entries of one build: from the project cache, the user cache, or a fresh `go install`. */
function resolveBuild(build, options) {
  const started = Date.now();
  const projectDir = path.join(PROJECT_CACHE, `${build.projectCacheName}-${build.version}`);
  const userDir = path.join(USER_CACHE, build.userCacheDir, build.version);

  if (isComplete(projectDir, build)) {
    say(`${build.label} ${build.version}: cached -> ${displayPath(projectDir)}`, { expected: true });
    return manifestEntries(build, projectDir, readProvenance(projectDir).source ?? 'go');
  }
  if (isComplete(userDir, build)) {
    verifyPrograms(userDir, build);
    const dir = installEntry(userDir, PROJECT_CACHE, path.basename(projectDir), build);
    say(`${build.label} ${build.version}: user-cache ${displayPath(userDir)} -> ${displayPath(dir)}`);
    return manifestEntries(build, dir, readProvenance(userDir).source ?? 'go');
  }
  if (options.noBuild) {
    throw new BuildError(
      `not built yet (--no-build); run \`npm run temporal:provision-server\` (about ${build.buildMinutes} min)`,
    );
  }

  const staging = makeTempDir();
  const env = goEnvironment(build);
  say(
    `${build.label} ${build.version}: building ${build.module}@v${build.version} with Go` +
      `${env.GOTOOLCHAIN ? ` (GOTOOLCHAIN=${env.GOTOOLCHAIN})` : ''}, about ${build.buildMinutes} min...`,
  );
  for (const program of build.programs) {
    run(`go install ${program.package}@v${build.version}`, 'go', ['install', `${program.package}@v${build.version}`], {
      env: { ...env, GOBIN: staging },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    if (program.builtAs) fs.renameSync(path.join(staging, program.builtAs), path.join(staging, program.file));
  }
  verifyPrograms(staging, build);
  const record = {
    source: 'go',
    version: build.version,
    module: build.module,
    toolchain: env.GOTOOLCHAIN ?? goVersion(),
  };
  const dir = publish(staging, build, path.basename(projectDir), userDir, record);
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  say(
    `${build.label} ${build.version}: built in ${minutes} min -> ${displayPath(dir)} (cached in ${displayPath(userDir)})`,
  );
  return manifestEntries(build, dir, 'go');
}

function manifestEntries(build, dir, source) {
  const entries = {};
  for (const program of build.programs) {
    entries[program.manifestKey] = {
      version: build.version,
      // Relative paths keep the manifest valid if the clone moves.
      path: path.relative(PROJECT_ROOT, path.join(dir, program.file)),
      source,
    };
  }
  return entries;
}

// ---------------------------------------------------------------------------------------------
// Go.

/** The environment for `go install`: a newer toolchain when the installed Go is too old for the module. */
function goEnvironment(build) {
  const installed = goVersion();
  const env = { ...process.env };
  // A toolchain the user chose (GOTOOLCHAIN=...) is theirs to choose; `local` means "never download".
  if (process.env.GOTOOLCHAIN && process.env.GOTOOLCHAIN !== 'auto') return env;
  if (compareVersions(installed.replace(/^go/, ''), build.minimumGo) < 0) env.GOTOOLCHAIN = NEWER_TOOLCHAIN;
  return env;
}

function goVersion() {
  const result = spawnSync('go', ['env', 'GOVERSION'], {
    encoding: 'utf8',
    env: { ...process.env, GOTOOLCHAIN: 'local' },
  });
  if (result.error || result.status !== 0) {
    throw new BuildError(
      'Go is not installed (or does not run); install Go 1.26 or later, which fetches the toolchain this build needs',
    );
  }
  return result.stdout.trim();
}

/** Compares dotted versions numerically: negative when a < b. */
function compareVersions(a, b) {
  const pa = a.split('.').map((n) => Number.parseInt(n, 10) || 0);
  const pb = b.split('.').map((n) => Number.parseInt(n, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i += 1) {
    const difference = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Verification.

function verifyPrograms(dir, build) {
  for (const program of build.programs) {
    const file = path.join(dir, program.file);
    if (!isExecutableFile(file)) throw new BuildError(`${displayPath(file)} is not an executable file`);
    const output = run(`${program.file} --version`, file, ['--version'], { timeout: 60_000 });
    const reported = output.match(build.versionPattern)?.[1];
    if (reported !== build.version) {
      throw new BuildError(
        `${displayPath(file)} reports version ${reported ?? output.trim()}, expected ${build.version}`,
      );
    }
  }
}

function isComplete(dir, build) {
  if (!build.programs.every((program) => isExecutableFile(path.join(dir, program.file)))) return false;
  // A clone shared between a host and a container may hold another platform's build.
  const { platform } = readProvenance(dir);
  return !platform || platform === PLATFORM;
}

function isExecutableFile(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Caches. An entry is assembled under a temporary name and renamed into place, so an interrupted
// run never leaves a half-written binary behind.

function readProvenance(dir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, PROVENANCE), 'utf8'));
  } catch {
    return {};
  }
}

function publish(staging, build, projectName, userDir, provenance) {
  const record = { ...provenance, platform: PLATFORM, createdAt: new Date().toISOString() };
  fs.writeFileSync(path.join(staging, PROVENANCE), `${JSON.stringify(record, null, 2)}\n`);
  try {
    installEntry(staging, path.dirname(userDir), path.basename(userDir), build);
  } catch (error) {
    console.warn(`warning: could not fill the user cache ${displayPath(userDir)}: ${error.message}`);
  }
  return installEntry(staging, PROJECT_CACHE, projectName, build);
}

function installEntry(source, root, name, build) {
  fs.mkdirSync(root, { recursive: true });
  const destination = path.join(root, name);
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const temp = path.join(root, `.tmp-${name}-${suffix}`);
  const replaced = path.join(root, `.tmp-old-${name}-${suffix}`);
  tempPaths.add(temp).add(replaced);
  try {
    linkOrCopyTree(source, temp);
    // Running servers keep their open files when the old entry moves aside.
    if (fs.existsSync(destination)) fs.renameSync(destination, replaced);
    fs.renameSync(temp, destination);
  } catch (error) {
    // A concurrent run may have installed the same entry first; theirs is as good as ours.
    if (!isComplete(destination, build)) throw error;
  } finally {
    for (const leftover of [temp, replaced]) {
      fs.rmSync(leftover, { recursive: true, force: true });
      tempPaths.delete(leftover);
    }
  }
  return destination;
}

// Hard links make filling the project cache from the user cache instant and cost no disk space
// (the server binary is about 160 MB).
function linkOrCopyTree(source, destination) {
  fs.mkdirSync(destination, { recursive: true });
  for (const entry of fs.readdirSync(source, { withFileTypes: true })) {
    if (entry.isDirectory()) continue;
    const from = path.join(source, entry.name);
    const to = path.join(destination, entry.name);
    try {
      fs.linkSync(from, to);
    } catch {
      fs.copyFileSync(from, to);
      fs.chmodSync(to, fs.statSync(from).mode);
    }
  }
}

function writeManifest(entries) {
  let previous = {};
  try {
    previous = JSON.parse(fs.readFileSync(MANIFEST, 'utf8'));
  } catch {
    // No manifest yet (or a corrupt one): start afresh.
  }
  const manifest = { ...previous, ...entries };
  fs.mkdirSync(PROJECT_CACHE, { recursive: true });
  const temp = `${MANIFEST}.${process.pid}.tmp`;
  fs.writeFileSync(temp, `${JSON.stringify(manifest, null, 2)}\n`);
  fs.renameSync(temp, MANIFEST);
}

function makeTempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'holdfast-temporal-server-'));
  tempPaths.add(dir);
  return dir;
}

function removeTempPaths() {
  for (const dir of tempPaths) fs.rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// Processes and output.

/** Runs a command to completion and returns its stdout; `label` names it in error messages. */
function run(label, command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (result.signal === 'SIGINT' || result.signal === 'SIGTERM') process.exit(130);
  if (result.error) {
    throw new BuildError(
      result.error.code === 'ENOENT' ? `${command} is not installed` : `${label}: ${result.error.message}`,
    );
  }
  if (result.status !== 0)
    throw new BuildError(
      `${label} exited with ${result.status}${lastLines(`${result.stderr ?? ''}\n${result.stdout ?? ''}`, 8)}`,
    );
  return result.stdout ?? '';
}

function lastLines(text, count) {
  const lines = text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter(Boolean);
  return lines.length === 0
    ? ''
    : `:\n${lines
        .slice(-count)
        .map((l) => `      ${l}`)
        .join('\n')}`;
}

/** Prints a progress line; with --quiet only lines that report work done (not a cache hit). */
function say(line, { expected = false } = {}) {
  if (!quiet || !expected) console.log(line);
}

function displayPath(file) {
  const relative = path.relative(PROJECT_ROOT, file);
  if (!relative.startsWith('..') && !path.isAbsolute(relative)) return relative;
  const home = os.homedir();
  return file.startsWith(`${home}${path.sep}`) ? `~${file.slice(home.length)}` : file;
}

main();
