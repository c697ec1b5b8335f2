import { randomUUID } from 'node:crypto';
import { Context, type Info } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { isValidRecipient, type NotificationChannel } from '../domain/notifications';
import { notificationMessageId } from '../domain/outbox';
import { toStorableText } from '../domain/input-rules';
import { Prisma, type PrismaClient } from '../lib/db';
import { FailureType } from '../workflows/errors';
import { redactedProviderReply, withProviderReply } from './provider-replies';
import type { SmsProvider } from './sms-provider';
import { recordEvent, startFanOutsAfterCommit, type FanOutStarter } from './event-publishing';
import { DIRECT_CONTENT } from './notification-requests';
import { createTemplateRenderer, type RenderedContent, type TemplateRequest } from './templates';

/** What the notifier needs from a mail transport; a nodemailer SMTP transport fits. */
export interface MailTransport {
  sendMail(message: {
    from: string;
    to: string;
    subject: string;
    text: string;
    /** Sent as the HTML alternative when the template has an HTML part. */
    html?: string;
    /** Names the Notification row (see notificationMessageId), the same at every retry. */
    messageId?: string;
  }): Promise<{ messageId?: string }>;
}

export interface NotificationDeps {
  prisma: PrismaClient;
  /** Absent when no SMTP server is configured: email then fails with ChannelNotConfigured. */
  mail?: { transport: MailTransport; from: string };
  /** Absent when no SMS provider is configured. */
  sms?: SmsProvider;
  /** The WhatsApp provider (the same HTTP adapter, another endpoint); absent when none is configured. */
  whatsapp?: SmsProvider;
  now?: () => Date;
}

/** One message to one recipient on one channel. */
export interface NotificationRequest {
  tenantId: string;
  channel: NotificationChannel;
  recipient: string;
  /**
   * What to send: a template and its data (the flows' typed templates from domain/notifications.ts,
   * or any template name), rendered with the tenant's override if it has one (activities/templates.ts).
   */
  template: TemplateRequest;
  /** Content given as is instead of rendering `template` (then only its name is recorded). */
  content?: RenderedContent;
  /** The locale of the tenant template to use; the tenant's default locale when absent. */
  locale?: string | null;
  /** An email subject that replaces the template's (an API request may give both). */
  subjectOverride?: string;
  /**
   * The business identity of the message, e.g. `offer:{holdId}:email`. The ledger row is keyed
   * by it, so a retried activity (or a repeated request) never sends the same message twice.
   */
  idempotencyKey: string;
}

export interface NotificationResult {
  notificationId: string;
  /**
   * `ALREADY_SENT` when an earlier attempt delivered it and this one sent nothing; `SUPPRESSED` when
   * the tenant disabled the template (`enabled: false`): nothing is sent and the row is CANCELLED.
   */
  status: 'SENT' | 'ALREADY_SENT' | 'SUPPRESSED';
  providerId: string | null;
}

/** A notification step's answer: the send's result, or SKIPPED with why (no address for the channel, no provider). */
export type SkippableNotification = NotificationResult | { status: 'SKIPPED'; reason: string };

/**
 * Delivers notifications through the Notification ledger: one row per idempotency key,
 * recording every attempt, the last error and the provider's message ID.
 *
 * Not an activity itself: activities of any flow call {@link Notifier.send} after building
 * their message (the waitlist's offer links carry a token that must stay out of history).
 */
export interface Notifier {
  /** Whether a channel has a transport; flows skip SMS when it has none. */
  supports(channel: NotificationChannel): boolean;
  /**
   * Sends unless the ledger says it was sent already.
   *
   * The row stays PENDING (with `lastError`) while retries remain, and becomes FAILED only when
   * the failure is final: non-retryable, or the activity's last attempt.
   *
   * @throws ApplicationFailure `InvalidRecipient` or `ProviderRejected` (non-retryable) when no
   *   retry can deliver it, `ChannelNotConfigured` when the channel has no transport,
   *   `TemplateInvalid`/`TemplateNotFound` when the template cannot be rendered, and retryable
   *   failures (plain errors, `ProviderThrottled`) for transient trouble.
   */
  send(request: NotificationRequest): Promise<NotificationResult>;
}

