import fs from 'node:fs';
import path from 'node:path';
import { startApi, type RunningApi } from '../api/server';
import { webUiLinks } from '../api/services/operations/temporal-records';
import { loadConfigOrExit } from '../lib/config';
import { createPrismaClient } from '../lib/db';
import { settleWithin } from '../lib/deadline';
import { parseDurationMs } from '../lib/durations';
import { signDevToken } from '../lib/dev-token';
import { createLogger } from '../lib/logger';
import { demoTenant, seed } from '../prisma/seed';
import { installRuntime, startWorker, type RunningWorker } from '../workers/main';
import { startBillingSandbox } from './stack/billing-sandbox';
import { startDevMailCatcher } from './stack/dev-mail-catcher';
import { startDevSmsSink } from './stack/dev-sms-sink';
import { applyMigrations } from './stack/migrate';
import { isListening } from './stack/ports';
import { startEmbeddedPostgres, stopLeftoverPostgres } from './stack/postgres';
import { readTemporalBinaries } from './stack/temporal-binaries';
import { devServerRetentionMs, startTemporalDevServer } from './stack/temporal-dev-server';

/**
 * `npm run dev`: the whole system on embedded defaults, no Docker.
 *
 * Starts what is not configured — a Temporal dev server (SQLite under .data/), an embedded
 * PostgreSQL (under .data/), a loopback SMTP catcher and SMS and WhatsApp sinks feeding the dev outbox, a
 * sandbox billing provider —
 * then runs the worker and the API in this process. A variable that points at a real
 * service (TEMPORAL_ADDRESS, DATABASE_URL, SMTP_URL, SMS_PROVIDER_URL, WHATSAPP_PROVIDER_URL, BILLING_API_URL) replaces
 * the embedded one.
 */

const root = path.resolve(__dirname, '..');
const dataDir = path.resolve(process.env.HOLDFAST_DATA_DIR ?? path.join(root, '.data'));
const ports = {
  temporal: Number(process.env.DEV_TEMPORAL_PORT ?? 7233),
  temporalUi: Number(process.env.DEV_TEMPORAL_UI_PORT ?? 8233),
  postgres: Number(process.env.DEV_POSTGRES_PORT ?? 54320),
  smtp: Number(process.env.DEV_SMTP_PORT ?? 1025),
  sms: Number(process.env.DEV_SMS_PORT ?? 1026),
  whatsapp: Number(process.env.DEV_WHATSAPP_PORT ?? 1027),
  billing: Number(process.env.DEV_BILLING_PORT ?? 12111),
};

/** A part this process started, and how long its stop may take before the next part is stopped regardless. */
interface StartedPart {
  name: string;
  stop: () => Promise<void>;
  /** Default: 30 s. */
  withinMs?: number;
}

const partStopsWithinMs = 30_000;

/**
 * The Web UI's address on the same host name as the API when that is a loopback name, so the two
 * are one site; `localhost` otherwise.
 */
function webUiUrlBeside(apiPublicUrl: string, uiPort: number): string {
  const { hostname } = new URL(apiPublicUrl);
  const host = hostname === '127.0.0.1' || hostname === '[::1]' ? hostname : 'localhost';
  return `http://${host}:${uiPort}`;
}

async function ensurePortFree(port: number, what: string, variable: string): Promise<void> {
  if (await isListening(port)) {
    throw new Error(
      `Port ${port} is already in use, so the embedded ${what} cannot start. ` +
        `Stop whatever holds it (an earlier \`npm run dev\`?), or set ${variable} to use an existing service.`,
    );
  }
}

