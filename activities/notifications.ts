import { ApplicationFailure } from '@temporalio/common';
import {
  isValidRecipient,
  renderNotification,
  type NotificationChannel,
  type NotificationTemplate,
  type RenderedMessage,
} from '../domain/notifications';
import { notificationMessageId } from '../domain/outbox';
import type { PrismaClient } from '../lib/db';
import { FailureType } from '../workflows/errors';
import type { SmsProvider } from './sms-provider';

/** What the notifier needs from a mail transport; a nodemailer SMTP transport fits. */
export interface MailTransport {
  sendMail(message: {
    from: string;
    to: string;
    subject: string;
    text: string;
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
  template: NotificationTemplate;
  /**
   * The business identity of the message, e.g. `offer:{holdId}:email`. The ledger row is keyed
   * by it, so a retried activity (or a repeated request) never sends the same message twice.
   */
  idempotencyKey: string;
}

export interface NotificationResult {
  notificationId: string;
  /** `ALREADY_SENT` when an earlier attempt delivered it and this one sent nothing. */
  status: 'SENT' | 'ALREADY_SENT';
  providerId: string | null;
}

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
   * @throws ApplicationFailure `InvalidRecipient` or `ProviderRejected` (non-retryable) when no
   *   retry can deliver it, `ChannelNotConfigured` when the channel has no transport, and
   *   retryable failures (plain errors, `ProviderThrottled`) for transient trouble.
   */
  send(request: NotificationRequest): Promise<NotificationResult>;
}

export function createNotifier(deps: NotificationDeps): Notifier {
  const { prisma } = deps;
  const now = deps.now ?? (() => new Date());

  async function transmit(
    notificationId: string,
    request: NotificationRequest,
    message: RenderedMessage,
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

  return {
    supports: (channel) =>
      channel === 'EMAIL' ? deps.mail !== undefined : (channel === 'SMS' ? deps.sms : deps.whatsapp) !== undefined,

    async send(request) {
      const { tenantId, channel, recipient, template, idempotencyKey } = request;
      const row = await prisma.notification.upsert({
        where: { idempotencyKey },
        create: { tenantId, channel, recipient, template: template.name, idempotencyKey },
        update: {},
      });
      if (row.status === 'SENT') return { notificationId: row.id, status: 'ALREADY_SENT', providerId: row.providerId };
      await prisma.notification.update({ where: { id: row.id }, data: { attempts: { increment: 1 } } });

      try {
        if (!isValidRecipient(channel, recipient)) {
          throw ApplicationFailure.nonRetryable(
            `The recipient is not a valid ${channel} address`,
            FailureType.InvalidRecipient,
          );
        }
        const providerId = await transmit(row.id, request, renderNotification(channel, template));
        await prisma.notification.update({
          where: { id: row.id },
          data: { status: 'SENT', providerId, sentAt: now(), lastError: null },
        });
        return { notificationId: row.id, status: 'SENT', providerId };
      } catch (error) {
        // FAILED means "the latest attempt failed"; a later retry that delivers turns it SENT.
        await prisma.notification.update({
          where: { id: row.id },
          data: { status: 'FAILED', lastError: describe(error) },
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
 */
export function classifySmtpError(error: unknown): Error {
  const { responseCode, command, message } = error as { responseCode?: unknown; command?: unknown; message?: string };
  const text = message ?? String(error);
  if (typeof responseCode === 'number' && responseCode >= 500) {
    const type =
      typeof command === 'string' && /RCPT/i.test(command)
        ? FailureType.InvalidRecipient
        : FailureType.ProviderRejected;
    return ApplicationFailure.nonRetryable(text, type);
  }
  return error instanceof Error ? error : new Error(text);
}

function describe(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, 1000);
}

/**
 * The general notification activity, for flows whose message holds nothing secret: renders the
 * template and sends it through the ledger. Retry it with backoff; see {@link Notifier.send}.
 */
export function createNotificationActivities(deps: NotificationDeps) {
  const notifier = createNotifier(deps);
  return {
    async sendNotification(request: NotificationRequest): Promise<NotificationResult> {
      return notifier.send(request);
    },
  };
}
