import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import nodemailer from 'nodemailer';
import request from 'supertest';
import { createNotifier, type Notifier } from '../../activities/notifications';
import { createHttpSmsProvider } from '../../activities/sms-provider';
import { outboxLine } from '../../domain/outbox';
import type { Config } from '../../lib/config';
import type { PrismaClient } from '../../lib/db';
import { TEST_SMS_TOKEN, useApiStack, type ApiStack } from '../support/api-stack';
import { tokenFor } from '../support/stack';

interface Listed {
  channel: string;
  to: string;
  subject: string | null;
  text: string;
  links: string[];
  sentAt: string;
}

describe('dev outbox', () => {
  const stack = useApiStack({ devOutbox: true, mail: 'smtp', sms: true });
  let outboxFile: string;
  let config: Config;
  let prisma: PrismaClient;
  let notifier: Notifier;
  let app: ApiStack['app'];
  let tenantA: string;
  let tenantB: string;
  let adminA: string;
  let adminB: string;
  let platformAdmin: string;

  beforeAll(() => {
    ({ outboxFile, config, prisma, app } = stack);
    // The same transports the worker builds: real SMTP to the catcher, real HTTP to the SMS sink.
    notifier = createNotifier({
      prisma,
      mail: { transport: nodemailer.createTransport(config.mail.smtpUrl), from: 'Holdfast <no-reply@holdfast.test>' },
      sms: createHttpSmsProvider({ url: stack.smsSinkUrl, token: TEST_SMS_TOKEN }),
    });
    [tenantA, tenantB] = [stack.tenant.id, stack.otherTenant.id];
    ({ admin: adminA, otherAdmin: adminB, platformAdmin } = stack.tokens);
  });

  /** A tenant's flow sends an offer on a channel, through the Notification ledger; returns the offer's link. */
  async function sendOffer(tenantId: string, channel: 'EMAIL' | 'SMS', recipient: string): Promise<string> {
    const acceptUrl = `http://localhost:3000/api/v1/offers/respond?token=${randomUUID()}&decision=accept`;
    await notifier.send({
      tenantId,
      channel,
      recipient,
      idempotencyKey: `outbox-test:${randomUUID()}:${channel.toLowerCase()}`,
      template: {
        name: 'waitlist.offer',
        data: {
          tenantName: 'Clinic',
          customerName: 'Ada',
          slotName: 'Dr. Lee 14:30',
          startsAt: null,
          expiresAt: new Date(Date.now() + 900_000).toISOString(),
          acceptUrl,
          declineUrl: acceptUrl.replace('accept', 'decline'),
        },
      },
    });
    return acceptUrl;
  }

  const outbox = (auth: string, query: Record<string, string> = {}) =>
    request(app).get('/api/v1/dev/outbox').query(query).set('Authorization', auth);

  const linksOf = (messages: Listed[]) => messages.flatMap((message) => message.links);

  it('a tenant admin sees only the messages its own tenant’s flows sent, on every channel', async () => {
    const to = `ada-${randomUUID().slice(0, 8)}@x.test`;
    const aEmail = await sendOffer(tenantA, 'EMAIL', to);
    const aSms = await sendOffer(tenantA, 'SMS', '+14155550111');
    const bEmail = await sendOffer(tenantB, 'EMAIL', to);
    const bSms = await sendOffer(tenantB, 'SMS', '+14155550111');

    const seenByA = await outbox(adminA);
    const seenByB = await outbox(adminB);
    const seenByAForTheSharedAddress = await outbox(adminA, { to });

    expect(seenByA.status).toBe(200);
    expect(linksOf(seenByA.body.messages)).toEqual(expect.arrayContaining([aEmail, aSms]));
    expect(linksOf(seenByA.body.messages)).not.toEqual(expect.arrayContaining([bEmail]));
    expect(linksOf(seenByA.body.messages)).not.toEqual(expect.arrayContaining([bSms]));
    expect(linksOf(seenByB.body.messages)).toEqual(expect.arrayContaining([bEmail, bSms]));
    expect(linksOf(seenByB.body.messages)).not.toEqual(expect.arrayContaining([aEmail]));
    expect(linksOf(seenByB.body.messages)).not.toEqual(expect.arrayContaining([aSms]));
    expect(seenByAForTheSharedAddress.body.messages).toEqual([
      expect.objectContaining({
        channel: 'email',
        to,
        subject: expect.any(String),
        links: [aEmail, expect.any(String)],
      }),
    ]);
  });

  it('a platform admin sees every tenant’s messages, and messages no ledger row accounts for', async () => {
    const aEmail = await sendOffer(tenantA, 'EMAIL', 'pa@x.test');
    const bSms = await sendOffer(tenantB, 'SMS', '+14155550122');
    const stray = 'https://stray.test/unattributed';
    fs.appendFileSync(
      outboxFile,
      outboxLine({
        channel: 'email',
        to: 'pa@x.test',
        subject: 'stray',
        text: stray,
        sentAt: new Date().toISOString(),
      }),
    );

    const seenByPlatform = await outbox(platformAdmin);
    const seenByA = await outbox(adminA);

    expect(linksOf(seenByPlatform.body.messages)).toEqual(expect.arrayContaining([aEmail, bSms, stray]));
    expect(linksOf(seenByA.body.messages)).not.toEqual(expect.arrayContaining([stray]));
  });

  it('lists messages newest first without the ledger references', async () => {
    const to = `order-${randomUUID().slice(0, 8)}@x.test`;
    const first = await sendOffer(tenantA, 'EMAIL', to);
    const second = await sendOffer(tenantA, 'EMAIL', to);

    const messages = (await outbox(adminA, { to })).body.messages as Listed[];

    expect(messages.map((message) => message.links[0])).toEqual([second, first]);
    expect(Object.keys(messages[0]!).sort()).toEqual(['channel', 'links', 'sentAt', 'subject', 'text', 'to'].sort());
  });

  it('since keeps only messages caught at or after that instant', async () => {
    const to = `since-${randomUUID().slice(0, 8)}@x.test`;
    await sendOffer(tenantA, 'EMAIL', to);
    const [{ sentAt: firstSentAt }] = (await outbox(adminA, { to })).body.messages as [Listed];
    const later = new Date(Date.parse(firstSentAt) + 1).toISOString();
    // The catcher stamps messages by its clock; make sure the next one is caught after `later`.
    while (Date.now() <= Date.parse(later)) await new Promise((resolve) => setTimeout(resolve, 2));
    const newer = await sendOffer(tenantA, 'EMAIL', to);

    const sinceFirst = await outbox(adminA, { to, since: firstSentAt });
    const sinceLater = await outbox(adminA, { to, since: later });

    expect(sinceFirst.body.messages).toHaveLength(2);
    expect(sinceLater.body.messages).toEqual([expect.objectContaining({ links: [newer, expect.any(String)] })]);
  });

  it('wait holds the request until a matching message arrives, then answers with it', async () => {
    const to = `wait-${randomUUID().slice(0, 8)}@x.test`;
    const since = new Date().toISOString();

    const waiting = outbox(adminA, { to, since, wait: '30' }).then((response) => response);
    // Tenant B's message to the same address arrives first: tenant A's admin keeps waiting.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await sendOffer(tenantB, 'EMAIL', to);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const awaited = await sendOffer(tenantA, 'EMAIL', to);
    const response = await waiting;

    expect(response.status).toBe(200);
    expect(response.body.messages).toEqual([expect.objectContaining({ to, links: [awaited, expect.any(String)] })]);
  });

  it('when nothing arrives within wait, answers 200 with an empty list', async () => {
    const response = await outbox(adminA, { to: 'nobody@x.test', wait: '1' });

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ messages: [] });
  });

  it.each([
    ['wait above 30 seconds', 'wait=31'],
    ['a negative wait', 'wait=-1'],
    ['a fractional wait', 'wait=1.5'],
    ['an empty wait', 'wait='],
    ['a wait that is not a number', 'wait=soon'],
    ['a since that is not a time', 'since=yesterday'],
    ['a since without a time zone', 'since=2026-01-01T00:00:00'],
    ['a since on a day that does not exist', 'since=2026-02-30T00:00:00Z'],
    ['a limit of 0', 'limit=0'],
    ['a limit above 500', 'limit=501'],
    ['a repeated parameter', 'wait=1&wait=2'],
    ['an unknown parameter', 'tenant=other'],
  ])('answers 400 for %s', async (_, query) => {
    const response = await request(app).get(`/api/v1/dev/outbox?${query}`).set('Authorization', adminA);

    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('VALIDATION_FAILED');
  });

  it('is for tenant admins and above (403 for an operator)', async () => {
    const response = await outbox(`Bearer ${await tokenFor(config, tenantA, 'operator')}`);

    expect(response.status).toBe(403);
  });

  it('does not exist outside development (404)', async () => {
    const testApp = stack.appWith({}, { APP_ENV: 'test', DEV_OUTBOX_FILE: outboxFile });

    const response = await request(testApp).get('/api/v1/dev/outbox').set('Authorization', adminA);

    expect(response.status).toBe(404);
  });
});
