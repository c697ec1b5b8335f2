import { z } from 'zod';
import { EARLIEST_DATE, LATEST_DATE, MAX_INT4, MAX_MONEY_MINOR, isStorableText } from '../domain/input-rules';
import { EVENT_TYPE_PATTERN, MAX_EVENT_TYPE_LENGTH } from '../domain/events';
import { isValidRecipient } from '../domain/notifications';
import { AppError } from './errors';
import { parse } from './validation';
import { NotificationPriority } from '../domain/notification-priority';

/**
 * The rules every route schema is built from, so that what the API accepts is exactly what the
 * database can store (domain/input-rules.ts): text without NUL or unpaired surrogates and with a
 * length bound, integers that fit an `integer` column, money up to MAX_MONEY_MINOR, dates between
 * EARLIEST_DATE and LATEST_DATE, and JSON whose every string and number is storable.
 */

const NOT_STORABLE = 'must not contain NUL characters or unpaired surrogates';

/** C0 controls and DEL; a name or a reference is one line, so no newline or tab either. */
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
/** Free text may hold line breaks and tabs, but no other control character. */
// eslint-disable-next-line no-control-regex
const CONTROL_EXCEPT_LAYOUT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** Trimmed text of 1..`max` UTF-16 code units that the database can store and that has no `forbidden` character. */
function storableText(max: number, forbidden: RegExp, forbiddenMessage: string) {
  return z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine(isStorableText, { message: NOT_STORABLE, abort: true })
    .refine((text) => !forbidden.test(text), { message: forbiddenMessage });
}

/**
 * A name, a label, a reference or a region: trimmed, one line, 1..`max` characters (UTF-16 code
 * units). Text the database could not store is refused with a message that does not quote it.
 */
export function singleLine(max: number) {
  return storableText(max, CONTROL_CHARACTER, 'must be one line without control characters');
}

/** A reason or a note: trimmed, 1..`max` characters, line breaks and tabs allowed. */
export function multiLine(max: number) {
  return storableText(max, CONTROL_EXCEPT_LAYOUT, 'must not contain control characters');
}

/** An email address (at most 254 characters, as SMTP allows). */
export function email() {
  return z.email().max(254);
}

/** A phone number in E.164 form, as the SMS and WhatsApp providers take it. */
export function phone() {
  return z
    .string()
    .max(16)
    .refine((value) => isValidRecipient('SMS', value), { message: 'expected an E.164 number such as +14155550123' });
}

/** A UUID, as every row ID is. */
export function uuid() {
  return z.uuid();
}

/**
 * A link token (offer, vendor offer, invitation) as it arrives in a query string or body. Its
 * signature or hash lookup decides if it is genuine; this only keeps it bounded and storable,
 * because it is hashed, compared and counted by the rate limits.
 */
export function linkToken(min = 1, max = 2048) {
  return z.string().min(min).max(max).refine(isStorableText, { message: NOT_STORABLE });
}

/** An integer that fits a PostgreSQL `integer` column, within [min, max]. */
export function int4(min: number, max: number) {
  if (min < -MAX_INT4 - 1 || max > MAX_INT4 || min > max) {
    throw new RangeError(`int4(${min}, ${max}) does not fit an integer column`);
  }
  return z.number().int().min(min).max(max);
}

/** An amount in minor units (cents): an integer from `min` (0 or 1) up to MAX_MONEY_MINOR. */
export function money(min: 0 | 1 = 0) {
  return z.number().int().min(min).max(MAX_MONEY_MINOR);
}

/**
 * An ISO 8601 date-time with an offset (`2026-12-24T18:00:00Z`, `…+01:00`), between EARLIEST_DATE
 * and LATEST_DATE; the output stays the string that was sent.
 */
export function isoDateTime() {
  return z.iso.datetime({ offset: true }).refine(
    (value) => {
      const time = Date.parse(value);
      return time >= EARLIEST_DATE && time < LATEST_DATE;
    },
    {
      message: `must lie between ${new Date(EARLIEST_DATE).toISOString()} and ${new Date(LATEST_DATE).toISOString()}`,
    },
  );
}

export interface JsonLimits {
  /** Nesting of arrays and objects; a scalar at the top is depth 0. */
  maxDepth: number;
  /** Values counted over the whole document: every scalar, array, object and key. */
  maxNodes: number;
  /** The longest string or key, in UTF-16 code units. */
  maxStringLength: number;
}

const defaultJsonLimits: JsonLimits = { maxDepth: 8, maxNodes: 10_000, maxStringLength: 10_000 };

/**
 * Why a JSON value cannot go into a `jsonb` column as it is, or undefined when it can: a string or
 * key with NUL or an unpaired surrogate, a number that is not finite, or a document beyond the
 * limits. Walks iteratively, so depth cannot exhaust the stack before the limit is seen.
 */
export function jsonProblem(value: unknown, limits: JsonLimits = defaultJsonLimits): string | undefined {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  let nodes = 0;
  const string = (text: string, what: string): string | undefined => {
    if (text.length > limits.maxStringLength) return `${what} longer than ${limits.maxStringLength} characters`;
    if (!isStorableText(text)) return `${what} ${NOT_STORABLE}`;
    return undefined;
  };
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop()!;
    if (++nodes > limits.maxNodes) return `more than ${limits.maxNodes} values`;
    if (current === null || typeof current === 'boolean') continue;
    if (typeof current === 'string') {
      const problem = string(current, 'a string');
      if (problem) return problem;
      continue;
    }
    if (typeof current === 'number') {
      if (!Number.isFinite(current)) return 'a number is not finite';
      continue;
    }
    if (typeof current !== 'object') return `a ${typeof current} is not JSON`;
    if (depth >= limits.maxDepth) return `nested deeper than ${limits.maxDepth} levels`;
    if (Array.isArray(current)) {
      for (const element of current) stack.push({ value: element, depth: depth + 1 });
      continue;
    }
    if (Object.getPrototypeOf(current) !== Object.prototype && Object.getPrototypeOf(current) !== null) {
      return 'an object is not plain JSON';
    }
    for (const [key, element] of Object.entries(current)) {
      if (++nodes > limits.maxNodes) return `more than ${limits.maxNodes} values`;
      const problem = string(key, 'a key');
      if (problem) return problem;
      stack.push({ value: element, depth: depth + 1 });
    }
  }
  return undefined;
}

