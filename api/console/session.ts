import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import { decodeJwt } from 'jose';
import type { Config } from '../../lib/config';
import {
  authenticate,
  PLATFORM_TENANT_ID,
  principalOfAuthorization,
  type Principal,
  type TenantStatusCache,
  type VerifyToken,
} from '../auth';
import { AppError } from '../errors';

/**
 * The console's session: the operator's bearer token, kept in a cookie the browser sends only to
 * /console, only from the console's own pages (SameSite=Strict), never to scripts (HttpOnly), and
 * only over https when the API is served over https. The token is verified on every request exactly
 * as the API verifies a bearer header, so a suspended tenant or an expired token ends the session
 * at once.
 *
 * A platform admin's token signs in too, for the Temporal Web UI only: its codec cookie lets the Web
 * UI decrypt every tenant's payloads, and its session shows nothing but that (see
 * {@link isWebUiSession}), since every console page is one tenant's.
 */

export const CONSOLE_PATH = '/console';
const SESSION_COOKIE = 'holdfast_console';
/** Where the codec server answers (api/routes/codec.ts): the only path its cookie is sent to. */
export const CODEC_PATH = '/codec';
/**
 * The session's token again, for the codec server: the Temporal Web UI (on another port of the same
 * host, so the same site) sends it with its decode requests when "include cross-origin credentials" is
 * on, and a signed-in operator sees the tenant's payloads decrypted there.
 */
export const CODEC_COOKIE = 'holdfast_codec';
/** A random value the sign-in form is bound to, so another site cannot sign a browser in to its own account. */
const SIGN_IN_COOKIE = 'holdfast_console_sign_in';
const FLASH_COOKIE = 'holdfast_console_flash';
const SIGN_IN_FORM_TTL_MS = 30 * 60 * 1000;
const FLASH_TTL_MS = 60 * 1000;
/** A JWT far longer than any identity provider issues is refused before it is verified. */
export const MAX_TOKEN_LENGTH = 8192;
/**
 * The longest token a session can keep: browsers store a cookie's name and value in at most 4096
 * bytes and silently drop a longer one, which would sign the operator in to a session that is gone
 * on the next page. A JWT is ASCII and is written to the cookie as it is.
 */
export const MAX_SESSION_TOKEN_LENGTH = 4096 - SESSION_COOKIE.length - '='.length;

export interface ConsoleSession {
  token: string;
  principal: Principal;
  /** When the token, and with it the session and the codec cookie, expires. */
  expiresAt: Date;
  /** The hidden field every POST form of the session carries. */
  csrfToken: string;
}

/**
 * Whether the session is a platform admin's: it signed in so that the Web UI decrypts for it, and
 * the console's pages, each one tenant's, are not for it.
 */
export function isWebUiSession(session: ConsoleSession): boolean {
  return session.principal.tenantId === PLATFORM_TENANT_ID;
}

export interface Flash {
  kind: 'success' | 'error';
  text: string;
}

/** Parses the Cookie header; the console needs three cookies and no cookie library. */
export function readCookies(req: Request): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const index = part.indexOf('=');
    if (index <= 0) continue;
    const name = part.slice(0, index).trim();
    const raw = part.slice(index + 1).trim();
    try {
      cookies.set(name, decodeURIComponent(raw));
    } catch {
      // A cookie that is not valid percent-encoding is not one of ours.
    }
  }
  return cookies;
}

export interface SessionKeeper {
  /** The session of the request, or undefined when it has none or its token is no longer accepted. */
  read(req: Request): Promise<{ session?: ConsoleSession; refusal?: AppError }>;
  /**
   * Verifies a pasted token with the API's rules and starts a session with it.
   *
   * @throws AppError 401/403 with the API's own code and message when the token is refused.
   */
  signIn(res: Response, token: string): Promise<Principal>;
  signOut(res: Response): void;
  /** A fresh sign-in form binding: sets its cookie and answers the form's hidden field. */
  signInFormToken(res: Response): string;
  /** Whether a sign-in form's hidden field belongs to this browser's sign-in cookie. */
  checkSignInForm(req: Request, field: unknown): boolean;
  /** Whether a POST form's hidden field was issued for this session. */
  checkCsrf(session: ConsoleSession, field: unknown): boolean;
  setFlash(res: Response, flash: Flash): void;
  /** The flash message left by the last POST, cleared once read. */
  takeFlash(req: Request, res: Response): Flash | undefined;
}

export interface SessionDeps {
  config: Config;
  verifyToken: VerifyToken;
  tenantStatus: TenantStatusCache;
}

/**
 * The CSRF key: derived from a secret every deployment has (production refuses to start without
 * OFFER_TOKEN_SECRET), under a label of its own, so a CSRF token can never be used as an offer
 * token or the other way round.
 */
