import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../lib/config';
import { DEV_SECRETS_FILE, loadDevSecrets } from '../../lib/dev-secrets';

const root = path.resolve(__dirname, '../..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');

const tempDataDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'holdfast-config-'));

/** Development settings whose generated secrets go to a throwaway data directory. */
const development = (env: Record<string, string> = {}) =>
  loadConfig({ APP_ENV: 'development', HOLDFAST_DATA_DIR: tempDataDir(), ...env });

const problemsOf = (env: Record<string, string>): string => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.join('\n');
    throw error;
  }
  throw new Error('expected a ConfigError');
};

/** Everything production needs, with secrets nobody has published. */
const productionEnv = {
  APP_ENV: 'production',
  JWT_SECRET: 'prod-jwt-secret-0123456789abcdef-0123',
  OFFER_TOKEN_SECRET: 'prod-offer-secret-0123456789abcdef-01',
  INVITATION_TOKEN_SECRET: 'prod-invitation-secret-0123456789abcd',
  WEBHOOK_SECRET_KEY: 'prod-webhook-key-0123456789abcdef-0123',
  PAYLOAD_KEYS: `2026-12=${Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37 + 11) % 256)).toString('base64')}`,
  DATABASE_URL: 'postgresql://holdfast:pw@db:5432/holdfast',
  SMTP_URL: 'smtp://relay.example.com:587',
  BILLING_API_URL: 'https://billing.example.com',
  BILLING_API_KEY: 'sk_live_x',
  PLATFORM_ADMIN_EMAIL: 'ops@example.com',
};

const everyRequiredSetting = [
  'JWT_SECRET',
  'OFFER_TOKEN_SECRET',
  'INVITATION_TOKEN_SECRET',
  'WEBHOOK_SECRET_KEY',
  'PAYLOAD_KEYS',
  'DATABASE_URL',
  'SMTP_URL',
  'BILLING_API_URL',
  'BILLING_API_KEY',
  'PLATFORM_ADMIN_EMAIL',
];

describe('configuration', () => {
  it('runs on embedded defaults in development with no other variables set', () => {
    const config = development();

    expect(config.env).toBe('development');
    expect(config.api.port).toBe(3000);
    expect(config.temporal).toMatchObject({ address: 'localhost:7233', namespace: 'default', tls: false });
    expect(config.auth.jwtSecret).toBeDefined();
  });

  it("keeps the worker's metrics endpoint, which has no token, on loopback unless an IP address is given", () => {
    expect(development().worker.metricsAddress).toBe('127.0.0.1:9464');
    expect(development({ WORKER_METRICS_HOST: '0.0.0.0' }).worker.metricsAddress).toBe('0.0.0.0:9464');
    expect(development({ WORKER_METRICS_HOST: '::', WORKER_METRICS_PORT: '9500' }).worker.metricsAddress).toBe(
      '[::]:9500',
    );
    // The SDK binds a socket address, not a name.
    expect(problemsOf({ APP_ENV: 'development', WORKER_METRICS_HOST: 'localhost' })).toMatch(
      /WORKER_METRICS_HOST: expected an IP address/,
    );
  });

  it('lists every problem at once instead of failing on the first', () => {
    const problems = problemsOf({
      APP_ENV: 'production',
      API_PORT: 'not-a-port',
      JWT_SECRET: 'short',
      SMTP_URL: 'http://x',
    });

    expect(problems).toMatch(/API_PORT/);
    expect(problems).toMatch(/SMTP_URL/);
    expect(problems).toMatch(/JWT_SECRET: must be at least 32 characters/);
    expect(problems).toMatch(/OFFER_TOKEN_SECRET: is required in production/);
  });

  it('requires real secrets, a database and SMTP in production', () => {
    const problems = problemsOf({ APP_ENV: 'production' });

    for (const variable of everyRequiredSetting) expect(problems).toMatch(variable);
  });

  it('connects to Temporal Cloud over TLS when an API key is set', () => {
    const config = development({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_API_KEY: 'key' });

    expect(config.temporal.apiKey).toBe('key');
    expect(config.temporal.tls).toEqual(expect.objectContaining({}));
    expect(config.temporal.tls).not.toBe(false);
  });

  it('refuses a bearer-token lifetime limit under a minute, which would refuse every token', () => {
    expect(problemsOf({ ...productionEnv, JWT_MAX_TTL: '0' })).toContain('JWT_MAX_TTL: must be at least a minute');
    expect(loadConfig({ ...productionEnv, JWT_MAX_TTL: '2 hours' }).auth.maxTtlMs).toBe(2 * 60 * 60 * 1000);
  });

  it('rejects half an mTLS key pair', () => {
    expect(() => development({ TEMPORAL_TLS_CERT_PATH: __filename })).toThrow(/go together/);
  });

  it('keeps ten PostgreSQL connections per process unless told otherwise, and refuses an empty pool', () => {
    expect(development().databasePoolSize).toBe(10);
    expect(development({ DATABASE_POOL_SIZE: '40' }).databasePoolSize).toBe(40);
    expect(() => development({ DATABASE_POOL_SIZE: '0' })).toThrow(/DATABASE_POOL_SIZE/);
  });

  it('takes the workflow tasks a worker runs at once, never more than its cache holds', () => {
    expect(development().worker.maxConcurrentWorkflowTasks).toBeUndefined();
    expect(development({ WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '10' }).worker.maxConcurrentWorkflowTasks).toBe(10);
    expect(() => development({ WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '1' })).toThrow(
      /WORKER_MAX_CONCURRENT_WORKFLOW_TASKS/,
    );
    expect(() =>
      development({ WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '20', WORKER_MAX_CACHED_WORKFLOWS: '10' }),
    ).toThrow(/more than WORKER_MAX_CACHED_WORKFLOWS \(10\)/);
    // With the cache off every task replays from history: no cache to stay within.
    expect(
      development({ WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '20', WORKER_MAX_CACHED_WORKFLOWS: '0' }).worker
        .maxConcurrentWorkflowTasks,
    ).toBe(20);
  });

  it('rejects certificate paths that do not exist', () => {
    expect(() =>
      development({ TEMPORAL_TLS_CERT_PATH: '/nope/client.pem', TEMPORAL_TLS_KEY_PATH: '/nope/client.key' }),
    ).toThrow(/file does not exist/);
  });
});

