/**
 * The fault battery's violation checks, pure so that test/unit/chaos-checks.test.ts proves each one
 * can fail. Every check answers the violations it found; an empty list means none.
 */

/** The columns of a Hold row the checks read. */
export interface HoldRecord {
  id: string;
  slotId: string;
  entryId: string;
  /** OFFERED, CONFIRMED, DECLINED, EXPIRED or RELEASED (HoldStatus). */
  status: string;
  tokenHash: string;
  createdAt: Date;
  /** When the hold left OFFERED (Hold.updatedAt once it is settled). */
  updatedAt: Date;
  expiresAt: Date;
}

export interface SlotRecord {
  id: string;
  status: string;
  assignedEntryId: string | null;
}

/** What the responder did with one offer, keyed by the hold's token hash. */
export type ResponderDecision =
  /** The API took the answer (200, 202 pending, or 409 ALREADY_RESPONDED after a retried request). */
  | 'accepted'
  | 'declined'
  /** Not answered: the hold must expire. */
  | 'ignored'
  /** Answered too late (409 HOLD_EXPIRED): the hold expired. */
  | 'too-late'
  /** Every attempt failed at the client (connection reset, time-out): either outcome is correct. */
  | 'unknown';

export const FINAL_SLOT_STATUSES: ReadonlySet<string> = new Set(['ASSIGNED', 'UNFILLED']);

/** Slots that did not reach a final state (ASSIGNED or UNFILLED): their cascades are lost or stuck. */
export function slotsNotFinal(slots: readonly SlotRecord[]): string[] {
  return slots.filter((slot) => !FINAL_SLOT_STATUSES.has(slot.status)).map((slot) => slot.id);
}

/** (slot, entry) pairs offered more than once: one cascade round ran twice. */
export function duplicateOffers(holds: readonly HoldRecord[]): string[] {
  const counts = new Map<string, number>();
  for (const hold of holds) {
    const key = `${hold.slotId}/${hold.entryId}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].filter(([, count]) => count > 1).map(([key, count]) => `${key} offered ${count} times`);
}

/**
 * Slots that had two live offers at once: a hold created before the previous one of its slot was
 * settled. A hold still OFFERED counts as live until `now`.
 */
export function overlappingLiveHolds(holds: readonly HoldRecord[], now: Date = new Date()): string[] {
  const bySlot = groupBy(holds, (hold) => hold.slotId);
  const violations: string[] = [];
  for (const [slotId, slotHolds] of bySlot) {
    const ordered = [...slotHolds].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    for (let index = 1; index < ordered.length; index += 1) {
      const previous = ordered[index - 1]!;
      const previousSettledAt = previous.status === 'OFFERED' ? now : previous.updatedAt;
      if (ordered[index]!.createdAt.getTime() < previousSettledAt.getTime()) {
        violations.push(`${slotId}: hold ${ordered[index]!.id} created while ${previous.id} was live`);
      }
    }
  }
  return violations;
}

/** One offer message as the catcher took it. */
export interface OfferMessage {
  offerToken?: string;
  /** The Message-ID header: Holdfast derives it from the notification row, so a resend carries the same one. */
  messageId?: string;
}

/** Per offer token, the Message-IDs it arrived under and how many times. */
function copiesByOffer(messages: readonly OfferMessage[]): Map<string, { ids: Set<string>; copies: number }> {
  const byToken = new Map<string, { ids: Set<string>; copies: number }>();
  messages.forEach((message, index) => {
    if (!message.offerToken) return;
    const entry = byToken.get(message.offerToken) ?? { ids: new Set<string>(), copies: 0 };
    // A message without a Message-ID cannot be told apart from another: count it as its own.
    entry.ids.add(message.messageId ?? `#${index}`);
    entry.copies += 1;
    byToken.set(message.offerToken, entry);
  });
  return byToken;
}

/**
 * Offers mailed as two different messages (two Message-IDs): the recipient reads the offer twice.
 * A violation.
 */
export function duplicateMessages(messages: readonly OfferMessage[]): string[] {
  return [...copiesByOffer(messages)]
    .filter(([, entry]) => entry.ids.size > 1)
    .map(([token, entry]) => `token …${token.slice(-8)} as ${entry.ids.size} different messages`);
}

/**
 * Offers whose one message (one Message-ID) reached the SMTP server more than once: the sender
 * stopped after the server took the message and before it was recorded as sent, and the retry sent
 * it again. SMTP has no idempotency key, so no sender can close that window; the repeated
 * Message-ID is what lets a mail store keep one copy. Reported beside the violations, not as one.
 */
