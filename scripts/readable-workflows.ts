import { parseArgs } from 'node:util';

/**
 * `npm run -s temporal -- workflow list -o json … | npm run -s temporal:readable`: the workflows the Temporal CLI
 * printed, with their search attributes readable. The CLI (1.9.1) prints search attributes as encoded payloads
 * (base64 metadata and data in JSON, protobuf text otherwise) and has no option to decode them; this does, for
 * `workflow list -o json`, `-o jsonl` and `workflow describe -o json` (one or several, concatenated).
 *
 * Each workflow is printed as its ID, then its type, status and times, its summary when the CLI decoded it, then
 * Holdfast's search attributes (TenantId, FlowStatus, BusinessKey); `--all` adds Temporal's own (BuildIds,
 * TemporalChangeVersion, TemporalScheduledById, …). With `--json`, one JSON object per line instead, for `jq`.
 */

const usage = `Usage: npm run -s temporal -- workflow list -o json [-q QUERY] | npm run -s temporal:readable [-- --json]
       npm run -s temporal -- workflow describe -w ID -o json | npm run -s temporal:readable
Reads the CLI's JSON or JSONL output on stdin and prints each workflow with its search attributes decoded.
  --all    Temporal's own search attributes too (BuildIds, TemporalChangeVersion, TemporalScheduledById, …)
  --json   one JSON object per workflow and line, for jq`;

/** Holdfast's own search attributes (workflows/search-attributes.ts), shown first and in this order. */
const holdfastAttributes = ['TenantId', 'FlowStatus', 'BusinessKey'];

export interface ReadableWorkflow {
  workflowId: string;
  runId?: string;
  type?: string;
  /** As the visibility query names it: Running, Completed, Failed, Canceled, Terminated, ContinuedAsNew, TimedOut. */
  status?: string;
  startTime?: string;
  closeTime?: string;
  /** The static summary, when the CLI decoded it through the codec server; `(encrypted)` when it could not. */
  summary?: string;
  searchAttributes: Record<string, unknown>;
}

/** A value the input holds that is not a workflow; reported, not fatal. */
export class UnreadableInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnreadableInputError';
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * The top-level JSON values in `text`: one document, JSONL, or several documents one after the other (the output
 * of a loop of `workflow describe -o json`).
 *
 * @throws UnreadableInputError naming the position of text that is not JSON.
 */
export function parseJsonValues(text: string): Json[] {
  const values: Json[] = [];
  let start = -1;
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index]!;
    if (inString) {
      if (escaped) escaped = false;
      else if (char === '\\') escaped = true;
      else if (char === '"') inString = false;
      continue;
    }
    if (char === '"') {
      inString = true;
    } else if (char === '{' || char === '[') {
      if (depth === 0) start = index;
      depth += 1;
    } else if (char === '}' || char === ']') {
      depth -= 1;
      if (depth < 0) throw new UnreadableInputError(`unbalanced '${char}' at character ${index}`);
      if (depth === 0) {
        const source = text.slice(start, index + 1);
        try {
          values.push(JSON.parse(source) as Json);
        } catch (error) {
          throw new UnreadableInputError(`not JSON at character ${start}: ${(error as Error).message}`);
        }
      }
    } else if (depth === 0 && !/\s/.test(char)) {
      throw new UnreadableInputError(`expected a JSON object or array at character ${index}, found '${char}'`);
    }
  }
  if (depth !== 0 || inString) throw new UnreadableInputError('the input ends inside a JSON value');
  return values;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fromBase64(text: unknown): string | undefined {
  return typeof text === 'string' ? Buffer.from(text, 'base64').toString('utf8') : undefined;
}

/**
 * A payload as the CLI prints it: `{ metadata: { encoding: <base64> }, data: <base64> }`, or already shortened to
 * its JSON value (the CLI's JSON shorthand for payloads it could decode).
 */
export function decodePayload(payload: unknown): unknown {
  if (!isObject(payload) || !isObject(payload.metadata)) return payload;
  const encoding = fromBase64(payload.metadata.encoding);
  if (encoding === 'binary/null') return null;
  if (encoding === 'binary/encrypted') return '(encrypted)';
  const data = fromBase64(payload.data) ?? '';
  if (encoding === 'json/plain') {
    try {
      return JSON.parse(data) as unknown;
    } catch {
      return data;
    }
  }
  return `(${encoding ?? 'unknown encoding'})`;
}

