import fs from 'node:fs';
import { z } from 'zod';

/**
 * The one place that reads the environment. Processes call {@link loadConfig} once at start-up
 * and pass the result down; nothing else reads `process.env` for settings.
 */

const DEV_JWT_SECRET = 'holdfast-development-secret-change-me-0123456789';
const DEV_OFFER_TOKEN_SECRET = 'holdfast-development-offer-secret-0123456789';
const DEV_INVITATION_TOKEN_SECRET = 'holdfast-development-invitation-secret-0123456789';
const DEV_PLATFORM_ADMIN_EMAIL = 'platform-admin@holdfast.local';

const booleanFlag = z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1');

const port = z.coerce.number().int().min(0).max(65535);

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
const duration = z.string().regex(/^\d+(\.\d+)?\s*(ms|milliseconds?|s|seconds?|m|minutes?|h|hours?|d|days?)?$/i, {
  message: "expected a duration such as '30 seconds' or '5m'",
});

const durationUnitsMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A {@link duration} in milliseconds, for settings that Node APIs (not Temporal) consume. */
function durationMs(text: string): number {
  const [, amount, unit] = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim())!;
  const key = !unit || /^(ms|millis)/i.test(unit) ? 'ms' : unit[0]!.toLowerCase();
  return Number(amount) * durationUnitsMs[key]!;
}

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

const environmentSchema = z.object({
  APP_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  API_HOST: z.string().default('0.0.0.0'),
  API_PORT: port.default(3000),
  API_BODY_LIMIT: z.string().default('100kb'),
  PUBLIC_BASE_URL: z.url().default('http://localhost:3000'),

  DATABASE_URL: optionalString.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, { message: 'expected a postgresql:// connection string' })
      .optional(),
  ),

  TEMPORAL_ADDRESS: z.string().default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('holdfast'),
  TEMPORAL_API_KEY: optionalString,
  TEMPORAL_TLS: booleanFlag.optional(),
  TEMPORAL_TLS_CERT_PATH: readableFile,
  TEMPORAL_TLS_KEY_PATH: readableFile,
  TEMPORAL_TLS_CA_PATH: readableFile,
  TEMPORAL_TLS_SERVER_NAME: optionalString,

  JWT_SECRET: optionalString,
  JWT_JWKS_URL: optionalUrl,
  JWT_ISSUER: z.string().default('holdfast'),
  JWT_AUDIENCE: z.string().default('holdfast-api'),

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

  WORKER_METRICS_PORT: port.default(9464),
  WORKER_SHUTDOWN_GRACE: duration.default('30 seconds'),
  WORKER_SYNC_SCHEDULES: booleanFlag.default(true),
});

/**
 * Rules that span variables. They read the raw values, so they are reported together with
 * per-variable problems instead of only after those are fixed.
 */