function csrfKey(config: Config): Buffer {
  return Buffer.from(hkdfSync('sha256', config.offerTokenSecret, 'holdfast', 'console csrf v1', 32));
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export function createSessionKeeper({ config, verifyToken, tenantStatus }: SessionDeps): SessionKeeper {
  const key = csrfKey(config);
  const secure = new URL(config.api.publicBaseUrl).protocol === 'https:';
  const cookieOptions = { httpOnly: true, sameSite: 'strict' as const, secure, path: CONSOLE_PATH };
  const codecCookieOptions = { ...cookieOptions, path: CODEC_PATH };
  const authenticateBearer = authenticate(verifyToken, tenantStatus);
  const mac = (purpose: string, value: string) =>
    createHmac('sha256', key).update(`${purpose}\n${value}`).digest('base64url');

  /**
   * The principal of `token` under the API's own `authenticate` rules (signature, issuer,
   * audience, lifetime, unknown or inactive tenant), by running that middleware on a request that
   * carries the token as its bearer header. The path is one of the operations routes, which is
   * where the console's pages read from.
   */
  async function principalOf(token: string): Promise<Principal> {
    if (token.length > MAX_TOKEN_LENGTH || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) {
      throw new AppError(401, 'UNAUTHORIZED', 'That is not a token: paste the whole output of npm run token');
    }
    const principal = await principalOfAuthorization(authenticateBearer, `Bearer ${token}`, {
      method: 'GET',
      path: '/stats',
    });
    if (!principal) throw new AppError(401, 'UNAUTHORIZED', 'Invalid token');
    return principal;
  }

  const csrfFor = (token: string) => mac('session', token);
  // A verified token has an `exp`: authenticate refuses one without.
  const expiryOf = (token: string) => new Date((decodeJwt(token).exp ?? 0) * 1000);

  return {
    async read(req) {
      const token = readCookies(req).get(SESSION_COOKIE);
      if (!token) return {};
      try {
        const principal = await principalOf(token);
        return { session: { token, principal, expiresAt: expiryOf(token), csrfToken: csrfFor(token) } };
      } catch (error) {
        if (error instanceof AppError) return { refusal: error };
        throw error;
      }
    },

    async signIn(res, token) {
      if (token.length > MAX_SESSION_TOKEN_LENGTH) {
        throw new AppError(
          400,
          'TOKEN_TOO_LARGE',
          `This token is ${token.length} characters long; the console keeps its session in a browser cookie, which holds at most ${MAX_SESSION_TOKEN_LENGTH}. Sign in with a token carrying fewer claims; this one still works with the API.`,
          { length: token.length, maxLength: MAX_SESSION_TOKEN_LENGTH },
        );
      }
      const principal = await principalOf(token);
      // The cookie dies with the token: the browser forgets a session the API would refuse anyway.
      const expires = expiryOf(token);
      res.cookie(SESSION_COOKIE, token, { ...cookieOptions, expires });
      res.cookie(CODEC_COOKIE, token, { ...codecCookieOptions, expires });
      res.clearCookie(SIGN_IN_COOKIE, cookieOptions);
      return principal;
    },

    signOut(res) {
      res.clearCookie(SESSION_COOKIE, cookieOptions);
      res.clearCookie(CODEC_COOKIE, codecCookieOptions);
    },

    signInFormToken(res) {
      const nonce = randomBytes(24).toString('base64url');
      res.cookie(SIGN_IN_COOKIE, nonce, { ...cookieOptions, maxAge: SIGN_IN_FORM_TTL_MS });
      return mac('sign-in', nonce);
    },

    checkSignInForm(req, field) {
      const nonce = readCookies(req).get(SIGN_IN_COOKIE);
      return typeof field === 'string' && nonce !== undefined && sameText(field, mac('sign-in', nonce));
    },

    checkCsrf(session, field) {
      return typeof field === 'string' && sameText(field, session.csrfToken);
    },

    setFlash(res, flash) {
      const value = Buffer.from(JSON.stringify(flash)).toString('base64url');
      res.cookie(FLASH_COOKIE, value, { ...cookieOptions, maxAge: FLASH_TTL_MS });
    },

    takeFlash(req, res) {
      const value = readCookies(req).get(FLASH_COOKIE);
      if (!value) return undefined;
      res.clearCookie(FLASH_COOKIE, cookieOptions);
      try {
        const parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as Partial<Flash>;
        if ((parsed.kind === 'success' || parsed.kind === 'error') && typeof parsed.text === 'string') {
          return { kind: parsed.kind, text: parsed.text.slice(0, 500) };
        }
      } catch {
        // A flash cookie that does not parse is dropped: it only ever carried a courtesy message.
      }
      return undefined;
    },
  };
}
