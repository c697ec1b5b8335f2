import { CREDIT_COMMITTED_STATUSES } from '../domain/orders';
import {
  ageingBucketOf,
  ageingBuckets,
  daysOf,
  totalsOf,
  weeksOf,
  type ReportChart,
  type ReportColumn,
  type ReportFilters,
  type ReportPeriod,
  type ReportRow,
  type ReportTable,
  type ReportType,
} from '../domain/reports';
import { Prisma, type PrismaClient } from '../lib/db';

/**
 * The queries behind each report type. Every query is scoped to the tenant and aggregated in
 * PostgreSQL, so a report over a year of orders reads a row per day or per retailer, not per order.
 * Days and weeks are UTC; timestamps are stored as UTC wall time, so they are compared as such.
 */

export interface ReportQuery {
  tenantId: string;
  type: ReportType;
  period: ReportPeriod;
  filters: ReportFilters;
  /**
   * The instant payment standing is judged at: the period's end, or the request's time when the
   * period ends later (a `to` in the future). Not `now()`, so a retried report reads the same.
   */
  asOf: Date;
}

/** The period's bounds as the `timestamp` columns hold them (UTC wall time). */
function bounds(period: ReportPeriod) {
  return { start: period.start.toISOString(), end: period.end.toISOString() };
}

const count = (key: string, label: string): ReportColumn => ({ key, label, kind: 'count' });
const money = (key: string, label: string): ReportColumn => ({ key, label, kind: 'money' });

/** Rows keyed by `key`, each starting from zeros, filled in from `(key, kind, n)` tuples. */
function pivot(keys: string[], columns: ReportColumn[], tuples: { key: string; kind: string; n: number }[]) {
  const rows = new Map<string, ReportRow>();
  for (const key of keys) {
    const row: ReportRow = { [columns[0]!.key]: key };
    for (const column of columns.slice(1)) row[column.key] = 0;
    rows.set(key, row);
  }
  for (const { key, kind, n } of tuples) {
    const row = rows.get(key);
    if (row && kind in row) row[kind] = Number(row[kind]) + Number(n);
  }
  return [...rows.values()];
}

/** The value of column `key` of every row, for a chart series. */
const seriesOf = (rows: ReportRow[], key: string) => rows.map((row) => Number(row[key] ?? 0));

/** Chart series of `rows`, one per `[label, column]`. */
const plot = (rows: ReportRow[], plotted: [label: string, key: string][]) =>
  plotted.map(([label, key]) => ({ label, values: seriesOf(rows, key) }));

/** Chart labels: the value of column `key` of every row. */
const labelsOf = (rows: ReportRow[], key: string) => rows.map((row) => String(row[key]));

/** A report's data: its rows, their totals (the column sums unless given) and its chart. */
function reportTable(
  columns: ReportColumn[],
  rows: ReportRow[],
  chart: ReportChart,
  totals: ReportRow = totalsOf(columns, rows, 'Total'),
): ReportTable {
  return { columns, rows, totals, chart };
}

