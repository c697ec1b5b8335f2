import { createHash, randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { writeAudit } from '../../activities/audit';
import { startFanOutsAfterCommit } from '../../activities/event-publishing';
import { recordPaymentReceived } from '../../activities/flow-events';
import { orderTotal, type OrderItem } from '../../domain/orders';
import { paymentRefusal, repeatedReference } from '../../domain/payments';
import { isUniqueViolation, type PrismaClient } from '../../lib/db';
import { orderRoutingWorkflow } from '../../workflows/order-routing';
import {
  orderRoutingId,
  orderRoutingStartOptions,
  paymentReceivedSignal,
} from '../../workflows/order-routing.contract';
import { AppError, conflict, notFound } from '../errors';
import { assertFlowAccepting } from './flow-pauses';
import type { FairnessWeights, TenantFairness } from '../../domain/tenant-fairness';
import { loadTenantFairness, tenantFairnessLookup } from '../../lib/tenant-fairness';

/** What the order services use: the tenant's data, and the workflows that carry orders out. */
export interface OrderServiceDeps {
  prisma: PrismaClient;
  temporal: Client;
  taskQueue: string;
  /** FAIRNESS_WEIGHTS (config.worker.fairnessWeights); the defaults when absent. */
  fairnessWeights?: FairnessWeights;
}

/** Who asks: the caller's tenant and identity (the audit log's actor). */
export interface OrderCaller {
  tenantId: string;
  actor: string;
}

/** An order as a retailer's system asks for it. */
export interface OrderRequest {
  retailerId: string;
  items: OrderItem[];
  deliveryRegion: string;
  clientOrderRef?: string;
}

/** A stable fingerprint of what was asked, so a reused Idempotency-Key with another body is caught. */
function requestHash(request: OrderRequest): string {
  const canonical = JSON.stringify({
    retailerId: request.retailerId,
    items: request.items.map(({ sku, name, category, quantity, unitPrice }) => [
      sku,
      name,
      category,
      quantity,
      unitPrice,
    ]),
    deliveryRegion: request.deliveryRegion,
    clientOrderRef: request.clientOrderRef ?? null,
  });
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * Places an order: records it once and starts its routing workflow, however often it is asked
 * for. A repeat with the same Idempotency-Key (and the same body) or the same `clientOrderRef`
 * finds the order recorded first (`replayed`) and the workflow started for it. Throws 422
 * IDEMPOTENCY_KEY_REUSED for a known key with another body, 422 UNKNOWN_RETAILER for a retailer
 * outside the tenant.
 */
export async function placeOrder(
  { prisma, temporal, taskQueue, fairnessWeights }: OrderServiceDeps,
  { tenantId, actor, idempotencyKey }: OrderCaller & { idempotencyKey?: string },
  request: OrderRequest,
) {
  await assertFlowAccepting(prisma, tenantId, 'orders');
  const { order, replayed } = await recordOrder(prisma, { tenantId, actor, idempotencyKey }, request);
  // Started on every request, so an order whose first request died before its workflow began still gets one.
  const fairness = await loadTenantFairness(prisma, tenantId, fairnessWeights);
  const routing = await startRouting(temporal, taskQueue, tenantId, order.id, fairness);
  return { order, replayed, ...routing };
}

/** Starts the order's workflow, or finds the one already started for it. */
async function startRouting(
  temporal: Client,
  taskQueue: string,
  tenantId: string,
  orderId: string,
  fairness: TenantFairness,
): Promise<{ workflowId: string; runId: string }> {
  const startOptions = orderRoutingStartOptions(tenantId, orderId, fairness);
  const { workflowId } = startOptions;
  try {
    const handle = await temporal.workflow.start(orderRoutingWorkflow, {
      taskQueue,
      args: [{ tenantId, orderId }],
      ...startOptions,
    });
    return { workflowId, runId: handle.firstExecutionRunId };
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    const description = await temporal.workflow.getHandle(workflowId).describe();
    return { workflowId, runId: description.runId };
  }
}

/** Records an order once: a repeat finds the order recorded first, `replayed`. */
async function recordOrder(
  prisma: PrismaClient,
  { tenantId, actor, idempotencyKey }: OrderCaller & { idempotencyKey?: string },
  request: OrderRequest,
) {
  const hash = requestHash(request);

  const findExisting = async () => {
    const byKey = idempotencyKey
      ? await prisma.order.findUnique({ where: { tenantId_idempotencyKey: { tenantId, idempotencyKey } } })
      : null;
    if (byKey && byKey.requestHash !== hash) {
      throw new AppError(422, 'IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used for a different order request', {
        orderId: byKey.id,
      });
    }
    if (byKey || !request.clientOrderRef) return byKey;
    return prisma.order.findUnique({
      where: { tenantId_clientOrderRef: { tenantId, clientOrderRef: request.clientOrderRef } },
    });
  };

  const existing = await findExisting();
  if (existing) return { order: existing, replayed: true };
  const retailer = await prisma.retailer.findFirst({ where: { id: request.retailerId, tenantId } });
  if (!retailer) {
    throw new AppError(422, 'UNKNOWN_RETAILER', 'No such retailer in this tenant', { retailerId: request.retailerId });
  }
  try {
    const id = randomUUID();
    const total = orderTotal(request.items);
    // A batch, not an interactive transaction: concurrent repeats then never queue for a pooled
    // connection while holding one, they race on the unique insert.
    const [order] = await prisma.$transaction([
      prisma.order.create({
        data: {
          id,
          tenantId,
          retailerId: request.retailerId,
          items: request.items,
          total,
          deliveryRegion: request.deliveryRegion,
          clientOrderRef: request.clientOrderRef ?? null,
          idempotencyKey: idempotencyKey ?? null,
          requestHash: hash,
        },
      }),
      writeAudit(prisma, {
        tenantId,
        actor,
        action: 'order.created',
        entityType: 'Order',
        entityId: id,
        details: { total, retailerId: request.retailerId },
      }),
    ]);
    return { order, replayed: false };
  } catch (error) {
    // A concurrent request with the same key or reference won the insert: answer its order.
    if (!isUniqueViolation(error)) throw error;
    const winner = await findExisting();
    if (!winner) throw error;
    return { order: winner, replayed: true };
  }
}

/**
 * Records a payment against an order of the caller's tenant, with its `payment.received` event, and
 * tells its workflow. A repeat with the same reference, order and amount is answered with the
 * payment recorded first (`replayed`).
 * Throws 404 NOT_FOUND for an order outside the tenant, 409 PAYMENT_REFERENCE_REUSED, NOT_PAYABLE
 * or PAYMENT_IN_PROGRESS (a concurrent first request with the same reference), 422
 * AMOUNT_EXCEEDS_BALANCE.
 */
export async function recordPayment(
  {
    prisma,
    temporal,
    taskQueue,
    fairnessWeights,
  }: Pick<OrderServiceDeps, 'prisma' | 'temporal' | 'fairnessWeights'> & { taskQueue?: string },
  { tenantId, actor, orderId }: OrderCaller & { orderId: string },
  { amount, reference }: { amount: number; reference: string },
) {
  const own = await prisma.order.findFirst({ where: { id: orderId, tenantId }, select: { id: true } });
  if (!own) throw notFound('Order', { orderId });
  const recorded = await prisma
    .$transaction(async (tx) => {
      // Locks the order, so two payments at once cannot both fit under the balance.
      await tx.$queryRaw`SELECT id FROM "Order" WHERE id = ${orderId} FOR UPDATE`;
      const order = await tx.order.findUniqueOrThrow({ where: { id: orderId } });
      const earlier = await tx.payment.findUnique({ where: { tenantId_reference: { tenantId, reference } } });
      if (earlier) {
        if (repeatedReference(earlier, { orderId, amount }) === 'reused') {
          throw conflict('PAYMENT_REFERENCE_REUSED', 'This reference was already used for another payment', {
            paymentId: earlier.id,
          });
        }
        return { payment: earlier, replayed: true };
      }
      const paid = await tx.payment.aggregate({ where: { orderId }, _sum: { amount: true } });
      const refusal = paymentRefusal(order, paid._sum.amount ?? 0, amount);
      if (refusal?.code === 'NOT_PAYABLE') throw conflict(refusal.code, refusal.message, { status: refusal.status });
      if (refusal?.code === 'AMOUNT_EXCEEDS_BALANCE') {
        throw new AppError(422, refusal.code, refusal.message, { balance: refusal.balance });
      }
      const payment = await tx.payment.create({ data: { tenantId, orderId, amount, reference, recordedBy: actor } });
      await writeAudit(tx, {
        tenantId,
        actor,
        action: 'payment.recorded',
        entityType: 'Order',
        entityId: orderId,
        details: { paymentId: payment.id, amount, reference },
      });
      const eventId = await recordPaymentReceived(tx, { tenantId, paymentId: payment.id });
      return { payment, replayed: false, eventId };
    })
    .catch((error: unknown) => {
      // Two requests with one new reference: the loser finds the winner's payment on a retry.
      if (isUniqueViolation(error)) throw conflict('PAYMENT_IN_PROGRESS', 'This payment is being recorded; retry');
      throw error;
    });

  const { payment, replayed } = recorded;
  // Without the task queue (a caller that starts no workflows) the outbox sweep starts the fan-out.
  if ('eventId' in recorded && taskQueue) {
    await startFanOutsAfterCommit(
      { client: temporal, taskQueue, fairnessOf: tenantFairnessLookup(prisma, fairnessWeights) },
      tenantId,
      [recorded.eventId],
    );
  }
  // Signalled on a replay too: the workflow ignores a payment it has, and learns of one it missed.
  // A replay after the order was paid finds the workflow finished; the Payment row is the answer.
  await temporal.workflow
    .getHandle(orderRoutingId(tenantId, orderId))
    .signal(paymentReceivedSignal, { paymentId: payment.id, amount: payment.amount })
    .catch((error: unknown) => {
      if (!(replayed && error instanceof WorkflowNotFoundError)) throw error;
    });
  const paidSoFar = await prisma.payment.aggregate({ where: { orderId }, _sum: { amount: true } });
  return { payment, replayed, paidSoFar: paidSoFar._sum.amount ?? 0 };
}
