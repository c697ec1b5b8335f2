import { createHash, createHmac } from 'node:crypto';
import { tokenKey } from './token-keys';

/**
 * The invitation token in a new user's welcome email: an opaque 256-bit value, the HMAC-SHA256
 * of the tenant, the user and the onboarding that invited them, under the invitation key that
 * HKDF derives from the invitation secret (domain/token-keys.ts). The three IDs are encoded as a
 * JSON array, so no choice of IDs can make two invitations sign the same text.
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
  return createHmac('sha256', tokenKey(secret, 'invitation'))
    .update(JSON.stringify([tenantId, userId, onboardingId]))
    .digest('base64url');
}

/*
 * Legacy invitation tokens. Before each purpose had its own HKDF key, the invitation token was
 * the HMAC of `invitation:v1:<tenant>:<user>:<onboarding>` under the secret itself. A user invited
 * then stores that token's hash, so a welcome email re-sent after an upgrade must carry the same
 * token for its link to work. It is rebuilt only for such a user, never issued anew.
 */
const legacyInvitationToken = (secret: string, { tenantId, userId, onboardingId }: InvitationClaims) =>
  createHmac('sha256', secret).update(`invitation:v1:${tenantId}:${userId}:${onboardingId}`).digest('base64url');

/**
 * The token for a welcome email to a user whose row stores `tokenHash`: the legacy token when the
 * user was invited before the upgrade, the current one otherwise.
 */
export function invitationTokenMatching(secret: string, claims: InvitationClaims, tokenHash: string | null): string {
  const legacy = legacyInvitationToken(secret, claims);
  return hashInvitationToken(legacy) === tokenHash ? legacy : invitationToken(secret, claims);
}

/** What the User row stores: SHA-256 of the token, hex. */
export function hashInvitationToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The link in the welcome email: the page that accepts the invitation. */
export function invitationUrl(publicBaseUrl: string, token: string): string {
  return `${publicBaseUrl.replace(/\/$/, '')}/api/v1/invitations/accept?${new URLSearchParams({ token }).toString()}`;
}
