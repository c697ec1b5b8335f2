import {
  CREATED_STEP_KEY,
  MAX_OCCURRENCES,
  nextScheduled,
  offsetMinutes,
  planReminder,
  ReminderPlanError,
  replan,
  type StepRecord,
} from '../../domain/reminder-plan';

const DUE = '2026-12-24T09:00:00.000Z';
const DAY_MS = 24 * 60 * 60 * 1000;
const at = (days: number) => new Date(Date.parse(DUE) + days * DAY_MS).toISOString();

/** The problems a plan is refused with, as `path: message`. */
function problemsOf(steps: unknown): string[] {
  try {
    planReminder(DUE, steps);
  } catch (error) {
    if (error instanceof ReminderPlanError)
      return error.problems.map((problem) => `${problem.path}: ${problem.message}`);
    throw error;
  }
  throw new Error('the plan was accepted');
}

describe('reminder plan', () => {
  it('reads offsets in minutes, hours, days and weeks, before and after the due date', () => {
    expect(['0', '-2d', '+14d', '14d', '+12h', '90m', '-1w'].map(offsetMinutes)).toEqual([
      0, -2880, 20160, 20160, 720, 90, -10080,
    ]);
    expect(['', '2 days', '+2.5d', '-0x', 'd', '+-1d'].map(offsetMinutes)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('plans the settlement lifecycle: due soon, due, overdue every three days until +12d, and a final notice', () => {
    const plan = planReminder(DUE, [
      { at: '+14d', kind: 'FINAL_NOTICE' },
      { every: '3d', from: '+3d', until: '+12d', kind: 'OVERDUE' },
      { at: '0', kind: 'DUE' },
      { at: '-2d', kind: 'DUE_SOON' },
    ]);

    expect(plan.map((step) => [step.key, step.kind, step.at])).toEqual([
      ['DUE_SOON@-2880', 'DUE_SOON', at(-2)],
      ['DUE@0', 'DUE', at(0)],
      ['OVERDUE@4320', 'OVERDUE', at(3)],
      ['OVERDUE@8640', 'OVERDUE', at(6)],
      ['OVERDUE@12960', 'OVERDUE', at(9)],
      ['OVERDUE@17280', 'OVERDUE', at(12)],
      ['FINAL_NOTICE@20160', 'FINAL_NOTICE', at(14)],
    ]);
  });

  it('a repetition stops at the last occurrence not past until', () => {
    const plan = planReminder(DUE, [{ every: '5d', from: '+1d', until: '+12d', kind: 'OVERDUE' }]);

    expect(plan.map((step) => step.at)).toEqual([at(1), at(6), at(11)]);
  });

  it('keeps step keys when the due date moves, so a step sent is recognised', () => {
    const steps = [
      { at: '-2d', kind: 'DUE_SOON' },
      { every: '3d', from: '+3d', until: '+6d', kind: 'OVERDUE' },
    ];

    const before = planReminder(DUE, steps);
    const after = planReminder(at(7), steps);

    expect(after.map((step) => step.key)).toEqual(before.map((step) => step.key));
    expect(after.map((step) => step.at)).toEqual([at(5), at(10), at(13)]);
  });

  it('refuses bad input with a message per offending field', () => {
    expect(problemsOf('soon')).toEqual(['steps: expected a list of steps']);
    expect(problemsOf([])).toEqual(['steps: expected at least one step']);
    expect(
      problemsOf([
        { at: 'tomorrow', kind: 'DUE' },
        { at: '0', kind: 'due' },
        { every: '0d', from: '+1d', until: '+2d', kind: 'OVERDUE' },
        { every: '1d', from: '+5d', until: '+2d', kind: 'OVERDUE' },
        { at: '0', kind: 'DUE', extra: true },
        { every: '30m', from: '0', until: '+1d', kind: 'NUDGE' },
        { at: '+400d', kind: 'LATE' },
        { at: '0', kind: 'CREATED' },
        'DUE',
      ]),
    ).toEqual([
      "steps.0.at: expected an offset such as '-2d', '0', '+14d', '+12h' or '90m'",
      'steps.1.kind: expected an UPPER_SNAKE kind such as DUE_SOON, of 1 to 40 characters',
      "steps.2.every: expected a span such as '3d' or '12h'",
      'steps.3.until: must not come before from',
      'steps.4: unexpected field extra; expected at, kind',
      'steps.5.every: must be at least 60 minutes',
      'steps.6.at: must lie within 366 days of dueAt',
      'steps.7.kind: CREATED is reserved for notifyOnCreate',
      'steps.8: expected { at, kind } or { every, from, until, kind }',
    ]);
  });

  it('refuses the same kind twice at one offset, and more than the bounded number of occurrences', () => {
    expect(
      problemsOf([
        { at: '+3d', kind: 'OVERDUE' },
        { every: '3d', from: '+3d', until: '+6d', kind: 'OVERDUE' },
      ]),
    ).toEqual(['steps.1: OVERDUE is already planned at that offset']);
    expect(problemsOf([{ every: '1d', from: '0', until: '+60d', kind: 'OVERDUE' }])).toEqual([
      `steps.0.every: repeats more than ${MAX_OCCURRENCES} times`,
    ]);
    expect(
      problemsOf([
        { every: '1d', from: '0', until: '+29d', kind: 'OVERDUE' },
        { every: '1d', from: '0', until: '+29d', kind: 'NUDGE' },
      ]),
    ).toEqual([`steps: plan 60 reminders; at most ${MAX_OCCURRENCES}`]);
    expect(problemsOf(Array.from({ length: 21 }, (_, index) => ({ at: `+${index}d`, kind: 'DUE' })))).toEqual([
      'steps: expected at most 20 steps',
    ]);
  });

  it('a re-plan keeps sent steps, skips those now past, and schedules the rest', () => {
    const steps = [
      { at: '-2d', kind: 'DUE_SOON' },
      { at: '0', kind: 'DUE' },
      { at: '+3d', kind: 'OVERDUE' },
    ];
    const created: StepRecord = {
      key: CREATED_STEP_KEY,
      kind: 'CREATED',
      at: at(-5),
      status: 'sent',
      notificationId: 'n-0',
      sentAt: at(-5),
      reason: null,
    };
    const first = replan([created], planReminder(DUE, steps), Date.parse(at(-3)));
    first[1] = { ...first[1]!, status: 'sent', notificationId: 'n-1', sentAt: at(-2) };

    // The due date moves two days earlier, a day after DUE_SOON went out.
    const moved = replan(first, planReminder(at(-2), steps), Date.parse(at(-1)));

    expect(moved.map((step) => [step.key, step.status, step.at])).toEqual([
      ['CREATED', 'sent', at(-5)],
      ['DUE_SOON@-2880', 'sent', at(-2)],
      ['DUE@0', 'skipped', at(-2)],
      ['OVERDUE@4320', 'scheduled', at(1)],
    ]);
    expect(nextScheduled(moved)?.key).toBe('OVERDUE@4320');
  });
});
