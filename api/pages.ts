import type { Request, RequestHandler, Response } from 'express';
import helmet from 'helmet';

/**
 * The small HTML pages behind links in messages (a candidate's offer, a vendor's order offer, an
 * invitation): a GET shows a page with a button, and the button form-posts the answer, so a mail
 * scanner that prefetches links never acts for anyone.
 */

/**
 * Helmet's security headers, fitted to where the pages are served. Over plain HTTP (a
 * `PUBLIC_BASE_URL` such as `http://192.168.1.20:3000`, opened from a phone on the LAN) the CSP
 * leaves out `upgrade-insecure-requests`: with it, the browser rewrites the form's POST to https,
 * where nothing listens, and the answer is never sent. HSTS is left out there too, so a browser
 * never pins such a host to https. `form-action 'self'` and the other defaults stay.
 */
export function securityHeaders(publicBaseUrl: string): RequestHandler {
  const https = new URL(publicBaseUrl).protocol === 'https:';
  return helmet({
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: https ? [] : null } },
    strictTransportSecurity: https,
  });
}

/**
 * For pages and answers that carry a link token or personal data: no cache (a browser's, a
 * proxy's) keeps them, and following a link from them sends no `Referer` with the token in it.
 */
export const privateResponse: RequestHandler = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Referrer-Policy', 'no-referrer');
  next();
};

export function isFormPost(req: Request): boolean {
  return req.is('application/x-www-form-urlencoded') === 'application/x-www-form-urlencoded';
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** A form that posts hidden `fields` to `action`, as one button. */
export function postButton(action: string, fields: Record<string, string>, label: string): string {
  const inputs = Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('');
  return `<form method="post" action="${escapeHtml(action)}">${inputs}<button type="submit">${escapeHtml(label)}</button></form>`;
}

export function page(res: Response, status: number, title: string, message: string, extra = ''): void {
  res
    .status(status)
    .type('html')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">` +
        `<title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1>` +
        `<p>${escapeHtml(message)}</p>${extra}</body></html>`,
    );
}
