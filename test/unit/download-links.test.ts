import { signLinkToken } from '../../domain/offer-token';
import { tokenKey } from '../../domain/token-keys';
import { downloadUrl, issueDownloadLink, signDownloadToken, verifyDownloadToken } from '../../lib/download-links';

const secret = 'a-download-link-secret-of-enough-length';
const claims = {
  kind: 'export' as const,
  id: '5b1f0b36-3f8e-4a56-9d59-0d7c1f9c1a10',
  tenantId: 't-1',
  expiresAt: new Date('2026-12-02T10:00:00Z'),
};
const before = new Date('2026-12-02T09:59:59Z');

describe('download links', () => {
  it('a signed token verifies under the same secret with its claims, until it expires', () => {
    const token = signDownloadToken(secret, claims);

    expect(token).toMatch(/^d1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(verifyDownloadToken(secret, token, before)).toEqual({ valid: true, claims });
    expect(verifyDownloadToken(secret, token, claims.expiresAt)).toEqual({ valid: false, reason: 'expired', claims });
  });

  it('refuses a token signed with another secret, changed in its payload, truncated, or made for another purpose', () => {
    const token = signDownloadToken(secret, claims);
    const [version, payload, signature] = token.split('.') as [string, string, string];
    const otherTenant = Buffer.from(JSON.stringify({ k: 'export', i: claims.id, t: 't-2', e: 1_900_000_000 })).toString(
      'base64url',
    );
    const offerToken = signLinkToken(tokenKey(secret, 'waitlist-offer'), { tenantId: 't-1', subjectId: claims.id });

    for (const forged of [
      signDownloadToken('another-secret-of-enough-length-too', claims),
      `${version}.${otherTenant}.${signature}`,
      `${version}.${payload}`,
      `${version}.${payload}.${signature.slice(0, -1)}`,
      offerToken,
      `d1.${offerToken.split('.').slice(1).join('.')}`,
      '',
      'd1..',
    ]) {
      expect(verifyDownloadToken(secret, forged, before)).toEqual({ valid: false, reason: 'invalid' });
    }
  });

  it('a link never outlives its file, and carries the token in the public downloads path', () => {
    const from = new Date('2026-12-02T09:00:00.500Z');
    const settings = { secret, ttlMs: 24 * 3600_000, publicBaseUrl: 'https://holdfast.example/' };

    const short = issueDownloadLink(settings, { ...claims, fileExpiresAt: new Date('2026-12-02T09:30:00Z') }, from);
    const long = issueDownloadLink(settings, { ...claims, fileExpiresAt: null }, from);

    expect(short.expiresAt.toISOString()).toBe('2026-12-02T09:30:00.000Z');
    expect(long.expiresAt.toISOString()).toBe('2026-12-03T09:00:00.000Z');
    expect(short.url).toBe(downloadUrl('https://holdfast.example', short.token));
    expect(short.url).toBe(`https://holdfast.example/api/v1/downloads/${short.token}`);
    expect(issueDownloadLink(settings, { ...claims, fileExpiresAt: null }, from).token).toBe(long.token);
  });
});
