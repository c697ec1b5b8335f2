import type { RequestHandler } from 'express';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import type { Config } from '../lib/config';
import { AppError } from './errors';

/** Roles from the least to the most powerful; a role grants everything below it. */
export const roles = ['member', 'operator', 'tenant-admin', 'platform-admin'] as const;
export type Role = (typeof roles)[number];

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

const claimsSchema = z.object({
  sub: z.string().min(1),
  tenantId: z.string().min(1),
  roles: z.array(z.enum(roles)).min(1),
});

export type VerifyToken = (token: string) => Promise<Principal>;

const unauthorized = (message: string) => new AppError(401, 'UNAUTHORIZED', message);

/**
 * Builds the bearer-token verifier: HS256 with a shared secret by default, RS256 through a
 * JWKS URL when one is configured. Algorithms, issuer, audience and expiry are all enforced.
 */
export function createTokenVerifier(auth: Config['auth']): VerifyToken {
  const options = { issuer: auth.issuer, audience: auth.audience, requiredClaims: ['exp', 'sub'] };
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
    let payload: unknown;
    try {
      ({ payload } = await verify(token));
    } catch (error) {
      const reason =
        (error as { code?: string }).code === 'ERR_JWT_EXPIRED' ? 'The token has expired' : 'Invalid token';
      throw unauthorized(reason);
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) throw unauthorized('The token lacks the sub, tenantId or roles claims');
    return { subject: claims.data.sub, tenantId: claims.data.tenantId, roles: claims.data.roles };
  };
}

/** Requires `Authorization: Bearer <JWT>` and puts the verified principal on the request. */
export function authenticate(verifyToken: VerifyToken): RequestHandler {
  return async (req, _res, next) => {
    const header = req.headers.authorization;
    const match = header?.match(/^Bearer\s+(\S+)$/i);
    if (!match?.[1]) throw unauthorized('A bearer token is required');
    req.principal = await verifyToken(match[1]);
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
