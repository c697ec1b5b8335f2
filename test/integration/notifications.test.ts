import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import request from 'supertest';
import { createNotificationActivities, TEMPLATE_DISABLED } from '../../activities/notifications';
import { notificationWorkflowId } from '../../workflows/notification.contract';
import { useApiStack } from '../support/api-stack';
import { eventually } from '../support/eventually';
import { SmsProvider } from '../support/sms-provider';
import { workflowHistoryText } from '../support/history-payloads';

/** A mail as the catcher parsed it off the wire. */
interface CaughtMail {
  to: string;
  subject: string;
  text: string;
  html: string | null;
}

/** A real SMTP server on loopback that parses every mail it is given, HTML part included. */
class MailCatcher {
  readonly mails: CaughtMail[] = [];
  private readonly server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    // Like a real MTA, the refusal quotes the address it refuses.
    onRcptTo: (address, _session, callback) => {
      if (!address.address.startsWith('refused-')) return callback();
      const refusal = new Error(`5.1.1 <${address.address}>: Recipient address rejected: User unknown`);
      return callback(Object.assign(refusal, { responseCode: 550 }));
    },
    onData: (stream, session, callback) => {
      simpleParser(stream)
        .then((mail) => {
          for (const rcpt of session.envelope.rcptTo) {
            this.mails.push({
              to: rcpt.address,
              subject: mail.subject ?? '',
              text: mail.text ?? '',
              html: typeof mail.html === 'string' ? mail.html : null,
            });
          }
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });
  port = 0;

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.server.address() as AddressInfo).port;
  }

  to(address: string): CaughtMail[] {
    return this.mails.filter((mail) => mail.to === address);
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const catcher = new MailCatcher();
const sms = new SmsProvider();

describe('notifications as durable jobs (API, worker, PostgreSQL, Temporal, SMTP and SMS on loopback)', () => {
  const stack = useApiStack({
    worker: true,
    terminateOnStop: true,
    config: async () => {
      await Promise.all([catcher.start(), sms.start()]);
      return {
        SMTP_URL: `smtp://127.0.0.1:${catcher.port}`,
        SMS_PROVIDER_URL: sms.url,
        SMS_PROVIDER_TOKEN: 'sms-token',
      };
    },
    stop: async () => {
      await Promise.all([catcher.stop(), sms.stop()]);
    },
  });

  const post = (body: object, key: string = randomUUID(), token = stack.tokens.operator) =>
    request(stack.app).post('/api/v1/notifications').set('Authorization', token).set('Idempotency-Key', key).send(body);
  const get = (id: string) =>
    request(stack.app).get(`/api/v1/notifications/${id}`).set('Authorization', stack.tokens.member);
  const settledAs = (id: string, ...statuses: string[]) =>
    eventually(async () => {
      const res = await get(id);
      return statuses.includes(res.body.status as string) && (res.body as Record<string, unknown>);
    });
  const email = () => `${randomUUID().slice(0, 8)}@mail.test`;
  const phone = () => `+1415${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;

  it('an email with a template is accepted with 202, sent through SMTP, and shows SENT with its attempts', async () => {
    const to = email();
    const res = await post({
      channel: 'EMAIL',
      to,
      template: 'generic.message',
      data: { subject: 'Hi', body: 'Hello' },
    });

    expect(res.status).toBe(202);
    expect(res.body.workflowId).toBe(notificationWorkflowId(stack.tenant.id, res.body.notificationId as string));
    expect(res.headers.location).toBe(`/api/v1/notifications/${res.body.notificationId}`);
    const sent = await settledAs(res.body.notificationId as string, 'SENT');
    expect(sent).toMatchObject({ channel: 'EMAIL', to, template: 'generic.message', attempts: 1, lastError: null });
    expect(sent.sentAt).not.toBeNull();
    expect(catcher.to(to)).toEqual([
      expect.objectContaining({ subject: 'Hi', text: expect.stringContaining('Hello') as string }),
    ]);
  });

  it('10 concurrent identical requests make one notification and send one message', async () => {
    const to = email();
    const key = `invoice-${randomUUID()}`;
    const body = { channel: 'EMAIL', to, subject: 'Invoice', text: 'Your invoice is ready.' };

    const answers = await Promise.all(Array.from({ length: 10 }, () => post(body, key)));

    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(202));
    const ids = new Set(answers.map((a) => a.body.notificationId as string));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    await settledAs(id!, 'SENT');
    expect(await stack.prisma.notification.count({ where: { tenantId: stack.tenant.id, recipient: to } })).toBe(1);
    expect(catcher.to(to)).toHaveLength(1);
    expect(answers.filter((a) => a.headers['idempotent-replayed'] === 'true')).toHaveLength(9);
  });

  it('the same Idempotency-Key with another body is refused with 422 IDEMPOTENCY_KEY_REUSED', async () => {
    const key = randomUUID();
    const to = email();
    const first = await post({ channel: 'EMAIL', to, subject: 'A', text: 'one' }, key);
    const second = await post({ channel: 'EMAIL', to, subject: 'A', text: 'two' }, key);

    expect(first.status).toBe(202);
    expect(second.status).toBe(422);
    expect(second.body.error).toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
      details: { notificationId: first.body.notificationId as string },
    });
  });

  it('an SMS provider failing twice and then accepting sends exactly one message', async () => {
    const to = phone();
    sms.answer(to, 503, 503);

    const res = await post({ channel: 'SMS', to, text: 'Your technician is on the way', priority: 'high' });
    expect(res.status).toBe(202);
    const sent = await settledAs(res.body.notificationId as string, 'SENT', 'FAILED');

    expect(sent).toMatchObject({ status: 'SENT', attempts: 3, priority: 2 });
    expect(sms.requests.filter((number) => number === to)).toHaveLength(3);
    expect(sms.accepted.filter((message) => message.to === to)).toEqual([
      { to, body: 'Your technician is on the way' },
    ]);
  });

  it('a notification due in 24 hours is SCHEDULED; cancelled, it ends CANCELLED and a second cancel is a 409', async () => {
    const res = await post({ channel: 'EMAIL', to: email(), subject: 'Later', text: 'Tomorrow', delay: '24h' });
    const id = res.body.notificationId as string;
    const scheduled = await get(id);
    expect(scheduled.body).toMatchObject({ status: 'SCHEDULED' });
    expect(Date.parse(scheduled.body.sendAt as string)).toBe(
      Date.parse(scheduled.body.createdAt as string) + 86_400_000,
    );

    const cancel = () =>
      request(stack.app).post(`/api/v1/notifications/${id}/cancel`).set('Authorization', stack.tokens.operator);
    const cancelled = await cancel();
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'CANCELLED' });
    const again = await cancel();
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('NOTIFICATION_ALREADY_CANCELLED');
    const { status } = await stack.client.workflow.getHandle(res.body.workflowId as string).describe();
    expect(status.name).toBe('COMPLETED');
  });

  it('a provider refusal fails for good at once, publishes notification.failed, and a retry sends it (audited)', async () => {
    const to = phone();
    sms.answer(to, 400);
    const res = await post({ channel: 'SMS', to, text: 'Payment received' });
    const id = res.body.notificationId as string;

    const failed = await settledAs(id, 'FAILED', 'SENT');
    expect(failed).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(failed.lastError).toMatch(/ProviderRejected/);
    const event = await eventually(() =>
      stack.prisma.outboxEvent.findFirst({
        where: { tenantId: stack.tenant.id, type: 'notification.failed', subjectId: id },
      }),
    );
    expect(JSON.stringify(event.payload)).not.toContain(to);
    // The failed run closes once it has published; a retry while it is still open is a 409 NOTIFICATION_RUNNING.
    const handle = stack.client.workflow.getHandle(res.body.workflowId as string);
    await eventually(async () => (await handle.describe()).status.name === 'COMPLETED');
    const cancel = await request(stack.app)
      .post(`/api/v1/notifications/${id}/cancel`)
      .set('Authorization', stack.tokens.operator);
    expect(cancel.status).toBe(409);
    expect(cancel.body.error.code).toBe('NOTIFICATION_FAILED');

    const retry = await request(stack.app)
      .post(`/api/v1/notifications/${id}/retry`)
      .set('Authorization', stack.tokens.operator);
    expect(retry.status).toBe(202);
    expect(retry.body.workflowId).toBe(res.body.workflowId);
    const sent = await settledAs(id, 'SENT');
    expect(sent.attempts).toBe(2);
    expect(sms.accepted.filter((message) => message.to === to)).toHaveLength(1);
    const audit = await stack.prisma.auditLog.findMany({ where: { entityId: id, action: 'notification.retried' } });
    expect(audit).toHaveLength(1);

    const again = await request(stack.app)
      .post(`/api/v1/notifications/${id}/retry`)
      .set('Authorization', stack.tokens.operator);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('NOTIFICATION_NOT_FAILED');
  });

  it('a retry whose audit write fails after its new run started leaves the row to that run: it is sent, never set back to FAILED', async () => {
    const to = phone();
    sms.answer(to, 400);
    const res = await post({ channel: 'SMS', to, text: 'Receipt' });
    const id = res.body.notificationId as string;
    await settledAs(id, 'FAILED', 'SENT');
    const handle = stack.client.workflow.getHandle(res.body.workflowId as string);
    await eventually(async () => (await handle.describe()).status.name === 'COMPLETED');
    // A real database refusal of exactly this audit row, as an outage between the start and the audit would be.
    const trigger = `reject_retry_audit_${id.replaceAll('-', '')}`;
    await stack.prisma.$executeRawUnsafe(
      `CREATE FUNCTION ${trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit unavailable'; END $$`,
    );
    await stack.prisma.$executeRawUnsafe(
      `CREATE TRIGGER ${trigger} BEFORE INSERT ON "AuditLog" FOR EACH ROW WHEN (NEW."entityId" = '${id}') EXECUTE FUNCTION ${trigger}()`,
    );
    try {
      const retry = await request(stack.app)
        .post(`/api/v1/notifications/${id}/retry`)
        .set('Authorization', stack.tokens.operator);
      const afterAnswer = await stack.prisma.notification.findUniqueOrThrow({ where: { id } });

      expect(retry.status).toBe(500);
      expect(afterAnswer.status).not.toBe('FAILED');
      expect(await settledAs(id, 'SENT')).toMatchObject({ status: 'SENT', attempts: 2 });
      expect(sms.accepted.filter((message) => message.to === to)).toHaveLength(1);
    } finally {
      await stack.prisma.$executeRawUnsafe(`DROP TRIGGER IF EXISTS ${trigger} ON "AuditLog"`);
      await stack.prisma.$executeRawUnsafe(`DROP FUNCTION IF EXISTS ${trigger}()`);
    }
  });

  it("an SMTP refusal quoting the address keeps it out of the history, the result and notification.failed; only the row's redacted lastError has the reply", async () => {
    const to = `refused-${email()}`;
    const res = await post({ channel: 'EMAIL', to, subject: 'Hi', text: 'Hello' });
    const id = res.body.notificationId as string;

    const failed = await settledAs(id, 'FAILED', 'SENT');
    expect(failed.lastError).toMatch(/^InvalidRecipient: SMTP 550 RCPT \(provider replied: .*\[email\].*\)$/);
    expect(failed.lastError).not.toContain(to);
    const handle = stack.client.workflow.getHandle(res.body.workflowId as string);
    expect(await handle.result()).toMatchObject({ status: 'FAILED', lastError: 'InvalidRecipient: SMTP 550 RCPT' });
    const decoded = await workflowHistoryText(stack.client, handle.workflowId);
    expect(decoded).toContain('SMTP 550 RCPT');
    expect(decoded).not.toContain(to);
    const event = await eventually(() =>
      stack.prisma.outboxEvent.findFirst({
        where: { tenantId: stack.tenant.id, type: 'notification.failed', subjectId: id },
      }),
    );
    expect(event.payload).toMatchObject({ error: 'InvalidRecipient' });
    expect(JSON.stringify(event.payload)).not.toContain(to);
  });

  it('a row an earlier attempt suppressed (the answer was lost) is reported SUPPRESSED again, so the run keeps TEMPLATE_DISABLED', async () => {
    const row = (lastError: string) =>
      stack.prisma.notification.create({
        data: {
          tenantId: stack.tenant.id,
          channel: 'EMAIL',
          recipient: email(),
          template: 'ticket.update',
          idempotencyKey: `${stack.tenant.id}:api:${randomUUID()}`,
          status: 'CANCELLED',
          lastError,
        },
      });
    const suppressed = await row(TEMPLATE_DISABLED);
    const cancelled = await row('Cancelled by user-1');
    const { deliverNotification } = createNotificationActivities({ prisma: stack.prisma });

    const again = await deliverNotification({ tenantId: stack.tenant.id, notificationId: suppressed.id });
    const requested = await deliverNotification({ tenantId: stack.tenant.id, notificationId: cancelled.id });

    expect(again).toEqual({ status: 'SUPPRESSED', sentAt: null });
    expect(requested).toEqual({ status: 'CANCELLED', sentAt: null });
  });

  it("a tenant's template renders HTML and text, escaping every value in the HTML", async () => {
    const saved = await request(stack.app)
      .put('/api/v1/notification-templates/ticket.update/EMAIL')
      .set('Authorization', stack.tokens.admin)
      .send({
        subject: 'Ticket {{ ticketRef }} {{ status }}',
        text: '{{ recipientName }}: {{ message }}',
        html: '<h1>{{ ticketRef }}</h1><p>{{ message }}</p>',
      });
    expect(saved.status).toBe(200);
    const to = email();
    const data = {
      tenantName: 'Northwind',
      recipientName: 'Ada',
      ticketRef: 'T-1',
      status: 'assigned',
      message: '<script>alert(1)</script> & "quotes"',
    };

    const res = await post({ channel: 'EMAIL', to, template: 'ticket.update', data });
    await settledAs(res.body.notificationId as string, 'SENT');

    const [mail] = catcher.to(to);
    expect(mail).toMatchObject({ subject: 'Ticket T-1 assigned', text: 'Ada: <script>alert(1)</script> & "quotes"' });
    expect(mail!.html).toContain('<h1>T-1</h1><p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;quotes&#34;</p>');
    expect(mail!.html).not.toContain('<script>');
  });

  it('a template naming a variable its data lacks fails for good as TemplateInvalid', async () => {
    const res = await post({
      channel: 'EMAIL',
      to: email(),
      template: 'generic.message',
      data: { subject: 'No body' },
    });

    const failed = await settledAs(res.body.notificationId as string, 'FAILED', 'SENT');
    expect(failed.status).toBe('FAILED');
    expect(failed.lastError).toMatch(/TemplateInvalid: The text template cannot be rendered: undefined variable: body/);
  });

  it('lists notifications by status and channel, newest first, with paging', async () => {
    const to = phone();
    const first = await post({ channel: 'WHATSAPP', to, text: 'one', delay: '2h' });
    const second = await post({ channel: 'WHATSAPP', to, text: 'two', delay: '2h' });

    const res = await request(stack.app)
      .get('/api/v1/notifications?status=SCHEDULED&channel=WHATSAPP&limit=1')
      .set('Authorization', stack.tokens.member);

    expect(res.status).toBe(200);
    expect((res.body.notifications as Array<{ id: string }>).map((n) => n.id)).toEqual([second.body.notificationId]);
    const next = await request(stack.app)
      .get('/api/v1/notifications?status=SCHEDULED&channel=WHATSAPP&limit=1&offset=1')
      .set('Authorization', stack.tokens.member);
    expect((next.body.notifications as Array<{ id: string }>).map((n) => n.id)).toEqual([first.body.notificationId]);
    expect(res.body).toMatchObject({ limit: 1, offset: 0 });
    expect(res.body.total).toBeGreaterThanOrEqual(2);
    expect(next.body).toMatchObject({ total: res.body.total as number, limit: 1, offset: 1 });
  });
});
