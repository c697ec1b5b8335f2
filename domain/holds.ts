/**
 * Hold rules shared by the workflow (which runs the timer), the activities (which write the
 * rows) and the API (which answers a late or repeated response). Pure and deterministic.
 */

/** The tenant default when nothing else is set: the "15 minutes". */
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

/** Why a response to a hold cannot be taken: the codes the respond endpoint answers with 409. */
export const HoldRejection = {
  Expired: 'HOLD_EXPIRED',
  Superseded: 'HOLD_SUPERSEDED',
  AlreadyResponded: 'ALREADY_RESPONDED',
} as const;
export type HoldRejection = (typeof HoldRejection)[keyof typeof HoldRejection];

/**
 * Why a hold that is no longer `OFFERED` cannot take a response, judged from its stored status.
 * Used when the workflow has already moved on (or closed) and only the row can answer.
 */
export function rejectionForSettledHold(status: Exclude<HoldStatus, 'OFFERED'>): HoldRejection {
  switch (status) {
    case 'EXPIRED':
      return HoldRejection.Expired;
    case 'CONFIRMED':
    case 'DECLINED':
      return HoldRejection.AlreadyResponded;
    case 'RELEASED':
      return HoldRejection.Superseded;
  }
}

/** Why the cascade refused an operator's request: Update rejection types the API answers with 409. */
export const CascadeRejection = {
  /** There is no offer open to extend (between rounds, or the cascade has finished). */
  NoActiveHold: 'NO_ACTIVE_HOLD',
  /** An extension outside 1..{@link MAX_EXTEND_MINUTES} minutes. */
  InvalidExtension: 'INVALID_EXTENSION',
} as const;
export type CascadeRejection = (typeof CascadeRejection)[keyof typeof CascadeRejection];

/** The audit-log actor for what the cascade decides by itself (expiry, release, escalation). */
export const CASCADE_ACTOR = 'system:waitlist-cascade';
