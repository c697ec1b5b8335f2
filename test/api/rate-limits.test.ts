import { createHash, randomBytes, randomInt } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import express, { type ErrorRequestHandler } from 'express';
import request from 'supertest';
import type { Client } from '@temporalio/client';
import type { AppDeps } from '../../api/app';
import { createTokenVerifier, type VerifyToken } from '../../api/auth';
import { AppError, errorMiddleware } from '../../api/errors';
import { PostgresRateLimitStore } from '../../api/rate-limit-store';
import { createRateLimits } from '../../api/rate-limits';
import { loadConfig } from '../../lib/config';
import type { PrismaClient } from '../../lib/db';
import { createLogger } from '../../lib/logger';
import { useApiStack } from '../support/api-stack';
import { createTestTenant, testConfig, testLogger, testPrisma, tokenFor } from '../support/stack';

/** Guessed tokens are refused before any workflow is touched; a client that does nothing proves it. */
const noTemporal = { workflow: {} } as unknown as Client;

/** A client address of its own per test (the app trusts X-Forwarded-For from loopback), so counts never mix. */
const newIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
const guess = () => `v1.${randomBytes(24).toString('base64url')}.${randomBytes(32).toString('base64url')}`;

type Settings = Record<string, string>;

/** A promise opened from outside: holds requests in flight until the test lets them go. */
function latch() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

/**
 * The real verifier, holding every call until `release.open()`: requests are then provably in
 * flight together. `onArrive` runs as each one reaches authentication.
 */
function heldVerifier(verify: VerifyToken) {
  const held = { arrived: 0, release: latch(), onArrive: () => {} };
  const verifyToken: VerifyToken = async (token) => {
    held.arrived += 1;
    held.onArrive();
    await held.release.opened;
    return verify(token);
  };
  return { held, verifyToken };
}

/** The app on a real loopback port, for requests that supertest cannot make: from another source address, or abandoned. */
async function listening(app: express.Express) {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

interface RawCall {
  port: number;
  path: string;
  method?: string;
  /** The client's own source address on loopback: 127.0.0.2 and 127.0.0.3 stand for two different proxies. */
  localAddress?: string;
  headers?: Record<string, string>;
  body?: unknown;
}

function rawRequest({ port, path, method = 'GET', localAddress, headers = {}, body }: RawCall) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const req = http.request({
    host: '127.0.0.1',
    port,
    path,
    method,
    localAddress,
    headers: payload ? { ...headers, 'content-type': 'application/json' } : headers,
  });
  req.end(payload);
  return req;
}

function rawCall(call: RawCall): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: unknown }> {
  return new Promise((resolve, reject) => {
    rawRequest(call)
      .on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text || 'null') }),
        );
      })
      .on('error', reject);
  });
}

