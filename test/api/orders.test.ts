import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Client } from '@temporalio/client';
import { orderReference } from '../../domain/order-messages';
import { signOfferToken } from '../../domain/offer-token';
import { signVendorToken } from '../../domain/vendor-token';
import type { Config } from '../../lib/config';
import type { PrismaClient } from '../../lib/db';
import { orderRoutingId } from '../../workflows/order-routing.contract';
import { orderRoutingWorkflow, type OrderState } from '../../workflows/order-routing';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from '../../workflows/search-attributes';
import { eventually } from '../support/eventually';
import { useApiStack, type ApiStack } from '../support/api-stack';
import { createRetailer, createVendor, newRegion, type RetailerFields, type VendorFields } from '../support/partners';

/** What GET /orders/:id answers. */
interface OrderView {
  id: string;
  status: string;
  vendorId: string | null;
  routing: OrderState | null;
  [field: string]: unknown;
}

const DAY_MS = 24 * 60 * 60 * 1000;

describe('orders API', () => {
  const stack = useApiStack({ worker: true, mail: 'memory', terminateOnStop: true });
  const { mails } = stack;
  let config: Config;
  let prisma: PrismaClient;
  let client: Client;
  let app: ApiStack['app'];
  let tenantId: string;
  let otherTenantId: string;
  let member: string;
  let operator: string;
  let admin: string;
  let otherMember: string;
  let retailer: { id: string; contact: string };

  beforeAll(async () => {
    ({ config, prisma, client, app } = stack);
    [tenantId, otherTenantId] = [stack.tenant.id, stack.otherTenant.id];
    // Long enough that no offer here times out while a test is still answering it.
    await prisma.tenant.update({ where: { id: tenantId }, data: { vendorResponseMinutes: 30 } });
    ({ member, operator, admin, otherMember } = stack.tokens);
    retailer = await addRetailer();
  });

  const items = (overrides: Record<string, unknown> = {}) => [
    { sku: 'APL-1', name: 'Apples', category: 'produce', quantity: 10, unitPrice: 250, ...overrides },
  ];

  const addRetailer = (fields: RetailerFields = {}, forTenant = tenantId) => createRetailer(prisma, forTenant, fields);
  const addVendor = (region: string, fields: VendorFields = {}) =>
    createVendor(prisma, tenantId, { region, ...fields });

  const orderBody = (overrides: Record<string, unknown> = {}) => ({
    retailerId: retailer.id,
    items: items(),
    deliveryRegion: newRegion(),
    ...overrides,
  });

  async function postOrder(body: unknown, options: { auth?: string; key?: string; path?: string } = {}) {
    const post = request(app)
      .post(options.path ?? '/api/v1/orders')
      .set('Authorization', options.auth ?? member);
    if (options.key !== undefined) post.set('Idempotency-Key', options.key);
    const response = await post.send(body as object);
    return response;
  }

  async function placeOrder(overrides: Record<string, unknown> = {}, auth = member): Promise<string> {
    const response = await postOrder(orderBody(overrides), { auth });
    expect(response.status).toBe(202);
    return response.body.orderId as string;
  }

  const getOrder = (orderId: string, auth = member) =>
    request(app).get(`/api/v1/orders/${orderId}`).set('Authorization', auth);

  /** Waits until the workflow's own state (the getOrderState query) reaches `status`. */
  function routingReaches(orderId: string, status: OrderState['status']): Promise<OrderView> {
    return eventually(async () => {
      const response = await getOrder(orderId);
      const view = response.body as OrderView;
      return response.status === 200 && view.routing?.status === status ? view : undefined;
    });
  }

  const dbOrder = (orderId: string) => prisma.order.findUniqueOrThrow({ where: { id: orderId } });
  const orderHandle = (orderId: string) =>
    client.workflow.getHandle<typeof orderRoutingWorkflow>(orderRoutingId(tenantId, orderId));

  /** The newest offer of `orderId` mailed to `contact`, with the token its links carry. */
  async function offerMailTo(contact: string, orderId: string) {
    const subject = `New order ${orderReference(orderId)}`;
    const mail = await eventually(() =>
      [...mails].reverse().find((m) => m.to === contact && m.subject.startsWith(subject)),
    );
    const link = (label: string) =>
      new URL(
        mail.text
          .split('\n')
          .find((line) => line.startsWith(`${label}: `))!
          .slice(label.length + 2),
      );
    const acceptUrl = link('Accept');
    const rejectUrl = link('Reject');
    return { mail, acceptUrl, rejectUrl, token: acceptUrl.searchParams.get('token')! };
  }

  const mailsTo = (contact: string, subjectStart: string) =>
    mails.filter((m) => m.to === contact && m.subject.startsWith(subjectStart));

  const respond = (body: unknown) =>
    request(app)
      .post('/api/v1/vendor/offers/respond')
      .send(body as object);
  const vendorStatus = (body: unknown) =>
    request(app)
      .post('/api/v1/vendor/orders/status')
      .send(body as object);

  function operatorPost(path: string, body?: unknown, auth = operator) {
    const post = request(app).post(path).set('Authorization', auth);
    return body === undefined ? post : post.send(body as object);
  }
  const assign = (orderId: string, body: unknown, auth = operator) =>
    operatorPost(`/api/v1/orders/${orderId}/assign`, body, auth);
  const setStatus = (orderId: string, body: unknown, auth = operator) =>
    operatorPost(`/api/v1/orders/${orderId}/status`, body, auth);
  const cancel = (orderId: string, body?: unknown, auth = operator) =>
    operatorPost(`/api/v1/orders/${orderId}/cancel`, body, auth);
  const pay = (orderId: string, body: unknown, auth = operator) =>
    operatorPost(`/api/v1/orders/${orderId}/payments`, body, auth);

  /** An order in a region of its own, whose only vendor has the offer open. */
  async function offeredOrder(vendorName = 'Fresh Farms') {
    const region = newRegion();
    const vendor = await addVendor(region, { name: vendorName });
    const orderId = await placeOrder({ deliveryRegion: region });
    const offer = await offerMailTo(vendor.contact, orderId);
    return { orderId, vendor, region, ...offer };
  }

  /** An order its only vendor accepted: ASSIGNED in the database and in the workflow. */
  async function assignedOrder() {
    const offered = await offeredOrder('Solo Vendor');
    const accepted = await respond({ token: offered.token, decision: 'accept' });
    expect(accepted.status).toBe(200);
    await routingReaches(offered.orderId, 'ASSIGNED');
    return offered;
  }

  /** An order the best vendor rejected and the next one accepted. */
  async function routedToSecondVendor() {
    const region = newRegion();
    const best = await addVendor(region, { name: 'Best Foods', rating: 5 });
    const next = await addVendor(region, { name: 'Next Foods', rating: 4 });
    const orderId = await placeOrder({ deliveryRegion: region });
    const rejectedToken = (await offerMailTo(best.contact, orderId)).token;
    expect((await respond({ token: rejectedToken, decision: 'reject' })).status).toBe(200);
    const acceptedToken = (await offerMailTo(next.contact, orderId)).token;
    expect((await respond({ token: acceptedToken, decision: 'accept' })).status).toBe(200);
    await routingReaches(orderId, 'ASSIGNED');
    return { orderId, best, next, rejectedToken, acceptedToken };
  }

  /** An order in a region with no vendors: NEEDS_ATTENTION as soon as it is approved. */
  async function orderNeedingAttention() {
    const orderId = await placeOrder({ deliveryRegion: newRegion() });
    await routingReaches(orderId, 'NEEDS_ATTENTION');
    return orderId;
  }

  async function foreignOrder(): Promise<string> {
    const theirRetailer = await addRetailer({}, otherTenantId);
    const response = await postOrder(orderBody({ retailerId: theirRetailer.id }), { auth: otherMember });
    expect(response.status).toBe(202);
    return response.body.orderId as string;
  }

  describe('POST /orders', () => {
    it('answers 202 with Location and the workflow, started with the exact options', async () => {
      const region = newRegion();
      const start = jest.spyOn(client.workflow, 'start');

      const response = await postOrder(orderBody({ deliveryRegion: region }));
      const starts = [...start.mock.calls];
      start.mockRestore();

      expect(response.status).toBe(202);
      const orderId = response.body.orderId as string;
      const workflowId = `order:${tenantId}:${orderId}`;
      expect(response.headers.location).toBe(`/api/v1/orders/${orderId}`);
      expect(response.headers['idempotent-replayed']).toBeUndefined();
      expect(response.body).toEqual({ orderId, workflowId, runId: expect.any(String), status: 'PENDING' });
      expect(starts).toHaveLength(1);
      expect(starts[0]![0]).toBe(orderRoutingWorkflow);
      expect(starts[0]![1]).toEqual({
        taskQueue: config.temporal.taskQueue,
        workflowId,
        args: [{ tenantId, orderId }],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        // High priority, fair by tenant at its plan's weight (a free tenant: 1; docs/queues.md).
        priority: { priorityKey: 2, fairnessKey: tenantId, fairnessWeight: 1 },
        // What the Web UI lists it by: the order's reference, never the retailer or the vendors.
        staticSummary: `Order ${orderReference(orderId)} — routing to vendors`,
        staticDetails: expect.stringContaining(`**Order:** \`${orderId}\``),
        typedSearchAttributes: [
          { key: TenantIdKey, value: tenantId },
          { key: BusinessKeyKey, value: orderId },
          { key: FlowStatusKey, value: 'PENDING' },
        ],
      });
      const description = await client.workflow.getHandle(workflowId).describe();
      expect(description).toMatchObject({
        type: 'orderRoutingWorkflow',
        taskQueue: config.temporal.taskQueue,
        workflowId,
        runId: response.body.runId,
      });
      expect(description.typedSearchAttributes.get(TenantIdKey)).toBe(tenantId);
      expect(description.typedSearchAttributes.get(BusinessKeyKey)).toBe(orderId);
      expect(await dbOrder(orderId)).toMatchObject({
        tenantId,
        retailerId: retailer.id,
        total: 2500,
        deliveryRegion: region,
        idempotencyKey: null,
        clientOrderRef: null,
      });
      // FlowStatus follows the order's status as the workflow moves it on.
      await eventually(
        async () =>
          (await client.workflow.getHandle(workflowId).describe()).typedSearchAttributes.get(FlowStatusKey) ===
          'NEEDS_ATTENTION',
      );
    });

    it('ten concurrent POSTs with one Idempotency-Key make one order and one workflow, and repeats say Idempotent-Replayed', async () => {
      const key = `order-${randomUUID()}`;
      const body = orderBody();

      const responses = await Promise.all(Array.from({ length: 10 }, () => postOrder(body, { key })));
      const again = await postOrder(body, { key });

      expect(responses.map((response) => response.status)).toEqual(Array(10).fill(202));
      const { orderId, workflowId, runId } = responses[0]!.body as {
        orderId: string;
        workflowId: string;
        runId: string;
      };
      for (const response of [...responses, again]) {
        expect(response.body).toMatchObject({ orderId, workflowId, runId });
      }
      expect(await prisma.order.count({ where: { tenantId, idempotencyKey: key } })).toBe(1);
      expect(await prisma.auditLog.count({ where: { entityId: orderId, action: 'order.created' } })).toBe(1);
      // One request created the order; every other one found it.
      expect(responses.filter((response) => response.headers['idempotent-replayed'] === 'true')).toHaveLength(9);
      expect(again.status).toBe(202);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect((await client.workflow.getHandle(workflowId).describe()).runId).toBe(runId);
    });

    it('the same clientOrderRef returns the same order, with or without an Idempotency-Key', async () => {
      const clientOrderRef = `PO-${randomUUID().slice(0, 8)}`;
      const body = orderBody({ clientOrderRef });

      const first = await postOrder(body);
      const again = await postOrder(body);
      const withKey = await postOrder(body, { key: `k-${randomUUID()}` });

      expect([first.status, again.status, withKey.status]).toEqual([202, 202, 202]);
      expect(again.body).toMatchObject({ orderId: first.body.orderId, runId: first.body.runId });
      expect(withKey.body).toMatchObject({ orderId: first.body.orderId, runId: first.body.runId });
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      expect([again.headers['idempotent-replayed'], withKey.headers['idempotent-replayed']]).toEqual(['true', 'true']);
      expect(await prisma.order.count({ where: { tenantId, clientOrderRef } })).toBe(1);
    });

    it('the same Idempotency-Key with a different body answers 422 IDEMPOTENCY_KEY_REUSED', async () => {
      const key = `order-${randomUUID()}`;
      const first = await postOrder(orderBody(), { key });

      const reused = await postOrder(orderBody({ items: items({ quantity: 11 }) }), { key });

      expect(first.status).toBe(202);
      expect(reused.status).toBe(422);
      expect(reused.body.error).toMatchObject({
        code: 'IDEMPOTENCY_KEY_REUSED',
        details: { orderId: first.body.orderId },
      });
      expect(await prisma.order.count({ where: { tenantId, idempotencyKey: key } })).toBe(1);
    });

    it('answers 400 for bad items, a zero quantity, unknown fields, a bad Idempotency-Key or query, and creates nothing', async () => {
      const before = await prisma.order.count({ where: { tenantId } });
      const invalid: Array<{ body: unknown; key?: string; path?: string }> = [
        { body: {} },
        { body: orderBody({ items: [] }) },
        { body: orderBody({ items: 'apples' }) },
        { body: orderBody({ items: items({ quantity: 0 }) }) },
        { body: orderBody({ items: items({ quantity: 1.5 }) }) },
        { body: orderBody({ items: items({ unitPrice: -1 }) }) },
        { body: orderBody({ items: items({ sku: '' }) }) },
        { body: orderBody({ items: items({ colour: 'red' }) }) },
        { body: orderBody({ items: items({ quantity: 100_000, unitPrice: 1_000_000_000 }) }) },
        { body: orderBody({ retailerId: 'retailer-1' }) },
        { body: orderBody({ deliveryRegion: ' ' }) },
        { body: orderBody({ clientOrderRef: '' }) },
        { body: orderBody({ priority: 'high' }) },
        { body: orderBody(), key: 'has spaces' },
        { body: orderBody(), key: 'k'.repeat(201) },
        { body: orderBody(), path: '/api/v1/orders?dryRun=true' },
      ];

      for (const { body, key, path } of invalid) {
        const response = await postOrder(body, { key, path });
        if (response.status !== 400) throw new Error(`expected 400 for ${JSON.stringify({ body, key, path })}`);
        expect(response.body.error.code).toBe('VALIDATION_FAILED');
      }
      const malformed = await request(app)
        .post('/api/v1/orders')
        .set('Authorization', member)
        .set('Content-Type', 'application/json')
        .send('{"retailerId":');
      expect(malformed.status).toBe(400);
      expect(malformed.body.error.code).toBe('MALFORMED_JSON');
      expect(await prisma.order.count({ where: { tenantId } })).toBe(before);
    });

    it('answers 401 without a token, on every order route', async () => {
      const id = randomUUID();

      const responses = await Promise.all([
        request(app).post('/api/v1/orders').send(orderBody()),
        request(app).get('/api/v1/orders'),
        request(app).get(`/api/v1/orders/${id}`),
        request(app).post(`/api/v1/orders/${id}/assign`).send({ vendorId: randomUUID() }),
        request(app).post(`/api/v1/orders/${id}/status`).send({ status: 'DISPATCHED' }),
        request(app).post(`/api/v1/orders/${id}/cancel`),
        request(app).post(`/api/v1/orders/${id}/payments`).send({ amount: 1, reference: 'r' }),
        request(app).post('/api/v1/orders').set('Authorization', 'Bearer not-a-jwt').send(orderBody()),
      ]);

      expect(responses.map((response) => response.status)).toEqual(Array(8).fill(401));
      expect(responses[0].body.error.code).toBe('UNAUTHORIZED');
    });

    it('answers 422 UNKNOWN_RETAILER for an unknown retailer or another tenant’s, and creates nothing', async () => {
      const theirs = await addRetailer({}, otherTenantId);
      const before = await prisma.order.count({ where: { tenantId } });

      const unknown = await postOrder(orderBody({ retailerId: randomUUID() }));
      const foreign = await postOrder(orderBody({ retailerId: theirs.id }));

      expect([unknown.status, foreign.status]).toEqual([422, 422]);
      expect(foreign.body.error).toMatchObject({ code: 'UNKNOWN_RETAILER', details: { retailerId: theirs.id } });
      expect(await prisma.order.count({ where: { tenantId } })).toBe(before);
      expect(await prisma.order.count({ where: { retailerId: theirs.id } })).toBe(0);
    });
  });

  describe('the credit check and reading orders', () => {
    it('an order over the retailer’s available credit ends REJECTED with the reason, and the retailer is told', async () => {
      const small = await addRetailer({ creditLimit: 1000 });
      const body = orderBody({ retailerId: small.id, clientOrderRef: `PO-${randomUUID().slice(0, 8)}` });
      const placed = await postOrder(body);
      const orderId = placed.body.orderId as string;

      const result = await orderHandle(orderId).result();
      const repeated = await postOrder(body);

      const reason = 'The order total 2500 exceeds the available credit 1000 (limit 1000, outstanding 0)';
      expect(placed.status).toBe(202);
      expect(result).toEqual({
        outcome: 'rejected',
        orderId,
        status: 'REJECTED',
        vendorId: null,
        attempts: 0,
        remindersSent: 0,
      });
      const shown = await getOrder(orderId);
      expect(shown.status).toBe(200);
      expect(shown.body).toMatchObject({
        status: 'REJECTED',
        statusReason: reason,
        routing: { status: 'REJECTED', statusReason: reason, total: 2500, vendor: null, attempts: [] },
      });
      expect(await prisma.routingAttempt.count({ where: { orderId } })).toBe(0);
      await eventually(() => mailsTo(small.contact, `Order ${orderReference(orderId)} could not be accepted`)[0]);
      // A repeat after the workflow has finished answers the finished run; the order is never routed again.
      expect(repeated.status).toBe(202);
      expect(repeated.headers['idempotent-replayed']).toBe('true');
      expect(repeated.body).toEqual({ ...placed.body, status: 'REJECTED' });
    });

    it('an order of a flagged retailer is REJECTED whatever its credit', async () => {
      const flagged = await addRetailer({ flagged: true });
      const orderId = await placeOrder({ retailerId: flagged.id });

      await orderHandle(orderId).result();

      expect(await dbOrder(orderId)).toMatchObject({
        status: 'REJECTED',
        statusReason: 'The retailer was flagged after a final payment notice',
      });
    });

    it('GET /orders/:id answers the order’s fields and its routing state; 400 for a non-UUID; 404 for an unknown order or another tenant’s', async () => {
      const region = newRegion();
      const clientOrderRef = `PO-${randomUUID().slice(0, 8)}`;
      const orderId = await placeOrder({ deliveryRegion: region, clientOrderRef });
      const theirs = await foreignOrder();

      await routingReaches(orderId, 'NEEDS_ATTENTION');
      // The workflow's state turns first; the order's row follows when the step that records it completes.
      const shown = await eventually(async () => {
        const view = (await getOrder(orderId)).body as OrderView;
        return view.status === 'NEEDS_ATTENTION' ? view : undefined;
      });
      const malformed = await getOrder('ord-1');
      const badQuery = await request(app).get(`/api/v1/orders/${orderId}?verbose=1`).set('Authorization', member);
      const unknown = await getOrder(randomUUID());
      const foreign = await getOrder(theirs);

      expect(shown).toEqual({
        id: orderId,
        retailerId: retailer.id,
        vendorId: null,
        items: items(),
        total: 2500,
        deliveryRegion: region,
        status: 'NEEDS_ATTENTION',
        statusReason: null,
        clientOrderRef,
        dispatchedAt: null,
        deliveredAt: null,
        dueDate: null,
        paidAt: null,
        createdAt: expect.any(String),
        workflowId: orderRoutingId(tenantId, orderId),
        routing: expect.objectContaining({
          tenantId,
          orderId,
          status: 'NEEDS_ATTENTION',
          total: 2500,
          vendor: null,
          currentOffer: null,
          attempts: [],
          manualAssignmentDeadline: expect.any(String),
          paid: 0,
          payments: [],
          reminders: [],
          retailerFlagged: false,
        }),
      });
      expect([malformed.status, badQuery.status]).toEqual([400, 400]);
      expect([unknown.status, foreign.status]).toEqual([404, 404]);
      expect(foreign.body.error.code).toBe('NOT_FOUND');
      expect((await getOrder(theirs, otherMember)).status).toBe(200);
    });

    it('GET /orders lists the tenant’s orders, newest first, filtered by status and retailer; a bad query is 400', async () => {
      const own = await addRetailer({ creditLimit: 1000 });
      const rejected = await placeOrder({ retailerId: own.id });
      await orderHandle(rejected).result();
      const waiting = await placeOrder({ retailerId: own.id, items: items({ quantity: 1, unitPrice: 100 }) });
      await routingReaches(waiting, 'NEEDS_ATTENTION');
      const theirs = await foreignOrder();
      const list = async (query: string) => {
        const response = await request(app).get(`/api/v1/orders?${query}`).set('Authorization', member);
        expect(response.status).toBe(200);
        return response.body.orders as Array<{ id: string; status: string; retailerId: string }>;
      };

      const byRetailer = await list(`retailerId=${own.id}`);
      const rejectedOfRetailer = await list(`retailerId=${own.id}&status=REJECTED`);
      const allRejected = await list('status=REJECTED&limit=500');
      const everything = await list('limit=500');
      const paged = await list(`retailerId=${own.id}&limit=1&offset=1`);
      const bad = await Promise.all(
        ['status=LOST', 'limit=0', 'offset=-1', 'retailerId=shop-1', 'vendorId=x'].map((query) =>
          request(app).get(`/api/v1/orders?${query}`).set('Authorization', member),
        ),
      );

      expect(byRetailer.map((order) => order.id)).toEqual([waiting, rejected]);
      expect(byRetailer.map((order) => order.status)).toEqual(['NEEDS_ATTENTION', 'REJECTED']);
      expect(rejectedOfRetailer.map((order) => order.id)).toEqual([rejected]);
      expect(allRejected.map((order) => order.id)).toContain(rejected);
      expect(allRejected.every((order) => order.status === 'REJECTED')).toBe(true);
      expect(everything.map((order) => order.id)).not.toContain(theirs);
      expect(paged.map((order) => order.id)).toEqual([rejected]);
      expect(bad.map((response) => response.status)).toEqual([400, 400, 400, 400, 400]);
    });
  });

  describe('vendor responses (token, not JWT)', () => {
    it('a vendor that rejects through its link passes the order to the next vendor, whose accept ASSIGNS the order', async () => {
      const region = newRegion();
      const best = await addVendor(region, { name: 'Best Foods', rating: 5 });
      const next = await addVendor(region, { name: 'Next Foods', rating: 4 });
      const orderId = await placeOrder({ deliveryRegion: region });
      const first = await offerMailTo(best.contact, orderId);
      const nextMailsBefore = mailsTo(next.contact, 'New order').length;

      const rejected = await respond({ token: first.token, decision: 'reject', reason: 'no trucks today' });
      const second = await offerMailTo(next.contact, orderId);
      const accepted = await respond({ token: second.token, decision: 'accept' });

      expect(first.rejectUrl.searchParams.get('token')).toBe(first.token);
      expect(rejected.status).toBe(200);
      expect(rejected.body).toEqual({ status: 'rejected' });
      expect(nextMailsBefore).toBe(0);
      expect(accepted.status).toBe(200);
      expect(accepted.body).toEqual({ status: 'accepted' });
      expect(await dbOrder(orderId)).toMatchObject({ status: 'ASSIGNED', vendorId: next.id });
      const attempts = await prisma.routingAttempt.findMany({ where: { orderId }, orderBy: { attempt: 'asc' } });
      expect(
        attempts.map(({ attempt, vendorId, outcome, reason }) => ({ attempt, vendorId, outcome, reason })),
      ).toEqual([
        { attempt: 1, vendorId: best.id, outcome: 'REJECTED', reason: 'no trucks today' },
        { attempt: 2, vendorId: next.id, outcome: 'ACCEPTED', reason: null },
      ]);
      const shown = await routingReaches(orderId, 'ASSIGNED');
      expect(shown.routing).toMatchObject({
        vendor: { vendorId: next.id, vendorName: 'Next Foods' },
        currentOffer: null,
        attempts: [
          { attempt: 1, vendorId: best.id, outcome: 'REJECTED', reason: 'no trucks today' },
          { attempt: 2, vendorId: next.id, outcome: 'ACCEPTED' },
        ],
      });
      await eventually(() => mailsTo(retailer.contact, `Order ${orderReference(orderId)} confirmed`)[0]);
    });

    it('answering an offer again is 409 ALREADY_RESPONDED, whether it was accepted or rejected', async () => {
      const { orderId, rejectedToken, acceptedToken, next } = await routedToSecondVendor();

      const rejectedAgain = await respond({ token: rejectedToken, decision: 'accept' });
      const acceptedAgain = await respond({ token: acceptedToken, decision: 'reject' });

      expect([rejectedAgain.status, acceptedAgain.status]).toEqual([409, 409]);
      expect([rejectedAgain.body.error.code, acceptedAgain.body.error.code]).toEqual([
        'ALREADY_RESPONDED',
        'ALREADY_RESPONDED',
      ]);
      expect(await dbOrder(orderId)).toMatchObject({ status: 'ASSIGNED', vendorId: next.id });
    });

    it('answers 400 INVALID_TOKEN for a tampered token or a waitlist offer token, 400 for a bad body, 404 for a genuine token of no offer', async () => {
      const { orderId, token } = await offeredOrder();
      const attempt = await prisma.routingAttempt.findFirstOrThrow({ where: { orderId } });
      const [version, , signature] = token.split('.');
      const forgedPayload = Buffer.from(JSON.stringify({ t: tenantId, h: randomUUID() })).toString('base64url');
      const tampered = `${version}.${forgedPayload}.${signature}`;
      const waitlistToken = signOfferToken(config.offerTokenSecret, { tenantId, holdId: attempt.id });
      const noSuchOffer = signVendorToken(config.offerTokenSecret, { tenantId, attemptId: randomUUID() });

      const forged = await respond({ token: tampered, decision: 'accept' });
      const garbage = await respond({ token: 'garbage', decision: 'accept' });
      const waitlist = await respond({ token: waitlistToken, decision: 'accept' });
      const vendorTokenAsWaitlist = await request(app)
        .post('/api/v1/offers/respond')
        .send({ token, decision: 'accept' });
      const badBodies = await Promise.all(
        [{ token }, { token, decision: 'maybe' }, { token, decision: 'accept', note: 'x' }, { decision: 'accept' }].map(
          respond,
        ),
      );
      const unknown = await respond({ token: noSuchOffer, decision: 'accept' });

      expect([forged.status, garbage.status, waitlist.status]).toEqual([400, 400, 400]);
      expect([forged.body.error.code, garbage.body.error.code, waitlist.body.error.code]).toEqual([
        'INVALID_TOKEN',
        'INVALID_TOKEN',
        'INVALID_TOKEN',
      ]);
      expect(vendorTokenAsWaitlist.status).toBe(400);
      expect(badBodies.map((response) => response.status)).toEqual([400, 400, 400, 400]);
      expect(unknown.status).toBe(404);
      expect((await prisma.routingAttempt.findUniqueOrThrow({ where: { id: attempt.id } })).outcome).toBe('OFFERED');
      expect((await getOrder(orderId)).body.routing.currentOffer).toMatchObject({ attemptId: attempt.id });
    });

    it('the offer link opens a page that changes nothing; the form post is answered with a page', async () => {
      const { orderId, acceptUrl, rejectUrl, token } = await offeredOrder('Page Vendor');
      const attempt = await prisma.routingAttempt.findFirstOrThrow({ where: { orderId } });

      const opened = await request(app).get(`${acceptUrl.pathname}${acceptUrl.search}`);
      const openedReject = await request(app).get(`${rejectUrl.pathname}${rejectUrl.search}`);
      const stillOffered = await prisma.routingAttempt.findUniqueOrThrow({ where: { id: attempt.id } });
      const stillRouting = await getOrder(orderId);
      const posted = await request(app)
        .post('/api/v1/vendor/offers/respond')
        .type('form')
        .send({ token, decision: 'accept' });
      const postedAgain = await request(app)
        .post('/api/v1/vendor/offers/respond')
        .type('form')
        .send({ token, decision: 'accept' });
      const reopened = await request(app).get(`${acceptUrl.pathname}${acceptUrl.search}`);
      const tampered = await request(app).get(
        `/api/v1/vendor/offers/respond?token=x${encodeURIComponent(token)}&decision=accept`,
      );
      const incomplete = await request(app).get(`/api/v1/vendor/offers/respond?token=${encodeURIComponent(token)}`);
      const badForm = await request(app).post('/api/v1/vendor/offers/respond').type('form').send({ token });

      expect(opened.status).toBe(200);
      expect(opened.headers['content-type']).toMatch(/html/);
      expect(opened.text).toContain(`Order ${orderReference(orderId)}`);
      expect(opened.text).toContain('Hello Page Vendor');
      expect(opened.text).toContain('<form method="post" action="/api/v1/vendor/offers/respond">');
      expect(opened.text).toContain('Accept this order');
      expect(openedReject.text).toContain('Reject this order');
      expect(stillOffered.outcome).toBe('OFFERED');
      expect(stillRouting.body).toMatchObject({
        status: 'ROUTING',
        routing: { status: 'ROUTING', currentOffer: { attemptId: attempt.id } },
      });
      expect(posted.status).toBe(200);
      expect(posted.headers['content-type']).toMatch(/html/);
      expect(posted.text).toContain('Accepted');
      expect(await dbOrder(orderId)).toMatchObject({ status: 'ASSIGNED', vendorId: attempt.vendorId });
      expect(postedAgain.status).toBe(409);
      expect(postedAgain.text).toContain('This offer has already been answered');
      expect(reopened.status).toBe(409);
      expect([tampered.status, incomplete.status, badForm.status]).toEqual([400, 400, 400]);
      expect(tampered.headers['content-type']).toMatch(/html/);
    });

    it('POST /vendor/orders/status: the accepted vendor reports progress with its token (202); the vendor that rejected gets 403', async () => {
      const { orderId, next, rejectedToken, acceptedToken } = await routedToSecondVendor();

      const forbidden = await vendorStatus({ token: rejectedToken, status: 'DISPATCHED' });
      const dispatched = await vendorStatus({ token: acceptedToken, status: 'DISPATCHED' });
      await routingReaches(orderId, 'DISPATCHED');
      const again = await vendorStatus({ token: acceptedToken, status: 'DISPATCHED' });
      const badStatus = await vendorStatus({ token: acceptedToken, status: 'PAID' });
      const tampered = await vendorStatus({ token: `${acceptedToken}x`, status: 'DELIVERED' });
      const unknown = await vendorStatus({
        token: signVendorToken(config.offerTokenSecret, { tenantId, attemptId: randomUUID() }),
        status: 'DELIVERED',
      });

      expect(forbidden.status).toBe(403);
      expect(forbidden.body.error.code).toBe('FORBIDDEN');
      expect(dispatched.status).toBe(202);
      expect(dispatched.body).toEqual({ orderId, requested: 'DISPATCHED', status: 'ASSIGNED' });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('INVALID_TRANSITION');
      expect(badStatus.status).toBe(400);
      expect(tampered.status).toBe(400);
      expect(tampered.body.error.code).toBe('INVALID_TOKEN');
      expect(unknown.status).toBe(404);
      const order = await dbOrder(orderId);
      expect(order.status).toBe('DISPATCHED');
      expect(order.dispatchedAt).toBeInstanceOf(Date);
      expect(
        await prisma.auditLog.findFirst({ where: { entityId: orderId, action: 'order.dispatched' } }),
      ).toMatchObject({ actor: `vendor:${next.id}` });
    });
  });

  describe('operator actions', () => {
    it('POST /orders/:id/status moves an assigned order to DISPATCHED, then DELIVERED with its due date (202 each)', async () => {
      const { orderId } = await assignedOrder();

      const dispatched = await setStatus(orderId, { status: 'DISPATCHED' });
      await routingReaches(orderId, 'DISPATCHED');
      const delivered = await setStatus(orderId, { status: 'DELIVERED' });
      await routingReaches(orderId, 'DELIVERED');
      // The reminder schedule is laid out just after delivery is recorded.
      const shown = await eventually(async () => {
        const view = (await getOrder(orderId)).body as OrderView;
        return (view.routing?.reminders.length ?? 0) > 0 ? view : undefined;
      });

      expect(dispatched.status).toBe(202);
      expect(dispatched.body).toEqual({ orderId, requested: 'DISPATCHED', status: 'ASSIGNED' });
      expect(delivered.status).toBe(202);
      expect(delivered.body).toEqual({ orderId, requested: 'DELIVERED', status: 'DISPATCHED' });
      const order = await dbOrder(orderId);
      const { paymentTermsDays } = await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId } });
      expect(order.status).toBe('DELIVERED');
      expect(order.dispatchedAt).toBeInstanceOf(Date);
      expect(order.dueDate!.getTime() - order.deliveredAt!.getTime()).toBe(paymentTermsDays * DAY_MS);
      expect(shown.routing).toMatchObject({
        deliveredAt: order.deliveredAt!.toISOString(),
        dueDate: order.dueDate!.toISOString(),
      });
      expect(shown.routing!.reminders.map(({ kind, status }) => ({ kind, status }))).toEqual([
        { kind: 'DUE_SOON', status: 'scheduled' },
        ...Array.from({ length: 5 }, () => ({ kind: 'OVERDUE', status: 'scheduled' })),
        { kind: 'FINAL_NOTICE', status: 'scheduled' },
      ]);
      expect(shown.routing!.reminders[0]!.at).toBe(new Date(order.dueDate!.getTime() - 2 * DAY_MS).toISOString());
    });

    it('POST /orders/:id/status answers 409 INVALID_TRANSITION for a step the order cannot take, 400 for a bad status, 403 for a member, 404 for another tenant’s order', async () => {
      const waiting = await orderNeedingAttention();
      const { orderId } = await assignedOrder();
      const theirs = await foreignOrder();

      const notAssigned = await setStatus(waiting, { status: 'DISPATCHED' });
      const asMember = await setStatus(orderId, { status: 'DISPATCHED' }, member);
      const badBodies = await Promise.all(
        [{ status: 'PAID' }, {}, { status: 'dispatched' }, { status: 'DISPATCHED', at: 'now' }].map((body) =>
          setStatus(orderId, body),
        ),
      );
      const delivered = await setStatus(orderId, { status: 'DELIVERED' });
      await routingReaches(orderId, 'DELIVERED');
      const backwards = await setStatus(orderId, { status: 'DISPATCHED' });
      const unknown = await setStatus(randomUUID(), { status: 'DISPATCHED' });
      const foreign = await setStatus(theirs, { status: 'DISPATCHED' });

      expect(notAssigned.status).toBe(409);
      expect(notAssigned.body.error).toMatchObject({
        code: 'INVALID_TRANSITION',
        details: { status: 'NEEDS_ATTENTION', requested: 'DISPATCHED' },
      });
      expect(asMember.status).toBe(403);
      expect(badBodies.map((response) => response.status)).toEqual([400, 400, 400, 400]);
      expect(delivered.status).toBe(202);
      expect(backwards.status).toBe(409);
      expect(backwards.body.error.code).toBe('INVALID_TRANSITION');
      expect([unknown.status, foreign.status]).toEqual([404, 404]);
      expect((await dbOrder(waiting)).status).toBe('NEEDS_ATTENTION');
    });

    it('POST /orders/:id/assign answers 409 NOT_AWAITING_ASSIGNMENT while vendors are still being offered the order', async () => {
      const { orderId, vendor } = await offeredOrder();

      const response = await assign(orderId, { vendorId: vendor.id });

      expect(response.status).toBe(409);
      expect(response.body.error.code).toBe('NOT_AWAITING_ASSIGNMENT');
      expect(await dbOrder(orderId)).toMatchObject({ status: 'ROUTING', vendorId: null });
      expect((await prisma.routingAttempt.findFirstOrThrow({ where: { orderId } })).outcome).toBe('OFFERED');
    });

    it('POST /orders/:id/assign answers 422 UNKNOWN_VENDOR for an unknown vendor or another tenant’s, 400 for a bad body, 403 for a member', async () => {
      const orderId = await orderNeedingAttention();
      const theirVendor = await createVendor(prisma, otherTenantId, { name: 'Their Vendor' });
      const ours = await addVendor(newRegion());

      const unknown = await assign(orderId, { vendorId: randomUUID() });
      const foreign = await assign(orderId, { vendorId: theirVendor.id });
      const badBodies = await Promise.all(
        [{}, { vendorId: 'vendor-1' }, { vendorId: ours.id, note: 'x' }].map((body) => assign(orderId, body)),
      );
      const asMember = await assign(orderId, { vendorId: ours.id }, member);
      const unknownOrder = await assign(randomUUID(), { vendorId: ours.id });

      expect([unknown.status, foreign.status]).toEqual([422, 422]);
      expect(foreign.body.error).toMatchObject({ code: 'UNKNOWN_VENDOR', details: { vendorId: theirVendor.id } });
      expect(badBodies.map((response) => response.status)).toEqual([400, 400, 400]);
      expect(asMember.status).toBe(403);
      expect(unknownOrder.status).toBe(404);
      expect((await routingReaches(orderId, 'NEEDS_ATTENTION')).vendorId).toBeNull();
    });

    it('an operator assigns a vendor by hand to an order no vendor could take (NEEDS_ATTENTION); an inactive vendor is refused', async () => {
      const orderId = await orderNeedingAttention();
      const idle = await addVendor(newRegion(), { name: 'Idle Vendor', active: false });
      const manual = await addVendor(newRegion(), { name: 'Manual Vendor' });

      const inactive = await assign(orderId, { vendorId: idle.id });
      const assigned = await assign(orderId, { vendorId: manual.id });
      const shown = await routingReaches(orderId, 'ASSIGNED');
      const again = await assign(orderId, { vendorId: manual.id });

      expect(inactive.status).toBe(409);
      expect(inactive.body.error.code).toBe('VENDOR_UNAVAILABLE');
      expect(assigned.status).toBe(200);
      expect(assigned.body).toEqual({
        orderId,
        status: 'ASSIGNED',
        vendorId: manual.id,
        vendorName: 'Manual Vendor',
      });
      expect(await dbOrder(orderId)).toMatchObject({ status: 'ASSIGNED', vendorId: manual.id });
      expect(await prisma.routingAttempt.findMany({ where: { orderId } })).toEqual([
        expect.objectContaining({
          attempt: 1,
          vendorId: manual.id,
          outcome: 'MANUAL',
          reason: 'assigned by dev:operator',
        }),
      ]);
      expect(shown.routing).toMatchObject({
        vendor: { vendorId: manual.id, vendorName: 'Manual Vendor' },
        manualAssignmentDeadline: null,
        attempts: [{ attempt: 1, vendorId: manual.id, outcome: 'MANUAL' }],
      });
      await eventually(() => mailsTo(`admin@${tenantId}.test`, `Order ${orderReference(orderId)} needs a vendor`)[0]);
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('NOT_AWAITING_ASSIGNMENT');
    });

    it('cancelling before dispatch answers 200 {status: cancelled}, withdraws the open offer and tells both sides; the offer link then answers 409', async () => {
      const { orderId, vendor, token } = await offeredOrder();

      const cancelled = await cancel(orderId, { reason: 'the shop closed' });
      const result = await orderHandle(orderId).result();
      const late = await respond({ token, decision: 'accept' });

      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toEqual({ orderId, status: 'cancelled', reason: 'the shop closed' });
      expect(result).toMatchObject({ outcome: 'cancelled', status: 'CANCELLED', vendorId: null });
      expect(await dbOrder(orderId)).toMatchObject({ status: 'CANCELLED', statusReason: 'the shop closed' });
      expect(await prisma.routingAttempt.findFirstOrThrow({ where: { orderId } })).toMatchObject({
        outcome: 'CANCELLED',
        reason: 'the shop closed',
      });
      const cancelledSubject = `Order ${orderReference(orderId)} cancelled`;
      await eventually(
        () => mailsTo(vendor.contact, cancelledSubject)[0] && mailsTo(retailer.contact, cancelledSubject)[0],
      );
      expect(late.status).toBe(409);
      expect(late.body.error.code).toBe('OFFER_SUPERSEDED');
    });

    it('cancelling without a body gives the operator as the reason; a bad body is 400, a member 403', async () => {
      const orderId = await orderNeedingAttention();

      const badBodies = await Promise.all([{ reason: '' }, { why: 'x' }].map((body) => cancel(orderId, body)));
      const asMember = await cancel(orderId, undefined, member);
      const cancelled = await cancel(orderId);

      expect(badBodies.map((response) => response.status)).toEqual([400, 400]);
      expect(asMember.status).toBe(403);
      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toEqual({ orderId, status: 'cancelled', reason: 'cancelled by dev:operator' });
      expect(await dbOrder(orderId)).toMatchObject({ status: 'CANCELLED', statusReason: 'cancelled by dev:operator' });
    });

    it('cancelling after DISPATCHED answers 409 NOT_CANCELLABLE and the order goes on', async () => {
      const { orderId } = await assignedOrder();
      expect((await setStatus(orderId, { status: 'DISPATCHED' })).status).toBe(202);

      const refused = await cancel(orderId, { reason: 'too late' });

      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('NOT_CANCELLABLE');
      await routingReaches(orderId, 'DISPATCHED');
      expect(await dbOrder(orderId)).toMatchObject({ status: 'DISPATCHED', statusReason: null });
    });

    it('once an order’s workflow has ended, cancel and assign answer 409 ORDER_CLOSED and a fulfilment step 409 INVALID_TRANSITION', async () => {
      const small = await addRetailer({ creditLimit: 1 });
      const orderId = await placeOrder({ retailerId: small.id });
      await orderHandle(orderId).result();
      const vendor = await addVendor(newRegion());

      const cancelled = await cancel(orderId, { reason: 'never mind' });
      const assigned = await assign(orderId, { vendorId: vendor.id });
      const dispatched = await setStatus(orderId, { status: 'DISPATCHED' });

      expect([cancelled.status, assigned.status]).toEqual([409, 409]);
      expect(cancelled.body.error).toMatchObject({ code: 'ORDER_CLOSED', details: { status: 'REJECTED' } });
      expect(assigned.body.error.code).toBe('ORDER_CLOSED');
      expect(dispatched.status).toBe(409);
      expect(dispatched.body.error.code).toBe('INVALID_TRANSITION');
      expect((await dbOrder(orderId)).status).toBe('REJECTED');
    });
  });

  describe('payments', () => {
    it('POST /orders/:id/payments answers 409 NOT_PAYABLE before the order is assigned; 400 for a bad body, 403 for a member, 404 for another tenant’s order', async () => {
      const orderId = await orderNeedingAttention();
      const theirs = await foreignOrder();

      const early = await pay(orderId, { amount: 100, reference: `early-${randomUUID()}` });
      const badBodies = await Promise.all(
        [
          { amount: 0, reference: 'r' },
          { amount: 1.5, reference: 'r' },
          { amount: 100 },
          { amount: 100, reference: '' },
          { amount: 100, reference: 'r', currency: 'EUR' },
        ].map((body) => pay(orderId, body)),
      );
      const asMember = await pay(orderId, { amount: 100, reference: `m-${randomUUID()}` }, member);
      const foreign = await pay(theirs, { amount: 100, reference: `f-${randomUUID()}` });
      const unknown = await pay(randomUUID(), { amount: 100, reference: `u-${randomUUID()}` });

      expect(early.status).toBe(409);
      expect(early.body.error).toMatchObject({ code: 'NOT_PAYABLE', details: { status: 'NEEDS_ATTENTION' } });
      expect(badBodies.map((response) => response.status)).toEqual([400, 400, 400, 400, 400]);
      expect(asMember.status).toBe(403);
      expect([foreign.status, unknown.status]).toEqual([404, 404]);
      expect(await prisma.payment.count({ where: { orderId: { in: [orderId, theirs] } } })).toBe(0);
    });

    it('records a payment (201 with paidSoFar), replays the same reference (200, one row), refuses a reused reference (409) or too much (422), and paying the rest after delivery ends the order PAID', async () => {
      const { orderId, vendor } = await assignedOrder();
      const reference = `bank-${randomUUID()}`;

      const part = await pay(orderId, { amount: 1000, reference });
      const replay = await pay(orderId, { amount: 1000, reference });
      const reused = await pay(orderId, { amount: 999, reference });
      const tooMuch = await pay(orderId, { amount: 1501, reference: `bank-${randomUUID()}` });
      await eventually(async () => (await getOrder(orderId)).body.routing?.paid === 1000);
      expect((await setStatus(orderId, { status: 'DELIVERED' })).status).toBe(202);
      await routingReaches(orderId, 'DELIVERED');
      const restReference = `bank-${randomUUID()}`;
      const rest = await pay(orderId, { amount: 1500, reference: restReference });
      const result = await orderHandle(orderId).result();
      const afterPaid = await pay(orderId, { amount: 1, reference: `bank-${randomUUID()}` });
      // A client retrying the final payment after the workflow has finished still gets its payment back.
      const restReplay = await pay(orderId, { amount: 1500, reference: restReference });

      expect(part.status).toBe(201);
      expect(part.body).toEqual({
        id: expect.any(String),
        orderId,
        amount: 1000,
        reference,
        receivedAt: expect.any(String),
        paidSoFar: 1000,
      });
      expect(replay.status).toBe(200);
      expect(replay.body).toEqual(part.body);
      expect(reused.status).toBe(409);
      expect(reused.body.error).toMatchObject({
        code: 'PAYMENT_REFERENCE_REUSED',
        details: { paymentId: part.body.id },
      });
      expect(tooMuch.status).toBe(422);
      expect(tooMuch.body.error).toMatchObject({ code: 'AMOUNT_EXCEEDS_BALANCE', details: { balance: 1500 } });
      expect(rest.status).toBe(201);
      expect(rest.body).toMatchObject({ amount: 1500, paidSoFar: 2500 });
      expect(result).toEqual({
        outcome: 'paid',
        orderId,
        status: 'PAID',
        vendorId: vendor.id,
        attempts: 1,
        remindersSent: 0,
      });
      expect(await prisma.payment.count({ where: { orderId } })).toBe(2);
      const order = await dbOrder(orderId);
      expect(order.status).toBe('PAID');
      expect(order.paidAt).toBeInstanceOf(Date);
      const shown = await getOrder(orderId);
      expect(shown.body.routing).toMatchObject({ status: 'PAID', paid: 2500 });
      expect((shown.body.routing as OrderState).payments).toHaveLength(2);
      expect((shown.body.routing as OrderState).reminders.every((reminder) => reminder.status === 'cancelled')).toBe(
        true,
      );
      expect(afterPaid.status).toBe(409);
      expect(afterPaid.body.error.code).toBe('NOT_PAYABLE');
      expect(restReplay.status).toBe(200);
      expect(restReplay.body).toEqual(rest.body);
      expect(await prisma.payment.count({ where: { orderId } })).toBe(2);
    });

    it('a payment reference already used on another order answers 409 PAYMENT_REFERENCE_REUSED', async () => {
      const first = await assignedOrder();
      const second = await assignedOrder();
      const reference = `bank-${randomUUID()}`;
      expect((await pay(first.orderId, { amount: 100, reference })).status).toBe(201);

      const reused = await pay(second.orderId, { amount: 100, reference });

      expect(reused.status).toBe(409);
      expect(reused.body.error.code).toBe('PAYMENT_REFERENCE_REUSED');
      expect(await prisma.payment.count({ where: { orderId: second.orderId } })).toBe(0);
    });
  });

  describe('tenant settings', () => {
    it('PATCH /tenant/settings sets paymentTermsDays and vendorResponseMinutes, and new offers get the new window; 0 is 400', async () => {
      const settings = (body: unknown, auth = admin) =>
        request(app)
          .patch('/api/v1/tenant/settings')
          .set('Authorization', auth)
          .send(body as object);

      const updated = await settings({ paymentTermsDays: 7, vendorResponseMinutes: 45 });
      const invalid = await Promise.all(
        [{ paymentTermsDays: 0 }, { vendorResponseMinutes: 0 }, { vendorResponseMinutes: 1.5 }, {}].map((body) =>
          settings(body),
        ),
      );
      const asOperator = await settings({ vendorResponseMinutes: 5 }, operator);
      const { orderId } = await offeredOrder();

      expect(updated.status).toBe(200);
      expect(updated.body.settings).toMatchObject({ paymentTermsDays: 7, vendorResponseMinutes: 45 });
      expect(invalid.map((response) => response.status)).toEqual([400, 400, 400, 400]);
      expect(asOperator.status).toBe(403);
      expect(await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId } })).toMatchObject({
        paymentTermsDays: 7,
        vendorResponseMinutes: 45,
      });
      const { currentOffer } = (await getOrder(orderId)).body.routing as OrderState;
      expect(Date.parse(currentOffer!.deadline) - Date.parse(currentOffer!.offeredAt)).toBe(45 * 60_000);
      const attempt = await prisma.routingAttempt.findFirstOrThrow({ where: { orderId } });
      expect(attempt.deadline!.toISOString()).toBe(currentOffer!.deadline);
    });
  });
});
