import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The candidate's response token: `v1.<payload>.<signature>`, both base64url, the signature an
 * HMAC-SHA256 over `v1.<payload>` with the offer-token secret.
 *
 * The payload names only the tenant and the hold. The token is derived from them, so an
 * activity can rebuild it for a message at any retry without it ever being stored or passing
 * through workflow history; the Hold row keeps only {@link hashOfferToken}. It is single-use
 * because the hold it names leaves `OFFERED` at the first response.
 *
 * Uses node:crypto, so workflows must not import this module.
 */

const VERSION = 'v1';

export interface OfferTokenClaims {
  tenantId: string;
  holdId: string;
}

const sign = (secret: string, signedPart: string) => createHmac('sha256', secret).update(signedPart).digest();

/** Makes the token for a hold. Deterministic: the same hold always gets the same token. */
export function signOfferToken(secret: string, claims: OfferTokenClaims): string {
  const payload = Buffer.from(JSON.stringify({ t: claims.tenantId, h: claims.holdId })).toString('base64url');
  const signedPart = `${VERSION}.${payload}`;
  return `${signedPart}.${sign(secret, signedPart).toString('base64url')}`;
}

/**
 * The claims of a genuine token, or undefined for anything forged, truncated or malformed.
 * The signature is compared in constant time before the payload is even parsed.
 */
export function verifyOfferToken(secret: string, token: string): OfferTokenClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION) return undefined;
  const [version, payload, signature] = parts as [string, string, string];
  const expected = sign(secret, `${version}.${payload}`);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { t?: unknown; h?: unknown };
    if (typeof claims.t !== 'string' || typeof claims.h !== 'string') return undefined;
    return { tenantId: claims.t, holdId: claims.h };
  } catch {
    return undefined;
  }
}

/** What the Hold row stores and the workflow compares: SHA-256 of the token, hex. */
export function hashOfferToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
