import { createHmac, timingSafeEqual } from 'node:crypto';
import { tokenKey } from '../domain/token-keys';

/**
 * Signed, short-lived download links for report and export files: `d1.<payload>.<signature>`,
 * both base64url, the signature an HMAC-SHA256 over `d1.<payload>` under the download key derived
 * from the download-link secret (domain/token-keys.ts). The payload names the file's kind, its
 * row, its tenant and the instant the link stops working; nothing is stored, so a link cannot be
 * revoked except by the file expiring or being removed, which is why links are short-lived.
 *
 * Uses node:crypto, so workflows must not import this module.
 */

const VERSION = 'd1';

export type DownloadKind = 'report' | 'export';

export interface DownloadClaims {
  kind: DownloadKind;
  /** The Report or Export row. */
  id: string;
  tenantId: string;
  /** When the link stops working. */
  expiresAt: Date;
}

/** Why a token does not open a file: forged or malformed (404), or genuine but past its time (410). */
export type DownloadTokenCheck =
  { valid: true; claims: DownloadClaims } | { valid: false; reason: 'invalid' | 'expired'; claims?: DownloadClaims };

const sign = (key: Buffer, signedPart: string) => createHmac('sha256', key).update(signedPart).digest();

/** Makes the link token. Deterministic: the same claims always give the same token. */
export function signDownloadToken(secret: string, claims: DownloadClaims): string {
  const payload = Buffer.from(
    JSON.stringify({
      k: claims.kind,
      i: claims.id,
      t: claims.tenantId,
      e: Math.floor(claims.expiresAt.getTime() / 1000),
    }),
  ).toString('base64url');
  const signedPart = `${VERSION}.${payload}`;
  return `${signedPart}.${sign(tokenKey(secret, 'download'), signedPart).toString('base64url')}`;
}

/**
 * Checks a download token. The signature is compared in constant time before the payload is
 * parsed; anything forged, truncated or made for another purpose is `invalid`, and a genuine
 * token past its expiry is `expired`.
 */
export function verifyDownloadToken(secret: string, token: string, now: Date = new Date()): DownloadTokenCheck {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION) return { valid: false, reason: 'invalid' };
  const [, payload, signature] = parts as [string, string, string];
  const expected = sign(tokenKey(secret, 'download'), `${VERSION}.${payload}`);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { valid: false, reason: 'invalid' };
  let raw: { k?: unknown; i?: unknown; t?: unknown; e?: unknown };
  try {
    raw = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof raw;
  } catch {
    return { valid: false, reason: 'invalid' };
  }
  if (
    (raw.k !== 'report' && raw.k !== 'export') ||
    typeof raw.i !== 'string' ||
    typeof raw.t !== 'string' ||
    typeof raw.e !== 'number' ||
    !Number.isFinite(raw.e)
  ) {
    return { valid: false, reason: 'invalid' };
  }
  const claims: DownloadClaims = { kind: raw.k, id: raw.i, tenantId: raw.t, expiresAt: new Date(raw.e * 1000) };
  if (claims.expiresAt.getTime() <= now.getTime()) return { valid: false, reason: 'expired', claims };
  return { valid: true, claims };
}

/** The public URL of a download token (served by api/routes/downloads.ts, outside authentication). */
export function downloadUrl(publicBaseUrl: string, token: string): string {
  return `${publicBaseUrl.replace(/\/$/, '')}/api/v1/downloads/${token}`;
}

/**
 * A link for a file: its token, URL and expiry. The expiry never outlives the file (`fileExpiresAt`),
 * and it is whole seconds, as the token carries it.
 */
export function issueDownloadLink(
  settings: { secret: string; ttlMs: number; publicBaseUrl: string },
  file: { kind: DownloadKind; id: string; tenantId: string; fileExpiresAt?: Date | null },
  from: Date,
): { token: string; url: string; expiresAt: Date } {
  let expiresMs = from.getTime() + settings.ttlMs;
  if (file.fileExpiresAt) expiresMs = Math.min(expiresMs, file.fileExpiresAt.getTime());
  const expiresAt = new Date(Math.floor(expiresMs / 1000) * 1000);
  const token = signDownloadToken(settings.secret, {
    kind: file.kind,
    id: file.id,
    tenantId: file.tenantId,
    expiresAt,
  });
  return { token, url: downloadUrl(settings.publicBaseUrl, token), expiresAt };
}
