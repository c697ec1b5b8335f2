import type { Request, RequestHandler, Response } from 'express';
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import { isStorableText } from '../domain/input-rules';
import { tenantIdForSlug } from '../domain/tenants';
import type { Config } from '../lib/config';
import type { PrismaClient } from '../lib/db';
import { describeSeconds } from '../lib/durations';
import { AppError } from './errors';

/** Roles from the least to the most powerful; a role grants everything below it. */
export const roles = ['member', 'operator', 'tenant-admin', 'platform-admin'] as const;
export type Role = (typeof roles)[number];

/**
 * The platform admins' pseudo-tenant. No tenant row has this ID (the slug is reserved, and
 * tenant IDs are derived from slugs), and only a platform-admin token may name it.
 */
export const PLATFORM_TENANT_ID = 'platform';

export interface Principal {
  subject: string;
  tenantId: string;
  roles: Role[];
}

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

/** The longest subject and tenant ID a token may carry; both end up in audit rows. */
const MAX_CLAIM_LENGTH = 255;

/** How far in the future `iat` may lie, for clocks that disagree a little. */
export const MAX_CLOCK_SKEW_SECONDS = 60;

const claimsSchema = z.object({
  sub: z.string().min(1).max(MAX_CLAIM_LENGTH).refine(isStorableText),
  tenantId: z.string().min(1),
  roles: z.array(z.enum(roles)).min(1).max(roles.length),
});

export type VerifyToken = (token: string) => Promise<Principal>;

const unauthorized = (message: string) => new AppError(401, 'UNAUTHORIZED', message);

/**
 * The bounds jose does not enforce by itself: `iat` at most {@link MAX_CLOCK_SKEW_SECONDS} in
 * the future, and a lifetime (`exp` - `iat`) of at most JWT_MAX_TTL, so a leaked token is
 * useful for a day at most, however its issuer minted it.
 */
function checkLifetime(payload: JWTPayload, maxTtlMs: number, nowSeconds: number): void {
  const { iat, exp } = payload as { iat: number; exp: number };
  if (iat > nowSeconds + MAX_CLOCK_SKEW_SECONDS) throw unauthorized('The token was issued in the future (iat)');
  const maxSeconds = Math.floor(maxTtlMs / 1000);
  if (exp - iat > maxSeconds) {
    throw unauthorized(`The token lives longer (exp - iat) than the ${describeSeconds(maxSeconds)} the API accepts`);
  }
}

/**
 * Builds the bearer-token verifier: HS256 with a shared secret by default, RS256 through a
 * JWKS URL when one is configured. Algorithms, issuer and audience are enforced; `exp`, `iat`
 * and `sub` are required, `iat` may not lie in the future, and `exp` - `iat` may not exceed
 * JWT_MAX_TTL. `sub` is stored text (it becomes the actor of audit rows), `tenantId` a string and
 * `roles` a non-empty array of known roles. Whether the tenant exists is {@link authenticate}'s
 * question, not this one's.
 *
 * @throws AppError 401 UNAUTHORIZED for any token that fails a check.
 */
export function createTokenVerifier(auth: Config['auth']): VerifyToken {
  // iat is required rather than inferred: without it, a token minted to live for a year would
  // become acceptable in its last day, and every identity provider we expect sets it.
  const options = { issuer: auth.issuer, audience: auth.audience, requiredClaims: ['exp', 'iat', 'sub'] };
  const verify = auth.jwksUrl
    ? (() => {
        const jwks: JWTVerifyGetKey = createRemoteJWKSet(new URL(auth.jwksUrl));
        return (token: string) => jwtVerify(token, jwks, { ...options, algorithms: ['RS256'] });
      })()
    : (() => {
        if (!auth.jwtSecret) throw new Error('JWT_SECRET or JWT_JWKS_URL must be configured');
        const secret = new TextEncoder().encode(auth.jwtSecret);
        return (token: string) => jwtVerify(token, secret, { ...options, algorithms: ['HS256'] });
      })();

  return async (token) => {
    let payload: JWTPayload;
    try {
      ({ payload } = await verify(token));
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ERR_JWT_EXPIRED') throw unauthorized('The token has expired');
      // Claim errors come only after the signature has been checked, so naming the claim leaks nothing.
      if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
        const claim = (error as { claim?: string }).claim;
        throw unauthorized(claim ? `The token's ${claim} claim is missing or not valid` : 'Invalid token');
      }
      throw unauthorized('Invalid token');
    }
    checkLifetime(payload, auth.maxTtlMs, Math.floor(Date.now() / 1000));
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) {
      throw unauthorized('The token needs a sub, a tenantId and a non-empty list of known roles');
    }
    return { subject: claims.data.sub, tenantId: claims.data.tenantId, roles: claims.data.roles };
  };
}

