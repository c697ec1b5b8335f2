import { createHmac } from 'node:crypto';
import { hashInvitationToken, invitationToken, invitationTokenMatching } from '../../domain/invitation-token';
import {
  hashOfferToken,
  offerTokenMatching,
  signLinkToken,
  signOfferToken,
  verifyLinkToken,
  verifyOfferToken,
} from '../../domain/offer-token';
import { tokenKey, type TokenPurpose } from '../../domain/token-keys';
import { hashVendorToken, signVendorToken, vendorTokenMatching, verifyVendorToken } from '../../domain/vendor-token';

const SECRET = 'a-test-secret-of-at-least-32-characters';
const purposes: TokenPurpose[] = ['waitlist-offer', 'vendor-offer', 'invitation'];

/** Flips one character of a base64url string to another valid one. */
const flip = (text: string, index: number) =>
  `${text.slice(0, index)}${text[index] === 'A' ? 'B' : 'A'}${text.slice(index + 1)}`;

describe('link token keys', () => {
  it('each purpose gets its own 256-bit key, and the same secret always derives the same keys', () => {
    const keys = purposes.map((purpose) => tokenKey(SECRET, purpose).toString('hex'));

    expect(new Set(keys).size).toBe(purposes.length);
    for (const key of keys) expect(key).toHaveLength(64);
    expect(purposes.map((purpose) => tokenKey(SECRET, purpose).toString('hex'))).toEqual(keys);
    expect(tokenKey('another-secret-of-at-least-32-characters', 'waitlist-offer').toString('hex')).not.toBe(keys[0]);
  });
});

describe('link tokens', () => {
  const tenantId = 'tenant-1';
  const recordId = '3f1c2a9e-0000-4000-8000-000000000001';

  it('a token signed for one purpose never verifies for another', () => {
    const offer = signOfferToken(SECRET, { tenantId, holdId: recordId });
    const vendor = signVendorToken(SECRET, { tenantId, attemptId: recordId });
    const invitationKeyed = signLinkToken(tokenKey(SECRET, 'invitation'), { tenantId, subjectId: recordId });

    expect(verifyOfferToken(SECRET, offer)).toEqual({ tenantId, holdId: recordId });
    expect(verifyVendorToken(SECRET, vendor)).toEqual({ tenantId, attemptId: recordId });
    expect(verifyVendorToken(SECRET, offer)).toBeUndefined();
    expect(verifyOfferToken(SECRET, vendor)).toBeUndefined();
    expect(verifyOfferToken(SECRET, invitationKeyed)).toBeUndefined();
    expect(verifyVendorToken(SECRET, invitationKeyed)).toBeUndefined();
  });

  it('a current token signed with the raw secret instead of its purpose key is refused', () => {
    const payload = Buffer.from(JSON.stringify({ t: tenantId, h: recordId })).toString('base64url');
    const signature = createHmac('sha256', SECRET).update(`v2.${payload}`).digest('base64url');

    expect(verifyOfferToken(SECRET, `v2.${payload}.${signature}`)).toBeUndefined();
  });

  it('tampering with any part of a token makes it fail', () => {
    const token = signVendorToken(SECRET, { tenantId, attemptId: recordId });
    const [version, payload, signature] = token.split('.') as [string, string, string];
    const otherTenant = Buffer.from(JSON.stringify({ t: 'tenant-2', h: recordId })).toString('base64url');

    const tampered = [
      `${version}.${otherTenant}.${signature}`,
      `${version}.${flip(payload, 3)}.${signature}`,
      `${version}.${payload}.${flip(signature, 5)}`,
      `${version}.${payload}.${signature}A`,
      `${version}.${payload}.`,
      `${version}.${payload}`,
      `v3.${payload}.${signature}`,
      `${token}.extra`,
      '',
    ];

    for (const candidate of tampered) expect(verifyVendorToken(SECRET, candidate)).toBeUndefined();
    expect(verifyLinkToken(tokenKey(SECRET, 'vendor-offer'), token)).toEqual({ tenantId, subjectId: recordId });
  });

  it('a signed payload that is not the expected claims is refused', () => {
    const key = tokenKey(SECRET, 'waitlist-offer');
    const forge = (payload: unknown) => {
      const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
      return `v2.${body}.${createHmac('sha256', key).update(`v2.${body}`).digest('base64url')}`;
    };

    expect(verifyOfferToken(SECRET, forge({ t: tenantId, h: recordId }))).toEqual({ tenantId, holdId: recordId });
    expect(verifyOfferToken(SECRET, forge({ t: tenantId }))).toBeUndefined();
    expect(verifyOfferToken(SECRET, forge({ t: 1, h: recordId }))).toBeUndefined();
    expect(verifyOfferToken(SECRET, forge('text'))).toBeUndefined();
  });
});

/**
 * Link tokens as the release before per-purpose keys signed them, spelled out here rather than
 * taken from the code under test: `v1.<payload>.<HMAC-SHA256 of "v1.<payload>">`, keyed with the
 * secret itself for waitlist offers and with `<secret>:vendor-offer` for vendor offers.
 */
function legacyToken(key: string, tenantId: string, subjectId: string): string {
  const payload = Buffer.from(JSON.stringify({ t: tenantId, h: subjectId })).toString('base64url');
  return `v1.${payload}.${createHmac('sha256', key).update(`v1.${payload}`).digest('base64url')}`;
}

