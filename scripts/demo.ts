import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { PLATFORM_TENANT_ID } from '../api/auth';
import { loadConfigOrExit } from '../lib/config';
import { signDevToken } from '../lib/dev-token';
import { orderReference } from '../domain/order-messages';

/**
 * `npm run demo [-- waitlist|orders|onboarding]`: the README's tour, run against a running `npm run dev`.
 *
 * Each step prints the command a person would type (curl, `npm run token`, `npm run temporal`), runs its
 * equivalent, and checks that the flow reached the expected state. Every run uses fresh data (slot names,
 * e-mail addresses, Idempotency-Keys, tenant slugs), so it passes any number of times on the same stack. It
 * waits for messages with the dev outbox's `since` and `wait`, never a fixed sleep. The first step that does
 * not reach its state stops the run with exit code 1 and names the step.
 */

const apiUrl = (process.env.DEMO_API_URL ?? 'http://localhost:3000').replace(/\/$/, '');
const shownApi = apiUrl.replace(/^https?:\/\//, '');
const root = path.resolve(__dirname, '..');
const run = promisify(execFile);

/** A unique suffix per run, so that names, addresses and slugs never meet an earlier run's. */
const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;

const demoTenantId = 'demo';
const demoRetailerId = '00000000-0000-4000-8000-000000000101';
const vendorOfferRoute = '/vendor/offers/respond';

class StepFailed extends Error {}

let currentStep = '';

function step(title: string): void {
  currentStep = title;
  process.stdout.write(`\n# ${title}\n`);
}

function show(command: string): void {
  process.stdout.write(`$ ${command}\n`);
}

function note(text: string): void {
  process.stdout.write(`  → ${text}\n`);
}

function check(condition: unknown, problem: string): asserts condition {
  if (!condition) throw new StepFailed(problem);
}

interface Call {
  method?: 'GET' | 'POST';
  path: string;
  token?: { value: string; shownAs: string };
  body?: unknown;
  headers?: Record<string, string>;
}

/** The curl line a person would type for this call. */
function curlFor(call: Call): string {
  const parts = [
    `curl -s${call.method === 'POST' && call.body === undefined ? ' -X POST' : ''}`,
    `"${shownApi}${call.path}"`,
  ];
  if (call.token) parts.push(`-H "Authorization: Bearer $${call.token.shownAs}"`);
  for (const [name, value] of Object.entries(call.headers ?? {})) parts.push(`-H '${name}: ${value}'`);
  if (call.body !== undefined) parts.push(`-H 'Content-Type: application/json' -d '${JSON.stringify(call.body)}'`);
  return parts.join(' ');
}

/** Prints and runs one HTTP call; answers its status and JSON body. */
async function http(call: Call, quiet = false): Promise<{ status: number; body: unknown }> {
  if (!quiet) show(curlFor(call));
  const headers: Record<string, string> = { ...(call.headers ?? {}) };
  if (call.token) headers.Authorization = `Bearer ${call.token.value}`;
  if (call.body !== undefined) headers['Content-Type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(`${apiUrl}${call.path}`, {
      method: call.method ?? 'GET',
      headers,
      body: call.body === undefined ? undefined : JSON.stringify(call.body),
      signal: AbortSignal.timeout(60_000),
    });
  } catch (error) {
    throw new StepFailed(`${apiUrl} did not answer (${(error as Error).message}); is \`npm run dev\` running?`);
  }
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: kept as text for the message below.
  }
  return { status: response.status, body };
}

/** Prints and runs one HTTP call, and checks its status and the shape of its answer. */
async function expectAnswer<T>(call: Call, expected: number[], shape: z.ZodType<T>): Promise<T> {
  const { status, body } = await http(call);
  check(expected.includes(status), `expected HTTP ${expected.join(' or ')}, got ${status}: ${JSON.stringify(body)}`);
  return conforming(shape, body);
}

function conforming<T>(shape: z.ZodType<T>, value: unknown): T {
  const parsed = shape.safeParse(value);
  check(parsed.success, `unexpected answer ${JSON.stringify(value)}`);
  return parsed.data;
}

