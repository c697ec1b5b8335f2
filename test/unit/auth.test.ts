import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createTenantStatusCache, createTokenVerifier, hasRole, type TenantStatus } from '../../api/auth';
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

    const auth = () => ({ jwksUrl, issuer: 'https://idp.test', audience: 'holdfast-api', maxTtlMs: 86_400_000 });

    const sign = (claims: Record<string, unknown>, issuer = 'https://idp.test') =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'key-1' })
        .setSubject('user-1')
        .setIssuer(issuer)
        .setAudience('holdfast-api')
        .setIssuedAt()
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
        .setIssuedAt()
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

describe('tenant status cache', () => {
  /** A tenant table with one row per ID, counting reads; `gate` holds a read until it is opened. */
  function fakeTenants(rows: Record<string, TenantStatus>) {
    const reads: string[] = [];
    let gate: Promise<void> | undefined;
    const prisma = {
      tenant: {
        findUnique: async ({ where }: { where: { id: string } }) => {
          reads.push(where.id);
          const status = rows[where.id];
          await gate;
          return status ? { status } : null;
        },
      },
    };
    return {
      rows,
      reads,
      prisma: prisma as unknown as Parameters<typeof createTenantStatusCache>[0],
      hold() {
        let open!: () => void;
        gate = new Promise((resolve) => (open = resolve));
        return () => {
          gate = undefined;
          open();
        };
      },
    };
  }

  it('answers an ACTIVE tenant from memory until the TTL has passed, then reads it again', async () => {
    const tenants = fakeTenants({ a: 'ACTIVE' });
    let now = 1_000;
    const cache = createTenantStatusCache(tenants.prisma, { ttlMs: 5_000, now: () => now });

    expect(await cache.status('a')).toBe('ACTIVE');
    tenants.rows.a = 'SUSPENDED';
    now += 4_999;
    expect(await cache.status('a')).toBe('ACTIVE');
    now += 1;
    expect(await cache.status('a')).toBe('SUSPENDED');
    expect(tenants.reads).toEqual(['a', 'a']);
  });

  it('reads unknown and inactive tenants every time, so a tenant that becomes ACTIVE is let in at once', async () => {
    const tenants = fakeTenants({ pending: 'PENDING' });
    const cache = createTenantStatusCache(tenants.prisma, { ttlMs: 60_000 });

    expect(await cache.status('pending')).toBe('PENDING');
    expect(await cache.status('missing')).toBeUndefined();
    tenants.rows.pending = 'ACTIVE';
    tenants.rows.missing = 'ACTIVE';

    expect(await cache.status('pending')).toBe('ACTIVE');
    expect(await cache.status('missing')).toBe('ACTIVE');
    expect(tenants.reads).toEqual(['pending', 'missing', 'pending', 'missing']);
  });

  it('forgets a tenant at once when told its status changed', async () => {
    const tenants = fakeTenants({ a: 'ACTIVE' });
    const cache = createTenantStatusCache(tenants.prisma, { ttlMs: 60_000 });
    await cache.status('a');

    tenants.rows.a = 'SUSPENDED';
    cache.forget('a');

    expect(await cache.status('a')).toBe('SUSPENDED');
  });

  it('does not keep an ACTIVE answer read before a change it was told of', async () => {
    const tenants = fakeTenants({ a: 'ACTIVE' });
    const cache = createTenantStatusCache(tenants.prisma, { ttlMs: 60_000 });
    const release = tenants.hold();
    const slowRead = cache.status('a');

    tenants.rows.a = 'SUSPENDED';
    cache.forget('a');
    release();

    expect(await slowRead).toBe('ACTIVE');
    expect(await cache.status('a')).toBe('SUSPENDED');
  });
});
