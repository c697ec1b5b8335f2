import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';

/**
 * What every walk-through of `npm run demo` shares: printing each step as a person would type it, running
 * its equivalent, waiting for messages and states with a timeout, and stopping at the first step that does
 * not reach its expected state.
 */

const apiUrl = (process.env.DEMO_API_URL ?? 'http://localhost:3000').replace(/\/$/, '');
const shownApi = apiUrl.replace(/^https?:\/\//, '');
const root = path.resolve(__dirname, '..', '..');
const run = promisify(execFile);

/** A unique suffix per run, so that names, addresses and slugs never meet an earlier run's. */
export const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;

export const demoTenantId = 'demo';

export class StepFailed extends Error {}

let currentStep = '';

/** The title of the step running now, to name it when the run fails. */
export function currentStepTitle(): string {
  return currentStep;
}

export function step(title: string): void {
  currentStep = title;
  process.stdout.write(`\n# ${title}\n`);
}

export function show(command: string): void {
  process.stdout.write(`$ ${command}\n`);
}

export function note(text: string): void {
  process.stdout.write(`  → ${text}\n`);
}

export function check(condition: unknown, problem: string): asserts condition {
  if (!condition) throw new StepFailed(problem);
}

export interface Call {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  token?: { value: string; shownAs: string };
  body?: unknown;
  /** What the printed curl shows as its body instead of the JSON, e.g. `"$INPUT"` for a body kept in a variable. */
  bodyShownAs?: string;
  headers?: Record<string, string>;
}

/** The curl line a person would type for this call. */
export function curlFor(call: Call): string {
  // curl posts when given a body; every other method with a body, and a POST without one, is named.
  const method = call.method ?? 'GET';
  const named = method !== 'GET' && !(method === 'POST' && call.body !== undefined);
  const parts = [`curl -s${named ? ` -X ${method}` : ''}`, `"${shownApi}${call.path}"`];
  if (call.token) parts.push(`-H "Authorization: Bearer $${call.token.shownAs}"`);
  for (const [name, value] of Object.entries(call.headers ?? {})) parts.push(`-H '${name}: ${value}'`);
  if (call.body !== undefined) {
    parts.push(`-H 'Content-Type: application/json' -d ${call.bodyShownAs ?? `'${JSON.stringify(call.body)}'`}`);
  }
  return parts.join(' ');
}

/** Prints and runs one HTTP call; answers its status and JSON body. */
export async function http(call: Call, quiet = false): Promise<{ status: number; body: unknown }> {
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
export async function expectAnswer<T>(call: Call, expected: number[], shape: z.ZodType<T>): Promise<T> {
  const { status, body } = await http(call);
  check(expected.includes(status), `expected HTTP ${expected.join(' or ')}, got ${status}: ${JSON.stringify(body)}`);
  return conforming(shape, body);
}

export function conforming<T>(shape: z.ZodType<T>, value: unknown): T {
  const parsed = shape.safeParse(value);
  check(parsed.success, `unexpected answer ${JSON.stringify(value)}`);
  return parsed.data;
}

/** The parts of answers every tour reads. */
export const withId = z.object({ id: z.string() });
export const withStatus = z.object({ status: z.string() });
const outbox = z.object({
  messages: z.array(
    z.object({ to: z.string(), subject: z.string().nullish(), text: z.string().nullish(), links: z.array(z.string()) }),
  ),
});
export const anything = z.unknown();

/** Reads one resource (HTTP 200) and checks the part the tour reads. */
export async function answer<T>(call: Call, shape: z.ZodType<T>, quiet: boolean): Promise<T> {
  const { status, body } = await http(call, quiet);
  check(status === 200, `expected HTTP 200, got ${status}: ${JSON.stringify(body)}`);
  return conforming(shape, body);
}

/** Answers a message's link the way its page's button does, and checks the outcome. */
export async function answerLink(path: string, body: Record<string, string>, expected: string): Promise<void> {
  const result = await expectAnswer({ method: 'POST', path, body }, [200], withStatus);
  check(result.status === expected, `expected status ${expected}, got ${result.status}`);
}

export type OutboxMessage = z.infer<typeof outbox>['messages'][number];

/**
 * Waits for the newest message since `since` that is sent to `to`, or (without `to`) that carries a link to
 * `route` and mentions `mentioning`; the outbox holds each request up to 30 s until a message is caught.
 */
export async function awaitMessage(
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
export function linkToken(message: OutboxMessage, route: string, decision?: string): string {
  const link = message.links.find(
    (candidate) => candidate.includes(route) && (!decision || candidate.includes(`decision=${decision}`)),
  );
  check(link, `the message has no ${route} link${decision ? ` to ${decision}` : ''}: ${message.links.join(', ')}`);
  const token = new URL(link).searchParams.get('token');
  check(token, `the link ${link} carries no token`);
  return token;
}

/** Asks again (printing the command once) until `done` holds or the time is up. */
export async function poll<T>(
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
export async function temporalQuery(workflowId: string, queryType: string, quiet: boolean): Promise<unknown> {
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

export function since(): string {
  show('SINCE=$(date -u +%FT%T.%3NZ)   # messages from now on');
  return new Date().toISOString();
}

/** The tokens a walk-through may use, as the README's tour defines them. */
export interface DemoTokens {
  /** The demo tenant's admin ($TOKEN). */
  tenant: Call['token'];
  /** The platform admin ($ADMIN). */
  platform: Call['token'];
}