async function waitlistActivity(prisma: PrismaClient, { tenantId, period, filters }: ReportQuery) {
  const { start, end } = bounds(period);
  const slot = (alias: string) =>
    filters.slotId ? Prisma.sql`AND ${Prisma.raw(alias)}."slotId" = ${filters.slotId}` : Prisma.empty;
  const tuples = await prisma.$queryRaw<{ key: string; kind: string; n: number }[]>`
    SELECT key, kind, count(*)::int AS n FROM (
      SELECT to_char(e."joinedAt", 'YYYY-MM-DD') AS key, 'joined' AS kind FROM "WaitlistEntry" e
        WHERE e."tenantId" = ${tenantId} AND e."joinedAt" >= ${start}::timestamp AND e."joinedAt" < ${end}::timestamp ${slot('e')}
      UNION ALL
      SELECT to_char(h."createdAt", 'YYYY-MM-DD'), 'offered' FROM "Hold" h
        WHERE h."tenantId" = ${tenantId} AND h."createdAt" >= ${start}::timestamp AND h."createdAt" < ${end}::timestamp ${slot('h')}
      UNION ALL
      SELECT to_char(o.at, 'YYYY-MM-DD'), o.kind FROM (
        SELECT CASE WHEN h.status = 'EXPIRED' THEN h."expiresAt" ELSE coalesce(h."respondedAt", h."updatedAt") END AS at,
               lower(h.status::text) AS kind
          FROM "Hold" h
          WHERE h."tenantId" = ${tenantId} AND h.status IN ('CONFIRMED', 'DECLINED', 'EXPIRED') ${slot('h')}
      ) o WHERE o.at >= ${start}::timestamp AND o.at < ${end}::timestamp
    ) activity GROUP BY key, kind`;
  const columns: ReportColumn[] = [
    { key: 'day', label: 'Day', kind: 'date' },
    count('joined', 'Joined'),
    count('offered', 'Offers made'),
    count('confirmed', 'Confirmed'),
    count('declined', 'Declined'),
    count('expired', 'Expired'),
  ];
  const rows = pivot(daysOf(period), columns, tuples);
  return reportTable(columns, rows, {
    kind: 'stacked-bars',
    title: 'How offers ended, per day',
    labels: labelsOf(rows, 'day'),
    series: plot(rows, [
      ['Confirmed', 'confirmed'],
      ['Declined', 'declined'],
      ['Expired', 'expired'],
    ]),
  });
}

/** Order statuses grouped as the report shows them: still being routed or assigned counts as open. */
const orderStatusColumn: Record<string, string> = {
  PENDING: 'open',
  ROUTING: 'open',
  ASSIGNED: 'open',
  NEEDS_ATTENTION: 'open',
  DISPATCHED: 'dispatched',
  DELIVERED: 'delivered',
  PAID: 'paid',
  REJECTED: 'rejected',
  CANCELLED: 'cancelled',
};

const retailerFilter = (filters: ReportFilters, alias = 'o') =>
  filters.retailerId ? Prisma.sql`AND ${Prisma.raw(alias)}."retailerId" = ${filters.retailerId}` : Prisma.empty;

async function orderVolume(prisma: PrismaClient, { tenantId, period, filters }: ReportQuery) {
  const { start, end } = bounds(period);
  const groups = await prisma.$queryRaw<{ key: string; status: string; n: number; value: number }[]>`
    SELECT to_char(o."createdAt", 'YYYY-MM-DD') AS key, o.status::text AS status, count(*)::int AS n,
           coalesce(sum(o.total) FILTER (WHERE o.status NOT IN ('REJECTED', 'CANCELLED')), 0)::float8 AS value
      FROM "Order" o
      WHERE o."tenantId" = ${tenantId} AND o."createdAt" >= ${start}::timestamp AND o."createdAt" < ${end}::timestamp
        ${retailerFilter(filters)}
      GROUP BY 1, 2`;
  const columns: ReportColumn[] = [
    { key: 'day', label: 'Day', kind: 'date' },
    count('placed', 'Placed'),
    count('open', 'Open'),
    count('dispatched', 'Dispatched'),
    count('delivered', 'Delivered'),
    count('paid', 'Paid'),
    count('rejected', 'Rejected'),
    count('cancelled', 'Cancelled'),
    // What was ordered and still counts: rejected and cancelled orders are in their counts, not here.
    money('value', 'Value (excl. rejected, cancelled)'),
  ];
  const tuples = groups.flatMap(({ key, status, n, value }) => [
    { key, kind: 'placed', n },
    { key, kind: orderStatusColumn[status] ?? 'open', n },
    { key, kind: 'value', n: value },
  ]);
  const rows = pivot(daysOf(period), columns, tuples);
  return reportTable(columns, rows, {
    kind: 'line',
    title: 'Orders placed per day',
    labels: labelsOf(rows, 'day'),
    series: plot(rows, [
      ['Placed', 'placed'],
      ['Paid', 'paid'],
    ]),
  });
}