export type TenantStatus = 'PENDING' | 'ACTIVE' | 'FAILED' | 'SUSPENDED';

/** How long one API process trusts that a tenant it has seen ACTIVE is still ACTIVE. */
export const TENANT_STATUS_TTL_MS = 5_000;

/** The tenant state authentication needs, read through a short cache. */
export interface TenantStatusCache {
  /** The tenant's status, or undefined when no tenant has this ID. */
  status(tenantId: string): Promise<TenantStatus | undefined>;
  /** Drops what is known about the tenant; call it after changing its status. */
  forget(tenantId: string): void;
}

/**
 * A per-process cache of tenant status in front of the database. Only ACTIVE answers are kept:
 * the set stays as small as the number of active tenants whatever IDs tokens carry, and a tenant
 * that becomes ACTIVE (onboarding finishes in the worker, not through this process) is let in at
 * once. The only stale answer possible is "still ACTIVE" for at most `ttlMs` after a change this
 * process did not make: another API instance's suspension, or a direct database edit.
 */
export function createTenantStatusCache(
  prisma: Pick<PrismaClient, 'tenant'>,
  options: { ttlMs?: number; now?: () => number } = {},
): TenantStatusCache {
  const ttlMs = options.ttlMs ?? TENANT_STATUS_TTL_MS;
  const now = options.now ?? Date.now;
  const activeUntil = new Map<string, number>();
  // A read that began before a forget() may finish after it with the old answer; it must not be cached.
  let invalidations = 0;

  return {
    async status(tenantId) {
      const until = activeUntil.get(tenantId);
      if (until !== undefined && until > now()) return 'ACTIVE';
      activeUntil.delete(tenantId);
      const seenInvalidations = invalidations;
      const tenant = await prisma.tenant.findUnique({ where: { id: tenantId }, select: { status: true } });
      if (tenant?.status === 'ACTIVE' && seenInvalidations === invalidations && ttlMs > 0) {
        activeUntil.set(tenantId, now() + ttlMs);
      }
      return tenant?.status;
    },
    forget(tenantId) {
      invalidations++;
      activeUntil.delete(tenantId);
    },
  };
}

const ONBOARDING_PROGRESS_PATH = /^\/tenants\/([^/]+)\/onboarding\/?$/i;

/**
 * The routes a platform-admin token for {@link PLATFORM_TENANT_ID} may use: who am I, the tenants
 * (onboarding, suspension, erasure), the dev outbox, the operations routes (workflows, stats, the
 * dead-letter inbox, flow pauses, Schedules), which name a tenant or look across all, and the codec
 * server (/codec/encode and /codec/decode, at the app's root), which decodes every tenant's payloads
 * for them. Every other route reads or writes one tenant's data, and the platform tenant has none.
 */
const PLATFORM_ROUTES =
  /^\/(?:me|tenants(?:\/.*)?|dev\/outbox|(?:workflows|stats|dead-letter|flows|schedules)(?:\/.*)?|codec\/(?:encode|decode))\/?$/i;

/**
 * Whether the request reads the onboarding progress of the token's own tenant. That one route
 * stays open while the tenant is PENDING, FAILED or SUSPENDED, and even before onboarding has
 * written the tenant row: the admin follows the onboarding there. The route itself still
 * requires tenant-admin, and it only reads the workflow of the slug the token's tenant ID is
 * derived from.
 */
function readsOwnOnboarding(req: Request, principal: Principal): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const match = ONBOARDING_PROGRESS_PATH.exec(req.path);
  if (!match?.[1]) return false;
  try {
    return tenantIdForSlug(decodeURIComponent(match[1])) === principal.tenantId;
  } catch {
    return false;
  }
}

