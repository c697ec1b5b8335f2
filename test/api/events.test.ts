import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { MAX_RULES_PER_TENANT } from '../../domain/notification-rules';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from '../../workflows/search-attributes';
import { useApiStack } from '../support/api-stack';

/**
 * The events and notification-rules API without a worker: what is accepted, what is refused and
 * how, and how an event's fan-out is started. What the fan-out then does is in
 * test/integration/events.test.ts.
 */
describe('events API', () => {
  const stack = useApiStack({ terminateOnStop: true });

  const post = (path: string, token: string, body: unknown) =>
    request(stack.app)
      .post(`/api/v1/${path}`)
      .set('Authorization', token)
      .send(body as object);
  const get = (path: string, token: string) => request(stack.app).get(`/api/v1/${path}`).set('Authorization', token);

  const event = (overrides: Record<string, unknown> = {}) => ({
    id: `evt-${randomUUID()}`,
    type: 'ticket.created',
    subject: { type: 'ticket', id: 'T-1' },
    data: { customer: { email: 'ada@example.test' }, priority: 'high' },
    ...overrides,
  });

  describe('POST /events', () => {
    it('records the event and starts its fan-out with the exact start options, answering 202', async () => {
      const response = await post('events', stack.tokens.operator, event({ occurredAt: '2026-12-01T10:00:00Z' }));

      expect(response.status).toBe(202);
      const { eventId, workflowId, duplicate } = response.body as Record<string, unknown>;
      expect(duplicate).toBe(false);
      expect(workflowId).toBe(`event:${stack.tenant.id}:${eventId as string}`);
      expect(response.headers.location).toBe(`/api/v1/events/${eventId as string}`);
      const description = await stack.client.workflow.getHandle(workflowId as string).describe();
      expect(description.type).toBe('eventFanOutWorkflow');
      expect(description.taskQueue).toBe(stack.config.temporal.taskQueue);
      expect(description.typedSearchAttributes.get(TenantIdKey)).toBe(stack.tenant.id);
      expect(description.typedSearchAttributes.get(BusinessKeyKey)).toBe(eventId);
      expect(description.typedSearchAttributes.get(FlowStatusKey)).toBe('FANNING_OUT');
      const row = await stack.prisma.outboxEvent.findUniqueOrThrow({ where: { id: eventId as string } });
      expect(row).toMatchObject({
        tenantId: stack.tenant.id,
        type: 'ticket.created',
        subjectType: 'ticket',
        subjectId: 'T-1',
        source: 'API',
        occurredAt: new Date('2026-12-01T10:00:00Z'),
      });
    });

    it('answers a repeat of the same id and content with the first event, as a duplicate', async () => {
      const body = event();
      const first = await post('events', stack.tokens.operator, body);
      // The same content with its keys in another order is the same event.
      const again = await post('events', stack.tokens.operator, {
        data: { priority: 'high', customer: { email: 'ada@example.test' } },
        subject: body.subject,
        type: body.type,
        id: body.id,
      });

      expect(again.status).toBe(202);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.body).toEqual({ ...first.body, duplicate: true });
      expect(
        await stack.prisma.outboxEvent.count({ where: { tenantId: stack.tenant.id, eventKey: `api:${body.id}` } }),
      ).toBe(1);
    });

    it('starts no second fan-out for a repeat of an event whose fan-out began, even once its run is gone', async () => {
      const body = event();
      const first = await post('events', stack.tokens.operator, body);
      const { eventId, workflowId } = first.body as { eventId: string; workflowId: string };
      const handle = stack.client.workflow.getHandle(workflowId);
      const { runId } = await handle.describe();
      // What the fan-out does when it begins; then the run ends as if Temporal's retention had forgotten it.
      await stack.prisma.outboxEvent.update({ where: { id: eventId }, data: { publishedAt: new Date() } });
      await handle.terminate('the run is gone');

      const again = await post('events', stack.tokens.operator, body);

      expect(again.status).toBe(202);
      expect(again.body).toEqual({ eventId, workflowId, duplicate: true });
      const latest = await handle.describe();
      expect({ runId: latest.runId, status: latest.status.name }).toEqual({ runId, status: 'TERMINATED' });
    });

    it("keeps a reported id apart from the keys of Holdfast's own events, and shows the caller's id", async () => {
      const id = `order.assigned:${randomUUID()}`;

      const reported = await post('events', stack.tokens.operator, event({ id }));

      expect(reported.status).toBe(202);
      const row = await stack.prisma.outboxEvent.findUniqueOrThrow({ where: { id: reported.body.eventId as string } });
      expect(row).toMatchObject({ eventKey: `api:${id}`, source: 'API' });
      const shown = await get(`events/${reported.body.eventId as string}`, stack.tokens.member);
      expect(shown.body.key).toBe(id);
    });

    it('refuses members with 403: an event can make Holdfast send messages, which needs an operator', async () => {
      const response = await post('events', stack.tokens.member, event());

      expect(response.status).toBe(403);
      expect(response.body.error).toMatchObject({ code: 'FORBIDDEN', details: { required: 'operator' } });
    });

    it('refuses the same id with other content with 422 EVENT_ID_REUSED', async () => {
      const body = event();
      const first = await post('events', stack.tokens.operator, body);

      const reused = await post('events', stack.tokens.operator, { ...body, data: { priority: 'low' } });

      expect(reused.status).toBe(422);
      expect(reused.body).toEqual({
        error: { code: 'EVENT_ID_REUSED', message: expect.any(String), details: { eventId: first.body.eventId } },
      });
    });

    it('generates an id when none is given, so two such reports are two events', async () => {
      const withoutId: Record<string, unknown> = event();
      delete withoutId.id;
      const first = await post('events', stack.tokens.operator, withoutId);
      const second = await post('events', stack.tokens.operator, withoutId);

      expect(first.status).toBe(202);
      expect(second.status).toBe(202);
      expect(second.body.eventId).not.toBe(first.body.eventId);
    });

    it("refuses the types Holdfast's own flows publish with 422 RESERVED_EVENT_TYPE", async () => {
      const response = await post('events', stack.tokens.admin, event({ type: 'order.delivered' }));

      expect(response.status).toBe(422);
      expect(response.body.error).toMatchObject({ code: 'RESERVED_EVENT_TYPE', details: { type: 'order.delivered' } });
    });

    it.each([
      ['a type without a dot', { type: 'ticketcreated' }, 'type'],
      ['a type in capitals', { type: 'Ticket.Created' }, 'type'],
      ['data that is an array', { data: [1, 2] }, 'data'],
      ['data that is a string', { data: 'hello' }, 'data'],
      ['data nested too deep', { data: { a: { b: { c: { d: { e: { f: { g: { h: { i: 1 } } } } } } } } } }, 'data'],
      ['data with a NUL', { data: { note: 'a\u0000b' } }, 'data'],
      ['an id with spaces', { id: 'not a key' }, 'id'],
      ['a subject without an id', { subject: { type: 'ticket' } }, 'subject.id'],
      ['an occurredAt that is not a date', { occurredAt: 'yesterday' }, 'occurredAt'],
      ['an unknown field', { extra: true }, ''],
    ])('refuses %s with 400 VALIDATION_FAILED', async (_case, overrides, path) => {
      const response = await post('events', stack.tokens.operator, event(overrides));

      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
      expect(response.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
    });

    it('needs a token', async () => {
      const response = await request(stack.app).post('/api/v1/events').send(event());

      expect(response.status).toBe(401);
    });
  });

  describe('GET /events', () => {
    it("lists the tenant's events newest first, by type and since an instant, never another tenant's", async () => {
      const type = `invoice.created_${randomUUID().slice(0, 6)}`;
      const since = new Date().toISOString();
      const older = await post('events', stack.tokens.operator, event({ type }));
      const newer = await post('events', stack.tokens.operator, event({ type }));
      await post('events', stack.tokens.otherMember, event({ type }));

      const listed = await get(`events?type=${type}&since=${encodeURIComponent(since)}`, stack.tokens.member);

      expect(listed.status).toBe(200);
      expect((listed.body.events as Array<{ id: string }>).map((e) => e.id)).toEqual([
        newer.body.eventId,
        older.body.eventId,
      ]);
      expect(listed.body.events[0]).toMatchObject({
        type,
        subject: { type: 'ticket', id: 'T-1' },
        source: 'API',
        workflowId: `event:${stack.tenant.id}:${newer.body.eventId as string}`,
      });
      expect(listed.body).toMatchObject({ total: 2, limit: 100, offset: 0 });
      const paged = await get(`events?type=${type}&limit=1&offset=1`, stack.tokens.member);
      expect((paged.body.events as Array<{ id: string }>).map((e) => e.id)).toEqual([older.body.eventId]);
      expect(paged.body).toMatchObject({ total: 2, limit: 1, offset: 1 });
    });

    it('refuses a bad filter with 400', async () => {
      expect((await get('events?since=soon', stack.tokens.member)).status).toBe(400);
      expect((await get('events?type=NOPE', stack.tokens.member)).status).toBe(400);
      expect((await get('events?limit=0', stack.tokens.member)).status).toBe(400);
    });

    it("answers the recorded event with fanOut null when no worker answers the fan-out's query", async () => {
      // This stack runs no worker: the fan-out's run exists, but nothing polls its task queue.
      const reported = await post('events', stack.tokens.operator, event());

      const shown = await get(`events/${reported.body.eventId as string}`, stack.tokens.member);

      expect(shown.status).toBe(200);
      expect(shown.body).toMatchObject({
        id: reported.body.eventId,
        workflowId: reported.body.workflowId,
        fanOut: null,
        notifications: [],
        webhookDeliveries: [],
      });
    });

    it('answers 404 for an event that does not exist and 400 for an ID that is not one', async () => {
      const missing = await get(`events/${randomUUID()}`, stack.tokens.member);
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe('NOT_FOUND');
      expect((await get('events/not-a-uuid', stack.tokens.member)).status).toBe(400);
    });
  });

  describe('notification rules', () => {
    const rule = (overrides: Record<string, unknown> = {}) => ({
      name: 'Tell the customer',
      eventType: 'ticket.created',
      channel: 'EMAIL',
      template: 'ticket.update',
      recipientPath: 'customer.email',
      ...overrides,
    });

    it('a tenant admin creates, reads, lists, changes and deletes a rule', async () => {
      const created = await post(
        'notification-rules',
        stack.tokens.admin,
        rule({ condition: { path: 'priority', in: ['high', 'urgent'] }, priority: 'high', delay: '24h', locale: 'en' }),
      );
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      expect(created.headers.location).toBe(`/api/v1/notification-rules/${id}`);
      expect(created.body).toMatchObject({
        eventType: 'ticket.created',
        condition: { path: 'priority', in: ['high', 'urgent'] },
        priority: 2,
        delaySeconds: 86_400,
        locale: 'en',
        enabled: true,
      });

      expect((await get(`notification-rules/${id}`, stack.tokens.admin)).body).toEqual(created.body);
      const listed = await get('notification-rules?eventType=ticket.created', stack.tokens.admin);
      expect((listed.body.rules as Array<{ id: string }>).map((r) => r.id)).toContain(id);
      expect(listed.body).toMatchObject({ total: (listed.body.rules as unknown[]).length, limit: 100, offset: 0 });

      const changed = await request(stack.app)
        .patch(`/api/v1/notification-rules/${id}`)
        .set('Authorization', stack.tokens.admin)
        .send({ enabled: false, condition: null, delay: 90 });
      expect(changed.status).toBe(200);
      expect(changed.body).toMatchObject({ enabled: false, condition: null, delaySeconds: 90 });

      const deleted = await request(stack.app)
        .delete(`/api/v1/notification-rules/${id}`)
        .set('Authorization', stack.tokens.admin);
      expect(deleted.status).toBe(204);
      expect((await get(`notification-rules/${id}`, stack.tokens.admin)).status).toBe(404);
      const audit = await stack.prisma.auditLog.findMany({ where: { tenantId: stack.tenant.id, entityId: id } });
      expect(audit.map((a) => a.action).sort()).toEqual([
        'notification-rule.created',
        'notification-rule.deleted',
        'notification-rule.updated',
      ]);
    });

    it("accepts a template of the tenant's own for its channel", async () => {
      await stack.prisma.tenantNotificationTemplate.create({
        data: { tenantId: stack.tenant.id, template: 'welcome-pack', channel: 'SMS', text: 'Hi {{ name }}' },
      });

      const created = await post(
        'notification-rules',
        stack.tokens.admin,
        rule({ channel: 'SMS', template: 'welcome-pack', recipientPath: 'phone' }),
      );
      const otherChannel = await post('notification-rules', stack.tokens.admin, rule({ template: 'welcome-pack' }));

      expect(created.status).toBe(201);
      expect(otherChannel.status).toBe(422);
    });

    it('refuses a template that does not exist with 422 UNKNOWN_TEMPLATE', async () => {
      const response = await post('notification-rules', stack.tokens.admin, rule({ template: 'no-such-template' }));

      expect(response.status).toBe(422);
      expect(response.body.error).toMatchObject({
        code: 'UNKNOWN_TEMPLATE',
        details: { template: 'no-such-template', channel: 'EMAIL' },
      });
    });

    it.each([
      ['a condition with two operators', { condition: { path: 'a', equals: 1, exists: true } }, 'condition'],
      ['a condition on an object value', { condition: { path: 'a', equals: { b: 1 } } }, 'condition'],
      ['a recipient path with spaces', { recipientPath: 'customer email' }, 'recipientPath'],
      ['a priority of 5', { priority: 5 }, 'priority'],
      ['a delay beyond 30 days', { delay: '31d' }, 'delay'],
      ['a delay without a unit', { delay: '15' }, 'delay'],
      ['an unknown channel', { channel: 'PIGEON' }, 'channel'],
      ['a bad event type', { eventType: 'Ticket' }, 'eventType'],
      ['a template name in capitals', { template: 'Ticket.Update' }, 'template'],
      ['a locale with a malformed subtag', { locale: 'en-x' }, 'locale'],
      ['a missing name', { name: undefined }, 'name'],
    ])('refuses %s with 400 VALIDATION_FAILED', async (_case, overrides, path) => {
      const response = await post('notification-rules', stack.tokens.admin, rule(overrides));

      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
      expect(response.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
    });

    it('refuses operators and members with 403, on every rule route', async () => {
      for (const token of [stack.tokens.operator, stack.tokens.member]) {
        expect((await post('notification-rules', token, rule())).status).toBe(403);
        expect((await get('notification-rules', token)).status).toBe(403);
        expect((await get(`notification-rules/${randomUUID()}`, token)).status).toBe(403);
      }
    });

    it(`refuses a rule beyond the tenant's ${MAX_RULES_PER_TENANT} with 409 RULE_LIMIT_REACHED`, async () => {
      const existing = await stack.prisma.notificationRule.count({ where: { tenantId: stack.tenant.id } });
      const filler = `limit.filler_${randomUUID().slice(0, 8)}`;
      await stack.prisma.notificationRule.createMany({
        data: Array.from({ length: MAX_RULES_PER_TENANT - existing }, (_, index) => ({
          tenantId: stack.tenant.id,
          name: `Filler ${index}`,
          eventType: filler,
          channel: 'EMAIL' as const,
          template: 'ticket.update',
          recipientPath: 'customer.email',
        })),
      });

      const response = await post('notification-rules', stack.tokens.admin, rule());

      await stack.prisma.notificationRule.deleteMany({ where: { tenantId: stack.tenant.id, eventType: filler } });
      expect(response.status).toBe(409);
      expect(response.body.error).toMatchObject({
        code: 'RULE_LIMIT_REACHED',
        details: { limit: MAX_RULES_PER_TENANT },
      });
    });

    it('refuses an empty change with 400', async () => {
      const created = await post('notification-rules', stack.tokens.admin, rule());

      const response = await request(stack.app)
        .patch(`/api/v1/notification-rules/${created.body.id as string}`)
        .set('Authorization', stack.tokens.admin)
        .send({});

      expect(response.status).toBe(400);
    });
  });
});