describe('rate limits', () => {
  const stack = useApiStack();
  let prisma: PrismaClient;

  beforeAll(() => {
    prisma = stack.prisma;
  });

  /** An app with these limits (and the other settings of the tests), on `db`. */
  function appWith(settings: Settings, db: PrismaClient = prisma, deps: Partial<AppDeps> = {}) {
    return stack.appWith({ prisma: db, temporal: noTemporal, ...deps }, settings);
  }

  const statuses = (responses: { status: number }[]) => responses.map((response) => response.status);
  const policyOf = (response: request.Response) =>
    (response.body as { error: { details: { policy: string } } }).error.details.policy;

  describe('public token endpoints', () => {
    it('300 token guesses from one IP: the first 20 are answered, the other 280 get 429 RATE_LIMITED with Retry-After and RateLimit headers', async () => {
      const app = appWith({ RATE_LIMIT_PUBLIC_PER_MINUTE: '20' });
      const ip = newIp();
      const responses: request.Response[] = [];

      for (let i = 0; i < 300; i += 1) {
        responses.push(
          await request(app)
            .post('/api/v1/offers/respond')
            .set('X-Forwarded-For', ip)
            .send({ token: guess(), decision: 'accept' }),
        );
      }

      expect(statuses(responses.slice(0, 20)).every((status) => status === 400)).toBe(true);
      expect(statuses(responses.slice(20))).toEqual(Array(280).fill(429));
      const limited = responses[20]!;
      expect(limited.body).toEqual({
        error: {
          code: 'RATE_LIMITED',
          message: expect.stringMatching(/^Too many requests; try again in \d+ seconds$/),
          details: { policy: 'public-ip', limit: 20, windowSeconds: 60, retryAfterSeconds: expect.any(Number) },
        },
      });
      const retryAfter = Number(limited.headers['retry-after']);
      expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
      expect(limited.body.error.details.retryAfterSeconds).toBe(retryAfter);
      expect(limited.headers['ratelimit']).toMatch(/"public-ip"; r=0; t=\d+/);
      expect(limited.headers['ratelimit-policy']).toMatch(/"public-ip"; q=20; w=60; pk=:[\w+/=]+:/);
      expect(responses[0]!.headers['ratelimit']).toMatch(/"public-ip"; r=19; t=\d+/);
    });

    it('the per-IP count covers every public token endpoint and method, and another IP is not affected', async () => {
      const app = appWith({ RATE_LIMIT_PUBLIC_PER_MINUTE: '4' });
      const ip = newIp();
      const from = (test: request.Test, address = ip) => test.set('X-Forwarded-For', address);

      const answered = [
        await from(request(app).get(`/api/v1/offers/respond?token=${guess()}&decision=accept`)),
        await from(request(app).post('/api/v1/vendor/offers/respond').send({ token: guess(), decision: 'accept' })),
        await from(request(app).post('/api/v1/vendor/orders/status').send({ token: guess(), status: 'DISPATCHED' })),
        await from(
          request(app)
            .post('/api/v1/invitations/accept')
            .type('form')
            .send({ token: 'a'.repeat(43) }),
        ),
      ];
      const limited = [
        await from(request(app).get(`/api/v1/invitations/accept?token=${'b'.repeat(43)}`)),
        await from(request(app).post('/api/v1/offers/respond').type('form').send({ token: guess(), decision: 'x' })),
      ];
      const otherIp = await from(request(app).get(`/api/v1/vendor/offers/respond?token=${guess()}`), newIp());

      expect(statuses(answered).some((status) => status === 429)).toBe(false);
      expect(statuses(limited)).toEqual([429, 429]);
      expect(limited.map(policyOf)).toEqual(['public-ip', 'public-ip']);
      expect(otherIp.status).not.toBe(429);
    });

    it('one token is limited on its own, from any IP, whether it comes in the query, a JSON body or a form', async () => {
      const app = appWith({ RATE_LIMIT_TOKEN_PER_MINUTE: '5' });
      const token = guess();
      const fromNewIp = (test: request.Test) => test.set('X-Forwarded-For', newIp());

      const answered = [
        await fromNewIp(request(app).get(`/api/v1/offers/respond?token=${token}&decision=accept`)),
        await fromNewIp(request(app).post('/api/v1/offers/respond').send({ token, decision: 'accept' })),
        await fromNewIp(request(app).post('/api/v1/offers/respond').type('form').send({ token, decision: 'accept' })),
        await fromNewIp(request(app).post('/api/v1/vendor/offers/respond').send({ token, decision: 'reject' })),
        await fromNewIp(request(app).post('/api/v1/vendor/orders/status').send({ token, status: 'DELIVERED' })),
      ];
      const limited = await fromNewIp(request(app).post('/api/v1/offers/respond').send({ token, decision: 'accept' }));
      const otherToken = await fromNewIp(
        request(app).post('/api/v1/offers/respond').send({ token: guess(), decision: 'accept' }),
      );

      expect(statuses(answered).some((status) => status === 429)).toBe(false);
      expect(limited.status).toBe(429);
      expect(limited.body.error).toMatchObject({ code: 'RATE_LIMITED', details: { policy: 'public-token', limit: 5 } });
      expect(limited.headers['retry-after']).toMatch(/^\d+$/);
      expect(limited.headers['ratelimit']).toMatch(/"public-token"; r=0; t=\d+/);
      expect(otherToken.status).toBe(400);
    });

    it('a GET or HEAD is counted under the link token it carries, so a different body token on each one does not dodge the count', async () => {
      const app = appWith({ RATE_LIMIT_TOKEN_PER_MINUTE: '3' });
      const token = guess();
      const link = `/api/v1/offers/respond?token=${token}&decision=accept`;
      // Serialised by hand: superagent writes no JSON body for GET or HEAD by itself.
      const withDecoyBody = (test: request.Test) =>
        test
          .set('X-Forwarded-For', newIp())
          .set('Content-Type', 'application/json')
          .send(JSON.stringify({ token: guess() }));

      const answered = [
        await withDecoyBody(request(app).get(link)),
        await withDecoyBody(request(app).head(link)),
        await withDecoyBody(request(app).get(link)),
      ];
      const limited = await withDecoyBody(request(app).get(link));

      expect(statuses(answered).some((status) => status === 429)).toBe(false);
      expect(limited.status).toBe(429);
      expect(policyOf(limited)).toBe('public-token');
    });

    it('a POST is counted under its body token, whatever token its query names', async () => {
      const app = appWith({ RATE_LIMIT_TOKEN_PER_MINUTE: '2' });
      const token = guess();
      const post = () =>
        request(app)
          .post(`/api/v1/vendor/offers/respond?token=${guess()}`)
          .set('X-Forwarded-For', newIp())
          .send({ token, decision: 'accept' });

      const answered = [await post(), await post()];
      const limited = await post();

      expect(statuses(answered).some((status) => status === 429)).toBe(false);
      expect(limited.status).toBe(429);
      expect(policyOf(limited)).toBe('public-token');
    });
  });

  describe.each([
    ['in memory', { RATE_LIMIT_STORE: 'memory' }],
    ['in PostgreSQL', { RATE_LIMIT_STORE: 'postgres' }],
  ])('authentication failures, counted %s', (_store, storeSetting) => {
    const limitOf = (limit: number) => ({ ...storeSetting, RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: String(limit) });
    let validToken: string;

    beforeAll(async () => {
      const tenantId = (await createTestTenant(prisma)).id;
      validToken = `Bearer ${await tokenFor(testConfig(), tenantId, 'member')}`;
    });

    it('after 5 answers of 401 an IP gets 429 with Retry-After and RateLimit headers, even with a valid token; another IP, and an IP whose requests succeed, are not limited', async () => {
      const app = appWith(limitOf(5));
      const attacker = newIp();
      const get = (ip: string, authorization?: string) => {
        const test = request(app).get('/api/v1/tenant').set('X-Forwarded-For', ip);
        return authorization ? test.set('Authorization', authorization) : test;
      };

      const failures = [
        await get(attacker, 'Bearer not-a-jwt'),
        await get(attacker),
        await get(attacker, `Bearer ${guess()}`),
        await get(attacker, 'Basic dXNlcjpwYXNz'),
        await get(attacker, 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'),
      ];
      const blocked = await get(attacker, validToken);
      const honest = newIp();
      const successes = [];
      for (let i = 0; i < 10; i += 1) successes.push(await get(honest, validToken));
      const stillAllowed = await get(honest, 'Bearer not-a-jwt');

      expect(statuses(failures)).toEqual([401, 401, 401, 401, 401]);
      expect(failures.map((response) => /r=(\d+)/.exec(String(response.headers['ratelimit']))?.[1])).toEqual([
        '4',
        '3',
        '2',
        '1',
        '0',
      ]);
      expect(blocked.status).toBe(429);
      expect(blocked.body).toEqual({
        error: {
          code: 'RATE_LIMITED',
          message: expect.stringMatching(/^Too many requests; try again in \d+ seconds$/),
          details: { policy: 'auth-failures', limit: 5, windowSeconds: 60, retryAfterSeconds: expect.any(Number) },
        },
      });
      const retryAfter = Number(blocked.headers['retry-after']);
      expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
      expect(blocked.body.error.details.retryAfterSeconds).toBe(retryAfter);
      expect(blocked.headers['ratelimit']).toMatch(/^"auth-failures"; r=0; t=\d+$/);
      expect(blocked.headers['ratelimit-policy']).toBe('"auth-failures"; q=5; w=60');
      expect(statuses(successes)).toEqual(Array(10).fill(200));
      expect(successes.some((response) => 'ratelimit' in response.headers)).toBe(false);
      expect(stillAllowed.status).toBe(401);
    });

    it('25 concurrent successful requests from one IP are all answered, with a limit of 5 failures', async () => {
      const { held, verifyToken } = heldVerifier(createTokenVerifier(testConfig().auth));
      const app = appWith(limitOf(5), prisma, { verifyToken });
      const ip = newIp();
      let answeredEarly = 0;
      // Released once every request is either in authentication or already answered, so all are in flight together.
      const releaseWhenAllIn = () => {
        if (held.arrived + answeredEarly === 25) held.release.open();
      };
      held.onArrive = releaseWhenAllIn;

      const responses = await Promise.all(
        Array.from({ length: 25 }, () =>
          request(app)
            .get('/api/v1/tenant')
            .set('X-Forwarded-For', ip)
            .set('Authorization', validToken)
            .then((response) => {
              answeredEarly += 1;
              releaseWhenAllIn();
              return response;
            }),
        ),
      );
      const next = await request(app).get('/api/v1/tenant').set('X-Forwarded-For', ip).set('Authorization', validToken);

      expect(held.arrived).toBe(26);
      expect(statuses(responses)).toEqual(Array(25).fill(200));
      expect(next.status).toBe(200);
    });

    it('10 requests whose client hangs up before the answer, with a limit of 10 failures, leave the next request unthrottled', async () => {
      const { held, verifyToken } = heldVerifier(createTokenVerifier(testConfig().auth));
      const server = await listening(appWith(limitOf(10), prisma, { verifyToken }));
      const ip = newIp();
      const headers = { 'x-forwarded-for': ip, authorization: validToken };
      let answeredEarly = 0;
      const pending = Array.from({ length: 10 }, () =>
        rawRequest({ port: server.port, path: '/api/v1/tenant', headers }).on('error', () => {}),
      );
      for (const req of pending) req.on('response', () => (answeredEarly += 1));
      const allIn = new Promise<void>((resolve) => {
        const check = () => held.arrived + answeredEarly === 10 && resolve();
        held.onArrive = check;
        for (const req of pending) req.on('response', check);
      });

      await allIn;
      const hungUp = pending.map((req) => new Promise((resolve) => req.on('close', resolve)));
      for (const req of pending) req.destroy();
      await Promise.all(hungUp);
      held.release.open();
      const next = await rawCall({ port: server.port, path: '/api/v1/tenant', headers });
      await server.close();

      expect(next.status).toBe(200);
      expect(answeredEarly).toBe(0);
    });

    it('a failed attempt counts even when its client hangs up before the 401', async () => {
      const config = testConfig(limitOf(3));
      const logger = testLogger(config);
      const limits = createRateLimits({ settings: config.rateLimits, logger, prisma });
      let arrived = 0;
      let handled = 0;
      let onArrive = () => {};
      let onHandled = () => {};
      const app = express();
      app.set('trust proxy', 'loopback');
      app.use(
        limits.authFailures(async (_req, res) => {
          arrived += 1;
          onArrive();
          // The failure is decided only once the server has seen its client go.
          await new Promise((resolve) => res.once('close', resolve));
          throw new AppError(401, 'UNAUTHORIZED', 'A bearer token is required');
        }),
      );
      const answer = errorMiddleware(logger);
      const countingErrors: ErrorRequestHandler = (error, req, res, next) => {
        handled += 1;
        onHandled();
        answer(error, req, res, next);
      };
      app.use(countingErrors);
      const server = await listening(app);
      const headers = { 'x-forwarded-for': newIp() };

      const attempts = Array.from({ length: 3 }, () =>
        rawRequest({ port: server.port, path: '/', headers }).on('error', () => {}),
      );
      const allHandled = new Promise<void>((resolve) => (onHandled = () => handled === 3 && resolve()));
      await new Promise<void>((resolve) => (onArrive = () => arrived === 3 && resolve()));
      for (const req of attempts) req.destroy();
      await allHandled;
      const next = await rawCall({ port: server.port, path: '/', headers });
      await server.close();

      expect(next.status).toBe(429);
      expect(next.body).toMatchObject({
        error: { code: 'RATE_LIMITED', details: { policy: 'auth-failures', limit: 3 } },
      });
      expect(arrived).toBe(3);
    });
  });

  describe('TRUST_PROXY', () => {
    const trustProxyOf = (value: string | undefined) =>
      loadConfig({ APP_ENV: 'test', ...(value === undefined ? {} : { TRUST_PROXY: value }) }).api.trustProxy;
    const problemsOf = (value: string) => {
      try {
        loadConfig({ APP_ENV: 'test', TRUST_PROXY: value });
        return undefined;
      } catch (error) {
        return (error as Error).message;
      }
    };

    it('accepts false, a hop count, or addresses, CIDRs and range names, and defaults to loopback', () => {
      expect(trustProxyOf(undefined)).toEqual(['loopback']);
      expect(trustProxyOf('')).toEqual(['loopback']);
      expect(trustProxyOf('false')).toBe(false);
      expect(trustProxyOf('2')).toBe(2);
      expect(trustProxyOf('10.0.0.0/8, 192.168.1.7,loopback,uniquelocal,linklocal,fd00::/8,::1')).toEqual([
        '10.0.0.0/8',
        '192.168.1.7',
        'loopback',
        'uniquelocal',
        'linklocal',
        'fd00::/8',
        '::1',
      ]);
    });

    it.each(['true', '10.0.0.0/33', '10.0.0.300', 'proxy.internal', 'loopback,', '-1', '::1/129'])(
      'refuses TRUST_PROXY=%s at start-up, naming the setting',
      (value) => {
        expect(problemsOf(value)).toMatch(/TRUST_PROXY: /);
      },
    );

    describe('with a trusted proxy at 127.0.0.2', () => {
      let server: Awaited<ReturnType<typeof listening>>;

      beforeAll(async () => {
        server = await listening(appWith({ TRUST_PROXY: '127.0.0.2', RATE_LIMIT_PUBLIC_PER_MINUTE: '2' }));
      });

      afterAll(async () => {
        await server.close();
      });

      const guessFrom = (proxy: string, client: string) =>
        rawCall({
          port: server.port,
          path: '/api/v1/offers/respond',
          method: 'POST',
          localAddress: proxy,
          headers: { 'x-forwarded-for': client },
          body: { token: guess(), decision: 'accept' },
        });

      it("its X-Forwarded-For names the client that per-IP limits count: one client is limited, the proxy's other clients are not", async () => {
        const [first, second] = [newIp(), newIp()];

        const allowed = [await guessFrom('127.0.0.2', first), await guessFrom('127.0.0.2', first)];
        const limited = await guessFrom('127.0.0.2', first);
        const otherClient = await guessFrom('127.0.0.2', second);

        expect(statuses(allowed)).toEqual([400, 400]);
        expect(limited.status).toBe(429);
        expect(otherClient.status).toBe(400);
      });

      it('an untrusted peer is counted by its own address, whatever X-Forwarded-For it sends', async () => {
        const spoofed = [
          await guessFrom('127.0.0.3', newIp()),
          await guessFrom('127.0.0.3', newIp()),
          await guessFrom('127.0.0.3', newIp()),
        ];

        expect(statuses(spoofed)).toEqual([400, 400, 429]);
      });
    });

    it('with TRUST_PROXY=false, X-Forwarded-For is ignored even from loopback', async () => {
      const app = appWith({ TRUST_PROXY: 'false', RATE_LIMIT_PUBLIC_PER_MINUTE: '2' });
      const post = () =>
        request(app)
          .post('/api/v1/offers/respond')
          .set('X-Forwarded-For', newIp())
          .send({ token: guess(), decision: 'accept' });

      const responses = [await post(), await post(), await post()];

      expect(statuses(responses)).toEqual([400, 400, 429]);
    });
  });

  describe('tenant writes', () => {
    it('tenant A is throttled after 3 writes in a minute from any IP, while tenant B writes and tenant A reads go on', async () => {
      const app = appWith({ RATE_LIMIT_TENANT_WRITES_PER_MINUTE: '3' });
      const config = testConfig();
      const [tenantA, tenantB] = [(await createTestTenant(prisma)).id, (await createTestTenant(prisma)).id];
      const adminA = `Bearer ${await tokenFor(config, tenantA, 'tenant-admin')}`;
      const adminB = `Bearer ${await tokenFor(config, tenantB, 'tenant-admin')}`;
      const retailer = (n: number) => ({
        name: `Shop ${n}`,
        channel: 'EMAIL',
        contact: `shop${n}@shops.test`,
        creditLimit: 1000,
      });
      const create = (authorization: string, n: number) =>
        request(app)
          .post('/api/v1/retailers')
          .set('Authorization', authorization)
          .set('X-Forwarded-For', newIp())
          .send(retailer(n));

      const allowed = [await create(adminA, 1), await create(adminA, 2), await create(adminA, 3)];
      const throttled = await create(adminA, 4);
      const otherTenant = await create(adminB, 5);
      const read = await request(app).get('/api/v1/retailers').set('Authorization', adminA);

      expect(statuses(allowed)).toEqual([201, 201, 201]);
      expect(throttled.status).toBe(429);
      expect(throttled.body.error).toMatchObject({
        code: 'RATE_LIMITED',
        details: { policy: 'tenant-writes', limit: 3 },
      });
      expect(throttled.headers['ratelimit-policy']).toMatch(/"tenant-writes"; q=3; w=60/);
      expect(await prisma.retailer.count({ where: { tenantId: tenantA } })).toBe(3);
      expect(otherTenant.status).toBe(201);
      expect(read.status).toBe(200);
    });
  });

  describe('the shared PostgreSQL store', () => {
    const shared = { RATE_LIMIT_STORE: 'postgres', RATE_LIMIT_PUBLIC_PER_MINUTE: '10' };
    let otherPrisma: PrismaClient;

    beforeAll(() => {
      // A second pool, as a second API process would have.
      otherPrisma = testPrisma(testConfig());
    });

    afterAll(async () => {
      await otherPrisma.$disconnect();
    });

    const answer = (app: express.Express, ip: string) =>
      request(app).post('/api/v1/offers/respond').set('X-Forwarded-For', ip).send({ token: guess(), decision: 'x' });

    it('two API instances share one count: 10 requests spread over both pass, then both answer 429', async () => {
      const [first, second] = [appWith(shared), appWith(shared, otherPrisma)];
      const ip = newIp();

      const spread = [];
      for (let i = 0; i < 10; i += 1) spread.push(await answer(i % 2 === 0 ? first : second, ip));
      const afterwards = [await answer(first, ip), await answer(second, ip)];

      expect(statuses(spread).some((status) => status === 429)).toBe(false);
      expect(spread.map((response) => /r=(\d+)/.exec(String(response.headers['ratelimit']))![1])).toEqual([
        '9',
        '8',
        '7',
        '6',
        '5',
        '4',
        '3',
        '2',
        '1',
        '0',
      ]);
      expect(statuses(afterwards)).toEqual([429, 429]);
    });

    it('50 concurrent requests over both instances let exactly 10 through: no hit is lost', async () => {
      const [first, second] = [appWith(shared), appWith(shared, otherPrisma)];
      const ip = newIp();

      const responses = await Promise.all(
        Array.from({ length: 50 }, (_, i) => answer(i % 2 === 0 ? first : second, ip)),
      );

      expect(statuses(responses).filter((status) => status !== 429)).toHaveLength(10);
      expect(statuses(responses).filter((status) => status === 429)).toHaveLength(40);
    });

    it('the in-memory default counts per instance', async () => {
      const memory = { RATE_LIMIT_PUBLIC_PER_MINUTE: '3' };
      const [first, second] = [appWith(memory), appWith(memory)];
      const ip = newIp();

      const onFirst = [await answer(first, ip), await answer(first, ip), await answer(first, ip)];
      const onSecond = [await answer(second, ip), await answer(second, ip), await answer(second, ip)];
      const fourthOnFirst = await answer(first, ip);

      expect(statuses([...onFirst, ...onSecond]).some((status) => status === 429)).toBe(false);
      expect(fourthOnFirst.status).toBe(429);
    });

    it('stores hashed keys only, starts a new window once the old one ended, gives back and resets hits', async () => {
      const store = new PostgresRateLimitStore(prisma, `store-test-${randomInt(1e9)}`, testLogger(testConfig()));
      store.init({ windowMs: 60_000 } as Parameters<typeof store.init>[0]);
      const ip = newIp();

      const before = await store.get(ip);
      const first = await store.increment(ip);
      const second = await store.increment(ip);
      await store.decrement(ip);
      const afterDecrement = await store.increment(ip);
      const read = await store.get(ip);
      const rows = await prisma.rateLimitHit.findMany({ where: { key: { startsWith: `${store.prefix}:` } } });
      await prisma.rateLimitHit.updateMany({
        where: { key: rows[0]!.key },
        data: { resetAt: new Date(Date.now() - 1000) },
      });
      const readAfterWindow = await store.get(ip);
      const nextWindow = await store.increment(ip);
      await store.resetKey(ip);
      const afterReset = await store.increment(ip);

      expect(before).toBeUndefined();
      expect([first.totalHits, second.totalHits, afterDecrement.totalHits]).toEqual([1, 2, 2]);
      expect(read).toEqual({ totalHits: 2, resetTime: first.resetTime });
      expect(readAfterWindow).toBeUndefined();
      expect(second.resetTime).toEqual(first.resetTime);
      expect(first.resetTime!.getTime() - Date.now()).toBeGreaterThan(0);
      expect(rows).toHaveLength(1);
      expect(rows[0]!.key).not.toContain(ip);
      expect(nextWindow.totalHits).toBe(1);
      expect(nextWindow.resetTime!.getTime()).toBeGreaterThan(first.resetTime!.getTime());
      expect(afterReset.totalHits).toBe(1);
    });

    it('a token is hashed once: its shared row is keyed by the SHA-256 of the token, and the token is stored nowhere', async () => {
      const app = appWith(shared);
      const token = guess();

      await request(app)
        .post('/api/v1/offers/respond')
        .set('X-Forwarded-For', newIp())
        .send({ token, decision: 'accept' });
      const rows = await prisma.rateLimitHit.findMany({ where: { key: { startsWith: 'public-token:' } } });

      expect(rows.map((row) => row.key)).toContain(
        `public-token:${createHash('sha256').update(token).digest('base64url')}`,
      );
      expect(rows.some((row) => row.key.includes(token))).toBe(false);
    });

    it('when the shared store fails, requests pass and the failure is logged', async () => {
      const lines: string[] = [];
      const logger = createLogger({ logLevel: 'error' }, 'test', {
        destination: new Writable({
          write(chunk, _encoding, done) {
            lines.push(String(chunk));
            done();
          },
        }),
      });
      const broken = {
        $queryRaw: () => Promise.reject(new Error('connection refused')),
        $executeRaw: () => Promise.reject(new Error('connection refused')),
      } as unknown as PrismaClient;
      const settings = testConfig(shared).rateLimits;
      const app = express();
      app.set('trust proxy', 'loopback');
      app.use('/api/v1/offers/respond', ...createRateLimits({ settings, logger, prisma: broken }).publicTokens);
      app.use((_req, res) => {
        res.status(204).end();
      });

      const response = await request(app).post('/api/v1/offers/respond').send({ token: guess() });

      expect(response.status).toBe(204);
      expect(lines.map((line) => JSON.parse(line) as { policy: string; err: { message: string } })).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            policy: 'public-ip',
            err: expect.objectContaining({ message: 'connection refused' }),
          }),
        ]),
      );
    });
  });
});