describe('workers, files and fairness', () => {
  it('serves every kind of task queue with the default capacity, reports one at a time', () => {
    const { worker } = development();

    expect(worker.queues).toEqual(['interactive', 'email', 'sms', 'whatsapp', 'reports', 'exports']);
    expect(worker.capacity.reports).toEqual({ concurrency: 1, ratePerSecond: undefined });
    expect(worker.capacity.whatsapp.concurrency).toBe(5);
    expect(worker.fairnessWeights).toEqual({ free: 1, professional: 2, enterprise: 3 });
  });

  it('reads the queues one process serves, their concurrency and a provider rate', () => {
    const { worker } = development({
      WORKER_QUEUES: 'exports, reports',
      WORKER_EXPORTS_CONCURRENCY: '4',
      WORKER_WHATSAPP_RATE: '2.5',
    });

    expect(worker.queues).toEqual(['exports', 'reports']);
    expect(worker.capacity.exports.concurrency).toBe(4);
    expect(worker.capacity.whatsapp.ratePerSecond).toBe(2.5);
  });

  it('refuses an unknown queue kind, a zero concurrency and a negative rate', () => {
    const problems = problemsOf({
      APP_ENV: 'development',
      HOLDFAST_DATA_DIR: tempDataDir(),
      WORKER_QUEUES: 'interactive,faxes',
      WORKER_REPORTS_CONCURRENCY: '0',
      WORKER_SMS_RATE: '-1',
    });

    expect(problems).toMatch(/WORKER_QUEUES: .*'faxes'/);
    expect(problems).toMatch(/WORKER_REPORTS_CONCURRENCY/);
    expect(problems).toMatch(/WORKER_SMS_RATE/);
  });

  it('reads weights and export caps by plan, keeping the defaults of plans it does not name', () => {
    const config = development({ FAIRNESS_WEIGHTS: 'enterprise=5', EXPORTS_PER_TENANT: 'free=1,enterprise=4' });

    expect(config.worker.fairnessWeights).toEqual({ free: 1, professional: 2, enterprise: 5 });
    expect(config.exports.perTenant).toEqual({ free: 1, professional: 2, enterprise: 4 });
  });

  it('refuses an unknown plan, a weight out of range and a fractional export cap', () => {
    const problems = problemsOf({
      APP_ENV: 'development',
      HOLDFAST_DATA_DIR: tempDataDir(),
      FAIRNESS_WEIGHTS: 'gold=2',
      EXPORTS_PER_TENANT: 'free=1.5',
    });

    expect(problems).toMatch(/FAIRNESS_WEIGHTS: .*'gold=2'/);
    expect(problems).toMatch(/EXPORTS_PER_TENANT: .*'free=1.5'/);
    expect(
      problemsOf({ APP_ENV: 'development', HOLDFAST_DATA_DIR: tempDataDir(), FAIRNESS_WEIGHTS: 'free=0' }),
    ).toMatch(/FAIRNESS_WEIGHTS/);
  });

  it('keeps files under the data directory by default', () => {
    const dataDir = tempDataDir();
    const { files } = loadConfig({ APP_ENV: 'development', HOLDFAST_DATA_DIR: dataDir });

    expect(files.store).toEqual({ kind: 'local', dir: path.join(dataDir, 'files') });
    expect(files.retentionMs).toBe(7 * 86_400_000);
    expect(files.downloadLinkTtlMs).toBe(86_400_000);
  });

  it('needs a bucket and credentials for the S3 store', () => {
    const problems = problemsOf({ APP_ENV: 'development', HOLDFAST_DATA_DIR: tempDataDir(), FILE_STORE: 's3' });

    expect(problems).toMatch(/S3_BUCKET: is required when FILE_STORE=s3/);
    expect(problems).toMatch(/S3_ACCESS_KEY_ID/);
    expect(problems).toMatch(/S3_SECRET_ACCESS_KEY/);
    expect(
      development({
        FILE_STORE: 's3',
        S3_ENDPOINT: 'http://127.0.0.1:9000',
        S3_BUCKET: 'files',
        S3_ACCESS_KEY_ID: 'id',
        S3_SECRET_ACCESS_KEY: 'secret',
      }).files.store,
    ).toMatchObject({ kind: 's3', bucket: 'files', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true });
  });

  it('refuses a download link that would outlive a week', () => {
    expect(() => development({ DOWNLOAD_LINK_TTL: '30 days' })).toThrow(/DOWNLOAD_LINK_TTL/);
  });
});

