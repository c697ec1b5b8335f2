import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { writeAudit } from '../../activities/audit';
import {
  DIRECT_CONTENT,
  enqueueNotification,
  IdempotencyConflict,
  requestedNotificationKey,
  type NotificationRequestInput,
} from '../../activities/notification-requests';
import { templateProblem } from '../../activities/templates';
import type { NotificationChannel } from '../../domain/notifications';
import { defaultSources, templateKinds } from '../../domain/templates/sources';
import type { NotificationStatus } from '../../generated/prisma/enums';
import type { PrismaClient } from '../../lib/db';
import type { notificationWorkflow } from '../../workflows/notification';
import {
  cancelNotificationUpdate,
  NotificationRejection,
  notificationRetryStartOptions,
  notificationWorkflowId,
} from '../../workflows/notification.contract';
import { whileOpen } from '../closed-workflows';
import { AppError, conflict, notFound } from '../errors';
import { requireTemplate } from './templates';
import { assertFlowAccepting } from './flow-pauses';
import type { FairnessWeights } from '../../domain/tenant-fairness';
import { loadTenantFairness, tenantFairnessLookup } from '../../lib/tenant-fairness';

/** What the notification services use. */
export interface NotificationServiceDeps {
  prisma: PrismaClient;
  temporal: Client;
  taskQueue: string;
  /** FAIRNESS_WEIGHTS (config.worker.fairnessWeights); the defaults when absent. */
  fairnessWeights?: FairnessWeights;
}

/** Who asks: the caller's tenant and identity (the audit log's actor). */
export interface NotificationCaller {
  tenantId: string;
  actor: string;
}

/** A notification as the API takes it, after validation; `sendAt` or `delayMs`, never both. */
export type NotificationApiRequest = Omit<NotificationRequestInput, 'tenantId' | 'source' | 'key'>;

type NotificationRow = Awaited<ReturnType<PrismaClient['notification']['findFirstOrThrow']>>;

