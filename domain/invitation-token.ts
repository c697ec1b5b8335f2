import { createHash, createHmac } from 'node:crypto';

/**
 * The invitation token in a new user's welcome email: an opaque 256-bit value, the HMAC-SHA256
 * of the tenant, the user and the onboarding that invited them under the invitation secret.
 *
 * Derived rather than random, so the welcome-email activity rebuilds the same token at every
 * retry without it being stored or passing through workflow history. The User row keeps only
 * {@link hashInvitationToken}; a presented token is checked by looking its hash up, so no
 * signature needs parsing. A new onboarding of the same tenant makes a new token.
 *
 * Uses node:crypto, so workflows must not import this module.
 */
export interface InvitationClaims {
  tenantId: string;
  userId: string;
  /** The onboarding (workflow ID and first run ID) that issued the invitation. */
  onboardingId: string;
}

export function invitationToken(secret: string, { tenantId, userId, onboardingId }: InvitationClaims): string {
  return createHmac('sha256', secret).update(`invitation:v1:${tenantId}:${userId}:${onboardingId}`).digest('base64url');
}

/** What the User row stores: SHA-256 of the token, hex. */
export function hashInvitationToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The link in the welcome email: the page that accepts the invitation. */
export function invitationUrl(publicBaseUrl: string, token: string): string {
  return `${publicBaseUrl.replace(/\/$/, '')}/api/v1/invitations/accept?${new URLSearchParams({ token }).toString()}`;
}
