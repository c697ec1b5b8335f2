import type { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { decode } from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';

/**
 * Reading the payloads of a history as the Temporal server stores them (`fetchHistory()` answers
 * them raw, encrypted by lib/data-converter.ts), and as the codec decrypts them.
 */

type History = temporal.api.history.v1.IHistory;

/** A payload of a history, with where it sits (`events.3.activityTaskScheduledEventAttributes.input.payloads.0`). */
export interface HistoryPayload {
  path: string;
  payload: Payload;
}

/** The class of Payload messages the client decodes (the proto package's types are reflected, their class is `ctor`). */
const PayloadMessage = (temporal.api.common.v1.Payload as unknown as { ctor: new () => object }).ctor;

const isPayload = (value: object): value is Payload =>
  value instanceof PayloadMessage ||
  ('metadata' in value && 'data' in value && Object.keys(value).every((key) => key === 'metadata' || key === 'data'));

/**
 * Every payload of `history` except the search attributes', which the server must read to index
 * them and which the SDK never passes through a codec (they carry IDs and statuses only).
 */
export function historyPayloads(history: History): HistoryPayload[] {
  const found: HistoryPayload[] = [];
  const walk = (value: unknown, path: string): void => {
    if (!value || typeof value !== 'object' || value instanceof Uint8Array) return;
    if (Array.isArray(value)) {
      value.forEach((item, index) => walk(item, `${path}.${index}`));
      return;
    }
    if (isPayload(value)) {
      found.push({ path, payload: value });
      return;
    }
    for (const [key, child] of Object.entries(value)) {
      if (key === 'searchAttributes') continue;
      walk(child, path ? `${path}.${key}` : key);
    }
  };
  walk(history.events ?? [], 'events');
  return found;
}

/** Every byte string of `value` (payloads' data and metadata included) read as UTF-8, one per line. */
export function bytesAsText(value: unknown): string {
  const texts: string[] = [];
  const walk = (node: unknown): void => {
    if (node instanceof Uint8Array) texts.push(Buffer.from(node).toString('utf8'));
    else if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') Object.values(node).forEach(walk);
  };
  walk(value);
  return texts.join('\n');
}

/**
 * The text of every payload of `history` as the client's codec decrypts it (failures' messages
 * included: they travel in an encoded attributes payload), one per line: what a test that reads a
 * history for a value, or for the absence of one, searches.
 */
export async function decodedHistoryText(client: Client, history: History): Promise<string> {
  const payloads = historyPayloads(history).map(({ payload }) => payload);
  const decoded = await decode(client.options.loadedDataConverter.payloadCodecs, payloads);
  return bytesAsText(decoded);
}

/** The history of a workflow's run, decrypted to text (see {@link decodedHistoryText}). */
export async function workflowHistoryText(client: Client, workflowId: string, runId?: string): Promise<string> {
  return decodedHistoryText(client, await client.workflow.getHandle(workflowId, runId).fetchHistory());
}