/** A notification as the API shows it: its delivery, never its recipient's data or content. */
export function presentNotification(row: NotificationRow) {
  return {
    id: row.id,
    status: row.status,
    channel: row.channel,
    to: row.recipient,
    template: row.template === DIRECT_CONTENT ? null : row.template,
    source: row.source,
    priority: row.priority,
    locale: row.locale,
    sendAt: row.sendAt,
    attempts: row.attempts,
    lastError: row.lastError,
    sentAt: row.sentAt,
    cancelledAt: row.cancelledAt,
    workflowId: row.workflowId,
    eventId: row.eventId,
    ruleId: row.ruleId,
    reminderId: row.reminderId,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/**
 * Records a notification the tenant's application asked for and starts its workflow, once per
 * Idempotency-Key: a repeat with the same body answers the same notification (`created: false`).
 *
 * @throws 422 UNKNOWN_TEMPLATE for a template with no default and no tenant template,
 *   422 IDEMPOTENCY_KEY_REUSED for a known key with another body.
 */
export async function requestNotification(
  { prisma, temporal, taskQueue, fairnessWeights }: NotificationServiceDeps,
  { tenantId, idempotencyKey }: NotificationCaller & { idempotencyKey: string },
  request: NotificationApiRequest,
) {
  await assertFlowAccepting(prisma, tenantId, 'notifications');
  // A repeat answers the notification it first recorded, even if the tenant has since removed its template.
  const known = await prisma.notification.findUnique({
    where: { idempotencyKey: requestedNotificationKey(tenantId, 'API', idempotencyKey) },
    select: { id: true },
  });
  if (request.template && !known) {
    await requireTemplate(prisma, tenantId, request.template, request.channel, { locale: request.locale ?? null });
  }
  try {
    return await enqueueNotification(
      { prisma, temporal: { client: temporal, taskQueue, fairnessOf: tenantFairnessLookup(prisma, fairnessWeights) } },
      { ...request, tenantId, source: 'API', key: idempotencyKey },
    );
  } catch (error) {
    if (error instanceof IdempotencyConflict) {
      throw new AppError(422, error.code, 'This Idempotency-Key was used for a different notification request', {
        notificationId: error.notificationId,
      });
    }
    throw error;
  }
}

async function findNotification(prisma: PrismaClient, tenantId: string, notificationId: string) {
  const row = await prisma.notification.findFirst({ where: { id: notificationId, tenantId } });
  if (!row) throw notFound('Notification', { notificationId });
  return row;
}

export async function getNotification(prisma: PrismaClient, tenantId: string, notificationId: string) {
  return presentNotification(await findNotification(prisma, tenantId, notificationId));
}

export interface NotificationFilter {
  status?: NotificationStatus;
  channel?: NotificationChannel;
  since?: Date;
  limit: number;
  offset: number;
}

/** A page of the tenant's notifications, newest first, with how many match in all. */
export async function listNotifications(prisma: PrismaClient, tenantId: string, filter: NotificationFilter) {
  const { status, channel, since, limit, offset } = filter;
  const where = {
    tenantId,
    ...(status ? { status } : {}),
    ...(channel ? { channel } : {}),
    ...(since ? { createdAt: { gte: since } } : {}),
  };
  const [rows, total] = await Promise.all([
    prisma.notification.findMany({ where, orderBy: [{ createdAt: 'desc' }, { id: 'asc' }], take: limit, skip: offset }),
    prisma.notification.count({ where }),
  ]);
  return { notifications: rows.map(presentNotification), total, limit, offset };
}

/** The 409 for a notification whose row says it can no longer be cancelled. */
function settled(row: NotificationRow): AppError | undefined {
  const { id: notificationId, status } = row;
  switch (status) {
    case 'SENT':
      return conflict(NotificationRejection.AlreadySent, 'The notification has been sent', { notificationId });
    case 'FAILED':
      return conflict(NotificationRejection.AlreadyFailed, 'The notification has failed', { notificationId });
    case 'CANCELLED':
      return conflict(NotificationRejection.AlreadyCancelled, 'The notification is already cancelled', {
        notificationId,
      });
    default:
      return undefined;
  }
}

/**
 * Cancels a notification that has not started sending, through its workflow's Update.
 *
 * @throws 409 NOTIFICATION_SENDING, NOTIFICATION_ALREADY_SENT, NOTIFICATION_FAILED or
 *   NOTIFICATION_ALREADY_CANCELLED; 409 NOT_CANCELLABLE for a flow's own message (it has no workflow of its own).
 */
export async function cancelNotification(
  { prisma, temporal }: NotificationServiceDeps,
  { tenantId, actor }: NotificationCaller,
  notificationId: string,
) {
  const row = await findNotification(prisma, tenantId, notificationId);
  const refusal = settled(row);
  if (refusal) throw refusal;
  if (!row.workflowId) {
    throw conflict('NOT_CANCELLABLE', "A flow's own message is sent by its flow and cannot be cancelled here", {
      notificationId,
    });
  }
  const handle = temporal.workflow.getHandle<typeof notificationWorkflow>(notificationWorkflowId(tenantId, row.id));
  // A refusal (WorkflowUpdateFailedError) is answered 409 with its code by the error middleware.
  // A run that closed between the read and the Update: the row tells how it ended.
  await whileOpen(
    () => handle.executeUpdate(cancelNotificationUpdate, { args: [{ actor }] }),
    async () =>
      settled(await findNotification(prisma, tenantId, notificationId)) ??
      conflict(NotificationRejection.Sending, 'The notification is being sent', { notificationId }),
  );
  return presentNotification(await findNotification(prisma, tenantId, notificationId));
}

/**
 * Sends a notification that failed for good once more: a new run of its workflow under the same
 * ID (the failed run has closed), audited as `notification.retried`.
 *
 * @throws 409 NOTIFICATION_NOT_FAILED unless it is FAILED; 409 NOT_RETRYABLE for a flow's own message.
 */
export async function retryNotification(
  { prisma, temporal, taskQueue, fairnessWeights }: NotificationServiceDeps,
  { tenantId, actor }: NotificationCaller,
  notificationId: string,
) {
  const row = await findNotification(prisma, tenantId, notificationId);
  if (!row.workflowId) {
    throw conflict('NOT_RETRYABLE', "A flow's own message is retried by its flow", { notificationId });
  }
  await assertFlowAccepting(prisma, tenantId, 'notifications');
  // Claiming the row FAILED → PENDING lets one of two concurrent retries through.
  const claimed = await prisma.notification.updateMany({
    where: { id: row.id, tenantId, status: 'FAILED' },
    data: { status: 'PENDING' },
  });
  if (claimed.count === 0) {
    throw conflict('NOTIFICATION_NOT_FAILED', 'Only a notification that failed for good can be retried', {
      notificationId,
      status: row.status,
    });
  }
  const input = { tenantId, notificationId: row.id, priority: row.priority, channel: row.channel };
  const fairness = await loadTenantFairness(prisma, tenantId, fairnessWeights);
  let handle;
  try {
    handle = await temporal.workflow.start<typeof notificationWorkflow>('notificationWorkflow', {
      taskQueue,
      args: [input],
      ...notificationRetryStartOptions(input, new Date(), fairness, { template: row.template }),
    });
  } catch (error) {
    // Only a start that did not happen gives the claim back; once the new run exists it owns the row.
    await prisma.notification.updateMany({ where: { id: row.id, status: 'PENDING' }, data: { status: 'FAILED' } });
    if (error instanceof WorkflowExecutionAlreadyStartedError) {
      throw conflict('NOTIFICATION_RUNNING', 'The notification is being sent already', { notificationId });
    }
    throw error;
  }
  await writeAudit(prisma, {
    tenantId,
    actor,
    action: 'notification.retried',
    entityType: 'Notification',
    entityId: row.id,
    details: { runId: handle.firstExecutionRunId, attempts: row.attempts, lastError: row.lastError },
  });
  return { notificationId: row.id, workflowId: handle.workflowId, runId: handle.firstExecutionRunId };
}

/** The parts of a template a tenant may replace, and whether it is sent at all. */
export interface TemplateOverride {
  locale?: string;
  subject?: string;
  text?: string;
  html?: string;
  enabled?: boolean;
}

/** The template kinds Holdfast ships (their variables and default sources) and the tenant's overrides. */
export async function listTemplates(prisma: PrismaClient, tenantId: string) {
  const overrides = await prisma.tenantNotificationTemplate.findMany({
    where: { tenantId },
    orderBy: [{ template: 'asc' }, { channel: 'asc' }, { locale: 'asc' }],
  });
  const kinds = [...templateKinds.values()].map(({ name, description, variables }) => ({
    name,
    description,
    variables,
    defaults: {
      EMAIL: defaultSources(name, 'EMAIL'),
      SMS: defaultSources(name, 'SMS'),
      WHATSAPP: defaultSources(name, 'WHATSAPP'),
    },
  }));
  return {
    kinds,
    overrides: overrides.map(({ template, channel, locale, enabled, subject, text, html, updatedAt }) => ({
      template,
      channel,
      locale,
      enabled,
      subject,
      text,
      html,
      updatedAt,
    })),
  };
}

/**
 * Saves a tenant's template for a channel and locale (the tenant's default locale when none is
 * named), replacing the one saved before; parts left out come from the shipped default. Each part
 * must compile, and for a kind Holdfast ships, render with that kind's variables (strict mode).
 *
 * @throws 422 TEMPLATE_INVALID with the part and the engine's message; 422 UNKNOWN_TEMPLATE for a
 *   tenant's own template without text.
 */
export async function saveTemplate(
  prisma: PrismaClient,
  { tenantId, actor }: NotificationCaller,
  template: string,
  channel: NotificationChannel,
  override: TemplateOverride,
) {
  const kind = templateKinds.get(template);
  if (!kind && override.text === undefined) {
    throw new AppError(422, 'UNKNOWN_TEMPLATE', 'A template Holdfast does not ship needs its own text', { template });
  }
  for (const part of ['subject', 'text', 'html'] as const) {
    const source = override[part];
    if (source === undefined) continue;
    const problem = templateProblem(source, part, kind?.sample);
    if (problem) throw new AppError(422, 'TEMPLATE_INVALID', `The ${part} template is not valid: ${problem}`, { part });
  }
  const tenant = await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId }, select: { defaultLocale: true } });
  const locale = override.locale ?? tenant.defaultLocale;
  const parts = {
    subject: override.subject ?? null,
    text: override.text ?? null,
    html: override.html ?? null,
    enabled: override.enabled ?? true,
  };
  const row = await prisma.tenantNotificationTemplate.upsert({
    where: { tenantId_template_channel_locale: { tenantId, template, channel, locale } },
    create: { tenantId, template, channel, locale, ...parts },
    update: parts,
  });
  await writeAudit(prisma, {
    tenantId,
    actor,
    action: 'notification-template.saved',
    entityType: 'TenantNotificationTemplate',
    entityId: `${template}:${channel}:${locale}`,
    details: { enabled: parts.enabled, parts: (['subject', 'text', 'html'] as const).filter((p) => parts[p] !== null) },
  });
  const { subject, text, html, enabled, updatedAt } = row;
  return { template, channel, locale, enabled, subject, text, html, updatedAt };
}

/** Removes a tenant's template (the shipped default applies again). @throws 404 when there is none. */
export async function deleteTemplate(
  prisma: PrismaClient,
  { tenantId, actor }: NotificationCaller,
  template: string,
  channel: NotificationChannel,
  locale: string | undefined,
) {
  const tenant = await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId }, select: { defaultLocale: true } });
  const where = { tenantId, template, channel, locale: locale ?? tenant.defaultLocale };
  const { count } = await prisma.tenantNotificationTemplate.deleteMany({ where });
  if (count === 0) throw notFound('Notification template', { template, channel, locale: where.locale });
  await writeAudit(prisma, {
    tenantId,
    actor,
    action: 'notification-template.deleted',
    entityType: 'TenantNotificationTemplate',
    entityId: `${template}:${channel}:${where.locale}`,
  });
}
