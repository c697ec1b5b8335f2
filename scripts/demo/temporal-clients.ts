import { spawn } from 'node:child_process';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { loadConfigOrExit } from '../../lib/config';
import { signDevToken } from '../../lib/dev-token';
import {
  answer,
  anything,
  check,
  conforming,
  demoTenantId,
  expectAnswer,
  http,
  note,
  poll,
  show,
  stamp,
  step,
  StepFailed,
  temporalQuery,
  withId,
  withStatus,
  type DemoTokens,
} from './tour';

const root = path.resolve(__dirname, '..', '..');

/** How long one run of the CLI or the formatter may take before the step fails. */
const CLI_TIMEOUT_MS = 60_000;

/** One payload as the CLI prints it without a codec, and as the codec server takes and answers it. */
const payloadJson = z.object({ metadata: z.record(z.string(), z.string()), data: z.string().optional() });
const payloads = z.object({ payloads: z.array(payloadJson).min(1) });
type Payloads = z.infer<typeof payloads>;

/** The first event of a history as `workflow show -o json` prints it, with the start's input. */
const historyStart = z.object({
  events: z.tuple([z.object({ workflowExecutionStartedEventAttributes: z.object({ input: payloads }) })], z.unknown()),
});

const fromBase64 = (text: string | undefined) => Buffer.from(text ?? '', 'base64').toString('utf8');

/**
 * Runs one of the repository's scripts as `npm run -s <script> -- …` does, with `input` on its stdin, and answers
 * its stdout; a non-zero exit fails the step with the first lines of its stderr.
 */
