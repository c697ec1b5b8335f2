import path from 'node:path';
import express, { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { DevTokenError, resolveTokenTenant, signDevToken, tenantLookup } from '../../lib/dev-token';
import { hasRole, roles, type Role } from '../auth';
import { AppError } from '../errors';
import { privateResponse } from '../pages';
import { parse } from '../validation';
import { consolePagesNeedATenant, type ConsoleContext, type ConsoleDeps } from './context';
import { registerPages } from './pages';
import {
  answerFor,
  createTemplates,
  describeAnswer,
  renderPage,
  sessionView,
  type ErrorAnswer,
  type PageContext,
} from './render';
import { CONSOLE_PATH, createSessionKeeper, isWebUiSession } from './session';

/** The tenant roles the development sign-in offers; a platform admin has a button of its own, for the Web UI. */
const devRoles = roles.filter((role): role is Exclude<Role, 'platform-admin'> => role !== 'platform-admin');

/** The console's pages are HTML forms: small urlencoded bodies only. */
const FORM_BODY_LIMIT_BYTES = 16 * 1024;
const formBody = express.urlencoded({ extended: false, limit: FORM_BODY_LIMIT_BYTES, parameterLimit: 50 });

// Any length the form's body can carry: signing in refuses a token too long for the session cookie, saying so.
const signInBody = z.object({ csrf: z.string().max(200), token: z.string().trim().min(1).max(FORM_BODY_LIMIT_BYTES) });
const devSignInBody = z.object({
  csrf: z.string().max(200),
  tenant: z.string().trim().min(1).max(255),
  // platform-admin goes with the platform tenant only: resolveTokenTenant refuses any other pairing.
  role: z.enum(roles),
});

const signInFormExpired = () =>
  new AppError(403, 'CSRF_FAILED', 'The sign-in form had expired or came from elsewhere; please sign in again.');

/**
 * The tenant console at /console: server-rendered pages over the operations services, for one
 * tenant's operators. It works without JavaScript (the CSP allows no inline script, and none is
 * needed): every action is a form POST carrying the session's CSRF token, answered with a redirect
 * and a flash message.
 */
export function createConsoleRouter(deps: ConsoleDeps): Router {
  const { config, logger, prisma } = deps;
  const templates = createTemplates();
  const keeper = createSessionKeeper(deps);
  const devSignIn = config.env === 'development';
  // The Web UI has no login and shows every tenant: linked only where CONSOLE_WEB_UI_LINKS allows.
  const webUiUrl = config.temporal.consoleWebUiLinks ? config.temporal.uiUrl : undefined;
  const router = Router();

  router.use(
    '/assets',
    express.static(path.join(__dirname, 'assets'), { index: false, fallthrough: true, maxAge: '1h' }),
  );
  const picoCss = require.resolve('@picocss/pico/css/pico.min.css');
  router.get('/assets/pico.min.css', (_req, res) => {
    res.sendFile(picoCss, { maxAge: '1d' });
  });

  // Everything after the assets carries a tenant's data: no cache keeps it, no Referer leaks a page's URL.
  router.use(privateResponse);

  async function tenantName(tenantId: string): Promise<string> {
    const tenant = await prisma.tenant.findUnique({ where: { id: tenantId }, select: { name: true } });
    return tenant?.name ?? tenantId;
  }

  const context: ConsoleContext = {
    deps,
    keeper,
    async render(req, res, view, page, status = 200) {
      // A platform admin's session has no tenant to name in the header, nor pages to navigate to.
      const session = req.consoleSession && !isWebUiSession(req.consoleSession) ? req.consoleSession : undefined;
      const layout: PageContext = {
        ...page,
        temporalUi: webUiUrl,
        flash: page.flash ?? keeper.takeFlash(req, res),
        session: session
          ? sessionView(session, await tenantName(session.principal.tenantId), hasRole(session.principal, 'operator'))
          : undefined,
      };
      await renderPage(templates, res, view, layout, status);
    },
    async act(req, res, back, action) {
      let text: string;
      try {
        text = await action();
      } catch (error) {
        const answer = answerFor(logger, error, req);
        if (answer.status === 401 || answer.status === 403 || answer.status === 404 || answer.status >= 500) {
          await renderError(req, res, answer);
          return;
        }
        keeper.setFlash(res, { kind: 'error', text: describeAnswer(answer) });
        res.redirect(303, back);
        return;
      }
      keeper.setFlash(res, { kind: 'success', text });
      res.redirect(303, back);
    },
  };

  async function renderError(req: Request, res: Response, answer: ErrorAnswer) {
    // Without a session, every refusal is shown on the sign-in form, where the operator can try again.
    if (!req.consoleSession && answer.status < 500) {
      await showSignIn(req, res, answer.message, answer.status);
      return;
    }
    await context.render(
      req,
      res,
      'error',
      {
        title:
          answer.status === 404
            ? 'Not found'
            : answer.status === 403
              ? 'Not allowed'
              : answer.status === 429
                ? 'Too many requests'
                : 'Something went wrong',
        status: answer.status,
        code: answer.code,
        message: describeAnswer(answer),
        back: CONSOLE_PATH,
        backLabel: 'Back to the overview',
      },
      answer.status,
    );
  }

  async function showSignIn(req: Request, res: Response, problem?: string, status = 200) {
    await renderPage(
      templates,
      res,
      'sign-in',
      {
        title: 'Sign in',
        problem,
        flash: keeper.takeFlash(req, res),
        formToken: keeper.signInFormToken(res),
        devSignIn,
        devRoles,
        temporalUi: webUiUrl,
      },
      status,
    );
  }

  router.get('/sign-in', async (req, res) => {
    const { session, refusal } = await keeper.read(req);
    if (session) {
      res.redirect(303, CONSOLE_PATH);
      return;
    }
    // A session the API no longer accepts is forgotten, and the form says why.
    if (refusal) keeper.signOut(res);
    await showSignIn(req, res, refusal ? `Signed out: ${refusal.message}` : undefined);
  });

  router.post(
    '/sign-in',
    formBody,
    (req, _res, next) => {
      const body = signInBody.safeParse(req.body ?? {});
      if (!body.success) throw new AppError(400, 'TOKEN_REQUIRED', 'Paste a token to sign in.');
      if (!keeper.checkSignInForm(req, body.data.csrf)) throw signInFormExpired();
      next();
    },
    // Refused tokens count towards the API's per-IP limit of failed authentications.
    deps.limitAuthFailures(async (req, res, next) => {
      await keeper.signIn(res, parse(signInBody, req.body).token);
      next();
    }),
    (_req, res) => {
      res.redirect(303, CONSOLE_PATH);
    },
  );

  if (devSignIn) {
    router.post('/dev-sign-in', formBody, async (req, res) => {
      const body = devSignInBody.safeParse(req.body ?? {});
      if (!body.success) throw new AppError(400, 'TENANT_REQUIRED', 'Name a tenant and a role.');
      if (!keeper.checkSignInForm(req, body.data.csrf)) throw signInFormExpired();
      try {
        const tenantId = await resolveTokenTenant(tenantLookup(prisma), body.data.tenant, [body.data.role]);
        const token = await signDevToken(config.auth, {
          tenantId,
          roles: [body.data.role],
          subject: `dev-console:${body.data.role}`,
        });
        await keeper.signIn(res, token);
      } catch (error) {
        if (error instanceof DevTokenError) throw new AppError(400, 'DEV_TOKEN_REFUSED', error.message);
        throw error;
      }
      res.redirect(303, CONSOLE_PATH);
    });
  }

  // Everything below needs a session whose token the API would still accept.
  const requireSession: RequestHandler = async (req, res, next) => {
    const { session, refusal } = await keeper.read(req);
    if (session) {
      req.consoleSession = session;
      // The same principal an API request with this token has: the tenant write limit counts by it.
      req.principal = session.principal;
      next();
      return;
    }
    if (refusal) {
      keeper.signOut(res);
      keeper.setFlash(res, { kind: 'error', text: `Signed out: ${refusal.message}` });
    }
    if (req.method === 'GET' || req.method === 'HEAD') {
      res.redirect(303, `${CONSOLE_PATH}/sign-in`);
      return;
    }
    throw new AppError(401, 'UNAUTHORIZED', 'Sign in to the console first');
  };
  router.use(requireSession);

  // Every POST below carries the session's CSRF token; a form from anywhere else is refused.
  router.post('/{*rest}', formBody, (req, _res, next) => {
    const field = (req.body as Record<string, unknown> | undefined)?.csrf;
    if (!keeper.checkCsrf(req.consoleSession!, field)) {
      throw new AppError(
        403,
        'CSRF_FAILED',
        'This form did not come from your console session; reload the page and try again',
      );
    }
    next();
  });

  router.post('/sign-out', (_req, res) => {
    keeper.signOut(res);
    keeper.setFlash(res, { kind: 'success', text: 'Signed out.' });
    res.redirect(303, `${CONSOLE_PATH}/sign-in`);
  });

  /**
   * A platform admin signs in for the Temporal Web UI only: the codec cookie decrypts every tenant's
   * payloads there, and the console's one page for it says so and until when. Its other pages are one
   * tenant's, so they send it back to that page, and their actions are refused.
   */
  router.use(async (req, res, next) => {
    const session = req.consoleSession!;
    if (!isWebUiSession(session)) {
      next();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') throw consolePagesNeedATenant();
    if (req.path !== '/') {
      res.redirect(303, CONSOLE_PATH);
      return;
    }
    await renderPage(templates, res, 'web-ui-session', {
      title: 'Signed in for the Temporal Web UI',
      flash: keeper.takeFlash(req, res),
      subject: session.principal.subject,
      expiresAt: session.expiresAt,
      csrf: session.csrfToken,
      // Platform staff are whom the Web UI is for: linked whatever CONSOLE_WEB_UI_LINKS says for tenants.
      webUi: config.temporal.uiUrl,
      temporalUi: webUiUrl,
    });
  });

  // The console's actions are the tenant's writes, as its POSTs to /api/v1 are: they share one count
  // per tenant (RATE_LIMIT_TENANT_WRITES_PER_MINUTE). Signing out, above, is not counted.
  router.post('/{*rest}', deps.limitTenantWrites);

  registerPages(router, context);

  router.use((req, _res) => {
    throw new AppError(404, 'NOT_FOUND', `The console has no page at ${req.path}`);
  });

  // Errors become pages, with the status and message the API would answer.
  router.use(async (error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    await renderError(req, res, answerFor(logger, error, req));
  });

  return router;
}
