import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { reminderSequenceId } from '../../workflows/reminder-sequence.contract';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from '../../workflows/search-attributes';
import { useApiStack } from '../support/api-stack';
import { eventually } from '../support/eventually';
import { workflowHistoryText } from '../support/history-payloads';

const DAY_MS = 24 * 60 * 60 * 1000;

/** What GET /reminders/:id answers, as far as these tests read it. */
interface ReminderView {
  id: string;
  status: string;
  dueAt: string;
  closedReason: string | null;
  recipient: { channel: string; to: string; name: string | null };
  plan: Array<{ key: string; kind: string; at: string; status: string; notificationId: string | null }>;
}

describe('reminders API', () => {
  const stack = useApiStack({ worker: true, mail: 'smtp', terminateOnStop: true });

  const dueIn = (days: number) => new Date(Date.now() + days * DAY_MS).toISOString();
  const settlement = (overrides: Record<string, unknown> = {}) => ({
    subject: { type: 'settlement', id: `S-${randomUUID().slice(0, 8)}` },
    recipient: { channel: 'EMAIL', to: `payer-${randomUUID().slice(0, 8)}@example.test`, name: 'Corner Shop' },
    template: 'settlement.reminder',
    data: { reference: 'S-1042', amountDue: 250000 },
    dueAt: dueIn(10),
    steps: [
      { at: '-2d', kind: 'DUE_SOON' },
      { at: '0', kind: 'DUE' },
      { every: '3d', from: '+3d', until: '+12d', kind: 'OVERDUE' },
      { at: '+14d', kind: 'FINAL_NOTICE' },
    ],
    ...overrides,
  });

  const post = (body: object, key: string | null = randomUUID(), token = stack.tokens.operator) => {
    const call = request(stack.app).post('/api/v1/reminders').set('Authorization', token);
    return (key === null ? call : call.set('Idempotency-Key', key)).send(body);
  };
  const view = async (id: string, token = stack.tokens.member) => {
    const res = await request(stack.app).get(`/api/v1/reminders/${id}`).set('Authorization', token);
    return res;
  };

  it('creating a reminder answers 202 with its workflow, started with the tenant, the reminder and no personal data', async () => {
    const body = settlement();

    const res = await post(body);

    expect(res.status).toBe(202);
    const { reminderId, workflowId } = res.body as { reminderId: string; workflowId: string };
    expect(workflowId).toBe(reminderSequenceId(stack.tenant.id, reminderId));
    expect(res.headers.location).toBe(`/api/v1/reminders/${reminderId}`);
    const handle = stack.client.workflow.getHandle(workflowId);
    const description = await handle.describe();
    expect(description.taskQueue).toBe(stack.config.temporal.taskQueue);
    expect(description.typedSearchAttributes.get(TenantIdKey)).toBe(stack.tenant.id);
    expect(description.typedSearchAttributes.get(BusinessKeyKey)).toBe(reminderId);
    expect(description.typedSearchAttributes.get(FlowStatusKey)).toBe('ACTIVE');
    const history = await workflowHistoryText(stack.client, workflowId);
    expect(history).toContain(reminderId);
    expect(history).not.toContain(body.recipient.to);
    expect(history).not.toContain('Corner Shop');
    expect(history).not.toContain('S-1042');
  });

  it('the same Idempotency-Key and body answer the same reminder; another body with it is refused with 422', async () => {
    const key = randomUUID();
    const body = settlement();

    const first = await post(body, key);
    const again = await post(body, key);
    const other = await post({ ...body, dueAt: dueIn(11) }, key);

    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(other.status).toBe(422);
    expect(other.body.error).toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
      details: { reminderId: first.body.reminderId },
    });
    expect(await stack.prisma.reminder.count({ where: { idempotencyKey: key } })).toBe(1);
  });

  it('refuses a request without an Idempotency-Key, with bad steps, a bad recipient or an unknown template', async () => {
    const noKey = await post(settlement(), null);
    const badSteps = await post(
      settlement({
        steps: [
          { at: 'tomorrow', kind: 'DUE' },
          { every: '1m', from: '0', until: '+1d', kind: 'X' },
        ],
      }),
    );
    const badRecipient = await post(settlement({ recipient: { channel: 'SMS', to: 'not-a-phone' } }));
    const badDue = await post(settlement({ dueAt: 'soon' }));
    const unknownTemplate = await post(settlement({ template: 'no.such-template' }));
    const member = await post(settlement(), randomUUID(), stack.tokens.member);

    expect(noKey.status).toBe(400);
    expect(noKey.body.error.code).toBe('IDEMPOTENCY_KEY_REQUIRED');
    expect(badSteps.status).toBe(400);
    expect(badSteps.body.error.code).toBe('VALIDATION_FAILED');
    expect(badSteps.body.error.details).toEqual([
      { path: 'steps.0.at', message: "expected an offset such as '-2d', '0', '+14d', '+12h' or '90m'" },
      { path: 'steps.1.every', message: 'must be at least 60 minutes' },
    ]);
    expect(badRecipient.status).toBe(400);
    expect(badRecipient.body.error.details).toEqual([expect.objectContaining({ path: 'recipient.to' })]);
    expect(badDue.status).toBe(400);
    expect(unknownTemplate.status).toBe(422);
    expect(unknownTemplate.body.error.code).toBe('UNKNOWN_TEMPLATE');
    expect(member.status).toBe(403);
  });

  it('refuses a tenant template saved for another channel only, on create and on a PATCH to that channel', async () => {
    const template = `dues.${randomUUID().slice(0, 8)}`;
    await stack.prisma.tenantNotificationTemplate.create({
      data: { tenantId: stack.tenant.id, template, channel: 'EMAIL', locale: 'en', subject: 'Dues', text: 'Dues' },
    });

    const bySms = await post(settlement({ template, recipient: { channel: 'SMS', to: '+14155550123' } }));
    const byEmail = await post(settlement({ template }));
    const { reminderId } = byEmail.body as { reminderId: string };
    const toSms = await request(stack.app)
      .patch(`/api/v1/reminders/${reminderId}`)
      .set('Authorization', stack.tokens.operator)
      .send({ recipient: { channel: 'SMS', to: '+14155550123' } });

    expect(bySms.status).toBe(422);
    expect(bySms.body.error).toMatchObject({ code: 'UNKNOWN_TEMPLATE', details: { template, channel: 'SMS' } });
    expect(byEmail.status).toBe(202);
    expect(toSms.status).toBe(422);
    expect(toSms.body.error).toMatchObject({ code: 'UNKNOWN_TEMPLATE', details: { template, channel: 'SMS' } });
    expect((await view(reminderId)).body.recipient).toMatchObject({ channel: 'EMAIL' });
  });

  it('GET shows the planned steps while the sequence runs; another tenant gets 404 for every reminder route', async () => {
    const body = settlement({ dueAt: dueIn(1) });
    const { reminderId } = (await post(body)).body as { reminderId: string };

    const res = await view(reminderId);
    const other = stack.tokens.otherAdmin;
    const answers = await Promise.all([
      view(reminderId, other),
      request(stack.app)
        .patch(`/api/v1/reminders/${reminderId}`)
        .set('Authorization', other)
        .send({ dueAt: dueIn(3) }),
      request(stack.app).post(`/api/v1/reminders/${reminderId}/complete`).set('Authorization', other).send({}),
    ]);

    expect(res.status).toBe(200);
    const reminder = res.body as ReminderView;
    expect(reminder.status).toBe('ACTIVE');
    expect(reminder.plan.map((step) => [step.kind, step.status])).toEqual([
      ['DUE_SOON', 'skipped'],
      ['DUE', 'scheduled'],
      ['OVERDUE', 'scheduled'],
      ['OVERDUE', 'scheduled'],
      ['OVERDUE', 'scheduled'],
      ['OVERDUE', 'scheduled'],
      ['FINAL_NOTICE', 'scheduled'],
    ]);
    expect(answers.map((answer) => [answer.status, (answer.body as { error: { code: string } }).error.code])).toEqual([
      [404, 'NOT_FOUND'],
      [404, 'NOT_FOUND'],
      [404, 'NOT_FOUND'],
    ]);
    const list = await request(stack.app).get('/api/v1/reminders').set('Authorization', other);
    expect(JSON.stringify(list.body)).not.toContain(reminderId);
  });

  it('PATCH moves the due date (the steps re-plan) and changes the recipient in the row, never in the history', async () => {
    const { reminderId, workflowId } = (await post(settlement())).body as { reminderId: string; workflowId: string };
    const newDue = dueIn(20);
    const newRecipient = { channel: 'SMS', to: '+14155550123', name: 'Back Office' };

    const moved = await request(stack.app)
      .patch(`/api/v1/reminders/${reminderId}`)
      .set('Authorization', stack.tokens.operator)
      .send({ dueAt: newDue, recipient: newRecipient });

    expect(moved.status).toBe(200);
    const reminder = moved.body as ReminderView;
    expect(reminder.dueAt).toBe(newDue);
    expect(reminder.plan.find((step) => step.kind === 'DUE')?.at).toBe(newDue);
    expect(reminder.recipient).toEqual(newRecipient);
    const row = await stack.prisma.reminder.findUniqueOrThrow({ where: { id: reminderId } });
    expect({ dueAt: row.dueAt.toISOString(), channel: row.channel, to: row.recipient }).toEqual({
      dueAt: newDue,
      channel: 'SMS',
      to: '+14155550123',
    });
    const history = await workflowHistoryText(stack.client, workflowId);
    expect(history).toContain(newDue);
    expect(history).not.toContain('+14155550123');
    expect(history).not.toContain('Back Office');
  });

  it('PATCH with both fields whose recipient the database refuses answers 4xx and leaves the due date where it was', async () => {
    const body = settlement();
    const { reminderId } = (await post(body)).body as { reminderId: string };
    // A real refusal from PostgreSQL for this one reminder's row (SQLSTATE 22023, invalid data).
    const trigger = `refuse_${reminderId.replace(/-/g, '_')}`;
    await stack.prisma.$executeRawUnsafe(
      `CREATE FUNCTION ${trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ` +
        `RAISE EXCEPTION 'refused' USING ERRCODE = '22023'; END $$`,
    );
    await stack.prisma.$executeRawUnsafe(
      `CREATE TRIGGER ${trigger} BEFORE UPDATE ON "Reminder" FOR EACH ROW ` +
        `WHEN (OLD.id = '${reminderId}') EXECUTE FUNCTION ${trigger}()`,
    );
    try {
      const refused = await request(stack.app)
        .patch(`/api/v1/reminders/${reminderId}`)
        .set('Authorization', stack.tokens.operator)
        .send({ dueAt: dueIn(20), recipient: { channel: 'SMS', to: '+14155550123' } });

      expect(refused.status).toBe(400);
      expect((refused.body as { error: { code: string } }).error.code).toBe('INVALID_DATA');
      const reminder = (await view(reminderId)).body as ReminderView;
      expect(reminder.dueAt).toBe(body.dueAt);
      expect(reminder.plan.find((step) => step.kind === 'DUE')?.at).toBe(body.dueAt);
      expect(reminder.recipient.to).toBe(body.recipient.to);
    } finally {
      await stack.prisma.$executeRawUnsafe(`DROP TRIGGER ${trigger} ON "Reminder"`);
      await stack.prisma.$executeRawUnsafe(`DROP FUNCTION ${trigger}()`);
    }
  });

  it('PATCH refuses an empty change, a bad date and a bad recipient with 400', async () => {
    const { reminderId } = (await post(settlement())).body as { reminderId: string };
    const patch = (body: object) =>
      request(stack.app)
        .patch(`/api/v1/reminders/${reminderId}`)
        .set('Authorization', stack.tokens.operator)
        .send(body);

    const answers = await Promise.all([
      patch({}),
      patch({ dueAt: 'next week' }),
      patch({ dueAt: '2300-01-01T00:00:00Z' }),
      patch({ recipient: { channel: 'EMAIL', to: '+14155550123' } }),
      patch({ steps: [] }),
    ]);

    expect(answers.map((answer) => [answer.status, (answer.body as { error: { code: string } }).error.code])).toEqual([
      [400, 'VALIDATION_FAILED'],
      [400, 'VALIDATION_FAILED'],
      [400, 'VALIDATION_FAILED'],
      [400, 'VALIDATION_FAILED'],
      [400, 'VALIDATION_FAILED'],
    ]);
  });

  it('completing stops the sequence: the row is COMPLETED with its step log, and later changes answer 409 REMINDER_CLOSED', async () => {
    const { reminderId, workflowId } = (await post(settlement())).body as { reminderId: string; workflowId: string };

    const completed = await request(stack.app)
      .post(`/api/v1/reminders/${reminderId}/complete`)
      .set('Authorization', stack.tokens.operator)
      .send({ reason: 'settled' });
    await stack.client.workflow.getHandle(workflowId).result();

    expect(completed.status).toBe(200);
    expect(completed.body).toMatchObject({ reminderId, status: 'COMPLETED' });
    const res = await view(reminderId);
    const reminder = res.body as ReminderView;
    expect(reminder.status).toBe('COMPLETED');
    expect(reminder.closedReason).toBe('settled');
    expect(new Set(reminder.plan.map((step) => step.status))).toEqual(new Set(['cancelled']));
    const again = await request(stack.app)
      .post(`/api/v1/reminders/${reminderId}/complete`)
      .set('Authorization', stack.tokens.operator);
    const patched = await request(stack.app)
      .patch(`/api/v1/reminders/${reminderId}`)
      .set('Authorization', stack.tokens.operator)
      .send({ dueAt: dueIn(5) });
    expect([again.status, again.body.error.code]).toEqual([409, 'REMINDER_CLOSED']);
    expect([patched.status, patched.body.error.code]).toEqual([409, 'REMINDER_CLOSED']);
    const audit = await stack.prisma.auditLog.findMany({
      where: { entityId: reminderId },
      orderBy: { at: 'asc' },
    });
    expect(audit.map((row) => row.action)).toEqual(['reminder.created', 'reminder.completed']);
  });

  it('with notifyOnCreate, the first message reaches the recipient at once through the notification ledger', async () => {
    const body = settlement({ notifyOnCreate: true });
    const { reminderId } = (await post(body)).body as { reminderId: string };

    const [mail] = await eventually(() => {
      const received = stack.outbox(body.recipient.to);
      return received.length > 0 ? received : undefined;
    });
    const reminder = await eventually(async () => {
      const current = (await view(reminderId)).body as ReminderView;
      return current.plan[0]?.status === 'sent' ? current : undefined;
    });

    expect(mail!.subject).toContain('S-1042');
    expect(mail!.text).toContain('Hello Corner Shop');
    expect(reminder.plan[0]).toMatchObject({ key: 'CREATED', kind: 'CREATED', status: 'sent' });
    const notification = await stack.prisma.notification.findUniqueOrThrow({
      where: { id: reminder.plan[0]!.notificationId! },
    });
    expect({ reminderId: notification.reminderId, template: notification.template }).toEqual({
      reminderId,
      template: 'settlement.reminder',
    });
    const events = await stack.prisma.outboxEvent.findMany({
      where: { tenantId: stack.tenant.id, type: 'reminder.sent' },
    });
    expect(events.filter((event) => (event.payload as { reminderId?: string }).reminderId === reminderId)).toHaveLength(
      1,
    );
  });

  it('lists the tenant’s reminders with paging and filters on subject and status', async () => {
    const subject = { type: 'invoice', id: `INV-${randomUUID().slice(0, 8)}` };
    const ids: string[] = [];
    for (let index = 0; index < 3; index++) {
      ids.push(((await post(settlement({ subject }))).body as { reminderId: string }).reminderId);
    }
    const list = (query: string) =>
      request(stack.app).get(`/api/v1/reminders?${query}`).set('Authorization', stack.tokens.member);

    const firstPage = await list(`subjectType=invoice&subjectId=${subject.id}&limit=2`);
    const secondPage = await list(`subjectType=invoice&subjectId=${subject.id}&limit=2&offset=2`);
    const completed = await list(`status=COMPLETED&subjectId=${subject.id}`);
    const bad = await list('status=SLEEPING');

    const idsOf = (res: request.Response) =>
      (res.body as { reminders: Array<{ id: string }> }).reminders.map((r) => r.id);
    expect(idsOf(firstPage)).toHaveLength(2);
    expect(firstPage.body).toMatchObject({ total: 3, limit: 2, offset: 0 });
    expect(secondPage.body).toMatchObject({ total: 3, limit: 2, offset: 2 });
    expect([...idsOf(firstPage), ...idsOf(secondPage)].sort()).toEqual([...ids].sort());
    expect(idsOf(completed)).toEqual([]);
    expect(completed.body).toMatchObject({ total: 0 });
    expect(bad.status).toBe(400);
  });
});
