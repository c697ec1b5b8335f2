import { createHash, timingSafeEqual } from 'node:crypto';
import type { Express, RequestHandler } from 'express';
import { Router } from 'express';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { z } from 'zod';
import { AppError } from './errors';
import type { RouteSpec } from './openapi/route-spec';
import { routePatternOf } from './request-log';
import { noQuery } from './schemas';
import { parse } from './validation';

/**
 * The API process's Prometheus metrics, on its own registry: Node and process metrics, and how
 * long each request took by method, route pattern and status. The business metrics are not here:
 * the workflows and activities that emit them run in the worker processes, whose runtime serves
 * them on WORKER_METRICS_PORT (docs/metrics.md says which endpoint carries what).
 */
export interface ApiMetrics {
  registry: Registry;
  httpRequestDuration: Histogram<'method' | 'route' | 'status_code'>;
}

/** The `route` label of a request no route answered: unknown paths, and requests refused before routing. */
export const UNMATCHED_ROUTE = 'unmatched';

export function createApiMetrics(): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpRequestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from a request reaching the API to its response being sent, by method, route pattern and status',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  return { registry, httpRequestDuration };
}

let processMetrics: ApiMetrics | undefined;

/**
 * The metrics of this process, made on first use. Process and Node metrics describe the process,
 * so every app a process builds shares them; a test that needs counts of its own passes
 * {@link createApiMetrics}' result to `createApp` instead.
 */
export function apiProcessMetrics(): ApiMetrics {
  processMetrics ??= createApiMetrics();
  return processMetrics;
}

interface RouterLayer {
  rawPath?: unknown;
  route?: { path: unknown };
  handle?: { stack?: RouterLayer[] };
}

const normalisedPath = (path: string) => `/${path.split('/').filter(Boolean).join('/')}`;

/** Every route pattern the app serves, with its mount prefix, read from Express's router. */
function routePatternsOf(app: Express): Set<string> {
  const patterns = new Set<string>();
  const walk = (stack: RouterLayer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths: unknown[] = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const path of paths) if (typeof path === 'string') patterns.add(normalisedPath(prefix + path));
      } else if (layer.handle?.stack) {
        const mountedAt = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
        walk(layer.handle.stack, prefix + mountedAt);
      }
    }
  };
  walk((app as unknown as { router: { stack: RouterLayer[] } }).router.stack, '');
  return patterns;
}

/**
 * Times every request into `http_request_duration_seconds`. Mount it first, so the time includes
 * authentication, rate limits and body parsing. The `route` label is the pattern that answered
 * (`/api/v1/orders/:orderId`), the same as the request log's; it is used only when the app really
 * declares that pattern, so an ID or a link token in a path can never become a label value: a
 * request no route answered (a 404, or a 401, 429 or 400 given before routing) is `unmatched`.
 * A request whose client went away before the response was sent is not counted.
 */
export function httpMetricsMiddleware(metrics: ApiMetrics, app: Express): RequestHandler {
  // Read on the first response, once createApp has mounted every route.
  let declared: Set<string> | undefined;
  return (req, res, next) => {
    const stopTimer = metrics.httpRequestDuration.startTimer();
    res.once('finish', () => {
      const pattern = routePatternOf(req);
      declared ??= routePatternsOf(app);
      const route = pattern && declared.has(normalisedPath(pattern)) ? pattern : UNMATCHED_ROUTE;
      stopTimer({ method: req.method, route, status_code: String(res.statusCode) });
    });
    next();
  };
}

const metricsHeaders = z.object({
  Authorization: z.string().max(1024).optional(),
});

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Compared as digests, so neither the token's length nor its prefix can be learnt by timing. */
function sameToken(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/**
 * `GET /metrics` in Prometheus' text format. With METRICS_TOKEN set it needs
 * `Authorization: Bearer <token>` (401 otherwise); without it the endpoint is open, for a
 * Prometheus on a private network (docs/metrics.md).
 */
export function createMetricsRouter({ metrics, token }: { metrics: ApiMetrics; token?: string }): Router {
  const router = Router();
  router.get('/metrics', async (req, res) => {
    // The token is checked first: without it, a request learns nothing, not even what it got wrong.
    // The header is read only when a token is required: an open endpoint ignores it, whatever it holds.
    if (token !== undefined) {
      const header = metricsHeaders.safeParse({ Authorization: req.get('authorization') });
      const presented = header.success ? header.data.Authorization?.match(/^Bearer +(\S+)\s*$/i)?.[1] : undefined;
      if (!presented || !sameToken(presented, token)) {
        res.set('WWW-Authenticate', 'Bearer realm="metrics"');
        throw new AppError(401, 'UNAUTHORIZED', 'The metrics need the bearer token set in METRICS_TOKEN');
      }
    }
    parse(noQuery, req.query);
    const body = await metrics.registry.metrics();
    // Scraped every few seconds: a cached copy would hide what changed since.
    res.set('Cache-Control', 'no-store');
    res.type(metrics.registry.contentType).send(body);
  });
  return router;
}

export const metricsRoutes: RouteSpec[] = [
  {
    method: 'get',
    path: '/metrics',
    operationId: 'getMetrics',
    summary: 'Prometheus metrics of the API process',
    description:
      'HTTP request durations by method, route pattern and status (`http_request_duration_seconds`), and ' +
      'Node and process metrics, in the Prometheus text format. Business metrics (`holdfast_*`) are served by ' +
      'the workers on WORKER_METRICS_PORT, not here. With METRICS_TOKEN set, send it as a bearer token; ' +
      'without it the endpoint is open and belongs on a private network only.',
    tag: 'Health',
    auth: 'none',
    query: noQuery,
    headers: metricsHeaders,
    responses: {
      200: { description: 'The metrics', contentType: 'text/plain; version=0.0.4' },
      401: { description: 'UNAUTHORIZED: METRICS_TOKEN is set and the request did not carry it' },
    },
  },
];
