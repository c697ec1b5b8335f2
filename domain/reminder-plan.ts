/**
 * A reminder sequence's plan: the steps a tenant asks for, as offsets from the due date, turned
 * into the instants its workflow sleeps until. Pure date arithmetic with no Node built-ins, shared
 * by the API (which validates a request) and the workflow (which plans and re-plans).
 *
 * A step is `{ at: '-2d', kind: 'DUE_SOON' }` (once, at that offset) or
 * `{ every: '3d', from: '+3d', until: '+12d', kind: 'OVERDUE' }` (at `from`, then every `every`
 * while it is not past `until`). Offsets are a signed whole number of minutes (`m`), hours (`h`),
 * days (`d`) or weeks (`w`), or `0` for the due date itself.
 *
 * Each occurrence has a key, `<KIND>@<offset in minutes>` (e.g. `DUE_SOON@-2880`), that depends on
 * the kind and the offset only, not on the due date. Moving the due date moves every instant but
 * keeps every key, so a step already sent is recognised and never sent again.
 */

/** A step as requested. */
export type ReminderStepSpec =
  { at: string; kind: string } | { every: string; from: string; until: string; kind: string };

/** One occurrence of a step: when it goes out, and its stable identity within the sequence. */
export interface PlannedStep {
  /** `<KIND>@<offset in minutes>`; the notification's idempotency key is built from it. */
  key: string;
  kind: string;
  /** Minutes from the due date (negative before it). */
  offsetMinutes: number;
  /** ISO-8601. */
  at: string;
}

/** The kind of the message a sequence sends when it is created (`notifyOnCreate`). */
export const CREATED_KIND = 'CREATED';
/** The key of that message: there is one per sequence, whatever the due date. */
export const CREATED_STEP_KEY = 'CREATED';

/** The kinds Holdfast names; a tenant may use its own in the same form. */
export const STANDARD_KINDS = ['DUE_SOON', 'DUE', 'OVERDUE', 'FINAL_NOTICE'] as const;

/** Steps a request may list. */
export const MAX_STEP_SPECS = 20;
/** Occurrences a plan may hold, every repetition counted: bounds the workflow's history. */
export const MAX_OCCURRENCES = 50;
/** How far from the due date a step may lie, either way. */
export const MAX_OFFSET_DAYS = 366;
/** The shortest repetition: a reminder is not a polling loop. */
export const MIN_EVERY_MINUTES = 60;

const MINUTE_MS = 60_000;
const UNIT_MINUTES: Record<string, number> = { m: 1, h: 60, d: 1440, w: 10_080 };
const OFFSET = /^([+-]?)(\d{1,6})([mhdw])$/;
const SPAN = /^(\d{1,6})([mhdw])$/;
/** Upper-case letters, digits and underscores, starting with a letter: safe in keys and event data. */
const KIND = /^[A-Z][A-Z0-9_]{0,39}$/;

/** Why a request's steps cannot be planned: one problem per offending field. */
export interface PlanProblem {
  /** e.g. `steps.2.every`. */
  path: string;
  message: string;
}

export class ReminderPlanError extends Error {
  constructor(readonly problems: PlanProblem[]) {
    super(problems.map((problem) => `${problem.path}: ${problem.message}`).join('; '));
    this.name = 'ReminderPlanError';
  }
}

const maxOffsetMinutes = MAX_OFFSET_DAYS * UNIT_MINUTES.d!;

/** Minutes in an offset (`-2d`, `+14d`, `0`, `90m`), or undefined when it is not one. */
export function offsetMinutes(text: string): number | undefined {
  if (text === '0') return 0;
  const match = OFFSET.exec(text);
  if (!match) return undefined;
  const [, sign, amount, unit] = match;
  const minutes = Number(amount) * UNIT_MINUTES[unit!]!;
  return sign === '-' ? -minutes : minutes;
}