/** A decoded value as one line: strings as they are, anything else as JSON. */
function attributeText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** `WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW` → `ContinuedAsNew`, the name visibility queries use. */
export function readableStatus(status: unknown): string | undefined {
  if (typeof status !== 'string') return undefined;
  return status
    .replace(/^WORKFLOW_EXECUTION_STATUS_/, '')
    .toLowerCase()
    .split('_')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');
}

function readableTime(time: unknown): string | undefined {
  if (typeof time !== 'string') return undefined;
  const date = new Date(time);
  // The zero time stands for "not set" in protobuf JSON.
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() <= 1) return undefined;
  return date.toISOString();
}

function orderedAttributes(indexedFields: unknown, all: boolean): Record<string, unknown> {
  if (!isObject(indexedFields)) return {};
  const names = Object.keys(indexedFields);
  const ordered = [
    ...holdfastAttributes.filter((name) => names.includes(name)),
    ...(all ? names.filter((name) => !holdfastAttributes.includes(name)).sort() : []),
  ];
  return Object.fromEntries(ordered.map((name) => [name, decodePayload(indexedFields[name])]));
}

/** One workflow from a `workflow list` entry, or from `workflow describe`'s `workflowExecutionInfo`. */
function workflowOf(info: Record<string, unknown>, all: boolean, userMetadata?: unknown): ReadableWorkflow {
  const execution = isObject(info.execution) ? info.execution : {};
  const summary = isObject(userMetadata) ? decodePayload(userMetadata.summary) : undefined;
  return {
    workflowId: String(execution.workflowId),
    runId: typeof execution.runId === 'string' ? execution.runId : undefined,
    type: isObject(info.type) && typeof info.type.name === 'string' ? info.type.name : undefined,
    status: readableStatus(info.status),
    startTime: readableTime(info.startTime),
    closeTime: readableTime(info.closeTime),
    summary: summary === undefined || summary === null ? undefined : attributeText(summary),
    searchAttributes: orderedAttributes(
      isObject(info.searchAttributes) ? info.searchAttributes.indexedFields : {},
      all,
    ),
  };
}

/**
 * The workflows in the CLI's output, in its order; with `allAttributes`, Temporal's own search attributes too.
 *
 * @throws UnreadableInputError when the text is not JSON, or a value in it is not a workflow.
 */
export function readableWorkflows(text: string, options: { allAttributes?: boolean } = {}): ReadableWorkflow[] {
  const all = options.allAttributes ?? false;
  const workflows: ReadableWorkflow[] = [];
  const add = (value: Json) => {
    if (Array.isArray(value)) {
      value.forEach(add);
    } else if (isObject(value) && isObject(value.workflowExecutionInfo)) {
      const config = isObject(value.executionConfig) ? value.executionConfig : {};
      workflows.push(workflowOf(value.workflowExecutionInfo, all, config.userMetadata));
    } else if (isObject(value) && isObject(value.execution) && typeof value.execution.workflowId === 'string') {
      workflows.push(workflowOf(value, all));
    } else {
      throw new UnreadableInputError(
        'a value is not a workflow: pipe in `workflow list -o json` (or jsonl) or `workflow describe -o json`',
      );
    }
  };
  parseJsonValues(text).forEach(add);
  return workflows;
}

/** The lines printed for one workflow. */
export function formatWorkflow(workflow: ReadableWorkflow): string {
  const facts = [
    workflow.type,
    workflow.status,
    workflow.startTime && `started ${workflow.startTime}`,
    workflow.closeTime && `closed ${workflow.closeTime}`,
  ].filter(Boolean);
  const attributes = Object.entries(workflow.searchAttributes).map(
    ([name, value]) => `${name}=${attributeText(value)}`,
  );
  return [
    workflow.workflowId,
    `  ${facts.join('  ')}`,
    workflow.summary ? `  summary: ${workflow.summary}` : undefined,
    attributes.length > 0 ? `  ${attributes.join('  ')}` : undefined,
  ]
    .filter((line) => line !== undefined)
    .join('\n');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { all: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || process.stdin.isTTY) {
    process.stdout.write(`${usage}\n`);
    process.exit(values.help ? 0 : 2);
  }
  let workflows: ReadableWorkflow[];
  try {
    workflows = readableWorkflows(await readStdin(), { allAttributes: values.all });
  } catch (error) {
    if (!(error instanceof UnreadableInputError)) throw error;
    process.stderr.write(`Cannot read the CLI's output: ${error.message}\n`);
    process.exit(1);
  }
  const text = values.json
    ? workflows.map((workflow) => JSON.stringify(workflow)).join('\n')
    : workflows.map(formatWorkflow).join('\n\n');
  if (text) process.stdout.write(`${text}\n`);
}

if (require.main === module) void main();
