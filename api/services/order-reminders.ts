import type { Client } from '@temporalio/client';
import { writeAudit } from '../../activities/audit';
import {
  enqueueNotification,
  IdempotencyConflict,
  requestedNotificationKey,
  startNotificationWorkflow,
} from '../../activities/notification-requests';
import { orderReference } from '../../domain/order-messages';
import type { ReminderKind } from '../../domain/payment-reminders';
import type { PrismaClient } from '../../lib/db';
import { notificationWorkflowId } from '../../workflows/notification.contract';
import { AppError, conflict, notFound } from '../errors';
import type { FairnessWeights } from '../../domain/tenant-fairness';
import { tenantFairnessLookup } from '../../lib/tenant-fairness';
import { assertFlowAccepting } from './flow-pauses';

/** What sending a payment reminder on demand uses: the tenant's rows and the notification workflows. */
export interface OrderReminderDeps {
  prisma: PrismaClient;
  temporal: Client;
  taskQueue: string;
  /** FAIRNESS_WEIGHTS (config.worker.fairnessWeights); the defaults when absent. */
  fairnessWeights?: FairnessWeights;
}

type NotificationRow = NonNullable<Awaited<ReturnType<PrismaClient['notification']['findUnique']>>>;

/** The 422 for an Idempotency-Key that already sent a reminder of another kind. */
function keyReused(notificationId: string, kind: unknown): AppError {
  return new AppError(422, 'IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used for another kind of reminder', {
    notificationId,
    kind,
  });
}

/**
 * Sends one of an order's payment reminders now (an on-demand payment reminder), through the
 * notification ledger with the template order routing's own reminders use. Only a DELIVERED order
 * with money still due can take one. The ledger key holds the order and the request's
 * Idempotency-Key (not the kind), so a repeat (a double click, a client's retry) finds the
 * notification of the first request and sends nothing more. A repeat is judged only on what the
 * caller sent, the kind: the amount due, the due date and the names are read from the order at the
 * first request, so a retry after a payment or a rename still answers that first notification. A
 * FINAL_NOTICE sent this way is a message only: flagging the retailer stays with the order's own
 * schedule.
 *
 * @throws 404 NOT_FOUND for an order outside the tenant, 409 NO_PAYMENT_DUE for an order that is
 *   not DELIVERED or is paid (unless the key already sent a reminder for it), 422
 *   IDEMPOTENCY_KEY_REUSED for the key with another kind, 423 FLOW_PAUSED while the tenant's
 *   notifications are paused.
 */
export async function sendPaymentReminderNow(
  { prisma, temporal, taskQueue, fairnessWeights }: OrderReminderDeps,
  { tenantId, actor, idempotencyKey }: { tenantId: string; actor: string; idempotencyKey: string },
  orderId: string,
  kind: ReminderKind,
) {
  const order = await prisma.order.findFirst({
    where: { id: orderId, tenantId },
    include: { retailer: true, tenant: { select: { name: true, tier: true } } },
  });
  if (!order) throw notFound('Order', { orderId });
  // A repeat may start the workflow its first request left unstarted, so repeats wait out a pause too.
  await assertFlowAccepting(prisma, tenantId, 'notifications');
  const notifications = { client: temporal, taskQueue, fairnessOf: tenantFairnessLookup(prisma, fairnessWeights) };
  // A Holdfast message about the order, keyed apart from the tenant's own API notifications.
  const key = `order:${orderId}:reminder-now:${idempotencyKey}`;
  const ledgerKey = requestedNotificationKey(tenantId, 'FLOW', key);

  /** Answers a repeat from the notification its key already made: same kind, the same notification; else 422. */
  const repeatOf = async (row: NotificationRow) => {
    const sent = (row.data ?? {}) as { kind?: unknown; amountDue?: unknown };
    if (sent.kind !== kind) throw keyReused(row.id, sent.kind);
    // Joins the workflow, or starts it if the first request ended before it could.
    if (row.status === 'PENDING' || row.status === 'SCHEDULED') {
      await startNotificationWorkflow(
        notifications,
        {
          tenantId,
          notificationId: row.id,
          priority: row.priority,
          channel: row.channel,
          ...(row.sendAt ? { sendAt: row.sendAt.toISOString() } : {}),
        },
        new Date(),
        { tier: order.tenant.tier, weights: fairnessWeights },
        { template: row.template },
      );
    }
    const amountDue = typeof sent.amountDue === 'number' ? sent.amountDue : null;
    return {
      notificationId: row.id,
      workflowId: row.workflowId ?? notificationWorkflowId(tenantId, row.id),
      amountDue,
    };
  };
  const findPrevious = () => prisma.notification.findUnique({ where: { idempotencyKey: ledgerKey } });

  let answer: { notificationId: string; workflowId: string; amountDue: number | null; created: boolean };
  const previous = await findPrevious();
  if (previous) {
    answer = { ...(await repeatOf(previous)), created: false };
  } else {
    const paid = await prisma.payment.aggregate({ where: { orderId }, _sum: { amount: true } });
    const amountDue = order.total - (paid._sum.amount ?? 0);
    if (order.status !== 'DELIVERED' || !order.dueDate || amountDue <= 0) {
      throw conflict('NO_PAYMENT_DUE', `An order that is ${order.status} has no payment to remind of`, {
        status: order.status,
      });
    }
    const { retailer } = order;
    try {
      const enqueued = await enqueueNotification(
        { prisma, temporal: notifications },
        {
          tenantId,
          source: 'FLOW',
          key,
          channel: retailer.channel,
          to: retailer.contact,
          template: 'payment.reminder',
          data: {
            tenantName: order.tenant.name,
            retailerName: retailer.name,
            orderRef: orderReference(orderId),
            kind,
            amountDue,
            dueDate: order.dueDate.toISOString(),
          },
          priority: 2,
        },
      );
      answer = { ...enqueued, amountDue };
    } catch (error) {
      // A concurrent repeat recorded its notification first, with data read a moment apart.
      if (!(error instanceof IdempotencyConflict)) throw error;
      const winner = await findPrevious();
      if (!winner) throw error;
      answer = { ...(await repeatOf(winner)), created: false };
    }
  }
  const { notificationId, workflowId, amountDue, created } = answer;
  await writeAudit(prisma, {
    tenantId,
    actor,
    action: 'order.reminder-sent-now',
    entityType: 'Order',
    entityId: orderId,
    details: { kind, amountDue, notificationId },
    dedupKey: `order:${orderId}:reminder-now:${notificationId}`,
  });
  return { orderId, kind, amountDue, notificationId, workflowId, created };
}
