import type { Express } from 'express';

/** One route the app answers, e.g. `{ method: 'POST', path: '/api/v1/orders/:orderId/cancel' }`. */
export interface AppRoute {
  method: string;
  path: string;
}

interface RouterLayer {
  rawPath?: unknown;
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: RouterLayer[] };
}

/**
 * Every route mounted on the app, read from Express's own router, so a test that must cover
 * each route fails when one is added without a case.
 */
export function listRoutes(app: Express): AppRoute[] {
  const routes: AppRoute[] = [];
  const walk = (stack: RouterLayer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const [method, enabled] of Object.entries(layer.route.methods)) {
          if (enabled && method !== '_all')
            routes.push({ method: method.toUpperCase(), path: prefix + layer.route.path });
        }
      } else if (layer.handle?.stack) {
        const mountedAt = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
        walk(layer.handle.stack, prefix + mountedAt);
      }
    }
  };
  walk((app as unknown as { router: { stack: RouterLayer[] } }).router.stack, '');
  const seen = new Set<string>();
  return routes.filter((route) => {
    const key = `${route.method} ${route.path}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export const routeKey = (route: AppRoute) => `${route.method} ${route.path}`;

/**
 * Every route of the tenant console (/console/...): HTML pages behind a cookie session, not the bearer-token
 * JSON API. Tests that walk every API route leave these out by this list, so a console route added without
 * a browser test of its own fails them; test/browser/console.test.ts covers who may use each one.
 */
export const consoleRoutes = [
  'GET /console/assets/pico.min.css',
  'GET /console/sign-in',
  'POST /console/sign-in',
  'POST /console/dev-sign-in',
  'POST /console/{*rest}',
  'POST /console/sign-out',
  'GET /console/',
  'GET /console/dead-letters',
  'POST /console/dead-letters/:id/retry',
  'POST /console/dead-letters/:id/discard',
  'GET /console/flows',
  'GET /console/workflows/:workflowId',
  'POST /console/workflows/:workflowId/cancel',
  'POST /console/workflows/:workflowId/terminate',
  'POST /console/workflows/:workflowId/reset',
  'POST /console/workflows/:workflowId/actions/:action',
  'GET /console/schedules',
  'POST /console/schedules/:scheduleId/:action',
  'GET /console/paused',
  'POST /console/flows/:flow/pause',
  'POST /console/flows/:flow/resume',
];
