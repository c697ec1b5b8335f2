import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { parseAllowList, type UrlPolicy } from '../domain/webhooks';
import { defaultFairnessWeights } from '../domain/work-priority';
import { defaultQueueCapacity, taskQueueKinds, type TaskQueueKind } from './task-queues';
import { defaultDataDir, loadDevSecrets } from './dev-secrets';
import { parseDurationMs } from './durations';

/**
 * The one place that reads the environment. Processes call {@link loadConfig} once at start-up
 * and pass the result down; nothing else reads `process.env` for settings.
 */

/** Where development's onboarding failures are reported; not a secret, so it has a fixed default. */
const DEV_PLATFORM_ADMIN_EMAIL = 'platform-admin@holdfast.local';

/** Development and test deliver webhooks to receivers on the same machine (the demo's, the tests'). */
const DEV_WEBHOOK_TARGETS = 'localhost,127.0.0.0/8,::1';

/** The modes that must be chosen explicitly; anything else, including no APP_ENV at all, is production. */
const nonProductionModes = new Set(['development', 'test']);

/** The secrets production cannot start without (JWT_SECRET may be replaced by JWT_JWKS_URL). */
const productionSecrets = ['OFFER_TOKEN_SECRET', 'INVITATION_TOKEN_SECRET', 'WEBHOOK_SECRET_KEY'] as const;

/** The id development's generated payload key has in its keyring. */
const DEV_PAYLOAD_KEY_ID = 'dev';

/** A master key of the payload keyring (PAYLOAD_KEYS). */
export interface PayloadMasterKey {
  id: string;
  key: Buffer;
}

/**
 * Parses PAYLOAD_KEYS: `id=<base64 or base64url of 32 bytes>` entries separated by commas, the key
 * that encrypts first. Ids are what payloads name in `encryption-key-id`: letters, digits, `.`, `_`, `-`.
 */
export function parsePayloadKeyring(text: string): { keys: PayloadMasterKey[]; problems: string[] } {
  const keys: PayloadMasterKey[] = [];
  const problems: string[] = [];
  for (const entry of text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const separator = entry.indexOf('=');
    const id = separator > 0 ? entry.slice(0, separator).trim() : '';
    const encodedKey = entry.slice(separator + 1).trim();
    const key = Buffer.from(encodedKey, 'base64');
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) problems.push(`an entry has no valid id before '='`);
    // A key pasted without its id splits at its own base64 padding: the "id" would be the key.
    else if (separator < 0 || encodedKey === '') problems.push(`an entry has no key after its id and '='`);
    else if (key.length !== 32) problems.push(`key ${id} is ${key.length} bytes, not 32`);
    else if (keys.some((known) => known.id === id)) problems.push(`key ${id} appears twice`);
    else keys.push({ id, key });
  }
  if (keys.length === 0 && problems.length === 0) problems.push('no keys');
  return { keys, problems };
}

/**
 * SHA-256 of the development secrets that earlier versions committed to the repository. Anyone
 * can read them in its history, so production refuses them even though they are long enough.
 */
const publishedSecretHashes = new Set([
  '2622d6d02b0e6ba581a05468fdd47aadcb77a68d192d4209efdbaada44a495a7',
  '224f6f38717f066ea662efb834fd7f79fb5998562a2dd428489d563c2c802b45',
  '2b84c236fda22c41623b7a2f8351e44be93f49406ceadf70c4871844353a31c2',
]);

const booleanFlag = z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1');

const port = z.coerce.number().int().min(0).max(65535);

const perMinute = z.coerce.number().int().min(1).max(1_000_000);

const optionalString = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();

const optionalUrl = optionalString.pipe(z.url().optional());

const readableFile = optionalString.refine((file) => file === undefined || fs.existsSync(file), {
  message: 'file does not exist',
});

/** Durations are written as Temporal writes them: '30 seconds', '15 minutes'. Bare numbers are milliseconds. */
const duration = z.string().refine((text) => parseDurationMs(text) !== undefined, {
  message: "expected a duration such as '30 seconds' or '5m'",
});

/** A {@link duration} in milliseconds, for settings that Node APIs (not Temporal) consume. */
const durationMs = (text: string): number => parseDurationMs(text)!;

/** The proxies whose X-Forwarded-For the API believes: Express's `trust proxy` setting. */
export type TrustProxy = false | number | string[];

/** Express's (proxy-addr's) names for address ranges, usable in TRUST_PROXY beside addresses and CIDRs. */
const proxyRangeNames = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isProxyRange(entry: string): boolean {
  if (proxyRangeNames.has(entry)) return true;
  const [address = '', prefixLength, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefixLength === undefined) return true;
  return /^\d{1,3}$/.test(prefixLength) && Number(prefixLength) <= (family === 4 ? 32 : 128);
}

/**
 * `false` (no proxy: the socket's peer is the client), a hop count (trust that many proxies in
 * front), or a comma-separated list of trusted proxy addresses, CIDRs and range names. `true`
 * is refused: it would let any client choose its own address for the per-IP limits.
 */
