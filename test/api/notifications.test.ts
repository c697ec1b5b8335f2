import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from '../../workflows/search-attributes';
import { notificationWorkflowId } from '../../workflows/notification.contract';
import { useApiStack } from '../support/api-stack';

/**
 * The notification and template routes without a worker: validation, roles and the exact start
 * options. Delivery is covered by test/integration/notifications.test.ts.
 */
describe('notifications API', () => {
  const stack = useApiStack({ terminateOnStop: true });

  const post = (body: unknown, headers: Record<string, string> = { 'Idempotency-Key': randomUUID() }) =>
    request(stack.app)
      .post('/api/v1/notifications')
      .set('Authorization', stack.tokens.operator)
      .set(headers)
      .send(body as object);
  const valid = { channel: 'EMAIL', to: 'ada@mail.test', subject: 'Hi', text: 'Hello' };

  it('starts one workflow per notification, ID from the tenant and the row, with its priority key and search attributes', async () => {
    const res = await post({ ...valid, priority: 'high', delay: 'PT2H' });

    expect(res.status).toBe(202);
    const { notificationId, workflowId } = res.body as { notificationId: string; workflowId: string };
    expect(workflowId).toBe(notificationWorkflowId(stack.tenant.id, notificationId));
    // The recipient's domain, not its name: a name as short as `ada` can occur in the IDs' hex.
    expect(workflowId).not.toContain('@mail.test');
    const description = await stack.client.workflow.getHandle(workflowId).describe();
    expect(description.taskQueue).toBe(stack.config.temporal.taskQueue);
    expect(description.typedSearchAttributes.get(TenantIdKey)).toBe(stack.tenant.id);
    expect(description.typedSearchAttributes.get(BusinessKeyKey)).toBe(notificationId);
    expect(description.priority?.priorityKey).toBe(2);
    const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
    const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
    expect(input.map((payload) => Buffer.from(payload.data ?? []).toString()).join()).not.toContain('ada@mail.test');
    const row = await stack.prisma.notification.findUniqueOrThrow({ where: { id: notificationId } });
    expect(row).toMatchObject({ status: 'SCHEDULED', priority: 2, source: 'API', workflowId });
  });

  it.each([
    ['a sendAt ahead starts SCHEDULED', new Date(Date.now() + 3_600_000).toISOString(), 'SCHEDULED'],
    ['a sendAt already past starts PENDING, since it is sent at once', '2020-01-01T00:00:00Z', 'PENDING'],
  ])('%s', async (_, sendAt, flowStatus) => {
    const res = await post({ ...valid, sendAt });

    expect(res.status).toBe(202);
    const description = await stack.client.workflow.getHandle(res.body.workflowId as string).describe();
    expect(description.typedSearchAttributes.get(FlowStatusKey)).toBe(flowStatus);
  });

  it("a repeat of a request answers its notification even after the tenant deleted the request's template", async () => {
    await stack.prisma.tenantNotificationTemplate.create({
      data: { tenantId: stack.tenant.id, template: 'shop.welcome', channel: 'EMAIL', locale: 'en', text: 'Hi' },
    });
    const headers = { 'Idempotency-Key': randomUUID() };
    const body = { channel: 'EMAIL', to: 'ada@mail.test', template: 'shop.welcome' };
    const first = await post(body, headers);
    await stack.prisma.tenantNotificationTemplate.deleteMany({
      where: { tenantId: stack.tenant.id, template: 'shop.welcome' },
    });

    const repeat = await post(body, headers);
    const fresh = await post(body);

    expect(first.status).toBe(202);
    expect(repeat.status).toBe(202);
    expect(repeat.body.notificationId).toBe(first.body.notificationId);
    expect(repeat.headers['idempotent-replayed']).toBe('true');
    expect(fresh.status).toBe(422);
    expect(fresh.body.error.code).toBe('UNKNOWN_TEMPLATE');
  });

  it.each([
    ['no Idempotency-Key', valid, {}, 400, 'IDEMPOTENCY_KEY_REQUIRED'],
    ['an Idempotency-Key with spaces', valid, { 'Idempotency-Key': 'a b' }, 400, 'VALIDATION_FAILED'],
    ['an email address that is not one', { ...valid, to: 'not-an-address' }, undefined, 400, 'VALIDATION_FAILED'],
    [
      'an SMS to a number not in E.164',
      { channel: 'SMS', to: '0041 79', text: 'x' },
      undefined,
      400,
      'VALIDATION_FAILED',
    ],
    [
      'an SMS with a subject',
      { channel: 'SMS', to: '+14155550123', text: 'x', subject: 'y' },
      undefined,
      400,
      'VALIDATION_FAILED',
    ],
    [
      'both sendAt and delay',
      { ...valid, sendAt: '2027-01-01T00:00:00Z', delay: '1h' },
      undefined,
      400,
      'VALIDATION_FAILED',
    ],
    ['a delay that is not one', { ...valid, delay: 'soon' }, undefined, 400, 'VALIDATION_FAILED'],
    ['a delay over a year', { ...valid, delay: 'P400D' }, undefined, 400, 'VALIDATION_FAILED'],
    ['a sendAt over a year ahead', { ...valid, sendAt: '2199-01-01T00:00:00Z' }, undefined, 400, 'VALIDATION_FAILED'],
    ['a template and text', { ...valid, template: 'generic.message' }, undefined, 400, 'VALIDATION_FAILED'],
    [
      'neither a template nor text',
      { channel: 'EMAIL', to: 'ada@mail.test', subject: 'x' },
      undefined,
      400,
      'VALIDATION_FAILED',
    ],
    ['a priority of 5', { ...valid, priority: 5 }, undefined, 400, 'VALIDATION_FAILED'],
    ['a text of 50,001 characters', { ...valid, text: 'x'.repeat(50_001) }, undefined, 400, 'VALIDATION_FAILED'],
    ['an unknown field', { ...valid, from: 'me@mail.test' }, undefined, 400, 'VALIDATION_FAILED'],
    [
      'a template nobody defined',
      { channel: 'EMAIL', to: 'ada@mail.test', template: 'no.such' },
      undefined,
      422,
      'UNKNOWN_TEMPLATE',
    ],
  ])('%s is refused', async (_, body, headers, status, code) => {
    const res = await post(body, headers);

    expect(res.status).toBe(status);
    expect(res.body.error).toMatchObject({ code });
  });

  it('a member may read notifications but not request, cancel or retry them', async () => {
    const id = randomUUID();
    for (const path of [
      '/api/v1/notifications',
      `/api/v1/notifications/${id}/cancel`,
      `/api/v1/notifications/${id}/retry`,
    ]) {
      const res = await request(stack.app)
        .post(path)
        .set('Authorization', stack.tokens.member)
        .set('Idempotency-Key', randomUUID())
        .send(valid);
      expect(res.status).toBe(403);
    }
    const list = await request(stack.app).get('/api/v1/notifications').set('Authorization', stack.tokens.member);
    expect(list.status).toBe(200);
  });

  it('an unknown notification is a 404, and a malformed ID a 400', async () => {
    const missing = await request(stack.app)
      .get(`/api/v1/notifications/${randomUUID()}`)
      .set('Authorization', stack.tokens.member);
    const malformed = await request(stack.app)
      .get('/api/v1/notifications/nope')
      .set('Authorization', stack.tokens.member);

    expect(missing.status).toBe(404);
    expect(malformed.status).toBe(400);
  });

  it("a flow's own message (no workflow of its own) cannot be cancelled or retried through the API", async () => {
    const row = await stack.prisma.notification.create({
      data: {
        tenantId: stack.tenant.id,
        channel: 'EMAIL',
        recipient: 'ada@mail.test',
        template: 'waitlist.confirmation',
        idempotencyKey: `flow:${randomUUID()}`,
        status: 'FAILED',
      },
    });
    const call = (action: string) =>
      request(stack.app).post(`/api/v1/notifications/${row.id}/${action}`).set('Authorization', stack.tokens.operator);

    expect((await call('retry')).body.error.code).toBe('NOT_RETRYABLE');
    expect((await call('cancel')).body.error.code).toBe('NOTIFICATION_FAILED');
  });

  describe('templates', () => {
    const put = (path: string, body: object, token = stack.tokens.admin) =>
      request(stack.app).put(`/api/v1/notification-templates/${path}`).set('Authorization', token).send(body);

    it('lists every shipped kind with its variables and default sources, and the tenant overrides', async () => {
      await put('payment.reminder/SMS', { text: 'Pay {{ amountDue | amount }} for {{ orderRef }}' });

      const res = await request(stack.app)
        .get('/api/v1/notification-templates')
        .set('Authorization', stack.tokens.admin);

      expect(res.status).toBe(200);
      const names = (res.body.kinds as Array<{ name: string }>).map((kind) => kind.name);
      for (const name of [
        'waitlist.offer',
        'generic.message',
        'settlement.reminder',
        'payment.reminder',
        'ticket.update',
        'webhook.endpoint-disabled',
      ]) {
        expect(names).toContain(name);
      }
      const generic = (
        res.body.kinds as Array<{ name: string; variables: object; defaults: Record<string, object> }>
      ).find((kind) => kind.name === 'generic.message');
      expect(generic?.variables).toHaveProperty('body');
      expect(generic?.defaults.EMAIL).toMatchObject({ subject: '{{ subject }}', text: '{{ body }}' });
      expect(res.body.overrides).toContainEqual(
        expect.objectContaining({ template: 'payment.reminder', channel: 'SMS', locale: 'en', enabled: true }),
      );
    });

    it.each([
      ['a syntax error', { text: '{% if body %}never closed' }, /text template is not valid/],
      [
        'a variable the kind does not have',
        { subject: 'About {{ ticketNumber }}' },
        /undefined variable: ticketNumber/,
      ],
      ['a filter that does not exist', { html: '<p>{{ message | shout }}</p>' }, /shout/],
    ])('a template with %s is refused with 422 TEMPLATE_INVALID and the engine message', async (_, body, message) => {
      const res = await put('ticket.update/EMAIL', body);

      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('TEMPLATE_INVALID');
      expect(res.body.error.message).toMatch(message);
    });

    it('SMS templates take no subject or HTML; a tenant-own template needs text; only tenant admins edit', async () => {
      expect((await put('ticket.update/SMS', { subject: 'x' })).status).toBe(400);
      expect((await put('my.own/EMAIL', { subject: 'x' })).body.error.code).toBe('UNKNOWN_TEMPLATE');
      expect((await put('ticket.update/EMAIL', { enabled: false }, stack.tokens.operator)).status).toBe(403);
      expect((await put('Bad Name/EMAIL', { text: 'x' })).status).toBe(400);
    });

    it('a saved template can be deleted once, then it is a 404', async () => {
      await put('ticket.update/WHATSAPP', { locale: 'de', text: 'Ticket {{ ticketRef }}' });
      const remove = () =>
        request(stack.app)
          .delete('/api/v1/notification-templates/ticket.update/WHATSAPP?locale=de')
          .set('Authorization', stack.tokens.admin);

      expect((await remove()).status).toBe(204);
      expect((await remove()).status).toBe(404);
    });
  });
});
