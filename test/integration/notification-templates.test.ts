import { randomUUID } from 'node:crypto';
import { createNotifier, type MailTransport } from '../../activities/notifications';
import type { NotificationTemplate } from '../../domain/notifications';
import type { PrismaClient } from '../../lib/db';
import request from 'supertest';
import { waitlistCascadeId } from '../../workflows/waitlist-cascade.contract';
import { useApiStack } from '../support/api-stack';
import { eventually } from '../support/eventually';
import { workflowHistoryText } from '../support/history-payloads';
import { createTestTenant, testConfig, testPrisma } from '../support/stack';

type SentMail = Parameters<MailTransport['sendMail']>[0];

/**
 * The flows' own messages go through the tenant's templates: the notifier every flow calls
 * renders the shipped default unless the tenant saved its own (against real PostgreSQL).
 */
describe("a tenant's templates for the flows' messages", () => {
  let prisma: PrismaClient;
  let tenantId: string;
  const mails: SentMail[] = [];
  const transport: MailTransport = {
    sendMail: async (message) => {
      mails.push(message);
      return { messageId: `m-${mails.length}` };
    },
  };
  const notifier = () => createNotifier({ prisma, mail: { transport, from: 'Holdfast <t@holdfast.test>' } });

  const offer = (acceptUrl: string): NotificationTemplate => ({
    name: 'waitlist.offer',
    data: {
      tenantName: 'Harbour Dental',
      customerName: 'Ada',
      slotName: 'Check-up',
      startsAt: null,
      expiresAt: '2026-12-24T18:00:00.000Z',
      acceptUrl,
      declineUrl: `${acceptUrl}-decline`,
    },
  });
  const sendOffer = (to: string, acceptUrl = `https://holdfast.test/accept?token=${randomUUID()}`) =>
    notifier().send({
      tenantId,
      channel: 'EMAIL',
      recipient: to,
      idempotencyKey: `offer:${randomUUID()}:email`,
      template: offer(acceptUrl),
    });
  const mailTo = (to: string) => mails.find((mail) => mail.to === to);

  beforeAll(async () => {
    prisma = testPrisma(testConfig());
    tenantId = (await createTestTenant(prisma)).id;
  });

  afterAll(async () => {
    await prisma.$disconnect();
  });

  afterEach(async () => {
    await prisma.tenantNotificationTemplate.deleteMany({ where: { tenantId } });
    await prisma.tenant.update({ where: { id: tenantId }, data: { defaultLocale: 'en' } });
  });

  it('without an override, the waitlist offer is the shipped text', async () => {
    await sendOffer('plain@mail.test');

    expect(mailTo('plain@mail.test')).toMatchObject({ subject: 'A place is free for you: Check-up' });
    expect(mailTo('plain@mail.test')!.text).toMatch(/^Hello Ada,\n\nCheck-up at Harbour Dental has become free/);
    expect(mailTo('plain@mail.test')!.html).toBeUndefined();
  });

  it("the tenant's offer email replaces the parts it sets; the link is added when sending and never stored", async () => {
    await prisma.tenantNotificationTemplate.create({
      data: {
        tenantId,
        template: 'waitlist.offer',
        channel: 'EMAIL',
        locale: 'en',
        subject: '{{ customerName }}, your chair at {{ tenantName }} is waiting',
        html: '<p>Hello {{ customerName }}, <a href="{{ acceptUrl }}">take it</a></p>',
      },
    });
    const acceptUrl = `https://holdfast.test/accept?token=${randomUUID()}&decision=accept`;

    const result = await sendOffer('custom@mail.test', acceptUrl);

    const mail = mailTo('custom@mail.test')!;
    expect(mail.subject).toBe('Ada, your chair at Harbour Dental is waiting');
    // The text part was not overridden: the shipped one is used.
    expect(mail.text).toContain(`Accept it: ${acceptUrl}`);
    expect(mail.html).toBe(`<p>Hello Ada, <a href="${acceptUrl.replace(/&/g, '&amp;')}">take it</a></p>`);
    const row = await prisma.notification.findUniqueOrThrow({ where: { id: result.notificationId } });
    expect(JSON.stringify(row)).not.toContain(acceptUrl.split('token=')[1]!.slice(0, 36));
  });

  it("the tenant's default locale is used when the message names none", async () => {
    await prisma.tenant.update({ where: { id: tenantId }, data: { defaultLocale: 'de' } });
    await prisma.tenantNotificationTemplate.create({
      data: {
        tenantId,
        template: 'waitlist.offer',
        channel: 'EMAIL',
        locale: 'de',
        subject: 'Ein Platz ist frei: {{ slotName }}',
      },
    });

    await sendOffer('locale@mail.test');

    expect(mailTo('locale@mail.test')!.subject).toBe('Ein Platz ist frei: Check-up');
  });

  it("the locale the message names wins over the tenant's default, which covers a locale it has no row for; other channels' and tenants' rows are never used", async () => {
    await prisma.tenant.update({ where: { id: tenantId }, data: { defaultLocale: 'de' } });
    const otherTenant = (await createTestTenant(prisma)).id;
    const row = (tenant: string, channel: 'EMAIL' | 'SMS', locale: string, subject: string) => ({
      tenantId: tenant,
      template: 'waitlist.offer',
      channel,
      locale,
      subject,
      text: `${subject} {{ slotName }}`,
    });
    await prisma.tenantNotificationTemplate.createMany({
      data: [
        row(tenantId, 'EMAIL', 'de', 'Ein Platz ist frei'),
        row(tenantId, 'EMAIL', 'fr', 'Une place est libre'),
        row(tenantId, 'SMS', 'it', 'SMS only'),
        row(otherTenant, 'EMAIL', 'it', 'Another tenant'),
      ],
    });
    const sendIn = (to: string, locale: string) =>
      notifier().send({
        tenantId,
        channel: 'EMAIL',
        recipient: to,
        locale,
        idempotencyKey: `offer:${randomUUID()}:email`,
        template: offer(`https://holdfast.test/accept?token=${randomUUID()}`),
      });

    await sendIn('fr@mail.test', 'fr');
    await sendIn('it@mail.test', 'it');

    expect(mailTo('fr@mail.test')).toMatchObject({
      subject: 'Une place est libre',
      text: 'Une place est libre Check-up',
    });
    expect(mailTo('it@mail.test')).toMatchObject({
      subject: 'Ein Platz ist frei',
      text: 'Ein Platz ist frei Check-up',
    });
    await prisma.tenantNotificationTemplate.deleteMany({ where: { tenantId: otherTenant } });
  });

  it('a template the tenant disabled is not sent: the notification is CANCELLED with the reason', async () => {
    await prisma.tenantNotificationTemplate.create({
      data: { tenantId, template: 'waitlist.offer', channel: 'EMAIL', locale: 'en', enabled: false },
    });

    const result = await sendOffer('disabled@mail.test');

    expect(result.status).toBe('SUPPRESSED');
    expect(mailTo('disabled@mail.test')).toBeUndefined();
    const row = await prisma.notification.findUniqueOrThrow({ where: { id: result.notificationId } });
    expect(row).toMatchObject({ status: 'CANCELLED', lastError: expect.stringMatching(/^TemplateDisabled/) as string });
  });
});

