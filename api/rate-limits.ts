import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import {
  ipKeyGenerator,
  MemoryStore,
  rateLimit,
  type ClientRateLimitInfo,
  type Options,
  type Store,
} from 'express-rate-limit';
import type { Config } from '../lib/config';
import type { PrismaClient } from '../lib/db';
import type { Logger } from '../lib/logger';
import { AppError } from './errors';
import { PostgresRateLimitStore } from './rate-limit-store';

/** Every limit counts requests in fixed one-minute windows. */
const WINDOW_MS = 60_000;
const WINDOW_SECONDS = WINDOW_MS / 1000;

/** The endpoints a response or invitation token opens, without a JWT: guessing targets. */
export const PUBLIC_TOKEN_PATHS = [
  '/api/v1/offers/respond',
  '/api/v1/vendor/offers/respond',
  '/api/v1/vendor/orders/status',
  '/api/v1/invitations/accept',
];

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface RateLimitDeps {
  settings: Config['rateLimits'];
  logger: Logger;
  /** Holds the shared counts when `settings.store` is `postgres`. */
  prisma: PrismaClient;
}

export interface RateLimits {
  /** Mount on {@link PUBLIC_TOKEN_PATHS}, before their routers: per client IP, then per token. */
  publicTokens: RequestHandler[];
  /**
   * Wraps the authentication middleware: counts its answers of 401 per client IP and, past the
   * limit, refuses the IP's requests before they are authenticated.
   */
  authFailures: (authenticate: RequestHandler) => RequestHandler;
  /** Mount after authentication: POST, PUT, PATCH and DELETE per tenant. */
  tenantWrites: RequestHandler;
}

/**
 * The token the public endpoint's route reads: a link's `?token=` on GET and HEAD (the pages a
 * link opens), the JSON or form body's `token` on every other method. Reading the other place
 * would let a random body token on each GET dodge the token's count.
 */
function presentedToken(req: Request): string | undefined {
  const source: unknown = req.method === 'GET' || req.method === 'HEAD' ? req.query : req.body;
  const token = typeof source === 'object' && source !== null ? (source as { token?: unknown }).token : undefined;
  return typeof token === 'string' && token !== '' ? token : undefined;
}

/** The answer past any limit: 429 RATE_LIMITED, written by the one error middleware. */
const rateLimited = (policy: string, limit: number, retryAfterSeconds: number) =>
  new AppError(429, 'RATE_LIMITED', `Too many requests; try again in ${retryAfterSeconds} seconds`, {
    policy,
    limit,
    windowSeconds: WINDOW_SECONDS,
    retryAfterSeconds,
  });

/** Seconds until the window ends, at least one: a client told to wait 0 seconds would retry at once. */
const secondsUntil = (resetTime: Date | undefined) =>
  resetTime ? Math.max(1, Math.ceil((resetTime.getTime() - Date.now()) / 1000)) : WINDOW_SECONDS;

/** The IETF `RateLimit` / `RateLimit-Policy` headers (draft 8), in the form express-rate-limit writes them. */
function setRateLimitHeaders(res: Response, policy: string, limit: number, used: number, resetTime?: Date) {
  res.append('RateLimit', `"${policy}"; r=${Math.max(limit - used, 0)}; t=${secondsUntil(resetTime)}`);
  res.append('RateLimit-Policy', `"${policy}"; q=${limit}; w=${WINDOW_SECONDS}`);
}

/** A store the failed-authentication count can read without counting. Both stores we use can. */
type CountingStore = Pick<Store, 'increment' | 'init'> & {
  get(key: string): Promise<ClientRateLimitInfo | undefined>;
};

const isAuthenticationFailure = (error: unknown) => error instanceof AppError && error.status === 401;

/**
 * The API's rate limits. A limited request gets 429 `RATE_LIMITED` with `Retry-After` and the
 * IETF `RateLimit` / `RateLimit-Policy` headers (draft 8, one entry per policy), which every
 * counted response also carries.
 *
 * Counts live in memory per process by default; `RATE_LIMIT_STORE=postgres` shares them
 * between API instances. When the shared store fails, requests pass and the error is logged:
 * an outage of the counter must not take the API down with it.
 */