describe('the mode and its secrets', () => {
  it.each([
    ['no variables at all', {}],
    ['NODE_ENV=production and no APP_ENV, as a plain Node container sets', { NODE_ENV: 'production' }],
    ['NODE_ENV=development and no APP_ENV', { NODE_ENV: 'development' }],
  ])('with %s, the process is production and refuses to start, naming every missing setting', (_, env) => {
    const dataDir = tempDataDir();

    const problems = problemsOf({ ...env, HOLDFAST_DATA_DIR: dataDir });

    for (const variable of everyRequiredSetting) expect(problems).toMatch(`${variable}: `);
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });

  it('an unknown APP_ENV is refused and gets production checks as well', () => {
    const problems = problemsOf({ APP_ENV: 'staging' });

    expect(problems).toMatch(/APP_ENV/);
    expect(problems).toMatch('OFFER_TOKEN_SECRET: is required in production');
  });

  it('production starts with every secret from the environment and never reads or writes development secrets', () => {
    const dataDir = tempDataDir();

    const config = loadConfig({ ...productionEnv, HOLDFAST_DATA_DIR: dataDir });

    expect(config.env).toBe('production');
    expect(config.auth.jwtSecret).toBe(productionEnv.JWT_SECRET);
    expect(config.offerTokenSecret).toBe(productionEnv.OFFER_TOKEN_SECRET);
    expect(config.onboarding.invitationTokenSecret).toBe(productionEnv.INVITATION_TOKEN_SECRET);
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });

  it('production may verify bearer tokens through JWKS instead of a shared JWT secret', () => {
    const config = loadConfig({
      ...productionEnv,
      JWT_SECRET: '',
      JWT_JWKS_URL: 'https://issuer.example.com/jwks.json',
    });

    expect(config.auth).toMatchObject({ jwtSecret: undefined, jwksUrl: 'https://issuer.example.com/jwks.json' });
  });

  it('production refuses the development secrets that earlier versions published in the repository', () => {
    const problems = problemsOf({
      ...productionEnv,
      JWT_SECRET: 'holdfast-development-secret-change-me-0123456789',
      OFFER_TOKEN_SECRET: 'holdfast-development-offer-secret-0123456789',
      INVITATION_TOKEN_SECRET: 'holdfast-development-invitation-secret-0123456789',
    });

    for (const variable of ['JWT_SECRET', 'OFFER_TOKEN_SECRET', 'INVITATION_TOKEN_SECRET']) {
      expect(problems).toMatch(`${variable}: is a development value published`);
    }
  });

  it('production needs the provider token for each messaging provider it is given', () => {
    const problems = problemsOf({
      ...productionEnv,
      SMS_PROVIDER_URL: 'https://sms.example.com/v1',
      WHATSAPP_PROVIDER_URL: 'https://wa.example.com/v1',
    });

    expect(problems).toMatch('SMS_PROVIDER_TOKEN: is required in production when SMS_PROVIDER_URL is set');
    expect(problems).toMatch('WHATSAPP_PROVIDER_TOKEN: is required in production when WHATSAPP_PROVIDER_URL is set');
  });

  it('development generates its secrets on first use, in a file only the owner can read, and keeps them across restarts', () => {
    const dataDir = tempDataDir();

    const first = loadConfig({ APP_ENV: 'development', HOLDFAST_DATA_DIR: dataDir });
    const restarted = loadConfig({ APP_ENV: 'development', HOLDFAST_DATA_DIR: dataDir });

    const file = path.join(dataDir, DEV_SECRETS_FILE);
    const secrets = [first.auth.jwtSecret!, first.offerTokenSecret, first.onboarding.invitationTokenSecret];
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(new Set(secrets).size).toBe(3);
    for (const secret of secrets) expect(secret.length).toBeGreaterThanOrEqual(32);
    expect([restarted.auth.jwtSecret, restarted.offerTokenSecret, restarted.onboarding.invitationTokenSecret]).toEqual(
      secrets,
    );
    expect(fs.readdirSync(dataDir)).toEqual([DEV_SECRETS_FILE]);
  });

  it('two clones (data directories) never share development secrets', () => {
    const one = development();
    const other = development();

    expect(other.auth.jwtSecret).not.toBe(one.auth.jwtSecret);
    expect(other.offerTokenSecret).not.toBe(one.offerTokenSecret);
    expect(other.onboarding.invitationTokenSecret).not.toBe(one.onboarding.invitationTokenSecret);
  });

  it('tests use the same generated secrets as development, and a secret set in the environment wins', () => {
    const dataDir = tempDataDir();
    const dev = loadConfig({ APP_ENV: 'development', HOLDFAST_DATA_DIR: dataDir });

    const test = loadConfig({
      APP_ENV: 'test',
      HOLDFAST_DATA_DIR: dataDir,
      OFFER_TOKEN_SECRET: 'an-explicit-offer-secret-0123456789abcd',
    });

    expect(test.auth.jwtSecret).toBe(dev.auth.jwtSecret);
    expect(test.onboarding.invitationTokenSecret).toBe(dev.onboarding.invitationTokenSecret);
    expect(test.offerTokenSecret).toBe('an-explicit-offer-secret-0123456789abcd');
  });

  it('development with every secret set in the environment writes no secrets file', () => {
    const dataDir = tempDataDir();

    loadConfig({
      APP_ENV: 'development',
      HOLDFAST_DATA_DIR: dataDir,
      JWT_JWKS_URL: 'https://issuer.example.com/jwks.json',
      OFFER_TOKEN_SECRET: productionEnv.OFFER_TOKEN_SECRET,
      INVITATION_TOKEN_SECRET: productionEnv.INVITATION_TOKEN_SECRET,
      WEBHOOK_SECRET_KEY: productionEnv.WEBHOOK_SECRET_KEY,
      PAYLOAD_KEYS: productionEnv.PAYLOAD_KEYS,
    });

    expect(fs.readdirSync(dataDir)).toEqual([]);
  });

  it('a damaged secrets file stops the process with a message naming the file', () => {
    const dataDir = tempDataDir();
    fs.writeFileSync(path.join(dataDir, DEV_SECRETS_FILE), '{"jwtSecret":"short"}');

    expect(() => loadConfig({ APP_ENV: 'development', HOLDFAST_DATA_DIR: dataDir })).toThrow(
      `${path.join(dataDir, DEV_SECRETS_FILE)} is not a valid development secrets file`,
    );
  });

  it("a process that loses the race to create the secrets file adopts the winner's secrets", () => {
    const dataDir = tempDataDir();
    const file = path.join(dataDir, DEV_SECRETS_FILE);
    const winner = {
      jwtSecret: 'w'.repeat(40),
      offerTokenSecret: 'o'.repeat(40),
      invitationTokenSecret: 'i'.repeat(40),
      webhookSecretKey: 'k'.repeat(40),
      payloadKey: Buffer.alloc(32, 9).toString('base64url'),
    };
    const link = fs.linkSync;
    // Another process creates the file between this one's first look and its own creation.
    const spy = jest.spyOn(fs, 'linkSync').mockImplementation((existing, target) => {
      fs.writeFileSync(file, JSON.stringify(winner));
      link(existing, target);
    });

    try {
      expect(loadDevSecrets(dataDir)).toEqual(winner);
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
    expect(fs.readdirSync(dataDir)).toEqual([DEV_SECRETS_FILE]);
  });

  it('processes that start together all end up with the same development secrets', async () => {
    const dataDir = tempDataDir();
    // Every process waits for the same instant, so they race to create the file.
    const startAt = Date.now() + 3_000;
    const script =
      "import { loadDevSecrets } from './lib/dev-secrets';" +
      'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.max(0, Number(process.argv[2]) - Date.now()));' +
      'process.stdout.write(JSON.stringify(loadDevSecrets(process.argv[1])));';
    const run = () =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(tsx, ['-e', script, dataDir, String(startAt)], { cwd: root });
        let output = '';
        let errors = '';
        child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
        child.once('error', reject);
        child.once('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`exit ${code}: ${errors}`))));
      });

    const outputs = await Promise.all([run(), run(), run(), run()]);

    const saved = JSON.parse(fs.readFileSync(path.join(dataDir, DEV_SECRETS_FILE), 'utf8')) as unknown;
    for (const output of outputs) expect(JSON.parse(output)).toEqual(saved);
    expect(fs.readdirSync(dataDir)).toEqual([DEV_SECRETS_FILE]);
  });
});

