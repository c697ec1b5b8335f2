import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json';

/**
 * Domain events: what a tenant's application reports through the API and what Holdfast's own flows
 * publish. Pure rules shared by the API, the activities and the docs: how a type is spelled, which
 * types are Holdfast's, how an event key is checked and how a report is fingerprinted.
 */

/** Lowercase dot-separated segments, at least two: `ticket.created`, `invoice.payment_failed`. */
export const EVENT_TYPE_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
export const MAX_EVENT_TYPE_LENGTH = 100;

/** Whether `type` is a well-formed event type. */
export function isEventType(type: string): boolean {
  return type.length <= MAX_EVENT_TYPE_LENGTH && EVENT_TYPE_PATTERN.test(type);
}

/** An event key a tenant sends as `id`: printable ASCII, as an Idempotency-Key is. */
export const EVENT_KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;

/**
 * Reported events are stored under their own prefix, apart from the business keys of Holdfast's
 * own events (`order.assigned:{orderId}`), so an `id` a tenant chooses can never take the key of
 * an event a flow publishes later.
 */
const REPORTED_KEY_PREFIX = 'api:';

/** The stored key of an event a tenant reported under `id`. */
export function reportedEventKey(id: string): string {
  return `${REPORTED_KEY_PREFIX}${id}`;
}

/** The key as its publisher knows it: a reporter's own `id`, or a flow's business key. */
export function publicEventKey(storedKey: string, source: string): string {
  return source === 'API' && storedKey.startsWith(REPORTED_KEY_PREFIX)
    ? storedKey.slice(REPORTED_KEY_PREFIX.length)
    : storedKey;
}

/**
 * The events Holdfast's own flows publish, with when. A tenant's application cannot report these
 * types: a receiver trusts that an `order.delivered` came from Holdfast.
 */
export const HOLDFAST_EVENT_TYPES = {
  'offer.accepted': 'A waitlist candidate accepted the offered slot.',
  'slot.unfilled': 'A waitlist cascade ran out of candidates for a slot.',
  'tenant.activated': 'Onboarding finished and the tenant became ACTIVE.',
  'order.assigned': 'A vendor accepted an order, or an operator assigned one.',
  'order.delivered': 'An order was reported delivered.',
  'payment.received': 'A payment was recorded against an order.',
  'notification.failed': 'A notification failed for good.',
  'reminder.sent': 'A step of a reminder sequence was sent.',
  'reminder.completed': 'A reminder sequence was completed (settled, paid) before its last step.',
  'reminder.finished': 'A reminder sequence ran to its last step.',
  'webhook.test': 'A test delivery asked for from the API.',
  'export.completed': "An export's file was written and can be downloaded until it expires.",
  'report.completed': "A report's file was written and can be downloaded until it expires.",
} as const;

export type HoldfastEventType = keyof typeof HOLDFAST_EVENT_TYPES;

/** Whether the type belongs to Holdfast, so that only its flows publish it. */
export function isHoldfastEventType(type: string): type is HoldfastEventType {
  return Object.prototype.hasOwnProperty.call(HOLDFAST_EVENT_TYPES, type);
}

/** A domain event as it is reported, before it is stored. */
export interface EventReport {
  type: string;
  subject?: { type: string; id: string } | null;
  data: Record<string, unknown>;
  /** Only when the reporter named it; a generated time is no part of the event's identity. */
  occurredAt?: Date | null;
}

/**
 * A fingerprint of what a report says: its type, subject, data and (when named) occurrence time.
 * The same event ID reported again with another fingerprint is a different event under a reused ID.
 */
export function eventRequestHash(report: EventReport): string {
  const canonical = canonicalJson({
    type: report.type,
    subject: report.subject ?? null,
    data: report.data,
    occurredAt: report.occurredAt ? report.occurredAt.toISOString() : null,
  });
  return createHash('sha256').update(canonical).digest('hex');
}
