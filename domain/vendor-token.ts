import { hashOfferToken, purposeTokenMatching, signLinkToken, verifyPurposeToken } from './offer-token';
import { tokenKey } from './token-keys';

/**
 * A vendor's response token for one routing attempt: the same signed format as the waitlist's
 * offer tokens (domain/offer-token.ts), under the vendor-offer key derived from the same secret
 * (domain/token-keys.ts), so a customer's offer token can never pass as a vendor's and the other
 * way round. Uses node:crypto: not for workflows.
 */

export interface VendorTokenClaims {
  tenantId: string;
  attemptId: string;
}

/** The token of a new routing attempt. Deterministic: the same attempt always gets the same token. */
export function signVendorToken(secret: string, claims: VendorTokenClaims): string {
  return signLinkToken(tokenKey(secret, 'vendor-offer'), { tenantId: claims.tenantId, subjectId: claims.attemptId });
}

/**
 * The claims of a genuine vendor token (a legacy v1 one included), or undefined for anything
 * forged, malformed or made for another purpose.
 */
export function verifyVendorToken(secret: string, token: string): VendorTokenClaims | undefined {
  const claims = verifyPurposeToken(secret, 'vendor-offer', token);
  return claims && { tenantId: claims.tenantId, attemptId: claims.subjectId };
}

/** The token for a message about a routing attempt: the one whose hash the attempt stores, legacy or current. */
export function vendorTokenMatching(secret: string, claims: VendorTokenClaims, tokenHash: string | null): string {
  return purposeTokenMatching(
    secret,
    'vendor-offer',
    { tenantId: claims.tenantId, subjectId: claims.attemptId },
    tokenHash,
  );
}

/** What RoutingAttempt.tokenHash stores and the workflow compares. */
export const hashVendorToken = hashOfferToken;