function crossVariableProblems(source: NodeJS.ProcessEnv): string[] {
  const value = (key: string) => (source[key]?.trim() ? source[key]?.trim() : undefined);
  const production = value('APP_ENV') === 'production';
  const problems: string[] = [];
  if (production && !value('JWT_SECRET') && !value('JWT_JWKS_URL')) {
    problems.push('JWT_SECRET: JWT_SECRET or JWT_JWKS_URL is required in production');
  }
  for (const secret of ['JWT_SECRET', 'OFFER_TOKEN_SECRET', 'INVITATION_TOKEN_SECRET']) {
    const given = value(secret);
    if (given !== undefined && given.length < 32) problems.push(`${secret}: must be at least 32 characters`);
  }
  for (const required of [
    'OFFER_TOKEN_SECRET',
    'DATABASE_URL',
    'SMTP_URL',
    'BILLING_API_URL',
    'BILLING_API_KEY',
    'PLATFORM_ADMIN_EMAIL',
    'INVITATION_TOKEN_SECRET',
  ]) {
    if (production && !value(required)) problems.push(`${required}: is required in production`);
  }
  if (Boolean(value('TEMPORAL_TLS_CERT_PATH')) !== Boolean(value('TEMPORAL_TLS_KEY_PATH'))) {
    problems.push('TEMPORAL_TLS_CERT_PATH: TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH go together (mTLS)');
  }
  return problems;
}

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
  api: { host: string; port: number; bodyLimit: string; publicBaseUrl: string };
  databaseUrl: string | undefined;
  temporal: {
    address: string;
    namespace: string;
    taskQueue: string;
    apiKey?: string;
    tls: TemporalTlsConfig;
  };
  auth: { jwtSecret?: string; jwksUrl?: string; issuer: string; audience: string };
  offerTokenSecret: string;
  mail: { smtpUrl?: string; from: string };
  sms: { providerUrl?: string; providerToken?: string };
  whatsapp: { providerUrl?: string; providerToken?: string };
  /** The dev mail/SMS catcher's JSONL file; the dev outbox route serves it in development only. */
  devOutboxFile?: string;
  worker: { metricsPort: number; shutdownGrace: string; syncSchedules: boolean };
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
  const useDevSecrets = env.APP_ENV !== 'production';
  return {
    env: env.APP_ENV,
    logLevel: env.LOG_LEVEL,
    api: {
      host: env.API_HOST,
      port: env.API_PORT,
      bodyLimit: env.API_BODY_LIMIT,
      publicBaseUrl: env.PUBLIC_BASE_URL.replace(/\/$/, ''),
    },
    databaseUrl: env.DATABASE_URL,
    temporal: {
      address: env.TEMPORAL_ADDRESS,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      apiKey: env.TEMPORAL_API_KEY,
      tls: usesTls
        ? {
            serverName: env.TEMPORAL_TLS_SERVER_NAME,
            caPath: env.TEMPORAL_TLS_CA_PATH,
            clientCertPath: env.TEMPORAL_TLS_CERT_PATH,
            clientKeyPath: env.TEMPORAL_TLS_KEY_PATH,
          }
        : false,
    },
    auth: {
      jwtSecret: env.JWT_SECRET ?? (useDevSecrets && !env.JWT_JWKS_URL ? DEV_JWT_SECRET : undefined),
      jwksUrl: env.JWT_JWKS_URL,
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
    },
    offerTokenSecret: env.OFFER_TOKEN_SECRET ?? DEV_OFFER_TOKEN_SECRET,
    mail: { smtpUrl: env.SMTP_URL, from: env.MAIL_FROM },
    sms: { providerUrl: env.SMS_PROVIDER_URL, providerToken: env.SMS_PROVIDER_TOKEN },
    whatsapp: { providerUrl: env.WHATSAPP_PROVIDER_URL, providerToken: env.WHATSAPP_PROVIDER_TOKEN },
    devOutboxFile: env.APP_ENV === 'development' ? env.DEV_OUTBOX_FILE : undefined,
    worker: {
      metricsPort: env.WORKER_METRICS_PORT,
      shutdownGrace: env.WORKER_SHUTDOWN_GRACE,
      syncSchedules: env.WORKER_SYNC_SCHEDULES,
    },
    billing: {
      apiUrl: env.BILLING_API_URL?.replace(/\/$/, ''),
      apiKey: env.BILLING_API_KEY,
      timeoutMs: durationMs(env.BILLING_TIMEOUT),
      prices: billingPriceIds(env.BILLING_PRICES),
    },
    onboarding: {
      platformAdminEmail: env.PLATFORM_ADMIN_EMAIL ?? DEV_PLATFORM_ADMIN_EMAIL,
      invitationTokenSecret: env.INVITATION_TOKEN_SECRET ?? DEV_INVITATION_TOKEN_SECRET,
    },
  };
}

/** Like {@link loadConfig}, but prints the problems and exits: for process entry points. */
export function loadConfigOrExit(source: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(source);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
}

/** Whether a required database URL is present; entry points that need the DB call this. */
export function requireDatabaseUrl(config: Config): string {
  if (!config.databaseUrl) throw new ConfigError(['DATABASE_URL: is required (npm run dev sets it for you)']);
  return config.databaseUrl;
}
