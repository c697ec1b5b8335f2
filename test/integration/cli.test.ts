import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { DIRECT_CONTENT } from '../../activities/notification-requests';
import { readableWorkflows } from '../../scripts/readable-workflows';
import { readTemporalBinaries } from '../../scripts/stack/temporal-binaries';
import {
  CLI_IDENTITY,
  cliArguments,
  cliEnvironment,
  SHIPPED_CONFIG_FILE,
  type CodecTokenOwner,
} from '../../scripts/temporal';
import { notificationWorkflowId } from '../../workflows/notification.contract';
import { useApiStack } from '../support/api-stack';
import { eventually } from '../support/eventually';

const root = path.resolve(__dirname, '../..');

/** `binary/encrypted` as the CLI prints metadata without the codec: protobuf JSON bytes, in base64. */
const ENCRYPTED_ENCODING = Buffer.from('binary/encrypted').toString('base64');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, stdin?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { cwd: root, env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    if (stdin !== undefined) child.stdin!.end(stdin);
  });
}

/** A payload's metadata as text: the CLI prints protobuf JSON, whose bytes are base64. */
function metadataOf(payload: { metadata: object }): Record<string, string> {
  return Object.fromEntries(
    Object.entries(payload.metadata).map(([key, value]) => [key, Buffer.from(value as string, 'base64').toString()]),
  );
}

/** A successful run's standard output; a failed one fails the test with what the CLI said. */
function succeeded(result: Run): string {
  if (result.code !== 0) throw new Error(`exit ${result.code}: ${result.stderr || result.stdout}`);
  return result.stdout;
}

/**
 * The Temporal CLI (the pinned binary, in its own process) as an operator runs it against Holdfast: the test
 * stack's Temporal server, and the API's codec server listening on loopback with a worker behind it.
 */
