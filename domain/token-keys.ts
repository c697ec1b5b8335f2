import { hkdfSync } from 'node:crypto';

/**
 * Per-purpose keys for the tokens in links: each purpose gets its own key, derived from the
 * configured secret with HKDF-SHA256 (RFC 5869), so a token made for one purpose can never be
 * checked under another's key, and no derived key reveals the secret or a sibling key.
 *
 * Uses node:crypto, so workflows must not import this module.
 */
export type TokenPurpose = 'waitlist-offer' | 'vendor-offer' | 'invitation' | 'download';

/** Names the application in every derivation, so keys never collide with another system's HKDF use of the same secret. */
const SALT = 'holdfast link tokens';

/** A 256-bit key for `purpose`. Deterministic: the same secret and purpose give the same key. */
export function tokenKey(secret: string, purpose: TokenPurpose): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, SALT, `holdfast/${purpose}/v2`, 32));
}
