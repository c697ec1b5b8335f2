import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { ActivityDeps } from '../../activities';
import type { MailTransport } from '../../activities/notifications';
import type { Role } from '../../api/auth';
import { createApp, type AppDeps } from '../../api/app';
import { readOutbox, type OutboxRecord } from '../../domain/outbox';
import type { Config } from '../../lib/config';
import { createPrismaClient, type PrismaClient } from '../../lib/db';
import type { EncryptionCodec } from '../../lib/data-converter';
import { createLogger, type Logger } from '../../lib/logger';
import { startDevMailCatcher, type DevMailCatcherHandle } from '../../scripts/stack/dev-mail-catcher';
import { startDevSmsSink, type DevSmsSinkHandle } from '../../scripts/stack/dev-sms-sink';
import { installRuntime, startWorker, type RunningWorker } from '../../workers/main';
import {
  bundleWorkflows,
  createTestTenant,
  testConfig,
  testLogger,
  testPrisma,
  testTemporalClient,
  tokenFor,
} from './stack';

/** A mail the worker handed to the in-memory transport. */
export interface CapturedMail {
  to: string;
  subject: string;
  text: string;
}

/** The SMS token the fixture's SMS sink expects and the worker sends. */
export const TEST_SMS_TOKEN = 'sms-test-token';

export interface ApiStackOptions {
  /**
   * Runs a worker on the stack's own task queue: `true`, or the activity dependencies to use in
   * place of the ones the worker builds from the configuration (a fake WhatsApp provider, a
   * Prisma client with more connections, …).
   */
  worker?: boolean | Partial<ActivityDeps>;
  /**
   * Gives the worker a Prisma client of its own with this many connections, for activities that
   * hold a connection each while they wait (a locked row, …); the fixture closes it.
   */
  workerConnections?: number;
  /**
   * Runs the workflows on the stack's task queue with these activities (fakes) instead of the
   * ones the worker registers; takes the place of `worker`.
   */
  fakeActivities?: WorkerOptions['activities'];
  /**
   * Where the worker's mail goes: `memory` captures it in {@link ApiStack.mails}; `smtp` starts a
   * dev mail catcher that the worker reaches over real SMTP, read back with {@link ApiStack.outbox}.
   * Without it the worker builds whatever the configuration says.
   */
  mail?: 'memory' | 'smtp';
  /** Starts a dev SMS sink beside the mail catcher, reached over HTTP with {@link TEST_SMS_TOKEN}. */
  sms?: boolean;
  /** Runs in development mode, which mounts the dev outbox routes over {@link ApiStack.outbox}'s file. */
  devOutbox?: boolean;
  /**
   * Settings over the test defaults; a function runs in `beforeAll`, after the fixture's own
   * services, so it can start a service of the suite's (writing to the same outbox file, if any)
   * and return its address.
   */
  config?:
    | Record<string, string>
    | ((services: { outboxFile?: string }) => Record<string, string> | Promise<Record<string, string>>);
  /** The tenant the tokens belong to; `otherTenant` adds a second, for isolation checks. */
  tenant?: Parameters<typeof createTestTenant>[1];
  /**
   * App dependencies over the real ones (a stub Temporal client, …); a function receives the
   * stack's configuration and Prisma client, for dependencies built on them (a tenant-status cache).
   */
  app?: Partial<AppDeps> | ((stack: { config: Config; prisma: PrismaClient }) => Partial<AppDeps>);
  /**
   * Where the API's and the worker's log lines go, instead of the test logger; the worker's
   * logger also receives the SDK's workflow and activity logs, as in production.
   */
  logs?: Writable;
  /** Terminates the workflows still running on the stack's task queue before the worker stops. */
  terminateOnStop?: boolean;
  /** Stops what the `config` function started, after the worker and connections have closed. */
  stop?: () => Promise<void>;
}

/** `Authorization` header values for the stack's tenant, one per role. */
export interface StackTokens {
  admin: string;
  operator: string;
  member: string;
  /** A tenant admin of the other tenant. */
  otherAdmin: string;
  /** A member of the other tenant. */
  otherMember: string;
  platformAdmin: string;
}

