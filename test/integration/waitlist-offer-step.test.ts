import { randomUUID } from 'node:crypto';
import { Client as PgClient } from 'pg';
import { createNotifier, type MailTransport } from '../../activities/notifications';
import { createWaitlistActivities } from '../../activities/waitlist';
import { extractLinks, formatUtc } from '../../domain/notifications';
import { hashOfferToken } from '../../domain/offer-token';
import type { PrismaClient } from '../../lib/db';
import { until } from '../support/eventually';
import { createTestTenant, testConfig, testPrisma } from '../support/stack';

/**
 * The cascade's offer step against a real PostgreSQL: the next candidate is picked and their hold made in
 * one activity, which a retry of the same round can run again without a second hold or a different person.
 */
describe('the waitlist offer step: pick and hold in one activity (real PostgreSQL)', () => {
  const config = testConfig();
  const transport: MailTransport = { sendMail: async () => ({ messageId: `m-${randomUUID()}` }) };
  const secret = 'offer-step-test-secret-0123456789abcdef';
  let prisma: PrismaClient;
  let tenantId: string;

  beforeAll(async () => {
    prisma = testPrisma(config);
    tenantId = (await createTestTenant(prisma)).id;
  });

  afterAll(async () => {
    await prisma.$disconnect();
  });

  const activitiesOn = (client: PrismaClient, mail = transport) =>
    createWaitlistActivities({
      prisma: client,
      notifier: createNotifier({ prisma: client, mail: { transport: mail, from: 'Holdfast <t@holdfast.test>' } }),
      offerTokenSecret: secret,
      publicBaseUrl: 'http://api.test',
    });

  /** A slot with a 5-minute hold and these entries, highest priority first, offered by cascade `cascadeId`. */
  async function slotWith(...names: string[]) {
    const slot = await prisma.slot.create({ data: { tenantId, name: 'Table for two', holdSeconds: 300 } });
    const cascadeId = `c-${randomUUID()}`;
    await activitiesOn(prisma).beginCascade({ tenantId, slotId: slot.id, cascadeId });
    const entries = [];
    for (const [index, customerName] of names.entries()) {
      entries.push(
        await prisma.waitlistEntry.create({
          data: {
            tenantId,
            slotId: slot.id,
            customerName,
            email: `${customerName.toLowerCase()}@example.test`,
            phone: index === 0 ? '+15550100' : null,
            priority: names.length - index,
          },
        }),
      );
    }
    return { slot, entries, cascadeId };
  }

  /** The workflow's time when it asked: ahead of this process's clock unless given. */
  const roundOf = (slotId: string, cascadeId: string, round: number, offeredAt = new Date(Date.now() + 3_600_000)) => ({
    tenantId,
    slotId,
    cascadeId,
    round,
    offeredAt: offeredAt.toISOString(),
  });

  /** A candidate's decline of hold `holdId`, as the cascade settles it. */
  const declined = (holdId: string, tenant = tenantId) => ({
    tenantId: tenant,
    holdId,
    outcome: 'DECLINED' as const,
    entryStatus: 'DECLINED' as const,
    actor: 'candidate',
  });

  it('offers the best waiting candidate: their entry is OFFERED, one audit row, and the hold runs from offeredAt for the hold length', async () => {
    const { slot, entries, cascadeId } = await slotWith('Ada', 'Grace');
    const asked = roundOf(slot.id, cascadeId, 1);

    const offered = await activitiesOn(prisma).offerNextCandidate(asked);

    const hold = await prisma.hold.findUniqueOrThrow({ where: { id: offered!.hold.holdId } });
    expect(offered).toEqual({
      candidate: { entryId: entries[0]!.id, customerName: 'Ada', hasPhone: true },
      hold: {
        holdId: hold.id,
        entryId: entries[0]!.id,
        expiresAt: new Date(Date.parse(asked.offeredAt) + 300_000).toISOString(),
        tokenHash: hold.tokenHash,
      },
      offeredAt: hold.createdAt.toISOString(),
    });
    expect([hold.status, hold.round]).toEqual(['OFFERED', 1]);
    expect(await prisma.auditLog.count({ where: { tenantId, entityId: hold.id } })).toBe(1);
    const statuses = await prisma.waitlistEntry.findMany({ where: { slotId: slot.id }, orderBy: { priority: 'desc' } });
    expect(statuses.map((entry) => entry.status)).toEqual(['OFFERED', 'WAITING']);
  });

  it('run long after it was asked for (an outage), holds for the full hold length from when it ran', async () => {
    const { slot, cascadeId } = await slotWith('Ada');
    const ranFrom = Date.now();

    const offered = await activitiesOn(prisma).offerNextCandidate(
      roundOf(slot.id, cascadeId, 1, new Date(ranFrom - 3_600_000)),
    );

    const expiresAt = Date.parse(offered!.hold.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(ranFrom + 300_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 300_000);
  });

  it("holds for the tenant's hold length when the slot sets none, as it stands at each offer", async () => {
    const tenant = await createTestTenant(prisma);
    await prisma.tenant.update({ where: { id: tenant.id }, data: { holdMinutes: 20 } });
    const slot = await prisma.slot.create({ data: { tenantId: tenant.id, name: 'Walk-in', holdSeconds: null } });
    const cascadeId = `c-${randomUUID()}`;
    const activities = activitiesOn(prisma);
    await activities.beginCascade({ tenantId: tenant.id, slotId: slot.id, cascadeId });
    for (const [index, customerName] of ['Ada', 'Grace'].entries()) {
      await prisma.waitlistEntry.create({
        data: {
          tenantId: tenant.id,
          slotId: slot.id,
          customerName,
          email: `${customerName}@example.test`,
          priority: 2 - index,
        },
      });
    }
    const asked = (round: number) => ({ ...roundOf(slot.id, cascadeId, round), tenantId: tenant.id });
    const holdLength = (offered: Awaited<ReturnType<typeof activities.offerNextCandidate>>, from: string) =>
      Date.parse(offered!.hold.expiresAt) - Date.parse(from);

    const firstAsked = asked(1);
    const first = await activities.offerNextCandidate(firstAsked);
    await prisma.tenant.update({ where: { id: tenant.id }, data: { holdMinutes: 5 } });
    const secondAsked = asked(2);
    const second = await activities.offerNextCandidate(secondAsked);

    expect(holdLength(first, firstAsked.offeredAt)).toBe(20 * 60_000);
    expect(holdLength(second, secondAsked.offeredAt)).toBe(5 * 60_000);
  });

  it('run again for the same round, answers the hold already made and its candidate, and makes no second hold', async () => {
    const { slot, entries, cascadeId } = await slotWith('Ada', 'Grace');
    const activities = activitiesOn(prisma);

    const first = await activities.offerNextCandidate(roundOf(slot.id, cascadeId, 1));
    const retried = await activities.offerNextCandidate(roundOf(slot.id, cascadeId, 1));

    expect(retried).toEqual(first);
    expect(retried!.candidate.entryId).toBe(entries[0]!.id);
    expect(await prisma.hold.count({ where: { slotId: slot.id } })).toBe(1);
    expect((await prisma.waitlistEntry.findUniqueOrThrow({ where: { id: entries[1]!.id } })).status).toBe('WAITING');
  });

  it('run again for the same round when nobody else waits, still answers the hold already made', async () => {
    const { slot, entries, cascadeId } = await slotWith('Ada');
    const activities = activitiesOn(prisma);

    const first = await activities.offerNextCandidate(roundOf(slot.id, cascadeId, 1));
    const retried = await activities.offerNextCandidate(roundOf(slot.id, cascadeId, 1));

    expect(retried).toEqual(first);
    expect(retried!.hold.entryId).toBe(entries[0]!.id);
  });

  it('passes over a candidate who stops waiting between the pick and the hold, for the next one in the same step', async () => {
    const { slot, entries, cascadeId } = await slotWith('Ada', 'Grace');
    let picks = 0;
    // Ada leaves the waitlist right after she is picked, as a concurrent removal would.
    const racing = prisma.$extends({
      query: {
        waitlistEntry: {
          async findFirst({ args, query }) {
            const found = await query(args);
            picks += 1;
            if (picks === 1) {
              await prisma.waitlistEntry.update({ where: { id: entries[0]!.id }, data: { status: 'REMOVED' } });
            }
            return found;
          },
        },
      },
    }) as unknown as PrismaClient;

    const offered = await activitiesOn(racing).offerNextCandidate(roundOf(slot.id, cascadeId, 1));

    expect(offered!.candidate).toEqual({ entryId: entries[1]!.id, customerName: 'Grace', hasPhone: false });
    expect(offered!.hold.entryId).toBe(entries[1]!.id);
    expect(await prisma.hold.count({ where: { slotId: slot.id } })).toBe(1);
  });

  /**
   * A client whose first look for the round's hold lets `overlap` run before it answers: an earlier attempt of
   * the round (timed out, still running) commits its hold after this one found none, before it locks the slot.
   */
  const overlappedAfterTheRoundCheck = (overlap: () => Promise<unknown>) => {
    let overlapped = false;
    return prisma.$extends({
      query: {
        hold: {
          async findUnique({ args, query }) {
            const found = await query(args);
            if (!overlapped) {
              overlapped = true;
              await overlap();
            }
            return found;
          },
        },
      },
    }) as unknown as PrismaClient;
  };

  it('overlapping an earlier attempt that held the last candidate, answers that hold rather than nobody', async () => {
    const { slot, entries, cascadeId } = await slotWith('Ada');
    const asked = roundOf(slot.id, cascadeId, 1);
    const overlapping = overlappedAfterTheRoundCheck(() => activitiesOn(prisma).offerNextCandidate(asked));

    const offered = await activitiesOn(overlapping).offerNextCandidate(asked);

    expect(offered?.candidate.entryId).toBe(entries[0]!.id);
    expect(offered?.hold.entryId).toBe(entries[0]!.id);
    expect(await prisma.hold.count({ where: { slotId: slot.id } })).toBe(1);
  });

  it('overlapping an earlier attempt that held someone else, answers that hold with its own candidate', async () => {
    const { slot, entries, cascadeId } = await slotWith('Ada', 'Grace');
    const [ada, grace] = entries as [(typeof entries)[number], (typeof entries)[number]];
    const asked = roundOf(slot.id, cascadeId, 1);
    // The earlier attempt picked while Ada was not waiting (she joins, with a higher priority, in between) and
    // holds Grace; this one then picks Ada, and finds the round taken when it makes her hold.
    const overlapping = overlappedAfterTheRoundCheck(async () => {
      await prisma.waitlistEntry.update({ where: { id: ada.id }, data: { status: 'REMOVED' } });
      await activitiesOn(prisma).offerNextCandidate(asked);
      await prisma.waitlistEntry.update({ where: { id: ada.id }, data: { status: 'WAITING' } });
    });

    const offered = await activitiesOn(overlapping).offerNextCandidate(asked);

    expect(offered?.candidate).toEqual({ entryId: grace.id, customerName: 'Grace', hasPhone: false });
    expect(offered?.hold.entryId).toBe(grace.id);
    expect(await prisma.hold.count({ where: { slotId: slot.id } })).toBe(1);
    expect((await prisma.waitlistEntry.findUniqueOrThrow({ where: { id: ada.id } })).status).toBe('WAITING');
    expect(
      await prisma.auditLog.count({
        where: { tenantId, action: 'hold.offered', details: { path: ['slotId'], equals: slot.id } },
      }),
    ).toBe(1);
  });

  it('answers null when nobody is waiting', async () => {
    const { slot, cascadeId } = await slotWith();

    await expect(activitiesOn(prisma).offerNextCandidate(roundOf(slot.id, cascadeId, 1))).resolves.toBeNull();
  });

  describe('settling a hold', () => {
    it('moves the hold and its entry, with one audit row however often it runs', async () => {
      const { slot, entries, cascadeId } = await slotWith('Ada');
      const activities = activitiesOn(prisma);
      const offered = await activities.offerNextCandidate(roundOf(slot.id, cascadeId, 1));

      await activities.settleHold(declined(offered!.hold.holdId));
      await activities.settleHold(declined(offered!.hold.holdId));

      expect(await prisma.hold.findUniqueOrThrow({ where: { id: offered!.hold.holdId } })).toMatchObject({
        status: 'DECLINED',
        respondedAt: expect.any(Date),
      });
      expect((await prisma.waitlistEntry.findUniqueOrThrow({ where: { id: entries[0]!.id } })).status).toBe('DECLINED');
      expect(
        await prisma.auditLog.count({ where: { tenantId, entityId: offered!.hold.holdId, action: 'hold.declined' } }),
      ).toBe(1);
    });

    it('leaves a hold settled otherwise alone', async () => {
      const { slot, cascadeId } = await slotWith('Ada');
      const activities = activitiesOn(prisma);
      const offered = await activities.offerNextCandidate(roundOf(slot.id, cascadeId, 1));
      await activities.confirmHold({ tenantId, holdId: offered!.hold.holdId, actor: 'candidate' });

      await activities.settleHold(declined(offered!.hold.holdId));

      expect((await prisma.hold.findUniqueOrThrow({ where: { id: offered!.hold.holdId } })).status).toBe('CONFIRMED');
    });

    it("fails for good on a hold that does not exist, or is another tenant's", async () => {
      const { slot, cascadeId } = await slotWith('Ada');
      const offered = await activitiesOn(prisma).offerNextCandidate(roundOf(slot.id, cascadeId, 1));
      const otherTenant = (await createTestTenant(prisma)).id;

      for (const input of [declined(randomUUID()), declined(offered!.hold.holdId, otherTenant)]) {
        await expect(activitiesOn(prisma).settleHold(input)).rejects.toMatchObject({
          type: 'NotFound',
          nonRetryable: true,
        });
      }
      expect((await prisma.hold.findUniqueOrThrow({ where: { id: offered!.hold.holdId } })).status).toBe('OFFERED');
    });
  });

  describe("a hold's messages", () => {
    const sent: Array<{ to: string; subject: string; text: string }> = [];
    const capturing: MailTransport = {
      sendMail: async (message) => {
        sent.push(message);
        return { messageId: `m-${randomUUID()}` };
      },
    };
    const mailTo = (to: string) => sent.filter((message) => message.to === to);

    it("the offer and the confirmation name the candidate, the slot and its start, the hold's end and the tenant, and the offer's links carry the hold's token", async () => {
      const { slot, cascadeId } = await slotWith('Ada');
      await prisma.slot.update({ where: { id: slot.id }, data: { startsAt: new Date('2027-01-02T10:00:00Z') } });
      const offered = await activitiesOn(prisma).offerNextCandidate(roundOf(slot.id, cascadeId, 1));
      const holdId = offered!.hold.holdId;
      const hold = await prisma.hold.findUniqueOrThrow({ where: { id: holdId }, include: { tenant: true } });

      const offer = await activitiesOn(prisma, capturing).sendOfferNotification({ tenantId, holdId, channel: 'EMAIL' });
      await activitiesOn(prisma).confirmHold({ tenantId, holdId, actor: 'candidate' });
      const confirmation = await activitiesOn(prisma, capturing).sendConfirmation({ tenantId, holdId });

      expect(offer.status).toBe('SENT');
      expect(confirmation.status).toBe('SENT');
      const [offerMail, confirmationMail] = mailTo('ada@example.test');
      expect(offerMail!.subject).toBe('A place is free for you: Table for two');
      expect(offerMail!.text).toContain('Hello Ada,');
      expect(offerMail!.text).toContain(
        `Table for two (2027-01-02 10:00 UTC) at ${hold.tenant.name} has become free, and it is held for you until ${formatUtc(hold.expiresAt)}.`,
      );
      const links = extractLinks(offerMail!.text).map((link) => new URL(link));
      expect(links.map((link) => link.searchParams.get('decision'))).toEqual(['accept', 'decline']);
      for (const link of links) {
        expect(link.origin).toBe('http://api.test');
        expect(hashOfferToken(link.searchParams.get('token')!)).toBe(hold.tokenHash);
      }
      expect(confirmationMail!.subject).toBe('Confirmed: Table for two');
      expect(confirmationMail!.text).toBe(
        `Hello Ada, Table for two on 2027-01-02 10:00 UTC at ${hold.tenant.name} is confirmed for you.`,
      );
    });

    it('skips the SMS of a candidate with no phone, and of one with a phone where no SMS provider is set up', async () => {
      const { slot, cascadeId } = await slotWith('Ada', 'Grace');
      const activities = activitiesOn(prisma, capturing);
      const toAda = await activities.offerNextCandidate(roundOf(slot.id, cascadeId, 1));
      await activities.settleHold(declined(toAda!.hold.holdId));
      const toGrace = await activities.offerNextCandidate(roundOf(slot.id, cascadeId, 2));

      await expect(
        activities.sendOfferNotification({ tenantId, holdId: toGrace!.hold.holdId, channel: 'SMS' }),
      ).resolves.toEqual({ status: 'SKIPPED', reason: 'the entry has no SMS address' });
      await expect(
        activities.sendOfferNotification({ tenantId, holdId: toAda!.hold.holdId, channel: 'SMS' }),
      ).resolves.toEqual({ status: 'SKIPPED', reason: 'no SMS provider' });
    });

    it('skips a hold settled before its message went, without mailing anyone', async () => {
      const { slot, cascadeId } = await slotWith('Grace');
      const offered = await activitiesOn(prisma).offerNextCandidate(roundOf(slot.id, cascadeId, 1));
      await activitiesOn(prisma).settleHold(declined(offered!.hold.holdId));

      const result = await activitiesOn(prisma, capturing).sendOfferNotification({
        tenantId,
        holdId: offered!.hold.holdId,
        channel: 'EMAIL',
      });

      expect(result).toEqual({ status: 'SKIPPED', reason: 'the hold is DECLINED' });
      expect(mailTo('grace@example.test')).toEqual([]);
    });

    it("fails for good on a hold that does not exist, or is another tenant's, without mailing anyone", async () => {
      const { slot, cascadeId } = await slotWith('Linus');
      const offered = await activitiesOn(prisma).offerNextCandidate(roundOf(slot.id, cascadeId, 1));
      const otherTenant = (await createTestTenant(prisma)).id;

      for (const input of [
        { tenantId, holdId: randomUUID(), channel: 'EMAIL' as const },
        { tenantId: otherTenant, holdId: offered!.hold.holdId, channel: 'EMAIL' as const },
      ]) {
        await expect(activitiesOn(prisma, capturing).sendOfferNotification(input)).rejects.toMatchObject({
          type: 'NotFound',
          nonRetryable: true,
        });
      }
      await expect(
        activitiesOn(prisma, capturing).sendConfirmation({ tenantId: otherTenant, holdId: offered!.hold.holdId }),
      ).rejects.toMatchObject({ type: 'NotFound', nonRetryable: true });
      expect(mailTo('linus@example.test')).toEqual([]);
    });
  });

  describe('a cascade that has ended makes no more holds', () => {
    const counts = { offered: 0, declined: 0, expired: 0, unreachable: 0 };
    const join = (slotId: string, customerName: string) =>
      prisma.waitlistEntry.create({
        data: { tenantId, slotId, customerName, email: `${customerName.toLowerCase()}@example.test` },
      });
    const statusOf = async (entryId: string) =>
      (await prisma.waitlistEntry.findUniqueOrThrow({ where: { id: entryId } })).status;

    it('an attempt still running after the cascade closed the slot unfilled is refused, and whoever joined since keeps waiting', async () => {
      const { slot, cascadeId } = await slotWith();
      const activities = activitiesOn(prisma);
      // The attempt the cascade saw answered nobody; an earlier one, timed out, runs on.
      await expect(activities.offerNextCandidate(roundOf(slot.id, cascadeId, 1))).resolves.toBeNull();
      await activities.closeUnfilledSlot({ tenantId, slotId: slot.id, cascadeId, counts });
      const yara = await join(slot.id, 'Yara');

      await expect(activities.offerNextCandidate(roundOf(slot.id, cascadeId, 1))).rejects.toMatchObject({
        type: 'CascadeNotCurrent',
        nonRetryable: true,
      });

      expect(await prisma.hold.count({ where: { slotId: slot.id } })).toBe(0);
      expect(await statusOf(yara.id)).toBe('WAITING');
      expect(await prisma.slot.findUniqueOrThrow({ where: { id: slot.id } })).toMatchObject({
        status: 'UNFILLED',
        cascadeId: null,
      });
    });

    it('an attempt that reaches the slot while the close is committing waits for it, then is refused', async () => {
      const { slot, cascadeId } = await slotWith();
      await join(slot.id, 'Yara');
      const closing = new PgClient({ connectionString: config.databaseUrl });
      await closing.connect();
      try {
        await closing.query('BEGIN');
        await closing.query(`UPDATE "Slot" SET status = 'UNFILLED', "cascadeId" = NULL WHERE id = $1`, [slot.id]);
        const attempt = activitiesOn(prisma).offerNextCandidate(roundOf(slot.id, cascadeId, 1));
        attempt.catch(() => undefined);
        // The attempt's transaction waits on the slot's row lock the close holds. (Read on another
        // connection: a transaction sees one snapshot of pg_stat_activity.)
        await until(async () => {
          const [{ waiting }] = await prisma.$queryRaw<[{ waiting: number }]>`
            SELECT count(*)::int AS waiting FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%FROM "Slot"%FOR NO KEY UPDATE%'`;
          return waiting > 0;
        });
        await closing.query('COMMIT');

        await expect(attempt).rejects.toMatchObject({ type: 'CascadeNotCurrent' });
      } finally {
        await closing.end();
      }
      expect(await prisma.hold.count({ where: { slotId: slot.id } })).toBe(0);
    });

    it('a hold an attempt made just before the slot closed unfilled is released with it, and its candidate waits again', async () => {
      const { slot, cascadeId } = await slotWith();
      const activities = activitiesOn(prisma);
      await expect(activities.offerNextCandidate(roundOf(slot.id, cascadeId, 1))).resolves.toBeNull();
      const yara = await join(slot.id, 'Yara');
      // The timed-out attempt holds Yara before the cascade's close runs; nobody will send or time it.
      const stray = await activities.offerNextCandidate(roundOf(slot.id, cascadeId, 1));

      await activities.closeUnfilledSlot({ tenantId, slotId: slot.id, cascadeId, counts });

      expect(await prisma.hold.findUniqueOrThrow({ where: { id: stray!.hold.holdId } })).toMatchObject({
        status: 'RELEASED',
        reason: 'released when its cascade ended without settling it',
      });
      expect(await statusOf(yara.id)).toBe('WAITING');
      expect(
        await prisma.auditLog.count({ where: { tenantId, entityId: stray!.hold.holdId, action: 'hold.released' } }),
      ).toBe(1);
      expect((await prisma.slot.findUniqueOrThrow({ where: { id: slot.id } })).status).toBe('UNFILLED');
    });

    it('a hold made while the cascade was being cancelled is released when the slot reopens, and no later attempt holds', async () => {
      const { slot, entries, cascadeId } = await slotWith('Ada', 'Grace');
      const activities = activitiesOn(prisma);
      // Cancelled while its offer step was in flight: the cascade never saw this hold.
      const inFlight = await activities.offerNextCandidate(roundOf(slot.id, cascadeId, 1));

      await activities.reopenSlot({ tenantId, slotId: slot.id, cascadeId });

      expect((await prisma.hold.findUniqueOrThrow({ where: { id: inFlight!.hold.holdId } })).status).toBe('RELEASED');
      expect(await statusOf(entries[0]!.id)).toBe('WAITING');
      await expect(activities.offerNextCandidate(roundOf(slot.id, cascadeId, 2))).rejects.toMatchObject({
        type: 'CascadeNotCurrent',
      });
      expect(await prisma.slot.findUniqueOrThrow({ where: { id: slot.id } })).toMatchObject({
        status: 'OPEN',
        cascadeId: null,
      });
    });

    it("a cascade that took the slot over is the only one that holds: the earlier cascade's attempts are refused", async () => {
      const { slot, entries, cascadeId: earlier } = await slotWith('Ada');
      const activities = activitiesOn(prisma);
      // The earlier cascade was terminated, so its cleanup never ran: the slot is still CASCADING.
      const later = `c-${randomUUID()}`;
      await activities.beginCascade({ tenantId, slotId: slot.id, cascadeId: later });

      await expect(activities.offerNextCandidate(roundOf(slot.id, earlier, 1))).rejects.toMatchObject({
        type: 'CascadeNotCurrent',
      });
      const offered = await activities.offerNextCandidate(roundOf(slot.id, later, 1));

      expect(offered?.hold.entryId).toBe(entries[0]!.id);
      expect(await prisma.hold.count({ where: { slotId: slot.id } })).toBe(1);
    });

    it('a stopped cascade keeps the slot: a reset of its run offers again, and the slot is CASCADING once more', async () => {
      const { slot, entries, cascadeId } = await slotWith('Ada', 'Grace');
      const activities = activitiesOn(prisma);
      await activities.reopenSlot({ tenantId, slotId: slot.id, cascadeId, reason: 'a step failed for good' });
      expect(await prisma.slot.findUniqueOrThrow({ where: { id: slot.id } })).toMatchObject({
        status: 'OPEN',
        cascadeId,
      });

      const offered = await activities.offerNextCandidate(roundOf(slot.id, cascadeId, 1));

      expect(offered?.hold.entryId).toBe(entries[0]!.id);
      expect(await prisma.slot.findUniqueOrThrow({ where: { id: slot.id } })).toMatchObject({
        status: 'CASCADING',
        cascadeId,
      });
    });

    it('a cascade stopped, resumed by a reset, then cancelled is refused like any cancelled one', async () => {
      const { slot, cascadeId } = await slotWith('Ada', 'Grace');
      const activities = activitiesOn(prisma);
      await activities.reopenSlot({ tenantId, slotId: slot.id, cascadeId, reason: 'a step failed for good' });
      await activities.offerNextCandidate(roundOf(slot.id, cascadeId, 1));
      await activities.reopenSlot({ tenantId, slotId: slot.id, cascadeId });

      await expect(activities.offerNextCandidate(roundOf(slot.id, cascadeId, 2))).rejects.toMatchObject({
        type: 'CascadeNotCurrent',
      });
      await activities.closeUnfilledSlot({ tenantId, slotId: slot.id, cascadeId, counts });
      expect(await prisma.slot.findUniqueOrThrow({ where: { id: slot.id } })).toMatchObject({
        status: 'OPEN',
        cascadeId: null,
      });
    });

    it("an ended cascade's late close, reopen or begin leaves the next cascade's slot alone", async () => {
      const { slot, cascadeId: ended } = await slotWith('Ada');
      const activities = activitiesOn(prisma);
      await activities.reopenSlot({ tenantId, slotId: slot.id, cascadeId: ended });
      const next = `c-${randomUUID()}`;
      await activities.beginCascade({ tenantId, slotId: slot.id, cascadeId: next });

      await activities.closeUnfilledSlot({ tenantId, slotId: slot.id, cascadeId: ended, counts });
      await activities.reopenSlot({ tenantId, slotId: slot.id, cascadeId: ended, reason: 'late' });
      await activities.beginCascade({ tenantId, slotId: slot.id, cascadeId: ended });

      expect(await prisma.slot.findUniqueOrThrow({ where: { id: slot.id } })).toMatchObject({
        status: 'CASCADING',
        cascadeId: next,
      });
      await expect(activities.offerNextCandidate(roundOf(slot.id, next, 1))).resolves.not.toBeNull();
    });

    it('a cascade that takes over from a terminated one releases the offer it left open', async () => {
      const { slot, entries, cascadeId: terminated } = await slotWith('Ada', 'Grace');
      const activities = activitiesOn(prisma);
      const left = await activities.offerNextCandidate(roundOf(slot.id, terminated, 1));
      const next = `c-${randomUUID()}`;

      await activities.beginCascade({ tenantId, slotId: slot.id, cascadeId: next });

      expect((await prisma.hold.findUniqueOrThrow({ where: { id: left!.hold.holdId } })).status).toBe('RELEASED');
      expect(await statusOf(entries[0]!.id)).toBe('WAITING');
      const offered = await activities.offerNextCandidate(roundOf(slot.id, next, 1));
      expect(offered?.hold.entryId).toBe(entries[0]!.id);
    });

    it('a cascade that takes over releases every offer the one before left open, each with its audit row', async () => {
      const { slot, entries, cascadeId: terminated } = await slotWith('Ada', 'Grace', 'Lin');
      const activities = activitiesOn(prisma);
      const left = [
        await activities.offerNextCandidate(roundOf(slot.id, terminated, 1)),
        await activities.offerNextCandidate(roundOf(slot.id, terminated, 2)),
      ];
      const settledBefore = await activities.offerNextCandidate(roundOf(slot.id, terminated, 3));
      await activities.settleHold(declined(settledBefore!.hold.holdId));

      await activities.beginCascade({ tenantId, slotId: slot.id, cascadeId: `c-${randomUUID()}` });

      for (const offer of left) {
        expect(await prisma.hold.findUniqueOrThrow({ where: { id: offer!.hold.holdId } })).toMatchObject({
          status: 'RELEASED',
          reason: 'released when its cascade ended without settling it',
        });
        expect(await statusOf(offer!.hold.entryId)).toBe('WAITING');
        expect(
          await prisma.auditLog.count({ where: { tenantId, entityId: offer!.hold.holdId, action: 'hold.released' } }),
        ).toBe(1);
      }
      expect((await prisma.hold.findUniqueOrThrow({ where: { id: settledBefore!.hold.holdId } })).status).toBe(
        'DECLINED',
      );
      expect(await statusOf(entries[2]!.id)).toBe('DECLINED');
    });

    it('a resumed cascade that finds nobody waiting closes its slot UNFILLED, with its event', async () => {
      const { slot, cascadeId } = await slotWith();
      const activities = activitiesOn(prisma);
      await activities.reopenSlot({ tenantId, slotId: slot.id, cascadeId, reason: 'a step failed for good' });
      await expect(activities.offerNextCandidate(roundOf(slot.id, cascadeId, 1))).resolves.toBeNull();

      await activities.closeUnfilledSlot({ tenantId, slotId: slot.id, cascadeId, counts });

      expect(await prisma.slot.findUniqueOrThrow({ where: { id: slot.id } })).toMatchObject({
        status: 'UNFILLED',
        cascadeId: null,
      });
      expect(await prisma.auditLog.count({ where: { dedupKey: `${cascadeId}:unfilled` } })).toBe(1);
    });

    it('a cascade that stopped before slots recorded theirs resumes on a reset too', async () => {
      const { slot, entries, cascadeId } = await slotWith('Ada');
      const activities = activitiesOn(prisma);
      // As the code before slots recorded their cascade left a stop: the slot OPEN with none recorded, and
      // the stop's audit row.
      await prisma.slot.update({ where: { id: slot.id }, data: { status: 'OPEN', cascadeId: null } });
      await prisma.auditLog.create({
        data: {
          tenantId,
          actor: 'system:waitlist-cascade',
          action: 'cascade.stopped',
          entityType: 'Slot',
          entityId: slot.id,
          details: { cascadeId, reason: 'a step failed for good' },
          dedupKey: `${cascadeId}:stopped`,
        },
      });

      const offered = await activities.offerNextCandidate(roundOf(slot.id, cascadeId, 1));

      expect(offered?.hold.entryId).toBe(entries[0]!.id);
      expect(await prisma.slot.findUniqueOrThrow({ where: { id: slot.id } })).toMatchObject({
        status: 'CASCADING',
        cascadeId,
      });
    });

    it('a cascade that takes over a slot left CASCADING by one begun before slots recorded theirs records itself and releases its offer', async () => {
      const { slot, entries, cascadeId: legacy } = await slotWith('Ada', 'Grace');
      const left = await activitiesOn(prisma).offerNextCandidate(roundOf(slot.id, legacy, 1));
      await prisma.slot.update({ where: { id: slot.id }, data: { cascadeId: null } });
      const next = `c-${randomUUID()}`;

      await activitiesOn(prisma).beginCascade({ tenantId, slotId: slot.id, cascadeId: next });

      expect((await prisma.slot.findUniqueOrThrow({ where: { id: slot.id } })).cascadeId).toBe(next);
      expect((await prisma.hold.findUniqueOrThrow({ where: { id: left!.hold.holdId } })).status).toBe('RELEASED');
      expect(await statusOf(entries[0]!.id)).toBe('WAITING');
      await expect(activitiesOn(prisma).offerNextCandidate(roundOf(slot.id, legacy, 2))).rejects.toMatchObject({
        type: 'CascadeNotCurrent',
      });
    });

    it('a cascade begun before slots recorded their cascade still holds', async () => {
      const { slot, entries, cascadeId } = await slotWith('Ada');
      await prisma.slot.update({ where: { id: slot.id }, data: { cascadeId: null } });

      const offered = await activitiesOn(prisma).offerNextCandidate(roundOf(slot.id, cascadeId, 1));

      expect(offered?.hold.entryId).toBe(entries[0]!.id);
    });
  });
});