export function createNotifier(deps: NotificationDeps): Notifier {
  const { prisma } = deps;
  const now = deps.now ?? (() => new Date());
  const templates = createTemplateRenderer(prisma);

  async function transmit(
    notificationId: string,
    request: NotificationRequest,
    message: RenderedContent,
  ): Promise<string | null> {
    if (request.channel === 'EMAIL') {
      if (!deps.mail) {
        throw ApplicationFailure.nonRetryable('No SMTP server is configured', FailureType.ChannelNotConfigured);
      }
      const info = await deps.mail.transport
        .sendMail({
          from: deps.mail.from,
          to: request.recipient,
          subject: message.subject ?? '',
          text: message.text,
          ...(message.html !== null ? { html: message.html } : {}),
          messageId: notificationMessageId(notificationId, deps.mail.from),
        })
        .catch((error: unknown) => {
          throw classifySmtpError(error);
        });
      return info.messageId ?? null;
    }
    const provider = request.channel === 'SMS' ? deps.sms : deps.whatsapp;
    if (!provider) {
      throw ApplicationFailure.nonRetryable(
        `No ${request.channel} provider is configured`,
        FailureType.ChannelNotConfigured,
      );
    }
    const { id } = await provider.send({
      to: request.recipient,
      body: message.text,
      idempotencyKey: request.idempotencyKey,
    });
    return id;
  }

  /**
   * The request's ledger row, made by its first attempt and found by every retry (one row per idempotency key),
   * with this attempt counted unless the message was sent already. One statement: Prisma's upsert would read,
   * insert and read again in a transaction of its own, then count in another, on every message.
   */
  async function countAttempt({ tenantId, channel, recipient, template, idempotencyKey }: NotificationRequest) {
    // The worker's clock, as for the row's other times, stored as Prisma stores them: UTC, in a column
    // without a time zone.
    const at = Prisma.sql`(${now().toISOString()}::timestamptz AT TIME ZONE 'UTC')`;
    const [row] = await prisma.$queryRaw<
      [{ id: string; status: string; providerId: string | null; locale: string | null }]
    >`
      INSERT INTO "Notification"
        (id, "tenantId", channel, recipient, template, "idempotencyKey", attempts, "createdAt", "updatedAt")
      VALUES (${randomUUID()}, ${tenantId}, ${channel}::"NotificationChannel", ${recipient}, ${template.name},
              ${idempotencyKey}, 1, ${at}, ${at})
      ON CONFLICT ("idempotencyKey") DO UPDATE SET
        attempts = "Notification".attempts + 1,
        "updatedAt" = ${at}
      WHERE "Notification".status <> 'SENT'
      RETURNING id, status::text AS status, "providerId", locale`;
    if (row) return row;
    // Sent already: the conflict's update was skipped, so nothing came back.
    return prisma.notification.findUniqueOrThrow({
      where: { idempotencyKey },
      select: { id: true, status: true, providerId: true, locale: true },
    });
  }

  return {
    supports: (channel) =>
      channel === 'EMAIL' ? deps.mail !== undefined : (channel === 'SMS' ? deps.sms : deps.whatsapp) !== undefined,

    async send(request) {
      const { tenantId, channel, recipient, template } = request;
      const row = await countAttempt(request);
      if (row.status === 'SENT') return { notificationId: row.id, status: 'ALREADY_SENT', providerId: row.providerId };

      try {
        if (!isValidRecipient(channel, recipient)) {
          throw ApplicationFailure.nonRetryable(
            `The recipient is not a valid ${channel} address`,
            FailureType.InvalidRecipient,
          );
        }
        const rendered =
          request.content ?? (await templates.render(tenantId, channel, template, request.locale ?? row.locale));
        if ('suppressed' in rendered) {
          await prisma.notification.update({
            where: { id: row.id },
            data: { status: 'CANCELLED', cancelledAt: now(), lastError: TEMPLATE_DISABLED },
          });
          return { notificationId: row.id, status: 'SUPPRESSED', providerId: null };
        }
        const message =
          request.subjectOverride && channel === 'EMAIL' ? { ...rendered, subject: request.subjectOverride } : rendered;
        const providerId = await transmit(row.id, request, message);
        await prisma.notification.update({
          where: { id: row.id },
          data: { status: 'SENT', providerId, sentAt: now(), lastError: null },
        });
        return { notificationId: row.id, status: 'SENT', providerId };
      } catch (error) {
        // FAILED means failed for good; while the activity will be retried the row stays PENDING.
        await prisma.notification.update({
          where: { id: row.id },
          data: { status: isFinal(error) ? 'FAILED' : 'PENDING', lastError: describe(error) },
        });
        throw error;
      }
    },
  };
}

/**
 * nodemailer reports the SMTP reply code and the command it answered. A 5xx to RCPT TO means
 * the mailbox will never accept mail; other 5xx replies are permanent refusals of this message;
 * 4xx replies and connection errors are transient.
 *
 * The failure's message is built from the code and command alone (`SMTP 550 RCPT`): nodemailer's
 * own message appends the server's reply, which usually quotes the address, and a failure's
 * message reaches the workflow's history. The reply stays beside the error for the ledger row.
 */
