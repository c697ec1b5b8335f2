import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { writeAudit } from '../../activities/audit';
import { enqueueWebhookDelivery } from '../../activities/webhook-deliveries';
import { endpointSecretBinding } from '../../activities/webhooks';
import { checkWebhookTarget } from '../../lib/webhook-targets';
import type { Config } from '../../lib/config';
import { isUniqueViolation, type PrismaClient } from '../../lib/db';
import { createSecretBox } from '../../lib/secret-box';
import { generateWebhookSecret } from '../../lib/webhook-signature';
import {
  webhookDeliveryId,
  webhookReplayStartOptions,
  type WebhookDeliveryInput,
} from '../../workflows/webhook-delivery.contract';
import { AppError, conflict, notFound } from '../errors';
import type { FairnessWeights } from '../../domain/tenant-fairness';
import { loadTenantFairness } from '../../lib/tenant-fairness';

/**
 * The webhook registry and its deliveries, as the API's routes call them. Signing secrets are
 * generated here, sealed before they are stored, and returned in clear only by
 * {@link createWebhookEndpoint} and {@link rotateWebhookSecret}.
 */

export interface WebhookServiceDeps {
  prisma: PrismaClient;
  temporal: Client;
  taskQueue: string;
  /** FAIRNESS_WEIGHTS (config.worker.fairnessWeights); the defaults when absent. */
  fairnessWeights?: FairnessWeights;
  webhooks: Config['webhooks'];
}

/** The tenant and the admin asking, for scoping and the audit log. */
export interface WebhookCaller {
  tenantId: string;
  actor: string;
}

export interface EndpointFields {
  url: string;
  events: string[];
  description?: string | null;
}

type EndpointRow = Awaited<ReturnType<PrismaClient['webhookEndpoint']['findFirstOrThrow']>>;

/** An endpoint as the API shows it: never its secret. */
export function presentEndpoint(endpoint: EndpointRow, now = new Date()) {
  const { id, url, description, events, status, disabledReason, disabledAt, consecutiveFailures } = endpoint;
  const rotating = endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt > now;
  return {
    id,
    url,
    description,
    events,
    status,
    disabledReason,
    disabledAt,
    consecutiveFailures,
    previousSecretExpiresAt: rotating ? endpoint.previousSecretExpiresAt : null,
    createdAt: endpoint.createdAt,
    updatedAt: endpoint.updatedAt,
  };
}

/** The URL policy's refusal, as a 422 naming why (the address class, never the resolved address). */
async function requireAllowedTarget(deps: WebhookServiceDeps, url: string): Promise<void> {
  const refusal = await checkWebhookTarget(url, deps.webhooks.policy);
  if (!refusal) return;
  throw new AppError(422, 'WEBHOOK_URL_REFUSED', refusal.message, {
    reason: refusal.code,
    ...('addressClass' in refusal ? { addressClass: refusal.addressClass } : {}),
  });
}

async function findEndpoint(prisma: PrismaClient, tenantId: string, id: string): Promise<EndpointRow> {
  const endpoint = await prisma.webhookEndpoint.findFirst({ where: { id, tenantId } });
  if (!endpoint) throw notFound('Webhook endpoint');
  return endpoint;
}

/**
 * A tenant has one endpoint per URL, so a retried registration cannot make a second endpoint that
 * receives every event again under other webhook-ids: 409 WEBHOOK_URL_TAKEN names the one there is.
 */
async function urlTakenUnlessUnique<T>(
  prisma: PrismaClient,
  tenantId: string,
  url: string,
  write: () => Promise<T>,
): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    const existing = await prisma.webhookEndpoint.findFirst({ where: { tenantId, url }, select: { id: true } });
    throw conflict('WEBHOOK_URL_TAKEN', 'An endpoint with this URL is already registered', {
      endpointId: existing?.id ?? null,
    });
  }
}

/**
 * Endpoints per tenant: each event fans out one delivery per subscribed endpoint, so this bounds
 * an event's fan-out (with the rules' limit) and its workflow history.
 */
export const MAX_ENDPOINTS_PER_TENANT = 50;

