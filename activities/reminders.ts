import { ApplicationFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type { StepRecord } from '../domain/reminder-plan';
import type { Prisma, PrismaClient } from '../lib/db';
import { FailureType } from '../workflows/errors';
import { writeAudit } from './audit';
import { publishEvent } from './event-publishing';
import { enqueueNotification, IdempotencyConflict } from './notification-requests';

/** What the reminder activities use: the tenant's rows, and the workflows notifications and events start. */
export interface ReminderDeps {
  prisma: PrismaClient;
  /** Starts each step's notification workflow and each event's fan-out. */
  temporal?: { client: Client; taskQueue: string };
  now?: () => Date;
}

/** The actor of audit rows the sequence writes by itself (a step sent, the sequence finished). */
export const REMINDER_SEQUENCE_ACTOR = 'system:reminder-sequence';

export interface ReminderRef {
  tenantId: string;
  reminderId: string;
}

/** One step to send: its stable key, its kind and the instant it was planned for. */
export interface ReminderStepInput extends ReminderRef {
  step: { key: string; kind: string; at: string };
  /** The due date in force, for the message. */
  dueAt: string;
}

export interface CloseReminderInput extends ReminderRef {
  status: 'COMPLETED' | 'FINISHED' | 'CANCELLED';
  reason: string | null;
  actor: string;
  /** When it closed (ISO-8601). */
  at: string;
  steps: StepRecord[];
}

/** The notification key of a step: one message per reminder and step occurrence, however often it is retried. */
export const reminderStepKey = (reminderId: string, stepKey: string) => `reminder:${reminderId}:${stepKey}`;

const gone = (reminderId: string) =>
  ApplicationFailure.nonRetryable(`Reminder ${reminderId} no longer exists`, FailureType.NotFound);

/**
 * A reminder sequence's side effects. Each is idempotent under retry: a step's message is keyed by
 * the reminder and the step's key in the notification ledger, each event by its own key, and the
 * audit rows by dedup keys.
 */
export function createReminderActivities(deps: ReminderDeps) {
  const { prisma } = deps;
  const now = deps.now ?? (() => new Date());

  const temporalOf = () => {
    if (!deps.temporal) {
      throw ApplicationFailure.nonRetryable(
        'The worker was started without a Temporal client for notifications',
        FailureType.ChannelNotConfigured,
      );
    }
    return deps.temporal;
  };

  return {
    /**
     * Sends one step: records its notification (which the notification workflow delivers with its
     * own retries) and publishes `reminder.sent`. The recipient, template and data come from the
     * row, so the workflow never holds them. A retry after the recipient changed finds the
     * notification recorded first and keeps it, so the step is still sent once.
     *
     * @throws NotFound (non-retryable) when the reminder row is gone.
     */
    async sendReminderStep({
      tenantId,
      reminderId,
      step,
      dueAt,
    }: ReminderStepInput): Promise<{ notificationId: string }> {
      const reminder = await prisma.reminder.findFirst({
        where: { id: reminderId, tenantId },
        include: { tenant: { select: { name: true } } },
      });
      if (!reminder) throw gone(reminderId);
      const temporal = temporalOf();
      const subject = { type: reminder.subjectType, id: reminder.subjectId };
      // The request's data, then what the sequence knows; the shipped templates read dueDate and tenantName.
      const data = {
        tenantName: reminder.tenant.name,
        ...((reminder.data as Record<string, unknown> | null) ?? {}),
        kind: step.kind,
        dueAt,
        dueDate: dueAt,
        subject,
        recipientName: reminder.recipientName,
      };
      let notificationId: string;
      try {
        ({ notificationId } = await enqueueNotification(
          { prisma, temporal, now },
          {
            tenantId,
            source: 'REMINDER',
            key: reminderStepKey(reminderId, step.key),
            channel: reminder.channel,
            to: reminder.recipient,
            template: reminder.template,
            data,
            reminderId,
          },
        ));
      } catch (error) {
        // The step was recorded before the recipient or the due date changed: that message is the step's.
        if (!(error instanceof IdempotencyConflict)) throw error;
        notificationId = error.notificationId;
      }
      await publishEvent(
        { prisma, temporal },
        {
          tenantId,
          key: `reminder.sent:${reminderId}:${step.key}`,
          type: 'reminder.sent',
          subject,
          data: { reminderId, step: step.key, kind: step.kind, dueAt, notificationId },
          source: 'FLOW',
        },
      );
      return { notificationId };
    },

    /** Writes a moved due date to the row, with an audit entry; the workflow re-plans its steps. */
    async moveReminderDueAt({ tenantId, reminderId, dueAt, actor }: ReminderRef & { dueAt: string; actor: string }) {
      const reminder = await prisma.reminder.findFirst({ where: { id: reminderId, tenantId } });
      if (!reminder) throw gone(reminderId);
      const to = new Date(dueAt);
      if (reminder.dueAt.getTime() === to.getTime()) return;
      await prisma.$transaction([
        prisma.reminder.update({ where: { id: reminderId }, data: { dueAt: to } }),
        writeAudit(prisma, {
          tenantId,
          actor,
          action: 'reminder.due-moved',
          entityType: 'Reminder',
          entityId: reminderId,
          details: { from: reminder.dueAt.toISOString(), to: dueAt },
        }),
      ]);
    },

    /**
     * Closes the row (COMPLETED, FINISHED or CANCELLED) with each step's outcome, so the reminder
     * still answers once its workflow's history is gone, and publishes `reminder.completed` (someone
     * completed it) or `reminder.finished` (its last step went out). A retry finds the row closed
     * and publishes the same event again, which its key makes a no-op.
     */
    async closeReminder({ tenantId, reminderId, status, reason, actor, at, steps }: CloseReminderInput) {
      const closedAt = new Date(at);
      await prisma.$transaction([
        prisma.reminder.updateMany({
          where: { id: reminderId, tenantId, status: 'ACTIVE' },
          data: {
            status,
            completedAt: closedAt,
            closedReason: reason,
            stepLog: steps as unknown as Prisma.InputJsonArray,
          },
        }),
        writeAudit(prisma, {
          tenantId,
          actor,
          action: `reminder.${status.toLowerCase()}`,
          entityType: 'Reminder',
          entityId: reminderId,
          details: { reason, sent: steps.filter((step) => step.status === 'sent').length },
          dedupKey: `reminder:${reminderId}:closed`,
        }),
      ]);
      if (status === 'CANCELLED') return;
      const reminder = await prisma.reminder.findFirst({ where: { id: reminderId, tenantId } });
      if (!reminder) return;
      const type = status === 'COMPLETED' ? 'reminder.completed' : 'reminder.finished';
      await publishEvent(
        { prisma, temporal: temporalOf() },
        {
          tenantId,
          key: `${type}:${reminderId}`,
          type,
          subject: { type: reminder.subjectType, id: reminder.subjectId },
          data: {
            reminderId,
            status,
            reason,
            dueAt: reminder.dueAt.toISOString(),
            sent: steps.filter((step) => step.status === 'sent').length,
          },
          occurredAt: closedAt,
          source: 'FLOW',
        },
      );
    },
  };
}
