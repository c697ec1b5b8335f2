import { csvField, renderCsv } from '../../activities/report-csv';
import { niceCeiling } from '../../activities/report-pdf';
import { scheduleRowIdFor } from '../../api/services/report-schedules';
import {
  ageingBucketOf,
  cronProblem,
  daysOf,
  formatMoney,
  isKnownTimeZone,
  reportFileKey,
  resolvePeriod,
  totalsOf,
  weekOf,
  weeksOf,
} from '../../domain/reports';

const now = new Date('2026-12-02T10:30:00Z');

describe('report periods', () => {
  it('without dates a report covers the 30 days up to now', () => {
    expect(resolvePeriod({}, now)).toEqual({
      period: { start: new Date('2026-11-02T10:30:00Z'), end: now },
    });
  });

  it('a bare `to` date includes that whole day; a bare `from` date starts at its midnight (UTC)', () => {
    expect(resolvePeriod({ from: '2026-11-01', to: '2026-11-30' }, now)).toEqual({
      period: { start: new Date('2026-11-01T00:00:00Z'), end: new Date('2026-12-01T00:00:00Z') },
    });
  });

  it('instants with offsets are taken as given', () => {
    expect(resolvePeriod({ from: '2026-11-01T00:00:00+05:45', to: '2026-11-02T00:00:00Z' }, now)).toEqual({
      period: { start: new Date('2026-10-31T18:15:00Z'), end: new Date('2026-11-02T00:00:00Z') },
    });
  });

  it('366 days is the longest period; a day more, or from after to, is refused', () => {
    expect(resolvePeriod({ from: '2025-11-30', to: '2026-11-30' }, now)).toHaveProperty('period');
    expect(resolvePeriod({ from: '2025-11-29', to: '2026-11-30' }, now)).toEqual({
      problem: { field: 'from', message: 'a report covers at most 366 days' },
    });
    expect(resolvePeriod({ from: '2026-11-30', to: '2026-11-01' }, now)).toEqual({
      problem: { field: 'from', message: 'expected from before to' },
    });
  });

  it('days and ISO weeks (from Monday) of a period, in order, each once', () => {
    const november = { start: new Date('2026-11-01T00:00:00Z'), end: new Date('2026-12-01T00:00:00Z') };
    expect(daysOf(november)).toHaveLength(30);
    expect(daysOf(november)[0]).toBe('2026-11-01');
    expect(daysOf(november)[29]).toBe('2026-11-30');
    expect(weekOf(new Date('2026-11-01T12:00:00Z'))).toBe('2026-10-26');
    expect(weekOf(new Date('2026-11-02T00:00:00Z'))).toBe('2026-11-02');
    expect(weeksOf(november)).toEqual([
      '2026-10-26',
      '2026-11-02',
      '2026-11-09',
      '2026-11-16',
      '2026-11-23',
      '2026-11-30',
    ]);
  });
});

describe('report figures', () => {
  it('unpaid amounts age by whole days past due; not yet due counts as current (0–30)', () => {
    expect([-4, 0, 30, 31, 60, 61, 90, 91, 107].map(ageingBucketOf)).toEqual([
      '0-30',
      '0-30',
      '0-30',
      '31-60',
      '31-60',
      '61-90',
      '61-90',
      '90+',
      '90+',
    ]);
  });

  it('totals add up the count and money columns and label the first', () => {
    const columns = [
      { key: 'day', label: 'Day', kind: 'date' as const },
      { key: 'placed', label: 'Placed', kind: 'count' as const },
      { key: 'value', label: 'Value', kind: 'money' as const },
      { key: 'rate', label: 'Rate', kind: 'percent' as const },
    ];
    const rows = [
      { day: '2026-11-01', placed: 2, value: 1500, rate: 50 },
      { day: '2026-11-02', placed: 3, value: 250, rate: 10 },
    ];
    expect(totalsOf(columns, rows, 'Total')).toEqual({ day: 'Total', placed: 5, value: 1750 });
  });

  it('money is shown in major units, grouped by thousands', () => {
    expect(formatMoney(160_000)).toBe('1,600.00');
    expect(formatMoney(5)).toBe('0.05');
    expect(formatMoney(-123_456_789)).toBe('-1,234,567.89');
  });

  it("a chart's axis ends at 1, 2 or 5 times a power of ten", () => {
    expect([0, 1, 3, 7, 11, 90_000, 160_001].map(niceCeiling)).toEqual([1, 1, 5, 10, 20, 100_000, 200_000]);
  });

  it('file keys are made of IDs only', () => {
    expect(reportFileKey('t-1', 'r-1', 'pdf')).toBe('t-1/reports/r-1.pdf');
  });
});

describe('report CSV', () => {
  it('quotes separators and quotes, and defuses text a spreadsheet would run as a formula', () => {
    expect(csvField('Annapurna, Ltd')).toBe('"Annapurna, Ltd"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('=HYPERLINK("http://evil")')).toBe(`"'=HYPERLINK(""http://evil"")"`);
    expect(csvField('+1')).toBe("'+1");
    expect(csvField(-5)).toBe('-5');
  });

  it('writes a header of column keys and CRLF line ends', () => {
    const table = {
      columns: [
        { key: 'retailer', label: 'Retailer', kind: 'text' as const },
        { key: 'outstanding', label: 'Outstanding', kind: 'money' as const },
      ],
      rows: [{ retailer: 'Bhaktapur Mart', outstanding: 70_000 }],
      totals: {},
      chart: { kind: 'line' as const, title: '', labels: [], series: [] },
    };
    expect(renderCsv(table)).toBe('retailer,outstanding\r\nBhaktapur Mart,70000\r\n');
  });
});

describe('report schedules', () => {
  it.each([
    '0 6 * * MON',
    '30 7 * * *',
    '*/15 8-18 * * 1-5',
    '0 0 1 JAN,JUL *',
    '0 6 * * 0,7',
    '5,35 */2 1-15/2 * SUN',
  ])('accepts the five-field cron %s', (cron) => {
    expect(cronProblem(cron)).toBeUndefined();
  });

  it.each([
    ['every monday', 'expected five fields'],
    ['0 6 * *', 'expected five fields'],
    ['0 0 6 * * MON', 'expected five fields'],
    ['60 6 * * *', 'minute'],
    ['0 24 * * *', 'hour'],
    ['0 6 0 * *', 'day of month'],
    ['0 6 * 13 *', 'month'],
    ['0 6 * * 8', 'day of week'],
    ['0 6 * * FRI-MON', 'day of week'],
    ['*/0 6 * * *', 'minute'],
    ['@weekly x y z w', 'minute'],
  ])('refuses the cron %s', (cron, problem) => {
    expect(cronProblem(cron)).toContain(problem);
  });

  it('knows IANA time zones and UTC, not made-up ones', () => {
    expect(['UTC', 'Europe/Berlin', 'Asia/Kathmandu', 'America/New_York'].map(isKnownTimeZone)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(['Mars/Olympus_Mons', 'CEST', ''].map(isKnownTimeZone)).toEqual([false, false, false]);
  });

  it('an Idempotency-Key stands for one schedule ID per tenant, a UUID', () => {
    const id = scheduleRowIdFor('t-1', 'weekly-finance');
    expect(scheduleRowIdFor('t-1', 'weekly-finance')).toBe(id);
    expect(scheduleRowIdFor('t-2', 'weekly-finance')).not.toBe(id);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
