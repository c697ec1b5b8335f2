import { spawn } from 'node:child_process';
import path from 'node:path';
import { PLATFORM_TENANT_ID, type Role } from '../api/auth';
import { loadConfig } from '../lib/config';
import { signDevToken } from '../lib/dev-token';
import { isPayloadScope, scopeOfWorkflowId, tenantIdOfScope } from '../lib/payload-scope';
import { readTemporalBinaries } from './stack/temporal-binaries';

/**
 * `npm run temporal -- <args>`: the pinned Temporal CLI that `npm run dev` provisions, with the connection and the
 * codec server of a Holdfast stack. Every argument is passed through, so `npm run temporal -- workflow list` is
 * `temporal workflow list` against the running stack, with payloads decrypted (docs/cli.md).
 *
 * - Connection: the profiles in deploy/temporal/temporal.toml (TEMPORAL_CONFIG_FILE), `dev` unless TEMPORAL_PROFILE
 *   names another (`compose`). For the dev profile, DEV_TEMPORAL_PORT and API_PORT move the address and the codec
 *   endpoint as they move `npm run dev`'s Temporal server and API.
 * - Codec auth: in development, a short-lived token signed with the clone's own JWT secret. A command that names a
 *   tenant's workflow (`-w`/`--workflow-id`) gets an operator token of that tenant, so the input it sends is
 *   encrypted under the tenant's key, which the tenant's erasure destroys; any other command a platform-admin
 *   token, which decodes every tenant's payloads. TEMPORAL_CODEC_AUTH or `--codec-auth` replaces it.
 * - Identity: `--identity holdfast-cli` on the commands that write events, unless one is given: the CLI's own
 *   default is the operator's login name and host, which the history would keep in clear.
 * - HOLDFAST_CODEC=off: no codec at all, to see the ciphertext Temporal stores.
 *
 * Explicit flags (`--address`, `--codec-endpoint`, `--profile`, …) and TEMPORAL_* variables win over all of this,
 * as the CLI resolves flag > environment > config file.
 */

const projectRoot = path.resolve(__dirname, '..');

/** The profiles Holdfast ships for its dev and compose stacks. */
export const SHIPPED_CONFIG_FILE = path.join(projectRoot, 'deploy', 'temporal', 'temporal.toml');

const DEV_PROFILE = 'dev';

/**
 * Long enough for a `workflow result` or `workflow trace` that waits; short, because the platform-admin token
 * decodes every tenant's payloads. Each run signs a new one.
 */
const CODEC_TOKEN_LIFETIME = '1h';

/** The identity the wrapper's commands leave in the events they cause: a tool's name, never a person's. */
export const CLI_IDENTITY = 'holdfast-cli';

/** The CLI's (1.9.1) top-level commands: the first argument among these is the command, whatever flags precede it. */
const topLevelCommands = new Set([
  'activity',
  'batch',
  'completion',
  'config',
  'env',
  'help',
  'nexus',
  'operator',
  'options',
  'schedule',
  'server',
  'task-queue',
  'worker',
  'workflow',
]);

/** The commands that start, signal, update, reset or complete something, and so record a client identity. */
const identityCommands = new Set(['workflow', 'schedule', 'batch', 'activity']);

/** The commands whose `-w`/`--workflow-id` names the workflow whose payloads the command sends or shows. */
const workflowCommands = new Set(['workflow', 'schedule', 'activity']);

/** Who the development codec token speaks for. */
export interface CodecTokenOwner {
  tenantId: string;
  roles: Role[];
}

const PLATFORM_ADMIN: CodecTokenOwner = { tenantId: PLATFORM_TENANT_ID, roles: ['platform-admin'] };

/** The value of `--name value` or `--name=value` among the CLI's arguments; true for a flag without a value. */
function flagValue(args: readonly string[], name: string): string | true | undefined {
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index]!;
    if (arg === '--') return undefined;
    if (arg.startsWith(`${name}=`)) return arg.slice(name.length + 1);
    if (arg === name) {
      const next = args[index + 1];
      return next === undefined || next.startsWith('-') ? true : next;
    }
  }
  return undefined;
}

