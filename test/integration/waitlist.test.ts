import http from 'node:http';
import type { AddressInfo } from 'node:net';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import request from 'supertest';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { createNotifier, type NotificationRequest } from '../../activities/notifications';
import { createHttpSmsProvider } from '../../activities/sms-provider';
import type { PrismaClient } from '../../lib/db';
import { FailureType } from '../../workflows/errors';
import { waitlistCascadeId } from '../../workflows/waitlist-cascade.contract';
import { eventually } from '../support/eventually';
import { TEST_SMS_TOKEN, useApiStack, type ApiStack } from '../support/api-stack';

describe('waitlist cascade on the real stack (dev server, PostgreSQL, SMTP server, SMS provider)', () => {
  // The worker builds its real transports from the stack's config: nodemailer SMTP and the HTTP SMS adapter.
  const stack = useApiStack({ worker: true, mail: 'smtp', sms: true, tenant: { holdMinutes: 15 } });
  const outbox = (to: string) => stack.outbox(to);
  let prisma: PrismaClient;
  let client: Client;
  let app: ApiStack['app'];
  let tenantId: string;
  let operator: string;

  beforeAll(() => {
    ({ prisma, client, app } = stack);
    tenantId = stack.tenant.id;
    operator = stack.tokens.operator;
  });

  async function slotWithWaitlist(name: string, people: Array<{ email: string; phone?: string; priority?: number }>) {
    const slot = await request(app).post('/api/v1/slots').set('Authorization', operator).send({ name });
    for (const person of people) {
      const joined = await request(app)
        .post(`/api/v1/slots/${slot.body.id}/waitlist`)
        .set('Authorization', operator)
        .send({ customerName: person.email.split('@')[0], ...person });
      expect(joined.status).toBe(201);
    }
    return slot.body.id as string;
  }

  /** The link for `decision` in the newest offer `to` received. */
  async function offerLink(to: string, decision: 'accept' | 'decline' = 'accept'): Promise<URL> {
    const offer = await eventually(() => outbox(to).find((message) => message.subject?.startsWith('A place')));
    return new URL(offer.links.find((link) => link.includes(`decision=${decision}`))!);
  }

  it('release → the offer mail arrives → following its accept link assigns the slot in the database', async () => {
    const slotId = await slotWithWaitlist('Dr. Lee, Tuesday 14:30', [
      { email: 'ada@clinic.test', phone: '+14155550101', priority: 5 },
      { email: 'ben@clinic.test' },
    ]);

    const released = await request(app).post(`/api/v1/slots/${slotId}/release`).set('Authorization', operator);
    expect(released.status).toBe(202);

    const link = await offerLink('ada@clinic.test');
    const sms = await eventually(() => outbox('+14155550101')[0]);
    expect(sms.links).toContain(link.toString());
    const page = await request(app).get(`${link.pathname}${link.search}`);
    expect(page.status).toBe(200);
    const answer = await request(app)
      .post(link.pathname)
      .send({ token: link.searchParams.get('token'), decision: link.searchParams.get('decision') });

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ status: 'confirmed' });
    const slot = await prisma.slot.findUniqueOrThrow({ where: { id: slotId }, include: { assignedEntry: true } });
    expect(slot.status).toBe('ASSIGNED');
    expect(slot.assignedEntry?.email).toBe('ada@clinic.test');
    await eventually(() => outbox('ada@clinic.test').find((message) => message.subject?.startsWith('Confirmed')));
    const result = await client.workflow.getHandle(waitlistCascadeId(tenantId, slotId)).result();
    expect(result).toMatchObject({ outcome: 'confirmed', rounds: 1 });
    const notifications = await prisma.notification.findMany({
      where: { tenantId, recipient: { in: ['ada@clinic.test', '+14155550101'] } },
    });
    expect(notifications.map((n) => [n.channel, n.template, n.status, n.attempts]).sort()).toEqual([
      ['EMAIL', 'waitlist.confirmation', 'SENT', 1],
      ['EMAIL', 'waitlist.offer', 'SENT', 1],
      ['SMS', 'waitlist.offer', 'SENT', 1],
    ]);
    const actions = (
      await prisma.auditLog.findMany({ where: { tenantId, entityId: { in: [slotId, slot.assignedEntryId!] } } })
    ).map((row) => row.action);
    expect(actions).toEqual(expect.arrayContaining(['slot.created', 'cascade.started', 'slot.assigned']));
  });

  it('when a short hold expires for real, the hold is EXPIRED, a late accept gets 409, and the next candidate gets mail', async () => {
    const slotId = await slotWithWaitlist('Table 4, Friday 20:00', [
      { email: 'first@diner.test', priority: 1 },
      { email: 'second@diner.test' },
    ]);
    // Slots keep their hold in seconds; the API takes minutes, so a 2-second hold is set directly.
    await prisma.slot.update({ where: { id: slotId }, data: { holdSeconds: 2 } });

    await request(app).post(`/api/v1/slots/${slotId}/release`).set('Authorization', operator);
    const firstLink = await offerLink('first@diner.test');
    const secondLink = await offerLink('second@diner.test');

    const firstHold = await prisma.hold.findFirstOrThrow({ where: { slotId, round: 1 }, include: { entry: true } });
    expect(firstHold.status).toBe('EXPIRED');
    expect(firstHold.entry.status).toBe('EXPIRED');
    const late = await request(app)
      .post('/api/v1/offers/respond')
      .send({ token: firstLink.searchParams.get('token'), decision: 'accept' });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('HOLD_EXPIRED');
    const state = await request(app).get(`/api/v1/slots/${slotId}/cascade`).set('Authorization', operator);
    expect(state.body.offers).toEqual([expect.objectContaining({ customerName: 'first', outcome: 'EXPIRED' })]);
    expect(state.body.currentHold).toMatchObject({ customerName: 'second', round: 2 });

    await request(app)
      .post('/api/v1/offers/respond')
      .send({ token: secondLink.searchParams.get('token'), decision: 'decline' });
    const result = await client.workflow.getHandle(waitlistCascadeId(tenantId, slotId)).result();
    expect(result).toMatchObject({ outcome: 'unfilled', totals: { expired: 1, declined: 1 } });
  });

  it('a slot released again after its cascade was cancelled gets a new cascade', async () => {
    const slotId = await slotWithWaitlist('Spin class 7am', [{ email: 'again@gym.test' }]);
    const first = await request(app).post(`/api/v1/slots/${slotId}/release`).set('Authorization', operator);
    await offerLink('again@gym.test');
    await request(app).post(`/api/v1/slots/${slotId}/cascade/cancel`).set('Authorization', operator);
    await eventually(async () => (await prisma.slot.findUnique({ where: { id: slotId } }))?.status === 'OPEN');
    await client.workflow
      .getHandle(waitlistCascadeId(tenantId, slotId))
      .result()
      .catch(() => undefined);

    const second = await request(app).post(`/api/v1/slots/${slotId}/release`).set('Authorization', operator);

    expect(second.status).toBe(202);
    expect(second.body.workflowId).toBe(first.body.workflowId);
    expect(second.body.runId).not.toBe(first.body.runId);
    await eventually(async () => (await prisma.hold.count({ where: { slotId } })) === 2);
    const cascades = await prisma.hold.findMany({ where: { slotId }, orderBy: { createdAt: 'asc' } });
    expect(cascades.map((hold) => [hold.status, hold.round])).toEqual([
      ['RELEASED', 1],
      ['OFFERED', 1],
    ]);
    await request(app).post(`/api/v1/slots/${slotId}/cascade/cancel`).set('Authorization', operator);
  });

  describe('notification ledger against a real SMTP server', () => {
    let server: SMTPServer;
    let port: number;
    const received: string[] = [];
    let failuresLeft = 0;

    beforeAll(async () => {
      server = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS', 'AUTH'],
        logger: false,
        onRcptTo(address, _session, callback) {
          if (address.address.startsWith('nobody@')) {
            callback(Object.assign(new Error('No such mailbox'), { responseCode: 550 }));
            return;
          }
          callback();
        },
        onData(stream, session, callback) {
          stream.resume();
          stream.on('end', () => {
            if (failuresLeft > 0) {
              failuresLeft -= 1;
              callback(Object.assign(new Error('Try again later'), { responseCode: 421 }));
              return;
            }
            received.push(...session.envelope.rcptTo.map((rcpt) => rcpt.address));
            callback();
          });
        },
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.server.address() as AddressInfo).port;
    });

    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const notifier = () =>
      createNotifier({
        prisma,
        mail: { transport: nodemailer.createTransport(`smtp://127.0.0.1:${port}`), from: 'Holdfast <t@holdfast.test>' },
      });
    const message = (key: string, recipient: string): NotificationRequest => ({
      tenantId,
      channel: 'EMAIL',
      recipient,
      idempotencyKey: `${tenantId}:${key}`,
      template: {
        name: 'waitlist.confirmation',
        data: { tenantName: 'T', customerName: 'C', slotName: 'S', startsAt: null },
      },
    });

    it('two failed attempts and a third that succeeds send exactly one mail, and a later retry sends none', async () => {
      failuresLeft = 2;
      const send = () => notifier().send(message('retry', 'retry@mail.test'));

      // The failure names the SMTP code and command only; the server's words stay on the row.
      await expect(send()).rejects.toThrow(/^SMTP 421 DATA$/);
      await expect(send()).rejects.toThrow(/^SMTP 421 DATA$/);
      const sent = await send();
      const repeat = await send();

      expect(sent.status).toBe('SENT');
      expect(repeat).toEqual({ ...sent, status: 'ALREADY_SENT' });
      expect(received.filter((to) => to === 'retry@mail.test')).toHaveLength(1);
      const row = await prisma.notification.findUniqueOrThrow({ where: { idempotencyKey: `${tenantId}:retry` } });
      expect(row).toMatchObject({ status: 'SENT', attempts: 3, lastError: null });
    });

    it('a mailbox the server refuses is a non-retryable InvalidRecipient, recorded on the row', async () => {
      const failure = await notifier()
        .send(message('refused', 'nobody@mail.test'))
        .catch((error: unknown) => error);

      expect(failure).toBeInstanceOf(ApplicationFailure);
      expect(failure).toMatchObject({ type: FailureType.InvalidRecipient, nonRetryable: true });
      const row = await prisma.notification.findUniqueOrThrow({ where: { idempotencyKey: `${tenantId}:refused` } });
      expect(row).toMatchObject({ status: 'FAILED', attempts: 1 });
      expect(row.lastError).toMatch(/No such mailbox/);
    });

    it('an address that is not an address fails at once as InvalidRecipient, without contacting the server', async () => {
      const failure = await notifier()
        .send(message('malformed', 'not-an-address'))
        .catch((error: unknown) => error);

      expect(failure).toMatchObject({ type: FailureType.InvalidRecipient, nonRetryable: true });
      expect(received).not.toContain('not-an-address');
    });
  });

  describe('HTTP SMS provider adapter against a local provider', () => {
    let server: http.Server;
    let url: string;
    const requests: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
    let answer: { status: number; headers?: Record<string, string>; body: string } = {
      status: 201,
      body: '{"id":"p-1"}',
    };

    beforeAll(async () => {
      server = http.createServer((req, res) => {
        let body = '';
        req.on('data', (chunk: Buffer) => (body += chunk.toString()));
        req.on('end', () => {
          requests.push({ headers: req.headers, body });
          res.writeHead(answer.status, { 'Content-Type': 'application/json', ...answer.headers });
          res.end(answer.body);
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const provider = () => createHttpSmsProvider({ url, token: 'secret-token' });
    const send = () => provider().send({ to: '+14155550123', body: 'hi', idempotencyKey: 'offer:h1:sms' });

    it('posts { to, body } with the bearer token and the Idempotency-Key, and returns the provider’s id', async () => {
      answer = { status: 201, body: '{"id":"p-42"}' };

      expect(await send()).toEqual({ id: 'p-42' });
      expect(JSON.parse(requests.at(-1)!.body)).toEqual({ to: '+14155550123', body: 'hi' });
      expect(requests.at(-1)!.headers).toMatchObject({
        authorization: 'Bearer secret-token',
        'idempotency-key': 'offer:h1:sms',
      });
    });

    it('on 429 asks Temporal to retry after the provider’s Retry-After', async () => {
      answer = { status: 429, headers: { 'Retry-After': '7' }, body: '{"error":"slow down"}' };

      const failure = (await send().catch((error: unknown) => error)) as ApplicationFailure;

      expect(failure).toBeInstanceOf(ApplicationFailure);
      expect(failure.type).toBe(FailureType.ProviderThrottled);
      expect(failure.nonRetryable).toBeFalsy();
      expect(failure.nextRetryDelay).toBe(7000);
    });

    it('a 4xx refusal is non-retryable ProviderRejected; 408 and 5xx stay retryable', async () => {
      answer = { status: 422, body: '{"error":"bad number"}' };
      const rejected = await send().catch((error: unknown) => error);
      answer = { status: 503, body: 'down' };
      const unavailable = await send().catch((error: unknown) => error);
      answer = { status: 408, body: 'timeout' };
      const timedOut = await send().catch((error: unknown) => error);

      expect(rejected).toMatchObject({ type: FailureType.ProviderRejected, nonRetryable: true });
      expect(unavailable).not.toBeInstanceOf(ApplicationFailure);
      expect(timedOut).not.toBeInstanceOf(ApplicationFailure);
    });

    it('the dev SMS sink speaks the same API, refuses a wrong token and answers a repeated key with the same id', async () => {
      const devSink = createHttpSmsProvider({ url: stack.smsSinkUrl, token: TEST_SMS_TOKEN });
      const wrongToken = createHttpSmsProvider({ url: stack.smsSinkUrl, token: 'wrong' });

      const first = await devSink.send({ to: '+14155550199', body: 'one https://x.test/a', idempotencyKey: 'k-1' });
      const repeat = await devSink.send({ to: '+14155550199', body: 'one https://x.test/a', idempotencyKey: 'k-1' });
      const refused = await wrongToken
        .send({ to: '+14155550199', body: 'x', idempotencyKey: 'k-2' })
        .catch((e: unknown) => e);

      expect(repeat).toEqual(first);
      expect(outbox('+14155550199')).toEqual([
        expect.objectContaining({ channel: 'sms', subject: null, links: ['https://x.test/a'] }),
      ]);
      expect(refused).toMatchObject({ type: FailureType.ProviderRejected });
    });
  });
});