/**
 * The principal the API would see for an `Authorization` header that did not arrive as one (a console
 * session's cookie, the codec cookie): runs `authenticate` on a request carrying only that header, for
 * `method` and `path`, the route whose rules apply.
 *
 * @throws AppError 401/403 with the API's own codes, exactly as `authenticate` answers them.
 */
export async function principalOfAuthorization(
  authenticateBearer: RequestHandler,
  authorization: string | undefined,
  route: { method: string; path: string },
): Promise<Principal | undefined> {
  const probe = { headers: { authorization }, ...route } as Request;
  // authenticate throws its AppError rather than calling next with it, and never writes a response.
  await authenticateBearer(probe, {} as Response, () => {});
  return probe.principal;
}

/**
 * Requires `Authorization: Bearer <JWT>`, checks that the token's tenant exists and is ACTIVE,
 * and puts the verified principal on the request.
 *
 * - An unknown tenant (no row, or an ID no row could have) is 401 TENANT_UNKNOWN.
 * - A PENDING, FAILED or SUSPENDED tenant is 403 TENANT_INACTIVE, except for its own onboarding
 *   progress (see {@link readsOwnOnboarding}).
 * - {@link PLATFORM_TENANT_ID} is accepted only with the platform-admin role; any other role
 *   naming it is 401 TENANT_UNKNOWN, since no tenant's data belongs to it. Its platform admins
 *   get 403 TENANT_REQUIRED outside {@link PLATFORM_ROUTES}.
 * - The platform-admin role with any other tenant is 401 UNAUTHORIZED.
 */
export function authenticate(verifyToken: VerifyToken, tenants: TenantStatusCache): RequestHandler {
  return async (req, _res, next) => {
    const header = req.headers.authorization;
    const match = header?.match(/^Bearer\s+(\S+)$/i);
    if (!match?.[1]) throw unauthorized('A bearer token is required');
    const principal = await verifyToken(match[1]);

    if (principal.tenantId === PLATFORM_TENANT_ID) {
      if (!principal.roles.includes('platform-admin')) {
        throw new AppError(401, 'TENANT_UNKNOWN', 'Only platform-admin tokens may name the platform tenant');
      }
      if (!PLATFORM_ROUTES.test(req.path)) {
        throw new AppError(403, 'TENANT_REQUIRED', 'This route works on a tenant’s data: use a token for that tenant');
      }
    } else if (principal.roles.includes('platform-admin')) {
      // Platform powers reach across tenants: a tenant's token (whoever issued it) never carries them.
      throw unauthorized('The platform-admin role belongs only to tokens for the platform tenant');
    } else if (!readsOwnOnboarding(req, principal)) {
      const { tenantId } = principal;
      const storable = tenantId.length <= MAX_CLAIM_LENGTH && isStorableText(tenantId);
      const status = storable ? await tenants.status(tenantId) : undefined;
      if (status === undefined) {
        throw new AppError(401, 'TENANT_UNKNOWN', 'The token names a tenant that does not exist');
      }
      if (status !== 'ACTIVE') {
        throw new AppError(403, 'TENANT_INACTIVE', `The tenant is ${status}; only ACTIVE tenants may use the API`, {
          status,
        });
      }
    }
    req.principal = principal;
    next();
  };
}

export function hasRole(principal: Principal, minimum: Role): boolean {
  const needed = roles.indexOf(minimum);
  return principal.roles.some((role) => roles.indexOf(role) >= needed);
}

/** Lets the request through when the principal holds `minimum` or a more powerful role. */
export function requireRole(minimum: Role): RequestHandler {
  return (req, _res, next) => {
    if (!req.principal) throw unauthorized('A bearer token is required');
    if (!hasRole(req.principal, minimum)) {
      throw new AppError(403, 'FORBIDDEN', `This needs the ${minimum} role or above`, { required: minimum });
    }
    next();
  };
}

/** The authenticated principal; routes behind `authenticate` may rely on it. */
export function principalOf(req: { principal?: Principal }): Principal {
  if (!req.principal) throw unauthorized('A bearer token is required');
  return req.principal;
}
