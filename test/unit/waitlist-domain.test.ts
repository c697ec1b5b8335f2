import { compareCandidates, pickNextCandidate } from '../../domain/candidates';
import { holdDurationMs } from '../../domain/holds';
import { rejectionForSettledHold } from '../../workflows/waitlist-cascade.contract';
import {
  extractLinks,
  isValidRecipient,
  offerResponseUrl,
  type NotificationTemplate,
} from '../../domain/notifications';
import { hashOfferToken, signOfferToken, verifyOfferToken } from '../../domain/offer-token';
import { outboxLine, readOutbox } from '../../domain/outbox';
import { renderNotification } from '../support/legacy-messages';

const SECRET = 'unit-test-offer-secret-of-32-characters!';

describe('candidate ranking', () => {
  const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 9, minute));

  it('offers the highest priority first, then whoever joined first', () => {
    const entries = [
      { id: 'c', priority: 1, joinedAt: at(1) },
      { id: 'a', priority: 5, joinedAt: at(9) },
      { id: 'b', priority: 5, joinedAt: at(3) },
    ];

    expect([...entries].sort(compareCandidates).map((e) => e.id)).toEqual(['b', 'a', 'c']);
    expect(pickNextCandidate(entries)?.id).toBe('b');
  });

  it('breaks exact ties by ID, so every reader agrees, and answers undefined for an empty list', () => {
    const tie = [
      { id: 'y', priority: 0, joinedAt: at(0) },
      { id: 'x', priority: 0, joinedAt: at(0) },
    ];

    expect(pickNextCandidate(tie)?.id).toBe('x');
    expect(pickNextCandidate([])).toBeUndefined();
  });
});

describe('hold rules', () => {
  it('uses the slot’s hold (seconds) over the tenant’s (minutes), and 15 minutes when neither is set', () => {
    expect(holdDurationMs(90, 20)).toBe(90_000);
    expect(holdDurationMs(null, 20)).toBe(20 * 60_000);
    expect(holdDurationMs(undefined, undefined)).toBe(15 * 60_000);
  });

  it('maps a settled hold to the 409 code the respond endpoint answers with', () => {
    expect(rejectionForSettledHold('EXPIRED')).toBe('HOLD_EXPIRED');
    expect(rejectionForSettledHold('CONFIRMED')).toBe('ALREADY_RESPONDED');
    expect(rejectionForSettledHold('DECLINED')).toBe('ALREADY_RESPONDED');
    expect(rejectionForSettledHold('RELEASED')).toBe('HOLD_SUPERSEDED');
  });
});

describe('offer tokens', () => {
  const claims = { tenantId: 'tenant-1', holdId: '3f1c2a9e-0000-4000-8000-000000000001' };

  it('round-trips the tenant and hold, and the same hold always gets the same token', () => {
    const token = signOfferToken(SECRET, claims);

    expect(verifyOfferToken(SECRET, token)).toEqual(claims);
    expect(signOfferToken(SECRET, claims)).toBe(token);
    expect(hashOfferToken(token)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('rejects a token signed with another secret, with a changed payload, truncated, or of another version', () => {
    const token = signOfferToken(SECRET, claims);
    const [version, , signature] = token.split('.');
    const otherPayload = Buffer.from(JSON.stringify({ t: 'tenant-2', h: claims.holdId })).toString('base64url');

    expect(verifyOfferToken('another-secret-of-at-least-32-characters', token)).toBeUndefined();
    expect(verifyOfferToken(SECRET, `${version}.${otherPayload}.${signature}`)).toBeUndefined();
    expect(verifyOfferToken(SECRET, token.slice(0, -3))).toBeUndefined();
    expect(verifyOfferToken(SECRET, token.replace(/^v2/, 'v1'))).toBeUndefined();
    expect(verifyOfferToken(SECRET, 'not a token')).toBeUndefined();
  });
});

describe('notifications', () => {
  const offer: NotificationTemplate = {
    name: 'waitlist.offer',
    data: {
      tenantName: 'Demo Clinic',
      customerName: 'Ada',
      slotName: 'Dr. Lee 14:30',
      startsAt: '2026-12-01T14:30:00.000Z',
      expiresAt: '2026-11-25T10:15:00.000Z',
      acceptUrl: offerResponseUrl('http://localhost:3000/', 'v1.abc.def', 'accept'),
      declineUrl: offerResponseUrl('http://localhost:3000', 'v1.abc.def', 'decline'),
    },
  };

  it('puts the accept and decline links, carrying the token and the decision, in the offer', () => {
    const email = renderNotification('EMAIL', offer);
    const links = extractLinks(email.text);

    expect(email.subject).toBe('A place is free for you: Dr. Lee 14:30');
    expect(email.text).toContain('held for you until 2026-11-25 10:15 UTC');
    expect(links).toEqual([
      'http://localhost:3000/api/v1/offers/respond?token=v1.abc.def&decision=accept',
      'http://localhost:3000/api/v1/offers/respond?token=v1.abc.def&decision=decline',
    ]);
  });

  it('renders SMS without a subject and still with both links', () => {
    const sms = renderNotification('SMS', offer);

    expect(sms.subject).toBeNull();
    expect(extractLinks(sms.text)).toHaveLength(2);
  });

  it('tells the admin how the offers went when a slot is unfilled', () => {
    const text = renderNotification('EMAIL', {
      name: 'waitlist.escalation',
      data: {
        tenantName: 'T',
        slotId: 's-1',
        slotName: 'Table 4',
        offered: 3,
        declined: 1,
        expired: 1,
        unreachable: 1,
      },
    });

    expect(text.subject).toBe('Unfilled: Table 4');
    expect(text.text).toContain('Offers made: 3; declined: 1; expired: 1; unreachable: 1.');
  });

  it('accepts plausible email addresses and E.164 numbers only', () => {
    expect(isValidRecipient('EMAIL', 'ada@example.com')).toBe(true);
    expect(isValidRecipient('EMAIL', 'ada@localhost')).toBe(false);
    expect(isValidRecipient('EMAIL', 'not an email')).toBe(false);
    expect(isValidRecipient('SMS', '+14155550123')).toBe(true);
    expect(isValidRecipient('SMS', '0415 555 0123')).toBe(false);
  });

  it('extracts links without trailing punctuation', () => {
    expect(extractLinks('Go to https://a.test/x?y=1. Or (http://b.test/z).')).toEqual([
      'https://a.test/x?y=1',
      'http://b.test/z',
    ]);
  });
});

describe('dev outbox format', () => {
  it('lists messages newest first, filtered by recipient regardless of case, and skips junk lines', () => {
    const text = [
      outboxLine({
        channel: 'email',
        to: 'ada@x.test',
        subject: 'one',
        text: 'see https://a.test/1',
        sentAt: '2026-01-01T00:00:00Z',
      }),
      'not json\n',
      outboxLine({ channel: 'sms', to: '+14155550123', subject: null, text: 'hi', sentAt: '2026-01-01T00:01:00Z' }),
      outboxLine({
        channel: 'email',
        to: 'Ada@X.test',
        subject: 'two',
        text: 'no links',
        sentAt: '2026-01-01T00:02:00Z',
      }),
    ].join('');

    const messages = readOutbox(text, { to: 'ada@x.test' });

    expect(messages.map((m) => m.subject)).toEqual(['two', 'one']);
    expect(messages[1]!.links).toEqual(['https://a.test/1']);
    expect(readOutbox(text, { limit: 1 })).toHaveLength(1);
  });
});
