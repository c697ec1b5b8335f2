import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { candidateOrder } from '../domain/candidates';
import { CASCADE_ACTOR, holdDurationMs } from '../domain/holds';
import { offerResponseUrl, type NotificationChannel } from '../domain/notifications';
import { hashOfferToken, offerTokenMatching, signOfferToken } from '../domain/offer-token';
import { isUniqueViolation, type Prisma, type PrismaClient } from '../lib/db';
import { FailureType } from '../workflows/errors';
import type { OfferCounts } from '../workflows/waitlist-cascade.contract';
import { insertOnce } from './insert-once';
import { auditOfferMade, writeAudit, type AuditEntry, type OfferAuditing } from './audit';
import { startFanOutsAfterCommit } from './event-publishing';
import { recordOfferAccepted, recordSlotUnfilled } from './flow-events';
import type { NotificationResult, OfferingFlowDeps, SkippableNotification } from './notifications';

export type WaitlistDeps = OfferingFlowDeps;

export interface CascadeRef {
  tenantId: string;
  slotId: string;
  /** The workflow ID plus its first run's ID: stable across continue-as-new, new for a new release. */
  cascadeId: string;
}

export interface Candidate {
  entryId: string;
  customerName: string;
  hasPhone: boolean;
}

export interface OfferedHold {
  holdId: string;
  entryId: string;
  expiresAt: string;
  /** SHA-256 of the response token; the workflow matches responses against it. */
  tokenHash: string;
}

/** A hold with what its offer or confirmation message says. */
interface HoldForMessage {
  status: string;
  tokenHash: string;
  expiresAt: Date;
  email: string;
  phone: string | null;
  customerName: string;
  slotName: string;
  startsAt: Date | null;
  tenantName: string;
}

/** Settles an open hold; the entry moves to `entryStatus`. */
export interface SettleHoldInput {
  tenantId: string;
  holdId: string;
  outcome: 'DECLINED' | 'EXPIRED' | 'RELEASED';
  entryStatus: 'DECLINED' | 'EXPIRED' | 'UNREACHABLE' | 'WAITING';
  actor: string;
  reason?: string;
}

/** A round's offer: who it went to, their hold, and when it was made (the hold's creation). */
export interface OfferedCandidate {
  candidate: Candidate;
  hold: OfferedHold;
  offeredAt: string;
}

/** Candidates tried in one offer step before it gives up to a retry (each left between its pick and its hold). */
const OFFER_PICKS = 8;

const presentHold = (hold: { id: string; entryId: string; expiresAt: Date; tokenHash: string }): OfferedHold => ({
  holdId: hold.id,
  entryId: hold.entryId,
  expiresAt: hold.expiresAt.toISOString(),
  tokenHash: hold.tokenHash,
});

/** A round's hold as the offer step answers it: its entry as the candidate, made when the hold was. */
const offeredTo = (
  entry: { id: string; customerName: string; phone: string | null },
  hold: Parameters<typeof presentHold>[0] & { createdAt: Date },
): OfferedCandidate => ({
  candidate: { entryId: entry.id, customerName: entry.customerName, hasPhone: Boolean(entry.phone) },
  hold: presentHold(hold),
  offeredAt: hold.createdAt.toISOString(),
});

type Tx = Prisma.TransactionClient;

type WaitlistAudit = AuditEntry<'Slot' | 'Hold' | 'WaitlistEntry'> & { dedupKey: string };

const audit = (db: Tx | PrismaClient, ...entries: WaitlistAudit[]) => writeAudit(db, ...entries);

const HOLD_AUDITING: OfferAuditing = { actor: CASCADE_ACTOR, entityType: 'Hold', subject: 'hold', keyPrefix: 'hold' };

/** Rolls the hold back when its candidate stopped waiting; never leaves this module. */
class CandidateGone extends Error {}

/** An offer step's pick found no entry waiting. */
const NOBODY_WAITING = Symbol('nobody waiting');

/** Why a hold its cascade never settled is released when that cascade ends or another takes the slot. */
const LEFT_HOLD_REASON = 'released when its cascade ended without settling it';

/**
 * Activities of the waitlist cascade. Each one is idempotent under retry: writes are guarded by
 * the row's current status (or the Hold's unique (cascadeId, round)), audit rows by a dedup key,
 * and messages by the Notification ledger.
 *
 * @throws ApplicationFailure `NotFound` (non-retryable) when the slot or hold no longer exists.
 */