function runScript(
  script: 'temporal.ts' | 'readable-workflows.ts',
  args: string[],
  options: { codec?: 'off'; input?: string } = {},
): Promise<string> {
  // The walk-through's own HOLDFAST_CODEC decides, not whatever the shell that started the demo had set.
  const env: NodeJS.ProcessEnv = { ...process.env, HOLDFAST_CODEC: options.codec ?? 'on' };
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['tsx', path.join(root, 'scripts', script), ...args], {
      cwd: root,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: CLI_TIMEOUT_MS,
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (error) => reject(new StepFailed(`cannot run scripts/${script}: ${error.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) {
        resolve(Buffer.concat(stdout).toString('utf8'));
        return;
      }
      const reason = Buffer.concat(stderr).toString('utf8').trim().split('\n').slice(0, 3).join(' ');
      reject(new StepFailed(`scripts/${script} ${args.join(' ')} exited with ${code ?? signal}: ${reason}`));
    });
    child.stdin.end(options.input ?? '');
  });
}

/** A payload in the CLI's JSON output of a history: its metadata names its encoding. */
const storedPayload = z.object({
  metadata: z.object({ encoding: z.string() }).catchall(z.string()),
  data: z.string().optional(),
});
type StoredPayload = z.infer<typeof storedPayload>;

/**
 * Where a payload stays in clear by design (docs/encryption.md): Temporal must read it itself (a search
 * attribute), or the SDK's core writes it past the codec (a patch's ID, a local activity's call description).
 */
type ClearByDesign = 'search attribute' | 'patch marker' | 'local activity call';

/** Every payload anywhere in the CLI's JSON output of a history, and why it is in clear if it is by design. */
function payloadsIn(
  value: unknown,
  clearByDesign?: ClearByDesign,
  found: { payload: StoredPayload; clearByDesign?: ClearByDesign }[] = [],
): { payload: StoredPayload; clearByDesign?: ClearByDesign }[] {
  if (Array.isArray(value)) {
    value.forEach((item) => payloadsIn(item, clearByDesign, found));
  } else if (typeof value === 'object' && value !== null) {
    const parsed = storedPayload.safeParse(value);
    if (parsed.success) found.push({ payload: parsed.data, clearByDesign });
    else {
      // A local activity's marker: `details.data` describes the call; its `result` is encrypted like any payload.
      const localActivityCall = (value as { markerName?: unknown }).markerName === 'core_local_activity';
      for (const [key, item] of Object.entries(value)) {
        const here: ClearByDesign | undefined =
          key === 'searchAttributes' ? 'search attribute' : key === 'patch-data' ? 'patch marker' : undefined;
        if (localActivityCall && key === 'details' && typeof item === 'object' && item !== null) {
          const { data, ...rest } = item as Record<string, unknown>;
          payloadsIn(data, clearByDesign ?? 'local activity call', found);
          payloadsIn(rest, clearByDesign, found);
        } else payloadsIn(item, clearByDesign ?? here, found);
      }
    }
  }
  return found;
}

/** The first payload's data, decoded from base64 and parsed as JSON; `undefined` when it is not JSON. */
function firstPayloadValue(answered: Payloads): unknown {
  try {
    return JSON.parse(fromBase64(answered.payloads[0]!.data)) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The README's "In Temporal's own clients": a waitlist cascade of the demo tenant, found through the API, read
 * with Temporal's own CLI (`npm run temporal`, through the API's codec server): described with readable search
 * attributes, its state queried; its history as Temporal stores it (HOLDFAST_CODEC=off) is ciphertext under the
 * demo tenant's key with no name or address in clear; the codec server decrypts it for the demo tenant's admin
 * and a platform admin, refuses a member, and hands another tenant's admin the ciphertext unchanged. Every run
 * makes its own slot and second tenant, so it passes alone and any number of times on the same stack.
 */
export async function temporalClientsTour({ tenant, platform }: DemoTokens): Promise<void> {
  // The same secrets as the running `npm run dev`, for the tokens the README's tour does not define.
  const config = loadConfigOrExit({ ...process.env, APP_ENV: 'development' });
  const customerName = 'Katherine Johnson';
  const email = `katherine.${stamp}@example.test`;

  step('temporal clients: a cascade to look at: a slot with one person waiting, released');
  const slot = await expectAnswer(
    { method: 'POST', path: '/api/v1/slots', token: tenant, body: { name: `Observatory, Friday 21:00 (${stamp})` } },
    [201],
    withId,
  );
  await expectAnswer(
    { method: 'POST', path: `/api/v1/slots/${slot.id}/waitlist`, token: tenant, body: { customerName, email } },
    [201],
    anything,
  );
  const released = await expectAnswer(
    { method: 'POST', path: `/api/v1/slots/${slot.id}/release`, token: tenant },
    [202],
    z.object({ workflowId: z.string() }),
  );

  step('temporal clients: the newest waitlist cascade, found through the API');
  // The README's query, narrowed to this run's slot so that another client's release cannot come first.
  const listing = await poll(
    'the cascade did not show in the waitlist workflows',
    (quiet) =>
      answer(
        { path: `/api/v1/workflows?type=waitlist&businessKey=${slot.id}&pageSize=1`, token: tenant },
        z.object({ workflows: z.array(z.object({ workflowId: z.string() })) }),
        quiet,
      ),
    (found) => found.workflows[0]?.workflowId === released.workflowId,
  );
  const workflowId = listing.workflows[0]!.workflowId;
  note(`WF=${workflowId}`);

  step('temporal clients: the CLI describes it with its summary and readable search attributes');
  const describeArgs = ['workflow', 'describe', '-w', workflowId, '-o', 'json'];
  const readable = await poll(
    'the cascade did not reach FlowStatus=OFFERING',
    async (quiet) => {
      if (!quiet) show(`npm run -s temporal -- workflow describe -w "$WF" -o json | npm run -s temporal:readable`);
      return runScript('readable-workflows.ts', [], { input: await runScript('temporal.ts', describeArgs) });
    },
    (text) => text.includes('FlowStatus=OFFERING'),
  );
  for (const line of readable.trimEnd().split('\n')) process.stdout.write(`  ${line}\n`);
  const summary = readable.split('\n').find((line) => line.trim().startsWith('summary: '));
  check(summary, 'the description has no summary line');
  check(!summary.includes('(encrypted)'), `the CLI did not decode the summary through the codec server: ${summary}`);
  check(readable.includes(`TenantId=${demoTenantId}`), `the description does not show TenantId=${demoTenantId}`);
  check(readable.includes(`BusinessKey=${slot.id}`), `the description does not show BusinessKey=${slot.id}`);
  check(
    !readable.includes(customerName) && !readable.includes(email),
    'the summary or search attributes name the person waiting',
  );

  step('temporal clients: its state, queried through the CLI and decoded by the codec server');
  const state = conforming(
    withStatus.extend({ round: z.number().optional() }),
    await temporalQuery(workflowId, 'getCascadeState', false),
  );
  note(JSON.stringify({ status: state.status, round: state.round }));

  step('temporal clients: the history as Temporal stores it (HOLDFAST_CODEC=off): ciphertext under the demo key');
  show(
    `INPUT=$(HOLDFAST_CODEC=off npm run -s temporal -- workflow show -w "$WF" -o json | jq -c '.events[0].workflowExecutionStartedEventAttributes.input')`,
  );
  const rawHistory = await runScript('temporal.ts', ['workflow', 'show', '-w', workflowId, '-o', 'json'], {
    codec: 'off',
  });
  let history: unknown;
  try {
    history = JSON.parse(rawHistory);
  } catch {
    throw new StepFailed(`workflow show -o json did not print JSON: ${rawHistory.slice(0, 200)}`);
  }
  const start = historyStart.safeParse(history);
  check(start.success, 'the history does not begin with a start event that has an input');
  const input = start.data.events[0].workflowExecutionStartedEventAttributes.input;
  show(`echo "$INPUT" | jq -c '.payloads[0].metadata | map_values(@base64d)'`);
  const metadata = Object.fromEntries(
    Object.entries(input.payloads[0]!.metadata).map(([key, value]) => [key, fromBase64(value)]),
  );
  note(JSON.stringify(metadata));
  check(metadata.encoding === 'binary/encrypted', `the start input is stored as ${metadata.encoding}, not encrypted`);
  check(
    metadata['encryption-scope'] === `tenant/${demoTenantId}`,
    `the start input is encrypted under ${metadata['encryption-scope']}, not tenant/${demoTenantId}`,
  );
  const stored = payloadsIn(history);
  const plain = stored.filter(
    ({ payload, clearByDesign }) => !clearByDesign && fromBase64(payload.metadata.encoding) !== 'binary/encrypted',
  );
  check(
    plain.length === 0,
    `${plain.length} payload(s) besides search attributes, patch markers and local activity calls are not encrypted: ` +
      plain.map(({ payload }) => fromBase64(payload.metadata.encoding)).join(', '),
  );
  const inClear = [rawHistory, ...stored.map(({ payload }) => fromBase64(payload.data))].filter(
    (text) => text.includes(customerName) || text.includes(email),
  );
  check(inClear.length === 0, 'the raw history holds the name or address of the person waiting in clear');
  const searchAttributes = stored.filter(({ clearByDesign }) => clearByDesign === 'search attribute').length;
  const patchMarkers = stored.filter(({ clearByDesign }) => clearByDesign === 'patch marker').length;
  const localCalls = stored.filter(({ clearByDesign }) => clearByDesign === 'local activity call').length;
  note(
    `${stored.length} payloads in the history: ${stored.length - searchAttributes - patchMarkers - localCalls} encrypted, ` +
      `${searchAttributes} search attribute values, ${patchMarkers} patch ID(s), ${localCalls} local activity call(s); ` +
      'no name or address in any',
  );

  const decodeCall = (token: DemoTokens['tenant']) => ({
    method: 'POST' as const,
    path: '/codec/decode',
    token,
    headers: { 'X-Namespace': config.temporal.namespace },
    body: input,
    bodyShownAs: '"$INPUT"',
  });
  const expectedInput = { tenantId: demoTenantId, slotId: slot.id };

  step('temporal clients: the codec server decrypts it for the demo tenant’s admin');
  const decoded = await expectAnswer(decodeCall(tenant), [200], payloads);
  note(fromBase64(decoded.payloads[0]!.data));
  check(
    isDeepStrictEqual(firstPayloadValue(decoded), expectedInput),
    `expected the start input ${JSON.stringify(expectedInput)}, got ${fromBase64(decoded.payloads[0]!.data)}`,
  );

  step('temporal clients: a platform admin decodes every tenant’s payloads');
  const decodedForPlatform = await expectAnswer(decodeCall(platform), [200], payloads);
  note(fromBase64(decodedForPlatform.payloads[0]!.data));
  check(
    isDeepStrictEqual(firstPayloadValue(decodedForPlatform), expectedInput),
    `expected the start input for the platform admin, got ${fromBase64(decodedForPlatform.payloads[0]!.data)}`,
  );

  step('temporal clients: a member of the demo tenant may not use the codec server');
  show(`MEMBER=$(npm run -s token -- --tenant ${demoTenantId} --role member)`);
  const member = {
    value: await signDevToken(config.auth, { tenantId: demoTenantId, roles: ['member'] }),
    shownAs: 'MEMBER',
  };
  const refused = await http(decodeCall(member));
  check(
    refused.status === 403 && JSON.stringify(refused.body).includes('"FORBIDDEN"'),
    `expected HTTP 403 FORBIDDEN, got ${refused.status}: ${JSON.stringify(refused.body)}`,
  );
  note(`403 ${JSON.stringify(refused.body)}`);

  step('temporal clients: another tenant’s admin gets the demo tenant’s ciphertext back unchanged');
  const slug = `clients-${stamp}`;
  const onboarded = await expectAnswer(
    {
      method: 'POST',
      path: '/api/v1/tenants',
      token: platform,
      body: {
        organizationName: `Other Clinic ${stamp}`,
        slug,
        adminEmail: `admin.${stamp}@other.example.test`,
        adminName: 'Dorothy',
        tier: 'professional',
      },
    },
    [202],
    z.object({ tenantId: z.string() }),
  );
  await poll(
    `the tenant ${slug} did not become ACTIVE`,
    (quiet) => answer({ path: `/api/v1/tenants/${slug}/onboarding`, token: platform }, withStatus, quiet),
    (progress) => progress.status === 'ACTIVE',
    90_000,
  );
  show(`OTHER=$(npm run -s token -- --tenant ${slug} --role tenant-admin)`);
  const other = {
    value: await signDevToken(config.auth, { tenantId: onboarded.tenantId, roles: ['tenant-admin'] }),
    shownAs: 'OTHER',
  };
  const withheld = await expectAnswer(decodeCall(other), [200], payloads);
  check(
    isDeepStrictEqual(withheld.payloads, input.payloads),
    `another tenant's admin got something other than the ciphertext: ${fromBase64(withheld.payloads[0]!.data).slice(0, 80)}`,
  );
  note('the same binary/encrypted payload as Temporal stores it');

  step('temporal clients: cancel the cascade through the workflows API');
  const cascadePath = `/api/v1/workflows/${encodeURIComponent(workflowId)}`;
  await expectAnswer(
    {
      method: 'POST',
      path: `${cascadePath}/cancel`,
      token: tenant,
      body: { reason: `temporal clients demo ${stamp}` },
    },
    [200, 202],
    anything,
  );
  await poll(
    'the cascade did not close',
    (quiet) => answer({ path: cascadePath, token: tenant }, withStatus, quiet),
    (workflow) => workflow.status !== 'running',
  );
}