describe('the temporal CLI as a client, through the codec server (CLI binary, API, worker, PostgreSQL, Temporal)', () => {
  const stack = useApiStack({ worker: true, mail: 'memory', terminateOnStop: true });
  const cliPath = readTemporalBinaries().cliPath!;
  // No profile or TEMPORAL_* variable of the machine's reaches the CLI: only the flags each test passes.
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'holdfast-cli-'));
  const cliEnv = { PATH: process.env.PATH ?? '', HOME: home };
  let server: Server;
  let codecEndpoint: string;
  let apiPort: number;

  beforeAll(async () => {
    server = stack.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    apiPort = (server.address() as AddressInfo).port;
    codecEndpoint = `http://127.0.0.1:${apiPort}/codec`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(home, { recursive: true, force: true });
  });

  type Codec = { auth: string } | 'off';

  /** Runs the CLI on the test stack, decoding through the codec server with `codec.auth` unless it is off. */
  function temporal(args: string[], codec: Codec = { auth: stack.tokens.platformAdmin }): Promise<Run> {
    const connection = ['--address', stack.config.temporal.address, '--namespace', stack.config.temporal.namespace];
    const codecFlags = codec === 'off' ? [] : ['--codec-endpoint', codecEndpoint, '--codec-auth', codec.auth];
    return run(cliPath, [...args, ...connection, ...codecFlags], cliEnv);
  }

  /** A notification due in a day: its workflow waits, SCHEDULED, until then or until `sendNow`. */
  /** `workflow query` of a notification's state, as JSON. */
  const stateQuery = (workflowId: string) => [
    'workflow',
    'query',
    '--workflow-id',
    workflowId,
    '--type',
    'getNotificationState',
    '--output',
    'json',
  ];

  async function scheduledNotification(to = `${randomUUID().slice(0, 8)}@mail.test`) {
    const res = await request(stack.app)
      .post('/api/v1/notifications')
      .set('Authorization', stack.tokens.operator)
      .set('Idempotency-Key', randomUUID())
      .send({ channel: 'EMAIL', to, subject: 'Tomorrow', text: 'See you tomorrow.', delay: '24h' });
    expect(res.status).toBe(202);
    return { to, notificationId: res.body.notificationId as string, workflowId: res.body.workflowId as string };
  }

  it('workflow list by TenantId and FlowStatus finds the flow, and temporal:readable shows its search attributes', async () => {
    const { notificationId, workflowId } = await scheduledNotification();
    const query = `TenantId="${stack.tenant.id}" AND FlowStatus="SCHEDULED" AND BusinessKey="${notificationId}"`;

    // Visibility catches up with the start a moment later.
    const listed = await eventually(async () => {
      const output = succeeded(await temporal(['workflow', 'list', '--query', query, '--output', 'json']));
      return output.includes(workflowId) && output;
    });

    const formatted = succeeded(
      await run(process.execPath, ['--import', 'tsx', 'scripts/readable-workflows.ts'], cliEnv, listed),
    );
    expect(formatted.split('\n')).toEqual([
      workflowId,
      expect.stringMatching(/^ {2}notificationWorkflow {2}Running {2}started \d{4}-\d\d-\d\dT[\d:.]+Z$/),
      `  TenantId=${stack.tenant.id}  FlowStatus=SCHEDULED  BusinessKey=${notificationId}`,
      '',
    ]);
    // The raw output carries the attributes as encoded payloads only.
    expect(listed).not.toContain('"SCHEDULED"');
  });

  it('workflow query answers the flow’s state decrypted; without the codec the answer is ciphertext', async () => {
    const { notificationId, workflowId } = await scheduledNotification();
    const args = stateQuery(workflowId);

    const decoded = JSON.parse(succeeded(await temporal(args))) as { queryResult: unknown[] };
    const raw = succeeded(await temporal(args, 'off'));

    expect(decoded.queryResult).toEqual([
      expect.objectContaining({ tenantId: stack.tenant.id, notificationId, status: 'SCHEDULED', sentAt: null }),
    ]);
    expect(raw).toContain(ENCRYPTED_ENCODING);
    expect(raw).not.toContain(notificationId);
    expect(raw).not.toContain('SCHEDULED');
  });

  it('a tenant admin’s token decodes its own tenant’s payloads, and another tenant’s admin sees only ciphertext', async () => {
    const { workflowId } = await scheduledNotification();
    const args = stateQuery(workflowId);

    const own = JSON.parse(succeeded(await temporal(args, { auth: stack.tokens.admin }))) as { queryResult: unknown[] };
    const other = succeeded(await temporal(args, { auth: stack.tokens.otherAdmin }));

    expect(own.queryResult).toEqual([expect.objectContaining({ status: 'SCHEDULED' })]);
    expect(other).toContain(ENCRYPTED_ENCODING);
    expect(other).not.toContain('SCHEDULED');
  });

  it('workflow update execute sendNow sends a scheduled notification at once', async () => {
    const { to, notificationId, workflowId } = await scheduledNotification();

    const answer = JSON.parse(
      succeeded(
        await temporal([
          'workflow',
          'update',
          'execute',
          '--workflow-id',
          workflowId,
          '--name',
          'sendNow',
          '--input',
          '{"actor":"cli:test"}',
          '--output',
          'json',
        ]),
      ),
    ) as { result: Record<string, unknown> };

    expect(answer.result).toMatchObject({
      notificationId,
      scheduledFor: expect.any(String),
      sendAt: expect.any(String),
    });
    const row = await eventually(async () => {
      const found = await stack.prisma.notification.findUnique({ where: { id: notificationId } });
      return found?.status === 'SENT' && found;
    });
    expect(row.sentAt).not.toBeNull();
    expect(stack.mails.filter((mail) => mail.to === to)).toEqual([expect.objectContaining({ subject: 'Tomorrow' })]);
  });

  it('workflow start encodes its JSON input through the codec server, under the caller’s tenant, and the worker reads it', async () => {
    const to = `${randomUUID().slice(0, 8)}@mail.test`;
    const notificationId = randomUUID();
    const workflowId = notificationWorkflowId(stack.tenant.id, notificationId);
    await stack.prisma.notification.create({
      data: {
        id: notificationId,
        tenantId: stack.tenant.id,
        source: 'API',
        channel: 'EMAIL',
        recipient: to,
        template: DIRECT_CONTENT,
        idempotencyKey: `cli-test:${notificationId}`,
        subject: 'Started from the CLI',
        text: 'Hello.',
        workflowId,
      },
    });
    const input = { tenantId: stack.tenant.id, notificationId, priority: 3, channel: 'EMAIL' };

    succeeded(
      await temporal(
        [
          'workflow',
          'start',
          '--type',
          'notificationWorkflow',
          '--task-queue',
          stack.config.temporal.taskQueue,
          '--workflow-id',
          workflowId,
          '--input',
          JSON.stringify(input),
          '--search-attribute',
          `TenantId="${stack.tenant.id}"`,
          '--search-attribute',
          `BusinessKey="${notificationId}"`,
          '--search-attribute',
          'FlowStatus="PENDING"',
        ],
        { auth: stack.tokens.admin },
      ),
    );

    await eventually(() => stack.mails.some((mail) => mail.to === to && mail.subject === 'Started from the CLI'));
    const history = JSON.parse(
      succeeded(await temporal(['workflow', 'show', '--workflow-id', workflowId, '--output', 'json'], 'off')),
    ) as {
      events: Array<{ workflowExecutionStartedEventAttributes?: { input: { payloads: Array<{ metadata: object }> } } }>;
    };
    const [startInput] = history.events[0]!.workflowExecutionStartedEventAttributes!.input.payloads;
    expect(metadataOf(startInput!)).toMatchObject({
      encoding: 'binary/encrypted',
      'encryption-scope': `tenant/${stack.tenant.id}`,
    });
  });

  it('the CLI takes the codec endpoint from a `temporal config` profile', async () => {
    const { workflowId } = await scheduledNotification();
    const configFile = path.join(home, 'temporal.toml');
    fs.writeFileSync(
      configFile,
      [
        '[profile.stack]',
        `address = "${stack.config.temporal.address}"`,
        `namespace = "${stack.config.temporal.namespace}"`,
        '[profile.stack.codec]',
        `endpoint = "${codecEndpoint}"`,
        '',
      ].join('\n'),
    );

    const output = succeeded(
      await run(cliPath, [...stateQuery(workflowId), '--config-file', configFile, '--profile', 'stack'], {
        ...cliEnv,
        TEMPORAL_CODEC_AUTH: stack.tokens.platformAdmin,
      }),
    );

    expect(JSON.parse(output)).toEqual({ queryResult: [expect.objectContaining({ status: 'SCHEDULED' })] });
  });

  /** A paused Schedule of the platform's cleanup whose memo (`purpose`) is encrypted like every payload. */
  async function createPausedSchedule(purpose: string): Promise<string> {
    const scheduleId = `cli-test:${randomUUID()}`;
    await stack.client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: '1 day' }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'dailyCleanupWorkflow',
        taskQueue: stack.config.temporal.taskQueue,
        workflowId: `cli-test:${randomUUID()}`,
      },
      memo: { purpose },
      state: { paused: true },
    });
    return scheduleId;
  }

  it('schedule describe decodes a Schedule’s encrypted payloads', async () => {
    const scheduleId = await createPausedSchedule('cli test');
    const purpose = async (codec?: Codec) => {
      const args = ['schedule', 'describe', '--schedule-id', scheduleId, '--output', 'json'];
      const described = JSON.parse(succeeded(await temporal(args, codec))) as {
        memo: { fields: { purpose: { metadata: { encoding: string }; data: string } } };
      };
      const { metadata, data } = described.memo.fields.purpose;
      return { encoding: Buffer.from(metadata.encoding, 'base64').toString(), data: Buffer.from(data, 'base64') };
    };
    try {
      const decoded = await purpose();
      const raw = await purpose('off');

      expect(decoded.encoding).toBe('json/plain');
      expect(JSON.parse(decoded.data.toString())).toBe('cli test');
      expect(raw.encoding).toBe('binary/encrypted');
      expect(raw.data.toString()).not.toContain('cli test');
    } finally {
      await stack.client.schedule.getHandle(scheduleId).delete();
    }
  });

  describe('npm run temporal (scripts/temporal.ts)', () => {
    /** The wrapper in its own process, in development, pointed at the test stack as `npm run dev`'s ports would. */
    function wrapper(args: string[], env: Record<string, string> = {}): Promise<Run> {
      return run(process.execPath, ['--import', 'tsx', 'scripts/temporal.ts', ...args], {
        ...cliEnv,
        HOLDFAST_DATA_DIR: home,
        JWT_SECRET: stack.config.auth.jwtSecret!,
        DEV_TEMPORAL_PORT: stack.config.temporal.address.split(':').at(-1)!,
        API_PORT: String(apiPort),
        ...env,
      });
    }

    it('decodes a tenant’s flow with a token it signs itself, and never prints the token', async () => {
      const { notificationId, workflowId } = await scheduledNotification();
      const args = ['workflow', 'query', '--workflow-id', workflowId, '--type', 'getNotificationState', '-o', 'json'];

      const result = await wrapper(args);

      expect(JSON.parse(succeeded(result))).toEqual({
        queryResult: [expect.objectContaining({ notificationId, status: 'SCHEDULED' })],
      });
      expect(`${result.stdout}${result.stderr}`).not.toMatch(/eyJ[\w-]+\.[\w-]+/);
    });

    it('workflow describe -o json through temporal:readable shows the flow’s summary, decoded with its tenant’s token', async () => {
      const { workflowId } = await scheduledNotification();
      const summary = await (await stack.client.workflow.getHandle(workflowId).describe()).staticSummary();
      const readable = async (env: Record<string, string> = {}) => {
        const described = succeeded(await wrapper(['workflow', 'describe', '-w', workflowId, '-o', 'json'], env));
        return succeeded(
          await run(process.execPath, ['--import', 'tsx', 'scripts/readable-workflows.ts'], cliEnv, described),
        ).split('\n');
      };

      const decoded = await readable();
      const raw = await readable({ HOLDFAST_CODEC: 'off' });

      expect(summary).toMatch(/^Notification .+ by email at /);
      expect(decoded).toContain(`  summary: ${summary}`);
      expect(raw).toContain('  summary: (encrypted)');
    });

    it('sends an Update to a tenant’s workflow encrypted under that tenant’s key, as holdfast-cli', async () => {
      const { workflowId } = await scheduledNotification();

      const answer = JSON.parse(
        succeeded(
          await wrapper([
            'workflow',
            'update',
            'execute',
            '-w',
            workflowId,
            '--name',
            'cancelNotification',
            '--input',
            '{"actor":"cli:test"}',
            '-o',
            'json',
          ]),
        ),
      ) as { result: unknown };

      // The result is decoded with the tenant's own token.
      expect(answer.result).toEqual({ status: 'CANCELLED' });
      const history = JSON.parse(
        succeeded(await wrapper(['workflow', 'show', '-w', workflowId, '-o', 'json'], { HOLDFAST_CODEC: 'off' })),
      ) as {
        events: Array<{
          workflowExecutionUpdateAcceptedEventAttributes?: {
            acceptedRequest: {
              meta: { identity: string };
              input: { name: string; args: { payloads: Array<{ metadata: object }> } };
            };
          };
        }>;
      };
      const accepted = history.events.flatMap((event) =>
        event.workflowExecutionUpdateAcceptedEventAttributes
          ? [event.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest]
          : [],
      );
      expect(accepted).toHaveLength(1);
      expect(accepted[0]!.input.name).toBe('cancelNotification');
      expect(accepted[0]!.meta.identity).toBe(CLI_IDENTITY);
      expect(accepted[0]!.input.args.payloads.map(metadataOf)).toEqual([
        expect.objectContaining({ encoding: 'binary/encrypted', 'encryption-scope': `tenant/${stack.tenant.id}` }),
      ]);
    });

    it('decodes what names no workflow with a platform-admin token: a Schedule’s memo', async () => {
      const scheduleId = await createPausedSchedule('wrapper test');
      try {
        const described = JSON.parse(
          succeeded(await wrapper(['schedule', 'describe', '--schedule-id', scheduleId, '-o', 'json'])),
        ) as { memo: { fields: { purpose: { metadata: { encoding: string }; data: string } } } };

        const { metadata, data } = described.memo.fields.purpose;
        expect(Buffer.from(metadata.encoding, 'base64').toString()).toBe('json/plain');
        expect(JSON.parse(Buffer.from(data, 'base64').toString())).toBe('wrapper test');
      } finally {
        await stack.client.schedule.getHandle(scheduleId).delete();
      }
    });

    it('HOLDFAST_CODEC=off shows the ciphertext Temporal stores', async () => {
      const { notificationId, workflowId } = await scheduledNotification();

      const output = succeeded(
        await wrapper(['workflow', 'show', '--workflow-id', workflowId, '-o', 'json'], { HOLDFAST_CODEC: 'off' }),
      );

      expect(output).toContain(ENCRYPTED_ENCODING);
      expect(output).not.toContain(`"notificationId":"${notificationId}"`);
    });
  });
});