const legacyOfferToken = (tenantId: string, holdId: string) => legacyToken(SECRET, tenantId, holdId);
const legacyVendorToken = (tenantId: string, attemptId: string) =>
  legacyToken(`${SECRET}:vendor-offer`, tenantId, attemptId);

describe('link tokens in messages sent before the upgrade to per-purpose keys (v1)', () => {
  const tenantId = 'tenant-1';
  const recordId = '3f1c2a9e-0000-4000-8000-000000000002';

  it('a v1 offer token is still accepted as an offer token, and never as a vendor token', () => {
    const token = legacyOfferToken(tenantId, recordId);

    expect(verifyOfferToken(SECRET, token)).toEqual({ tenantId, holdId: recordId });
    expect(verifyVendorToken(SECRET, token)).toBeUndefined();
  });

  it('a v1 vendor token is still accepted as a vendor token, and never as an offer token', () => {
    const token = legacyVendorToken(tenantId, recordId);

    expect(verifyVendorToken(SECRET, token)).toEqual({ tenantId, attemptId: recordId });
    expect(verifyOfferToken(SECRET, token)).toBeUndefined();
  });

  it('a v1 token is refused when forged, tampered with, made under another secret or under a current key', () => {
    const token = legacyOfferToken(tenantId, recordId);
    const [, payload, signature] = token.split('.') as [string, string, string];
    const otherTenant = Buffer.from(JSON.stringify({ t: 'tenant-2', h: recordId })).toString('base64url');
    const underCurrentKey = createHmac('sha256', tokenKey(SECRET, 'waitlist-offer'))
      .update(`v1.${payload}`)
      .digest('base64url');

    const refused = [
      `v1.${otherTenant}.${signature}`,
      `v1.${payload}.${flip(signature, 5)}`,
      `v1.${payload}`,
      `${token}.extra`,
      legacyToken('another-secret-of-at-least-32-characters', tenantId, recordId),
      `v1.${payload}.${underCurrentKey}`,
      // A v2 label on a v1 signature: each version is checked only under its own key.
      `v2.${payload}.${signature}`,
    ];

    for (const candidate of refused) expect(verifyOfferToken(SECRET, candidate)).toBeUndefined();
  });

  it('nothing new is signed v1: new holds and routing attempts get v2 tokens', () => {
    expect(signOfferToken(SECRET, { tenantId, holdId: recordId })).toMatch(/^v2\./);
    expect(signVendorToken(SECRET, { tenantId, attemptId: recordId })).toMatch(/^v2\./);
  });

  it('a message re-sent for a hold offered before the upgrade carries the v1 token the hold stores', () => {
    const legacy = legacyOfferToken(tenantId, recordId);
    const current = signOfferToken(SECRET, { tenantId, holdId: recordId });
    const claims = { tenantId, holdId: recordId };

    expect(offerTokenMatching(SECRET, claims, hashOfferToken(legacy))).toBe(legacy);
    expect(offerTokenMatching(SECRET, claims, hashOfferToken(current))).toBe(current);
  });

  it('a message re-sent for a routing attempt offered before the upgrade carries the v1 token it stores', () => {
    const legacy = legacyVendorToken(tenantId, recordId);
    const current = signVendorToken(SECRET, { tenantId, attemptId: recordId });
    const claims = { tenantId, attemptId: recordId };

    expect(vendorTokenMatching(SECRET, claims, hashVendorToken(legacy))).toBe(legacy);
    expect(vendorTokenMatching(SECRET, claims, hashVendorToken(current))).toBe(current);
    expect(vendorTokenMatching(SECRET, claims, null)).toBe(current);
  });

  it('a stored hash of another purpose’s v1 token never makes a message carry that token', () => {
    const vendorLegacy = legacyVendorToken(tenantId, recordId);
    const current = signOfferToken(SECRET, { tenantId, holdId: recordId });

    expect(offerTokenMatching(SECRET, { tenantId, holdId: recordId }, hashOfferToken(vendorLegacy))).toBe(current);
  });
});

describe('invitation tokens', () => {
  const claims = { tenantId: 'acme', userId: 'user-1', onboardingId: 'tenant-onboarding:acme:run-1' };

  it('are keyed by the invitation purpose, not by the raw secret', () => {
    const token = invitationToken(SECRET, claims);
    const rawSecretToken = createHmac('sha256', SECRET)
      .update(`invitation:v1:${claims.tenantId}:${claims.userId}:${claims.onboardingId}`)
      .digest('base64url');

    expect(token).not.toBe(rawSecretToken);
    expect(hashInvitationToken(token)).not.toBe(hashInvitationToken(rawSecretToken));
  });

  it('a welcome email re-sent to a user invited before the upgrade carries the token the user row stores', () => {
    const legacy = createHmac('sha256', SECRET)
      .update(`invitation:v1:${claims.tenantId}:${claims.userId}:${claims.onboardingId}`)
      .digest('base64url');
    const current = invitationToken(SECRET, claims);

    expect(invitationTokenMatching(SECRET, claims, hashInvitationToken(legacy))).toBe(legacy);
    expect(invitationTokenMatching(SECRET, claims, hashInvitationToken(current))).toBe(current);
    expect(invitationTokenMatching(SECRET, claims, null)).toBe(current);
  });

  it('IDs that contain the separator cannot make two invitations share a token', () => {
    const first = invitationToken(SECRET, { tenantId: 'a:b', userId: 'c', onboardingId: 'd' });
    const second = invitationToken(SECRET, { tenantId: 'a', userId: 'b:c', onboardingId: 'd' });

    expect(first).not.toBe(second);
  });
});