export interface ApiStack {
  readonly config: Config;
  readonly prisma: PrismaClient;
  readonly client: Client;
  readonly app: ReturnType<typeof createApp>;
  readonly worker: RunningWorker;
  readonly tenant: Awaited<ReturnType<typeof createTestTenant>>;
  readonly otherTenant: Awaited<ReturnType<typeof createTestTenant>>;
  readonly tokens: StackTokens;
  /** Where the dev SMS sink listens, with `sms: true`. */
  readonly smsSinkUrl: string;
  /** Mails the worker sent, with `mail: 'memory'`. */
  readonly mails: CapturedMail[];
  /**
   * Messages the dev mail catcher and SMS sink received for `to`, with `mail: 'smtp'` or `sms: true`.
   * The file they write to is also the configuration's `DEV_OUTBOX_FILE`.
   */
  outbox(to?: string): OutboxRecord[];
  /** The file behind {@link ApiStack.outbox}, for messages a test writes there itself. */
  readonly outboxFile: string;
  /**
   * Another app on the stack's Prisma client and Temporal client, with `deps` over them; with
   * `settings`, on a configuration that adds them to the stack's own (same task queue).
   */
  appWith(deps?: Partial<AppDeps>, settings?: Record<string, string>): ReturnType<typeof createApp>;
  /** An `Authorization` header for any tenant and roles. */
  bearer(tenantId: string, ...roles: Role[]): Promise<string>;
  /** Terminates every workflow still running on the stack's task queue. */
  terminateAll(reason?: string): Promise<void>;
}

/**
 * The API, and if asked a worker, on the PostgreSQL and Temporal dev server that global setup
 * started: one task queue, one fresh tenant and a token per role for each test file. Registers
 * its own `beforeAll` and `afterAll`; its fields are readable from `beforeAll` on.
 */
