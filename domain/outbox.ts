import { isStorableText } from './input-rules';
import { extractLinks, type NotificationChannel } from './notifications';

/**
 * The dev outbox: one JSON object per line, written by the local SMTP catcher and SMS sink and
 * read by `GET /api/v1/dev/outbox`. Pure formatting and parsing; the file I/O is the caller's.
 *
 * Each record keeps the reference the sender put on the message, which names its Notification
 * ledger row: an email's Message-ID ({@link notificationMessageId}) or an SMS or WhatsApp
 * request's `Idempotency-Key` (the row's idempotency key). The outbox route looks the row up to
 * learn which tenant sent the message; the message itself never carries a tenant ID.
 */
export interface OutboxMessage {
  channel: Lowercase<NotificationChannel>;
  to: string;
  subject: string | null;
  text: string;
  /** Every http(s) URL in the text, e.g. an offer's accept and decline links. */
  links: string[];
  sentAt: string;
}

/** One line of the outbox file: the message and the ledger reference it was caught with. */
export interface OutboxRecord extends OutboxMessage {
  /** Email: the Notification row's ID, read from the Message-ID. */
  notificationId?: string;
  /** SMS and WhatsApp: the Notification row's idempotency key, read from the request's header. */
  idempotencyKey?: string;
}

export interface OutboxFilter {
  /** Only messages to this address (compared case-insensitively). */
  to?: string;
  /** Only messages caught at or after this instant. */
  since?: Date;
  limit?: number;
}

const MAX_REFERENCE_LENGTH = 500;

/**
 * The Message-ID of the email for a Notification row: `<{notificationId}@{sender's domain}>`.
 * The same row always gets the same Message-ID, so a resent message is recognisably the same one.
 */
export function notificationMessageId(notificationId: string, from: string): string {
  const domain = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from)?.[1] ?? 'holdfast.local';
  return `<${notificationId}@${domain}>`;
}

/** The Notification row ID in a Message-ID made by {@link notificationMessageId}, if it is one. */
export function notificationIdOfMessageId(messageId: string | undefined): string | undefined {
  const id = /^<([^<>@\s]+)@[^<>@\s]+>$/.exec(messageId?.trim() ?? '')?.[1];
  return id !== undefined && isReference(id) ? id : undefined;
}

/** One outbox line (with its newline) for a message caught now. */
export function outboxLine(record: Omit<OutboxRecord, 'links'>): string {
  const line: OutboxRecord = { ...record, links: extractLinks(record.text) };
  return `${JSON.stringify(line)}\n`;
}

/**
 * The records in an outbox file's text that pass `filter`, newest first. Lines that are not
 * outbox records are skipped.
 */
export function readOutbox(text: string, filter: OutboxFilter = {}): OutboxRecord[] {
  const wanted = filter.to?.toLowerCase();
  const since = filter.since?.getTime();
  const records: OutboxRecord[] = [];
  for (const line of text.split('\n').reverse()) {
    if (filter.limit !== undefined && records.length >= filter.limit) break;
    const record = parseLine(line);
    if (!record) continue;
    if (wanted !== undefined && record.to.toLowerCase() !== wanted) continue;
    if (since !== undefined && !(Date.parse(record.sentAt) >= since)) continue;
    records.push(record);
  }
  return records;
}

/** What the API shows of a record: the message, without the ledger reference. */
export function outboxMessage(record: OutboxRecord): OutboxMessage {
  const { channel, to, subject, text, links, sentAt } = record;
  return { channel, to, subject, text, links, sentAt };
}

function isReference(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_REFERENCE_LENGTH && isStorableText(value);
}

function parseLine(line: string): OutboxRecord | undefined {
  if (line.trim() === '') return undefined;
  try {
    const value = JSON.parse(line) as Partial<OutboxRecord>;
    if (typeof value.to !== 'string' || typeof value.text !== 'string' || typeof value.sentAt !== 'string') {
      return undefined;
    }
    const record: OutboxRecord = {
      channel: value.channel === 'sms' || value.channel === 'whatsapp' ? value.channel : 'email',
      to: value.to,
      subject: typeof value.subject === 'string' ? value.subject : null,
      text: value.text,
      links: Array.isArray(value.links) ? value.links.filter((link): link is string => typeof link === 'string') : [],
      sentAt: value.sentAt,
    };
    // References are looked up in the database, so only ones PostgreSQL can take are kept.
    if (isReference(value.notificationId)) record.notificationId = value.notificationId;
    if (isReference(value.idempotencyKey)) record.idempotencyKey = value.idempotencyKey;
    return record;
  } catch {
    return undefined;
  }
}
