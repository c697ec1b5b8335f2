import { createHash, randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { writeAudit } from '../../activities/audit';
import type { NotificationChannel } from '../../domain/notifications';
import { type ReminderStepSpec, type StepRecord } from '../../domain/reminder-plan';
import type { ReminderStatus } from '../../generated/prisma/enums';
import { isUniqueViolation, type Prisma, type PrismaClient } from '../../lib/db';
import { isPending } from '../../workflows/attention';
import type { reminderSequenceWorkflow } from '../../workflows/reminder-sequence';
import {
  completeReminderUpdate,
  getReminderStateQuery,
  moveDueAtUpdate,
  reminderSequenceId,
  reminderSequenceStartOptions,
  type ReminderState,
} from '../../workflows/reminder-sequence.contract';
import { whileOpen } from '../closed-workflows';
import { AppError, conflict, notFound } from '../errors';
import { requireTemplate } from './templates';
import { assertFlowAccepting } from './flow-pauses';
import type { FairnessWeights, TenantFairness } from '../../domain/tenant-fairness';
import { loadTenantFairness } from '../../lib/tenant-fairness';

/** What the reminder services use: the tenant's rows and the workflows that run the sequences. */
export interface ReminderServiceDeps {
  prisma: PrismaClient;
  temporal: Client;
  taskQueue: string;
  /** FAIRNESS_WEIGHTS (config.worker.fairnessWeights); the defaults when absent. */
  fairnessWeights?: FairnessWeights;
}

/** Who asks: the caller's tenant and identity (the audit log's actor). */
export interface ReminderCaller {
  tenantId: string;
  actor: string;
}

/** A reminder sequence as a tenant's application asks for it (already validated by the route). */
export interface ReminderRequest {
  subject: { type: string; id: string };
  recipient: { channel: NotificationChannel; to: string; name?: string };
  template: string;
  data?: Record<string, unknown>;
  dueAt: string;
  steps: ReminderStepSpec[];
  notifyOnCreate?: boolean;
}

type ReminderRow = Awaited<ReturnType<PrismaClient['reminder']['findFirstOrThrow']>>;

/** A stable fingerprint of what was asked, so a reused Idempotency-Key with another body is caught. */
function requestHash(request: ReminderRequest): string {
  const canonical = JSON.stringify({
    subject: [request.subject.type, request.subject.id],
    recipient: [request.recipient.channel, request.recipient.to, request.recipient.name ?? null],
    template: request.template,
    data: request.data ?? null,
    dueAt: new Date(request.dueAt).toISOString(),
    steps: request.steps,
    notifyOnCreate: request.notifyOnCreate ?? false,
  });
  return createHash('sha256').update(canonical).digest('hex');
}

/** The 409 for a reminder whose sequence has closed; the row tells how it ended. */
function reminderClosed(status: ReminderStatus): AppError {
  return conflict('REMINDER_CLOSED', `The reminder is ${status.toLowerCase()}`, { status });
}

/**
 * Creates a reminder: records it once per Idempotency-Key and starts its sequence, however often it
 * is asked for. A repeat with the same key and body answers the same reminder (`replayed`); throws
 * 422 IDEMPOTENCY_KEY_REUSED for the key with another body.
 */
export async function createReminder(
  { prisma, temporal, taskQueue, fairnessWeights }: ReminderServiceDeps,
  { tenantId, actor, idempotencyKey }: ReminderCaller & { idempotencyKey: string },
  request: ReminderRequest,
) {
  await assertFlowAccepting(prisma, tenantId, 'reminders');
  const hash = requestHash(request);
  const findExisting = async () => {
    const existing = await prisma.reminder.findUnique({
      where: { tenantId_idempotencyKey: { tenantId, idempotencyKey } },
    });
    if (existing && existing.requestHash !== hash) {
      throw new AppError(422, 'IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used for a different reminder', {
        reminderId: existing.id,
      });
    }
    return existing;
  };

  let reminder = await findExisting();
  let replayed = reminder !== null;
  if (!reminder) {
    // A repeat answers the reminder it first recorded, even if the tenant has since removed its template.
    await requireTemplate(prisma, tenantId, request.template, request.recipient.channel);
    const id = randomUUID();
    try {
      // A batch, not an interactive transaction: concurrent repeats race on the unique insert.
      [reminder] = await prisma.$transaction([
        prisma.reminder.create({
          data: {
            id,
            tenantId,
            idempotencyKey,
            requestHash: hash,
            subjectType: request.subject.type,
            subjectId: request.subject.id,
            channel: request.recipient.channel,
            recipient: request.recipient.to,
            recipientName: request.recipient.name ?? null,
            template: request.template,
            ...(request.data ? { data: request.data as Prisma.InputJsonObject } : {}),
            dueAt: new Date(request.dueAt),
            steps: request.steps,
            notifyOnCreate: request.notifyOnCreate ?? false,
            workflowId: reminderSequenceId(tenantId, id),
          },
        }),
        writeAudit(prisma, {
          tenantId,
          actor,
          action: 'reminder.created',
          entityType: 'Reminder',
          entityId: id,
          details: { subjectType: request.subject.type, template: request.template, dueAt: request.dueAt },
        }),
      ]);
    } catch (error) {
      // A concurrent request with the same key won the insert: answer its reminder.
      if (!isUniqueViolation(error)) throw error;
      reminder = await findExisting();
      if (!reminder) throw error;
      replayed = true;
    }
  }
  // Started on every request, so a reminder whose first request died before its workflow began still gets one.
  const fairness = await loadTenantFairness(prisma, reminder.tenantId, fairnessWeights);
  const workflowId = await startSequence(temporal, taskQueue, reminder, fairness);
  return { reminder: reminder, workflowId, replayed };
}

/** Starts the reminder's sequence, or finds the one started for it (running, or closed: never run again). */
async function startSequence(
  temporal: Client,
  taskQueue: string,
  reminder: ReminderRow,
  fairness: TenantFairness,
): Promise<string> {
  const options = reminderSequenceStartOptions(reminder.tenantId, reminder.id, fairness, {
    subjectType: reminder.subjectType,
    subjectId: reminder.subjectId,
    dueAt: reminder.dueAt.toISOString(),
    steps: Array.isArray(reminder.steps) ? reminder.steps.length : undefined,
  });
  if (reminder.status !== 'ACTIVE') return options.workflowId;
  try {
    // By name, so the API never loads workflow code; the type keeps the arguments checked.
    await temporal.workflow.start<typeof reminderSequenceWorkflow>('reminderSequenceWorkflow', {
      taskQueue,
      args: [
        {
          tenantId: reminder.tenantId,
          reminderId: reminder.id,
          dueAt: reminder.dueAt.toISOString(),
          steps: reminder.steps as unknown as ReminderStepSpec[],
          notifyOnCreate: reminder.notifyOnCreate,
          createdAt: reminder.createdAt.toISOString(),
        },
      ],
      ...options,
    });
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
  return options.workflowId;
}

/** A reminder as the API shows it: the row, with its steps (`plan`) live or as logged when it closed. */
export function presentReminder(reminder: ReminderRow, live: ReminderState | null) {
  const steps = live?.steps ?? (reminder.stepLog as StepRecord[] | null) ?? null;
  return {
    id: reminder.id,
    workflowId: reminder.workflowId,
    subject: { type: reminder.subjectType, id: reminder.subjectId },
    recipient: { channel: reminder.channel, to: reminder.recipient, name: reminder.recipientName },
    template: reminder.template,
    data: reminder.data,
    dueAt: live?.dueAt ?? reminder.dueAt.toISOString(),
    steps: reminder.steps,
    notifyOnCreate: reminder.notifyOnCreate,
    status: live?.status ?? reminder.status,
    closedReason: live?.closedReason ?? reminder.closedReason,
    completedAt: live?.completedAt ?? reminder.completedAt?.toISOString() ?? null,
    createdAt: reminder.createdAt.toISOString(),
    plan: steps,
  };
}

async function findReminder(prisma: PrismaClient, tenantId: string, reminderId: string): Promise<ReminderRow> {
  const reminder = await prisma.reminder.findFirst({ where: { id: reminderId, tenantId } });
  if (!reminder) throw notFound('Reminder', { reminderId });
  return reminder;
}

/**
 * One reminder with its steps: while its sequence runs, from the workflow's query (sent, skipped,
 * scheduled); once it closed, from the step log written to the row. 404 outside the tenant.
 */
export async function getReminder({ prisma, temporal }: ReminderServiceDeps, tenantId: string, reminderId: string) {
  const reminder = await findReminder(prisma, tenantId, reminderId);
  const live =
    reminder.status === 'ACTIVE'
      ? await temporal.workflow
          .getHandle(reminder.workflowId)
          .query(getReminderStateQuery)
          .catch((error: unknown) => {
            // The row outlives its workflow's history (retention); it still answers.
            if (error instanceof WorkflowNotFoundError) return null;
            throw error;
          })
      : null;
  return presentReminder(reminder, live);
}

/** A page of the tenant's reminders, newest first, filtered by status and subject, with how many match in all. */
export async function listReminders(
  prisma: PrismaClient,
  tenantId: string,
  filter: { status?: ReminderStatus; subjectType?: string; subjectId?: string; limit: number; offset: number },
) {
  const { status, subjectType, subjectId, limit, offset } = filter;
  const where = {
    tenantId,
    ...(status ? { status } : {}),
    ...(subjectType ? { subjectType } : {}),
    ...(subjectId ? { subjectId } : {}),
  };
  const [reminders, total] = await Promise.all([
    prisma.reminder.findMany({ where, orderBy: [{ createdAt: 'desc' }, { id: 'asc' }], take: limit, skip: offset }),
    prisma.reminder.count({ where }),
  ]);
  return { reminders: reminders.map((reminder) => presentReminder(reminder, null)), total, limit, offset };
}

/**
 * Completes a reminder (settled, paid): its sequence stops at once. 404 outside the tenant, 409
 * REMINDER_CLOSED once it completed or finished.
 */
export async function completeReminder(
  { prisma, temporal }: ReminderServiceDeps,
  { tenantId, actor }: ReminderCaller,
  reminderId: string,
  reason: string | undefined,
) {
  const reminder = await findReminder(prisma, tenantId, reminderId);
  if (reminder.status !== 'ACTIVE') throw reminderClosed(reminder.status);
  return whileOpen(
    () =>
      temporal.workflow
        .getHandle<typeof reminderSequenceWorkflow>(reminder.workflowId)
        .executeUpdate(completeReminderUpdate, { args: [{ actor, ...(reason ? { reason } : {}) }] }),
    async () => reminderClosed((await findReminder(prisma, tenantId, reminderId)).status),
  );
}

/**
 * Changes a reminder's recipient (written to the row, never to the workflow's history) and moves its
 * due date (its sequence re-plans). A new channel needs the reminder's template on it (422
 * UNKNOWN_TEMPLATE). The sequence is asked first whether it is open, so a closed
 * reminder (409 REMINDER_CLOSED) changes nothing. The recipient is written before the date moves:
 * it was checked by the route and cannot conflict, so a write the database refuses (4xx, or 503
 * while it is unavailable) leaves the due date as it was. Answers `pending` when the due date is in
 * force but its write is still being retried.
 */
export async function amendReminder(
  { prisma, temporal }: ReminderServiceDeps,
  { tenantId, actor }: ReminderCaller,
  reminderId: string,
  change: { dueAt?: string; recipient?: ReminderRequest['recipient'] },
) {
  const reminder = await findReminder(prisma, tenantId, reminderId);
  if (reminder.status !== 'ACTIVE') throw reminderClosed(reminder.status);
  const handle = temporal.workflow.getHandle<typeof reminderSequenceWorkflow>(reminder.workflowId);
  const closed = async () => reminderClosed((await findReminder(prisma, tenantId, reminderId)).status);
  if (change.recipient && change.recipient.channel !== reminder.channel) {
    // Every step sends the reminder's template, so it must exist for the new channel.
    await requireTemplate(prisma, tenantId, reminder.template, change.recipient.channel);
  }
  if (change.recipient) {
    // The sequence must still be open to take a new recipient.
    const state = await whileOpen(() => handle.query(getReminderStateQuery), closed);
    if (state.status !== 'ACTIVE') throw reminderClosed(state.status);
    const { channel, to, name } = change.recipient;
    await prisma.$transaction([
      prisma.reminder.update({
        where: { id: reminderId },
        data: { channel, recipient: to, recipientName: name ?? null },
      }),
      writeAudit(prisma, {
        tenantId,
        actor,
        action: 'reminder.recipient-changed',
        entityType: 'Reminder',
        entityId: reminderId,
        details: { channel },
      }),
    ]);
  }
  if (!change.dueAt) return { pending: false };
  const dueAt = change.dueAt;
  const moved = await whileOpen(() => handle.executeUpdate(moveDueAtUpdate, { args: [{ dueAt, actor }] }), closed);
  return { pending: isPending(moved) };
}