export function redeliveredMessages(messages: readonly OfferMessage[]): string[] {
  return [...copiesByOffer(messages)]
    .filter(([, entry]) => entry.ids.size === 1 && entry.copies > 1)
    .map(([token, entry]) => `token …${token.slice(-8)} ×${entry.copies} (one Message-ID)`);
}

/** IDs that were recorded by the flows (`expected`) but are missing from the database (`actual`). */
export function lostRecords(expected: Iterable<string>, actual: Iterable<string>): string[] {
  const present = new Set(actual);
  return [...new Set(expected)].filter((id) => !present.has(id));
}

/**
 * Wrong cascade outcomes for the responder's decisions: every hold settled as answered (accept →
 * CONFIRMED, decline → DECLINED, a late answer → EXPIRED, none → EXPIRED or RELEASED), a slot ASSIGNED exactly to the
 * entry of its confirmed hold, and UNFILLED only when every candidate was offered and none accepted.
 */
export function wrongOutcomes(
  slots: readonly SlotRecord[],
  holds: readonly HoldRecord[],
  decisions: ReadonlyMap<string, ResponderDecision>,
  candidatesPerSlot: number,
): string[] {
  const violations: string[] = [];
  const holdsBySlot = groupBy(holds, (hold) => hold.slotId);
  const expectedStatus: Record<ResponderDecision, readonly string[]> = {
    accepted: ['CONFIRMED'],
    declined: ['DECLINED'],
    // Unanswered: it expired, or (no channel delivered its offer: R7) it was released as unreachable.
    ignored: ['EXPIRED', 'RELEASED'],
    'too-late': ['EXPIRED'],
    unknown: ['CONFIRMED', 'DECLINED', 'EXPIRED'],
  };
  for (const slot of slots) {
    const slotHolds = holdsBySlot.get(slot.id) ?? [];
    for (const hold of slotHolds) {
      const decision = decisions.get(hold.tokenHash) ?? 'ignored';
      if (!expectedStatus[decision].includes(hold.status)) {
        violations.push(`${slot.id}: hold ${hold.id} is ${hold.status} but the responder ${decision} it`);
      }
    }
    const confirmed = slotHolds.filter((hold) => hold.status === 'CONFIRMED');
    if (confirmed.length > 1) violations.push(`${slot.id}: ${confirmed.length} confirmed holds`);
    if (slot.status === 'ASSIGNED') {
      if (confirmed.length !== 1 || slot.assignedEntryId !== confirmed[0]!.entryId) {
        violations.push(`${slot.id}: ASSIGNED to an entry without its confirmed hold`);
      }
    } else if (slot.status === 'UNFILLED') {
      if (confirmed.length > 0) violations.push(`${slot.id}: UNFILLED with a confirmed hold`);
      if (new Set(slotHolds.map((hold) => hold.entryId)).size < candidatesPerSlot) {
        violations.push(`${slot.id}: UNFILLED before every candidate was offered`);
      }
    } else {
      violations.push(`${slot.id}: not final (${slot.status})`);
    }
  }
  return violations;
}

/**
 * Expired holds whose slot did not move on: an EXPIRED hold must be followed by another hold or by
 * the slot's final state, i.e. its timer fired. Answers the lateness (next hold − expiresAt, ms) too.
 */
export function timersThatDidNotFire(
  slots: readonly SlotRecord[],
  holds: readonly HoldRecord[],
  now: Date = new Date(),
): { violations: string[]; latenessMs: number[] } {
  const violations: string[] = [];
  const latenessMs: number[] = [];
  const finalSlots = new Set(slots.filter((slot) => FINAL_SLOT_STATUSES.has(slot.status)).map((slot) => slot.id));
  for (const [slotId, slotHolds] of groupBy(holds, (hold) => hold.slotId)) {
    const ordered = [...slotHolds].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    ordered.forEach((hold, index) => {
      if (hold.status !== 'EXPIRED') return;
      const next = ordered[index + 1];
      if (next) latenessMs.push(next.createdAt.getTime() - hold.expiresAt.getTime());
      else if (!finalSlots.has(slotId)) violations.push(`${slotId}: hold ${hold.id} expired and nothing followed`);
    });
    const last = ordered[ordered.length - 1];
    if (last?.status === 'OFFERED' && last.expiresAt.getTime() < now.getTime()) {
      violations.push(`${slotId}: hold ${last.id} still OFFERED past its expiry`);
    }
  }
  return { violations, latenessMs };
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(key(item));
    if (group) group.push(item);
    else groups.set(key(item), [item]);
  }
  return groups;
}