/**
 * Registers an endpoint after checking its URL; answers the new secret once. Throws 409
 * ENDPOINT_LIMIT_REACHED when the tenant has {@link MAX_ENDPOINTS_PER_TENANT} endpoints already.
 */
export async function createWebhookEndpoint(deps: WebhookServiceDeps, caller: WebhookCaller, fields: EndpointFields) {
  await requireAllowedTarget(deps, fields.url);
  const id = randomUUID();
  const secret = generateWebhookSecret();
  const secretCiphertext = createSecretBox(deps.webhooks.secretKey).seal(secret, endpointSecretBinding(id));
  const endpoint = await urlTakenUnlessUnique(deps.prisma, caller.tenantId, fields.url, () =>
    deps.prisma.$transaction(async (tx) => {
      // Serialises the tenant's concurrent creates, so two of them cannot both take the last place.
      await tx.$queryRaw`SELECT id FROM "Tenant" WHERE id = ${caller.tenantId} FOR UPDATE`;
      if ((await tx.webhookEndpoint.count({ where: { tenantId: caller.tenantId } })) >= MAX_ENDPOINTS_PER_TENANT) {
        throw new AppError(
          409,
          'ENDPOINT_LIMIT_REACHED',
          `A tenant may have at most ${MAX_ENDPOINTS_PER_TENANT} webhook endpoints`,
          { limit: MAX_ENDPOINTS_PER_TENANT },
        );
      }
      const created = await tx.webhookEndpoint.create({
        data: {
          id,
          tenantId: caller.tenantId,
          url: fields.url,
          events: fields.events,
          description: fields.description ?? null,
          secretCiphertext,
        },
      });
      await writeAudit(tx, {
        tenantId: caller.tenantId,
        actor: caller.actor,
        action: 'webhook.created',
        entityType: 'WebhookEndpoint',
        entityId: id,
        details: { events: fields.events },
      });
      return created;
    }),
  );
  return { ...presentEndpoint(endpoint), secret };
}

export async function listWebhookEndpoints(
  prisma: PrismaClient,
  tenantId: string,
  page: { limit: number; offset: number },
) {
  const [endpoints, total] = await Promise.all([
    prisma.webhookEndpoint.findMany({
      where: { tenantId },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      take: page.limit,
      skip: page.offset,
    }),
    prisma.webhookEndpoint.count({ where: { tenantId } }),
  ]);
  return { endpoints: endpoints.map((endpoint) => presentEndpoint(endpoint)), total, ...page };
}

export async function getWebhookEndpoint(prisma: PrismaClient, tenantId: string, id: string) {
  return presentEndpoint(await findEndpoint(prisma, tenantId, id));
}

/**
 * Changes an endpoint's URL (checked again; 409 WEBHOOK_URL_TAKEN if another endpoint has it), events or description, or re-enables a DISABLED one
 * (`status: 'ACTIVE'`), which clears its failure count; `status: 'DISABLED'` pauses it.
 */
export async function updateWebhookEndpoint(
  deps: WebhookServiceDeps,
  caller: WebhookCaller,
  id: string,
  patch: Partial<EndpointFields> & { status?: 'ACTIVE' | 'DISABLED' },
) {
  const current = await findEndpoint(deps.prisma, caller.tenantId, id);
  if (patch.url !== undefined && patch.url !== current.url) await requireAllowedTarget(deps, patch.url);
  const statusChange =
    patch.status === 'ACTIVE' && current.status !== 'ACTIVE'
      ? { status: 'ACTIVE' as const, consecutiveFailures: 0, disabledReason: null, disabledAt: null }
      : patch.status === 'DISABLED' && current.status !== 'DISABLED'
        ? { status: 'DISABLED' as const, disabledReason: 'BY_ADMIN', disabledAt: new Date() }
        : {};
  const endpoint = await urlTakenUnlessUnique(deps.prisma, caller.tenantId, patch.url ?? current.url, () =>
    deps.prisma.$transaction(async (tx) => {
      const updated = await tx.webhookEndpoint.updateMany({
        where: { id, tenantId: caller.tenantId },
        data: {
          ...(patch.url !== undefined ? { url: patch.url } : {}),
          ...(patch.events !== undefined ? { events: patch.events } : {}),
          ...(patch.description !== undefined ? { description: patch.description } : {}),
          ...statusChange,
        },
      });
      if (updated.count === 0) throw notFound('Webhook endpoint');
      await writeAudit(tx, {
        tenantId: caller.tenantId,
        actor: caller.actor,
        action: 'webhook.updated',
        entityType: 'WebhookEndpoint',
        entityId: id,
        details: {
          fields: Object.keys(patch),
          ...(patch.events ? { events: patch.events } : {}),
          ...(patch.status ? { status: patch.status } : {}),
        },
      });
      return tx.webhookEndpoint.findUniqueOrThrow({ where: { id } });
    }),
  );
  return presentEndpoint(endpoint);
}