describe("the waitlist flow sends the tenant's own offer email (API, worker, PostgreSQL, Temporal)", () => {
  const stack = useApiStack({ worker: true, mail: 'memory', terminateOnStop: true });

  it('an override saved through the API is what the candidate receives, with the offer links the flow adds', async () => {
    const saved = await request(stack.app)
      .put('/api/v1/notification-templates/waitlist.offer/EMAIL')
      .set('Authorization', stack.tokens.admin)
      .send({
        subject: '{{ customerName }}, {{ slotName }} is yours if you want it',
        text: 'Take it: {{ acceptUrl }}\nLeave it: {{ declineUrl }}\nUntil {{ expiresAt | utc }}.',
      });
    expect(saved.status).toBe(200);
    const slot = await request(stack.app)
      .post('/api/v1/slots')
      .set('Authorization', stack.tokens.member)
      .send({ name: 'Dr. Lee 14:30' });
    const slotId = slot.body.id as string;
    await request(stack.app)
      .post(`/api/v1/slots/${slotId}/waitlist`)
      .set('Authorization', stack.tokens.member)
      .send({ customerName: 'Ada', email: 'ada-offer@mail.test' });

    expect(
      (await request(stack.app).post(`/api/v1/slots/${slotId}/release`).set('Authorization', stack.tokens.operator))
        .status,
    ).toBe(202);

    const mail = await eventually(() => stack.mails.find((m) => m.to === 'ada-offer@mail.test'));
    expect(mail.subject).toBe('Ada, Dr. Lee 14:30 is yours if you want it');
    const [take, leave, until] = mail.text.split('\n');
    expect(take).toMatch(/^Take it: http.*\/api\/v1\/offers\/respond\?token=[^&\s]+&decision=accept$/);
    expect(leave).toMatch(/decision=decline$/);
    expect(until).toMatch(/^Until \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC\.$/);
    const token = new URL(take!.slice('Take it: '.length)).searchParams.get('token')!;
    // Every payload of the history, decrypted through the codec: what the history holds.
    const history = await workflowHistoryText(stack.client, waitlistCascadeId(stack.tenant.id, slotId));
    expect(history).toContain(slotId);
    expect(history).not.toContain(token);
    const rows = await stack.prisma.notification.findMany({
      where: { tenantId: stack.tenant.id, template: 'waitlist.offer' },
    });
    expect(JSON.stringify(rows)).not.toContain(token);
    await request(stack.app).post(`/api/v1/slots/${slotId}/cascade/cancel`).set('Authorization', stack.tokens.operator);
  });
});