/**
 * Any JSON value bound for a `jsonb` column (metadata, free-form details), checked with
 * {@link jsonProblem}. Typed payloads such as order items use typed schemas built from the rules
 * above, and get this check as well where they are stored as jsonb.
 */
export function storableJson(limits: Partial<JsonLimits> = {}) {
  const bounds = { ...defaultJsonLimits, ...limits };
  return z.unknown().superRefine((value, ctx) => {
    const problem = jsonProblem(value, bounds);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}

/** A request that takes no query parameters. */
export const noQuery = z.object({}).strict();

/**
 * A body that may be left out (Express leaves `req.body` undefined then) and otherwise has
 * exactly these fields; unlike a union, a bad field is reported under its own name.
 */
export function optionalBody<Shape extends z.ZodRawShape>(shape: Shape) {
  return z.object(shape).strict().optional();
}

/** A request that takes no body: none at all, or `{}`. */
export const noBody = optionalBody({});

/**
 * `limit` and `offset` from a query string: `limit` 1..`maxLimit` (default `defaultLimit`),
 * `offset` 0..MAX_INT4 (default 0).
 */
export function pagination({ defaultLimit = 100, maxLimit = 500 }: { defaultLimit?: number; maxLimit?: number } = {}) {
  return {
    limit: z.coerce.number().int().min(1).max(maxLimit).default(defaultLimit),
    offset: z.coerce.number().int().min(0).max(MAX_INT4).default(0),
  };
}

/** An Idempotency-Key header: printable ASCII, 1..200 characters, as IETF's draft and Stripe take it. */
const idempotencyKey = (message?: string) =>
  z
    .string(message ? { message } : undefined)
    .regex(/^[\x21-\x7e]{1,200}$/, { message: 'expected 1 to 200 printable ASCII characters' });

/** An Idempotency-Key header a request cannot go without (it is what keeps a retry from acting twice). */
export const requiredIdempotencyKeyHeader = idempotencyKey('the Idempotency-Key header is required');

/**
 * The Idempotency-Key of a request that cannot go without one: 400 IDEMPOTENCY_KEY_REQUIRED when
 * the header is missing, 400 VALIDATION_FAILED when it is malformed.
 */
export function requiredIdempotencyKey(header: string | undefined): string {
  if (header === undefined) {
    throw new AppError(400, 'IDEMPOTENCY_KEY_REQUIRED', 'This request needs an Idempotency-Key header');
  }
  return parse(requiredIdempotencyKeyHeader, header);
}

/** An Idempotency-Key header a request may leave out. */
export const optionalIdempotencyKeyHeader = idempotencyKey().optional();

/** A domain event type: lowercase dot-separated segments, such as ticket.created (domain/events.ts). */
export function eventType() {
  return z
    .string()
    .max(MAX_EVENT_TYPE_LENGTH)
    .regex(EVENT_TYPE_PATTERN, { message: 'expected lowercase dot-separated segments, such as ticket.created' });
}

/** A template name: a shipped one (`settlement.reminder`) or a tenant's own. */
export const templateName = () =>
  z.string().regex(/^[a-z0-9][a-z0-9._-]{0,99}$/, { message: 'expected a template name such as ticket.update' });

/** A BCP 47 language tag such as `en` or `pt-BR`. */
export const localeTag = () =>
  z
    .string()
    .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$/, { message: 'expected a language tag such as en or pt-BR' });

/**
 * A notification's priority as a tenant may ask for it: 2 high, 3 normal, 4 low, or the name; answers the level.
 *
 * Critical (1) is reserved for Holdfast's own time-bound flows (docs/queues.md, "Priority"). Temporal
 * dispatches by priority key before fairness, so a tenant able to send critical notifications would be
 * served ahead of every other tenant's normal ones, whatever the weights. Asking for it is refused with
 * 422 PRIORITY_RESERVED (not silently lowered: the caller asked for something it cannot have), on
 * POST /notifications and on notification rules alike.
 */
export function notificationPriority() {
  return z
    .union([z.literal(1), z.literal(2), z.literal(3), z.literal(4), z.enum(['critical', 'high', 'normal', 'low'])])
    .transform((value): TenantNotificationPriority => {
      const level = typeof value === 'number' ? value : NotificationPriority[value];
      if (level === NotificationPriority.critical) throw priorityReserved();
      return level;
    });
}

/** The levels a tenant may request: high, normal, low. */
export type TenantNotificationPriority = 2 | 3 | 4;

/** Thrown from inside the schema, so that it answers 422 whichever route parses a priority. */
function priorityReserved(): AppError {
  return new AppError(
    422,
    'PRIORITY_RESERVED',
    "Priority 'critical' (1) is reserved for Holdfast's own flows; the highest a tenant may request is 'high' (2)",
    { field: 'priority', highestAllowed: 'high' },
  );
}