/** Deletes an endpoint and its delivery log; deliveries still retrying find it gone and end SKIPPED. */
export async function deleteWebhookEndpoint(prisma: PrismaClient, caller: WebhookCaller, id: string): Promise<void> {
  await prisma.$transaction(async (tx) => {
    const deleted = await tx.webhookEndpoint.deleteMany({ where: { id, tenantId: caller.tenantId } });
    if (deleted.count === 0) throw notFound('Webhook endpoint');
    await writeAudit(tx, {
      tenantId: caller.tenantId,
      actor: caller.actor,
      action: 'webhook.deleted',
      entityType: 'WebhookEndpoint',
      entityId: id,
    });
  });
}

/**
 * Replaces the signing secret and answers the new one once. The old secret keeps signing beside
 * it for the rotation window (WEBHOOK_ROTATION_WINDOW), so receivers can switch without losing
 * deliveries; a second rotation within the window drops the oldest secret.
 */
export async function rotateWebhookSecret(deps: WebhookServiceDeps, caller: WebhookCaller, id: string) {
  const current = await findEndpoint(deps.prisma, caller.tenantId, id);
  const secret = generateWebhookSecret();
  const sealed = createSecretBox(deps.webhooks.secretKey).seal(secret, endpointSecretBinding(id));
  const previousSecretExpiresAt = new Date(Date.now() + deps.webhooks.rotationWindowMs);
  const endpoint = await deps.prisma.$transaction(async (tx) => {
    const updated = await tx.webhookEndpoint.updateMany({
      // Only over the secret read above: two rotations at once cannot both keep their old secret.
      where: { id, tenantId: caller.tenantId, secretCiphertext: current.secretCiphertext },
      data: { secretCiphertext: sealed, previousSecretCiphertext: current.secretCiphertext, previousSecretExpiresAt },
    });
    if (updated.count === 0) throw conflict('ROTATION_IN_PROGRESS', 'The secret was rotated meanwhile; try again');
    await writeAudit(tx, {
      tenantId: caller.tenantId,
      actor: caller.actor,
      action: 'webhook.secret-rotated',
      entityType: 'WebhookEndpoint',
      entityId: id,
      details: { previousSecretExpiresAt: previousSecretExpiresAt.toISOString() },
    });
    return tx.webhookEndpoint.findUniqueOrThrow({ where: { id } });
  });
  return { ...presentEndpoint(endpoint), secret };
}

/** An endpoint's deliveries, newest first, each with its attempts (status, duration, response excerpt, error). */
export async function listWebhookDeliveries(
  prisma: PrismaClient,
  tenantId: string,
  endpointId: string,
  page: { limit: number; offset: number },
) {
  await findEndpoint(prisma, tenantId, endpointId);
  const where = { tenantId, endpointId };
  const [deliveries, total] = await Promise.all([
    prisma.webhookDelivery.findMany({
      where,
      orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
      take: page.limit,
      skip: page.offset,
      include: { attemptLog: { orderBy: { startedAt: 'asc' } } },
    }),
    prisma.webhookDelivery.count({ where }),
  ]);
  return {
    deliveries: deliveries.map((delivery) => ({
      id: delivery.id,
      eventId: delivery.eventId,
      eventType: delivery.eventType,
      status: delivery.status,
      attempts: delivery.attemptLog.map((attempt) => ({
        startedAt: attempt.startedAt,
        durationMs: attempt.durationMs,
        statusCode: attempt.statusCode,
        error: attempt.error,
        responseBody: attempt.responseBody,
      })),
      lastError: delivery.lastError,
      workflowId: delivery.workflowId,
      createdAt: delivery.createdAt,
      completedAt: delivery.completedAt,
    })),
    total,
    ...page,
  };
}