/** The tenant's payments received before an instant, per order. */
const paidBefore = (tenantId: string, end: string) => Prisma.sql`
  SELECT p."orderId", sum(p.amount)::float8 AS paid FROM "Payment" p
    WHERE p."tenantId" = ${tenantId} AND p."receivedAt" < ${end}::timestamp GROUP BY p."orderId"`;

async function paymentDiscipline(prisma: PrismaClient, { tenantId, period, filters, asOf }: ReportQuery) {
  const { start, end } = bounds(period);
  const at = asOf.toISOString();
  // Orders due in the period, judged as of `asOf` (the period's end, or the request's time when the
  // period ends later): settled means paid by then; unpaid and due by then is past due; unpaid and
  // due later (only when the period ends after the request) is not yet due.
  const groups = await prisma.$queryRaw<{ key: string; kind: string; n: number; unpaid: number }[]>`
    SELECT to_char(date_trunc('week', o."dueDate"), 'YYYY-MM-DD') AS key,
           CASE WHEN o."paidAt" IS NOT NULL AND o."paidAt" < ${at}::timestamp AND o."paidAt" <= o."dueDate" THEN 'onTime'
                WHEN o."paidAt" IS NOT NULL AND o."paidAt" < ${at}::timestamp THEN 'late'
                WHEN o."dueDate" < ${at}::timestamp THEN 'outstanding'
                ELSE 'notYetDue' END AS kind,
           count(*)::int AS n,
           sum(o.total - coalesce(p.paid, 0))::float8 AS unpaid
      FROM "Order" o LEFT JOIN (${paidBefore(tenantId, at)}) p ON p."orderId" = o.id
      WHERE o."tenantId" = ${tenantId} AND o."dueDate" >= ${start}::timestamp AND o."dueDate" < ${end}::timestamp
        AND o.status NOT IN ('REJECTED', 'CANCELLED') ${retailerFilter(filters)}
      GROUP BY 1, 2`;
  const columns: ReportColumn[] = [
    { key: 'week', label: 'Week of', kind: 'date' },
    count('due', 'Due'),
    count('onTime', 'On time'),
    count('late', 'Late'),
    count('outstanding', 'Past due'),
    count('notYetDue', 'Not yet due'),
    { key: 'onTimeRate', label: 'On time %', kind: 'percent' },
    money('outstandingAmount', 'Past due amount'),
  ];
  const tuples = groups.flatMap(({ key, kind, n, unpaid }) => [
    { key, kind: 'due', n },
    { key, kind, n },
    ...(kind === 'outstanding' ? [{ key, kind: 'outstandingAmount', n: unpaid }] : []),
  ]);
  const rows = pivot(weeksOf(period), columns, tuples);
  const withRate = (row: ReportRow): ReportRow => {
    const settledOrDue = Number(row.onTime) + Number(row.late) + Number(row.outstanding);
    return { ...row, onTimeRate: settledOrDue ? Math.round((Number(row.onTime) / settledOrDue) * 1000) / 10 : '' };
  };
  return reportTable(
    columns,
    rows.map(withRate),
    {
      kind: 'stacked-bars',
      title: 'Payments by due week: on time, late, past due',
      labels: labelsOf(rows, 'week'),
      series: plot(rows, [
        ['On time', 'onTime'],
        ['Late', 'late'],
        ['Past due', 'outstanding'],
      ]),
    },
    withRate(totalsOf(columns, rows, 'Total')),
  );
}

