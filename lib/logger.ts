import pino, { type DestinationStream, type Logger } from 'pino';
import type { Config } from './config';

export type { Logger };

/**
 * Keys whose values are credentials, wherever they sit in a logged object: offer, vendor and
 * invitation tokens, JWTs, provider keys, and the SDK's activity task token.
 */
const SECRET_KEY = /token|secret|passw(or)?d|authori[sz]ation|cookie|api[-_]?key|credential|signature/i;

/** Keys whose values identify a person: contact details and people's names. */
const PERSONAL_KEY =
  /e-?mail|phone|recipient|whatsapp|^to$|^contact$|^(customer|admin|contact|user|full|first|last|given|family|display)?name$/i;

const REDACTED = '[redacted]';

/**
 * Text patterns applied to every finished log line, so a secret or contact detail inside a
 * message, an error's text or a URL is caught even when no key gives it away. Order matters:
 * whole URLs lose their query first, then tokens, then contact details. Every repetition that
 * can meet a long run of ordinary characters is bounded or anchored, so a huge line costs linear
 * time, not quadratic.
 */
const TEXT_RULES: Array<[RegExp, string]> = [
  // Absolute URLs: the query string is where links carry tokens and addresses.
  [/(\bhttps?:\/\/[^\s"'?#\\]+)\?[^\s"'#\\]*/gi, '$1?[query removed]'],
  // Relative URLs and bare query strings: any parameter named like a credential.
  [
    /([?&;][\w.-]{0,40}(?:token|secret|passw(?:or)?d|signature|sig|key|code)[\w.-]{0,40}=)[^&#\s"'\\]*/gi,
    `$1${REDACTED}`,
  ],
  // Credentials in connection strings (postgresql://user:password@host).
  [/(\b[a-z][a-z0-9+.-]{0,30}:\/\/[^\s/:@"'\\]{1,256}:)[^\s@/"'\\]{1,256}@/gi, `$1${REDACTED}@`],
  [/\b(Bearer|Basic)\s+[\w.~+/=-]+/gi, `$1 ${REDACTED}`],
  // JWTs, and the signed offer and vendor tokens (`v<n>.<payload>.<signature>`).
  [/\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g, REDACTED],
  [/\bv\d+\.[\w-]{8,}\.[\w-]{16,}/g, REDACTED],
  // Opaque tokens (the invitation token is 43 base64url characters): a long run that mixes
  // upper case, lower case and digits. UUIDs, hex hashes and workflow IDs are lower case.
  [/(?<![\w-])(?=[\w-]*[A-Z])(?=[\w-]*[a-z])(?=[\w-]*\d)[\w-]{32,}(?![\w-])/g, REDACTED],
  [/(?<![\w.%+-])[\w.%+-]{1,64}(?:@|%40)(?:[\w-]{1,63}\.){1,10}[a-z]{2,63}\b/gi, '[email]'],
  [/(?:\+|%2B)\d[\d\s().-]{5,18}\d/gi, '[phone]'],
];

/** Removes tokens, e-mail addresses and phone numbers from a piece of text. */
export function scrubText(text: string): string {
  let result = text;
  for (const [pattern, replacement] of TEXT_RULES) result = result.replace(pattern, replacement);
  return result;
}

const MAX_DEPTH = 8;

/**
 * A copy of a logged value with credential and personal keys redacted at any depth. Errors
 * become `{ type, message, stack, … }` (pino would print an Error under any key but `err` as
 * `{}`); objects with `toJSON` (Dates, URLs) are copied as JSON would print them.
 */
function redactKeys(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return '[circular]';
  if (depth > MAX_DEPTH) return '[nested too deep]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => redactKeys(item, depth + 1, seen));
    if (value instanceof Error) {
      const serialized = { ...(pino.stdSerializers.err(value) as unknown as Record<string, unknown>) };
      delete serialized.raw;
      return redactKeys(serialized, depth, new WeakSet());
    }
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
      return redactKeys((value as { toJSON: () => unknown }).toJSON(), depth + 1, seen);
    }
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      copy[key] = SECRET_KEY.test(key) || PERSONAL_KEY.test(key) ? REDACTED : redactKeys(item, depth + 1, seen);
    }
    return copy;
  } finally {
    seen.delete(value);
  }
}

/** A logged object with credential and personal keys redacted at any depth. */
export function redactLogObject(value: unknown): unknown {
  return redactKeys(value, 0, new WeakSet());
}

export interface LoggerOptions {
  /** Where the JSON lines go; stdout by default. Tests pass an in-memory stream. */
  destination?: DestinationStream;
}

/**
 * Structured JSON logs. Every process builds one root logger and derives children from it.
 *
 * No log line carries a secret or personal data: credential and personal keys (`token`,
 * `authorization`, `email`, `phone`, `customerName`, …) are redacted at any depth, and every
 * finished line is scrubbed of URL query strings, tokens, JWTs, e-mail addresses and phone numbers.
 */
export function createLogger(config: Pick<Config, 'logLevel'>, name: string, options: LoggerOptions = {}): Logger {
  const settings: pino.LoggerOptions = {
    name,
    level: config.logLevel,
    // `logger.error(error)` skips the hook below; its Error reaches this serializer instead.
    serializers: { err: (value: unknown) => (value instanceof Error ? redactLogObject(value) : value) },
    hooks: {
      logMethod(args, method) {
        const [first, ...rest] = args;
        const redacted = typeof first === 'object' && first !== null && !(first instanceof Error);
        method.apply(this, redacted ? [redactLogObject(first), ...rest] : args);
      },
      streamWrite: scrubText,
    },
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
