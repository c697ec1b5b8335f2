import { SignJWT } from 'jose';
import type { Role } from '../api/auth';
import type { Config } from './config';

export interface DevTokenClaims {
  tenantId: string;
  roles: Role[];
  subject?: string;
  /** A jose time span such as '8h' or '15m'. */
  expiresIn?: string;
}

/** Signs an HS256 token the API accepts; for development and tests only. */
export async function signDevToken(auth: Config['auth'], claims: DevTokenClaims): Promise<string> {
  if (!auth.jwtSecret) throw new Error('signing a development token needs JWT_SECRET (HS256)');
  return new SignJWT({ tenantId: claims.tenantId, roles: claims.roles })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.subject ?? `dev:${claims.roles.join('+')}`)
    .setIssuer(auth.issuer)
    .setAudience(auth.audience)
    .setIssuedAt()
    .setExpirationTime(claims.expiresIn ?? '8h')
    .sign(new TextEncoder().encode(auth.jwtSecret));
}