export function classifySmtpError(error: unknown): Error {
  const { responseCode, command, code, message } = error as {
    responseCode?: unknown;
    command?: unknown;
    code?: unknown;
    message?: string;
  };
  const reply = message ?? String(error);
  const verb = typeof command === 'string' ? command.trim().split(/[\s:]/)[0]?.toUpperCase() : undefined;
  if (typeof responseCode === 'number') {
    const text = `SMTP ${responseCode}${verb ? ` ${verb}` : ''}`;
    if (responseCode >= 500) {
      const type = verb === 'RCPT' ? FailureType.InvalidRecipient : FailureType.ProviderRejected;
      return withProviderReply(ApplicationFailure.nonRetryable(text, type), reply);
    }
    return withProviderReply(new Error(text), reply);
  }
  const text =
    typeof code === 'string' && /^[A-Z_]+$/.test(code) ? `SMTP connection failed (${code})` : 'SMTP send failed';
  return withProviderReply(new Error(text), reply);
}

/** The `lastError` of a notification the tenant's disabled template suppressed. */
export const TEMPLATE_DISABLED = 'TemplateDisabled: the tenant disabled this template';

/** The running activity's info, or undefined outside an activity (tests call the notifier directly). */
function activityInfo(): Info | undefined {
  try {
    return Context.current().info;
  } catch {
    return undefined;
  }
}

/**
 * Whether no retry follows this failure: it is non-retryable (by itself or by the activity's retry
 * policy), or this was the policy's last attempt. Outside an activity only non-retryable errors are.
 */
export function isFinal(error: unknown): boolean {
  if (error instanceof ApplicationFailure && error.nonRetryable) return true;
  const info = activityInfo();
  const policy = info?.retryPolicy;
  if (!info || !policy) return false;
  const type = error instanceof ApplicationFailure ? error.type : error instanceof Error ? error.name : undefined;
  if (type && policy.nonRetryableErrorTypes?.includes(type)) return true;
  return policy.maximumAttempts !== undefined && policy.maximumAttempts > 0 && info.attempt >= policy.maximumAttempts;
}

/**
 * `Type: message`, naming an ApplicationFailure by its failure type as the notification workflow
 * does, followed by the provider's reply (redacted) when it gave one: for the ledger row only.
 */
function describe(error: unknown): string {
  const name =
    error instanceof ApplicationFailure ? (error.type ?? error.name) : error instanceof Error ? error.name : '';
  const text = error instanceof Error ? `${name}: ${error.message}` : String(error);
  const reply = redactedProviderReply(error);
  // A provider's text may carry a NUL, and the cut may split a surrogate pair: neither may fail the ledger's write.
  return toStorableText((reply ? `${text} (provider replied: ${reply})` : text).slice(0, 1000));
}

/** The failure type at the head of a `Type: message` description, for events that carry the type only. */
function failureTypeOf(description: string): string {
  const separator = description.indexOf(':');
  return (separator > 0 ? description.slice(0, separator) : description).slice(0, 100);
}

/** A notification of the ledger, as the notification workflow names it. */
export interface NotificationRef {
  tenantId: string;
  notificationId: string;
}

/** What a delivery attempt came to: SUPPRESSED when the tenant disabled the template. */
export interface DeliveryOutcome {
  status: 'SENT' | 'SUPPRESSED' | 'CANCELLED';
  sentAt: string | null;
}

/** The notification event types Holdfast publishes. */
export const NotificationEventType = { Failed: 'notification.failed' } as const;

/** The running workflow's run ID, when called inside an activity. */
function currentRunId(): string | undefined {
  return activityInfo()?.workflowExecution?.runId;
}

/**
 * The general notification activities: `sendNotification` for flows whose message holds nothing
 * secret, and the steps of the notification workflow, which delivers one ledger row recorded by
 * enqueueNotification (activities/notification-requests.ts). Retry them with backoff; see
 * {@link Notifier.send}.
 */
