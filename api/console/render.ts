import fs from 'node:fs';
import path from 'node:path';
import type { Request, Response } from 'express';
import { Liquid } from 'liquidjs';
import type { Logger } from '../../lib/logger';
import { errorMiddleware } from '../errors';
import type { ConsoleSession, Flash } from './session';
import { CONSOLE_PATH } from './session';

/** The console's templates, rendered on the server; every output is HTML-escaped unless a template says otherwise. */
export function createTemplates(): Liquid {
  const root = path.join(__dirname, 'views');
  // tsc does not copy templates into dist/ (the Dockerfile does): fail at start-up, not on the first page.
  if (!fs.existsSync(path.join(root, 'layout.liquid'))) {
    throw new Error(
      `The console's templates are missing from ${root}: copy api/console/views and assets beside the build`,
    );
  }
  const liquid = new Liquid({
    root,
    extname: '.liquid',
    outputEscape: 'escape',
    strictFilters: true,
    cache: true,
  });
  liquid.registerFilter('when', formatInstant);
  // A value placed in a URL path: `url_encode` writes a space as `+`, which a path keeps as a plus
  // (a schedule called "nightly report" would be looked up as "nightly+report").
  liquid.registerFilter('path_segment', (value: string | number | null | undefined) => encodeURIComponent(value ?? ''));
  return liquid;
}

/** An instant as operators read it in every page: `2026-12-02 07:30:05 UTC`, one zone for everyone. */
export function formatInstant(value: unknown): string {
  if (value === null || value === undefined || value === '') return '—';
  const date =
    value instanceof Date
      ? value
      : typeof value === 'string' || typeof value === 'number'
        ? new Date(value)
        : undefined;
  if (!date || Number.isNaN(date.getTime())) return typeof value === 'string' ? value : '—';
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

export interface NavItem {
  href: string;
  label: string;
  current: boolean;
}

const navItems = [
  { path: '', label: 'Overview' },
  { path: '/flows', label: 'Flows' },
  { path: '/dead-letters', label: 'Dead letters' },
  { path: '/schedules', label: 'Schedules' },
  { path: '/paused', label: 'Paused flows' },
] as const;

export type NavSection = (typeof navItems)[number]['path'];

/** What the layout shows about the signed-in operator. */
export interface SessionView {
  tenantName: string;
  subject: string;
  role: string;
  csrf: string;
  canAct: boolean;
}

export interface PageContext {
  title: string;
  section?: NavSection;
  session?: SessionView;
  flash?: Flash;
  /** The Temporal Web UI's address, when the console links to it (CONSOLE_WEB_UI_LINKS); every Web UI link depends on it. */
  temporalUi?: string;
  [key: string]: unknown;
}

export function sessionView(session: ConsoleSession, tenantName: string, canAct: boolean): SessionView {
  const role = session.principal.roles.join(', ');
  return { tenantName, subject: session.principal.subject, role, csrf: session.csrfToken, canAct };
}

/** Renders a page into the layout; console pages are never cached and send no Referer. */
export async function renderPage(
  templates: Liquid,
  res: Response,
  view: string,
  context: PageContext,
  status = 200,
): Promise<void> {
  const nav: NavItem[] = navItems.map((item) => ({
    href: `${CONSOLE_PATH}${item.path}`,
    label: item.label,
    current: context.section === item.path,
  }));
  const html = (await templates.renderFile(view, { base: CONSOLE_PATH, nav, ...context })) as string;
  res.status(status).type('html').send(html);
}

/** An error as the API would answer it: the same status, code and message, by the API's own error middleware. */
export interface ErrorAnswer {
  status: number;
  code: string;
  message: string;
  details: unknown;
}

/**
 * Runs the API's error middleware on `error` and captures its answer, so the console says exactly
 * what the API would (404 for another tenant's workflow, 409 for a refused Update, …) and logs an
 * unexpected error the same way.
 */
export function answerFor(logger: Logger, error: unknown, req: Request): ErrorAnswer {
  const answer: ErrorAnswer = {
    status: 500,
    code: 'INTERNAL',
    message: 'Something went wrong on our side',
    details: null,
  };
  const capture = {
    headersSent: false,
    set: () => capture,
    status(status: number) {
      answer.status = status;
      return capture;
    },
    json(body: { error?: { code?: string; message?: string; details?: unknown } }) {
      answer.code = body.error?.code ?? answer.code;
      answer.message = body.error?.message ?? answer.message;
      answer.details = body.error?.details ?? null;
      return capture;
    },
  };
  errorMiddleware(logger)(error, req, capture as unknown as Response, () => {});
  return answer;
}

/** One line for a flash message: the answer's message, with the first validation problem when there is one. */
export function describeAnswer(answer: ErrorAnswer): string {
  if (answer.code === 'VALIDATION_FAILED' && Array.isArray(answer.details) && answer.details.length > 0) {
    const first = answer.details[0] as { path?: string; message?: string };
    return `${first.path ? `${first.path}: ` : ''}${first.message ?? answer.message}`;
  }
  return answer.message;
}
