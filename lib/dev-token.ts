import { SignJWT } from 'jose';
import { PLATFORM_TENANT_ID, type Role } from '../api/auth';
import { isStorableText } from '../domain/input-rules';
import type { Config } from './config';
import type { PrismaClient } from './db';
import { describeSeconds, parseDurationMs } from './durations';

export interface DevTokenClaims {
  tenantId: string;
  roles: Role[];
  subject?: string;
  /** A time span such as '8h', '15m' or '30 minutes'; by default 8 hours, or JWT_MAX_TTL if that is shorter. */
  expiresIn?: string;
}

/** A development token that cannot be made as asked; the message is one line for a terminal. */
export class DevTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DevTokenError';
  }
}

const DEFAULT_LIFETIME_SECONDS = 8 * 3600;

/** Seconds in a span such as '8h', '90 s', '15 minutes' or '1 day'; undefined when it is not one. */
export function parseLifetime(text: string): number | undefined {
  const ms = parseDurationMs(text, 'refuse');
  return ms === undefined ? undefined : Math.round(ms / 1000);
}

/**
 * Signs an HS256 token the API accepts; for development and tests only.
 *
 * @throws DevTokenError when `expiresIn` is not a positive span or exceeds JWT_MAX_TTL, since the
 *   API would refuse such a token.
 */
export async function signDevToken(auth: Config['auth'], claims: DevTokenClaims): Promise<string> {
  if (!auth.jwtSecret) throw new DevTokenError('signing a development token needs JWT_SECRET (HS256)');
  const maxSeconds = Math.floor(auth.maxTtlMs / 1000);
  const lifetime =
    claims.expiresIn === undefined ? Math.min(DEFAULT_LIFETIME_SECONDS, maxSeconds) : parseLifetime(claims.expiresIn);
  if (lifetime === undefined || lifetime <= 0) {
    throw new DevTokenError(`"${claims.expiresIn}" is not a positive time span such as 8h, 15m or 30 minutes`);
  }
  if (lifetime > maxSeconds) {
    throw new DevTokenError(
      `A token may live at most ${describeSeconds(maxSeconds)} (JWT_MAX_TTL); "${claims.expiresIn}" is longer`,
    );
  }
  const issuedAt = Math.floor(Date.now() / 1000);
  return new SignJWT({ tenantId: claims.tenantId, roles: claims.roles })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.subject ?? `dev:${claims.roles.join('+')}`)
    .setIssuer(auth.issuer)
    .setAudience(auth.audience)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + lifetime)
    .sign(new TextEncoder().encode(auth.jwtSecret));
}

/** A tenant as the token tool needs it; null when neither an ID nor a slug matches. */
export type TenantLookup = (idOrSlug: string) => Promise<{ id: string; slug: string; status: string } | null>;

/** Looks a tenant up by ID first, then by slug. */
export function tenantLookup(prisma: Pick<PrismaClient, 'tenant'>): TenantLookup {
  const select = { id: true, slug: true, status: true } as const;
  return async (idOrSlug) =>
    (await prisma.tenant.findUnique({ where: { id: idOrSlug }, select })) ??
    (await prisma.tenant.findUnique({ where: { slug: idOrSlug }, select }));
}

/**
 * The tenant ID a development token should carry for `tenant`, a tenant's ID or its slug (the
 * name people know). The platform pseudo-tenant is not looked up and goes with the
 * platform-admin role only; any other tenant must exist and be ACTIVE, or the API would refuse
 * every request the token makes.
 *
 * @throws DevTokenError saying what is wrong and what to do instead; errors of `lookup` pass through.
 */
export async function resolveTokenTenant(
  lookup: TenantLookup,
  tenant: string,
  roles: readonly Role[],
): Promise<string> {
  const platformAdmin = roles.includes('platform-admin');
  if (tenant === PLATFORM_TENANT_ID) {
    if (!platformAdmin) {
      throw new DevTokenError(`The ${PLATFORM_TENANT_ID} tenant goes with --role platform-admin only`);
    }
    return PLATFORM_TENANT_ID;
  }
  if (platformAdmin) {
    throw new DevTokenError(`platform-admin tokens name the platform tenant: use --tenant ${PLATFORM_TENANT_ID}`);
  }
  if (!isStorableText(tenant)) throw new DevTokenError('The tenant must be a slug or an ID');
  const found = await lookup(tenant);
  if (!found) throw new DevTokenError(`No tenant has the slug or ID "${tenant}"`);
  if (found.status !== 'ACTIVE') {
    throw new DevTokenError(
      `Tenant ${found.slug} (${found.id}) is ${found.status}; the API accepts tokens only for ACTIVE tenants`,
    );
  }
  return found.id;
}