export function createNotificationActivities(deps: NotificationDeps & { temporal?: FanOutStarter }) {
  const { prisma } = deps;
  const now = deps.now ?? (() => new Date());
  const notifier = createNotifier(deps);

  async function loadNotification({ tenantId, notificationId }: NotificationRef) {
    const row = await prisma.notification.findFirst({ where: { id: notificationId, tenantId } });
    if (!row) throw ApplicationFailure.nonRetryable('The notification no longer exists', FailureType.NotFound);
    return row;
  }

  return {
    async sendNotification(request: NotificationRequest): Promise<NotificationResult> {
      return notifier.send(request);
    },

    /**
     * Sends a recorded notification through the ledger: its template (with the tenant's override)
     * and data, or its content as given. A row already SENT or CANCELLED is reported as it is.
     *
     * @throws as {@link Notifier.send}; `NotFound` when the row is gone.
     */
    async deliverNotification(ref: NotificationRef): Promise<DeliveryOutcome> {
      const row = await loadNotification(ref);
      if (row.status === 'SENT') return { status: 'SENT', sentAt: row.sentAt?.toISOString() ?? null };
      // Suppressed by an earlier attempt whose answer was lost: still the tenant's disabled template.
      if (row.status === 'CANCELLED') {
        return { status: row.lastError === TEMPLATE_DISABLED ? 'SUPPRESSED' : 'CANCELLED', sentAt: null };
      }
      const data = (row.data ?? {}) as Record<string, unknown>;
      const content =
        row.template === DIRECT_CONTENT
          ? { subject: row.channel === 'EMAIL' ? (row.subject ?? '') : null, text: row.text ?? '', html: row.html }
          : undefined;
      const result = await notifier.send({
        tenantId: row.tenantId,
        channel: row.channel,
        recipient: row.recipient,
        template: { name: row.template, data },
        ...(content ? { content } : {}),
        locale: row.locale,
        idempotencyKey: row.idempotencyKey,
        ...(row.subject && !content ? { subjectOverride: row.subject } : {}),
      });
      if (result.status === 'SUPPRESSED') return { status: 'SUPPRESSED', sentAt: null };
      const sent = await prisma.notification.findUniqueOrThrow({ where: { id: row.id }, select: { sentAt: true } });
      return { status: 'SENT', sentAt: sent.sentAt?.toISOString() ?? now().toISOString() };
    },

    /**
     * Records that a notification failed for good (its workflow ran out of attempts, or the failure
     * was permanent) and publishes `notification.failed` in the same transaction, once per run.
     * A row that was SENT meanwhile is left alone.
     */
    async failNotification(ref: NotificationRef & { error: string }): Promise<{ eventId: string | null }> {
      const row = await loadNotification(ref);
      if (row.status === 'SENT') return { eventId: null };
      const runId = currentRunId() ?? 'direct';
      const eventId = await prisma.$transaction(async (tx) => {
        // The ledger's own description of the same failure carries the provider's redacted reply; keep it.
        const type = failureTypeOf(ref.error);
        const lastError = row.lastError?.startsWith(`${type}:`)
          ? row.lastError
          : toStorableText(ref.error.slice(0, 1000));
        await tx.notification.update({ where: { id: row.id }, data: { status: 'FAILED', lastError } });
        const { eventId } = await recordEvent(tx, {
          tenantId: row.tenantId,
          key: `${NotificationEventType.Failed}:${row.id}:${runId}`,
          type: NotificationEventType.Failed,
          subject: { type: 'notification', id: row.id },
          // The recipient and the message data stay out of events: webhooks receive only what identifies it.
          data: {
            notificationId: row.id,
            channel: row.channel,
            template: row.template === DIRECT_CONTENT ? null : row.template,
            source: row.source,
            attempts: row.attempts,
            error: failureTypeOf(ref.error),
          },
          source: 'FLOW',
        });
        return eventId;
      });
      await startFanOutsAfterCommit(deps.temporal, row.tenantId, [eventId]);
      return { eventId };
    },

    /** Marks a notification CANCELLED (before sending started), with why and who asked. */
    async cancelNotification(ref: NotificationRef & { reason: string; actor: string | null }): Promise<void> {
      const row = await loadNotification(ref);
      if (row.status === 'SENT' || row.status === 'CANCELLED') return;
      await prisma.notification.update({
        where: { id: row.id },
        data: {
          status: 'CANCELLED',
          cancelledAt: now(),
          lastError: ref.reason === 'REQUESTED' ? `Cancelled by ${ref.actor ?? 'request'}` : ref.reason,
        },
      });
    },

    /** Marks a scheduled notification due (SCHEDULED → PENDING) when its timer fires. */
    async markNotificationDue(ref: NotificationRef): Promise<void> {
      await prisma.notification.updateMany({
        where: { id: ref.notificationId, tenantId: ref.tenantId, status: 'SCHEDULED' },
        data: { status: 'PENDING' },
      });
    },
  };
}

export type NotificationActivities = ReturnType<typeof createNotificationActivities>;

/**
 * What the activities of a flow that offers something through signed links need: the database,
 * the notifier, the key the links are signed with (config.offerTokenSecret; each flow derives its
 * own), the API's public URL the links point to, the fan-out starter for the events the flow
 * publishes (without it the outbox sweep starts them), and the clock.
 */
export interface OfferingFlowDeps {
  prisma: PrismaClient;
  notifier: Notifier;
  offerTokenSecret: string;
  publicBaseUrl: string;
  temporal?: FanOutStarter;
  now?: () => Date;
}