/** The parts of each answer the tour reads. */
const withId = z.object({ id: z.string() });
const withStatus = z.object({ status: z.string() });
const placedOrder = z.object({ orderId: z.string() });
const orderRow = z.object({ status: z.string(), total: z.number() });
const orderState = z.object({ status: z.string(), reminders: z.array(z.object({ status: z.string() })) });
const outbox = z.object({
  messages: z.array(
    z.object({ to: z.string(), subject: z.string().nullish(), text: z.string().nullish(), links: z.array(z.string()) }),
  ),
});
const anything = z.unknown();

/** Reads one resource (HTTP 200) and checks the part the tour reads. */
async function answer<T>(call: Call, shape: z.ZodType<T>, quiet: boolean): Promise<T> {
  const { status, body } = await http(call, quiet);
  check(status === 200, `expected HTTP 200, got ${status}: ${JSON.stringify(body)}`);
  return conforming(shape, body);
}

/** Answers a message's link the way its page's button does, and checks the outcome. */
async function answerLink(path: string, body: Record<string, string>, expected: string): Promise<void> {
  const result = await expectAnswer({ method: 'POST', path, body }, [200], withStatus);
  check(result.status === expected, `expected status ${expected}, got ${result.status}`);
}

type OutboxMessage = z.infer<typeof outbox>['messages'][number];

/**
 * Waits for the newest message since `since` that is sent to `to`, or (without `to`) that carries a link to
 * `route` and mentions `mentioning`; the outbox holds each request up to 30 s until a message is caught.
 */
