import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs, tsToMs } from '@temporalio/common/lib/time';
import { parseDurationMs } from '../../lib/durations';
import { customSearchAttributes } from '../../workflows/search-attributes';

export interface TemporalDevServerOptions {
  cliPath: string;
  ip?: string;
  port: number;
  /** Web UI port; omit for a headless server (tests). */
  uiPort?: number;
  /**
   * The codec server the Web UI decodes payloads through (`<API>/codec`), so a signed-in operator
   * reads them there (docs/web-ui.md); without it the UI shows every payload encrypted.
   */
  uiCodecEndpoint?: string;
  /** SQLite file that keeps workflows across restarts; omit for an in-memory server (tests). */
  dbFilename?: string;
  namespace?: string;
  /**
   * How long the namespace keeps closed workflows (config.temporal.namespaceRetentionMs), applied
   * at every start; the dev server's own default is a single day. Defaults to 7 days.
   */
  namespaceRetentionMs?: number;
  /** Where the server's own output goes; it is chatty, so it never shares our terminal. */
  logFile: string;
  startupTimeoutMs?: number;
}

/** The namespace retention a dev server gets unless told otherwise: as long as the configuration's default. */
export const DEFAULT_NAMESPACE_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

/** The shortest retention the configuration accepts (lib/config.ts), and Temporal's own minimum. */
const MIN_NAMESPACE_RETENTION_MS = 24 * 60 * 60 * 1000;

/**
 * The retention a TEMPORAL_NAMESPACE_RETENTION setting asks of the dev server; undefined (the
 * default) when it is unset or one the configuration refuses, which then says why.
 */
export function devServerRetentionMs(setting: string | undefined): number | undefined {
  const ms = setting === undefined ? undefined : parseDurationMs(setting);
  return ms !== undefined && ms >= MIN_NAMESPACE_RETENTION_MS ? ms : undefined;
}

export interface TemporalDevServerHandle {
  address: string;
  namespace: string;
  uiUrl?: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** The `--search-attribute` flags that register Holdfast's custom search attributes. */
export function searchAttributeFlags(): string[] {
  return customSearchAttributes.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]);
}

/**
 * Server settings Holdfast's dispatch order depends on (docs/queues.md):
 *  - fairness: a busy tenant's backlog shares a queue with others by weight instead of first come,
 *    first served (Temporal server 1.32's fair matcher; priority keys apply with it too);
 *  - one partition per task queue: priority and fairness order tasks within a partition, and a
 *    poller takes from whichever partition it reaches; with one, a critical message waiting
 *    behind a backlog is always the next one dispatched. One partition is ample for a single
 *    developer machine or test run.
 */
export const dispatchOrderSettings: Record<string, boolean | number> = {
  'matching.enableFairness': true,
  'matching.numTaskqueueReadPartitions': 1,
  'matching.numTaskqueueWritePartitions': 1,
};

/** The `--dynamic-config-value` flags that apply `dispatchOrderSettings`. */
export function dynamicConfigFlags(settings: Record<string, boolean | number> = dispatchOrderSettings): string[] {
  return Object.entries(settings).flatMap(([key, value]) => [
    '--dynamic-config-value',
    `${key}=${JSON.stringify(value)}`,
  ]);
}

/**
 * Runs the real `temporal server start-dev` and resolves once its frontend answers.
 * The custom search attributes are registered on every start; that is a no-op once they exist.
 * So is the namespace's retention, which `start-dev` has no flag for: it is set through the
 * frontend, so a changed TEMPORAL_NAMESPACE_RETENTION takes effect at the next start.
 */
export async function startTemporalDevServer(options: TemporalDevServerOptions): Promise<TemporalDevServerHandle> {
  const ip = options.ip ?? '127.0.0.1';
  const namespace = options.namespace ?? 'default';
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(options.port), '--log-level', 'warn'];
  args.push(...(options.uiPort === undefined ? ['--headless'] : ['--ui-port', String(options.uiPort)]));
  if (options.uiPort !== undefined && options.uiCodecEndpoint) {
    args.push('--ui-codec-endpoint', options.uiCodecEndpoint);
  }
  if (options.dbFilename) {
    fs.mkdirSync(path.dirname(options.dbFilename), { recursive: true });
    args.push('--db-filename', options.dbFilename);
  }
  if (namespace !== 'default') args.push('--namespace', namespace);
  args.push(...searchAttributeFlags(), ...dynamicConfigFlags());

  fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
  const log = fs.openSync(options.logFile, 'a');
  // Its own process group: a terminal's Ctrl-C reaches only us, and we stop the server after the worker drained.
  const child = spawn(options.cliPath, args, { stdio: ['ignore', log, log], detached: true });
  fs.closeSync(log);
  // Detached children outlive a crashed parent; this keeps a crash from leaving the port taken.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const address = `${ip}:${options.port}`;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  try {
    await Promise.race([
      waitForFrontend(address, namespace, options.startupTimeoutMs ?? 60_000).then(() =>
        applyNamespaceRetention(address, namespace, options.namespaceRetentionMs ?? DEFAULT_NAMESPACE_RETENTION_MS),
      ),
      exited.then((code) => {
        throw new Error(`temporal server exited with code ${code} during start-up; see ${options.logFile}`);
      }),
    ]);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    address,
    namespace,
    uiUrl: options.uiPort === undefined ? undefined : `http://${ip === '0.0.0.0' ? 'localhost' : ip}:${options.uiPort}`,
    process: child,
    stop,
  };
}

async function waitForFrontend(address: string, namespace: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await connection.close();
      }
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error(`Temporal at ${address} did not become ready in ${timeoutMs} ms: ${String(lastError)}`);
}

/** Sets how long `namespace` keeps closed workflows, unless it already has exactly that retention. */
export async function applyNamespaceRetention(address: string, namespace: string, retentionMs: number): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    const described = await connection.workflowService.describeNamespace({ namespace });
    if (tsToMs(described.config?.workflowExecutionRetentionTtl) === retentionMs) return;
    await connection.workflowService.updateNamespace({
      namespace,
      config: { workflowExecutionRetentionTtl: msToTs(retentionMs) },
    });
  } finally {
    await connection.close();
  }
}

/** The retention `namespace` has now, in milliseconds. */
export async function namespaceRetentionMs(address: string, namespace: string): Promise<number> {
  const connection = await Connection.connect({ address });
  try {
    const described = await connection.workflowService.describeNamespace({ namespace });
    return tsToMs(described.config?.workflowExecutionRetentionTtl);
  } finally {
    await connection.close();
  }
}