async function creditSummary(prisma: PrismaClient, { tenantId, period, filters }: ReportQuery) {
  const { start, end } = bounds(period);
  const committed = Prisma.join(CREDIT_COMMITTED_STATUSES.map((status) => Prisma.sql`${status}`));
  // Outstanding is what the credit check counts today (committed orders less payments); the
  // orders and their value are those placed in the period.
  const retailers = await prisma.$queryRaw<
    { name: string; creditLimit: number; creditScore: number; orders: number; value: number; outstanding: number }[]
  >`
    SELECT r.name, r."creditLimit", r."creditScore",
           count(o.id) FILTER (WHERE o."createdAt" >= ${start}::timestamp AND o."createdAt" < ${end}::timestamp)::int AS orders,
           coalesce(sum(o.total) FILTER (WHERE o."createdAt" >= ${start}::timestamp AND o."createdAt" < ${end}::timestamp), 0)::float8 AS value,
           coalesce(sum(o.total - coalesce(p.paid, 0)) FILTER (WHERE o.status::text IN (${committed})), 0)::float8 AS outstanding
      FROM "Retailer" r
      LEFT JOIN "Order" o ON o."retailerId" = r.id
      LEFT JOIN (SELECT "orderId", sum(amount)::float8 AS paid FROM "Payment" WHERE "tenantId" = ${tenantId} GROUP BY "orderId") p
        ON p."orderId" = o.id
      WHERE r."tenantId" = ${tenantId} ${retailerIdFilter(filters)}
      GROUP BY r.id ORDER BY r.name, r.id`;
  const columns: ReportColumn[] = [
    { key: 'retailer', label: 'Retailer', kind: 'text' },
    money('creditLimit', 'Credit limit'),
    { key: 'creditScore', label: 'Score', kind: 'text' },
    count('orders', 'Orders'),
    money('value', 'Ordered'),
    money('outstanding', 'Outstanding'),
    { key: 'utilisation', label: 'Used %', kind: 'percent' },
  ];
  const rows: ReportRow[] = retailers.map((r) => ({
    retailer: r.name,
    creditLimit: Number(r.creditLimit),
    creditScore: Number(r.creditScore),
    orders: Number(r.orders),
    value: Number(r.value),
    outstanding: Number(r.outstanding),
    utilisation: r.creditLimit > 0 ? Math.round((Number(r.outstanding) / Number(r.creditLimit)) * 1000) / 10 : '',
  }));
  const totals = totalsOf(columns, rows, 'Total');
  const limit = Number(totals.creditLimit);
  totals.utilisation = limit > 0 ? Math.round((Number(totals.outstanding) / limit) * 1000) / 10 : '';
  const charted = rows.slice(0, 20);
  return reportTable(
    columns,
    rows,
    {
      kind: 'stacked-bars',
      title: 'Credit used and available per retailer',
      labels: labelsOf(charted, 'retailer'),
      series: [
        ...plot(charted, [['Outstanding', 'outstanding']]),
        {
          label: 'Available',
          values: charted.map((row) => Math.max(0, Number(row.creditLimit) - Number(row.outstanding))),
        },
      ],
      money: true,
    },
    totals,
  );
}

/** The retailer filter on the Retailer table itself (credit summary lists retailers, not orders). */
function retailerIdFilter(filters: ReportFilters) {
  return filters.retailerId ? Prisma.sql`AND r.id = ${filters.retailerId}` : Prisma.empty;
}

async function outstandingLiability(prisma: PrismaClient, { tenantId, period, filters }: ReportQuery) {
  const { end } = bounds(period);
  // As of the period's end: delivered orders (they have a due date) not paid by then, less what was paid by then.
  const unpaid = await prisma.$queryRaw<
    { retailer: string; retailerId: string; daysPastDue: number; unpaid: number }[]
  >`
    SELECT r.name AS retailer, r.id AS "retailerId",
           floor(extract(epoch FROM (${end}::timestamp - o."dueDate")) / 86400)::int AS "daysPastDue",
           (o.total - coalesce(p.paid, 0))::float8 AS unpaid
      FROM "Order" o
      JOIN "Retailer" r ON r.id = o."retailerId"
      LEFT JOIN (${paidBefore(tenantId, end)}) p ON p."orderId" = o.id
      WHERE o."tenantId" = ${tenantId} AND o."dueDate" IS NOT NULL AND o."deliveredAt" < ${end}::timestamp
        AND (o."paidAt" IS NULL OR o."paidAt" >= ${end}::timestamp)
        AND o.status NOT IN ('REJECTED', 'CANCELLED') ${retailerFilter(filters)}
        AND o.total - coalesce(p.paid, 0) > 0
      ORDER BY r.name, r.id`;
  const columns: ReportColumn[] = [
    { key: 'retailer', label: 'Retailer', kind: 'text' },
    ...ageingBuckets.map((bucket) => money(bucket, `${bucket.replace('-', '–')} days`)),
    money('total', 'Total unpaid'),
  ];
  const byRetailer = new Map<string, ReportRow>();
  for (const order of unpaid) {
    const row = byRetailer.get(order.retailerId) ?? {
      retailer: order.retailer,
      ...Object.fromEntries(ageingBuckets.map((bucket) => [bucket, 0])),
      total: 0,
    };
    const bucket = ageingBucketOf(Number(order.daysPastDue));
    row[bucket] = Number(row[bucket]) + Number(order.unpaid);
    row.total = Number(row.total) + Number(order.unpaid);
    byRetailer.set(order.retailerId, row);
  }
  const rows = [...byRetailer.values()];
  const charted = rows.slice(0, 20);
  return reportTable(columns, rows, {
    kind: 'stacked-bars',
    title: 'Unpaid amounts per retailer by days past due',
    labels: labelsOf(charted, 'retailer'),
    series: plot(
      charted,
      ageingBuckets.map((bucket) => [`${bucket} days`, bucket]),
    ),
    money: true,
  });
}

