import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../scripts/stack/ports';
import { testDatabaseUrl, testEnvironmentKeys } from '../support/stack-handles';

const root = path.resolve(__dirname, '../..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');

interface Exit {
  code: number | null;
  output: string;
}

function startWorkerProcess(env: Record<string, string>): {
  child: ChildProcessWithoutNullStreams;
  exit: Promise<Exit>;
  output: () => string;
} {
  const child = spawn(tsx, [path.join(root, 'workers', 'main.ts')], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<Exit>((resolve) => child.once('exit', (code) => resolve({ code, output })));
  return { child, exit, output: () => output };
}

/** A worker on the suite's Temporal server and database, logging at info, leaving the Schedules alone. */
const onTestServer = (): Record<string, string> => ({
  APP_ENV: 'test',
  LOG_LEVEL: 'info',
  DATABASE_URL: testDatabaseUrl(),
  TEMPORAL_ADDRESS: process.env[testEnvironmentKeys.temporalAddress]!,
  WORKER_SYNC_SCHEDULES: 'false',
});

async function waitForOutput(read: () => string, pattern: RegExp, exit: Promise<Exit>): Promise<void> {
  let exited = false;
  void exit.then(() => (exited = true));
  while (!pattern.test(read())) {
    if (exited) throw new Error(`worker exited before printing ${pattern}:\n${read()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('the worker process', () => {
  it('exits with status 78 and lists every problem when the configuration is invalid', async () => {
    const { exit } = startWorkerProcess({ APP_ENV: 'production', WORKER_METRICS_PORT: 'x' });

    const { code, output } = await exit;

    expect(code).toBe(78);
    expect(output).toMatch(/WORKER_METRICS_PORT/);
    expect(output).toMatch(/DATABASE_URL/);
    expect(output).toMatch(/JWT_SECRET/);
  });

  it('refuses more workflow tasks at once than the workflow cache the SDK sized for its memory', async () => {
    const {
      child,
      exit,
      output: read,
    } = startWorkerProcess({
      ...onTestServer(),
      TEMPORAL_TASK_QUEUE: `process-test-cache-${process.pid}`,
      WORKER_METRICS_PORT: String(await freePort()),
      WORKER_QUEUES: 'interactive',
      WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '1000',
      // A 512 MB heap: room to bundle the workflows, and a default cache of about two hundred workflows.
      NODE_OPTIONS: '--max-old-space-size=512',
    });
    // A worker that starts instead of refusing is stopped here, so that the test fails on its output.
    await waitForOutput(read, /WORKER_MAX_CONCURRENT_WORKFLOW_TASKS|"msg":"worker started"/, exit).catch(
      () => undefined,
    );
    if (/"msg":"worker started"/.test(read())) child.kill('SIGKILL');

    const { code, output } = await exit;

    expect(output).not.toMatch(/"msg":"worker started"/);
    expect(code).toBe(78);
    expect(output).toMatch(
      /WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: 1000 is more than the \d+ workflows this worker caches/,
    );
  });

  it("starts with the SDK's default workflow tasks at once, and warns, when they exceed the cache it sized for a small heap", async () => {
    const metricsPort = await freePort();
    const {
      child,
      exit,
      output: read,
    } = startWorkerProcess({
      ...onTestServer(),
      TEMPORAL_TASK_QUEUE: `process-test-small-heap-${metricsPort}`,
      WORKFLOW_BUNDLE_PATH: process.env[testEnvironmentKeys.workflowBundle]!,
      WORKER_METRICS_PORT: String(metricsPort),
      WORKER_QUEUES: 'interactive',
      WORKER_SHUTDOWN_GRACE: '2 seconds',
      // The SDK caches about 600 workflows per GiB of heap past 200 MiB: a heap this small gets a cache
      // below the 40 workflow tasks it runs at once by default.
      NODE_OPTIONS: '--max-old-space-size=200 --max-semi-space-size=16',
    });
    await waitForOutput(read, /"msg":"worker started"/, exit);
    child.kill('SIGTERM');

    const { code, output } = await exit;

    expect(code).toBe(0);
    const warning = output.split('\n').find((line) => line.includes('exceed the workflows it caches'));
    expect(warning).toBeDefined();
    const { maxConcurrentWorkflowTasks, maxCachedWorkflows } = JSON.parse(warning!) as Record<string, number>;
    expect(maxConcurrentWorkflowTasks).toBe(40);
    expect(maxCachedWorkflows).toBeLessThan(40);
    expect(warning).toMatch(/WORKER_MAX_CONCURRENT_WORKFLOW_TASKS or WORKER_MAX_CACHED_WORKFLOWS/);
  });

  it('serves SDK metrics for Prometheus on loopback only, and on SIGTERM stops polling and exits 0', async () => {
    const metricsPort = await freePort();
    let output = '';
    const { child, exit } = startWorkerProcess({
      ...onTestServer(),
      TEMPORAL_TASK_QUEUE: `process-test-${metricsPort}`,
      WORKFLOW_BUNDLE_PATH: process.env[testEnvironmentKeys.workflowBundle]!,
      WORKER_METRICS_PORT: String(metricsPort),
      WORKER_SHUTDOWN_GRACE: '2 seconds',
    });
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitForOutput(() => output, /"msg":"worker started"/, exit);

    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    // The endpoint has no token, so by default it listens on 127.0.0.1 alone: another address of this
    // machine (127.0.0.2 is one on Linux) is refused, as an address on another interface would be.
    const otherAddress = await fetch(`http://127.0.0.2:${metricsPort}/metrics`, {
      signal: AbortSignal.timeout(5_000),
    }).then(
      (response) => `answered ${response.status}`,
      (error: unknown) => (error as { cause?: { code?: string } }).cause?.code ?? String(error),
    );
    child.kill('SIGTERM');
    const { code } = await exit;

    expect(metrics).toMatch(/^# TYPE temporal_\w+/m);
    expect(otherAddress).toBe('ECONNREFUSED');
    expect(output).toContain(`"metricsAddress":"127.0.0.1:${metricsPort}"`);
    expect(code).toBe(0);
    expect(output).toMatch(/"msg":"worker stopped"/);
    // The SDK's default, read back from the running worker.
    expect(output).toMatch(/"maxConcurrentWorkflowTasks":40/);
  });
});
