import { randomUUID } from 'node:crypto';
import { createTemplateRenderer, type TemplateRenderer } from '../../activities/templates';
import { candidateOrder } from '../../domain/candidates';
import { CASCADE_ACTOR, holdDurationMs } from '../../domain/holds';
import { isValidRecipient, offerResponseUrl, type NotificationTemplate } from '../../domain/notifications';
import { hashOfferToken, offerTokenMatching, signOfferToken, verifyOfferToken } from '../../domain/offer-token';
import { notificationMessageId } from '../../domain/outbox';
import { isUniqueViolation, type Prisma, type PrismaClient } from '../../lib/db';
import type { CascadeJobData } from './queues';
import type { MailTransport } from '../../activities/notifications';

/**
 * The waitlist logic of the BullMQ baseline: what the seed's BackgroundJobService does, on the
 * same tables and with the same domain rules as Holdfast (candidate order, hold length, offer
 * tokens, message templates). Every step is guarded so that a job retried or enqueued twice
 * changes nothing the second time:
 * - a hold is unique per (cascadeId, round), and a round never starts while the slot has a live offer;
 * - a hold leaves OFFERED through one status-guarded updateMany, so only one of decline, accept and
 *   expiry wins, and only the winner (or a retry of it) enqueues the next round;
 * - a message is sent through the Notification ledger, keyed `offer:<holdId>:email`, never twice.
 */

/** What a message needs: nodemailer's transport (or any with the same sendMail) and the sender. */
export interface BaselineMail {
  transport: MailTransport;
  from: string;
}

export interface BaselineDeps {
  prisma: PrismaClient;
  mail: BaselineMail;
  offerTokenSecret: string;
  publicBaseUrl: string;
  renderer?: TemplateRenderer;
  now?: () => Date;
}

/** An answer the offer route gives as 4xx, with Holdfast's codes. */
export class OfferAnswerRefused extends Error {
  constructor(
    readonly status: 400 | 404 | 409,
    readonly code: 'INVALID_TOKEN' | 'NOT_FOUND' | 'HOLD_EXPIRED' | 'HOLD_SUPERSEDED' | 'ALREADY_RESPONDED',
    message: string,
  ) {
    super(message);
    this.name = 'OfferAnswerRefused';
  }
}

/** A permanent delivery problem: retrying the job cannot fix it. */
export class UndeliverableMessage extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UndeliverableMessage';
  }
}

type Tx = Prisma.TransactionClient;

interface AuditRow {
  tenantId: string;
  actor: string;
  action: string;
  entityType: 'Slot' | 'Hold' | 'WaitlistEntry';
  entityId: string;
  details?: Prisma.InputJsonValue;
  dedupKey?: string;
}

/**
 * Prisma's defaults (2 s to get a connection, 5 s to finish) answer P2028 to a burst on two busy
 * cores; a team that saw it under load would raise them like this.
 */
const TX_OPTIONS = { maxWait: 10_000, timeout: 20_000 } as const;

const audit = (db: Tx | PrismaClient, ...rows: AuditRow[]) =>
  db.auditLog.createMany({ data: rows, skipDuplicates: true });

/** What the first half of a round came to. */
export type RoundOutcome =
  { kind: 'offered'; holdId: string; expiresAt: Date } | { kind: 'unfilled' } | { kind: 'skipped'; reason: string };

/** How many times a round picks again when its candidate left the list between the pick and the claim. */
const MAX_PICKS_PER_ROUND = 5;

/** How many expired holds one poll settles; the next poll takes the rest. */
export const POLL_BATCH = 500;

class CandidateGone extends Error {}

