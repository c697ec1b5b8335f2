/**
 * Reports over a tenant's own data: the types, formats and periods the API accepts, and the
 * shape every report's data takes before it is written as CSV, JSON or PDF.
 *
 * Pure: the workflow, its contract, the API and the activities import it.
 */

/** What a report can be about; each reads Holdfast's own tables (activities/report-data.ts). */
export const reportTypes = [
  'waitlist-activity',
  'order-volume',
  'payment-discipline',
  'credit-summary',
  'outstanding-liability',
  'notifications',
] as const;
export type ReportType = (typeof reportTypes)[number];

export const reportFormats = ['csv', 'json', 'pdf'] as const;
export type ReportFormat = (typeof reportFormats)[number];

/** What each run of a report schedule covers, ending when the run starts. */
export const schedulePeriods = ['day', 'week', 'month'] as const;
export type SchedulePeriod = (typeof schedulePeriods)[number];

/** A report with no `from` covers the 30 days before its `to` (or before now). */
export const DEFAULT_PERIOD_DAYS = 30;
/** The longest period one report may cover: a year, leap day included. */
export const MAX_PERIOD_DAYS = 366;

const DAY_MS = 24 * 60 * 60 * 1000;

export const reportTitles: Record<ReportType, string> = {
  'waitlist-activity': 'Waitlist activity',
  'order-volume': 'Order volume',
  'payment-discipline': 'Payment discipline',
  'credit-summary': 'Credit summary',
  'outstanding-liability': 'Outstanding liability',
  notifications: 'Notifications',
};

/** Which optional filters narrow which report types (beside the period, which all take). */
export const reportFilterScopes = {
  retailerId: ['order-volume', 'payment-discipline', 'credit-summary', 'outstanding-liability'],
  slotId: ['waitlist-activity'],
  channel: ['notifications'],
} as const satisfies Record<string, readonly ReportType[]>;

/** The filters a report was asked for, as stored in its row (a type, so it is a JSON object). */
export type ReportFilters = {
  from?: string;
  to?: string;
  retailerId?: string;
  slotId?: string;
  channel?: 'EMAIL' | 'SMS' | 'WHATSAPP';
};

export interface ReportPeriod {
  start: Date;
  end: Date;
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * The instant an ISO date or date-time names; a bare date is midnight UTC of that day, or with
 * `endOfDay` the midnight after it, so `to: 2026-11-30` includes the whole of the 30th.
 */
export function instantOf(value: string, endOfDay = false): Date {
  const date = new Date(DATE_ONLY.test(value) ? `${value}T00:00:00.000Z` : value);
  return endOfDay && DATE_ONLY.test(value) ? new Date(date.getTime() + DAY_MS) : date;
}

/** Why a period cannot be reported on, or the period: `[start, end)`. */
export function resolvePeriod(
  filters: Pick<ReportFilters, 'from' | 'to'>,
  now: Date,
): { period: ReportPeriod } | { problem: { field: 'from' | 'to'; message: string } } {
  const end = filters.to ? instantOf(filters.to, true) : now;
  const start = filters.from ? instantOf(filters.from) : new Date(end.getTime() - DEFAULT_PERIOD_DAYS * DAY_MS);
  if (Number.isNaN(end.getTime())) return { problem: { field: 'to', message: 'expected an ISO-8601 date' } };
  if (Number.isNaN(start.getTime())) return { problem: { field: 'from', message: 'expected an ISO-8601 date' } };
  if (start.getTime() >= end.getTime()) return { problem: { field: 'from', message: 'expected from before to' } };
  if (end.getTime() - start.getTime() > MAX_PERIOD_DAYS * DAY_MS) {
    return { problem: { field: 'from', message: `a report covers at most ${MAX_PERIOD_DAYS} days` } };
  }
  return { period: { start, end } };
}

/** How many report schedules one tenant may have: each run renders a file and sends an email. */
export const MAX_REPORT_SCHEDULES_PER_TENANT = 20;

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock date and time an instant shows in a time zone. */
function wallTimeOf(instant: number, timeZone: string) {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, format);
  }
  const parts: Record<string, number> = {};
  for (const part of format.formatToParts(new Date(instant))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return {
    year: parts.year!,
    month: parts.month!,
    day: parts.day!,
    hour: parts.hour!,
    minute: parts.minute!,
    second: parts.second!,
  };
}

/** How far a time zone's wall clock is ahead of UTC at an instant, in ms (+1 h for Berlin in winter). */
function offsetAt(instant: number, timeZone: string): number {
  const wall = wallTimeOf(instant, timeZone);
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
  return asUtc - Math.floor(instant / 1000) * 1000;
}

/**
 * The instant a local date's midnight falls at in a time zone. Month and day may be out of range
 * (day 0, month 13) and are normalised as Date.UTC does; a midnight a DST change skips is the
 * first instant after it.
 */
