import { reportEtaSeconds } from '../../api/services/reports';
import { cronFrequencyProblem, cronProblem, periodEndingAt } from '../../domain/reports';

const at = (iso: string) => new Date(iso);
const hoursOf = ({ start, end }: { start: Date; end: Date }) => (end.getTime() - start.getTime()) / 3_600_000;

describe('a scheduled run covers the last full local day, week or month', () => {
  it('in UTC: the day before, the ISO week before (Monday to Monday), the calendar month before', () => {
    const run = at('2026-12-07T05:00:00Z'); // a Monday
    expect(periodEndingAt('day', run)).toEqual({ start: at('2026-12-06T00:00:00Z'), end: at('2026-12-07T00:00:00Z') });
    expect(periodEndingAt('week', run)).toEqual({ start: at('2026-11-30T00:00:00Z'), end: at('2026-12-07T00:00:00Z') });
    expect(periodEndingAt('month', run)).toEqual({
      start: at('2026-11-01T00:00:00Z'),
      end: at('2026-12-01T00:00:00Z'),
    });
  });

  it("in the schedule's zone: a weekly Monday 08:00 Berlin run covers the Berlin week, midnight to midnight", () => {
    expect(periodEndingAt('week', at('2026-12-07T07:00:00Z'), 'Europe/Berlin')).toEqual({
      start: at('2026-11-29T23:00:00Z'),
      end: at('2026-12-06T23:00:00Z'),
    });
  });

  it('the same run covers the same period whenever in the day it runs (a late or retried run included)', () => {
    const early = periodEndingAt('week', at('2026-12-07T00:30:00Z'), 'Europe/Berlin');
    expect(periodEndingAt('week', at('2026-12-07T22:59:00Z'), 'Europe/Berlin')).toEqual(early);
  });

  it('across spring forward: the Berlin day of 28 March 2027 is 23 hours, its week 167', () => {
    const run = at('2027-03-29T06:00:00Z'); // Monday 08:00 CEST
    const day = periodEndingAt('day', run, 'Europe/Berlin');
    expect(day).toEqual({ start: at('2027-03-27T23:00:00Z'), end: at('2027-03-28T22:00:00Z') });
    expect(hoursOf(day)).toBe(23);
    const week = periodEndingAt('week', run, 'Europe/Berlin');
    expect(week).toEqual({ start: at('2027-03-21T23:00:00Z'), end: at('2027-03-28T22:00:00Z') });
    expect(hoursOf(week)).toBe(167);
  });

  it('across fall back: the Berlin day of 25 October 2026 is 25 hours', () => {
    const day = periodEndingAt('day', at('2026-10-26T06:00:00Z'), 'Europe/Berlin');
    expect(day).toEqual({ start: at('2026-10-24T22:00:00Z'), end: at('2026-10-25T23:00:00Z') });
    expect(hoursOf(day)).toBe(25);
  });

  it('a midnight the clocks skip (Santiago, 6 September 2026) starts the day when they jump', () => {
    expect(periodEndingAt('day', at('2026-09-07T12:00:00Z'), 'America/Santiago')).toEqual({
      start: at('2026-09-06T04:00:00Z'),
      end: at('2026-09-07T03:00:00Z'),
    });
  });

  it('zones a quarter-hour off UTC (Kathmandu, +05:45)', () => {
    expect(periodEndingAt('day', at('2026-12-07T02:00:00Z'), 'Asia/Kathmandu')).toEqual({
      start: at('2026-12-05T18:15:00Z'),
      end: at('2026-12-06T18:15:00Z'),
    });
  });

  it('month ends: a run on 31 March covers February, not 3 March onwards; a leap February is 29 days', () => {
    expect(periodEndingAt('month', at('2027-03-31T10:00:00Z'))).toEqual({
      start: at('2027-02-01T00:00:00Z'),
      end: at('2027-03-01T00:00:00Z'),
    });
    expect(hoursOf(periodEndingAt('month', at('2028-03-31T10:00:00Z')))).toBe(29 * 24);
    expect(periodEndingAt('month', at('2027-01-31T10:00:00Z'))).toEqual({
      start: at('2026-12-01T00:00:00Z'),
      end: at('2027-01-01T00:00:00Z'),
    });
  });

  it('the month is local: 1 March 00:30 UTC is still February in New York', () => {
    expect(periodEndingAt('month', at('2026-03-01T00:30:00Z'), 'America/New_York')).toEqual({
      start: at('2026-01-01T05:00:00Z'),
      end: at('2026-02-01T05:00:00Z'),
    });
  });
});

describe('how often a report schedule may run', () => {
  it.each(['0 6 * * MON', '30 7 * * *', '0 * * * *', '15 8-18 * * 1-5', '0 0 1 JAN,JUL *'])(
    'at most hourly is fine: %s',
    (cron) => {
      expect(cronProblem(cron)).toBeUndefined();
      expect(cronFrequencyProblem(cron)).toBeUndefined();
    },
  );

  it.each(['* * * * *', '*/15 8-18 * * 1-5', '5,35 * * * *', '0-5 6 * * *', '*/59 * * * *'])(
    'more than once an hour is refused: %s',
    (cron) => {
      expect(cronProblem(cron)).toBeUndefined();
      expect(cronFrequencyProblem(cron)).toContain('at most once an hour');
    },
  );
});

describe('a report’s ETA', () => {
  const now = at('2026-12-02T10:01:00Z');
  const startedAt = at('2026-12-02T10:00:00Z');

  it('is unknown while queued or reading its data, and 0 once written', () => {
    expect(reportEtaSeconds({ status: 'QUEUED', startedAt: null, rowsTotal: null }, 0, now)).toBeNull();
    expect(reportEtaSeconds({ status: 'RUNNING', startedAt, rowsTotal: null }, 10, now)).toBeNull();
    expect(reportEtaSeconds({ status: 'COMPLETED', startedAt, rowsTotal: 40 }, 100, now)).toBe(0);
    expect(reportEtaSeconds({ status: 'FAILED', startedAt, rowsTotal: 40 }, 50, now)).toBeNull();
  });

  it('once the data is read, scales the time so far by the share left: 60 s for half, 60 s more', () => {
    expect(reportEtaSeconds({ status: 'RUNNING', startedAt, rowsTotal: 40 }, 50, now)).toBe(60);
    expect(reportEtaSeconds({ status: 'RUNNING', startedAt, rowsTotal: 40 }, 80, now)).toBe(15);
  });
});