/**
 * Sends a delivery again: a new run of its workflow ID once the previous run has closed (409
 * DELIVERY_IN_PROGRESS while it runs). The receiver sees the same `webhook-id`, so it can tell a
 * replay from a new event. Audited.
 */
export async function replayWebhookDelivery(deps: WebhookServiceDeps, caller: WebhookCaller, deliveryId: string) {
  const delivery = await deps.prisma.webhookDelivery.findFirst({
    where: { id: deliveryId, tenantId: caller.tenantId },
    include: { endpoint: { select: { status: true } } },
  });
  if (!delivery) throw notFound('Webhook delivery');
  if (delivery.endpoint.status !== 'ACTIVE') {
    throw conflict('ENDPOINT_DISABLED', 'The endpoint is disabled; re-enable it before replaying');
  }
  const input: WebhookDeliveryInput = { tenantId: caller.tenantId, deliveryId, replay: true };
  let runId: string;
  try {
    const handle = await deps.temporal.workflow.start('webhookDeliveryWorkflow', {
      taskQueue: deps.taskQueue,
      args: [input],
      ...webhookReplayStartOptions(
        caller.tenantId,
        delivery.endpointId,
        delivery.eventId,
        await loadTenantFairness(deps.prisma, caller.tenantId, deps.fairnessWeights),
      ),
    });
    runId = handle.firstExecutionRunId;
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) {
      throw conflict('DELIVERY_IN_PROGRESS', 'The delivery is still running; replay it once it has finished');
    }
    throw error;
  }
  await writeAudit(deps.prisma, {
    tenantId: caller.tenantId,
    actor: caller.actor,
    action: 'webhook.delivery.replayed',
    entityType: 'WebhookDelivery',
    entityId: deliveryId,
    details: { runId },
  });
  return { deliveryId, workflowId: delivery.workflowId, runId };
}

/**
 * Records a `webhook.test` event for this endpoint alone and delivers it. The event is marked
 * published at once, so no fan-out ever sends it to the tenant's other endpoints.
 */
export async function sendWebhookTest(deps: WebhookServiceDeps, caller: WebhookCaller, endpointId: string) {
  const endpoint = await findEndpoint(deps.prisma, caller.tenantId, endpointId);
  if (endpoint.status !== 'ACTIVE') {
    throw conflict('ENDPOINT_DISABLED', 'The endpoint is disabled; re-enable it before testing');
  }
  const eventId = randomUUID();
  const now = new Date();
  await deps.prisma.$transaction(async (tx) => {
    await tx.outboxEvent.create({
      data: {
        id: eventId,
        tenantId: caller.tenantId,
        eventKey: `webhook.test:${eventId}`,
        type: 'webhook.test',
        subjectType: 'webhook',
        subjectId: endpointId,
        payload: { endpointId, message: 'A test delivery from Holdfast' },
        source: 'FLOW',
        occurredAt: now,
        publishedAt: now,
      },
    });
    await writeAudit(tx, {
      tenantId: caller.tenantId,
      actor: caller.actor,
      action: 'webhook.tested',
      entityType: 'WebhookEndpoint',
      entityId: endpointId,
      details: { eventId },
    });
  });
  const enqueued = await enqueueWebhookDelivery(
    { prisma: deps.prisma, temporal: { client: deps.temporal, taskQueue: deps.taskQueue } },
    { tenantId: caller.tenantId, endpointId, eventId },
  );
  return {
    eventId,
    deliveryId: enqueued.deliveryId,
    workflowId: webhookDeliveryId(caller.tenantId, endpointId, eventId),
  };
}