function localMidnight(year: number, month: number, day: number, timeZone: string): Date {
  const wall = Date.UTC(year, month - 1, day);
  const first = wall - offsetAt(wall, timeZone);
  const second = wall - offsetAt(first, timeZone);
  if (second === first || wall - offsetAt(second, timeZone) === second) return new Date(second);
  // Neither shows midnight (the clocks jumped over it): the day starts when they jumped, the later one.
  return new Date(Math.max(first, second));
}

/**
 * The period a scheduled run covers: the last full day, week (Monday to Monday) or calendar month
 * in the schedule's time zone before the run starts. A weekly run at Monday 08:00 Berlin covers
 * the Berlin week before it, midnight to midnight, so a day of it is 23 or 25 hours across a DST
 * change; a monthly run covers the calendar month before, so its length follows the month.
 * Pure and deterministic (the run's start comes in), so an activity retry covers the same period.
 */
export function periodEndingAt(period: SchedulePeriod, runStart: Date, timeZone = 'UTC'): ReportPeriod {
  const today = wallTimeOf(runStart.getTime(), timeZone);
  if (period === 'day') {
    return {
      start: localMidnight(today.year, today.month, today.day - 1, timeZone),
      end: localMidnight(today.year, today.month, today.day, timeZone),
    };
  }
  if (period === 'week') {
    const sinceMonday = (new Date(Date.UTC(today.year, today.month - 1, today.day)).getUTCDay() + 6) % 7;
    const monday = today.day - sinceMonday;
    return {
      start: localMidnight(today.year, today.month, monday - 7, timeZone),
      end: localMidnight(today.year, today.month, monday, timeZone),
    };
  }
  // Calendar months from the 1st, so no month is cut short by a shorter one (31 March never becomes 3 March).
  return {
    start: localMidnight(today.year, today.month - 1, 1, timeZone),
    end: localMidnight(today.year, today.month, 1, timeZone),
  };
}

export function fileExtensionOf(format: ReportFormat): string {
  return format;
}

export function contentTypeOf(format: ReportFormat): string {
  switch (format) {
    case 'csv':
      return 'text/csv; charset=utf-8';
    case 'json':
      return 'application/json';
    case 'pdf':
      return 'application/pdf';
  }
}

/** Where a report's file lives in the file store: IDs only. */
export function reportFileKey(tenantId: string, reportId: string, format: ReportFormat): string {
  return `${tenantId}/reports/${reportId}.${fileExtensionOf(format)}`;
}

/** How a column's values are written: money is in minor units in CSV and JSON, and in major units in PDF. */
export type ColumnKind = 'text' | 'date' | 'count' | 'money' | 'percent';

export interface ReportColumn {
  key: string;
  label: string;
  kind: ColumnKind;
}

export type ReportCell = string | number;
export type ReportRow = Record<string, ReportCell>;

/** A chart of the report's data: stacked bars (shares of a whole) or lines (a trend over time). */
export interface ReportChart {
  kind: 'stacked-bars' | 'line';
  title: string;
  /** One label per point along the horizontal axis (a day, a week, a retailer). */
  labels: string[];
  series: { label: string; values: number[] }[];
  /** Money values are drawn in major units. */
  money?: boolean;
}

/** A report's data, whatever its format: rows in a fixed order, totals and a chart. */
export interface ReportTable {
  columns: ReportColumn[];
  rows: ReportRow[];
  /** Sums of the numeric columns (a ratio column is recomputed over the totals). */
  totals: ReportRow;
  chart: ReportChart;
}

/** What a rendered report says about itself: its heading and the facts under it. */
export interface ReportHeading {
  reportId: string;
  type: ReportType;
  title: string;
  tenantName: string;
  period: ReportPeriod;
  /** When the report was requested (its row's createdAt): the PDF's creation date, so a retry renders the same bytes. */
  requestedAt: Date;
}

/** `2026-11-30`: the UTC day of an instant. */
export function dayOf(instant: Date): string {
  return instant.toISOString().slice(0, 10);
}

/** The Monday (UTC) of the ISO week an instant falls in, as `YYYY-MM-DD`. */
export function weekOf(instant: Date): string {
  const day = new Date(Date.UTC(instant.getUTCFullYear(), instant.getUTCMonth(), instant.getUTCDate()));
  const sinceMonday = (day.getUTCDay() + 6) % 7;
  return dayOf(new Date(day.getTime() - sinceMonday * DAY_MS));
}

/** Every UTC day the period touches, in order, so days with no activity still get a row. */
export function daysOf(period: ReportPeriod): string[] {
  const days: string[] = [];
  const last = dayOf(new Date(period.end.getTime() - 1));
  for (let day = dayOf(period.start); day <= last; day = dayOf(new Date(instantOf(day).getTime() + DAY_MS))) {
    days.push(day);
  }
  return days;
}