async function awaitMessage(
  token: Call['token'],
  since: string,
  wanted: { to: string } | { route: string; mentioning: string },
): Promise<OutboxMessage> {
  const to = 'to' in wanted ? `to=${encodeURIComponent(wanted.to)}&` : '';
  const path = `/api/v1/dev/outbox?${to}since=${encodeURIComponent(since)}&wait=30`;
  show(curlFor({ path: path.replace(/since=[^&]*/, 'since=$SINCE'), token }));
  const matches = (message: OutboxMessage) =>
    'to' in wanted ||
    (message.text?.includes(wanted.mentioning) && message.links.some((link) => link.includes(wanted.route)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { status, body } = await http({ path, token }, true);
    check(status === 200, `expected HTTP 200, got ${status}: ${JSON.stringify(body)}`);
    const message = conforming(outbox, body).messages.find(matches);
    if (message) {
      note(`${message.subject ?? 'a message'} to ${message.to}`);
      return message;
    }
    check(
      Date.now() < deadline,
      `no message ${'to' in wanted ? `to ${wanted.to}` : `with a ${wanted.route} link`} arrived within 30 seconds`,
    );
    // Other messages since `since` answer the wait at once: ask again a little later.
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** The token carried by the message's link to `route` (for `decision`, if given). */
function linkToken(message: OutboxMessage, route: string, decision?: string): string {
  const link = message.links.find(
    (candidate) => candidate.includes(route) && (!decision || candidate.includes(`decision=${decision}`)),
  );
  check(link, `the message has no ${route} link${decision ? ` to ${decision}` : ''}: ${message.links.join(', ')}`);
  const token = new URL(link).searchParams.get('token');
  check(token, `the link ${link} carries no token`);
  return token;
}

/** Asks again (printing the command once) until `done` holds or the time is up. */
async function poll<T>(
  describe: string,
  ask: (quiet: boolean) => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await ask(false);
  while (!done(value)) {
    check(
      Date.now() < deadline,
      `${describe} within ${timeoutMs / 1000} seconds; last answer: ${JSON.stringify(value)}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    value = await ask(true);
  }
  return value;
}

/** Runs `npm run temporal -- workflow query …` and answers the query's result. */
async function temporalQuery(workflowId: string, queryType: string, quiet: boolean): Promise<unknown> {
  const args = ['workflow', 'query', '--workflow-id', workflowId, '--type', queryType, '--output', 'json'];
  if (!quiet) show(`npm run temporal -- ${args.map((arg) => (/[\s:"]/.test(arg) ? `"${arg}"` : arg)).join(' ')}`);
  try {
    const { stdout } = await run('npx', ['tsx', path.join(root, 'scripts', 'temporal.ts'), ...args], {
      cwd: root,
      timeout: 60_000,
    });
    const parsed = conforming(z.object({ queryResult: z.array(z.unknown()).min(1) }), JSON.parse(stdout));
    return parsed.queryResult[0];
  } catch (error) {
    throw new StepFailed(`the temporal CLI failed: ${(error as Error).message.split('\n').slice(0, 3).join(' ')}`);
  }
}

function since(): string {
  show('SINCE=$(date -u +%FT%T.%3NZ)   # messages from now on');
  return new Date().toISOString();
}

async function waitlistTour(tenant: Call['token']): Promise<void> {
  step('waitlist: create a slot');
  const slot = await expectAnswer(
    { method: 'POST', path: '/api/v1/slots', token: tenant, body: { name: `Dr. Lee, Tuesday 14:30 (${stamp})` } },
    [201],
    withId,
  );
  note(`SLOT=${slot.id}`);

  step('waitlist: two people join');
  const first = `ada.${stamp}@example.test`;
  const second = `grace.${stamp}@example.test`;
  for (const [customerName, email, priority] of [
    ['Ada', first, 5],
    ['Grace', second, 3],
  ] as const) {
    await expectAnswer(
      {
        method: 'POST',
        path: `/api/v1/slots/${slot.id}/waitlist`,
        token: tenant,
        body: { customerName, email, priority },
      },
      [201],
      anything,
    );
  }

  step('waitlist: release the slot; Ada, first in line, gets the offer');
  const released = since();
  await expectAnswer({ method: 'POST', path: `/api/v1/slots/${slot.id}/release`, token: tenant }, [202], anything);
  const firstOffer = await awaitMessage(tenant, released, { to: first });

  step('waitlist: Ada declines through her link');
  const declinedAt = since();
  await answerLink(
    '/api/v1/offers/respond',
    { token: linkToken(firstOffer, '/offers/respond', 'decline'), decision: 'decline' },
    'declined',
  );

  step('waitlist: Grace gets the next offer and accepts');
  const secondOffer = await awaitMessage(tenant, declinedAt, { to: second });
  await answerLink(
    '/api/v1/offers/respond',
    { token: linkToken(secondOffer, '/offers/respond', 'accept'), decision: 'accept' },
    'confirmed',
  );

  step('waitlist: the cascade says CONFIRMED and the slot is ASSIGNED');
  await poll(
    'the cascade did not reach CONFIRMED',
    async (quiet) =>
      conforming(withStatus, await temporalQuery(`waitlist:${demoTenantId}:${slot.id}`, 'getCascadeState', quiet)),
    (state) => state.status === 'CONFIRMED',
  );
  await poll(
    'the slot was not ASSIGNED',
    (quiet) => answer({ path: `/api/v1/slots/${slot.id}`, token: tenant }, withStatus, quiet),
    (row) => row.status === 'ASSIGNED',
  );
}

async function ordersTour(tenant: Call['token']): Promise<void> {
  step('orders: place an order for the demo retailer in Kathmandu');
  const placed = since();
  const { orderId } = await expectAnswer(
    {
      method: 'POST',
      path: '/api/v1/orders',
      token: tenant,
      headers: { 'Idempotency-Key': `demo-${randomUUID()}` },
      body: {
        retailerId: demoRetailerId,
        deliveryRegion: 'kathmandu',
        items: [{ sku: 'RICE-5', name: 'Rice 5 kg', category: 'grocery', quantity: 10, unitPrice: 1200 }],
      },
    },
    [202],
    placedOrder,
  );
  note(`ORDER=${orderId}`);

  // On a fresh stack the best vendor is Himalayan Wholesale (WhatsApp); its rejection lowers its score for 30
  // days, so on later runs Valley Traders (email) is asked first.
  step('orders: the best-ranked vendor gets the offer and rejects it');
  const firstOffer = await awaitMessage(tenant, placed, {
    route: vendorOfferRoute,
    mentioning: orderReference(orderId),
  });
  const rejectedAt = since();
  const reject = {
    token: linkToken(firstOffer, vendorOfferRoute, 'reject'),
    decision: 'reject',
    reason: 'out of stock',
  };
  await answerLink('/api/v1/vendor/offers/respond', reject, 'rejected');

  step('orders: the next vendor gets the offer and accepts it');
  const secondOffer = await awaitMessage(tenant, rejectedAt, {
    route: vendorOfferRoute,
    mentioning: orderReference(orderId),
  });
  check(secondOffer.to !== firstOffer.to, `the offer went to ${firstOffer.to} again`);
  const accept = { token: linkToken(secondOffer, vendorOfferRoute, 'accept'), decision: 'accept' };
  await answerLink('/api/v1/vendor/offers/respond', accept, 'accepted');

  const readOrder = (quiet: boolean) => answer({ path: `/api/v1/orders/${orderId}`, token: tenant }, orderRow, quiet);
  for (const status of ['DISPATCHED', 'DELIVERED'] as const) {
    step(`orders: the order is ${status}`);
    await expectAnswer(
      { method: 'POST', path: `/api/v1/orders/${orderId}/status`, token: tenant, body: { status } },
      [202],
      anything,
    );
    await poll(`the order did not become ${status}`, readOrder, (row) => row.status === status);
  }

  step('orders: the retailer pays in full; the reminders stop and the order is PAID');
  const { total } = await readOrder(true);
  await expectAnswer(
    {
      method: 'POST',
      path: `/api/v1/orders/${orderId}/payments`,
      token: tenant,
      body: { amount: total, reference: `bank-${stamp}` },
    },
    [201, 202],
    anything,
  );
  const paid = await poll(
    'the order did not reach PAID with its reminders cancelled',
    async (quiet) =>
      conforming(orderState, await temporalQuery(`order:${demoTenantId}:${orderId}`, 'getOrderState', quiet)),
    (state) => state.status === 'PAID' && state.reminders.every((reminder) => reminder.status !== 'scheduled'),
  );
  note(`PAID; reminders ${paid.reminders.map((reminder) => reminder.status).join(', ')}`);
}

async function onboardingTour(platform: Call['token']): Promise<void> {
  const slug = `tour-${stamp}`;
  const adminEmail = `ada.${stamp}@acme.example.test`;

  step(`onboarding: a platform admin onboards the tenant ${slug}`);
  const started = since();
  await expectAnswer(
    {
      method: 'POST',
      path: '/api/v1/tenants',
      token: platform,
      body: { organizationName: `Acme Clinics ${stamp}`, slug, adminEmail, adminName: 'Ada', tier: 'professional' },
    },
    [202],
    anything,
  );

  step('onboarding: the tenant becomes ACTIVE');
  await poll(
    'the onboarding did not reach ACTIVE',
    (quiet) => answer({ path: `/api/v1/tenants/${slug}/onboarding`, token: platform }, withStatus, quiet),
    (progress) => progress.status === 'ACTIVE',
    90_000,
  );

  step('onboarding: the welcome email arrives, and its invitation is accepted');
  const welcome = await awaitMessage(platform, started, { to: adminEmail });
  await answerLink('/api/v1/invitations/accept', { token: linkToken(welcome, '/invitations/accept') }, 'ACTIVE');
}

const tours = { waitlist: waitlistTour, orders: ordersTour, onboarding: onboardingTour } as const;
type TourName = keyof typeof tours;

async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  const unknown = asked.filter((name) => !(name in tours));
  if (unknown.length > 0) {
    process.stderr.write(
      `Unknown walk-through(s): ${unknown.join(', ')}. Usage: npm run demo [-- waitlist|orders|onboarding]\n`,
    );
    process.exit(2);
  }
  const names = (asked.length > 0 ? asked : Object.keys(tours)) as TourName[];

  // The same secrets as the running `npm run dev` (.data/dev-secrets.json, or HOLDFAST_DATA_DIR's).
  const config = loadConfigOrExit({ ...process.env, APP_ENV: 'development' });
  step('tokens');
  show('TOKEN=$(npm run -s token -- --tenant demo --role tenant-admin)');
  const tenant = {
    value: await signDevToken(config.auth, { tenantId: demoTenantId, roles: ['tenant-admin'] }),
    shownAs: 'TOKEN',
  };
  show(`ADMIN=$(npm run -s token -- --tenant ${PLATFORM_TENANT_ID} --role platform-admin)`);
  const platform = {
    value: await signDevToken(config.auth, { tenantId: PLATFORM_TENANT_ID, roles: ['platform-admin'] }),
    shownAs: 'ADMIN',
  };
  const tokens: Record<TourName, Call['token']> = { waitlist: tenant, orders: tenant, onboarding: platform };

  for (const name of names) {
    const started = Date.now();
    await tours[name](tokens[name]);
    process.stdout.write(`\n✓ ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  }
}

main().catch((error: unknown) => {
  if (error instanceof StepFailed) {
    process.stderr.write(`\n✗ step "${currentStep}" failed: ${error.message}\n`);
  } else {
    process.stderr.write(`\n✗ step "${currentStep}" failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  }
  process.exit(1);
});
