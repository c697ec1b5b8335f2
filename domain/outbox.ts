import { extractLinks, type NotificationChannel } from './notifications';

/**
 * The dev outbox: one JSON object per line, written by the local SMTP catcher and SMS sink and
 * read by `GET /api/v1/dev/outbox`. Pure formatting and parsing; the file I/O is the caller's.
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

/** One outbox line (with its newline) for a message caught now. */
export function outboxLine(message: Omit<OutboxMessage, 'links'>): string {
  const record: OutboxMessage = { ...message, links: extractLinks(message.text) };
  return `${JSON.stringify(record)}\n`;
}

/**
 * The messages in an outbox file's text, newest first, optionally only those to one address
 * (compared case-insensitively). Lines that are not outbox records are skipped.
 */
export function readOutbox(text: string, filter: { to?: string; limit?: number } = {}): OutboxMessage[] {
  const wanted = filter.to?.toLowerCase();
  const messages: OutboxMessage[] = [];
  for (const line of text.split('\n').reverse()) {
    if (filter.limit !== undefined && messages.length >= filter.limit) break;
    const message = parseLine(line);
    if (message && (wanted === undefined || message.to.toLowerCase() === wanted)) messages.push(message);
  }
  return messages;
}

function parseLine(line: string): OutboxMessage | undefined {
  if (line.trim() === '') return undefined;
  try {
    const value = JSON.parse(line) as Partial<OutboxMessage>;
    if (typeof value.to !== 'string' || typeof value.text !== 'string' || typeof value.sentAt !== 'string') {
      return undefined;
    }
    return {
      channel: value.channel === 'sms' || value.channel === 'whatsapp' ? value.channel : 'email',
      to: value.to,
      subject: typeof value.subject === 'string' ? value.subject : null,
      text: value.text,
      links: Array.isArray(value.links) ? value.links.filter((link): link is string => typeof link === 'string') : [],
      sentAt: value.sentAt,
    };
  } catch {
    return undefined;
  }
}
