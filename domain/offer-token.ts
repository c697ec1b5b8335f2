import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { tokenKey, type TokenPurpose } from './token-keys';

/**
 * The candidate's response token: `v2.<payload>.<signature>`, both base64url, the signature an
 * HMAC-SHA256 over `v2.<payload>` under the waitlist-offer key derived from the offer-token
 * secret (domain/token-keys.ts). Links sent before that key existed carry `v1` tokens, which are
 * still accepted (the legacy section below).
 *
 * The payload names only the tenant and the hold. The token is derived from them, so an
 * activity can rebuild it for a message at any retry without it ever being stored or passing
 * through workflow history; the Hold row keeps only {@link hashOfferToken}. It is single-use
 * because the hold it names leaves `OFFERED` at the first response.
 *
 * Uses node:crypto, so workflows must not import this module.
 */

const VERSION = 'v2';

export interface OfferTokenClaims {
  tenantId: string;
  holdId: string;
}

/** What a link token names: its tenant and one record (a hold, a routing attempt). */
export interface LinkTokenClaims {
  tenantId: string;
  subjectId: string;
}

/** The purposes whose tokens have this signed format (invitation tokens are opaque). */
export type LinkTokenPurpose = Extract<TokenPurpose, 'waitlist-offer' | 'vendor-offer'>;

const sign = (key: Buffer, signedPart: string) => createHmac('sha256', key).update(signedPart).digest();

function signAs(version: string, key: Buffer, claims: LinkTokenClaims): string {
  const payload = Buffer.from(JSON.stringify({ t: claims.tenantId, h: claims.subjectId })).toString('base64url');
  const signedPart = `${version}.${payload}`;
  return `${signedPart}.${sign(key, signedPart).toString('base64url')}`;
}

function verifyAs(version: string, key: Buffer, token: string): LinkTokenClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== version) return undefined;
  const [, payload, signature] = parts as [string, string, string];
  const expected = sign(key, `${version}.${payload}`);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { t?: unknown; h?: unknown };
    if (typeof claims.t !== 'string' || typeof claims.h !== 'string') return undefined;
    return { tenantId: claims.t, subjectId: claims.h };
  } catch {
    return undefined;
  }
}

/**
 * Signs a link token under an already derived per-purpose key. Offer and vendor tokens share
 * this format and differ only in their key.
 */
export function signLinkToken(key: Buffer, claims: LinkTokenClaims): string {
  return signAs(VERSION, key, claims);
}

/**
 * The claims of a genuine link token under `key`, or undefined for anything forged, truncated,
 * malformed or made for another purpose. The signature is compared in constant time before the
 * payload is even parsed.
 */
export function verifyLinkToken(key: Buffer, token: string): LinkTokenClaims | undefined {
  return verifyAs(VERSION, key, token);
}

/*
 * Legacy `v1` link tokens. Before each purpose had its own HKDF key, waitlist offer tokens were
 * signed with the secret itself and vendor tokens with `<secret>:vendor-offer`. Messages already
 * in customers' and vendors' inboxes carry such links, and their holds and routing attempts store
 * the hash of the v1 token, so an upgrade must not break them: a v1 token is still accepted, and
 * a re-sent message for such a record carries it again, until that offer ends. Nothing new is
 * signed v1. The two legacy keys differ, so a v1 offer token never passes as a vendor's, nor the
 * other way round.
 */
const LEGACY_VERSION = 'v1';

const legacyKey = (secret: string, purpose: LinkTokenPurpose) =>
  Buffer.from(purpose === 'vendor-offer' ? `${secret}:vendor-offer` : secret, 'utf8');

/** The claims of a genuine current or legacy link token made for `purpose`, or undefined for anything else. */
export function verifyPurposeToken(
  secret: string,
  purpose: LinkTokenPurpose,
  token: string,
): LinkTokenClaims | undefined {
  return token.startsWith(`${LEGACY_VERSION}.`)
    ? verifyAs(LEGACY_VERSION, legacyKey(secret, purpose), token)
    : verifyLinkToken(tokenKey(secret, purpose), token);
}

/**
 * The token for a message about a record that stores `tokenHash`: the legacy token when the
 * record was issued one before the upgrade, so that its link is still the one the record accepts;
 * the current token otherwise.
 */
export function purposeTokenMatching(
  secret: string,
  purpose: LinkTokenPurpose,
  claims: LinkTokenClaims,
  tokenHash: string | null,
): string {
  const legacy = signAs(LEGACY_VERSION, legacyKey(secret, purpose), claims);
  return hashOfferToken(legacy) === tokenHash ? legacy : signLinkToken(tokenKey(secret, purpose), claims);
}

/** Makes the token for a hold. Deterministic: the same hold always gets the same token. */
export function signOfferToken(secret: string, claims: OfferTokenClaims): string {
  return signLinkToken(tokenKey(secret, 'waitlist-offer'), { tenantId: claims.tenantId, subjectId: claims.holdId });
}

/** The claims of a genuine waitlist offer token (a legacy v1 one included), or undefined for anything else. */
export function verifyOfferToken(secret: string, token: string): OfferTokenClaims | undefined {
  const claims = verifyPurposeToken(secret, 'waitlist-offer', token);
  return claims && { tenantId: claims.tenantId, holdId: claims.subjectId };
}

/** The token for a message about a hold: the one whose hash the hold stores, legacy or current. */
export function offerTokenMatching(secret: string, claims: OfferTokenClaims, tokenHash: string): string {
  return purposeTokenMatching(
    secret,
    'waitlist-offer',
    { tenantId: claims.tenantId, subjectId: claims.holdId },
    tokenHash,
  );
}

/** What the Hold row stores and the workflow compares: SHA-256 of the token, hex. */
export function hashOfferToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