/** Every ISO week (its Monday) the period touches, in order. */
export function weeksOf(period: ReportPeriod): string[] {
  const weeks: string[] = [];
  const last = weekOf(new Date(period.end.getTime() - 1));
  for (let week = weekOf(period.start); week <= last; week = dayOf(new Date(instantOf(week).getTime() + 7 * DAY_MS))) {
    weeks.push(week);
  }
  return weeks;
}

export const ageingBuckets = ['0-30', '31-60', '61-90', '90+'] as const;
export type AgeingBucket = (typeof ageingBuckets)[number];

/**
 * The ageing bucket of an unpaid amount, by whole days past its due date; an amount not yet due
 * (negative days) is current and counts in 0–30.
 */
export function ageingBucketOf(daysPastDue: number): AgeingBucket {
  if (daysPastDue <= 30) return '0-30';
  if (daysPastDue <= 60) return '31-60';
  if (daysPastDue <= 90) return '61-90';
  return '90+';
}

/** The sums of a table's count and money columns over its rows. */
export function totalsOf(columns: ReportColumn[], rows: ReportRow[], label: string): ReportRow {
  const totals: ReportRow = {};
  for (const column of columns) {
    if (column.kind === 'count' || column.kind === 'money') {
      totals[column.key] = rows.reduce((sum, row) => sum + Number(row[column.key] ?? 0), 0);
    }
  }
  totals[columns[0]!.key] = label;
  return totals;
}

/** Major units with two decimals, grouped by thousands: 1234567 → "12,345.67". */
export function formatMoney(minor: number): string {
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(Math.round(minor));
  const major = Math.floor(abs / 100)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${sign}${major}.${(abs % 100).toString().padStart(2, '0')}`;
}

/** A cell as a person reads it (the PDF's table). */
export function formatCell(kind: ColumnKind, value: ReportCell | undefined): string {
  if (value === undefined || value === '') return '';
  if (typeof value === 'string') return value;
  switch (kind) {
    case 'money':
      return formatMoney(value);
    case 'percent':
      return `${value.toFixed(1)} %`;
    default:
      return String(value);
  }
}

/** The fields of a five-field cron expression, with their bounds and the names each accepts. */
const cronFields: { name: string; min: number; max: number; names?: string[] }[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  },
  // 7 is Sunday as well as 0, as in most crons; Temporal accepts both.
  { name: 'day of week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

/**
 * Why a cron expression is not one a report schedule takes, or undefined when it is: exactly
 * five fields (minute hour day-of-month month day-of-week), each `*`, a number, a range or a list
 * of them, optionally with a `/step`; months and weekdays may be named (MON, JAN).
 */
export function cronProblem(cron: string): string | undefined {
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5) return 'expected five fields: minute hour day-of-month month day-of-week';
  for (const [index, field] of fields.entries()) {
    const spec = cronFields[index]!;
    const valueOf = (text: string): number | undefined => {
      if (/^\d{1,2}$/.test(text)) return Number(text);
      const named = spec.names?.indexOf(text.toUpperCase()) ?? -1;
      return named >= 0 ? named + (spec.name === 'month' ? 1 : 0) : undefined;
    };
    for (const part of field.split(',')) {
      const match = /^([^/]+)(?:\/(\d{1,2}))?$/.exec(part);
      const problem = `the ${spec.name} field "${field}" is not valid`;
      if (!match) return problem;
      const [, range, step] = match;
      if (step !== undefined && Number(step) < 1) return problem;
      if (range === '*') continue;
      const [low, high, ...rest] = range!.split('-');
      const from = valueOf(low!);
      const to = high === undefined ? from : valueOf(high);
      if (rest.length > 0 || from === undefined || to === undefined) return problem;
      if (from < spec.min || to > spec.max || from > to) return problem;
    }
  }
  return undefined;
}

/**
 * Why a valid cron expression runs too often for a report schedule, or undefined: a schedule
 * runs at most once an hour, so its minute field must be one minute (`0`, `30`), not `*`, a
 * list, a range or a step. Each run renders a file and sends an email, so a schedule every
 * minute would flood the reports worker and the recipient.
 */
export function cronFrequencyProblem(cron: string): string | undefined {
  const minute = cron.trim().split(/\s+/)[0] ?? '';
  if (/^\d{1,2}$/.test(minute)) return undefined;
  return `a report schedule runs at most once an hour: the minute field must be a single minute such as 0, not "${minute}"`;
}

/**
 * Whether a time zone is an IANA zone (`Area/Location`, aliases such as Asia/Kathmandu included)
 * or UTC. The runtime's own zone data decides; abbreviations (CEST) and offsets are not zones.
 */
export function isKnownTimeZone(zone: string): boolean {
  if (zone === 'UTC') return true;
  if (!/^[A-Za-z]+(?:\/[A-Za-z0-9_+-]+)+$/.test(zone)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
