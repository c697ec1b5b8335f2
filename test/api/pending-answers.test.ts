import { randomUUID } from 'node:crypto';
import { Client as PgClient } from 'pg';
import request from 'supertest';
import type { Client } from '@temporalio/client';
import { orderReference } from '../../domain/order-messages';
import type { Config } from '../../lib/config';
import type { PrismaClient } from '../../lib/db';
import { orderRoutingId } from '../../workflows/order-routing.contract';
import type { OrderState } from '../../workflows/order-routing';
import { eventually } from '../support/eventually';
import { useApiStack, type ApiStack } from '../support/api-stack';
import { createRetailer, createVendor, newRegion } from '../support/partners';

/**
 * The routes behind Updates that wait on a database write, on the real stack (dev server, worker,
 * PostgreSQL): while the row that write needs is locked by another transaction, the write fails
 * (its transaction times out) and is retried, the Update answers `pending` after
 * REQUEST_ANSWER_BOUND, and the route answers 202 instead of hanging; once the lock is gone the
 * flow carries the request out. All five wait out the bound together, in real time.
 */
describe('requests whose database write is held up answer 202 pending and are carried out later (real stack)', () => {
  const locks: PgClient[] = [];
  // Declared before the stack, so that it runs first: a row left locked would hold the worker's shutdown.
  afterAll(async () => {
    await Promise.allSettled(locks.map((lock) => lock.end()));
  });
  // Each retried write holds a connection until the lock goes: room for all of them.
  const stack = useApiStack({ worker: true, workerConnections: 40, mail: 'memory' });
  const { mails } = stack;
  let config: Config;
  let prisma: PrismaClient;
  let client: Client;
  let app: ApiStack['app'];
  let tenantId: string;
  let member: string;
  let operator: string;
  let retailerId: string;

  beforeAll(async () => {
    ({ config, prisma, client, app } = stack);
    tenantId = stack.tenant.id;
    await prisma.tenant.update({ where: { id: tenantId }, data: { vendorResponseMinutes: 30 } });
    ({ member, operator } = stack.tokens);
    retailerId = (await createRetailer(prisma, tenantId)).id;
  });

  /** Locks one row in a transaction of its own, as a long-running statement or a stuck session would. */
  async function lockRow(table: 'Order' | 'Slot' | 'Hold', id: string): Promise<() => Promise<void>> {
    const lock = new PgClient({ connectionString: config.databaseUrl });
    locks.push(lock);
    await lock.connect();
    await lock.query('BEGIN');
    await lock.query(`SELECT id FROM "${table}" WHERE id = $1 FOR UPDATE`, [id]);
    return async () => {
      await lock.query('COMMIT');
      await lock.end();
      locks.splice(locks.indexOf(lock), 1);
    };
  }

  const post = (path: string, body: object, auth?: string) => {
    const call = request(app).post(path);
    return (auth ? call.set('Authorization', auth) : call).send(body);
  };

  async function placeOrder(region: string): Promise<string> {
    const response = await post(
      '/api/v1/orders',
      {
        retailerId,
        deliveryRegion: region,
        items: [{ sku: 'APL-1', name: 'Apples', category: 'produce', quantity: 10, unitPrice: 250 }],
      },
      member,
    );
    expect(response.status).toBe(202);
    return response.body.orderId as string;
  }

  const routingOf = async (orderId: string): Promise<OrderState | null> =>
    (await request(app).get(`/api/v1/orders/${orderId}`).set('Authorization', member)).body.routing as OrderState;

  /** An order whose only vendor has the offer open, and the token of that offer's links. */
  async function offeredOrder(): Promise<{ orderId: string; token: string }> {
    const vendor = await createVendor(prisma, tenantId);
    const orderId = await placeOrder(vendor.region);
    const mail = await eventually(() =>
      mails.find((m) => m.to === vendor.contact && m.subject.startsWith(`New order ${orderReference(orderId)}`)),
    );
    const accept = mail.text.split('\n').find((line) => line.startsWith('Accept: '))!;
    return { orderId, token: new URL(accept.slice('Accept: '.length)).searchParams.get('token')! };
  }

  /** A released slot whose only candidate has the offer open, and the token of that offer's links. */
  async function offeredSlot(): Promise<{ slotId: string; holdId: string; token: string }> {
    const slot = await post('/api/v1/slots', { name: `Table ${randomUUID().slice(0, 4)}` }, member);
    const email = `guest-${randomUUID().slice(0, 8)}@x.test`;
    await post(`/api/v1/slots/${slot.body.id}/waitlist`, { customerName: 'Guest', email }, member);
    expect((await post(`/api/v1/slots/${slot.body.id}/release`, {}, operator)).status).toBe(202);
    const mail = await eventually(() => mails.find((m) => m.to === email && m.subject.startsWith('A place')));
    const link = mail.text.split(/\s+/).find((word) => word.includes('decision=accept'))!;
    const hold = await prisma.hold.findFirstOrThrow({ where: { slotId: slot.body.id as string } });
    return { slotId: slot.body.id as string, holdId: hold.id, token: new URL(link).searchParams.get('token')! };
  }

  it('cancel, vendor answer, manual assignment, candidate answer (JSON and the offer page) and extension each answer 202 pending after the bound, and are carried out once the row is free', async () => {
    const toCancel = await offeredOrder();
    const toAccept = await offeredOrder();
    const toAssign = await placeOrder(newRegion());
    await eventually(async () => (await routingOf(toAssign))?.status === 'NEEDS_ATTENTION');
    const manualVendor = await createVendor(prisma, tenantId);
    const toConfirm = await offeredSlot();
    const toConfirmByPage = await offeredSlot();
    const toExtend = await offeredSlot();
    const extendedTo = new Date(
      (await prisma.hold.findUniqueOrThrow({ where: { id: toExtend.holdId } })).expiresAt.getTime() + 10 * 60_000,
    ).toISOString();

    const unlocks = await Promise.all([
      lockRow('Order', toCancel.orderId),
      lockRow('Order', toAccept.orderId),
      lockRow('Order', toAssign),
      lockRow('Slot', toConfirm.slotId),
      lockRow('Slot', toConfirmByPage.slotId),
      lockRow('Hold', toExtend.holdId),
    ]);
    const [cancelled, vendorAnswer, assigned, candidateAnswer, pageAnswer, extended] = await Promise.all([
      post(`/api/v1/orders/${toCancel.orderId}/cancel`, { reason: 'duplicate' }, operator),
      post('/api/v1/vendor/offers/respond', { token: toAccept.token, decision: 'accept' }),
      post(`/api/v1/orders/${toAssign}/assign`, { vendorId: manualVendor.id }, operator),
      post('/api/v1/offers/respond', { token: toConfirm.token, decision: 'accept' }),
      request(app)
        .post('/api/v1/offers/respond')
        .type('form')
        .send({ token: toConfirmByPage.token, decision: 'accept' }),
      post(`/api/v1/slots/${toExtend.slotId}/cascade/extend`, { minutes: 10 }, operator),
    ]).finally(() => Promise.all(unlocks.map((unlock) => unlock())));

    expect([cancelled.status, cancelled.headers.location, cancelled.body]).toEqual([
      202,
      `/api/v1/orders/${toCancel.orderId}`,
      { orderId: toCancel.orderId, status: 'pending', reason: 'duplicate' },
    ]);
    expect([vendorAnswer.status, vendorAnswer.body]).toEqual([202, { status: 'pending' }]);
    expect([assigned.status, assigned.headers.location, assigned.body]).toEqual([
      202,
      `/api/v1/orders/${toAssign}`,
      { orderId: toAssign, status: 'pending', vendorId: manualVendor.id },
    ]);
    expect([candidateAnswer.status, candidateAnswer.body]).toEqual([202, { status: 'pending' }]);
    expect([pageAnswer.status, pageAnswer.type]).toEqual([202, 'text/html']);
    expect(pageAnswer.text).toContain('Answer received');
    expect([extended.status, extended.headers.location, extended.body]).toEqual([
      202,
      `/api/v1/slots/${toExtend.slotId}/cascade`,
      { holdId: toExtend.holdId, expiresAt: extendedTo, status: 'pending' },
    ]);

    const order = (id: string) => prisma.order.findUniqueOrThrow({ where: { id } });
    await eventually(async () => (await order(toCancel.orderId)).status === 'CANCELLED');
    await eventually(async () => (await order(toAccept.orderId)).status === 'ASSIGNED');
    await eventually(async () => (await order(toAssign)).vendorId === manualVendor.id);
    for (const { slotId } of [toConfirm, toConfirmByPage]) {
      await eventually(
        async () => (await prisma.slot.findUniqueOrThrow({ where: { id: slotId } })).status === 'ASSIGNED',
      );
    }
    await eventually(
      async () =>
        (await prisma.hold.findUniqueOrThrow({ where: { id: toExtend.holdId } })).expiresAt.toISOString() ===
        extendedTo,
    );
    await post(`/api/v1/slots/${toExtend.slotId}/cascade/cancel`, {}, operator);
    for (const orderId of [toAccept.orderId, toAssign]) {
      await client.workflow.getHandle(orderRoutingId(tenantId, orderId)).terminate('test over');
    }
  }, 240_000);
});