const trustProxy = z
  .string()
  .trim()
  .default('loopback')
  .transform((text, context): TrustProxy => {
    if (text === '') return ['loopback'];
    if (text === 'false') return false;
    if (/^\d{1,3}$/.test(text)) return Number(text);
    const entries = text.split(',').map((entry) => entry.trim());
    const invalid = entries.filter((entry) => !isProxyRange(entry));
    if (invalid.length > 0) {
      context.addIssue({
        code: 'custom',
        message:
          text === 'true'
            ? "true would trust any client's X-Forwarded-For; give a hop count or the proxies' addresses"
            : `expected false, a hop count, or addresses, CIDRs, loopback, linklocal or uniquelocal separated by commas; not ${invalid.map((entry) => `'${entry}'`).join(', ')}`,
      });
      return z.NEVER;
    }
    return entries;
  });

const billingTiers = ['free', 'professional', 'enterprise'] as const;
type BillingTier = (typeof billingTiers)[number];

/** `free=price_a,professional=price_b,…`: the provider's price for each tier; unnamed tiers keep the default. */
const billingPrices = optionalString.pipe(
  z
    .string()
    .regex(/^(free|professional|enterprise)=[\w-]+(,(free|professional|enterprise)=[\w-]+)*$/, {
      message: 'expected tier=priceId pairs separated by commas, e.g. free=price_1,professional=price_2',
    })
    .optional(),
);

function billingPriceIds(spec: string | undefined): Record<BillingTier, string> {
  const prices = Object.fromEntries(billingTiers.map((tier) => [tier, `price_holdfast_${tier}`]));
  for (const pair of spec?.split(',') ?? []) {
    const [tier, priceId] = pair.split('=') as [BillingTier, string];
    prices[tier] = priceId;
  }
  return prices as Record<BillingTier, string>;
}

/** `free=1,professional=2,enterprise=3`: a number per tier; unnamed tiers keep the default. */
function tierNumbers(defaults: Record<BillingTier, number>, bounds: { min: number; max: number; integer: boolean }) {
  return optionalString.transform((spec, context): Record<BillingTier, number> => {
    const values = { ...defaults };
    for (const pair of spec?.split(',') ?? []) {
      const [tier = '', text = ''] = pair.split('=').map((part) => part.trim());
      const value = Number(text);
      const valid =
        (billingTiers as readonly string[]).includes(tier) &&
        text !== '' &&
        Number.isFinite(value) &&
        (!bounds.integer || Number.isInteger(value)) &&
        value >= bounds.min &&
        value <= bounds.max;
      if (!valid) {
        context.addIssue({
          code: 'custom',
          message: `expected tier=number pairs separated by commas (tiers: ${billingTiers.join(', ')}; numbers from ${bounds.min} to ${bounds.max}), e.g. free=1,enterprise=3; not '${pair}'`,
        });
        return z.NEVER;
      }
      values[tier as BillingTier] = value;
    }
    return values;
  });
}

/** `WORKER_QUEUES`: the kinds of task queue this worker process serves, separated by commas, or `all`. */
const workerQueues = z
  .string()
  .trim()
  .default('all')
  .transform((text, context): TaskQueueKind[] => {
    if (text === '' || text === 'all') return [...taskQueueKinds];
    const kinds = [...new Set(text.split(',').map((kind) => kind.trim()))];
    const unknown = kinds.filter((kind) => !(taskQueueKinds as readonly string[]).includes(kind));
    if (unknown.length > 0) {
      context.addIssue({
        code: 'custom',
        message: `expected all, or some of ${taskQueueKinds.join(', ')} separated by commas; not ${unknown.map((kind) => `'${kind}'`).join(', ')}`,
      });
      return z.NEVER;
    }
    return kinds as TaskQueueKind[];
  });

const concurrency = z.coerce.number().int().min(1).max(1000);
const activitiesPerSecond = z.coerce.number().positive().max(100_000);

/** WORKER_<KIND>_CONCURRENCY and WORKER_<KIND>_RATE for every kind of task queue. */
const queueCapacityVariables = Object.fromEntries(
  taskQueueKinds.flatMap((kind) => [
    [`WORKER_${kind.toUpperCase()}_CONCURRENCY`, concurrency.default(defaultQueueCapacity[kind].concurrency)],
    [`WORKER_${kind.toUpperCase()}_RATE`, activitiesPerSecond.optional()],
  ]),
) as Record<string, typeof concurrency | z.ZodOptional<typeof activitiesPerSecond>>;