describe('payload encryption keys', () => {
  /** A key of 32 distinct bytes, one per `seed`: production refuses a placeholder of one byte repeated. */
  const keyOf = (seed: number) => Buffer.from(Array.from({ length: 32 }, (_, i) => (seed * 53 + i * 7) % 256));

  it('reads a keyring newest first, in base64 or base64url, and encrypts with its first key', () => {
    const config = development({
      PAYLOAD_KEYS: ` 2026-12=${keyOf(2).toString('base64')} , 2026-06=${keyOf(1).toString('base64url')}`,
    });

    expect(config.payloads.keys).toEqual([
      { id: '2026-12', key: keyOf(2) },
      { id: '2026-06', key: keyOf(1) },
    ]);
    expect(config.payloads.keyCacheTtlMs).toBe(30_000);
  });

  it('refuses, in production, a placeholder key of one byte repeated', () => {
    const placeholder = Buffer.alloc(32, 0).toString('base64');
    expect(problemsOf({ ...productionEnv, PAYLOAD_KEYS: `zero=${placeholder}` })).toContain(
      'PAYLOAD_KEYS: key zero is one byte repeated',
    );
    expect(() =>
      loadConfig({ ...productionEnv, APP_ENV: 'development', PAYLOAD_KEYS: `zero=${placeholder}` }),
    ).not.toThrow();
  });

  it('refuses an entry without an id, a key of the wrong length and an id given twice, naming the id but never the key', () => {
    const shortKey = Buffer.alloc(16, 3).toString('base64');
    const problems = [
      // A key pasted without its id: base64 of letters and digits only, ending in its '=' padding.
      problemsOf({ ...productionEnv, PAYLOAD_KEYS: `${Buffer.alloc(32, 1).toString('base64')}` }),
      problemsOf({ ...productionEnv, PAYLOAD_KEYS: `bad id!=${keyOf(1).toString('base64')}` }),
      problemsOf({ ...productionEnv, PAYLOAD_KEYS: `short=${shortKey}` }),
      problemsOf({
        ...productionEnv,
        PAYLOAD_KEYS: `k1=${keyOf(1).toString('base64')},k1=${keyOf(2).toString('base64')}`,
      }),
    ];

    expect(problems[0]).toMatch(/^PAYLOAD_KEYS: an entry has no key after its id/);
    expect(problems[1]).toMatch(/^PAYLOAD_KEYS: an entry has no valid id/);
    expect(problems[2]).toMatch(/^PAYLOAD_KEYS: key short is 16 bytes, not 32/);
    expect(problems[3]).toMatch(/^PAYLOAD_KEYS: key k1 appears twice/);
    expect(problems.join('\n')).not.toContain(shortKey);
    expect(problems.join('\n')).not.toContain(keyOf(1).toString('base64'));
  });

  it('production refuses to start without PAYLOAD_KEYS', () => {
    const withoutKeys: Record<string, string> = { ...productionEnv };
    delete withoutKeys.PAYLOAD_KEYS;

    expect(problemsOf(withoutKeys)).toMatch('PAYLOAD_KEYS: is required in production');
    expect(problemsOf({ ...productionEnv, PAYLOAD_KEYS: '' })).toMatch('PAYLOAD_KEYS: is required in production');
  });

  it('development generates one key into its secrets file, keeps it across restarts, and PAYLOAD_KEYS wins', () => {
    const dataDir = tempDataDir();

    const first = loadConfig({ APP_ENV: 'development', HOLDFAST_DATA_DIR: dataDir });
    const restarted = loadConfig({ APP_ENV: 'test', HOLDFAST_DATA_DIR: dataDir });
    const configured = loadConfig({
      APP_ENV: 'development',
      HOLDFAST_DATA_DIR: dataDir,
      PAYLOAD_KEYS: `mine=${keyOf(5).toString('base64')}`,
    });

    const saved = loadDevSecrets(dataDir).payloadKey;
    expect(first.payloads.keys).toEqual([{ id: 'dev', key: Buffer.from(saved, 'base64url') }]);
    expect(first.payloads.keys[0]!.key).toHaveLength(32);
    expect(restarted.payloads.keys).toEqual(first.payloads.keys);
    expect(configured.payloads.keys).toEqual([{ id: 'mine', key: keyOf(5) }]);
    expect(development().payloads.keys[0]!.key).not.toEqual(first.payloads.keys[0]!.key);
  });

  it('a secrets file written before payload encryption gets a payload key added and keeps its other secrets', () => {
    const dataDir = tempDataDir();
    const older = {
      jwtSecret: 'w'.repeat(40),
      offerTokenSecret: 'o'.repeat(40),
      invitationTokenSecret: 'i'.repeat(40),
      webhookSecretKey: 'k'.repeat(40),
    };
    fs.writeFileSync(path.join(dataDir, DEV_SECRETS_FILE), JSON.stringify(older));

    const config = loadConfig({ APP_ENV: 'development', HOLDFAST_DATA_DIR: dataDir });

    expect(loadDevSecrets(dataDir)).toMatchObject(older);
    expect(config.auth.jwtSecret).toBe(older.jwtSecret);
    expect(config.payloads.keys).toEqual([
      { id: 'dev', key: Buffer.from(loadDevSecrets(dataDir).payloadKey, 'base64url') },
    ]);
  });

  it('answers the codec server cross-origin only for the Web UI, under both loopback names outside production', () => {
    expect(development({ TEMPORAL_UI_URL: 'http://localhost:8233' }).payloads.codecCorsOrigins).toEqual([
      'http://localhost:8233',
      'http://127.0.0.1:8233',
    ]);
    expect(
      loadConfig({ ...productionEnv, TEMPORAL_UI_URL: 'https://temporal.example.com/' }).payloads.codecCorsOrigins,
    ).toEqual(['https://temporal.example.com']);
  });
});