/** The top-level command among the CLI's arguments (`workflow` in `--profile dev workflow list`). */
function commandOf(args: readonly string[]): string | undefined {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).find((arg) => topLevelCommands.has(arg));
}

/**
 * The subcommands that send payloads Temporal keeps (a start's input, a signal's, an Update's, an activity's
 * result): those must be encrypted under the workflow's tenant. Everything else only reads, and reads with the
 * platform-admin token, which decodes any tenant's payloads, a suspended tenant's too.
 */
const payloadSendingSubcommands = new Set([
  'start',
  'execute',
  'signal',
  'signal-with-start',
  'update',
  'start-update-with-start',
  'execute-update-with-start',
  'complete',
  'fail',
  'create',
]);

/** The subcommand after `command` (`update` in `workflow update execute -w …`). */
function subcommandOf(args: readonly string[], command: string): string | undefined {
  const rest = args.slice(args.indexOf(command) + 1);
  return rest.find((arg) => !arg.startsWith('-'));
}

/** The workflow ID a command names: `--workflow-id ID`, `--workflow-id=ID`, `-w ID`, `-w=ID` or `-wID`. */
function workflowIdOf(args: readonly string[]): string | undefined {
  const long = flagValue(args, '--workflow-id');
  if (typeof long === 'string') return long;
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index]!;
    if (arg === '--') return undefined;
    if (arg === '-w') {
      const next = args[index + 1];
      return next === undefined || next.startsWith('-') ? undefined : next;
    }
    if (arg.startsWith('-w')) return arg.slice(arg.startsWith('-w=') ? 3 : 2);
  }
  return undefined;
}

/**
 * Whom the development codec token is for. The codec server encodes under the token's scope (api/routes/codec.ts),
 * so a command on a tenant's workflow must carry that tenant's token: input a platform admin sent would be
 * encrypted under `platform` and outlive the tenant's erasure. An operator token is the least the codec server
 * accepts, and it decodes that tenant's payloads, all a tenant workflow's history holds. An onboarding
 * (`tenant-onboarding:<slug>`) is the platform's operation on a tenant not yet active, and every command that only
 * reads (describe, show, query, list, count, schedule describe, a batch by `--query`) may show any tenant's
 * flows, a suspended tenant's too: both keep the platform-admin token.
 */
export function codecTokenOwner(args: readonly string[]): CodecTokenOwner {
  const command = commandOf(args);
  if (command === undefined || !workflowCommands.has(command)) return PLATFORM_ADMIN;
  if (!payloadSendingSubcommands.has(subcommandOf(args, command) ?? '')) return PLATFORM_ADMIN;
  const scope = scopeOfWorkflowId(workflowIdOf(args));
  const tenantId = isPayloadScope(scope) ? tenantIdOfScope(scope) : undefined;
  if (tenantId === undefined || tenantId === PLATFORM_TENANT_ID) return PLATFORM_ADMIN;
  return { tenantId, roles: ['operator'] };
}

/**
 * The CLI's arguments as the wrapper runs them: `--identity holdfast-cli` first for the commands that record an
 * identity, unless the operator gave one. The CLI takes its global options before the command as well as after,
 * and in front they cannot land behind a `--`.
 */
export function cliArguments(args: readonly string[]): string[] {
  const command = commandOf(args);
  if (command === undefined || !identityCommands.has(command) || flagValue(args, '--identity') !== undefined) {
    return [...args];
  }
  return ['--identity', CLI_IDENTITY, ...args];
}

function codecIsOff(setting: string | undefined): boolean {
  return ['off', 'false', '0', 'no'].includes((setting ?? '').trim().toLowerCase());
}

/** Development only: APP_ENV unset or `development`, where the clone's generated secrets sign tokens. */
function isDevelopment(env: NodeJS.ProcessEnv): boolean {
  return !env.APP_ENV || env.APP_ENV === 'development';
}

/**
 * A token for the dev stack's codec server, signed as the API verifies it: with the development configuration's
 * secret, `$HOLDFAST_DATA_DIR/dev-secrets.json` unless JWT_SECRET is set.
 */
