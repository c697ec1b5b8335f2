/**
 * What an export writes: the entities a tenant can export, each one's columns in a fixed order,
 * and how a row becomes a CSV record or an NDJSON line. Pure: the API, the activities and the
 * workflow contract share it.
 *
 * File layout. CSV: one section per entity, in the order of {@link exportEntities} (not the order
 * asked), each a header row then its rows; sections are separated by one empty line. Every row's
 * first column is `entity`, so the sections of a multi-entity file can be told apart by any CSV
 * reader, and a one-entity file is a plain RFC 4180 CSV. NDJSON: one JSON object per line, its first
 * key `entity`, then the entity's columns in the same order. Either way the bytes depend only on
 * the rows, so a resumed export is byte-identical to an uninterrupted one.
 */

import { EntryStatus, NotificationStatus, OrderStatus, SlotStatus } from '../generated/prisma/enums';

/** The exportable entities, in file order. */
export const exportEntities = ['slots', 'waitlist-entries', 'orders', 'retailers', 'vendors', 'notifications'] as const;
export type ExportEntity = (typeof exportEntities)[number];

export const exportFormats = ['csv', 'ndjson'] as const;
export type ExportFormat = (typeof exportFormats)[number];

/**
 * Each entity's columns, in file order. Secrets and machinery stay out (request hashes,
 * idempotency keys, message bodies); the tenant's own business data is what an export is for.
 */
export const exportColumns: Record<ExportEntity, readonly string[]> = {
  slots: ['id', 'name', 'status', 'startsAt', 'holdSeconds', 'assignedEntryId', 'createdAt', 'updatedAt'],
  'waitlist-entries': ['id', 'slotId', 'customerName', 'email', 'phone', 'priority', 'status', 'joinedAt', 'updatedAt'],
  orders: [
    'id',
    'retailerId',
    'vendorId',
    'status',
    'statusReason',
    'total',
    'deliveryRegion',
    'clientOrderRef',
    'items',
    'dispatchedAt',
    'deliveredAt',
    'dueDate',
    'paidAt',
    'createdAt',
    'updatedAt',
  ],
  retailers: ['id', 'name', 'channel', 'contact', 'creditLimit', 'creditScore', 'flagged', 'createdAt', 'updatedAt'],
  vendors: ['id', 'name', 'region', 'capacity', 'rating', 'active', 'channel', 'contact', 'createdAt', 'updatedAt'],
  notifications: [
    'id',
    'channel',
    'recipient',
    'template',
    'status',
    'source',
    'priority',
    'attempts',
    'sendAt',
    'sentAt',
    'cancelledAt',
    'createdAt',
    'updatedAt',
  ],
};

/** The column `from`/`to` filter on: when the row was created (a waitlist entry's is `joinedAt`). */
export const createdColumn: Record<ExportEntity, string> = {
  slots: 'createdAt',
  'waitlist-entries': 'joinedAt',
  orders: 'createdAt',
  retailers: 'createdAt',
  vendors: 'createdAt',
  notifications: 'createdAt',
};

/**
 * The statuses of the entities that have one. The `status` filter applies to each entity whose
 * statuses include it and leaves the others whole (retailers and vendors have none).
 */
export const exportStatuses: Partial<Record<ExportEntity, readonly string[]>> = {
  slots: Object.values(SlotStatus),
  'waitlist-entries': Object.values(EntryStatus),
  orders: Object.values(OrderStatus),
  notifications: Object.values(NotificationStatus),
};

/** Whether the `status` filter applies to `entity`. */
export function statusAppliesTo(entity: ExportEntity, status: string): boolean {
  return exportStatuses[entity]?.includes(status) ?? false;
}

/** An export's filters as stored on its row: ISO instants and a status name. */
export interface ExportFilters {
  /** Created at or after. */
  from?: string;
  /** Created before. */
  to?: string;
  status?: string;
}

/** The asked entities, once each, in file order. */
export function inFileOrder(entities: readonly ExportEntity[]): ExportEntity[] {
  return exportEntities.filter((entity) => entities.includes(entity));
}

export function contentTypeOf(format: ExportFormat): string {
  return format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8';
}

export function fileExtensionOf(format: ExportFormat): string {
  return format === 'csv' ? 'csv' : 'ndjson';
}

/** Where an export's file lives in the file store: IDs only. */
export function exportFileKey(tenantId: string, exportId: string, format: ExportFormat): string {
  return `${tenantId}/exports/${exportId}.${fileExtensionOf(format)}`;
}

/** A stored value as an export writes it: instants as ISO-8601, big numbers and JSON as text. */
export type ExportValue = string | number | boolean | null;

/** A database value in its export form. */
export function exportValue(value: unknown): ExportValue {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'object' && 'toFixed' in value) return (value as { toFixed: () => string }).toFixed(); // Prisma Decimal
  return JSON.stringify(value);
}

/**
 * One CSV field per RFC 4180: quoted when it holds a comma, quote, CR or LF (quotes doubled).
 * A text that a spreadsheet would run as a formula (starting with = + - @, or a tab or CR before
 * one) gets a leading apostrophe first, so opening an export never executes a customer's input.
 * Numbers and booleans are written as they are: a negative amount is data, not a formula.
 */
export function csvField(value: ExportValue): string {
  if (value === null) return '';
  if (typeof value !== 'string') return String(value);
  const guarded = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(guarded) ? `"${guarded.replace(/"/g, '""')}"` : guarded;
}

/** A CSV record, CRLF-terminated as RFC 4180 asks. */
export function csvRecord(fields: readonly ExportValue[]): string {
  return `${fields.map(csvField).join(',')}\r\n`;
}

/** The header row of an entity's CSV section. */
export function csvHeader(entity: ExportEntity): string {
  return csvRecord(['entity', ...exportColumns[entity]]);
}

/** What goes before an entity's section: its header, after an empty line when a section came before. */
export function sectionStart(format: ExportFormat, entity: ExportEntity, first: boolean): string {
  if (format === 'ndjson') return '';
  return `${first ? '' : '\r\n'}${csvHeader(entity)}`;
}

/** One row in the file's format: a CSV record or an NDJSON line. */
export function formatRow(format: ExportFormat, entity: ExportEntity, row: Record<string, unknown>): string {
  const values = exportColumns[entity].map((column) => exportValue(row[column]));
  if (format === 'csv') return csvRecord([entity, ...values]);
  const line: Record<string, ExportValue> = { entity };
  exportColumns[entity].forEach((column, index) => (line[column] = values[index]!));
  return `${JSON.stringify(line)}\n`;
}

/** Progress as the state query and the API show it. */
export interface ExportProgress {
  rowsDone: number;
  rowsTotal: number | null;
  percent: number | null;
  /** Seconds left at the rate so far, or null before there is a rate. */
  etaSeconds: number | null;
  bytes: number;
}

/** Progress from rows done of a total and the rate since `startedAt`. */
export function exportProgress(
  rowsDone: number,
  rowsTotal: number | null,
  bytes: number,
  startedAt: Date | null,
  now: Date,
): ExportProgress {
  const percent =
    rowsTotal === null ? null : rowsTotal === 0 ? 100 : Math.min(100, Math.floor((rowsDone / rowsTotal) * 100));
  const elapsedSeconds = startedAt ? (now.getTime() - startedAt.getTime()) / 1000 : 0;
  const etaSeconds =
    rowsTotal === null || rowsDone === 0 || elapsedSeconds <= 0
      ? null
      : Math.max(0, Math.ceil(((rowsTotal - rowsDone) * elapsedSeconds) / rowsDone));
  return { rowsDone, rowsTotal, percent, etaSeconds, bytes };
}
