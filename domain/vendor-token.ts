import { hashOfferToken, signOfferToken, verifyOfferToken } from './offer-token';

/**
 * A vendor's response token for one routing attempt: the same signed format as the waitlist's
 * offer tokens (domain/offer-token.ts), under a key derived for vendors, so a customer's offer
 * token can never pass as a vendor's and the other way round. Uses node:crypto: not for workflows.
 */

export interface VendorTokenClaims {
  tenantId: string;
  attemptId: string;
}

const vendorKey = (secret: string) => `${secret}:vendor-offer`;

/** Deterministic: an activity rebuilds the same token for a message at any retry. */
export function signVendorToken(secret: string, claims: VendorTokenClaims): string {
  return signOfferToken(vendorKey(secret), { tenantId: claims.tenantId, holdId: claims.attemptId });
}

/** The claims of a genuine vendor token, or undefined for anything forged or malformed. */
export function verifyVendorToken(secret: string, token: string): VendorTokenClaims | undefined {
  const claims = verifyOfferToken(vendorKey(secret), token);
  return claims && { tenantId: claims.tenantId, attemptId: claims.holdId };
}

/** What RoutingAttempt.tokenHash stores and the workflow compares. */
export const hashVendorToken = hashOfferToken;
