import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../lib/logger';

const REQUEST_ID = /^[\w.:-]{1,128}$/;
/**
 * Probes and Prometheus scrapes: every few seconds each, so an answered one would bury the lines
 * that matter. Only their failures are logged (a 503 from /readyz, a scrape with the wrong token).
 */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);
const MAX_PATH_LENGTH = 200;

const pathOf = (url: string | undefined) => (url ?? '/').split(/[?#]/, 1)[0]!;

/** A download link carries its token in the path: a request no route answered (a 429) logs it as `:token`. */
const withoutPathTokens = (path: string) => path.replace(/^(\/api\/v1\/downloads\/)[^/]+/i, '$1:token');

/**
 * The route pattern that answered, e.g. `/api/v1/slots/:slotId/release`. Express keeps
 * `req.route` but has restored `req.baseUrl` by the time an error has left its router, so the
 * mount prefix is taken from the request path: as many leading segments as the pattern lacks.
 */
export function routePatternOf(req: Request): string | undefined {
  const pattern = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof pattern !== 'string') return undefined;
  const segments = pathOf(req.originalUrl).split('/').filter(Boolean);
  const patternSegments = pattern.split('/').filter(Boolean);
  if (segments.length < patternSegments.length) return undefined;
  const prefix = segments.slice(0, segments.length - patternSegments.length);
  return `/${[...prefix, ...patternSegments].join('/')}`;
}

/**
 * One short line per request: method, route pattern (or the path without its query when no
 * route matched), status, duration and request ID. No headers, no query string, no body: links
 * carry offer, vendor and invitation tokens in their query (download links in their path), and
 * bodies carry personal data.
 */
function requestLine(req: IncomingMessage, res: ServerResponse, durationMs: number) {
  const request = req as Request;
  const route = routePatternOf(request);
  return {
    method: request.method,
    ...(route
      ? { route }
      : { path: withoutPathTokens(pathOf(request.originalUrl ?? request.url)).slice(0, MAX_PATH_LENGTH) }),
    status: res.statusCode,
    durationMs,
    ...(res.writableEnded ? {} : { aborted: true }),
  };
}

/**
 * Request logging and request IDs. A valid incoming `X-Request-Id` is kept, otherwise one is
 * made; either way it is echoed in the response and bound as `reqId` on `req.log`.
 */
export function requestLogging(logger: Logger): RequestHandler {
  return pinoHttp({
    logger,
    genReqId: (req, res) => {
      const incoming = req.headers['x-request-id'];
      const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    // `req.log` and the request line carry the request ID only, never the whole request.
    quietReqLogger: true,
    quietResLogger: true,
    // The logger's own serializers (which redact) stay in force for `req.log.error({ err })`.
    wrapSerializers: false,
    customLogLevel: (req, res, error) => {
      if (error || res.statusCode >= 500) return 'error';
      const quiet = res.statusCode < 400 && QUIET_PATHS.has(pathOf((req as Request).originalUrl ?? req.url));
      return quiet ? 'silent' : 'info';
    },
    customSuccessObject: (req, res, value: { responseTime: number }) => requestLine(req, res, value.responseTime),
    customErrorObject: (req, res, _error, value: { responseTime: number }) => requestLine(req, res, value.responseTime),
    customSuccessMessage: () => 'request finished',
    customErrorMessage: () => 'request failed',
  });
}