export function createBaselineCascade(deps: BaselineDeps) {
  const { prisma, mail, offerTokenSecret, publicBaseUrl } = deps;
  const now = deps.now ?? (() => new Date());
  const renderer = deps.renderer ?? createTemplateRenderer(prisma);

  /**
   * Sends one templated email through the Notification ledger: the row is found or created by its
   * idempotency key, a SENT row is never sent again, and every attempt is counted.
   */
  async function sendOnce(input: {
    tenantId: string;
    recipient: string;
    idempotencyKey: string;
    template: NotificationTemplate;
  }): Promise<boolean> {
    const { tenantId, recipient, idempotencyKey, template } = input;
    const row = await prisma.notification.upsert({
      where: { idempotencyKey },
      create: { tenantId, channel: 'EMAIL', recipient, template: template.name, idempotencyKey, attempts: 1 },
      update: { attempts: { increment: 1 } },
    });
    if (row.status === 'SENT') return false;
    try {
      if (!isValidRecipient('EMAIL', recipient)) throw new UndeliverableMessage('The recipient is not a valid address');
      const rendered = await renderer.render(tenantId, 'EMAIL', template);
      if ('suppressed' in rendered) {
        await prisma.notification.update({ where: { id: row.id }, data: { status: 'CANCELLED', cancelledAt: now() } });
        return false;
      }
      const info = await mail.transport.sendMail({
        from: mail.from,
        to: recipient,
        subject: rendered.subject ?? '',
        text: rendered.text,
        ...(rendered.html !== null ? { html: rendered.html } : {}),
        messageId: notificationMessageId(row.id, mail.from),
      });
      await prisma.notification.update({
        where: { id: row.id },
        data: { status: 'SENT', providerId: info.messageId ?? null, sentAt: now(), lastError: null },
      });
      return true;
    } catch (error) {
      // The SMTP reply can quote the address: only the error's kind goes to the ledger.
      const code = (error as { responseCode?: unknown }).responseCode;
      const lastError = `${error instanceof Error ? error.name : 'Error'}${typeof code === 'number' ? ` SMTP ${code}` : ''}`;
      await prisma.notification.update({ where: { id: row.id }, data: { lastError } });
      if (typeof code === 'number' && code >= 500) throw new UndeliverableMessage(lastError);
      throw error;
    }
  }

  async function sendOffer(holdId: string): Promise<boolean> {
    const hold = await prisma.hold.findUnique({
      where: { id: holdId },
      include: { entry: true, slot: true, tenant: true },
    });
    if (!hold || hold.status !== 'OFFERED') return false;
    const token = offerTokenMatching(offerTokenSecret, { tenantId: hold.tenantId, holdId }, hold.tokenHash);
    return sendOnce({
      tenantId: hold.tenantId,
      recipient: hold.entry.email,
      idempotencyKey: `offer:${holdId}:email`,
      template: {
        name: 'waitlist.offer',
        data: {
          tenantName: hold.tenant.name,
          customerName: hold.entry.customerName,
          slotName: hold.slot.name,
          startsAt: hold.slot.startsAt?.toISOString() ?? null,
          expiresAt: hold.expiresAt.toISOString(),
          acceptUrl: offerResponseUrl(publicBaseUrl, token, 'accept'),
          declineUrl: offerResponseUrl(publicBaseUrl, token, 'decline'),
        },
      },
    });
  }

  /** Creates the round's hold and claims its entry in one transaction; the existing hold on a retry. */
  async function createHold(data: CascadeJobData, entryId: string, holdMs: number) {
    const { tenantId, slotId, cascadeId, round } = data;
    const holdId = randomUUID();
    const expiresAt = new Date(now().getTime() + holdMs);
    try {
      return await prisma.$transaction(async (tx) => {
        // The hold goes in first: its unique (cascadeId, round) makes a concurrent duplicate wait and fail.
        const hold = await tx.hold.create({
          data: {
            id: holdId,
            tenantId,
            slotId,
            entryId,
            cascadeId,
            round,
            expiresAt,
            tokenHash: hashOfferToken(signOfferToken(offerTokenSecret, { tenantId, holdId })),
          },
        });
        const claimed = await tx.waitlistEntry.updateMany({
          where: { id: entryId, tenantId, slotId, status: 'WAITING' },
          data: { status: 'OFFERED' },
        });
        if (claimed.count === 0) throw new CandidateGone();
        await audit(tx, {
          tenantId,
          actor: CASCADE_ACTOR,
          action: 'hold.offered',
          entityType: 'Hold',
          entityId: holdId,
          details: { slotId, entryId, round, expiresAt: expiresAt.toISOString() },
          dedupKey: `hold:${holdId}:offered`,
        });
        return hold;
      }, TX_OPTIONS);
    } catch (error) {
      if (error instanceof CandidateGone) return undefined;
      if (isUniqueViolation(error)) {
        const existing = await prisma.hold.findUnique({ where: { cascadeId_round: { cascadeId, round } } });
        if (existing) return existing;
      }
      throw error;
    }
  }

  async function closeUnfilled({ tenantId, slotId, cascadeId }: CascadeJobData): Promise<boolean> {
    return prisma.$transaction(async (tx) => {
      const moved = await tx.slot.updateMany({
        where: { id: slotId, tenantId, status: 'CASCADING' },
        data: { status: 'UNFILLED' },
      });
      if (moved.count === 0) return false;
      await audit(tx, {
        tenantId,
        actor: CASCADE_ACTOR,
        action: 'slot.unfilled',
        entityType: 'Slot',
        entityId: slotId,
        details: { cascadeId },
        dedupKey: `${cascadeId}:unfilled`,
      });
      return true;
    }, TX_OPTIONS);
  }

  /** The next round after a hold that left OFFERED, or undefined when the slot is no longer cascading. */
  const nextRound = (
    hold: { tenantId: string; slotId: string; cascadeId: string; round: number },
    reason: CascadeJobData['reason'],
  ): CascadeJobData => ({
    tenantId: hold.tenantId,
    slotId: hold.slotId,
    cascadeId: hold.cascadeId,
    round: hold.round + 1,
    reason,
  });

  /** Moves an OFFERED hold past its deadline to EXPIRED (the entry too), in one transaction. */
  async function expireIfDue(holdId: string): Promise<boolean> {
    return prisma.$transaction(async (tx) => {
      const moved = await tx.hold.updateMany({
        where: { id: holdId, status: 'OFFERED', expiresAt: { lte: now() } },
        data: { status: 'EXPIRED' },
      });
      if (moved.count === 0) return false;
      const hold = await tx.hold.findUniqueOrThrow({ where: { id: holdId } });
      await tx.waitlistEntry.updateMany({
        where: { id: hold.entryId, status: 'OFFERED' },
        data: { status: 'EXPIRED' },
      });
      await audit(tx, {
        tenantId: hold.tenantId,
        actor: CASCADE_ACTOR,
        action: 'hold.expired',
        entityType: 'Hold',
        entityId: holdId,
        details: { slotId: hold.slotId, entryId: hold.entryId },
        dedupKey: `hold:${holdId}:EXPIRED`,
      });
      return true;
    }, TX_OPTIONS);
  }

  return {
    sendOffer,

    /**
     * The first half of a round (the `notification-cascade` job): the round's hold, made now or
     * found from an earlier attempt. A round for a slot that is no longer CASCADING, or that still
     * has a live offer, does nothing; a slot whose list ran out becomes UNFILLED.
     */
    async prepareRound(data: CascadeJobData): Promise<RoundOutcome> {
      const { tenantId, slotId, cascadeId, round } = data;
      let hold = await prisma.hold.findUnique({ where: { cascadeId_round: { cascadeId, round } } });
      if (!hold) {
        const slot = await prisma.slot.findFirst({ where: { id: slotId, tenantId }, include: { tenant: true } });
        if (!slot) return { kind: 'skipped', reason: 'slot not found' };
        if (slot.status !== 'CASCADING') return { kind: 'skipped', reason: `slot is ${slot.status}` };
        const live = await prisma.hold.count({ where: { slotId, status: 'OFFERED' } });
        if (live > 0) return { kind: 'skipped', reason: 'the slot has a live offer' };
        const holdMs = holdDurationMs(slot.holdSeconds, slot.tenant.holdMinutes);
        for (let pick = 0; pick < MAX_PICKS_PER_ROUND && !hold; pick++) {
          const entry = await prisma.waitlistEntry.findFirst({
            where: { tenantId, slotId, status: 'WAITING' },
            orderBy: [...candidateOrder],
          });
          if (!entry) {
            await closeUnfilled(data);
            return { kind: 'unfilled' };
          }
          hold = (await createHold(data, entry.id, holdMs)) ?? null;
        }
        if (!hold) throw new Error('every candidate picked left the list before the claim');
      }
      if (hold.status !== 'OFFERED') return { kind: 'skipped', reason: `the round's hold is ${hold.status}` };
      return { kind: 'offered', holdId: hold.id, expiresAt: hold.expiresAt };
    },

    /**
     * Expires one hold if it is still OFFERED and due (B-delay's job, and each row of B-poll's).
     * Answers the next round to enqueue whenever the hold is EXPIRED, also when an earlier
     * attempt expired it and crashed before enqueueing: the enqueue is idempotent per round.
     */
    async expireHold(holdId: string): Promise<CascadeJobData | undefined> {
      await expireIfDue(holdId);
      const hold = await prisma.hold.findUnique({ where: { id: holdId } });
      return hold?.status === 'EXPIRED' ? nextRound(hold, 'expired') : undefined;
    },

    /** B-poll's sweep: the OFFERED holds past their deadline (at most {@link POLL_BATCH}), oldest first. */
    async dueHolds(): Promise<string[]> {
      const due = await prisma.hold.findMany({
        where: { status: 'OFFERED', expiresAt: { lte: now() } },
        orderBy: { expiresAt: 'asc' },
        select: { id: true },
        take: POLL_BATCH,
      });
      return due.map((hold) => hold.id);
    },

    /**
     * The offer could not be delivered for good (the job's last attempt failed): the hold is
     * RELEASED, the entry UNREACHABLE, and the cascade moves on, as Holdfast's does.
     */
    async releaseUndeliverable(data: CascadeJobData): Promise<CascadeJobData | undefined> {
      const hold = await prisma.hold.findUnique({
        where: { cascadeId_round: { cascadeId: data.cascadeId, round: data.round } },
      });
      if (!hold) return undefined;
      await prisma.$transaction(async (tx) => {
        const moved = await tx.hold.updateMany({
          where: { id: hold.id, status: 'OFFERED' },
          data: { status: 'RELEASED', reason: 'undeliverable' },
        });
        if (moved.count === 0) return;
        await tx.waitlistEntry.updateMany({
          where: { id: hold.entryId, status: 'OFFERED' },
          data: { status: 'UNREACHABLE' },
        });
        await audit(tx, {
          tenantId: hold.tenantId,
          actor: CASCADE_ACTOR,
          action: 'hold.released',
          entityType: 'Hold',
          entityId: hold.id,
          details: { slotId: hold.slotId, entryId: hold.entryId, reason: 'undeliverable' },
          dedupKey: `hold:${hold.id}:RELEASED`,
        });
      }, TX_OPTIONS);
      const after = await prisma.hold.findUnique({ where: { id: hold.id } });
      return after?.status === 'RELEASED' ? nextRound(after, 'unreachable') : undefined;
    },

    /**
     * The release route: an OPEN or UNFILLED slot becomes CASCADING and gets a new cascade, whose
     * first round the caller enqueues. A slot already CASCADING answers `joined` (nothing new).
     */
    async release(input: { tenantId: string; slotId: string; actor: string; cascadeId: string }) {
      const { tenantId, slotId, actor, cascadeId } = input;
      const slot = await prisma.slot.findFirst({ where: { id: slotId, tenantId }, select: { status: true } });
      if (!slot) return { kind: 'not-found' as const };
      if (slot.status === 'ASSIGNED') return { kind: 'assigned' as const };
      // No interactive transaction here: a burst of releases would queue for connections behind them.
      const moved = await prisma.slot.updateMany({
        where: { id: slotId, tenantId, status: { in: ['OPEN', 'UNFILLED'] } },
        data: { status: 'CASCADING' },
      });
      const started = moved.count === 1;
      if (started) {
        await audit(prisma, {
          tenantId,
          actor,
          action: 'slot.release-requested',
          entityType: 'Slot',
          entityId: slotId,
          details: { cascadeId },
        });
      }
      if (!started) return { kind: 'joined' as const };
      const first: CascadeJobData = { tenantId, slotId, cascadeId, round: 1, reason: 'release' };
      return { kind: 'started' as const, first };
    },

    /**
     * The candidate's answer. Only an OFFERED hold before its deadline takes one: a hold whose
     * deadline passed is refused HOLD_EXPIRED even while the minute poll has not yet expired it.
     * Accept confirms hold, entry and slot in one transaction; decline answers the next round.
     *
     * @throws OfferAnswerRefused with Holdfast's status and code.
     */
    async respond(
      rawToken: string,
      decision: 'accept' | 'decline',
    ): Promise<{ status: 'confirmed' | 'declined'; tenantId: string; holdId: string; next?: CascadeJobData }> {
      const claims = verifyOfferToken(offerTokenSecret, rawToken);
      if (!claims) throw new OfferAnswerRefused(400, 'INVALID_TOKEN', 'The offer link is not valid');
      const hold = await prisma.hold.findUnique({ where: { tokenHash: hashOfferToken(rawToken) } });
      if (!hold || hold.id !== claims.holdId || hold.tenantId !== claims.tenantId) {
        throw new OfferAnswerRefused(404, 'NOT_FOUND', 'Offer not found');
      }
      const at = now();
      const settled = await prisma.$transaction(async (tx) => {
        const moved = await tx.hold.updateMany({
          where: { id: hold.id, status: 'OFFERED', expiresAt: { gt: at } },
          data: { status: decision === 'accept' ? 'CONFIRMED' : 'DECLINED', respondedAt: at },
        });
        if (moved.count === 0) return false;
        const details = { slotId: hold.slotId, entryId: hold.entryId };
        if (decision === 'accept') {
          await tx.waitlistEntry.update({ where: { id: hold.entryId }, data: { status: 'ACCEPTED' } });
          await tx.slot.update({
            where: { id: hold.slotId },
            data: { status: 'ASSIGNED', assignedEntryId: hold.entryId },
          });
          await audit(
            tx,
            {
              tenantId: hold.tenantId,
              actor: `candidate:${hold.entryId}`,
              action: 'hold.confirmed',
              entityType: 'Hold',
              entityId: hold.id,
              details,
              dedupKey: `hold:${hold.id}:CONFIRMED`,
            },
            {
              tenantId: hold.tenantId,
              actor: `candidate:${hold.entryId}`,
              action: 'slot.assigned',
              entityType: 'Slot',
              entityId: hold.slotId,
              details,
              dedupKey: `hold:${hold.id}:assigned`,
            },
          );
        } else {
          await tx.waitlistEntry.updateMany({
            where: { id: hold.entryId, status: 'OFFERED' },
            data: { status: 'DECLINED' },
          });
          await audit(tx, {
            tenantId: hold.tenantId,
            actor: `candidate:${hold.entryId}`,
            action: 'hold.declined',
            entityType: 'Hold',
            entityId: hold.id,
            details,
            dedupKey: `hold:${hold.id}:DECLINED`,
          });
        }
        return true;
      }, TX_OPTIONS);
      if (!settled) {
        const current = await prisma.hold.findUnique({ where: { id: hold.id }, select: { status: true } });
        const status = current?.status ?? 'RELEASED';
        if (status === 'OFFERED' || status === 'EXPIRED') {
          throw new OfferAnswerRefused(409, 'HOLD_EXPIRED', 'The hold on this offer has expired');
        }
        if (status === 'RELEASED') throw new OfferAnswerRefused(409, 'HOLD_SUPERSEDED', 'This offer is no longer open');
        throw new OfferAnswerRefused(409, 'ALREADY_RESPONDED', 'This offer has already been answered');
      }
      return decision === 'accept'
        ? { status: 'confirmed', tenantId: hold.tenantId, holdId: hold.id }
        : { status: 'declined', tenantId: hold.tenantId, holdId: hold.id, next: nextRound(hold, 'declined') };
    },

    /** Tells the candidate who accepted that the slot is theirs (the notifications queue). */
    async sendConfirmation(holdId: string): Promise<boolean> {
      const hold = await prisma.hold.findUnique({
        where: { id: holdId },
        include: { entry: true, slot: true, tenant: true },
      });
      if (!hold || hold.status !== 'CONFIRMED') return false;
      return sendOnce({
        tenantId: hold.tenantId,
        recipient: hold.entry.email,
        idempotencyKey: `confirmation:${holdId}:email`,
        template: {
          name: 'waitlist.confirmation',
          data: {
            tenantName: hold.tenant.name,
            customerName: hold.entry.customerName,
            slotName: hold.slot.name,
            startsAt: hold.slot.startsAt?.toISOString() ?? null,
          },
        },
      });
    },

    /** Escalates an unfilled slot to the tenant's admin, as Holdfast does; skipped without an admin address. */
    async sendEscalation(input: { tenantId: string; slotId: string; cascadeId: string }): Promise<boolean> {
      const { tenantId, slotId, cascadeId } = input;
      const slot = await prisma.slot.findFirst({ where: { id: slotId, tenantId }, include: { tenant: true } });
      if (!slot?.tenant.adminEmail) return false;
      const byStatus = await prisma.hold.groupBy({ by: ['status'], where: { cascadeId }, _count: { _all: true } });
      const count = (status: string) => byStatus.find((row) => row.status === status)?._count._all ?? 0;
      return sendOnce({
        tenantId,
        recipient: slot.tenant.adminEmail,
        idempotencyKey: `escalation:${cascadeId}:email`,
        template: {
          name: 'waitlist.escalation',
          data: {
            tenantName: slot.tenant.name,
            slotId,
            slotName: slot.name,
            offered: byStatus.reduce((sum, row) => sum + row._count._all, 0),
            declined: count('DECLINED'),
            expired: count('EXPIRED'),
            unreachable: count('RELEASED'),
          },
        },
      });
    },
  };
}

export type BaselineCascade = ReturnType<typeof createBaselineCascade>;