async function devCodecAuthorization(env: NodeJS.ProcessEnv, owner: CodecTokenOwner): Promise<string> {
  const config = loadConfig({ ...env, APP_ENV: 'development' });
  const token = await signDevToken(config.auth, {
    tenantId: owner.tenantId,
    roles: owner.roles,
    subject: 'dev:temporal-cli',
    expiresIn: CODEC_TOKEN_LIFETIME,
  });
  return `Bearer ${token}`;
}

/**
 * The environment the CLI runs with. Exported for the test of the wrapper's defaults; `main` is the only other
 * caller.
 */
export async function cliEnvironment(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  signCodecAuthorization: (env: NodeJS.ProcessEnv, owner: CodecTokenOwner) => Promise<string> = devCodecAuthorization,
): Promise<{ env: NodeJS.ProcessEnv; warnings: string[] }> {
  const result: NodeJS.ProcessEnv = { ...env };
  const warnings: string[] = [];
  result.TEMPORAL_CONFIG_FILE ||= SHIPPED_CONFIG_FILE;
  result.TEMPORAL_PROFILE ||= DEV_PROFILE;

  const profileFlag = flagValue(args, '--profile');
  const profile = typeof profileFlag === 'string' ? profileFlag : result.TEMPORAL_PROFILE;
  const ownConfigFile =
    flagValue(args, '--config-file') !== undefined ||
    (Boolean(env.TEMPORAL_CONFIG_FILE) && path.resolve(env.TEMPORAL_CONFIG_FILE!) !== SHIPPED_CONFIG_FILE);
  const devStack = profile === DEV_PROFILE && !ownConfigFile;

  // The dev profile names the default ports; `npm run dev` with other ports is the same stack moved.
  if (devStack && !result.TEMPORAL_ADDRESS && env.DEV_TEMPORAL_PORT) {
    result.TEMPORAL_ADDRESS = `127.0.0.1:${env.DEV_TEMPORAL_PORT}`;
  }
  const codecEndpointGiven = Boolean(env.TEMPORAL_CODEC_ENDPOINT) || flagValue(args, '--codec-endpoint') !== undefined;
  if (devStack && !codecEndpointGiven && env.API_PORT) {
    result.TEMPORAL_CODEC_ENDPOINT = `http://127.0.0.1:${env.API_PORT}/codec`;
  }

  if (codecIsOff(env.HOLDFAST_CODEC)) {
    // Set but empty, the variable overrides the profile's codec.endpoint (an empty flag would not).
    result.TEMPORAL_CODEC_ENDPOINT = '';
    delete result.TEMPORAL_CODEC_AUTH;
    return { env: result, warnings };
  }

  // The token is sent only to the dev stack's own codec server, never to an endpoint someone else named.
  const authGiven = Boolean(env.TEMPORAL_CODEC_AUTH) || flagValue(args, '--codec-auth') !== undefined;
  if (devStack && !codecEndpointGiven && !authGiven && isDevelopment(env)) {
    try {
      result.TEMPORAL_CODEC_AUTH = await signCodecAuthorization(env, codecTokenOwner(args));
    } catch (error) {
      const reason = (error instanceof Error ? error.message : String(error)).split('\n').join(' ');
      warnings.push(
        `No codec token for the dev stack (${reason}); payloads may stay encrypted. ` +
          'Set TEMPORAL_CODEC_AUTH, or HOLDFAST_CODEC=off to see the ciphertext.',
      );
    }
  }
  return { env: result, warnings };
}

async function main(): Promise<void> {
  let cliPath: string | undefined;
  try {
    cliPath = readTemporalBinaries().cliPath;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  }
  if (!cliPath) {
    process.stderr.write(
      'No Temporal CLI is provisioned: run `npm run temporal:provision`, or set TEMPORAL_CLI_PATH.\n',
    );
    process.exit(1);
  }
  const args = process.argv.slice(2);
  const { env, warnings } = await cliEnvironment(args, process.env);
  for (const warning of warnings) process.stderr.write(`${warning}\n`);
  // The token travels in the environment, not the arguments, so `ps` does not show it.
  const child = spawn(cliPath, cliArguments(args), { stdio: 'inherit', env });
  // Ctrl-C reaches the CLI through the terminal's process group; this process only waits for it.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => undefined);
  child.on('error', (error) => {
    process.stderr.write(`Cannot run ${cliPath}: ${error.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
}

if (require.main === module) void main();
