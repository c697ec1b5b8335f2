import { dayOf, type ReportCell, type ReportHeading, type ReportTable } from '../domain/reports';

/**
 * CSV and JSON renderings of a report. Both are for machines first: columns by key, money in
 * minor units, days as ISO dates, and rows in the order the report defines, so the same data
 * always gives the same bytes.
 */

/**
 * A CSV field: quoted when it holds a separator, quote or line break, and a text that a
 * spreadsheet would run as a formula (=, +, -, @ first: a retailer named "=HYPERLINK(…)") is
 * prefixed with an apostrophe.
 */
export function csvField(value: ReportCell | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'number') return String(value);
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The report as CSV (RFC 4180, CRLF line ends): a header of column keys, then one line per row. */
export function renderCsv(table: ReportTable): string {
  const lines = [table.columns.map((column) => csvField(column.key)).join(',')];
  for (const row of table.rows) lines.push(table.columns.map((column) => csvField(row[column.key])).join(','));
  return lines.join('\r\n') + '\r\n';
}

/** The report as one JSON document: what it is, over which period, its columns, rows and totals. */
export function renderJson(heading: ReportHeading, table: ReportTable): string {
  return (
    JSON.stringify(
      {
        reportId: heading.reportId,
        type: heading.type,
        title: heading.title,
        tenant: heading.tenantName,
        period: { from: heading.period.start.toISOString(), to: heading.period.end.toISOString() },
        requestedAt: heading.requestedAt.toISOString(),
        columns: table.columns,
        rows: table.rows,
        totals: table.totals,
      },
      null,
      2,
    ) + '\n'
  );
}

/** The period as a person reads it: `2026-11-01 – 2026-11-30 (UTC)`, the end day inclusive. */
export function describePeriod(heading: Pick<ReportHeading, 'period'>): string {
  const lastDay = dayOf(new Date(heading.period.end.getTime() - 1));
  return `${dayOf(heading.period.start)} – ${lastDay} (UTC)`;
}