export function createRateLimits({ settings, logger, prisma }: RateLimitDeps): RateLimits {
  const storeFor = (policy: string): Store | undefined =>
    settings.store === 'postgres' ? new PostgresRateLimitStore(prisma, policy, logger) : undefined;

  const limiter = (policy: string, limit: number, options: Partial<Options> = {}): RequestHandler =>
    rateLimit({
      windowMs: WINDOW_MS,
      limit,
      identifier: policy,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      store: storeFor(policy),
      passOnStoreError: true,
      // TRUST_PROXY=false is a deliberate setting (no proxy in front), so a client's own
      // X-Forwarded-For is expected noise, not a misconfiguration to report.
      validate: { xForwardedForHeader: false },
      logger: {
        error: (error, message) => logger.error({ err: error, policy }, message ?? 'rate limiter error'),
        warn: (error, message) => logger.warn({ err: error, policy }, message ?? 'rate limiter warning'),
      },
      handler: (_req: Request, res: Response, next: NextFunction) => {
        next(rateLimited(policy, limit, Number(res.getHeader('Retry-After')) || WINDOW_SECONDS));
      },
      ...options,
    });

  return {
    publicTokens: [
      limiter('public-ip', settings.publicPerIpPerMinute),
      // The form posts are parsed here already, so the token can be counted before the route runs.
      express.urlencoded({ extended: false, limit: '8kb' }),
      limiter('public-token', settings.publicPerTokenPerMinute, {
        skip: (req) => presentedToken(req) === undefined,
        // The raw token: the PostgreSQL store hashes every key it writes, and memory keeps it only for the window.
        keyGenerator: (req) => presentedToken(req)!,
      }),
    ],
    authFailures: authFailureLimit(
      settings.authFailuresPerMinute,
      settings.store === 'postgres' ? new PostgresRateLimitStore(prisma, 'auth-failures', logger) : new MemoryStore(),
      logger,
    ),
    tenantWrites: limiter('tenant-writes', settings.tenantWritesPerMinute, {
      skip: (req) => !WRITE_METHODS.has(req.method) || req.principal === undefined,
      keyGenerator: (req) => `tenant:${req.principal!.tenantId}`,
    }),
  };
}

/**
 * Failed authentications per client IP. Only a 401 that authentication itself decided is
 * counted, when it decides it: a request still in flight, one that succeeds, and one whose
 * client hangs up before a success is answered never count, so an honest client with many
 * parallel requests is not throttled. A failure counts even if its client hangs up, because
 * the count is written before the answer is. On arrival the count is only read; at the limit
 * the request gets 429 without being authenticated, a valid token included.
 *
 * Reading on arrival and counting on failure means failures that arrive together before any of
 * them is counted all get their 401: a client sending N guesses at once can exceed the limit by
 * up to N once, and is then blocked until the window ends.
 */
function authFailureLimit(limit: number, store: CountingStore, logger: Logger) {
  const policy = 'auth-failures';
  void store.init?.({ windowMs: WINDOW_MS } as Options);
  const storeFailed = (error: unknown) =>
    logger.error({ err: error, policy }, 'rate limit store failed; request allowed without counting');

  return (authenticate: RequestHandler): RequestHandler =>
    async (req, res, next) => {
      // The same key as express-rate-limit's per-IP limits: an IPv6 client counts by its /56.
      const key = ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown');
      const seen = await store.get(key).catch((error: unknown) => {
        storeFailed(error);
        return undefined;
      });
      if (seen && seen.totalHits >= limit) {
        const retryAfterSeconds = secondsUntil(seen.resetTime);
        setRateLimitHeaders(res, policy, limit, seen.totalHits, seen.resetTime);
        res.set('Retry-After', String(retryAfterSeconds));
        next(rateLimited(policy, limit, retryAfterSeconds));
        return;
      }

      const settle = async (error?: unknown) => {
        if (isAuthenticationFailure(error)) {
          try {
            const counted = await store.increment(key);
            setRateLimitHeaders(res, policy, limit, counted.totalHits, counted.resetTime);
          } catch (storeError) {
            storeFailed(storeError);
          }
        }
        next(error);
      };
      try {
        await authenticate(req, res, (error?: unknown) => void settle(error));
      } catch (error) {
        await settle(error);
      }
    };
}
