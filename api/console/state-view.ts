import { formatInstant } from './render';

/**
 * A flow's business state (its state query's answer) as rows an operator can read: nested fields
 * flattened to labelled paths ("Offers › 1 › Status"), instants shown in the console's one format,
 * everything else as the flow wrote it. The raw JSON stays available beside it.
 */

export interface StateRow {
  label: string;
  value: string;
}

/** More rows than this and the rest is left to the raw JSON: a page stays readable. */
const MAX_ROWS = 200;

/** `holdExpiresAt` → `Hold expires at`. */
export function humanizeKey(key: string): string {
  const words = key
    .replace(/[_-]+/g, ' ')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .trim()
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

function scalar(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'string') return ISO_INSTANT.test(value) ? formatInstant(value) : value;
  if (typeof value === 'number' || typeof value === 'bigint') return value.toString();
  return JSON.stringify(value) ?? '—';
}

export function stateRows(state: unknown): StateRow[] {
  const rows: StateRow[] = [];
  const walk = (value: unknown, path: string[]) => {
    if (rows.length >= MAX_ROWS) return;
    if (Array.isArray(value)) {
      if (value.length === 0) rows.push({ label: path.join(' › ') || 'Value', value: 'none' });
      value.forEach((item, index) => walk(item, [...path, String(index + 1)]));
      return;
    }
    if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value as Record<string, unknown>);
      if (entries.length === 0) rows.push({ label: path.join(' › ') || 'Value', value: 'none' });
      for (const [key, item] of entries) walk(item, [...path, humanizeKey(key)]);
      return;
    }
    rows.push({ label: path.join(' › ') || 'Value', value: scalar(value) });
  };
  if (state !== null && state !== undefined) walk(state, []);
  return rows;
}
