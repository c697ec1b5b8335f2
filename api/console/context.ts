import type { Request, RequestHandler, Response } from 'express';
import type { Client } from '@temporalio/client';
import type { z } from 'zod';
import type { Config } from '../../lib/config';
import type { PrismaClient } from '../../lib/db';
import type { Logger } from '../../lib/logger';
import { hasRole, PLATFORM_TENANT_ID, type Principal, type TenantStatusCache, type VerifyToken } from '../auth';
import { AppError } from '../errors';
import type { DeadLetterDeps } from '../services/operations/dead-letter';
import type { StatsDeps } from '../services/operations/stats';
import { parse } from '../validation';
import type { PageContext } from './render';
import type { ConsoleSession, SessionKeeper } from './session';

export interface ConsoleDeps {
  config: Config;
  logger: Logger;
  prisma: PrismaClient;
  temporal: Client;
  verifyToken: VerifyToken;
  tenantStatus: TenantStatusCache;
  /** The operations services' deps, with the API's stats cache and dead-letter refresh window. */
  operations: DeadLetterDeps & StatsDeps;
  /** The API's per-IP limit of failed authentications, around the console's sign-in. */
  limitAuthFailures: (authenticate: RequestHandler) => RequestHandler;
  /** The API's per-tenant limit of writes (keyed on `req.principal`), around the console's actions. */
  limitTenantWrites: RequestHandler;
}

declare module 'express-serve-static-core' {
  interface Request {
    consoleSession?: ConsoleSession;
  }
}

export interface ConsoleContext {
  deps: ConsoleDeps;
  keeper: SessionKeeper;
  /** Renders a signed-in page with the layout's session, flash and Web UI link filled in. */
  render(req: Request, res: Response, view: string, context: PageContext, status?: number): Promise<void>;
  /**
   * Runs an operator's action from a form POST and redirects to `back` (a console path built by the
   * page, never a URL taken from the request) with its result as a flash message: POST-redirect-GET. A refusal the
   * operator can act on (400, 409, 423, …) is a flash message too; 403, 404 and server errors are
   * error pages, as the API answers them.
   */
  act(req: Request, res: Response, back: string, action: () => Promise<string>): Promise<void>;
}

/** The signed-in tenant's principal; every page behind the session may rely on it. */
export function principal(req: Request): Principal {
  const session = req.consoleSession;
  if (!session) throw new AppError(401, 'UNAUTHORIZED', 'Sign in to the console first');
  // The router shows a platform admin's session only its Web UI page; should a page ever be reached
  // anyway, it must not ask the services for the platform tenant's data (or all tenants').
  if (session.principal.tenantId === PLATFORM_TENANT_ID) throw consolePagesNeedATenant();
  return session.principal;
}

export const consolePagesNeedATenant = () =>
  new AppError(
    403,
    'TENANT_REQUIRED',
    'The console’s pages show one tenant at a time: sign out, then sign in with a token for that tenant (npm run token -- --tenant <slug> --role operator).',
  );

/** Requires operator or above for an action, as the API does; members only read. */
export const requireOperator: RequestHandler = (req, _res, next) => {
  if (!hasRole(principal(req), 'operator')) {
    throw new AppError(403, 'FORBIDDEN', 'This needs the operator role or above', { required: 'operator' });
  }
  next();
};

/** Parses a form or query with zod, so a bad field is a 400 with the API's validation answer. */
export function parseForm<Schema extends z.ZodType>(schema: Schema, value: unknown): z.output<Schema> {
  return parse(schema, value ?? {});
}
