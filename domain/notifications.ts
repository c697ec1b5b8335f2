import type { OnboardingTemplate } from './onboarding-messages';
import type { OrderTemplate } from './order-messages';

/**
 * Message content and recipient rules for every channel. Pure: no transport, no database, no
 * Node built-ins, so every flow renders and validates messages alike.
 */

/** WhatsApp goes through an HTTP provider adapter like SMS, and takes the same E.164 numbers. */
export type NotificationChannel = 'EMAIL' | 'SMS' | 'WHATSAPP';

/** A rendered message; SMS has no subject. */
export interface RenderedMessage {
  subject: string | null;
  text: string;
}

export type OfferDecision = 'accept' | 'decline';

/**
 * Every template Holdfast sends, with the data each one needs. Times are ISO-8601 strings: a
 * template request may cross an activity boundary, where payloads are JSON.
 */
export type NotificationTemplate =
  | {
      name: 'waitlist.offer';
      data: {
        tenantName: string;
        customerName: string;
        slotName: string;
        startsAt: string | null;
        expiresAt: string;
        acceptUrl: string;
        declineUrl: string;
      };
    }
  | {
      name: 'waitlist.confirmation';
      data: { tenantName: string; customerName: string; slotName: string; startsAt: string | null };
    }
  | {
      name: 'waitlist.escalation';
      data: {
        tenantName: string;
        slotId: string;
        slotName: string;
        offered: number;
        declined: number;
        expired: number;
        unreachable: number;
      };
    }
  | OnboardingTemplate
  | OrderTemplate;

export type TemplateName = NotificationTemplate['name'];

const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;
/** E.164: a plus, a country code and up to 15 digits in all. */
const PHONE = /^\+[1-9]\d{6,14}$/;

/** Whether a recipient can be sent to on a channel at all; no retry fixes one that cannot. */
export function isValidRecipient(channel: NotificationChannel, recipient: string): boolean {
  return channel === 'EMAIL' ? recipient.length <= 254 && EMAIL.test(recipient) : PHONE.test(recipient);
}

/** `2026-11-25 14:30 UTC`: unambiguous in any mail client and stable in tests. */
export function formatUtc(date: Date | string): string {
  return `${new Date(date).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * The link a candidate follows to answer an offer. It opens a confirmation page (a GET never
 * acts, so mail scanners that prefetch links cannot accept or decline for anyone); the page
 * POSTs `{ token, decision }` to the same path. Scripts can read both parameters off the link.
 */
export function offerResponseUrl(publicBaseUrl: string, token: string, decision: OfferDecision): string {
  const query = new URLSearchParams({ token, decision });
  return `${publicBaseUrl.replace(/\/$/, '')}/api/v1/offers/respond?${query.toString()}`;
}

/** The http(s) URLs in a message body, in order, without trailing punctuation. */
export function extractLinks(text: string): string[] {
  return (text.match(/https?:\/\/[^\s<>"']+/g) ?? []).map((link) => link.replace(/[.,;:!?)]+$/, ''));
}