export function useApiStack(options: ApiStackOptions = {}): ApiStack {
  const mails: CapturedMail[] = [];
  const transport: MailTransport = {
    sendMail: async (message) => {
      mails.push(message);
      return { messageId: `m-${mails.length}` };
    },
  };
  let workDir: string | undefined;
  let outboxFile: string | undefined;
  let catcher: DevMailCatcherHandle | undefined;
  let sink: DevSmsSinkHandle | undefined;
  let connection: Connection | undefined;
  let codec: EncryptionCodec | undefined;
  let workerPrisma: PrismaClient | undefined;
  let configOverrides: Record<string, string> = {};
  const state: {
    -readonly [K in keyof Omit<ApiStack, 'mails' | 'outbox' | 'appWith' | 'bearer' | 'terminateAll'>]?: ApiStack[K];
  } = {};
  const loggerFor = (config: Config, name: string): Logger =>
    options.logs ? createLogger(config, name, { destination: options.logs }) : testLogger(config);

  const ready = <K extends keyof typeof state>(key: K): NonNullable<(typeof state)[K]> => {
    const value = state[key];
    if (value === undefined) throw new Error(`the API stack has no ${String(key)}: read it from beforeAll on`);
    return value;
  };

  beforeAll(async () => {
    const overrides: Record<string, string> = {};
    if (options.mail === 'smtp' || options.sms || options.devOutbox) {
      workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'holdfast-stack-'));
      outboxFile = path.join(workDir, 'outbox.jsonl');
      overrides.DEV_OUTBOX_FILE = outboxFile;
    }
    if (options.devOutbox) overrides.APP_ENV = 'development';
    if (options.mail === 'smtp') {
      catcher = await startDevMailCatcher({ port: 0, outboxFile: outboxFile! });
      overrides.SMTP_URL = `smtp://127.0.0.1:${catcher.port}`;
    }
    if (options.sms) {
      sink = await startDevSmsSink({ port: 0, outboxFile: outboxFile!, token: TEST_SMS_TOKEN });
      Object.assign(overrides, { SMS_PROVIDER_URL: sink.url, SMS_PROVIDER_TOKEN: TEST_SMS_TOKEN });
    }
    const suiteOverrides =
      typeof options.config === 'function' ? await options.config({ outboxFile }) : (options.config ?? {});
    configOverrides = { ...overrides, ...suiteOverrides };
    const config = testConfig(configOverrides);
    const prisma = testPrisma(config);
    state.config = config;
    state.prisma = prisma;
    let client: Client;
    ({ client, connection, codec } = await testTemporalClient(config, prisma));
    state.client = client;
    if (options.worker) {
      const workerLogger = loggerFor(config, 'worker');
      if (options.logs) installRuntime(config, workerLogger, { shutdownSignals: [] });
      if (options.workerConnections) {
        workerPrisma = createPrismaClient(config.databaseUrl!, { maxConnections: options.workerConnections });
      }
      state.worker = await startWorker(config, workerLogger, {
        prisma: workerPrisma ?? prisma,
        ...(options.mail === 'memory' ? { mail: { transport, from: 'Holdfast <t@holdfast.test>' } } : {}),
        ...(typeof options.worker === 'object' ? options.worker : {}),
      });
    }
    const appDeps = typeof options.app === 'function' ? options.app({ config, prisma }) : options.app;
    if (options.fakeActivities) {
      const workerConnection = await NativeConnection.connect({ address: config.temporal.address });
      const worker = await Worker.create({
        connection: workerConnection,
        namespace: config.temporal.namespace,
        taskQueue: config.temporal.taskQueue,
        workflowBundle: await bundleWorkflows(),
        dataConverter: client.options.dataConverter,
        activities: options.fakeActivities,
      });
      state.worker = {
        worker,
        workers: { interactive: worker },
        done: worker.run().finally(() => workerConnection.close()),
        shutdown: () => worker.shutdown(),
      };
    }
    state.app = createApp({ config, logger: loggerFor(config, 'api'), prisma, temporal: client, codec, ...appDeps });
    state.tenant = await createTestTenant(prisma, options.tenant);
    state.otherTenant = await createTestTenant(prisma);
    const bearer = async (tenantId: string, role: Role) => `Bearer ${await tokenFor(config, tenantId, role)}`;
    state.tokens = {
      admin: await bearer(state.tenant.id, 'tenant-admin'),
      operator: await bearer(state.tenant.id, 'operator'),
      member: await bearer(state.tenant.id, 'member'),
      otherAdmin: await bearer(state.otherTenant.id, 'tenant-admin'),
      otherMember: await bearer(state.otherTenant.id, 'member'),
      platformAdmin: await bearer('platform', 'platform-admin'),
    };
  });

  afterAll(async () => {
    if (options.terminateOnStop && state.client) await stack.terminateAll();
    if (state.worker) {
      state.worker.shutdown();
      await state.worker.done;
    }
    await connection?.close();
    await state.prisma?.$disconnect();
    await workerPrisma?.$disconnect();
    await Promise.all([catcher?.stop(), sink?.stop()]);
    await options.stop?.();
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  });

  const stack: ApiStack = {
    get config() {
      return ready('config');
    },
    get prisma() {
      return ready('prisma');
    },
    get client() {
      return ready('client');
    },
    get app() {
      return ready('app');
    },
    get worker() {
      return ready('worker');
    },
    get tenant() {
      return ready('tenant');
    },
    get otherTenant() {
      return ready('otherTenant');
    },
    get tokens() {
      return ready('tokens');
    },
    get smsSinkUrl() {
      if (!sink) throw new Error('the API stack has no SMS sink: use sms: true');
      return sink.url;
    },
    mails,
    get outboxFile() {
      if (!outboxFile) throw new Error("the API stack has no outbox: use mail: 'smtp', sms: true or devOutbox: true");
      return outboxFile;
    },
    outbox(to?: string) {
      if (!outboxFile) throw new Error("the API stack has no outbox: use mail: 'smtp', sms: true or devOutbox: true");
      return readOutbox(fs.existsSync(outboxFile) ? fs.readFileSync(outboxFile, 'utf8') : '', to ? { to } : {});
    },
    appWith(deps: Partial<AppDeps> = {}, settings?: Record<string, string>) {
      const config = settings
        ? testConfig({ ...configOverrides, TEMPORAL_TASK_QUEUE: ready('config').temporal.taskQueue, ...settings })
        : ready('config');
      return createApp({
        config,
        logger: loggerFor(config, 'api'),
        prisma: ready('prisma'),
        temporal: ready('client'),
        codec,
        ...deps,
      });
    },
    async bearer(tenantId: string, ...roles: Role[]) {
      return `Bearer ${await tokenFor(ready('config'), tenantId, ...roles)}`;
    },
    async terminateAll(reason = 'the suite is done') {
      const client = ready('client');
      const running = client.workflow.list({
        query: `TaskQueue="${ready('config').temporal.taskQueue}" AND ExecutionStatus="Running"`,
      });
      for await (const execution of running) {
        await client.workflow
          .getHandle(execution.workflowId)
          .terminate(reason)
          .catch(() => {});
      }
    },
  };
  return stack;
}