const environmentSchema = z.object({
  APP_ENV: z.enum(['development', 'test', 'production']).default('production'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  API_HOST: z.string().default('0.0.0.0'),
  API_PORT: port.default(3000),
  API_BODY_LIMIT: z.string().default('100kb'),
  PUBLIC_BASE_URL: z.url().default('http://localhost:3000'),
  TRUST_PROXY: trustProxy,

  DATABASE_URL: optionalString.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, { message: 'expected a postgresql:// connection string' })
      .optional(),
  ),
  /**
   * Connections each process keeps to PostgreSQL. A worker runs up to WORKER_INTERACTIVE_CONCURRENCY
   * activities at once, most of them one short transaction: past the pool, they wait for a connection.
   */
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(1_000).default(10),

  TEMPORAL_ADDRESS: z.string().default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('holdfast'),
  TEMPORAL_API_KEY: optionalString,
  TEMPORAL_TLS: booleanFlag.optional(),
  TEMPORAL_TLS_CERT_PATH: readableFile,
  TEMPORAL_TLS_KEY_PATH: readableFile,
  TEMPORAL_TLS_CA_PATH: readableFile,
  TEMPORAL_TLS_SERVER_NAME: optionalString,
  // How long closed workflows stay inspectable; the dev server and compose apply it to the namespace.
  TEMPORAL_NAMESPACE_RETENTION: duration
    .refine((text) => durationMs(text) >= 86_400_000, { message: 'must be at least 1 day' })
    .default('7 days'),
  // Where people open the Temporal Web UI; the console and the operations API link flows there.
  TEMPORAL_UI_URL: z.url().default('http://localhost:8233'),
  // Whether the tenant console links to that Web UI: it has no login and shows every tenant, so
  // production leaves the links out unless the operator's own SSO proxy guards it (docs/console.md).
  CONSOLE_WEB_UI_LINKS: booleanFlag.optional(),

  JWT_SECRET: optionalString,
  JWT_JWKS_URL: optionalUrl,
  JWT_ISSUER: z.string().default('holdfast'),
  JWT_AUDIENCE: z.string().default('holdfast-api'),
  /** The longest lifetime (`exp` - `iat`) the API accepts in a bearer token. */
  JWT_MAX_TTL: duration
    .refine((text) => durationMs(text) >= 60_000, { message: 'must be at least a minute' })
    .default('24 hours'),

  OFFER_TOKEN_SECRET: optionalString,

  SMTP_URL: optionalString.pipe(
    z
      .string()
      .regex(/^smtps?:\/\//, { message: 'expected smtp:// or smtps://' })
      .optional(),
  ),
  MAIL_FROM: z.string().default('Holdfast <no-reply@holdfast.local>'),
  SMS_PROVIDER_URL: optionalUrl,
  SMS_PROVIDER_TOKEN: optionalString,
  WHATSAPP_PROVIDER_URL: optionalUrl,
  WHATSAPP_PROVIDER_TOKEN: optionalString,

  DEV_OUTBOX_FILE: optionalString,

  BILLING_API_URL: optionalUrl,
  BILLING_API_KEY: optionalString,
  BILLING_TIMEOUT: duration.default('15 seconds'),
  BILLING_PRICES: billingPrices,
  PLATFORM_ADMIN_EMAIL: optionalString.pipe(z.email().optional()),
  INVITATION_TOKEN_SECRET: optionalString,

  // Webhooks (docs/webhooks.md): the key that encrypts signing secrets at rest, how long a
  // rotated-out secret keeps signing, the request timeout, and the targets allowed beyond public
  // addresses (development and test allow loopback, for a receiver on the same machine).
  WEBHOOK_SECRET_KEY: optionalString,
  WEBHOOK_ROTATION_WINDOW: duration.default('24 hours'),
  // At most 45 s: the delivery step's start-to-close timeout (1 minute) must also cover reading the
  // rows and recording the attempt.
  WEBHOOK_TIMEOUT: duration
    .refine((text) => durationMs(text) >= 1000 && durationMs(text) <= 45_000, {
      message: 'must lie between 1 second and 45 seconds',
    })
    .default('30 seconds'),
  WEBHOOK_ALLOWED_TARGETS: z
    .string()
    .optional()
    .refine((text) => text === undefined || parseAllowList(text).invalid.length === 0, {
      message: 'expected host names, IP addresses and CIDRs separated by commas',
    }),

  /** Where the worker's Prometheus endpoint listens; it has no authentication, so loopback unless told. */
  WORKER_METRICS_HOST: z
    .string()
    .refine((host) => isIP(host) !== 0, { message: 'expected an IP address, such as 127.0.0.1, 0.0.0.0 or ::' })
    .default('127.0.0.1'),
  WORKER_METRICS_PORT: port.default(9464),
  WORKER_SHUTDOWN_GRACE: duration.default('30 seconds'),
  WORKER_SYNC_SCHEDULES: booleanFlag.default(true),
  /** A workflow bundle built ahead (`npm run build:workflows`); unset: the worker bundles workflows/ at start. */
  WORKFLOW_BUNDLE_PATH: readableFile,
  /** Workflows kept in the worker's sticky cache; unset: the SDK's default, which depends on memory. */
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce
    .number()
    .int()
    .min(0)
    .max(1_000_000)
    // The SDK needs room for two (it silently raises 1); 0 turns the cache off.
    .refine((size) => size !== 1, 'must be 0 (no cache) or at least 2')
    .optional(),
  /**
   * Workflow tasks the worker runs at once; unset: the SDK's 40. On a small worker a lower figure leaves
   * tasks waiting on the server rather than queued inside the worker until their start-to-close timeout.
   */
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce
    .number()
    .int()
    // With the cache on, the SDK polls the sticky and the shared queue at once, and needs a slot for each.
    .min(2)
    .max(10_000)
    .optional(),
  WORKER_QUEUES: workerQueues,
  ...queueCapacityVariables,
  /** A tenant's fairness weight on shared task queues, by plan (docs/queues.md). */
  FAIRNESS_WEIGHTS: tierNumbers(defaultFairnessWeights, { min: 0.001, max: 1000, integer: false }),

  // Reports and exports (docs/exports.md, docs/reports.md): where files go, how long they are kept,
  // how long a download link lives, and how many exports of one tenant run at once.
  FILE_STORE: z.enum(['local', 's3']).default('local'),
  FILE_STORE_DIR: optionalString,
  S3_ENDPOINT: optionalUrl,
  S3_REGION: z.string().trim().min(1).default('us-east-1'),
  S3_BUCKET: optionalString,
  S3_ACCESS_KEY_ID: optionalString,
  S3_SECRET_ACCESS_KEY: optionalString,
  S3_FORCE_PATH_STYLE: booleanFlag.default(true),
  FILE_RETENTION: duration
    .refine((text) => durationMs(text) >= 60_000, { message: 'must be at least a minute' })
    .default('7 days'),
  DOWNLOAD_LINK_TTL: duration
    .refine((text) => durationMs(text) >= 60_000 && durationMs(text) <= 7 * 86_400_000, {
      message: 'must lie between 1 minute and 7 days',
    })
    .default('24 hours'),
  EXPORT_PAGE_SIZE: z.coerce.number().int().min(10).max(10_000).default(1000),
  EXPORTS_PER_TENANT: tierNumbers({ free: 1, professional: 2, enterprise: 3 }, { min: 1, max: 100, integer: true }),

  // The operations API (api/routes/operations): how long stats are cached, and after how many
  // attempts a retrying activity puts its flow in the dead-letter inbox.
  OPERATIONS_STATS_TTL: duration.default('5 seconds'),
  DEAD_LETTER_ACTIVITY_ATTEMPTS: z.coerce.number().int().min(2).max(1000).default(5),
  // GET /metrics: open when unset (scraped on a private network), else a bearer token Prometheus sends.
  METRICS_TOKEN: optionalString,

  // Payload encryption (docs/encryption.md): the master keys, newest first (`id=base64 key`, comma
  // separated; the first encrypts, every one decrypts), and how long a process reuses a derived key.
  // Each problem is reported on its own, naming the key's id and never its bytes.
  PAYLOAD_KEYS: optionalString.superRefine((text, context) => {
    if (text === undefined) return;
    for (const problem of parsePayloadKeyring(text).problems) {
      context.addIssue({
        code: 'custom',
        message: `${problem} (expected \`id=<32 bytes in base64>\`, comma separated)`,
      });
    }
  }),
  PAYLOAD_KEY_CACHE_TTL: duration.default('30 seconds'),

  // Rate limits (api/rate-limits.ts), per one-minute window. `postgres` shares the counts
  // between API instances; `memory` counts per process.
  RATE_LIMIT_STORE: z.enum(['memory', 'postgres']).default('memory'),
  RATE_LIMIT_PUBLIC_PER_MINUTE: perMinute.default(60),
  RATE_LIMIT_TOKEN_PER_MINUTE: perMinute.default(10),
  RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: perMinute.default(20),
  RATE_LIMIT_TENANT_WRITES_PER_MINUTE: perMinute.default(600),
});

