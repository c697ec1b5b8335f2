import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Prisma, PrismaClient } from '../lib/db';
import { FailureType } from '../workflows/errors';
import {
  webhookDeliveryId,
  webhookDeliveryStartOptions,
  type WebhookDeliveryInput,
} from '../workflows/webhook-delivery.contract';
import { insertOnce } from './insert-once';
import { tenantFairnessLookup, type TenantFairnessLookup } from '../lib/tenant-fairness';

/**
 * How an event reaches a tenant's webhooks: which endpoints want it, and the one delivery (a row
 * and a workflow) per endpoint and event. Called by the event fan-out and the endpoints' test.
 */

export interface WebhookDeliveryDeps {
  prisma: PrismaClient;
  temporal: { client: Client; taskQueue: string; fairnessOf?: TenantFairnessLookup };
}

/** The subscription that receives every event type. */
export const ALL_EVENTS = '*';

/** The ACTIVE endpoints of a tenant subscribed to `eventType` (or to every type with `"*"`), oldest first. */
export function listSubscribedEndpoints(
  db: PrismaClient | Prisma.TransactionClient,
  tenantId: string,
  eventType: string,
): Promise<Array<{ id: string }>> {
  return db.webhookEndpoint.findMany({
    where: { tenantId, status: 'ACTIVE', events: { hasSome: [eventType, ALL_EVENTS] } },
    select: { id: true },
    orderBy: { createdAt: 'asc' },
  });
}

/**
 * Records a SKIPPED delivery of the event for each DISABLED endpoint of the tenant subscribed to
 * its type, once per (endpoint, event), without starting anything: nothing is sent, but after the
 * endpoint is enabled again its admin can replay what it missed
 * (`POST /webhooks/deliveries/:id/replay`).
 *
 * @returns how many rows this call created.
 */
export async function recordSkippedDeliveries(
  prisma: PrismaClient,
  event: { tenantId: string; eventId: string; eventType: string },
  now: Date = new Date(),
): Promise<number> {
  const { tenantId, eventId, eventType } = event;
  const disabled = await prisma.webhookEndpoint.findMany({
    where: { tenantId, status: 'DISABLED', events: { hasSome: [eventType, ALL_EVENTS] } },
    select: { id: true },
  });
  if (disabled.length === 0) return 0;
  const created = await prisma.webhookDelivery.createMany({
    data: disabled.map((endpoint) => ({
      id: randomUUID(),
      tenantId,
      endpointId: endpoint.id,
      eventId,
      eventType,
      workflowId: webhookDeliveryId(tenantId, endpoint.id, eventId),
      status: 'SKIPPED' as const,
      lastError: 'The endpoint was disabled when the event was published; replay it once enabled',
      completedAt: now,
    })),
    skipDuplicates: true,
  });
  return created.count;
}

export interface WebhookDeliveryRequest {
  tenantId: string;
  endpointId: string;
  /** The OutboxEvent row's ID. */
  eventId: string;
}

export interface EnqueuedWebhookDelivery {
  deliveryId: string;
  workflowId: string;
  /** Whether this call created the delivery row (false: an earlier call or a concurrent one did). */
  created: boolean;
  /** Whether a run is open or was started now; false once the delivery has settled. */
  started: boolean;
}

/**
 * Creates the WebhookDelivery row of (endpoint, event) once, and starts its workflow
 * `webhook:{tenantId}:{endpointId}:{eventId}` unless the delivery has already settled. Safe to
 * repeat and to race: the row is unique per (endpoint, event), and the start joins an open run and
 * never reruns a closed one. A settled row is not started again even after Temporal has forgotten
 * its run, so an event is delivered to an endpoint once (a replay is the only way to send it again).
 *
 * @throws ApplicationFailure `NotFound` (non-retryable) when the endpoint or the event is not the tenant's.
 */
export async function enqueueWebhookDelivery(
  deps: WebhookDeliveryDeps,
  { tenantId, endpointId, eventId }: WebhookDeliveryRequest,
): Promise<EnqueuedWebhookDelivery> {
  const { prisma, temporal } = deps;
  const workflowId = webhookDeliveryId(tenantId, endpointId, eventId);
  let created = false;
  const delivery = await insertOnce(
    () => prisma.webhookDelivery.findUnique({ where: { endpointId_eventId: { endpointId, eventId } } }),
    async () => {
      const [endpoint, event] = await Promise.all([
        prisma.webhookEndpoint.findFirst({ where: { id: endpointId, tenantId }, select: { id: true } }),
        prisma.outboxEvent.findFirst({ where: { id: eventId, tenantId }, select: { type: true } }),
      ]);
      if (!endpoint || !event) throw webhookDeliveryNotFound(endpoint ? 'event' : 'endpoint');
      const row = await prisma.webhookDelivery.create({
        data: { id: randomUUID(), tenantId, endpointId, eventId, eventType: event.type, workflowId },
      });
      created = true;
      return row;
    },
  );
  if (delivery.tenantId !== tenantId) throw webhookDeliveryNotFound('endpoint');
  if (delivery.status !== 'PENDING') return { deliveryId: delivery.id, workflowId, created, started: false };

  const input: WebhookDeliveryInput = { tenantId, deliveryId: delivery.id };
  try {
    await temporal.client.workflow.start('webhookDeliveryWorkflow', {
      taskQueue: temporal.taskQueue,
      args: [input],
      ...webhookDeliveryStartOptions(
        tenantId,
        endpointId,
        eventId,
        await (temporal.fairnessOf ?? tenantFairnessLookup(prisma))(tenantId),
      ),
    });
  } catch (error) {
    // REJECT_DUPLICATE: the run already closed, and its outcome is on the row.
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    return { deliveryId: delivery.id, workflowId, created, started: false };
  }
  return { deliveryId: delivery.id, workflowId, created, started: true };
}

/** The endpoint or the event of a delivery is not the tenant's (or no longer exists): no retry finds it. */
function webhookDeliveryNotFound(missing: 'endpoint' | 'event'): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`The webhook ${missing} was not found`, FailureType.NotFound);
}
