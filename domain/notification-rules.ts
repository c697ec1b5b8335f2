/**
 * Notification rules: "on event type X, when its data matches a condition, send template Y to the
 * recipient found at a path in the data". Pure: how a path is read, how a condition is matched and
 * which rules an event triggers.
 */

/** A value a condition compares with: JSON scalars only, compared exactly. */
export type ConditionValue = string | number | boolean | null;

/** `equals`: the value at `path` is exactly this; `in`: it is one of these; `exists`: it is (or is not) present. */
export type RuleCondition =
  { path: string; equals: ConditionValue } | { path: string; in: ConditionValue[] } | { path: string; exists: boolean };

/** Dotted segments of letters, digits, `_` and `-`; a segment of digits indexes an array: `items.0.sku`. */
export const DATA_PATH_PATTERN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
export const MAX_DATA_PATH_LENGTH = 200;

/** Whether `path` is a data path rules may use. */
export function isDataPath(path: string): boolean {
  return path.length <= MAX_DATA_PATH_LENGTH && DATA_PATH_PATTERN.test(path);
}

/** Segments that would reach an object's prototype rather than its data. */
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'prototype', 'constructor']);

/**
 * The value at a dotted `path` in `data`, or undefined when any segment is missing. Only own
 * properties are read, so a path can never reach a prototype.
 */
export function valueAtPath(data: unknown, path: string): unknown {
  let current: unknown = data;
  for (const segment of path.split('.')) {
    if (FORBIDDEN_SEGMENTS.has(segment)) return undefined;
    if (Array.isArray(current)) {
      if (!/^\d+$/.test(segment)) return undefined;
      current = current[Number(segment)];
    } else if (typeof current === 'object' && current !== null) {
      if (!Object.prototype.hasOwnProperty.call(current, segment)) return undefined;
      current = (current as Record<string, unknown>)[segment];
    } else {
      return undefined;
    }
  }
  return current;
}

/** Whether an event's data satisfies a rule's condition; no condition matches every event. */
export function conditionMatches(condition: RuleCondition | null | undefined, data: unknown): boolean {
  if (!condition) return true;
  const value = valueAtPath(data, condition.path);
  if ('exists' in condition) return (value !== undefined) === condition.exists;
  if ('equals' in condition) return value === condition.equals;
  return condition.in.some((candidate) => candidate === value);
}

/**
 * Reads a stored condition back (a `jsonb` column); anything that is not a condition reads as
 * one that never matches, so a damaged row sends nothing rather than everything.
 */
export function storedCondition(value: unknown): RuleCondition | null | 'invalid' {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object' || Array.isArray(value)) return 'invalid';
  const { path } = value as { path?: unknown };
  if (typeof path !== 'string' || !isDataPath(path)) return 'invalid';
  const isScalar = (v: unknown): v is ConditionValue =>
    v === null || ['string', 'number', 'boolean'].includes(typeof v);
  if ('equals' in value && isScalar(value.equals)) {
    return { path, equals: (value as { equals: ConditionValue }).equals };
  }
  if ('in' in value) {
    const list = value.in;
    if (Array.isArray(list) && list.every(isScalar)) return { path, in: list };
  }
  if ('exists' in value && typeof value.exists === 'boolean') {
    return { path, exists: (value as { exists: boolean }).exists };
  }
  return 'invalid';
}

/** The part of a rule that decides whether an event triggers it. */
export interface RuleTrigger {
  eventType: string;
  enabled: boolean;
  condition: unknown;
}

/** Whether an event of `eventType` with `data` triggers the rule. */
export function ruleMatches(rule: RuleTrigger, eventType: string, data: unknown): boolean {
  if (!rule.enabled || rule.eventType !== eventType) return false;
  const condition = storedCondition(rule.condition);
  return condition !== 'invalid' && conditionMatches(condition, data);
}

/**
 * The most rules a tenant may have. Each event's fan-out runs one activity per matching rule, so
 * this bounds the work and the history of a fan-out whatever the tenant configures.
 */
export const MAX_RULES_PER_TENANT = 100;

/** The longest delay a rule may add before its message is sent: 30 days. */
export const MAX_RULE_DELAY_SECONDS = 30 * 24 * 60 * 60;

/**
 * When a rule's message is due: the event's recording time plus the rule's delay. It is counted
 * from the stored event, not from when the fan-out runs, so a retried or late fan-out asks for the
 * same send time.
 */
export function ruleSendAt(eventRecordedAt: Date, delaySeconds: number): Date | undefined {
  return delaySeconds > 0 ? new Date(eventRecordedAt.getTime() + delaySeconds * 1000) : undefined;
}
