/**
 * Hold rules shared by the workflow (which runs the timer), the activities (which write the
 * rows) and the API (which answers a late or repeated response). Pure and deterministic.
 */

/** The hold a tenant gets when it sets none: long enough to answer from a phone, short enough to keep the slot moving. */
export const DEFAULT_HOLD_MINUTES = 15;

/** An operator may move a deadline by at most a day at a time. */
export const MAX_EXTEND_MINUTES = 24 * 60;

/**
 * How long an offer is held, in milliseconds. A slot's own setting (seconds, so short holds are
 * possible in tests and demos) wins over the tenant's (minutes).
 */
export function holdDurationMs(slotHoldSeconds: number | null | undefined, tenantHoldMinutes?: number | null): number {
  if (slotHoldSeconds !== null && slotHoldSeconds !== undefined) return slotHoldSeconds * 1000;
  return (tenantHoldMinutes ?? DEFAULT_HOLD_MINUTES) * 60_000;
}

/** Hold statuses as stored; `OFFERED` is the only live one. */
export type HoldStatus = 'OFFERED' | 'CONFIRMED' | 'DECLINED' | 'EXPIRED' | 'RELEASED';

/** The audit-log actor for what the cascade decides by itself (expiry, release, escalation). */
export const CASCADE_ACTOR = 'system:waitlist-cascade';
