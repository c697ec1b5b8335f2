import { Router } from 'express';
import { escapeHtml } from './pages';

export interface LandingDeps {
  /** TEMPORAL_UI_URL: the Temporal Web UI, without a trailing slash. */
  temporalUiUrl: string;
  /** The Temporal namespace the flows run in, so the Web UI link opens on their list. */
  temporalNamespace: string;
}

interface LandingLink {
  href: string;
  label: string;
  what: string;
}

/** The styles of the one page; inline styles are within the CSP (helmet allows `style-src 'unsafe-inline'`). */
const styles = `
:root { color-scheme: light dark; --accent: #2f6fdb; --muted: #6b7280; --line: #d1d5db; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 46rem; margin: 0 auto; padding: 2.5rem 1.25rem; }
h1 { margin: 0 0 .25rem; font-size: 2rem; }
h2 { margin: 2rem 0 .75rem; font-size: 1.1rem; }
p.lead { margin: 0; color: var(--muted); }
ul { list-style: none; margin: 0; padding: 0; display: grid; gap: .75rem; }
li a { display: block; padding: .85rem 1rem; border: 1px solid var(--line); border-radius: .6rem;
  text-decoration: none; color: inherit; }
li a:hover, li a:focus-visible { border-color: var(--accent); outline: 2px solid transparent; }
li a:focus-visible { box-shadow: 0 0 0 3px color-mix(in srgb, var(--accent) 40%, transparent); }
li strong { display: block; color: var(--accent); }
li span { color: var(--muted); font-size: .95rem; }
code { font-size: .9em; }
`;

function linkList(links: LandingLink[]): string {
  const items = links.map(
    ({ href, label, what }) =>
      `<li><a href="${escapeHtml(href)}"><strong>${escapeHtml(label)}</strong><span>${escapeHtml(what)}</span></a></li>`,
  );
  return `<ul>${items.join('')}</ul>`;
}

/**
 * `GET /`: where a person who opens the API's address lands, with the ways in: the tenant console,
 * the API's documentation and document, the Temporal Web UI, and the health and metrics endpoints.
 */
export function createLandingRouter({ temporalUiUrl, temporalNamespace }: LandingDeps): Router {
  const router = Router();
  const operate: LandingLink[] = [
    {
      href: '/console',
      label: 'Tenant console',
      what: "Your tenant's flows: stats, what is stuck and why, retry and discard, pauses and schedules.",
    },
    {
      href: `${temporalUiUrl}/namespaces/${encodeURIComponent(temporalNamespace)}/workflows`,
      label: 'Temporal Web UI',
      what:
        "Every tenant's workflows and histories, for platform operators. Payloads are encrypted: they show " +
        'decrypted only to a browser signed in to the console, for its tenant (docs/web-ui.md).',
    },
  ];
  const build: LandingLink[] = [
    { href: '/api/docs', label: 'API documentation', what: 'Swagger UI: every route, tried out with your token.' },
    {
      href: '/api/openapi.json',
      label: 'OpenAPI document',
      what: 'OpenAPI 3.1, generated from the schemas that validate each request.',
    },
  ];
  const watch: LandingLink[] = [
    { href: '/healthz', label: 'Liveness', what: 'The API process is up.' },
    { href: '/readyz', label: 'Readiness', what: 'Temporal and PostgreSQL answer.' },
    { href: '/metrics', label: 'Metrics', what: 'Prometheus metrics of the API and the flows.' },
  ];
  const html =
    '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>Holdfast</title><style>${styles}</style></head><body><main>` +
    '<h1>Holdfast</h1><p class="lead">Durable business workflows for multi-tenant SaaS back ends, on Temporal.</p>' +
    `<h2>Operate</h2>${linkList(operate)}` +
    `<h2>Build on the API</h2>${linkList(build)}` +
    `<h2>Watch</h2>${linkList(watch)}` +
    '</main></body></html>';

  router.get('/', (_req, res) => {
    res.type('html').send(html);
  });
  return router;
}