async function notificationsReport(prisma: PrismaClient, { tenantId, period, filters }: ReportQuery) {
  const { start, end } = bounds(period);
  const channel = filters.channel ? Prisma.sql`AND n.channel::text = ${filters.channel}` : Prisma.empty;
  const groups = await prisma.$queryRaw<{ day: string; channel: string; status: string; n: number }[]>`
    SELECT to_char(n."createdAt", 'YYYY-MM-DD') AS day, n.channel::text AS channel, n.status::text AS status,
           count(*)::int AS n
      FROM "Notification" n
      WHERE n."tenantId" = ${tenantId} AND n."createdAt" >= ${start}::timestamp AND n."createdAt" < ${end}::timestamp ${channel}
      GROUP BY 1, 2, 3 ORDER BY 1, 2`;
  const columns: ReportColumn[] = [
    { key: 'day', label: 'Day', kind: 'date' },
    { key: 'channel', label: 'Channel', kind: 'text' },
    count('sent', 'Sent'),
    count('failed', 'Failed'),
    count('cancelled', 'Cancelled'),
    count('pending', 'Pending'),
  ];
  const rowsByKey = new Map<string, ReportRow>();
  for (const group of groups) {
    const key = `${group.day} ${group.channel}`;
    const row = rowsByKey.get(key) ?? {
      day: group.day,
      channel: group.channel,
      sent: 0,
      failed: 0,
      cancelled: 0,
      pending: 0,
    };
    const column = group.status === 'SCHEDULED' ? 'pending' : group.status.toLowerCase();
    row[column] = Number(row[column] ?? 0) + Number(group.n);
    rowsByKey.set(key, row);
  }
  const rows = [...rowsByKey.values()];
  const days = daysOf(period);
  const perDay = (column: string) =>
    days.map((day) => rows.filter((row) => row.day === day).reduce((sum, row) => sum + Number(row[column]), 0));
  return reportTable(columns, rows, {
    kind: 'stacked-bars',
    title: 'Notifications per day: sent, failed, cancelled',
    labels: days,
    series: [
      { label: 'Sent', values: perDay('sent') },
      { label: 'Failed', values: perDay('failed') },
      { label: 'Cancelled', values: perDay('cancelled') },
    ],
  });
}

const loaders: Record<ReportType, (prisma: PrismaClient, query: ReportQuery) => Promise<ReportTable>> = {
  'waitlist-activity': waitlistActivity,
  'order-volume': orderVolume,
  'payment-discipline': paymentDiscipline,
  'credit-summary': creditSummary,
  'outstanding-liability': outstandingLiability,
  notifications: notificationsReport,
};

/** The report's data: its rows in a fixed order, the totals and the chart's series. */
export function loadReportTable(prisma: PrismaClient, query: ReportQuery): Promise<ReportTable> {
  return loaders[query.type](prisma, query);
}
