import path from 'node:path';
import express, { Router, type RequestHandler } from 'express';
import { noQuery } from '../schemas';
import { parse } from '../validation';
import { buildOpenApiDocument, type OpenApiDocument } from './document';
import type { RouteSpec } from './route-spec';

/**
 * The version of the `/api/v1` contract the document describes. It changes when a route or a
 * schema changes in a way a client would notice, not with every release of Holdfast.
 */
export const API_DOCUMENT_VERSION = '1.1.0';

export interface ApiDocsDeps {
  /** Every route's spec (api/openapi/routes.ts). */
  routes: readonly RouteSpec[];
  /** PUBLIC_BASE_URL: the server the document names. */
  publicBaseUrl: string;
}

/** Where Swagger UI's own files are served from, and the only ones served. */
const ASSETS_PATH = '/api/docs/assets';
const SWAGGER_UI_DIR = path.dirname(require.resolve('swagger-ui-dist/package.json'));
const SWAGGER_UI_FILES = new Set([
  '/swagger-ui.css',
  '/swagger-ui-bundle.js',
  '/favicon-32x32.png',
  '/favicon-16x16.png',
]);
const INITIALIZER = '/holdfast-initializer.js';

/**
 * Starts Swagger UI on the document. It is a file of its own rather than an inline script, because
 * the Content-Security-Policy (helmet's default `script-src 'self'`) forbids inline scripts on every
 * page, this one included. Bearer tokens entered under "Authorize" stay in the page's memory: they
 * are not persisted to localStorage, where another script of this origin could read them.
 */
const initializerScript = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: '/api/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    persistAuthorization: false,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
});
`;

const docsPage =
  '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
  '<meta name="viewport" content="width=device-width, initial-scale=1">' +
  '<title>Holdfast API</title>' +
  `<link rel="stylesheet" href="${ASSETS_PATH}/swagger-ui.css">` +
  `<link rel="icon" type="image/png" href="${ASSETS_PATH}/favicon-32x32.png" sizes="32x32">` +
  '</head><body><main id="swagger-ui"></main>' +
  `<script src="${ASSETS_PATH}/swagger-ui-bundle.js"></script>` +
  `<script src="${ASSETS_PATH}${INITIALIZER}"></script>` +
  '</body></html>';

/** Swagger UI's files and its initializer; anything else under the assets path is not found. */
function swaggerUiAssets(): RequestHandler {
  const files = express.static(SWAGGER_UI_DIR, { index: false, fallthrough: false, maxAge: '1d' });
  return (req, res, next) => {
    if (req.path === INITIALIZER) {
      res.type('application/javascript').set('Cache-Control', 'no-cache').send(initializerScript);
      return;
    }
    if (!SWAGGER_UI_FILES.has(req.path)) {
      next();
      return;
    }
    files(req, res, next);
  };
}

/**
 * `GET /api/openapi.json`, the OpenAPI 3.1 document built from every route's spec (built on the
 * first request, then kept: the routes do not change while the process runs), and `GET /api/docs`,
 * Swagger UI on it, where "Authorize" takes a bearer token for "Try it out".
 */
export function createApiDocsRouter({ routes, publicBaseUrl }: ApiDocsDeps): Router {
  const router = Router();
  let document: OpenApiDocument | undefined;

  router.get('/api/openapi.json', (req, res) => {
    parse(noQuery, req.query);
    document ??= buildOpenApiDocument({ routes, publicBaseUrl, version: API_DOCUMENT_VERSION });
    res.json(document);
  });

  router.get('/api/docs', (req, res) => {
    parse(noQuery, req.query);
    res.type('html').send(docsPage);
  });

  router.use(ASSETS_PATH, swaggerUiAssets());
  return router;
}

export const documentationRoutes: RouteSpec[] = [
  {
    method: 'get',
    path: '/api/openapi.json',
    operationId: 'getOpenApiDocument',
    summary: 'This document: OpenAPI 3.1, generated from the schemas that validate each route',
    tag: 'Documentation',
    auth: 'none',
    query: noQuery,
    responses: { 200: { description: 'The OpenAPI document' } },
  },
  {
    method: 'get',
    path: '/api/docs',
    operationId: 'getApiDocs',
    summary: 'Swagger UI on this document',
    tag: 'Documentation',
    auth: 'none',
    query: noQuery,
    responses: { 200: { description: 'The Swagger UI page', contentType: 'text/html' } },
  },
];
