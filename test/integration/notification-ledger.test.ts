import { randomUUID } from 'node:crypto';
import { createNotifier, type MailTransport } from '../../activities/notifications';
import { createPrismaClient, type PrismaClient } from '../../lib/db';
import { createTestTenant, testConfig, testPrisma } from '../support/stack';

/**
 * The Notification ledger behind every message a flow sends (against real PostgreSQL): one row per
 * idempotency key, each attempt counted on it, and a message sent once however often it is asked for.
 */
describe('the notification ledger', () => {
  let prisma: PrismaClient;
  let tenantId: string;
  let mails = 0;
  let failNext = false;
  const transport: MailTransport = {
    sendMail: async () => {
      if (failNext) {
        failNext = false;
        throw Object.assign(new Error('connection reset'), { code: 'ECONNECTION' });
      }
      mails += 1;
      return { messageId: `m-${randomUUID()}` };
    },
  };
  const notifier = () => createNotifier({ prisma, mail: { transport, from: 'Holdfast <t@holdfast.test>' } });
  const message = (idempotencyKey: string) => ({
    tenantId,
    channel: 'EMAIL' as const,
    recipient: 'ada@example.test',
    idempotencyKey,
    template: { name: 'generic.message', data: { subject: 'Hello', body: 'A message' } },
  });

  beforeAll(async () => {
    prisma = testPrisma(testConfig());
    tenantId = (await createTestTenant(prisma)).id;
  });

  afterAll(async () => {
    await prisma.$disconnect();
  });

  beforeEach(() => {
    mails = 0;
    failNext = false;
  });

  it('makes the row on the first attempt, sends once, and answers a repeat ALREADY_SENT without counting it', async () => {
    const key = `ledger:${randomUUID()}`;
    const before = Date.now();
    // A database session in a time zone far from UTC: the row's times must not depend on it.
    const url = new URL(testConfig().databaseUrl!);
    url.searchParams.set('options', '-c TimeZone=Pacific/Kiritimati');
    const elsewhere = createPrismaClient(url.toString(), { maxConnections: 1 });
    const notifierElsewhere = createNotifier({
      prisma: elsewhere,
      mail: { transport, from: 'Holdfast <t@holdfast.test>' },
    });

    const [session] = await elsewhere.$queryRaw<[{ TimeZone: string }]>`SHOW TimeZone`;
    expect(session.TimeZone).toBe('Pacific/Kiritimati');
    const first = await notifierElsewhere.send(message(key)).finally(() => elsewhere.$disconnect());
    const repeat = await notifier().send(message(key));

    expect(first).toMatchObject({ status: 'SENT', providerId: expect.any(String) });
    expect(repeat).toEqual({
      notificationId: first.notificationId,
      status: 'ALREADY_SENT',
      providerId: first.providerId,
    });
    expect(mails).toBe(1);
    const row = await prisma.notification.findUniqueOrThrow({ where: { idempotencyKey: key } });
    expect(row).toMatchObject({
      id: first.notificationId,
      tenantId,
      status: 'SENT',
      attempts: 1,
      template: 'generic.message',
    });
    // Stored in UTC as Prisma stores every timestamp, so it reads back as the instant it was made (not 14 hours off).
    expect(row.createdAt.getTime()).toBeGreaterThanOrEqual(before - 1_000);
    expect(row.createdAt.getTime()).toBeLessThanOrEqual(Date.now() + 1_000);
    expect(row.updatedAt.getTime()).toBeGreaterThanOrEqual(row.createdAt.getTime());
  });

  it('counts each attempt on the one row until the message is sent', async () => {
    const key = `ledger:${randomUUID()}`;
    failNext = true;

    await expect(notifier().send(message(key))).rejects.toThrow();
    expect(await prisma.notification.findUniqueOrThrow({ where: { idempotencyKey: key } })).toMatchObject({
      status: 'PENDING',
      attempts: 1,
    });
    const retried = await notifier().send(message(key));

    expect(retried.status).toBe('SENT');
    expect(await prisma.notification.count({ where: { idempotencyKey: key } })).toBe(1);
    expect(await prisma.notification.findUniqueOrThrow({ where: { idempotencyKey: key } })).toMatchObject({
      status: 'SENT',
      attempts: 2,
    });
    expect(mails).toBe(1);
  });

  it('sends a row made beforehand (an API notification) on it, keeping what it was made with', async () => {
    const key = `ledger:${randomUUID()}`;
    const made = await prisma.notification.create({
      data: {
        tenantId,
        channel: 'EMAIL',
        recipient: 'ada@example.test',
        template: 'generic.message',
        idempotencyKey: key,
        source: 'API',
        priority: 2,
      },
    });

    const sent = await notifier().send(message(key));

    expect(sent).toMatchObject({ notificationId: made.id, status: 'SENT' });
    expect(await prisma.notification.findUniqueOrThrow({ where: { id: made.id } })).toMatchObject({
      status: 'SENT',
      attempts: 1,
      source: 'API',
      priority: 2,
    });
  });
});
