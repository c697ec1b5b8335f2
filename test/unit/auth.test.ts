import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createTokenVerifier, hasRole } from '../../api/auth';
import { AppError } from '../../api/errors';

describe('bearer token verification', () => {
  describe('with RS256 keys from a JWKS URL', () => {
    let server: http.Server;
    let jwksUrl: string;
    let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

    beforeAll(async () => {
      const pair = await generateKeyPair('RS256');
      privateKey = pair.privateKey;
      const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'key-1', alg: 'RS256', use: 'sig' };
      server = http.createServer((_req, res) => {
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ keys: [jwk] }));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
    });

    afterAll(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    const auth = () => ({ jwksUrl, issuer: 'https://idp.test', audience: 'holdfast-api' });

    const sign = (claims: Record<string, unknown>, issuer = 'https://idp.test') =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'key-1' })
        .setSubject('user-1')
        .setIssuer(issuer)
        .setAudience('holdfast-api')
        .setExpirationTime('5m')
        .sign(privateKey);

    it('accepts a token signed by a key the JWKS publishes', async () => {
      const verify = createTokenVerifier(auth());

      const principal = await verify(await sign({ tenantId: 'tenant-a', roles: ['operator'] }));

      expect(principal).toEqual({ subject: 'user-1', tenantId: 'tenant-a', roles: ['operator'] });
    });

    it('rejects a token from another issuer', async () => {
      const verify = createTokenVerifier(auth());

      const token = await sign({ tenantId: 'tenant-a', roles: ['operator'] }, 'https://evil.test');

      await expect(verify(token)).rejects.toThrow(AppError);
    });

    it('rejects an HS256 token when RS256 is pinned, even one signed with a public value', async () => {
      const verify = createTokenVerifier(auth());
      const token = await new SignJWT({ tenantId: 'tenant-a', roles: ['platform-admin'] })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('user-1')
        .setIssuer('https://idp.test')
        .setAudience('holdfast-api')
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode('some-shared-secret-that-is-long-enough'));

      await expect(verify(token)).rejects.toMatchObject({ status: 401 });
    });

    it('rejects roles it does not know', async () => {
      const verify = createTokenVerifier(auth());

      await expect(verify(await sign({ tenantId: 'tenant-a', roles: ['root'] }))).rejects.toMatchObject({
        status: 401,
      });
    });
  });

  it('orders roles so that each includes the ones below it', () => {
    const principal = (role: 'member' | 'operator' | 'tenant-admin' | 'platform-admin') => ({
      subject: 's',
      tenantId: 't',
      roles: [role],
    });

    expect(hasRole(principal('tenant-admin'), 'operator')).toBe(true);
    expect(hasRole(principal('platform-admin'), 'tenant-admin')).toBe(true);
    expect(hasRole(principal('operator'), 'tenant-admin')).toBe(false);
    expect(hasRole(principal('member'), 'operator')).toBe(false);
  });
});
