import { flowPaused, requiredIdempotencyKeyHeaders } from '../openapi/common-responses';
import type { RouteSpec } from '../openapi/route-spec';
import type { WorkflowRouterDeps } from '../router-deps';
import { Router, type Response } from 'express';
import { WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { z } from 'zod';
import { MAX_MONEY_MINOR } from '../../domain/input-rules';
import { REMINDER_KINDS } from '../../domain/payment-reminders';
import { OrderStatus } from '../../generated/prisma/enums';
import { isPending } from '../../workflows/attention';
import type { orderRoutingWorkflow } from '../../workflows/order-routing';
import {
  assignVendorManuallyUpdate,
  cancelOrderUpdate,
  getOrderStateQuery,
  orderRoutingId,
  orderStatusSignal,
  type OrderState,
} from '../../workflows/order-routing.contract';
import { principalOf, requireRole } from '../auth';
import { whileOpen, orderClosed } from '../closed-workflows';
import { AppError, conflict, notFound } from '../errors';
import {
  int4,
  money,
  multiLine,
  noQuery,
  optionalBody,
  optionalIdempotencyKeyHeader,
  pagination,
  requiredIdempotencyKey,
  singleLine,
  uuid,
} from '../schemas';
import { sendPaymentReminderNow } from '../services/order-reminders';
import { placeOrder, recordPayment } from '../services/orders';
import { parse } from '../validation';

export type OrdersRouterDeps = WorkflowRouterDeps;

const orderParams = z.object({ orderId: uuid() });

const item = z
  .object({
    sku: singleLine(100),
    name: singleLine(200),
    category: singleLine(100),
    quantity: int4(1, 100_000),
    /** Minor units. */
    unitPrice: money(),
  })
  .strict();

/**
 * Whether the items' total fits the order's `integer` column. Each line is at most
 * 100,000 × MAX_MONEY_MINOR (below 2^48) and the sum stops as soon as it passes MAX_MONEY_MINOR,
 * so every step is exact in a double.
 */
function totalFits(items: ReadonlyArray<{ quantity: number; unitPrice: number }>): boolean {
  let total = 0;
  for (const { quantity, unitPrice } of items) {
    total += quantity * unitPrice;
    if (total > MAX_MONEY_MINOR) return false;
  }
  return true;
}

const createOrderBody = z
  .object({
    retailerId: uuid(),
    items: z.array(item).min(1).max(200),
    deliveryRegion: singleLine(100),
    clientOrderRef: singleLine(100).optional(),
  })
  .strict()
  .refine((body) => totalFits(body.items), {
    message: `the order total must not exceed ${MAX_MONEY_MINOR} minor units`,
    path: ['items'],
  });

/** A payment reminder sent on demand: one of the kinds order routing sends (domain/payment-reminders.ts). */
const sendNowBody = z.object({ kind: z.enum(REMINDER_KINDS) }).strict();

const listQuery = z
  .object({
    status: z.enum(OrderStatus).optional(),
    retailerId: uuid().optional(),
    ...pagination(),
  })
  .strict();

const assignBody = z.object({ vendorId: uuid() }).strict();
const statusBody = z.object({ status: z.enum(['DISPATCHED', 'DELIVERED']) }).strict();
const cancelBody = optionalBody({ reason: multiLine(500).optional() });
const paymentBody = z
  .object({
    /** Minor units. */
    amount: money(1),
    /** The payer's or bank's reference; unique per tenant, so a repeated request records one payment. */
    reference: singleLine(200),
  })
  .strict();

type OrderRow = {
  id: string;
  retailerId: string;
  vendorId: string | null;
  items: unknown;
  total: number;
  deliveryRegion: string;
  status: string;
  statusReason: string | null;
  clientOrderRef: string | null;
  dispatchedAt: Date | null;
  deliveredAt: Date | null;
  dueDate: Date | null;
  paidAt: Date | null;
  createdAt: Date;
};

function presentOrder(order: OrderRow) {
  const { id, retailerId, vendorId, items, total, deliveryRegion, status, statusReason, clientOrderRef } = order;
  const { dispatchedAt, deliveredAt, dueDate, paidAt, createdAt } = order;
  return {
    id,
    retailerId,
    vendorId,
    items,
    total,
    deliveryRegion,
    status,
    statusReason,
    clientOrderRef,
    dispatchedAt,
    deliveredAt,
    dueDate,
    paidAt,
    createdAt,
  };
}

const FULFILMENT_FROM: Record<'DISPATCHED' | 'DELIVERED', ReadonlyArray<OrderState['status']>> = {
  DISPATCHED: ['ASSIGNED'],
  DELIVERED: ['ASSIGNED', 'DISPATCHED'],
};

/**
 * Asks the order's workflow to record a fulfilment step, after checking it can take it (a
 * signal cannot answer, so a step the order cannot take now is refused here with 409).
 */
export async function requestFulfilment(
  handle: WorkflowHandle<typeof orderRoutingWorkflow>,
  status: 'DISPATCHED' | 'DELIVERED',
  actor: string,
): Promise<{ orderId: string; requested: string; status: string }> {
  const state = await handle.query(getOrderStateQuery);
  if (!FULFILMENT_FROM[status].includes(state.status)) {
    throw conflict('INVALID_TRANSITION', `An order that is ${state.status} cannot become ${status}`, {
      status: state.status,
      requested: status,
    });
  }
  await handle.signal(orderStatusSignal, { status, actor });
  return { orderId: state.orderId, requested: status, status: state.status };
}

/** 202 with the order as `Location`: for a request the workflow took but has not carried out yet. */
const accepted = (res: Response, orderId: string) => res.status(202).location(`/api/v1/orders/${orderId}`);

/**
 * Orders and their routing workflows, scoped to the caller's tenant. Any role creates and reads
 * orders; assigning, fulfilment steps, cancelling and recording payments need operator or above.
 */
export function createOrdersRouter({ prisma, temporal, taskQueue, fairnessWeights }: OrdersRouterDeps): Router {
  const router = Router();

  async function findOrder(tenantId: string, orderId: string) {
    const order = await prisma.order.findFirst({ where: { id: orderId, tenantId } });
    if (!order) throw notFound('Order', { orderId });
    return order;
  }

  /** Runs `action` on the order's workflow; a workflow that has closed answers 409 ORDER_CLOSED. */
  async function onWorkflow<T>(
    tenantId: string,
    orderId: string,
    action: (handle: WorkflowHandle<typeof orderRoutingWorkflow>) => Promise<T>,
  ): Promise<T> {
    const order = await findOrder(tenantId, orderId);
    const handle = temporal.workflow.getHandle<typeof orderRoutingWorkflow>(orderRoutingId(tenantId, orderId));
    return whileOpen(
      () => action(handle),
      () => orderClosed(order.status),
    );
  }

  router.post('/orders', async (req, res) => {
    parse(noQuery, req.query);
    const idempotencyKey = parse(optionalIdempotencyKeyHeader, req.get('Idempotency-Key'));
    const body = parse(createOrderBody, req.body);
    const { tenantId, subject } = principalOf(req);
    const { order, replayed, workflowId, runId } = await placeOrder(
      { prisma, temporal, taskQueue, fairnessWeights },
      { tenantId, actor: subject, idempotencyKey },
      body,
    );
    res
      .status(202)
      .location(`/api/v1/orders/${order.id}`)
      .set(replayed ? { 'Idempotent-Replayed': 'true' } : {})
      .json({ orderId: order.id, workflowId, runId, status: order.status });
  });

  router.get('/orders', async (req, res) => {
    const { status, retailerId, limit, offset } = parse(listQuery, req.query);
    const orders = await prisma.order.findMany({
      where: {
        tenantId: principalOf(req).tenantId,
        ...(status ? { status } : {}),
        ...(retailerId ? { retailerId } : {}),
      },
      orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
      take: limit,
      skip: offset,
    });
    res.json({ orders: orders.map(presentOrder) });
  });

  router.get('/orders/:orderId', async (req, res) => {
    const { orderId } = parse(orderParams, req.params);
    parse(noQuery, req.query);
    const { tenantId } = principalOf(req);
    const order = await findOrder(tenantId, orderId);
    const workflowId = orderRoutingId(tenantId, orderId);
    const routing = await temporal.workflow
      .getHandle(workflowId)
      .query(getOrderStateQuery)
      .catch((error: unknown) => {
        // The order row outlives its workflow's history (retention); it still answers.
        if (error instanceof WorkflowNotFoundError) return null;
        throw error;
      });
    res.json({ ...presentOrder(order), workflowId, routing });
  });

  router.post('/orders/:orderId/assign', requireRole('operator'), async (req, res) => {
    const { orderId } = parse(orderParams, req.params);
    parse(noQuery, req.query);
    const { vendorId } = parse(assignBody, req.body);
    const { tenantId, subject } = principalOf(req);
    const vendor = await prisma.vendor.findFirst({ where: { id: vendorId, tenantId } });
    if (!vendor) throw new AppError(422, 'UNKNOWN_VENDOR', 'No such vendor in this tenant', { vendorId });
    const assigned = await onWorkflow(tenantId, orderId, (handle) =>
      handle.executeUpdate(assignVendorManuallyUpdate, { args: [{ vendorId, actor: subject }] }),
    );
    // Taken, but not yet recorded (the database is being retried): the order's state tells the outcome.
    if (isPending(assigned)) {
      accepted(res, orderId).json({ orderId, status: 'pending', vendorId });
      return;
    }
    res.json({ orderId, status: 'ASSIGNED', ...assigned });
  });

  router.post('/orders/:orderId/status', requireRole('operator'), async (req, res) => {
    const { orderId } = parse(orderParams, req.params);
    parse(noQuery, req.query);
    const { status } = parse(statusBody, req.body);
    const { tenantId, subject } = principalOf(req);
    const requested = await onWorkflow(tenantId, orderId, (handle) => requestFulfilment(handle, status, subject));
    res.status(202).json(requested);
  });

  router.post('/orders/:orderId/cancel', requireRole('operator'), async (req, res) => {
    const { orderId } = parse(orderParams, req.params);
    parse(noQuery, req.query);
    const body = parse(cancelBody, req.body);
    const { tenantId, subject } = principalOf(req);
    const reason = body?.reason ?? `cancelled by ${subject}`;
    const cancelled = await onWorkflow(tenantId, orderId, (handle) =>
      handle.executeUpdate(cancelOrderUpdate, { args: [{ reason, actor: subject }] }),
    );
    // `pending`: taken, and carried out once the database answers; the order's state tells when.
    (isPending(cancelled) ? accepted(res, orderId) : res).json({ orderId, ...cancelled, reason });
  });

  router.post('/orders/:orderId/payments', requireRole('operator'), async (req, res) => {
    const { orderId } = parse(orderParams, req.params);
    parse(noQuery, req.query);
    const body = parse(paymentBody, req.body);
    const { tenantId, subject } = principalOf(req);
    const { payment, replayed, paidSoFar } = await recordPayment(
      { prisma, temporal, taskQueue, fairnessWeights },
      { tenantId, actor: subject, orderId },
      body,
    );
    const { id, amount, reference, receivedAt } = payment;
    res.status(replayed ? 200 : 201).json({ id, orderId, amount, reference, receivedAt, paidSoFar });
  });

  router.post('/orders/:orderId/reminders/send-now', requireRole('operator'), async (req, res) => {
    const { orderId } = parse(orderParams, req.params);
    parse(noQuery, req.query);
    // Sending now always needs a key: it is what keeps a double click from sending twice.
    const idempotencyKey = requiredIdempotencyKey(req.get('Idempotency-Key'));
    const { kind } = parse(sendNowBody, req.body);
    const { tenantId, subject } = principalOf(req);
    const sent = await sendPaymentReminderNow(
      { prisma, temporal, taskQueue, fairnessWeights },
      { tenantId, actor: subject, idempotencyKey },
      orderId,
      kind,
    );
    res.status(202).json(sent);
  });

  return router;
}

const orderTag = 'Orders';

const orderAnswer = z.object({
  id: z.uuid(),
  retailerId: z.uuid(),
  vendorId: z.uuid().nullable(),
  items: z.array(item),
  total: z.number().int(),
  deliveryRegion: z.string(),
  status: z.enum(OrderStatus),
  statusReason: z.string().nullable(),
  clientOrderRef: z.string().nullable(),
  dispatchedAt: z.iso.datetime().nullable(),
  deliveredAt: z.iso.datetime().nullable(),
  dueDate: z.iso.datetime().nullable(),
  paidAt: z.iso.datetime().nullable(),
  createdAt: z.iso.datetime(),
});

export const ordersRoutes: RouteSpec[] = [
  {
    method: 'post',
    path: '/api/v1/orders',
    operationId: 'placeOrder',
    summary: 'Place an order: its routing workflow offers it to vendors',
    description: 'An Idempotency-Key makes a repeat answer the same order (Idempotent-Replayed).',
    tag: orderTag,
    auth: 'member',
    query: noQuery,
    headers: z.object({ 'Idempotency-Key': optionalIdempotencyKeyHeader }),
    body: createOrderBody,
    responses: {
      202: {
        description: 'Placed, with Location',
        schema: z.object({ orderId: z.uuid(), workflowId: z.string(), runId: z.string(), status: z.enum(OrderStatus) }),
      },
      422: { description: 'UNKNOWN_RETAILER, or IDEMPOTENCY_KEY_REUSED with another body' },
      423: flowPaused('orders'),
    },
  },
  {
    method: 'get',
    path: '/api/v1/orders',
    operationId: 'listOrders',
    summary: "The tenant's orders, newest first",
    tag: orderTag,
    auth: 'member',
    query: listQuery,
    responses: { 200: { description: 'A page of orders', schema: z.object({ orders: z.array(orderAnswer) }) } },
  },
  {
    method: 'get',
    path: '/api/v1/orders/:orderId',
    operationId: 'getOrder',
    summary: 'One order with its routing state (null once its history has passed retention)',
    tag: orderTag,
    auth: 'member',
    params: orderParams,
    query: noQuery,
    responses: {
      200: {
        description: 'The order',
        schema: orderAnswer.extend({ workflowId: z.string(), routing: z.unknown().nullable() }),
      },
    },
  },
  {
    method: 'post',
    path: '/api/v1/orders/:orderId/assign',
    operationId: 'assignOrderVendor',
    summary: 'Assign a vendor by hand to an order awaiting assignment',
    tag: orderTag,
    auth: 'operator',
    params: orderParams,
    query: noQuery,
    body: assignBody,
    responses: {
      200: { description: 'Assigned' },
      202: { description: 'Taken, still being recorded (status pending)' },
      409: { description: 'NOT_AWAITING_ASSIGNMENT, or ORDER_CLOSED' },
      422: { description: 'UNKNOWN_VENDOR' },
    },
  },
  {
    method: 'post',
    path: '/api/v1/orders/:orderId/status',
    operationId: 'reportOrderFulfilment',
    summary: 'Record a fulfilment step (DISPATCHED, DELIVERED) on behalf of the vendor',
    tag: orderTag,
    auth: 'operator',
    params: orderParams,
    query: noQuery,
    body: statusBody,
    responses: {
      202: { description: 'Requested' },
      409: { description: 'INVALID_TRANSITION, or ORDER_CLOSED' },
    },
  },
  {
    method: 'post',
    path: '/api/v1/orders/:orderId/cancel',
    operationId: 'cancelOrder',
    summary: 'Cancel an order',
    tag: orderTag,
    auth: 'operator',
    params: orderParams,
    query: noQuery,
    body: cancelBody,
    responses: {
      200: { description: 'Cancelled' },
      202: { description: 'Taken, still being carried out (status pending)' },
      409: { description: 'The order can no longer be cancelled, or ORDER_CLOSED' },
    },
  },
  {
    method: 'post',
    path: '/api/v1/orders/:orderId/payments',
    operationId: 'recordOrderPayment',
    summary: 'Record a payment against a delivered order',
    description: 'The reference is unique per tenant: a repeat answers 200 with the payment already recorded.',
    tag: orderTag,
    auth: 'operator',
    params: orderParams,
    query: noQuery,
    body: paymentBody,
    responses: {
      200: { description: 'Already recorded under this reference' },
      201: { description: 'Recorded' },
      409: { description: 'NOT_PAYABLE, PAYMENT_REFERENCE_REUSED or PAYMENT_IN_PROGRESS' },
      422: { description: 'AMOUNT_EXCEEDS_BALANCE' },
    },
  },
  {
    method: 'post',
    path: '/api/v1/orders/:orderId/reminders/send-now',
    operationId: 'sendOrderPaymentReminderNow',
    summary: 'Send a payment reminder now instead of waiting for its timer',
    tag: orderTag,
    auth: 'operator',
    params: orderParams,
    query: noQuery,
    headers: requiredIdempotencyKeyHeaders,
    body: sendNowBody,
    responses: {
      202: { description: 'Sending' },
      409: { description: 'NO_PAYMENT_DUE' },
      422: { description: 'IDEMPOTENCY_KEY_REUSED' },
    },
  },
];
