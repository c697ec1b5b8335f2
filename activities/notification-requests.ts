import { createHash, randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { canonicalJson } from '../domain/canonical-json';
import type { NotificationChannel } from '../domain/notifications';
import type { Prisma, PrismaClient } from '../lib/db';
import type { notificationWorkflow } from '../workflows/notification';
import {
  DEFAULT_NOTIFICATION_PRIORITY,
  notificationStartOptions,
  notificationWorkflowId,
  type NotificationWorkflowInput,
} from '../workflows/notification.contract';
import type { TenantFairness } from '../domain/tenant-fairness';
import { tenantFairnessLookup, type TenantFairnessLookup } from '../lib/tenant-fairness';
import { insertOnce } from './insert-once';

/** Who asks for a notification: the API, a notification rule, a reminder sequence or a flow. */
export type NotificationRequestSource = 'API' | 'RULE' | 'REMINDER' | 'FLOW';

/** The `template` column of a notification whose content was given as is, without a template. */
export const DIRECT_CONTENT = '(content)';

/** One notification as its requester describes it. */
export interface NotificationRequestInput {
  tenantId: string;
  source: NotificationRequestSource;
  /**
   * Its identity within the tenant and source: the API's Idempotency-Key, `rule:{eventId}:{ruleId}`,
   * `reminder:{reminderId}:{stepKey}`. The same key always names the same notification.
   */
  key: string;
  channel: NotificationChannel;
  to: string;
  /** A template name (a default or the tenant's own); without it, `text` (and for email `subject`, `html`) is sent as is. */
  template?: string;
  data?: Record<string, unknown>;
  subject?: string;
  text?: string;
  html?: string;
  locale?: string;
  /** 1 critical, 2 high, 3 normal (default), 4 low. */
  priority?: 1 | 2 | 3 | 4;
  /** Not before this instant. */
  sendAt?: Date;
  /**
   * Not before this many milliseconds after the notification is first recorded. Part of the
   * request's identity instead of the instant it yields, so a repeat of "in 24 hours" is the same request.
   */
  delayMs?: number;
  eventId?: string;
  ruleId?: string;
  reminderId?: string;
}

export interface EnqueuedNotification {
  notificationId: string;
  workflowId: string;
  /** False when the key named a notification recorded earlier. */
  created: boolean;
}

export interface NotificationRequestDeps {
  prisma: PrismaClient;
  temporal: { client: Client; taskQueue: string; fairnessOf?: TenantFairnessLookup };
  now?: () => Date;
}

/** The same key was used for a different request; the API answers 422 IDEMPOTENCY_KEY_REUSED. */
export class IdempotencyConflict extends Error {
  readonly code = 'IDEMPOTENCY_KEY_REUSED';
  constructor(readonly notificationId: string) {
    super('This idempotency key was used for a different notification request');
    this.name = 'IdempotencyConflict';
  }
}

/** The ledger's globally unique key for a requested notification: scoped by tenant and source. */
export function requestedNotificationKey(tenantId: string, source: NotificationRequestSource, key: string): string {
  return `${tenantId}:${source.toLowerCase()}:${key}`;
}

/** A fingerprint of what was asked, so a reused key with another request is caught. */
export function notificationRequestHash(input: NotificationRequestInput): string {
  const { channel, to, template, data, subject, text, html, locale, priority, sendAt, delayMs } = input;
  const canonical = canonicalJson({
    channel,
    to,
    template: template ?? null,
    data: data ?? null,
    subject: subject ?? null,
    text: text ?? null,
    html: html ?? null,
    locale: locale ?? null,
    priority: priority ?? DEFAULT_NOTIFICATION_PRIORITY,
    sendAt: sendAt?.toISOString() ?? null,
    delayMs: delayMs ?? null,
  });
  return createHash('sha256').update(canonical).digest('hex');
}

/** Starts a notification's workflow, or finds the run already started for it (running or closed). */
export async function startNotificationWorkflow(
  temporal: { client: Client; taskQueue: string },
  input: NotificationWorkflowInput,
  now: Date = new Date(),
  fairness?: TenantFairness,
  about: { template?: string } = {},
): Promise<string> {
  const options = notificationStartOptions(input, now, fairness, about);
  try {
    await temporal.client.workflow.start<typeof notificationWorkflow>('notificationWorkflow', {
      taskQueue: temporal.taskQueue,
      args: [input],
      ...options,
    });
  } catch (error) {
    // REJECT_DUPLICATE: a closed run of this notification already did its work.
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
  return options.workflowId;
}

/**
 * Records a notification once per (tenant, source, key) and starts its workflow, however often
 * and however concurrently it is asked for: concurrent duplicates meet at the ledger's unique key,
 * and the workflow start joins a run already going. A repeat of a notification that has finished
 * starts nothing.
 *
 * @throws IdempotencyConflict when the key was used for a different request.
 */
export async function enqueueNotification(
  deps: NotificationRequestDeps,
  input: NotificationRequestInput,
): Promise<EnqueuedNotification> {
  const { prisma, temporal } = deps;
  const now = deps.now ?? (() => new Date());
  const { tenantId } = input;
  const idempotencyKey = requestedNotificationKey(tenantId, input.source, input.key);
  const requestHash = notificationRequestHash(input);
  const recordedAt = now();
  const sendAt = input.sendAt ?? (input.delayMs ? new Date(recordedAt.getTime() + input.delayMs) : undefined);
  const priority = input.priority ?? DEFAULT_NOTIFICATION_PRIORITY;
  const id = randomUUID();

  const row = await insertOnce(
    () => prisma.notification.findUnique({ where: { idempotencyKey } }),
    () =>
      prisma.notification.create({
        data: {
          id,
          tenantId,
          // The instant a delay counts from, so createdAt + delay is exactly sendAt.
          createdAt: recordedAt,
          source: input.source,
          channel: input.channel,
          recipient: input.to,
          template: input.template ?? DIRECT_CONTENT,
          idempotencyKey,
          requestHash,
          status: sendAt && sendAt > recordedAt ? 'SCHEDULED' : 'PENDING',
          priority,
          sendAt: sendAt ?? null,
          locale: input.locale ?? null,
          subject: input.subject ?? null,
          text: input.text ?? null,
          html: input.html ?? null,
          ...(input.data ? { data: input.data as Prisma.InputJsonObject } : {}),
          workflowId: notificationWorkflowId(tenantId, id),
          eventId: input.eventId ?? null,
          ruleId: input.ruleId ?? null,
          reminderId: input.reminderId ?? null,
        },
      }),
  );
  if (row.requestHash !== requestHash) throw new IdempotencyConflict(row.id);

  const workflowId = row.workflowId ?? notificationWorkflowId(tenantId, row.id);
  // Started on every request while the row is open, so a notification whose first request died
  // between the insert and the start still gets its workflow.
  if (row.status === 'PENDING' || row.status === 'SCHEDULED') {
    await startNotificationWorkflow(
      temporal,
      {
        tenantId,
        notificationId: row.id,
        priority: row.priority,
        channel: row.channel,
        ...(row.sendAt ? { sendAt: row.sendAt.toISOString() } : {}),
      },
      recordedAt,
      await (temporal.fairnessOf ?? tenantFairnessLookup(prisma))(tenantId),
      { template: row.template },
    );
  }
  return { notificationId: row.id, workflowId, created: row.id === id };
}