async function main(): Promise<void> {
  fs.mkdirSync(path.join(dataDir, 'logs'), { recursive: true });
  const stops: StartedPart[] = [];
  const say = (line: string) => process.stdout.write(`[dev] ${line}\n`);
  let shuttingDown = false;
  // Set once the terminal has closed (SIGHUP): nothing can be printed any more, and the loggers' flush at
  // exit would wait on the closed terminal for ever.
  let terminalClosed = false;

  const exit = (exitCode: number): void => {
    if (terminalClosed) {
      // End as a hang-up ends a process, without the flush at exit.
      process.removeAllListeners('SIGHUP');
      process.kill(process.pid, 'SIGHUP');
      return;
    }
    process.exit(exitCode);
  };

  const stopAll = async (reason: string, exitCode: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    say(`${reason}: stopping…`);
    for (const { name, stop, withinMs = partStopsWithinMs } of stops.reverse()) {
      try {
        // A part that does not stop in time must not keep the others, PostgreSQL last, running.
        if ((await settleWithin(stop(), withinMs)) === 'late') {
          say(`${name} did not stop within ${Math.round(withinMs / 1000)} s; going on`);
          exitCode = exitCode || 1;
        } else {
          say(`stopped ${name}`);
        }
      } catch (error) {
        say(`could not stop ${name} cleanly: ${String(error)}`);
        exitCode = exitCode || 1;
      }
    }
    exit(exitCode);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (shuttingDown) {
        say('second signal: exiting now');
        exit(130);
        return;
      }
      void stopAll(signal, 0);
    });
  }
  // Closing the terminal hangs up this process group only: the Temporal dev server runs in a group of its
  // own, and PostgreSQL takes a hang-up as "reload your configuration". Both would go on running, holding
  // their ports, after everything else had gone. Stop everything in order instead, with nowhere to print.
  process.on('SIGHUP', () => {
    if (terminalClosed) return;
    terminalClosed = true;
    // Every write to the closed terminal now fails, the loggers' included (pino's own writer throws on
    // it): none of that may cut the stop short.
    for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
    process.on('uncaughtException', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EIO' || error.code === 'EPIPE') return;
      // Anything else goes where it can still be read; the stop goes on.
      fs.appendFileSync(
        path.join(dataDir, 'logs', 'dev.log'),
        `${new Date().toISOString()} after SIGHUP: ${error.stack}\n`,
      );
    });
    void stopAll('SIGHUP', 0);
  });

  try {
    const env: NodeJS.ProcessEnv = { APP_ENV: 'development', ...process.env };

    if (!env.DATABASE_URL) {
      if (await stopLeftoverPostgres(path.join(dataDir, 'postgres'))) {
        say('stopped the PostgreSQL an earlier `npm run dev` left running on this data directory');
      }
      await ensurePortFree(ports.postgres, 'PostgreSQL', 'DATABASE_URL');
      say(`starting embedded PostgreSQL on 127.0.0.1:${ports.postgres} (data in ${path.join(dataDir, 'postgres')})`);
      const postgres = await startEmbeddedPostgres({
        dataDir: path.join(dataDir, 'postgres'),
        port: ports.postgres,
        database: 'holdfast',
        persistent: true,
        callerHandlesSignals: true,
      });
      stops.push({ name: 'PostgreSQL', stop: () => postgres.stop() });
      env.DATABASE_URL = postgres.databaseUrl;
    } else {
      say('using DATABASE_URL');
    }
    say('applying migrations');
    await applyMigrations(env.DATABASE_URL, { quiet: true });

    // Where the browser reaches the API; the Web UI's codec endpoint and its CORS origin follow from it.
    env.PUBLIC_BASE_URL ??= `http://localhost:${env.API_PORT ?? 3000}`;
    const apiPublicUrl = env.PUBLIC_BASE_URL.replace(/\/$/, '');

    let temporalUi: string | undefined;
    const startsTemporalHere = !env.TEMPORAL_ADDRESS;
    if (!env.TEMPORAL_ADDRESS) {
      const { cliPath } = readTemporalBinaries();
      if (!cliPath) throw new Error('No Temporal CLI is provisioned: run `npm run temporal:provision`.');
      await ensurePortFree(ports.temporal, 'Temporal server', 'TEMPORAL_ADDRESS');
      await ensurePortFree(ports.temporalUi, 'Temporal Web UI', 'TEMPORAL_ADDRESS');
      say(
        `starting Temporal dev server on 127.0.0.1:${ports.temporal} (state in ${path.join(dataDir, 'temporal.sqlite')})`,
      );
      const temporal = await startTemporalDevServer({
        cliPath,
        port: ports.temporal,
        uiPort: ports.temporalUi,
        // The console's sign-in sets the codec's cookie for the API's host; the Web UI must be opened
        // on the same site for the browser to send it (docs/web-ui.md).
        uiCodecEndpoint: `${apiPublicUrl}/codec`,
        dbFilename: path.join(dataDir, 'temporal.sqlite'),
        logFile: path.join(dataDir, 'logs', 'temporal.log'),
        // TEMPORAL_NAMESPACE_RETENTION, read before the configuration is (that needs the database
        // URL set above); a value the configuration refuses gets the default here and stops the
        // start with its reason when the configuration loads.
        namespaceRetentionMs: devServerRetentionMs(env.TEMPORAL_NAMESPACE_RETENTION),
      });
      stops.push({ name: 'Temporal dev server', stop: () => temporal.stop() });
      env.TEMPORAL_ADDRESS = temporal.address;
      // Linked and allowed by the codec server's CORS on the API's host name, not the server's IP:
      // localhost and 127.0.0.1 are different sites to a browser, and the codec cookie stays on one.
      env.TEMPORAL_UI_URL ??= webUiUrlBeside(apiPublicUrl, ports.temporalUi);
      temporalUi = env.TEMPORAL_UI_URL.replace(/\/$/, '');
    } else {
      say(`using TEMPORAL_ADDRESS=${env.TEMPORAL_ADDRESS}`);
    }

    const outboxFile = path.join(dataDir, 'outbox.jsonl');
    if (!env.SMTP_URL) {
      await ensurePortFree(ports.smtp, 'SMTP catcher', 'SMTP_URL');
      const catcher = await startDevMailCatcher({ port: ports.smtp, outboxFile });
      stops.push({ name: 'SMTP catcher', stop: () => catcher.stop() });
      env.SMTP_URL = `smtp://127.0.0.1:${catcher.port}`;
      env.DEV_OUTBOX_FILE ??= outboxFile;
    }
    if (!env.SMS_PROVIDER_URL) {
      await ensurePortFree(ports.sms, 'SMS sink', 'SMS_PROVIDER_URL');
      const sink = await startDevSmsSink({ port: ports.sms, outboxFile });
      stops.push({ name: 'SMS sink', stop: () => sink.stop() });
      env.SMS_PROVIDER_URL = sink.url;
      env.DEV_OUTBOX_FILE ??= outboxFile;
    }

    if (!env.WHATSAPP_PROVIDER_URL) {
      await ensurePortFree(ports.whatsapp, 'WhatsApp sink', 'WHATSAPP_PROVIDER_URL');
      const sink = await startDevSmsSink({ port: ports.whatsapp, outboxFile, channel: 'whatsapp' });
      stops.push({ name: 'WhatsApp sink', stop: () => sink.stop() });
      env.WHATSAPP_PROVIDER_URL = sink.url;
      env.DEV_OUTBOX_FILE ??= outboxFile;
    }

    if (!env.BILLING_API_URL) {
      await ensurePortFree(ports.billing, 'billing sandbox', 'BILLING_API_URL');
      const billing = await startBillingSandbox({ port: ports.billing });
      stops.push({ name: 'billing sandbox', stop: () => billing.stop() });
      env.BILLING_API_URL = billing.url;
    }

    const config = loadConfigOrExit(env);
    const prisma = createPrismaClient(env.DATABASE_URL, { maxConnections: 2 });
    await seed(prisma);
    await prisma.$disconnect();

    const workerLogger = createLogger(config, 'worker');
    installRuntime(config, workerLogger, { shutdownSignals: [] });
    const worker: RunningWorker = await startWorker(config, workerLogger);
    stops.push({
      name: 'worker',
      stop: async () => {
        worker.shutdown();
        await worker.done;
      },
      // In-flight activities have the shutdown grace before they are cancelled.
      withinMs: (parseDurationMs(config.worker.shutdownGrace) ?? 0) + partStopsWithinMs,
    });
    worker.done.catch((error: unknown) => {
      workerLogger.fatal({ err: error }, 'worker failed');
      void stopAll('worker failed', 1);
    });

    const api: RunningApi = await startApi(config, createLogger(config, 'api'));
    stops.push({ name: 'API', stop: () => api.close() });

    const token = await signDevToken(config.auth, { tenantId: demoTenant.id, roles: ['tenant-admin'] });
    const apiUrl = `http://localhost:${config.api.port}`;
    say('ready');
    process.stdout.write(
      [
        '',
        `  API             ${apiUrl}   (readiness: ${apiUrl}/readyz)`,
        `  Temporal        ${env.TEMPORAL_ADDRESS}   namespace ${config.temporal.namespace}, task queue ${config.temporal.taskQueue}`,
        temporalUi ? `  Web UI          ${temporalUi}   (decrypting payloads: docs/web-ui.md)` : undefined,
        // `savedQuery` makes the Web UI keep the filter as a named view in this browser (docs/web-ui.md).
        temporalUi
          ? `  Demo's flows    ${webUiLinks(temporalUi, config.temporal.namespace).list(`TenantId="${demoTenant.id}"`)}` +
            `&savedQuery=${encodeURIComponent(`Holdfast: ${demoTenant.slug}`)}`
          : undefined,
        `  PostgreSQL      ${env.DATABASE_URL.replace(/:[^:@/]+@/, ':***@')}`,
        config.devOutboxFile
          ? `  Dev outbox      ${apiUrl}/api/v1/dev/outbox   (file ${config.devOutboxFile})`
          : undefined,
        // The dispatch-order settings are known only for a server started here; an external one has its own.
        `  Workers         ${config.worker.queues.join(', ')}   (docs/queues.md${
          startsTemporalHere
            ? '; fairness on, 1 partition per queue'
            : "; fairness and partitions as the server's dynamic config sets them"
        })`,
        `  Worker metrics  http://localhost:${config.worker.metricsPort}/metrics`,
        '',
        `  A tenant-admin token for the demo tenant "${demoTenant.id}" (8 hours):`,
        `  export TOKEN=${token}`,
        '',
        ...(temporalUi
          ? [
              `  To read the demo's payloads in the Web UI, sign in at ${apiPublicUrl}/console/sign-in with that token`,
              `  (or the development sign-in), then turn on the Web UI's codec credentials once: docs/web-ui.md.`,
              '',
            ]
          : []),
        '  Ctrl-C stops everything.',
        '',
      ]
        .filter((line) => line !== undefined)
        .join('\n') + '\n',
    );
  } catch (error) {
    say(`start-up failed: ${error instanceof Error ? error.message : String(error)}`);
    await stopAll('start-up failed', 1);
  }
}

void main();