/** Minutes in a positive span (`3d`, `12h`), or undefined when it is not one. */
function spanMinutes(text: string): number | undefined {
  const match = SPAN.exec(text);
  if (!match) return undefined;
  const minutes = Number(match[1]) * UNIT_MINUTES[match[2]!]!;
  return minutes > 0 ? minutes : undefined;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** An occurrence before the due date is fixed: its offset and kind. */
interface Occurrence {
  kind: string;
  offsetMinutes: number;
}

/**
 * The occurrences `steps` describe, in the order they go out (by offset, then as listed), or a
 * {@link ReminderPlanError} naming every problem: not a list, too many steps, an unknown field, a
 * kind that is not UPPER_SNAKE, an offset or span in the wrong form or beyond
 * ±{@link MAX_OFFSET_DAYS} days, `until` before `from`, a repetition shorter than
 * {@link MIN_EVERY_MINUTES} minutes, two occurrences of one kind at one offset, more than
 * {@link MAX_OCCURRENCES} occurrences in all, or the reserved kind {@link CREATED_KIND}.
 */
export function occurrencesOf(steps: unknown): Occurrence[] {
  const problems: PlanProblem[] = [];
  if (!Array.isArray(steps)) throw new ReminderPlanError([{ path: 'steps', message: 'expected a list of steps' }]);
  if (steps.length === 0) problems.push({ path: 'steps', message: 'expected at least one step' });
  if (steps.length > MAX_STEP_SPECS) {
    throw new ReminderPlanError([{ path: 'steps', message: `expected at most ${MAX_STEP_SPECS} steps` }]);
  }
  const occurrences: Occurrence[] = [];
  const seen = new Set<string>();
  steps.forEach((step: unknown, index) => {
    const at = (field: string) => `steps.${index}${field ? `.${field}` : ''}`;
    if (!isRecord(step)) {
      problems.push({ path: at(''), message: 'expected { at, kind } or { every, from, until, kind }' });
      return;
    }
    const fields = 'at' in step ? ['at', 'kind'] : ['every', 'from', 'until', 'kind'];
    const unknown = Object.keys(step).filter((field) => !fields.includes(field));
    if (unknown.length > 0) {
      problems.push({ path: at(''), message: `unexpected field ${unknown.join(', ')}; expected ${fields.join(', ')}` });
      return;
    }
    const kind = step.kind;
    if (typeof kind !== 'string' || !KIND.test(kind)) {
      problems.push({
        path: at('kind'),
        message: 'expected an UPPER_SNAKE kind such as DUE_SOON, of 1 to 40 characters',
      });
      return;
    }
    if (kind === CREATED_KIND) {
      problems.push({ path: at('kind'), message: `${CREATED_KIND} is reserved for notifyOnCreate` });
      return;
    }
    const offset = (field: string): number | undefined => {
      const value = step[field];
      const minutes = typeof value === 'string' ? offsetMinutes(value) : undefined;
      if (minutes === undefined) {
        problems.push({ path: at(field), message: "expected an offset such as '-2d', '0', '+14d', '+12h' or '90m'" });
      } else if (Math.abs(minutes) > maxOffsetMinutes) {
        problems.push({ path: at(field), message: `must lie within ${MAX_OFFSET_DAYS} days of dueAt` });
        return undefined;
      }
      return minutes;
    };
    const add = (offsetMinutes: number) => {
      const key = stepKey(kind, offsetMinutes);
      if (seen.has(key)) problems.push({ path: at(''), message: `${kind} is already planned at that offset` });
      seen.add(key);
      occurrences.push({ kind, offsetMinutes });
    };
    if ('at' in step) {
      const minutes = offset('at');
      if (minutes !== undefined) add(minutes);
      return;
    }
    const every = typeof step.every === 'string' ? spanMinutes(step.every) : undefined;
    if (every === undefined) problems.push({ path: at('every'), message: "expected a span such as '3d' or '12h'" });
    else if (every < MIN_EVERY_MINUTES) {
      problems.push({ path: at('every'), message: `must be at least ${MIN_EVERY_MINUTES} minutes` });
    }
    const from = offset('from');
    const until = offset('until');
    if (every === undefined || every < MIN_EVERY_MINUTES || from === undefined || until === undefined) return;
    if (until < from) {
      problems.push({ path: at('until'), message: 'must not come before from' });
      return;
    }
    if ((until - from) / every + 1 > MAX_OCCURRENCES) {
      problems.push({ path: at('every'), message: `repeats more than ${MAX_OCCURRENCES} times` });
      return;
    }
    for (let minutes = from; minutes <= until; minutes += every) add(minutes);
  });
  if (problems.length === 0 && occurrences.length > MAX_OCCURRENCES) {
    problems.push({ path: 'steps', message: `plan ${occurrences.length} reminders; at most ${MAX_OCCURRENCES}` });
  }
  if (problems.length > 0) throw new ReminderPlanError(problems);
  // A stable sort: occurrences at one offset go out in the order they were listed.
  return occurrences
    .map((occurrence, index) => ({ occurrence, index }))
    .sort((a, b) => a.occurrence.offsetMinutes - b.occurrence.offsetMinutes || a.index - b.index)
    .map(({ occurrence }) => occurrence);
}

/** A step occurrence's key: its kind and its offset from the due date, never the due date itself. */
export function stepKey(kind: string, offsetMinutes: number): string {
  return `${kind}@${offsetMinutes}`;
}

/**
 * The plan for `steps` around `dueAt` (ISO-8601): every occurrence with its instant, in the order
 * they go out. Throws {@link ReminderPlanError} for steps {@link occurrencesOf} refuses, or a
 * `dueAt` that is no date.
 */
export function planReminder(dueAt: string, steps: unknown): PlannedStep[] {
  const due = Date.parse(dueAt);
  if (Number.isNaN(due)) throw new ReminderPlanError([{ path: 'dueAt', message: 'expected an ISO-8601 date-time' }]);
  return occurrencesOf(steps).map(({ kind, offsetMinutes }) => ({
    key: stepKey(kind, offsetMinutes),
    kind,
    offsetMinutes,
    at: new Date(due + offsetMinutes * MINUTE_MS).toISOString(),
  }));
}

/**
 * What became of a step: `sending` while its message is being recorded, `skipped` when its instant
 * had passed when it was planned, `cancelled` when the sequence was completed first.
 */
export type StepStatus = 'scheduled' | 'sending' | 'sent' | 'skipped' | 'failed' | 'cancelled';

/** A step as a sequence tracks it. */
export interface StepRecord {
  key: string;
  kind: string;
  /** When it goes out, or went out (ISO-8601). */
  at: string;
  status: StepStatus;
  /** The notification that carries it, once sent. */
  notificationId: string | null;
  sentAt: string | null;
  /** Why it failed, for a step whose send failed for good. */
  reason: string | null;
}

/** Whether a step has gone out (or is going out, or failed for good): a re-plan keeps it as it is. */
export const isSettled = (step: StepRecord): boolean =>
  step.status === 'sent' || step.status === 'sending' || step.status === 'failed';

/**
 * The step records for `plan` as of `nowMs`: a step already sent or failed keeps its record (the
 * same key is never sent twice); any other step takes its instant from the plan and is
 * `scheduled`, or `skipped` when that instant lies before `nowMs`, so a sequence created late, or
 * a due date moved back, never sends past steps in a burst.
 */
export function replan(previous: readonly StepRecord[], plan: readonly PlannedStep[], nowMs: number): StepRecord[] {
  const byKey = new Map(previous.map((step) => [step.key, step]));
  const steps: StepRecord[] = [];
  const created = byKey.get(CREATED_STEP_KEY);
  if (created) steps.push(created);
  for (const { key, kind, at } of plan) {
    const earlier = byKey.get(key);
    if (earlier && isSettled(earlier)) {
      steps.push(earlier);
      continue;
    }
    const status = Date.parse(at) < nowMs ? 'skipped' : 'scheduled';
    steps.push({ key, kind, at, status, notificationId: null, sentAt: null, reason: null });
  }
  return steps;
}

/** The next step to send: the earliest scheduled one (the plan is in sending order). */
export function nextScheduled(steps: readonly StepRecord[]): StepRecord | undefined {
  let next: StepRecord | undefined;
  for (const step of steps) {
    if (step.status === 'scheduled' && (!next || Date.parse(step.at) < Date.parse(next.at))) next = step;
  }
  return next;
}
