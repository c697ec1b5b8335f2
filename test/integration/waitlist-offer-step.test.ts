import { randomUUID } from 'node:crypto';
import { createNotifier, type MailTransport } from '../../activities/notifications';
import { createWaitlistActivities } from '../../activities/waitlist';
import type { PrismaClient } from '../../lib/db';
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

  const activitiesOn = (client: PrismaClient) =>
    createWaitlistActivities({
      prisma: client,
      notifier: createNotifier({ prisma: client, mail: { transport, from: 'Holdfast <t@holdfast.test>' } }),
      offerTokenSecret: secret,
      publicBaseUrl: 'http://api.test',
    });

  /** A slot with a 5-minute hold and these entries, highest priority first. */
  async function slotWith(...names: string[]) {
    const slot = await prisma.slot.create({ data: { tenantId, name: 'Table for two', holdSeconds: 300 } });
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
    return { slot, entries };
  }

  const offeredAt = '2026-12-03T10:00:00.000Z';
  const roundOf = (slotId: string, cascadeId: string, round: number) => ({
    tenantId,
    slotId,
    cascadeId,
    round,
    offeredAt,
  });

  it('offers the best waiting candidate: their entry is OFFERED, and the hold runs from offeredAt for the hold length', async () => {
    const { slot, entries } = await slotWith('Ada', 'Grace');

    const offered = await activitiesOn(prisma).offerNextCandidate(roundOf(slot.id, `c-${randomUUID()}`, 1));

    expect(offered).toEqual({
      candidate: { entryId: entries[0]!.id, customerName: 'Ada', hasPhone: true },
      hold: expect.objectContaining({ entryId: entries[0]!.id, expiresAt: '2026-12-03T10:05:00.000Z' }),
      offeredAt,
    });
    const hold = await prisma.hold.findUniqueOrThrow({ where: { id: offered!.hold.holdId } });
    expect([hold.status, hold.round, hold.tokenHash]).toEqual(['OFFERED', 1, offered!.hold.tokenHash]);
    const statuses = await prisma.waitlistEntry.findMany({ where: { slotId: slot.id }, orderBy: { priority: 'desc' } });
    expect(statuses.map((entry) => entry.status)).toEqual(['OFFERED', 'WAITING']);
  });

  it('run again for the same round, answers the hold already made and its candidate, and makes no second hold', async () => {
    const { slot, entries } = await slotWith('Ada', 'Grace');
    const cascadeId = `c-${randomUUID()}`;
    const activities = activitiesOn(prisma);

    const first = await activities.offerNextCandidate(roundOf(slot.id, cascadeId, 1));
    const retried = await activities.offerNextCandidate(roundOf(slot.id, cascadeId, 1));

    expect(retried).toEqual(first);
    expect(retried!.candidate.entryId).toBe(entries[0]!.id);
    expect(await prisma.hold.count({ where: { slotId: slot.id } })).toBe(1);
    expect((await prisma.waitlistEntry.findUniqueOrThrow({ where: { id: entries[1]!.id } })).status).toBe('WAITING');
  });

  it('run again for the same round when nobody else waits, still answers the hold already made', async () => {
    const { slot, entries } = await slotWith('Ada');
    const cascadeId = `c-${randomUUID()}`;
    const activities = activitiesOn(prisma);

    const first = await activities.offerNextCandidate(roundOf(slot.id, cascadeId, 1));
    const retried = await activities.offerNextCandidate(roundOf(slot.id, cascadeId, 1));

    expect(retried).toEqual(first);
    expect(retried!.hold.entryId).toBe(entries[0]!.id);
  });

  it('passes over a candidate who stops waiting between the pick and the hold, for the next one in the same step', async () => {
    const { slot, entries } = await slotWith('Ada', 'Grace');
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

    const offered = await activitiesOn(racing).offerNextCandidate(roundOf(slot.id, `c-${randomUUID()}`, 1));

    expect(offered!.candidate).toEqual({ entryId: entries[1]!.id, customerName: 'Grace', hasPhone: false });
    expect(offered!.hold.entryId).toBe(entries[1]!.id);
    expect(await prisma.hold.count({ where: { slotId: slot.id } })).toBe(1);
  });

  it('answers null when nobody is waiting', async () => {
    const { slot } = await slotWith();

    await expect(activitiesOn(prisma).offerNextCandidate(roundOf(slot.id, `c-${randomUUID()}`, 1))).resolves.toBeNull();
  });
});