export function createWaitlistActivities(deps: WaitlistDeps) {
  const { prisma, notifier, offerTokenSecret, publicBaseUrl } = deps;
  const now = deps.now ?? (() => new Date());

  const notFound = (what: string) => ApplicationFailure.nonRetryable(`${what} not found`, FailureType.NotFound);

  /** What a hold's message needs, read in one statement: it runs once per offer and per confirmation. */
  async function loadHoldForMessage(tenantId: string, holdId: string): Promise<HoldForMessage> {
    const [hold] = await prisma.$queryRaw<HoldForMessage[]>`
      SELECT h.status::text AS status, h."tokenHash", h."expiresAt", e.email, e.phone, e."customerName",
             s.name AS "slotName", s."startsAt", t.name AS "tenantName"
      FROM "Hold" h
      JOIN "WaitlistEntry" e ON e.id = h."entryId"
      JOIN "Slot" s ON s.id = h."slotId"
      JOIN "Tenant" t ON t.id = h."tenantId"
      WHERE h.id = ${holdId} AND h."tenantId" = ${tenantId}`;
    if (!hold) throw notFound(`Hold ${holdId}`);
    return hold;
  }

  /**
   * The best WAITING entry now (read fresh every round, so late joiners count and people who
   * left or were offered already do not) and the hold length in force now, so a settings
   * change applies from the next offer.
   */
  async function pickNextCandidate({ tenantId, slotId }: Omit<CascadeRef, 'cascadeId'>): Promise<{
    candidate: Candidate | null;
    holdMs: number;
  }> {
    const slot = await prisma.slot.findFirst({ where: { id: slotId, tenantId }, include: { tenant: true } });
    if (!slot) throw notFound(`Slot ${slotId}`);
    const entry = await prisma.waitlistEntry.findFirst({
      where: { tenantId, slotId, status: 'WAITING' },
      orderBy: [...candidateOrder],
    });
    return {
      candidate: entry && { entryId: entry.id, customerName: entry.customerName, hasPhone: Boolean(entry.phone) },
      holdMs: holdDurationMs(slot.holdSeconds, slot.tenant.holdMinutes),
    };
  }

  /**
   * Creates the hold for a round and marks the entry OFFERED, in one transaction. A retry of
   * the same round gets the hold already made. Answers null when the entry stopped WAITING
   * between the pick and now (removed, for example), so the round can pick again.
   */
  async function createHold(
    input: CascadeRef & { round: number; entryId: string; expiresAt: string },
  ): Promise<OfferedHold | null> {
    const hold = await holdRound(input);
    return hold && presentHold(hold);
  }

  /**
   * Locks the slot's row (`FOR NO KEY UPDATE`: waitlist joins, which reference it, go on; its tenant's row is not
   * locked) and reads who offers it, and the hold length in force now (the slot's own, else its tenant's), so
   * that a settings change applies from the next offer.
   */
  async function lockSlot(tx: Tx, { tenantId, slotId }: Omit<CascadeRef, 'cascadeId'>) {
    const [slot] = await tx.$queryRaw<
      Array<{ status: string; cascadeId: string | null; holdSeconds: number | null; holdMinutes: number }>
    >`
      SELECT s.status::text AS status, s."cascadeId", s."holdSeconds", t."holdMinutes"
      FROM "Slot" s JOIN "Tenant" t ON t.id = s."tenantId"
      WHERE s.id = ${slotId} AND s."tenantId" = ${tenantId} FOR NO KEY UPDATE OF s`;
    return slot;
  }

  /**
   * Where `cascadeId` stands with the slot: `offering` it (CASCADING for it, or for a cascade begun before
   * slots recorded theirs, which is then the only one running); `resumable`, when it stopped in
   * NEEDS_ATTENTION and left the slot OPEN and still its own (a cascade stopped before slots recorded theirs
   * left none recorded: its `stopped` audit row stands for it), so that an operator's reset of its run
   * carries on; or `none`.
   */
  async function standingOf(
    tx: Tx,
    slot: { status: string; cascadeId: string | null },
    cascadeId: string,
  ): Promise<'offering' | 'resumable' | 'none'> {
    if (slot.status === 'CASCADING' && (slot.cascadeId === null || slot.cascadeId === cascadeId)) return 'offering';
    if (slot.status !== 'OPEN') return 'none';
    if (slot.cascadeId === cascadeId) return 'resumable';
    return slot.cascadeId === null && (await stoppedBeforeSlotsRecordedCascades(tx, cascadeId)) ? 'resumable' : 'none';
  }

  /**
   * Whether `cascadeId` stopped while slots did not record their cascade yet, and has not ended otherwise since:
   * its stop left the slot OPEN with none recorded. A stop since then keeps the slot, and says so in its audit
   * row (`keepsSlot`); a slot it kept that has no cascade recorded any more was given up.
   */
  async function stoppedBeforeSlotsRecordedCascades(tx: Tx, cascadeId: string): Promise<boolean> {
    const stop = await tx.auditLog.findUnique({ where: { dedupKey: `${cascadeId}:stopped` } });
    const details = stop?.details as { keepsSlot?: boolean } | null | undefined;
    return stop !== null && details?.keepsSlot !== true && !(await hasEnded(tx, cascadeId, ['cancelled', 'unfilled']));
  }

  /** Locks the slot and answers where `cascadeId` stands with it (`none` when the slot is gone). */
  async function lockedStanding(tx: Tx, { tenantId, slotId, cascadeId }: CascadeRef) {
    const slot = await lockSlot(tx, { tenantId, slotId });
    return slot ? standingOf(tx, slot, cascadeId) : 'none';
  }

  /**
   * Locks the slot for a hold of `cascadeId`, and refuses when that cascade no longer offers it. An attempt
   * of the offer step can still be running after its cascade moved on: one that timed out while the
   * cascade closed the slot unfilled, or one in flight when the cascade was cancelled. Its hold would have
   * no timer and no message. The lock orders it against the cascade's end (`closeUnfilledSlot`,
   * `reopenSlot`), which releases a hold that got in first. A cascade resumed after a stop turns the slot
   * CASCADING again.
   *
   * @throws ApplicationFailure `CascadeNotCurrent` (non-retryable).
   */
  async function lockSlotForCascade(tx: Tx, ref: CascadeRef): Promise<void> {
    const slot = await lockSlot(tx, ref);
    if (!slot) throw notFound(`Slot ${ref.slotId}`);
    await keepSlotForCascade(tx, slot, ref);
  }

  /** The second half of {@link lockSlotForCascade}, for a slot row already locked. */
  async function keepSlotForCascade(
    tx: Tx,
    slot: { status: string; cascadeId: string | null },
    { slotId, cascadeId }: CascadeRef,
  ): Promise<void> {
    const standing = await standingOf(tx, slot, cascadeId);
    if (standing === 'none') {
      throw ApplicationFailure.nonRetryable(
        `Slot ${slotId} is ${slot.status}, no longer offered by cascade ${cascadeId}`,
        'CascadeNotCurrent',
      );
    }
    if (standing === 'resumable') {
      await tx.slot.update({ where: { id: slotId }, data: { status: 'CASCADING', cascadeId } });
    }
  }

  /**
   * Moves the holds among `where` still OFFERED to `outcome` and their entries to `entryStatus`, with an audit
   * row each, and answers them; holds already settled are left alone.
   */
  async function settleOpenHolds(
    tx: Tx,
    where: Prisma.HoldWhereInput,
    { outcome, entryStatus, actor, reason }: Omit<SettleHoldInput, 'tenantId' | 'holdId'>,
  ) {
    const settled = await tx.hold.updateManyAndReturn({
      where: { ...where, status: 'OFFERED' },
      data: { status: outcome, reason: reason ?? null, respondedAt: outcome === 'DECLINED' ? now() : null },
      select: { id: true, tenantId: true, slotId: true, entryId: true },
    });
    if (settled.length === 0) return settled;
    await tx.waitlistEntry.updateMany({
      where: { id: { in: settled.map((hold) => hold.entryId) }, status: 'OFFERED' },
      data: { status: entryStatus },
    });
    await audit(
      tx,
      ...settled.map((hold) => ({
        tenantId: hold.tenantId,
        actor,
        action: `hold.${outcome.toLowerCase()}`,
        entityType: 'Hold' as const,
        entityId: hold.id,
        details: { slotId: hold.slotId, entryId: hold.entryId, entryStatus, ...(reason ? { reason } : {}) },
        dedupKey: `hold:${hold.id}:${outcome}`,
      })),
    );
    return settled;
  }

  /**
   * Releases holds still OFFERED that no running cascade will settle: their candidates wait again. A cascade
   * settles each hold it offered before it ends, so these were made by an attempt that ran on after its
   * cascade had moved on (see `lockSlotForCascade`), or left by a cascade that was terminated.
   */
  async function releaseLeftHolds(tx: Tx, tenantId: string, where: Prisma.HoldWhereInput): Promise<void> {
    await settleOpenHolds(
      tx,
      { ...where, tenantId },
      { outcome: 'RELEASED', entryStatus: 'WAITING', actor: CASCADE_ACTOR, reason: LEFT_HOLD_REASON },
    );
  }

  /** Whether `cascadeId` has ended in one of `ends` (by default any: closed unfilled, cancelled or stopped), as its audit rows say. */
  async function hasEnded(
    tx: Tx,
    cascadeId: string,
    ends: ReadonlyArray<'unfilled' | 'cancelled' | 'stopped'> = ['unfilled', 'cancelled', 'stopped'],
  ): Promise<boolean> {
    return (await tx.auditLog.count({ where: { dedupKey: { in: ends.map((end) => `${cascadeId}:${end}`) } } })) > 0;
  }

  /**
   * Writes a round's hold for `entryId` and marks the entry OFFERED, with the audit row, in `tx`, which holds the
   * slot's lock: a concurrent attempt of the same round waits on it, then fails on the hold's unique
   * (cascadeId, round).
   *
   * @throws CandidateGone when the entry stopped waiting, to roll the hold back.
   */
  async function makeHold(tx: Tx, input: CascadeRef & { round: number; entryId: string; expiresAt: string }) {
    const { tenantId, slotId, cascadeId, round, entryId, expiresAt } = input;
    const holdId = randomUUID();
    const hold = await tx.hold.create({
      data: {
        id: holdId,
        tenantId,
        slotId,
        entryId,
        cascadeId,
        round,
        expiresAt: new Date(expiresAt),
        tokenHash: hashOfferToken(signOfferToken(offerTokenSecret, { tenantId, holdId })),
      },
    });
    const claimed = await tx.waitlistEntry.updateMany({
      where: { id: entryId, tenantId, slotId, status: 'WAITING' },
      data: { status: 'OFFERED' },
    });
    if (claimed.count === 0) throw new CandidateGone();
    await auditOfferMade(tx, HOLD_AUDITING, {
      tenantId,
      offerId: holdId,
      details: { slotId, entryId, round, expiresAt },
    });
    return hold;
  }

  /** {@link createHold}, answering the hold's row. */
  async function holdRound(input: CascadeRef & { round: number; entryId: string; expiresAt: string }) {
    const { tenantId, slotId, cascadeId, round } = input;
    const existing = () => prisma.hold.findUnique({ where: { cascadeId_round: { cascadeId, round } } });
    try {
      const insert = () =>
        prisma.$transaction(async (tx) => {
          await lockSlotForCascade(tx, { tenantId, slotId, cascadeId });
          return makeHold(tx, input);
        });
      return await insertOnce(existing, insert);
    } catch (error) {
      if (error instanceof CandidateGone) return null;
      throw error;
    }
  }

  /**
   * One pick of the offer step, in one transaction under the slot's lock: the best WAITING entry now (read
   * fresh, so late joiners count and people who left or were offered already do not), and the round's hold
   * for them. `NOBODY_WAITING` when no entry waits; null when the entry stopped waiting between its pick and
   * its claim (a waitlist leave does not wait for the slot's lock), so that the step picks again.
   */
  async function holdBestCandidate(
    input: CascadeRef & { round: number; offeredAt: string },
  ): Promise<OfferedCandidate | typeof NOBODY_WAITING | null> {
    const { tenantId, slotId } = input;
    try {
      return await prisma.$transaction(async (tx) => {
        const slot = await lockSlot(tx, { tenantId, slotId });
        if (!slot) throw notFound(`Slot ${slotId}`);
        const entry = await tx.waitlistEntry.findFirst({
          where: { tenantId, slotId, status: 'WAITING' },
          orderBy: [...candidateOrder],
        });
        if (!entry) return NOBODY_WAITING;
        await keepSlotForCascade(tx, slot, input);
        const from = Math.max(Date.parse(input.offeredAt), now().getTime());
        const expiresAt = new Date(from + holdDurationMs(slot.holdSeconds, slot.holdMinutes)).toISOString();
        return offeredTo(entry, await makeHold(tx, { ...input, entryId: entry.id, expiresAt }));
      });
    } catch (error) {
      if (error instanceof CandidateGone) return null;
      if (isUniqueViolation(error)) {
        // An overlapping attempt of this round made its hold first, for the candidate it picked.
        const raced = await roundOffer(input);
        if (raced) return raced;
      }
      throw error;
    }
  }

  /** The round's hold and its candidate, made already by an earlier or overlapping attempt; null when there is none. */
  async function roundOffer({ cascadeId, round }: { cascadeId: string; round: number }) {
    const hold = await prisma.hold.findUnique({
      where: { cascadeId_round: { cascadeId, round } },
      include: { entry: true },
    });
    return hold && offeredTo(hold.entry, hold);
  }

  /**
   * The next candidate and their hold for a round, in one step: picks the best WAITING entry and
   * holds the slot for them, picking again when one stops waiting in between. Any attempt of the same
   * round, a retry or one overlapping a timed-out attempt still running, answers the round's one hold
   * and that hold's own candidate. Null when nobody is waiting.
   *
   * The hold runs from `offeredAt`, the workflow's time when it asked, so that its timer and `expiresAt`
   * count on one clock; or from now, when the step ran later than that (a database outage longer than
   * the hold must not make a hold that has already expired).
   */
  async function offerNextCandidate(
    input: CascadeRef & { round: number; offeredAt: string },
  ): Promise<OfferedCandidate | null> {
    const made = await roundOffer(input);
    if (made) return made;
    for (let pick = 0; pick < OFFER_PICKS; pick += 1) {
      const offered = await holdBestCandidate(input);
      // An overlapping attempt of this round may have just held the last candidate.
      if (offered === NOBODY_WAITING) return roundOffer(input);
      if (offered) return offered;
    }
    throw ApplicationFailure.retryable(
      `${OFFER_PICKS} candidates in a row stopped waiting before their hold was made`,
      'CandidatesKeptLeaving',
    );
  }

  return {
    pickNextCandidate,
    createHold,
    offerNextCandidate,

    /**
     * Marks the slot CASCADING. Answers `assigned` (and changes nothing) when the slot has
     * already been given away, so a stray release cannot reopen it.
     */
    async beginCascade({ tenantId, slotId, cascadeId }: CascadeRef): Promise<{ status: 'cascading' | 'assigned' }> {
      return prisma.$transaction(async (tx) => {
        // Locked first, so that an end committing meanwhile is seen below.
        const current = await lockSlot(tx, { tenantId, slotId });
        if (!current) throw notFound(`Slot ${slotId}`);
        if (current.status === 'ASSIGNED') return { status: 'assigned' as const };
        // An attempt that ran on after its cascade ended must not take the slot from the next one.
        if (await hasEnded(tx, cascadeId)) return { status: 'cascading' as const };
        // The slot may still be another cascade's: one that stopped (an operator released the slot again
        // instead of resetting it), or one that was terminated, so its cleanup never ran. A live one keeps the
        // slot's workflow ID, so no release could have started this one. This one takes the slot over, and
        // releases any offer another cascade left open.
        await releaseLeftHolds(tx, tenantId, { slotId, NOT: { cascadeId } });
        await tx.slot.update({ where: { id: slotId }, data: { status: 'CASCADING', cascadeId } });
        await audit(tx, {
          tenantId,
          actor: CASCADE_ACTOR,
          action: 'cascade.started',
          entityType: 'Slot',
          entityId: slotId,
          details: { cascadeId },
          dedupKey: `${cascadeId}:started`,
        });
        return { status: 'cascading' as const };
      });
    },

    /**
     * Sends the offer on one channel, with accept and decline links carrying the hold's token.
     * The token is rebuilt here from the hold, so it never passes through workflow history.
     * Skips (without failing) a channel the entry or the deployment lacks.
     */
    async sendOfferNotification(input: {
      tenantId: string;
      holdId: string;
      channel: NotificationChannel;
    }): Promise<SkippableNotification> {
      const { tenantId, holdId, channel } = input;
      const hold = await loadHoldForMessage(tenantId, holdId);
      const recipient = channel === 'EMAIL' ? hold.email : hold.phone;
      if (!recipient) return { status: 'SKIPPED', reason: `the entry has no ${channel} address` };
      if (channel === 'SMS' && !notifier.supports('SMS')) return { status: 'SKIPPED', reason: 'no SMS provider' };
      if (hold.status !== 'OFFERED') return { status: 'SKIPPED', reason: `the hold is ${hold.status}` };
      // A hold offered before an upgrade stores the hash of a legacy token: its message carries that one.
      const token = offerTokenMatching(offerTokenSecret, { tenantId, holdId }, hold.tokenHash);
      return notifier.send({
        tenantId,
        channel,
        recipient,
        idempotencyKey: `offer:${holdId}:${channel.toLowerCase()}`,
        template: {
          name: 'waitlist.offer',
          data: {
            tenantName: hold.tenantName,
            customerName: hold.customerName,
            slotName: hold.slotName,
            startsAt: hold.startsAt?.toISOString() ?? null,
            expiresAt: hold.expiresAt.toISOString(),
            acceptUrl: offerResponseUrl(publicBaseUrl, token, 'accept'),
            declineUrl: offerResponseUrl(publicBaseUrl, token, 'decline'),
          },
        },
      });
    },

    /** Moves an open hold to DECLINED, EXPIRED or RELEASED; a hold already settled is left alone. */
    async settleHold(input: SettleHoldInput): Promise<void> {
      const { tenantId, holdId, outcome, entryStatus, actor, reason } = input;
      await prisma.$transaction(async (tx) => {
        const settled = await settleOpenHolds(tx, { id: holdId, tenantId }, { outcome, entryStatus, actor, reason });
        if (settled.length > 0) return;
        const hold = await tx.hold.findFirst({ where: { id: holdId, tenantId }, select: { id: true } });
        if (!hold) throw notFound(`Hold ${holdId}`);
      });
    },

    /**
     * The accept, in one transaction: the hold CONFIRMED, the entry ACCEPTED, the slot ASSIGNED
     * to it, and the `offer.accepted` event. Idempotent: a hold already confirmed is success.
     *
     * @throws ApplicationFailure `HoldNotOffered` (non-retryable) if the hold was settled otherwise.
     */
    async confirmHold({ tenantId, holdId, actor }: { tenantId: string; holdId: string; actor: string }): Promise<void> {
      const eventId = await prisma.$transaction(async (tx) => {
        const hold = await tx.hold.findFirst({ where: { id: holdId, tenantId } });
        if (!hold) throw notFound(`Hold ${holdId}`);
        if (hold.status === 'CONFIRMED') return undefined;
        if (hold.status !== 'OFFERED') {
          throw ApplicationFailure.nonRetryable(`Hold ${holdId} is ${hold.status}`, 'HoldNotOffered');
        }
        // Conditional, so of two concurrent accepts only the one that moved the hold goes on.
        const moved = await tx.hold.updateMany({
          where: { id: holdId, status: 'OFFERED' },
          data: { status: 'CONFIRMED', respondedAt: now() },
        });
        if (moved.count === 0) return undefined;
        await tx.waitlistEntry.update({ where: { id: hold.entryId }, data: { status: 'ACCEPTED' } });
        await tx.slot.update({
          where: { id: hold.slotId },
          data: { status: 'ASSIGNED', assignedEntryId: hold.entryId, cascadeId: null },
        });
        const details = { slotId: hold.slotId, entryId: hold.entryId };
        await audit(
          tx,
          {
            tenantId,
            actor,
            action: 'hold.confirmed',
            entityType: 'Hold',
            entityId: holdId,
            details,
            dedupKey: `hold:${holdId}:CONFIRMED`,
          },
          {
            tenantId,
            actor,
            action: 'slot.assigned',
            entityType: 'Slot',
            entityId: hold.slotId,
            details,
            dedupKey: `hold:${holdId}:assigned`,
          },
        );
        return recordOfferAccepted(tx, { tenantId, holdId });
      });
      await startFanOutsAfterCommit(deps.temporal, tenantId, [eventId]);
    },

    /** Moves an open hold's deadline forward (never back, so out-of-order retries are harmless). */
    async moveHoldDeadline(input: {
      tenantId: string;
      holdId: string;
      expiresAt: string;
      actor: string;
    }): Promise<void> {
      const { tenantId, holdId, expiresAt, actor } = input;
      await prisma.$transaction(async (tx) => {
        const moved = await tx.hold.updateMany({
          where: { id: holdId, tenantId, status: 'OFFERED', expiresAt: { lt: new Date(expiresAt) } },
          data: { expiresAt: new Date(expiresAt) },
        });
        if (moved.count === 0) return;
        await audit(tx, {
          tenantId,
          actor,
          action: 'hold.extended',
          entityType: 'Hold',
          entityId: holdId,
          details: { expiresAt },
          dedupKey: `hold:${holdId}:extended:${expiresAt}`,
        });
      });
    },

    /** Tells the candidate who accepted that the slot is theirs. */
    async sendConfirmation({ tenantId, holdId }: { tenantId: string; holdId: string }): Promise<NotificationResult> {
      const hold = await loadHoldForMessage(tenantId, holdId);
      return notifier.send({
        tenantId,
        channel: 'EMAIL',
        recipient: hold.email,
        idempotencyKey: `confirmation:${holdId}:email`,
        template: {
          name: 'waitlist.confirmation',
          data: {
            tenantName: hold.tenantName,
            customerName: hold.customerName,
            slotName: hold.slotName,
            startsAt: hold.startsAt?.toISOString() ?? null,
          },
        },
      });
    },

    /** The list ran out: the slot is UNFILLED, with the `slot.unfilled` event in the same transaction. */
    async closeUnfilledSlot(input: CascadeRef & { counts: OfferCounts }): Promise<void> {
      const { tenantId, slotId, cascadeId, counts } = input;
      const eventId = await prisma.$transaction(async (tx) => {
        // A resumed cascade that found nobody waiting closes its slot too, though it is still OPEN.
        const ours = (await lockedStanding(tx, input)) !== 'none';
        if (ours) await tx.slot.update({ where: { id: slotId }, data: { status: 'UNFILLED', cascadeId: null } });
        await releaseLeftHolds(tx, tenantId, { slotId, cascadeId });
        // A retry, or a slot that left this cascade another way, reports nothing.
        if (!ours) return undefined;
        await audit(tx, {
          tenantId,
          actor: CASCADE_ACTOR,
          action: 'slot.unfilled',
          entityType: 'Slot',
          entityId: slotId,
          details: { cascadeId, ...counts },
          dedupKey: `${cascadeId}:unfilled`,
        });
        return recordSlotUnfilled(tx, { tenantId, slotId, cascadeId, counts });
      });
      await startFanOutsAfterCommit(deps.temporal, tenantId, [eventId]);
    },

    /** Escalates an unfilled slot to the tenant's admin address; skipped when the tenant has none. */
    async sendEscalation(input: CascadeRef & { counts: OfferCounts }): Promise<SkippableNotification> {
      const { tenantId, slotId, cascadeId, counts } = input;
      const slot = await prisma.slot.findFirst({ where: { id: slotId, tenantId }, include: { tenant: true } });
      if (!slot) throw notFound(`Slot ${slotId}`);
      if (!slot.tenant.adminEmail) return { status: 'SKIPPED', reason: 'the tenant has no admin email' };
      return notifier.send({
        tenantId,
        channel: 'EMAIL',
        recipient: slot.tenant.adminEmail,
        idempotencyKey: `escalation:${cascadeId}:email`,
        template: {
          name: 'waitlist.escalation',
          data: { tenantName: slot.tenant.name, slotId, slotName: slot.name, ...counts },
        },
      });
    },

    /**
     * The cascade was cancelled, or stopped on a failure (`reason`): a CASCADING slot goes back to
     * OPEN, ready for another release.
     */
    async reopenSlot({ tenantId, slotId, cascadeId, reason }: CascadeRef & { reason?: string }): Promise<void> {
      await prisma.$transaction(async (tx) => {
        // A stopped cascade keeps the slot, so that an operator's reset of its run can offer again
        // (`lockSlotForCascade`); a cancelled one gives it up.
        if ((await lockedStanding(tx, { tenantId, slotId, cascadeId })) !== 'none') {
          await tx.slot.update({
            where: { id: slotId },
            data: { status: 'OPEN', cascadeId: reason ? cascadeId : null },
          });
        }
        await releaseLeftHolds(tx, tenantId, { slotId, cascadeId });
        // With a reason the cascade stopped on a failure rather than being cancelled.
        await audit(tx, {
          tenantId,
          actor: CASCADE_ACTOR,
          action: reason ? 'cascade.stopped' : 'cascade.cancelled',
          entityType: 'Slot',
          entityId: slotId,
          details: reason ? { cascadeId, reason, keepsSlot: true } : { cascadeId },
          dedupKey: `${cascadeId}:${reason ? 'stopped' : 'cancelled'}`,
        });
      });
    },
  };
}

export type WaitlistActivities = ReturnType<typeof createWaitlistActivities>;