/**
 * Rules that span variables. They read the raw values, so they are reported together with
 * per-variable problems instead of only after those are fixed.
 */
function crossVariableProblems(source: NodeJS.ProcessEnv): string[] {
  const value = (key: string) => (source[key]?.trim() ? source[key]?.trim() : undefined);
  // Fail closed: a missing or unknown APP_ENV gets production's checks.
  const production = !nonProductionModes.has(value('APP_ENV') ?? '');
  const problems: string[] = [];
  if (production && !value('JWT_SECRET') && !value('JWT_JWKS_URL')) {
    problems.push('JWT_SECRET: JWT_SECRET or JWT_JWKS_URL is required in production');
  }
  for (const secret of ['JWT_SECRET', ...productionSecrets]) {
    const given = value(secret);
    if (given !== undefined && given.length < 32) problems.push(`${secret}: must be at least 32 characters`);
    if (production && given !== undefined && publishedSecretHashes.has(sha256(given))) {
      problems.push(`${secret}: is a development value published in the repository's history; generate a new one`);
    }
  }
  if (production && value('PAYLOAD_KEYS')) {
    // A placeholder (all zeros, one byte repeated) parses as a key; production must not encrypt with it.
    for (const { id, key } of parsePayloadKeyring(value('PAYLOAD_KEYS')!).keys) {
      if (key.every((byte) => byte === key[0])) {
        problems.push(
          `PAYLOAD_KEYS: key ${id} is one byte repeated, not a random key; generate one (openssl rand -base64 32)`,
        );
      }
    }
  }
  const cache = Number(value('WORKER_MAX_CACHED_WORKFLOWS'));
  const workflowTasks = Number(value('WORKER_MAX_CONCURRENT_WORKFLOW_TASKS'));
  // A task runs on a cached workflow: slots beyond the cache would only evict one workflow to run another.
  // With the cache left to the SDK, the worker checks this at start (workers/main.ts).
  if (cache > 0 && workflowTasks > cache) {
    problems.push(
      `WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: ${workflowTasks} is more than WORKER_MAX_CACHED_WORKFLOWS (${cache}); a task needs a cached workflow`,
    );
  }
  for (const provider of ['SMS', 'WHATSAPP']) {
    if (production && value(`${provider}_PROVIDER_URL`) && !value(`${provider}_PROVIDER_TOKEN`)) {
      problems.push(`${provider}_PROVIDER_TOKEN: is required in production when ${provider}_PROVIDER_URL is set`);
    }
  }
  for (const required of [
    ...productionSecrets,
    'PAYLOAD_KEYS',
    'DATABASE_URL',
    'SMTP_URL',
    'BILLING_API_URL',
    'BILLING_API_KEY',
    'PLATFORM_ADMIN_EMAIL',
  ]) {
    if (production && !value(required)) problems.push(`${required}: is required in production`);
  }
  if (value('FILE_STORE') === 's3') {
    for (const required of ['S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY']) {
      if (!value(required)) problems.push(`${required}: is required when FILE_STORE=s3`);
    }
  }
  if (Boolean(value('TEMPORAL_TLS_CERT_PATH')) !== Boolean(value('TEMPORAL_TLS_KEY_PATH'))) {
    problems.push('TEMPORAL_TLS_CERT_PATH: TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH go together (mTLS)');
  }
  return problems;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Development and test fill the secrets the environment leaves out from the clone's own random
 * ones (lib/dev-secrets.ts). The file is read only when something is missing.
 */
function developmentSecrets(
  env: {
    JWT_SECRET?: string;
    JWT_JWKS_URL?: string;
    OFFER_TOKEN_SECRET?: string;
    INVITATION_TOKEN_SECRET?: string;
    WEBHOOK_SECRET_KEY?: string;
    PAYLOAD_KEYS?: string;
  },
  dataDir: string,
) {
  const missing =
    (!env.JWT_SECRET && !env.JWT_JWKS_URL) ||
    !env.OFFER_TOKEN_SECRET ||
    !env.INVITATION_TOKEN_SECRET ||
    !env.WEBHOOK_SECRET_KEY ||
    !env.PAYLOAD_KEYS;
  const generated = missing ? loadDevSecrets(dataDir) : undefined;
  return {
    jwtSecret: env.JWT_SECRET ?? (env.JWT_JWKS_URL ? undefined : generated?.jwtSecret),
    offerTokenSecret: env.OFFER_TOKEN_SECRET ?? generated!.offerTokenSecret,
    invitationTokenSecret: env.INVITATION_TOKEN_SECRET ?? generated!.invitationTokenSecret,
    webhookSecretKey: env.WEBHOOK_SECRET_KEY ?? generated!.webhookSecretKey,
    payloadKeys: env.PAYLOAD_KEYS ?? `${DEV_PAYLOAD_KEY_ID}=${generated!.payloadKey}`,
  };
}

export type FileStoreConfig =
  | { kind: 'local'; dir: string }
  | {
      kind: 's3';
      endpoint?: string;
      region: string;
      bucket: string;
      accessKeyId: string;
      secretAccessKey: string;
      forcePathStyle: boolean;
    };

export type TemporalTlsConfig =
  | false
  | {
      serverName?: string;
      caPath?: string;
      clientCertPath?: string;
      clientKeyPath?: string;
    };

export interface Config {
  env: 'development' | 'test' | 'production';
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  api: {
    host: string;
    port: number;
    bodyLimit: string;
    publicBaseUrl: string;
    /** TRUST_PROXY: whose X-Forwarded-For picks the client IP that per-IP rate limits count. */
    trustProxy: TrustProxy;
  };
  databaseUrl: string | undefined;
  /** DATABASE_POOL_SIZE: PostgreSQL connections per process. */
  databasePoolSize: number;
  temporal: {
    address: string;
    namespace: string;
    taskQueue: string;
    apiKey?: string;
    tls: TemporalTlsConfig;
    /** TEMPORAL_NAMESPACE_RETENTION, in milliseconds: how long closed workflows stay in visibility and history. */
    namespaceRetentionMs: number;
    /** TEMPORAL_UI_URL without a trailing slash. */
    uiUrl: string;
    /** CONSOLE_WEB_UI_LINKS: whether the tenant console links to the Web UI; off in production unless set. */
    consoleWebUiLinks: boolean;
  };
  operations: {
    /** OPERATIONS_STATS_TTL: how long one API process reuses the counts behind GET /api/v1/stats. */
    statsTtlMs: number;
    /** DEAD_LETTER_ACTIVITY_ATTEMPTS: a running flow whose activity reached this attempt is a dead letter. */
    deadLetterActivityAttempts: number;
    /** METRICS_TOKEN: the bearer token GET /metrics requires; open when undefined. */
    metricsToken?: string;
  };
  payloads: {
    /** PAYLOAD_KEYS: the master keys, the one that encrypts first. */
    keys: PayloadMasterKey[];
    /** PAYLOAD_KEY_CACHE_TTL: how long a process reuses a scope's derived key (and so how soon an erase reaches it). */
    keyCacheTtlMs: number;
    /**
     * The origins the codec server answers cross-origin: the Web UI's (TEMPORAL_UI_URL), plus, outside
     * production, the same address under its other loopback name (localhost and 127.0.0.1).
     */
    codecCorsOrigins: string[];
  };
  auth: {
    jwtSecret?: string;
    jwksUrl?: string;
    issuer: string;
    audience: string;
    /** JWT_MAX_TTL: the longest lifetime (`exp` - `iat`) a bearer token may have, in milliseconds. */
    maxTtlMs: number;
  };
  offerTokenSecret: string;
  mail: { smtpUrl?: string; from: string };
  sms: { providerUrl?: string; providerToken?: string };
  whatsapp: { providerUrl?: string; providerToken?: string };
  /** The dev mail/SMS catcher's JSONL file; the dev outbox route serves it in development only. */
  devOutboxFile?: string;
  worker: {
    /** WORKER_METRICS_HOST and WORKER_METRICS_PORT as one socket address (an IPv6 host in brackets). */
    metricsAddress: string;
    metricsPort: number;
    shutdownGrace: string;
    syncSchedules: boolean;
    /** WORKFLOW_BUNDLE_PATH: the prebuilt workflow bundle (workers/workflow-bundle.ts), if any. */
    workflowBundlePath?: string;
    /** WORKER_MAX_CACHED_WORKFLOWS: the workflow cache size; undefined keeps the SDK's default. */
    maxCachedWorkflows?: number;
    /** WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: workflow tasks run at once; undefined keeps the SDK's default. */
    maxConcurrentWorkflowTasks?: number;
    /** WORKER_QUEUES: the kinds of task queue this process polls (lib/task-queues.ts). */
    queues: TaskQueueKind[];
    /** Per kind: concurrent activities in this process, and the queue's rate across all its workers. */
    capacity: Record<TaskQueueKind, { concurrency: number; ratePerSecond?: number }>;
    /** FAIRNESS_WEIGHTS: each plan's weight on shared task queues. */
    fairnessWeights: Record<BillingTier, number>;
  };
  /** Reports' and exports' files (docs/exports.md, docs/reports.md). */
  files: {
    store: FileStoreConfig;
    /** FILE_RETENTION: how long a finished file is kept before the cleanup removes it. */
    retentionMs: number;
    /** DOWNLOAD_LINK_TTL: the lifetime of a signed download link. */
    downloadLinkTtlMs: number;
    /** Signs download links (under its own HKDF purpose, domain/token-keys.ts). */
    downloadLinkSecret: string;
  };
  exports: {
    /** EXPORT_PAGE_SIZE: rows read per keyset page (and per checkpoint). */
    pageSize: number;
    /** EXPORTS_PER_TENANT: running exports per tenant by plan; more wait in line. */
    perTenant: Record<BillingTier, number>;
  };
  /** Requests allowed per minute; see api/rate-limits.ts for what each limit counts. */
  rateLimits: {
    store: 'memory' | 'postgres';
    /** Per client IP on the public token endpoints (offer, vendor and invitation links). */
    publicPerIpPerMinute: number;
    /** Per response or invitation token on the same endpoints, from any IP. */
    publicPerTokenPerMinute: number;
    /** Per client IP, counting only answers of 401. */
    authFailuresPerMinute: number;
    /** Per tenant, counting POST, PUT, PATCH and DELETE behind authentication. */
    tenantWritesPerMinute: number;
  };
  /**
   * The billing provider onboarding calls. Without `apiUrl` (allowed outside production) the
   * worker has no billing adapter and onboarding fails at its billing step; `npm run dev`
   * starts the sandbox instead.
   */
  billing: { apiUrl?: string; apiKey?: string; timeoutMs: number; prices: Record<BillingTier, string> };
  onboarding: {
    /** Who hears about an onboarding that failed, was rejected or was cancelled. */
    platformAdminEmail: string;
    /** Derives the invitation tokens in welcome emails. */
    invitationTokenSecret: string;
  };
  /** Signed webhooks (docs/webhooks.md). */
  webhooks: {
    /** WEBHOOK_SECRET_KEY: encrypts the endpoints' signing secrets at rest (lib/secret-box.ts). */
    secretKey: string;
    /** WEBHOOK_ROTATION_WINDOW: how long the previous secret keeps signing after a rotation. */
    rotationWindowMs: number;
    /** WEBHOOK_TIMEOUT: one delivery request, connection to last byte. */
    timeoutMs: number;
    /** https only in production; WEBHOOK_ALLOWED_TARGETS beyond public addresses. */
    policy: UrlPolicy;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Validates the environment and returns typed settings.
 *
 * Development and test must be chosen with `APP_ENV` (`npm run dev` and the test harness do);
 * anything else is production, which needs every secret from the environment. Outside
 * production, secrets left unset come from `$HOLDFAST_DATA_DIR/dev-secrets.json` (default
 * `.data/`), generated on first use.
 *
 * @throws ConfigError listing every problem at once, so one restart fixes them all.
 */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const parsed = environmentSchema.safeParse(source);
  const problems = [
    ...(parsed.success
      ? []
      : parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)),
    ...crossVariableProblems(source),
  ];
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const env = parsed.data;
  const usesTls =
    env.TEMPORAL_TLS ?? Boolean(env.TEMPORAL_API_KEY || env.TEMPORAL_TLS_CERT_PATH || env.TEMPORAL_TLS_CA_PATH);
  const secrets =
    env.APP_ENV === 'production'
      ? {
          jwtSecret: env.JWT_SECRET,
          offerTokenSecret: env.OFFER_TOKEN_SECRET!,
          invitationTokenSecret: env.INVITATION_TOKEN_SECRET!,
          webhookSecretKey: env.WEBHOOK_SECRET_KEY!,
          payloadKeys: env.PAYLOAD_KEYS!,
        }
      : developmentSecrets(env, dataDirOf(source));
  return {
    env: env.APP_ENV,
    logLevel: env.LOG_LEVEL,
    api: {
      host: env.API_HOST,
      port: env.API_PORT,
      bodyLimit: env.API_BODY_LIMIT,
      publicBaseUrl: env.PUBLIC_BASE_URL.replace(/\/$/, ''),
      trustProxy: env.TRUST_PROXY,
    },
    databaseUrl: env.DATABASE_URL,
    databasePoolSize: env.DATABASE_POOL_SIZE,
    temporal: {
      address: env.TEMPORAL_ADDRESS,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      apiKey: env.TEMPORAL_API_KEY,
      namespaceRetentionMs: durationMs(env.TEMPORAL_NAMESPACE_RETENTION),
      uiUrl: env.TEMPORAL_UI_URL.replace(/\/$/, ''),
      consoleWebUiLinks: env.CONSOLE_WEB_UI_LINKS ?? env.APP_ENV !== 'production',
      tls: usesTls
        ? {
            serverName: env.TEMPORAL_TLS_SERVER_NAME,
            caPath: env.TEMPORAL_TLS_CA_PATH,
            clientCertPath: env.TEMPORAL_TLS_CERT_PATH,
            clientKeyPath: env.TEMPORAL_TLS_KEY_PATH,
          }
        : false,
    },
    operations: {
      statsTtlMs: durationMs(env.OPERATIONS_STATS_TTL),
      deadLetterActivityAttempts: env.DEAD_LETTER_ACTIVITY_ATTEMPTS,
      metricsToken: env.METRICS_TOKEN,
    },
    payloads: {
      keys: parsePayloadKeyring(secrets.payloadKeys).keys,
      keyCacheTtlMs: durationMs(env.PAYLOAD_KEY_CACHE_TTL),
      codecCorsOrigins: codecCorsOrigins(env.TEMPORAL_UI_URL, env.APP_ENV === 'production'),
    },
    auth: {
      jwtSecret: secrets.jwtSecret,
      jwksUrl: env.JWT_JWKS_URL,
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      maxTtlMs: durationMs(env.JWT_MAX_TTL),
    },
    offerTokenSecret: secrets.offerTokenSecret,
    mail: { smtpUrl: env.SMTP_URL, from: env.MAIL_FROM },
    sms: { providerUrl: env.SMS_PROVIDER_URL, providerToken: env.SMS_PROVIDER_TOKEN },
    whatsapp: { providerUrl: env.WHATSAPP_PROVIDER_URL, providerToken: env.WHATSAPP_PROVIDER_TOKEN },
    devOutboxFile: env.APP_ENV === 'development' ? env.DEV_OUTBOX_FILE : undefined,
    worker: {
      metricsAddress: `${isIP(env.WORKER_METRICS_HOST) === 6 ? `[${env.WORKER_METRICS_HOST}]` : env.WORKER_METRICS_HOST}:${env.WORKER_METRICS_PORT}`,
      metricsPort: env.WORKER_METRICS_PORT,
      shutdownGrace: env.WORKER_SHUTDOWN_GRACE,
      syncSchedules: env.WORKER_SYNC_SCHEDULES,
      workflowBundlePath: env.WORKFLOW_BUNDLE_PATH,
      maxCachedWorkflows: env.WORKER_MAX_CACHED_WORKFLOWS,
      maxConcurrentWorkflowTasks: env.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
      queues: env.WORKER_QUEUES,
      capacity: Object.fromEntries(
        taskQueueKinds.map((kind) => {
          const variables = env as unknown as Record<string, number | undefined>;
          return [
            kind,
            {
              concurrency: variables[`WORKER_${kind.toUpperCase()}_CONCURRENCY`]!,
              ratePerSecond: variables[`WORKER_${kind.toUpperCase()}_RATE`],
            },
          ];
        }),
      ) as Record<TaskQueueKind, { concurrency: number; ratePerSecond?: number }>,
      fairnessWeights: env.FAIRNESS_WEIGHTS,
    },
    files: {
      store:
        env.FILE_STORE === 's3'
          ? {
              kind: 's3',
              endpoint: env.S3_ENDPOINT,
              region: env.S3_REGION,
              bucket: env.S3_BUCKET!,
              accessKeyId: env.S3_ACCESS_KEY_ID!,
              secretAccessKey: env.S3_SECRET_ACCESS_KEY!,
              forcePathStyle: env.S3_FORCE_PATH_STYLE,
            }
          : { kind: 'local', dir: path.resolve(env.FILE_STORE_DIR ?? path.join(dataDirOf(source), 'files')) },
      retentionMs: durationMs(env.FILE_RETENTION),
      downloadLinkTtlMs: durationMs(env.DOWNLOAD_LINK_TTL),
      downloadLinkSecret: secrets.offerTokenSecret,
    },
    exports: { pageSize: env.EXPORT_PAGE_SIZE, perTenant: env.EXPORTS_PER_TENANT },
    rateLimits: {
      store: env.RATE_LIMIT_STORE,
      publicPerIpPerMinute: env.RATE_LIMIT_PUBLIC_PER_MINUTE,
      publicPerTokenPerMinute: env.RATE_LIMIT_TOKEN_PER_MINUTE,
      authFailuresPerMinute: env.RATE_LIMIT_AUTH_FAILURES_PER_MINUTE,
      tenantWritesPerMinute: env.RATE_LIMIT_TENANT_WRITES_PER_MINUTE,
    },
    billing: {
      apiUrl: env.BILLING_API_URL?.replace(/\/$/, ''),
      apiKey: env.BILLING_API_KEY,
      timeoutMs: durationMs(env.BILLING_TIMEOUT),
      prices: billingPriceIds(env.BILLING_PRICES),
    },
    onboarding: {
      platformAdminEmail: env.PLATFORM_ADMIN_EMAIL ?? DEV_PLATFORM_ADMIN_EMAIL,
      invitationTokenSecret: secrets.invitationTokenSecret,
    },
    webhooks: {
      secretKey: secrets.webhookSecretKey,
      rotationWindowMs: durationMs(env.WEBHOOK_ROTATION_WINDOW),
      timeoutMs: durationMs(env.WEBHOOK_TIMEOUT),
      policy: {
        requireHttps: env.APP_ENV === 'production',
        allowList: parseAllowList(
          env.WEBHOOK_ALLOWED_TARGETS ?? (env.APP_ENV === 'production' ? '' : DEV_WEBHOOK_TARGETS),
        ).allowList,
      },
    },
  };
}

function codecCorsOrigins(uiUrl: string, production: boolean): string[] {
  const origin = new URL(uiUrl);
  const twins: Record<string, string> = { localhost: '127.0.0.1', '127.0.0.1': 'localhost' };
  const twin = twins[origin.hostname];
  if (production || !twin) return [origin.origin];
  return [origin.origin, `${origin.protocol}//${twin}${origin.port ? `:${origin.port}` : ''}`];
}

/** Where development keeps its state, as `npm run dev` resolves it. */
function dataDirOf(source: NodeJS.ProcessEnv): string {
  const configured = source.HOLDFAST_DATA_DIR?.trim();
  return configured ? path.resolve(configured) : defaultDataDir();
}

/** Like {@link loadConfig}, but prints the problems and exits: for process entry points. */
export function loadConfigOrExit(source: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(source);
  } catch (error) {
    exitOnConfigError(error);
    throw error;
  }
}

/** An invalid setting ends the process with its problems listed and EX_CONFIG; anything else returns. */
export function exitOnConfigError(error: unknown): void {
  if (!(error instanceof ConfigError)) return;
  process.stderr.write(`${error.message}\n`);
  process.exit(78); // EX_CONFIG
}

/** Whether a required database URL is present; entry points that need the DB call this. */
export function requireDatabaseUrl(config: Config): string {
  if (!config.databaseUrl) throw new ConfigError(['DATABASE_URL: is required (npm run dev sets it for you)']);
  return config.databaseUrl;
}
