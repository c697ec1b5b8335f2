import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { orderReference } from '../../domain/order-messages';
import { ORDER_ROUTING_ACTOR } from '../../domain/orders';
import { useApiStack } from '../support/api-stack';
import { eventually } from '../support/eventually';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('on-demand actions: a payment reminder now, a credit score now', () => {
  const stack = useApiStack({ worker: true, mail: 'smtp', terminateOnStop: true });

  async function addRetailer(creditScore = 300) {
    return stack.prisma.retailer.create({
      data: {
        tenantId: stack.tenant.id,
        name: 'Corner Shop',
        channel: 'EMAIL',
        contact: `shop-${randomUUID().slice(0, 8)}@example.test`,
        creditLimit: 100_000,
        creditScore,
      },
    });
  }

  /** An order row in `status` (no routing workflow: these actions read the row only). */
  async function addOrder(
    retailerId: string,
    status: 'DELIVERED' | 'PAID' | 'ASSIGNED',
    dueInDays: number,
    paidInDays?: number,
  ) {
    const dueDate = new Date(Date.now() + dueInDays * DAY_MS);
    return stack.prisma.order.create({
      data: {
        tenantId: stack.tenant.id,
        retailerId,
        items: [{ sku: 'A-1', name: 'Apples', category: 'produce', quantity: 10, unitPrice: 100 }],
        total: 1000,
        deliveryRegion: 'north',
        requestHash: randomUUID(),
        status,
        ...(status === 'ASSIGNED' ? {} : { deliveredAt: new Date(dueDate.getTime() - 14 * DAY_MS), dueDate }),
        ...(paidInDays === undefined ? {} : { paidAt: new Date(Date.now() + paidInDays * DAY_MS) }),
      },
    });
  }

  const sendNow = (orderId: string, kind: string, key: string | null = randomUUID(), token = stack.tokens.operator) => {
    const call = request(stack.app).post(`/api/v1/orders/${orderId}/reminders/send-now`).set('Authorization', token);
    return (key === null ? call : call.set('Idempotency-Key', key)).send({ kind });
  };

  it('sends a delivered order’s payment reminder now, once per Idempotency-Key, and audits it', async () => {
    const retailer = await addRetailer();
    const order = await addOrder(retailer.id, 'DELIVERED', -1);
    await stack.prisma.payment.create({
      data: { tenantId: stack.tenant.id, orderId: order.id, amount: 400, reference: randomUUID(), recordedBy: 'x' },
    });
    const key = randomUUID();

    const first = await sendNow(order.id, 'OVERDUE', key);
    const doubleClick = await sendNow(order.id, 'OVERDUE', key);

    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ orderId: order.id, kind: 'OVERDUE', amountDue: 600, created: true });
    expect(doubleClick.status).toBe(202);
    expect(doubleClick.body).toMatchObject({ notificationId: first.body.notificationId, created: false });
    const [mail] = await eventually(() => {
      const received = stack.outbox(retailer.contact);
      return received.length > 0 ? received : undefined;
    });
    expect(mail!.subject).toBe(`Payment overdue: order ${orderReference(order.id)}`);
    expect(mail!.text).toContain('6.00');
    const notifications = await stack.prisma.notification.count({
      where: { tenantId: stack.tenant.id, recipient: retailer.contact },
    });
    expect(notifications).toBe(1);
    const audit = await stack.prisma.auditLog.findMany({
      where: { entityId: order.id, action: 'order.reminder-sent-now' },
    });
    expect(audit).toHaveLength(1);
    expect(audit[0]!.details).toMatchObject({ kind: 'OVERDUE', notificationId: first.body.notificationId });
  });

  it('the same Idempotency-Key with another kind is refused with 422 and sends nothing more', async () => {
    const retailer = await addRetailer();
    const order = await addOrder(retailer.id, 'DELIVERED', -1);
    const key = randomUUID();

    const first = await sendNow(order.id, 'OVERDUE', key);
    const otherKind = await sendNow(order.id, 'FINAL_NOTICE', key);

    expect(first.status).toBe(202);
    expect(otherKind.status).toBe(422);
    expect(otherKind.body).toEqual({
      error: {
        code: 'IDEMPOTENCY_KEY_REUSED',
        message: expect.any(String),
        details: { notificationId: first.body.notificationId, kind: 'OVERDUE' },
      },
    });
    const notifications = await stack.prisma.notification.findMany({
      where: { tenantId: stack.tenant.id, recipient: retailer.contact },
    });
    expect(notifications.map((notification) => notification.id)).toEqual([first.body.notificationId]);
  });

  it('a retry with the same key and kind after a payment answers the first notification, not a 422 or a 409', async () => {
    const retailer = await addRetailer();
    const order = await addOrder(retailer.id, 'DELIVERED', -1);
    const key = randomUUID();
    const first = await sendNow(order.id, 'OVERDUE', key);
    // What the first message was built from changes: part of the amount is paid, the retailer renamed.
    await stack.prisma.payment.create({
      data: { tenantId: stack.tenant.id, orderId: order.id, amount: 250, reference: randomUUID(), recordedBy: 'x' },
    });
    await stack.prisma.retailer.update({ where: { id: retailer.id }, data: { name: 'Corner Shop & Sons' } });
    // Then it is paid in full: a fresh request would have nothing to remind of.
    await stack.prisma.payment.create({
      data: { tenantId: stack.tenant.id, orderId: order.id, amount: 750, reference: randomUUID(), recordedBy: 'x' },
    });
    await stack.prisma.order.update({ where: { id: order.id }, data: { status: 'PAID', paidAt: new Date() } });

    const retry = await sendNow(order.id, 'OVERDUE', key);
    const fresh = await sendNow(order.id, 'OVERDUE', randomUUID());

    expect(retry.status).toBe(202);
    expect(retry.body).toEqual({
      orderId: order.id,
      kind: 'OVERDUE',
      amountDue: 1000,
      notificationId: first.body.notificationId,
      workflowId: first.body.workflowId,
      created: false,
    });
    expect(fresh.status).toBe(409);
    const notifications = await stack.prisma.notification.count({
      where: { tenantId: stack.tenant.id, recipient: retailer.contact },
    });
    expect(notifications).toBe(1);
  });

  it('refuses an order with no payment due (409), a missing key or a kind that is not a payment reminder (400), another tenant’s order (404) and a member (403)', async () => {
    const retailer = await addRetailer();
    const assigned = await addOrder(retailer.id, 'ASSIGNED', 10);
    const paid = await addOrder(retailer.id, 'PAID', -1, -2);
    const delivered = await addOrder(retailer.id, 'DELIVERED', 3);

    const answers = await Promise.all([
      sendNow(assigned.id, 'DUE_SOON'),
      sendNow(paid.id, 'OVERDUE'),
      sendNow(delivered.id, 'DUE_SOON', null),
      sendNow(delivered.id, 'SETTLED'),
      sendNow(delivered.id, 'DUE_SOON', randomUUID(), stack.tokens.otherAdmin),
      sendNow(delivered.id, 'DUE_SOON', randomUUID(), stack.tokens.member),
    ]);

    expect(answers.map((answer) => [answer.status, (answer.body as { error: { code: string } }).error.code])).toEqual([
      [409, 'NO_PAYMENT_DUE'],
      [409, 'NO_PAYMENT_DUE'],
      [400, 'IDEMPOTENCY_KEY_REQUIRED'],
      [400, 'VALIDATION_FAILED'],
      [404, 'NOT_FOUND'],
      [403, 'FORBIDDEN'],
    ]);
  });

  it('recalculates a retailer’s credit score now from its orders, answers the new score and audits who asked', async () => {
    const retailer = await addRetailer(300);
    await addOrder(retailer.id, 'PAID', 5, -1);
    await addOrder(retailer.id, 'PAID', 5, -1);
    await addOrder(retailer.id, 'DELIVERED', -1);

    const res = await request(stack.app)
      .post(`/api/v1/retailers/${retailer.id}/credit-score/recalculate`)
      .set('Authorization', stack.tokens.operator);

    // 600 to start, +10 for each order paid on time, -40 for the overdue one.
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ retailerId: retailer.id, creditScore: 580, previousScore: 300 });
    const row = await stack.prisma.retailer.findUniqueOrThrow({ where: { id: retailer.id } });
    expect(row.creditScore).toBe(580);
    // One row, the caller's: the scorer does not add one of its own.
    const audit = await stack.prisma.auditLog.findMany({ where: { entityId: retailer.id } });
    expect(audit.map((entry) => [entry.action, entry.details])).toEqual([
      ['retailer.credit-score', { from: 300, to: 580, trigger: 'manual' }],
    ]);
    expect(audit[0]!.actor).not.toBe(ORDER_ROUTING_ACTOR);
    const [, payload] = stack.tokens.operator.replace('Bearer ', '').split('.');
    const operatorSubject = (JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as { sub: string }).sub;
    expect(audit[0]!.actor).toBe(operatorSubject);
  });

  it('refuses to recalculate another tenant’s retailer (404), for a member (403), or with a body (400)', async () => {
    const retailer = await addRetailer();
    const recalc = (token: string, body?: object) => {
      const call = request(stack.app)
        .post(`/api/v1/retailers/${retailer.id}/credit-score/recalculate`)
        .set('Authorization', token);
      return body ? call.send(body) : call;
    };

    const answers = await Promise.all([
      recalc(stack.tokens.otherAdmin),
      recalc(stack.tokens.member),
      recalc(stack.tokens.operator, { score: 850 }),
    ]);

    expect(answers.map((answer) => [answer.status, (answer.body as { error: { code: string } }).error.code])).toEqual([
      [404, 'NOT_FOUND'],
      [403, 'FORBIDDEN'],
      [400, 'VALIDATION_FAILED'],
    ]);
    expect((await stack.prisma.retailer.findUniqueOrThrow({ where: { id: retailer.id } })).creditScore).toBe(300);
  });
});
