import { parseDurationMs } from '../lib/durations';

/**
 * When a requested notification is due: a delay written as people and Temporal write durations
 * ('24h', '30 minutes'), as an ISO 8601 duration ('PT24H', 'P1D', 'P1W'), or as milliseconds (a
 * number). Pure.
 */

const ISO_DURATION = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i;

/** The longest delay or lead time a notification may be given: a year and a day. */
export const MAX_NOTIFICATION_DELAY_MS = 366 * 86_400_000;

/**
 * Whether `sendAt` lies further ahead of `now` than a notification may wait ({@link MAX_NOTIFICATION_DELAY_MS}):
 * the same bound as a delay, so no row waits longer than the retention cleanup can see it waiting.
 */
export function isTooFarAhead(sendAt: Date, now: Date): boolean {
  return sendAt.getTime() - now.getTime() > MAX_NOTIFICATION_DELAY_MS;
}

/** Milliseconds in `delay`, or undefined when it is not a delay (negative, malformed or an empty ISO 'P'). */
export function parseDelayMs(delay: string | number): number | undefined {
  if (typeof delay === 'number') return Number.isSafeInteger(delay) && delay >= 0 ? delay : undefined;
  const text = delay.trim();
  const iso = ISO_DURATION.exec(text);
  if (iso) {
    const [, weeks, days, hours, minutes, seconds] = iso;
    if (![weeks, days, hours, minutes, seconds].some((part) => part !== undefined)) return undefined;
    const n = (part: string | undefined) => Number(part ?? 0);
    return Math.round(((((n(weeks) * 7 + n(days)) * 24 + n(hours)) * 60 + n(minutes)) * 60 + n(seconds)) * 1000);
  }
  return parseDurationMs(text, 'ms');
}
