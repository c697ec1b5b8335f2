import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { Config } from '../../lib/config';
import { readTemporalBinaries } from '../../scripts/stack/temporal-binaries';

const execFileAsync = promisify(execFile);

/**
 * Runs the pinned `temporal` CLI against the test server as an operator without the codec would:
 * JSON output, no config file or TEMPORAL_* variables (so no codec endpoint sneaks in).
 */
export async function temporalCli(config: Config, args: string[], options: { rawPayloads?: boolean } = {}) {
  const { cliPath } = readTemporalBinaries();
  if (!cliPath) throw new Error('The Temporal CLI is not provisioned: run `npm run temporal:provision`');
  const { stdout } = await execFileAsync(
    cliPath,
    [
      ...args,
      '--address',
      config.temporal.address,
      '--namespace',
      config.temporal.namespace,
      '--output',
      'json',
      '--color',
      'never',
      '--disable-config-file',
      '--disable-config-env',
      ...(options.rawPayloads ? ['--no-json-shorthand-payloads'] : []),
    ],
    { maxBuffer: 256 * 1024 * 1024 },
  );
  return stdout;
}

/** The CLI prints one JSON document, or one per line for lists. */
export function parseCliJson(stdout: string): unknown[] {
  const text = stdout.trim();
  if (text === '') return [];
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed : [parsed];
  } catch {
    return text.split('\n').map((line) => JSON.parse(line) as unknown);
  }
}

/** What the scan reads of one workflow, exactly as the CLI printed it. */
export interface RawWorkflow {
  workflowId: string;
  /** `temporal workflow show -o json`, with the CLI's JSON shorthand for plain JSON payloads. */
  history: string;
  /** The same history with every payload as stored (`--no-json-shorthand-payloads`). */
  rawHistory: string;
  /** `temporal workflow describe -o json`: search attributes, memo, user metadata, pending work. */
  description: string;
}

/** Fetches a workflow's history and description through the CLI, without the codec. */
export async function fetchRawWorkflow(config: Config, workflowId: string): Promise<RawWorkflow> {
  const [history, rawHistory, description] = await Promise.all([
    temporalCli(config, ['workflow', 'show', '--workflow-id', workflowId]),
    temporalCli(config, ['workflow', 'show', '--workflow-id', workflowId], { rawPayloads: true }),
    temporalCli(config, ['workflow', 'describe', '--workflow-id', workflowId]),
  ]);
  return { workflowId, history, rawHistory, description };
}

/** What the scan reads of one Schedule, exactly as the CLI printed it. */
export interface RawSchedule {
  scheduleId: string;
  /** `temporal schedule describe -o json`: spec, action (input, memo, user metadata), state and its note. */
  description: string;
  /** The same with every payload as stored (`--no-json-shorthand-payloads`). */
  rawDescription: string;
}

/** Describes a Schedule through the CLI, without the codec. */
export async function fetchRawSchedule(config: Config, scheduleId: string): Promise<RawSchedule> {
  const [description, rawDescription] = await Promise.all([
    temporalCli(config, ['schedule', 'describe', '--schedule-id', scheduleId]),
    temporalCli(config, ['schedule', 'describe', '--schedule-id', scheduleId], { rawPayloads: true }),
  ]);
  return { scheduleId, description, rawDescription };
}

/** Every workflow whose `TenantId` search attribute is `tenantId`, as the CLI lists them. */
export async function listTenantWorkflows(config: Config, tenantId: string) {
  const stdout = await temporalCli(config, ['workflow', 'list', '--query', `TenantId="${tenantId}"`]);
  const executions = parseCliJson(stdout) as Array<{ execution?: { workflowId?: string } }>;
  return { stdout, workflowIds: executions.map((execution) => execution.execution!.workflowId!) };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The text to search in a CLI document: the document itself, and every string in it that is
 * base64 decoded, so a plain JSON payload (whose `data` the CLI prints as base64) is read as JSON.
 */
export function searchableTexts(document: string): string[] {
  const texts = [document];
  const visit = (value: unknown): void => {
    if (typeof value === 'string') {
      if (value.length >= 4 && BASE64.test(value)) texts.push(Buffer.from(value, 'base64').toString('utf8'));
    } else if (Array.isArray(value)) {
      value.forEach(visit);
    } else if (value && typeof value === 'object') {
      Object.values(value).forEach(visit);
    }
  };
  parseCliJson(document).forEach(visit);
  return texts;
}

/**
 * The forms a value could take in a history: as written, URL-encoded, a phone number without
 * its `+`, and each longer part of a name on its own. The search ignores case.
 */
export function formsOf(value: string): string[] {
  const forms = new Set([value, encodeURIComponent(value)]);
  if (/^\+\d+$/.test(value)) forms.add(value.slice(1));
  if (!value.includes('@') && !value.startsWith('+')) {
    for (const part of value.split(/\s+/)) if (part.length >= 6) forms.add(part);
  }
  return [...forms].map((form) => form.toLowerCase());
}

/** The values (not their forms) that occur anywhere in `texts`. */
export function valuesFoundIn(texts: string[], values: string[]): string[] {
  const haystack = texts.map((text) => text.toLowerCase());
  return values.filter((value) => formsOf(value).some((form) => haystack.some((text) => text.includes(form))));
}

/** A payload as protojson prints it: metadata values and data in base64. */
interface PrintedPayload {
  metadata: Record<string, string>;
  data?: string;
}

/** A payload and the keys that lead to it (`events.workflowExecutionStartedEventAttributes.input.payloads`). */
export interface FoundPayload {
  path: string;
  payload: PrintedPayload;
}

/** Every payload in a `--no-json-shorthand-payloads` document. */
export function payloadsIn(document: string): FoundPayload[] {
  const found: FoundPayload[] = [];
  const visit = (value: unknown, path: string): void => {
    if (Array.isArray(value)) {
      value.forEach((item) => visit(item, path));
    } else if (value && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      const metadata = record.metadata as Record<string, unknown> | undefined;
      if (metadata && typeof metadata === 'object' && typeof metadata.encoding === 'string') {
        found.push({ path, payload: record as unknown as PrintedPayload });
        return;
      }
      for (const [key, child] of Object.entries(record)) visit(child, path ? `${path}.${key}` : key);
    }
  };
  parseCliJson(document).forEach((root) => visit(root, ''));
  return found;
}

export const encodingOf = ({ payload }: FoundPayload) => Buffer.from(payload.metadata.encoding!, 'base64').toString();

/** The payloads' data after the codec: what a client with the keys reads. */
export async function decodedTexts(codec: PayloadCodec, payloads: FoundPayload[]): Promise<string[]> {
  const decoded = await codec.decode(
    payloads.map(({ payload }): Payload => ({
      metadata: Object.fromEntries(
        Object.entries(payload.metadata).map(([key, value]) => [key, Buffer.from(value, 'base64')]),
      ),
      data: Buffer.from(payload.data ?? '', 'base64'),
    })),
  );
  return decoded.map((payload) => Buffer.from(payload.data ?? new Uint8Array()).toString('utf8'));
}
