import type { Request, Response } from 'express';

/**
 * The small HTML pages behind links in messages (a candidate's offer, a vendor's order offer):
 * a GET shows a page with a button, and the button form-posts the answer, so a mail scanner
 * that prefetches links never acts for anyone.
 */

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