describe('the CLI environment of npm run temporal', () => {
  const sign = jest.fn<Promise<string>, [NodeJS.ProcessEnv, CodecTokenOwner]>(
    async () => 'Bearer signed-for-the-dev-stack',
  );

  beforeEach(() => sign.mockClear());

  it('uses the shipped profiles, the dev profile by default, with the codec token it signs', async () => {
    const { env, warnings } = await cliEnvironment(['workflow', 'list'], { PATH: '/bin' }, sign);

    expect(env).toMatchObject({
      TEMPORAL_CONFIG_FILE: SHIPPED_CONFIG_FILE,
      TEMPORAL_PROFILE: 'dev',
      TEMPORAL_CODEC_AUTH: 'Bearer signed-for-the-dev-stack',
    });
    // The profile names the default ports; nothing overrides it.
    expect(env.TEMPORAL_ADDRESS).toBeUndefined();
    expect(env.TEMPORAL_CODEC_ENDPOINT).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it('signs an operator token of the tenant whose workflow a command sends payloads to, and a platform-admin token otherwise', async () => {
    const ownerOf = async (args: string[]) => {
      sign.mockClear();
      await cliEnvironment(args, {}, sign);
      return sign.mock.calls[0]![1];
    };
    const operatorOf = (tenantId: string) => ({ tenantId, roles: ['operator'] });
    const platformAdmin = { tenantId: 'platform', roles: ['platform-admin'] };

    expect(await ownerOf(['workflow', 'signal', '-w', 'order:t1:o1', '--name', 'paymentReceived'])).toEqual(
      operatorOf('t1'),
    );
    expect(await ownerOf(['workflow', 'update', 'execute', '--workflow-id=waitlist:t2:s1', '--name', 'x'])).toEqual(
      operatorOf('t2'),
    );
    expect(await ownerOf(['workflow', 'signal-with-start', '-wnotification:t3:n1'])).toEqual(operatorOf('t3'));
    // Reading keeps the platform-admin token: it decodes any tenant's flow, a suspended tenant's too.
    expect(await ownerOf(['workflow', 'describe', '-w', 'notification:t3:n1'])).toEqual(platformAdmin);
    expect(await ownerOf(['workflow', 'query', '-w', 'order:t1:o1', '--type', 'getOrderState'])).toEqual(platformAdmin);
    expect(await ownerOf(['--profile', 'dev', 'workflow', 'start', '--workflow-id', 'reminder:t4:r1'])).toEqual(
      operatorOf('t4'),
    );
    expect(await ownerOf(['activity', 'complete', '-w=export:t5:e1', '--activity-id', '1'])).toEqual(operatorOf('t5'));
    // An onboarding is the platform's, and so are commands that name no workflow or one of the platform's.
    expect(await ownerOf(['workflow', 'update', 'execute', '-w', 'tenant-onboarding:acme', '--name', 'x'])).toEqual(
      platformAdmin,
    );
    expect(await ownerOf(['workflow', 'list', '--query', 'TenantId="t1"'])).toEqual(platformAdmin);
    expect(await ownerOf(['workflow', 'result', '-w', 'cleanup:daily-2026-12-02T03:00:00Z'])).toEqual(platformAdmin);
    expect(await ownerOf(['schedule', 'trigger', '--schedule-id', 'report-schedule:t1:r1'])).toEqual(platformAdmin);
    expect(await ownerOf(['workflow', 'signal', '--query', 'TenantId="t1"', '--name', 'x'])).toEqual(platformAdmin);
  });

  it('runs the commands that record an identity as holdfast-cli, unless one is given', () => {
    expect(cliArguments(['workflow', 'signal', '-w', 'order:t1:o1'])).toEqual([
      '--identity',
      CLI_IDENTITY,
      'workflow',
      'signal',
      '-w',
      'order:t1:o1',
    ]);
    for (const command of ['schedule', 'batch', 'activity']) {
      expect(cliArguments([command, 'list'])).toEqual(['--identity', CLI_IDENTITY, command, 'list']);
    }
    expect(cliArguments(['--profile', 'compose', 'workflow', 'list'])[1]).toBe(CLI_IDENTITY);
    expect(cliArguments(['workflow', 'start', '--identity', 'ops-team'])).toEqual([
      'workflow',
      'start',
      '--identity',
      'ops-team',
    ]);
    expect(cliArguments(['workflow', 'start', '--identity=ops-team'])).toEqual([
      'workflow',
      'start',
      '--identity=ops-team',
    ]);
    expect(cliArguments(['config', 'list'])).toEqual(['config', 'list']);
    expect(cliArguments(['server', 'start-dev'])).toEqual(['server', 'start-dev']);
  });

  it('follows npm run dev to other ports', async () => {
    const { env } = await cliEnvironment([], { DEV_TEMPORAL_PORT: '7300', API_PORT: '3300' }, sign);

    expect(env).toMatchObject({
      TEMPORAL_ADDRESS: '127.0.0.1:7300',
      TEMPORAL_CODEC_ENDPOINT: 'http://127.0.0.1:3300/codec',
    });
  });

  it('leaves explicit settings alone and signs no token for a codec server someone else named', async () => {
    const given = await cliEnvironment([], { TEMPORAL_CODEC_AUTH: 'Bearer mine', API_PORT: '3300' }, sign);
    const flag = await cliEnvironment(['--codec-auth', 'Bearer mine', 'workflow', 'list'], {}, sign);
    const endpoint = await cliEnvironment(['--codec-endpoint=https://codec.example.com/codec'], {}, sign);

    expect(given.env.TEMPORAL_CODEC_AUTH).toBe('Bearer mine');
    expect(flag.env.TEMPORAL_CODEC_AUTH).toBeUndefined();
    expect(endpoint.env.TEMPORAL_CODEC_AUTH).toBeUndefined();
    expect(sign).not.toHaveBeenCalled();
  });

  it('signs tokens in development only, and for the dev profile only', async () => {
    const production = await cliEnvironment([], { APP_ENV: 'production' }, sign);
    const compose = await cliEnvironment([], { TEMPORAL_PROFILE: 'compose', DEV_TEMPORAL_PORT: '7300' }, sign);
    const composeFlag = await cliEnvironment(['--profile', 'compose'], {}, sign);

    for (const { env } of [production, compose, composeFlag]) expect(env.TEMPORAL_CODEC_AUTH).toBeUndefined();
    expect(compose.env.TEMPORAL_ADDRESS).toBeUndefined();
    expect(sign).not.toHaveBeenCalled();
  });

  it('HOLDFAST_CODEC=off turns the profile’s codec off and drops any codec token', async () => {
    const { env } = await cliEnvironment([], { HOLDFAST_CODEC: 'off', TEMPORAL_CODEC_AUTH: 'Bearer mine' }, sign);

    expect(env.TEMPORAL_CODEC_ENDPOINT).toBe('');
    expect(env.TEMPORAL_CODEC_AUTH).toBeUndefined();
    expect(sign).not.toHaveBeenCalled();
  });

  it('warns, without failing, when it cannot sign a token', async () => {
    const { env, warnings } = await cliEnvironment([], {}, () => Promise.reject(new Error('no JWT_SECRET')));

    expect(env.TEMPORAL_CODEC_AUTH).toBeUndefined();
    expect(warnings).toEqual([expect.stringContaining('no JWT_SECRET')]);
  });
});

describe('the shipped temporal config profiles (deploy/temporal/temporal.toml)', () => {
  const cliPath = readTemporalBinaries().cliPath!;
  const profile = async (name: string) =>
    JSON.parse(
      succeeded(
        await run(cliPath, ['config', 'get', '--config-file', SHIPPED_CONFIG_FILE, '--profile', name, '-o', 'json'], {
          PATH: process.env.PATH ?? '',
        }),
      ),
    ) as unknown;

  it('name the dev stack’s and the compose stack’s Temporal server and codec server, and no credentials', async () => {
    expect(await profile('dev')).toEqual({
      address: '127.0.0.1:7233',
      namespace: 'default',
      codec: { endpoint: 'http://127.0.0.1:3000/codec' },
    });
    // docker-compose.yml publishes the frontend on the host's 127.0.0.1:7233 and the API on port 3000.
    expect(await profile('compose')).toEqual({
      address: '127.0.0.1:7233',
      namespace: 'default',
      codec: { endpoint: 'http://localhost:3000/codec' },
    });
  });
});

describe('temporal:readable (scripts/readable-workflows.ts)', () => {
  const payload = (value: unknown, type = 'Keyword') => ({
    metadata: {
      encoding: Buffer.from('json/plain').toString('base64'),
      type: Buffer.from(type).toString('base64'),
    },
    data: Buffer.from(JSON.stringify(value)).toString('base64'),
  });
  const execution = {
    execution: { workflowId: 'order:t1:o1', runId: 'r1' },
    type: { name: 'orderRoutingWorkflow' },
    startTime: '2026-12-02T10:00:00.123456Z',
    closeTime: '2026-12-02T10:05:00Z',
    status: 'WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW',
    searchAttributes: {
      indexedFields: {
        BuildIds: payload(['unversioned'], 'KeywordList'),
        BusinessKey: payload('o1'),
        FlowStatus: payload('ROUTING'),
        TenantId: payload('t1'),
      },
    },
  };

  it('reads workflow list -o json, -o jsonl and concatenated describe -o json alike', () => {
    const describe = {
      executionConfig: {
        userMetadata: { summary: 'Order ORD-1 for retailer r1' },
      },
      workflowExecutionInfo: execution,
    };
    const expected = {
      workflowId: 'order:t1:o1',
      runId: 'r1',
      type: 'orderRoutingWorkflow',
      status: 'ContinuedAsNew',
      startTime: '2026-12-02T10:00:00.123Z',
      closeTime: '2026-12-02T10:05:00.000Z',
      searchAttributes: { TenantId: 't1', FlowStatus: 'ROUTING', BusinessKey: 'o1' },
    };

    expect(readableWorkflows(JSON.stringify([execution, execution], null, 2))).toEqual([expected, expected]);
    expect(readableWorkflows(`${JSON.stringify(execution)}\n${JSON.stringify(execution)}\n`)).toHaveLength(2);
    expect(readableWorkflows(`${JSON.stringify(describe, null, 2)}\n${JSON.stringify(describe, null, 2)}`)).toEqual([
      { ...expected, summary: 'Order ORD-1 for retailer r1' },
      { ...expected, summary: 'Order ORD-1 for retailer r1' },
    ]);
    expect(readableWorkflows(JSON.stringify(execution), { allAttributes: true })[0]!.searchAttributes).toEqual({
      TenantId: 't1',
      FlowStatus: 'ROUTING',
      BusinessKey: 'o1',
      BuildIds: ['unversioned'],
    });
  });

  it('shows a summary it could not decrypt as (encrypted), and refuses input that is not a workflow', () => {
    const encrypted = {
      metadata: { encoding: Buffer.from('binary/encrypted').toString('base64') },
      data: 'AAAA',
    };
    const [workflow] = readableWorkflows(
      JSON.stringify({ executionConfig: { userMetadata: { summary: encrypted } }, workflowExecutionInfo: execution }),
    );

    expect(workflow!.summary).toBe('(encrypted)');
    expect(() => readableWorkflows('{"queryResult":[]}')).toThrow(/not a workflow/);
    expect(() => readableWorkflows('Error: context deadline exceeded')).toThrow(/expected a JSON object/);
  });
});
