import { createHmac } from 'node:crypto';
import request from 'supertest';
import type { Config } from '../../lib/config';
import { useApiStack, type ApiStack } from '../support/api-stack';

/**
 * Bearer tokens as an attacker would make them, each sent to a real app on a real database: every
 * one answers 401 with the error body, and the honest token they are built from answers 200.
 */

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWS made by hand, so that headers, claims and keys can be anything at all. */
function forge(header: Record<string, unknown>, payload: Record<string, unknown>, key: string | undefined): string {
  const signingInput = `${encode(header)}.${encode(payload)}`;
  if (key === undefined) return `${signingInput}.`;
  const hash = header.alg === 'HS512' ? 'sha512' : 'sha256';
  return `${signingInput}.${createHmac(hash, key).update(signingInput).digest('base64url')}`;
}

/** Another token's signature on a different payload. */
function tamper(token: string, payload: Record<string, unknown>): string {
  const [header, , signature] = token.split('.');
  return `${header}.${encode(payload)}.${signature}`;
}

describe('JWT attacks on the API', () => {
  const stack = useApiStack();
  let config: Config;
  let secret: string;
  let maxSeconds: number;
  let app: ApiStack['app'];
  let tenantId: string;

  beforeAll(() => {
    ({ config, app } = stack);
    secret = config.auth.jwtSecret!;
    maxSeconds = config.auth.maxTtlMs / 1000;
    tenantId = stack.tenant.id;
  });

  const now = () => Math.floor(Date.now() / 1000);
  const hs256 = { alg: 'HS256', typ: 'JWT' };
  /** The honest claims every attack starts from: an operator of an ACTIVE tenant, for five minutes. */
  const claims = (overrides: Record<string, unknown> = {}, issuedAt = now()): Record<string, unknown> => ({
    sub: 'user-1',
    tenantId,
    roles: ['operator'],
    iss: config.auth.issuer,
    aud: config.auth.audience,
    iat: issuedAt,
    exp: issuedAt + 300,
    ...overrides,
  });
  /** Claims that live `seconds`, counted from one reading of the clock. */
  const living = (seconds: number) => {
    const issuedAt = now();
    return claims({ iat: issuedAt, exp: issuedAt + seconds });
  };
  const without = (claim: string) => {
    const rest = claims();
    delete rest[claim];
    return rest;
  };
  const me = (token: string) => request(app).get('/api/v1/me').set('Authorization', `Bearer ${token}`);

  it('accepts the honest token the attacks are made from, and one that lives exactly JWT_MAX_TTL', async () => {
    const honest = await me(forge(hs256, claims(), secret));
    const longest = await me(forge(hs256, living(maxSeconds), secret));
    const clockAhead = await me(forge(hs256, claims({ iat: now() + 30 }), secret));

    expect(honest.status).toBe(200);
    expect(honest.body).toEqual({ subject: 'user-1', tenantId, roles: ['operator'] });
    expect(longest.status).toBe(200);
    expect(clockAhead.status).toBe(200);
  });

  const attacks: Array<[string, () => string, string?]> = [
    ['alg: none, unsigned', () => forge({ alg: 'none', typ: 'JWT' }, claims({ roles: ['platform-admin'] }), undefined)],
    [
      'alg: none with a signature part',
      () => `${forge({ alg: 'none' }, claims(), undefined)}${Buffer.from('sig').toString('base64url')}`,
    ],
    ['HS256 signed with an empty key', () => forge(hs256, claims(), '')],
    ["HS256 signed with the guessed key 'secret'", () => forge(hs256, claims(), 'secret')],
    [
      'HS256 signed with the development secret once committed to the repository',
      () => forge(hs256, claims(), 'holdfast-development-secret-change-me-0123456789'),
    ],
    ['HS512 signed with the real secret (algorithm not allowed)', () => forge({ alg: 'HS512' }, claims(), secret)],
    ['RS256 in the header over an HMAC of the real secret', () => forge({ alg: 'RS256' }, claims(), secret)],
    ['expired', () => forge(hs256, claims({ iat: now() - 600, exp: now() - 60 }), secret)],
    ['iat 2 minutes in the future', () => forge(hs256, claims({ iat: now() + 120, exp: now() + 600 }), secret)],
    [
      'iat 11 days in the future',
      () => forge(hs256, claims({ iat: now() + 11 * 86_400, exp: now() + 11 * 86_400 + 300 }), secret),
    ],
    ['a lifetime one second over JWT_MAX_TTL', () => forge(hs256, living(maxSeconds + 1), secret)],
    ['exp in the year 33658', () => forge(hs256, claims({ exp: 1_000_000_000_000 }), secret)],
    ['no exp', () => forge(hs256, without('exp'), secret)],
    ['no iat', () => forge(hs256, without('iat'), secret)],
    ['exp as a string', () => forge(hs256, claims({ exp: String(now() + 300) }), secret)],
    ['nbf in the future', () => forge(hs256, claims({ nbf: now() + 120 }), secret)],
    ['another issuer', () => forge(hs256, claims({ iss: 'https://evil.test' }), secret)],
    ['another audience', () => forge(hs256, claims({ aud: 'someone-else' }), secret)],
    ['no sub', () => forge(hs256, without('sub'), secret)],
    ['sub with a NUL byte', () => forge(hs256, claims({ sub: 'user\u00001' }), secret)],
    ['sub a number', () => forge(hs256, claims({ sub: 42 }), secret)],
    ['no tenantId', () => forge(hs256, without('tenantId'), secret)],
    ['tenantId a number', () => forge(hs256, claims({ tenantId: 42 }), secret)],
    ['tenantId empty', () => forge(hs256, claims({ tenantId: '' }), secret)],
    [
      'tenantId with a NUL byte',
      () => forge(hs256, claims({ tenantId: `${tenantId}\u0000` }), secret),
      'TENANT_UNKNOWN',
    ],
    ['tenantId an unpaired surrogate', () => forge(hs256, claims({ tenantId: '\ud800' }), secret), 'TENANT_UNKNOWN'],
    ['no roles', () => forge(hs256, without('roles'), secret)],
    ['roles a string', () => forge(hs256, claims({ roles: 'platform-admin' }), secret)],
    ['roles empty', () => forge(hs256, claims({ roles: [] }), secret)],
    ['an unknown role', () => forge(hs256, claims({ roles: ['root'] }), secret)],
    [
      'the platform-admin role on a tenant’s token (platform powers reach across tenants)',
      () => forge(hs256, claims({ roles: ['operator', 'platform-admin'] }), secret),
    ],
    [
      'tampered payload: platform-admin re-encoded under the operator token’s signature',
      () => tamper(forge(hs256, claims(), secret), claims({ roles: ['platform-admin'] })),
    ],
    [
      'tampered payload: another tenant under the signature',
      () => tamper(forge(hs256, claims(), secret), claims({ tenantId: 'platform', roles: ['platform-admin'] })),
    ],
    ['not a JWT at all', () => 'not-a-jwt'],
    ['a JWT without its signature part', () => forge(hs256, claims(), secret).split('.').slice(0, 2).join('.')],
  ];

  it.each(attacks)('rejects %s with 401', async (_name, token, code = 'UNAUTHORIZED') => {
    const response = await me(token());

    expect(response.status).toBe(401);
    expect(response.body).toEqual({ error: { code, message: expect.any(String), details: null } });
  });
});
