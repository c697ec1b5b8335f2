/**
 * Durations as people and Temporal write them — '30 seconds', '15m', '8h', '1 day' — for settings
 * and command-line options. Pure, so any layer may use it.
 */

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)?$/i;

const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Milliseconds in `text`, or undefined when it is not a duration. A bare number is milliseconds
 * when `bareNumbers` is 'ms' (as in configuration), and refused when it is 'refuse' (a command-line
 * span such as `--expires 8h` must name its unit).
 */
export function parseDurationMs(text: string, bareNumbers: 'ms' | 'refuse' = 'ms'): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  const [, amount, unit] = match;
  if (!unit && bareNumbers === 'refuse') return undefined;
  const key = !unit || /^(ms|millis)/i.test(unit) ? 'ms' : unit[0]!.toLowerCase();
  return Math.round(Number(amount) * unitMs[key]!);
}

/** A span of seconds in words: whole hours as hours, anything else as seconds ("24 hours", "90 seconds"). */
export function describeSeconds(seconds: number): string {
  const [amount, unit] = seconds % 3600 === 0 ? [seconds / 3600, 'hour'] : [seconds, 'second'];
  return `${amount} ${unit}${amount === 1 ? '' : 's'}`;
}
