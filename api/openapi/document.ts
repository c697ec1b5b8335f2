import { z } from 'zod';
import type { RouteResponse, RouteSpec } from './route-spec';

/**
 * The OpenAPI 3.1 document, generated from the `RouteSpec`s beside each route: every parameter,
 * query, header and body schema is the zod schema the handler parses, converted with zod's own
 * `z.toJSONSchema`, so the document cannot drift from what the API accepts.
 */

/** A JSON Schema or an OpenAPI object, as plain JSON. */
export type JsonObject = Record<string, unknown>;

export interface OpenApiDocument extends JsonObject {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  servers: Array<{ url: string }>;
  paths: Record<string, Record<string, JsonObject>>;
  components: { schemas: Record<string, JsonObject>; securitySchemes: Record<string, JsonObject> };
  tags: Array<{ name: string; description?: string }>;
}

export interface OpenApiDocumentOptions {
  /** Every route's spec (api/openapi/routes.ts collects them). */
  routes: readonly RouteSpec[];
  /** PUBLIC_BASE_URL: the server the document names, so Swagger UI's "Try it out" reaches this API. */
  publicBaseUrl: string;
  version: string;
}

/** Every 4xx and 5xx answers this body, whichever layer refused (api/errors.ts). */
export const errorEnvelopeSchema = z
  .object({
    error: z.object({
      code: z.string().meta({ description: 'UPPER_SNAKE, e.g. VALIDATION_FAILED, NOT_FOUND, HOLD_EXPIRED' }),
      message: z.string(),
      details: z.unknown().meta({ description: 'Per-field problems for VALIDATION_FAILED, else context or null' }),
    }),
  })
  .meta({ description: 'The error envelope every refusal answers' });

export const ERROR_ENVELOPE = 'ErrorEnvelope';
const errorRef = { $ref: `#/components/schemas/${ERROR_ENVELOPE}` };

/** The answers the API's shared layers give, added to every route they apply to. */
const commonAnswers = {
  invalid: 'The request is not valid: VALIDATION_FAILED with per-field details, or MALFORMED_JSON',
  unauthorized: 'No token, or one that is not valid (UNAUTHORIZED), or an unknown tenant (TENANT_UNKNOWN)',
  forbidden: 'The token lacks the role (FORBIDDEN), or its tenant is not active (TENANT_INACTIVE)',
  notFound: 'Not found; another tenant’s object is answered exactly like a missing one',
  rateLimited: 'Too many requests (RATE_LIMITED), with Retry-After',
  serverError:
    'INTERNAL, whose only detail is the requestId (logged once with the error), or SERVICE_UNAVAILABLE with ' +
    'Retry-After while the database is unreachable',
};

/** What each group of routes is for, shown above it in Swagger UI. */
const tagDescriptions: Record<string, string> = {
  Health: 'Liveness and readiness probes, open like the metrics.',
  Operations:
    "The operator's surface: stats in Bull's shape, workflows to find, describe, cancel, terminate, reset and " +
    'act on now, the dead-letter inbox, paused flows and Schedules. Scoped to the token’s tenant; a platform ' +
    'admin may name one with `tenantId`.',
  Tenant: 'The caller’s own tenant and its settings.',
  Tenants: 'Tenant onboarding and suspension, for platform admins.',
  Waitlist: 'Slots, their waitlists, and the cascade that offers a released slot one person at a time.',
  Orders: 'Orders routed to vendors, fulfilment steps, payments and payment reminders.',
  'Vendor portal': 'The vendor’s side of an order, through the signed links in its offer.',
  Invitations: 'The invited administrator’s side, through the token in the welcome email.',
  Files: 'Report and export files, through signed short-lived links.',
  Development: 'Only in development: what the local mail catcher and SMS and WhatsApp sinks caught.',
  Documentation: 'This document and Swagger UI.',
};

type Io = 'input' | 'output';

/**
 * Converts a zod schema to a JSON Schema for the document. What JSON Schema cannot say (a
 * refinement, a transform's code) is left out: the document describes the shape, the API still
 * refuses what the refinement refuses. `$defs` (recursive schemas) move to the components, under
 * a name prefixed by the operation, so their `$ref`s resolve inside the document.
 */
function jsonSchemaOf(schema: z.ZodType, io: Io, components: Record<string, JsonObject>, prefix: string): JsonObject {
  const converted = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' }) as JsonObject;
  delete converted.$schema;
  const defs = converted.$defs as Record<string, JsonObject> | undefined;
  if (!defs) return converted;
  delete converted.$defs;
  const renamed = new Map(Object.keys(defs).map((name) => [name, `${prefix}_${name}`]));
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => {
        if (key === '$ref' && typeof inner === 'string' && inner.startsWith('#/$defs/')) {
          const name = renamed.get(inner.slice('#/$defs/'.length));
          return [key, name ? `#/components/schemas/${name}` : inner];
        }
        return [key, rewrite(inner)];
      }),
    );
  };
  for (const [name, def] of Object.entries(defs)) components[renamed.get(name)!] = rewrite(def) as JsonObject;
  return rewrite(converted) as JsonObject;
}

/** `/api/v1/orders/:orderId/cancel` → `/api/v1/orders/{orderId}/cancel`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
}

/** The names of an Express path's parameters, in order. */
export function pathParameterNames(expressPath: string): string[] {
  return [...expressPath.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)/g)].map((match) => match[1]!);
}

/** Whether a request may leave the schema's part out (e.g. `noBody`, or an optional body). */
function acceptsNothing(schema: z.ZodType): boolean {
  try {
    return schema.safeParse(undefined).success;
  } catch {
    return false;
  }
}

/** An object schema's properties as OpenAPI parameters `in` the path, query or headers. */
function parametersOf(
  schema: JsonObject,
  location: 'path' | 'query' | 'header',
  names?: readonly string[],
): JsonObject[] {
  const properties = (schema.properties ?? {}) as Record<string, JsonObject>;
  const required = new Set((schema.required ?? []) as string[]);
  return (names ?? Object.keys(properties)).map((name) => {
    const { description, ...property } = properties[name] ?? { type: 'string' };
    return {
      name,
      in: location,
      required: location === 'path' || required.has(name),
      ...(description ? { description } : {}),
      schema: property,
    };
  });
}

const roleNote = (auth: RouteSpec['auth']): string => {
  switch (auth) {
    case 'none':
      return 'Open: no credential.';
    case 'link-token':
      return 'Authenticated by the signed token in the link a person received (no bearer token); rate-limited per IP and per token.';
    case 'member':
      return 'Bearer token of any role.';
    default:
      return `Bearer token with the ${auth} role or above.`;
  }
};

/**
 * A response of the document. Every JSON refusal (4xx, 5xx) is the error envelope, whichever layer
 * answers it (api/errors.ts), so it references the one component even where a spec gives a schema
 * of its own: clients then get one error type.
 */
function responseObject(
  response: RouteResponse,
  status: number,
  components: Record<string, JsonObject>,
  prefix: string,
): JsonObject {
  if (status === 204 || status === 304) return { description: response.description };
  const contentType = response.contentType ?? 'application/json';
  const refusal = status >= 400 && contentType === 'application/json';
  const schema = refusal
    ? errorRef
    : response.schema
      ? jsonSchemaOf(response.schema, 'output', components, `${prefix}_${status}`)
      : undefined;
  return { description: response.description, content: { [contentType]: schema ? { schema } : {} } };
}

function operationOf(spec: RouteSpec, components: Record<string, JsonObject>): JsonObject {
  const prefix = spec.operationId;
  const parameters: JsonObject[] = [];
  const names = pathParameterNames(spec.path);
  if (names.length > 0) {
    const params = spec.params ? jsonSchemaOf(spec.params, 'input', components, `${prefix}_params`) : {};
    parameters.push(...parametersOf(params, 'path', names));
  }
  if (spec.query)
    parameters.push(...parametersOf(jsonSchemaOf(spec.query, 'input', components, `${prefix}_query`), 'query'));
  if (spec.headers) {
    parameters.push(...parametersOf(jsonSchemaOf(spec.headers, 'input', components, `${prefix}_headers`), 'header'));
  }

  const responses: Record<string, JsonObject> = {};
  for (const [status, response] of Object.entries(spec.responses)) {
    responses[status] = responseObject(response, Number(status), components, prefix);
  }
  const addAnswer = (status: number, description: string) => {
    responses[status] ??= { description, content: { 'application/json': { schema: errorRef } } };
  };
  const takesInput = spec.params || spec.query || spec.body || spec.headers;
  if (takesInput) addAnswer(400, commonAnswers.invalid);
  const bearer = spec.auth !== 'none' && spec.auth !== 'link-token';
  if (bearer) {
    addAnswer(401, commonAnswers.unauthorized);
    addAnswer(403, commonAnswers.forbidden);
  }
  if (names.length > 0 && spec.auth !== 'none') addAnswer(404, commonAnswers.notFound);
  if (spec.auth !== 'none') addAnswer(429, commonAnswers.rateLimited);
  responses['5XX'] ??= {
    description: commonAnswers.serverError,
    content: { 'application/json': { schema: errorRef } },
  };

  let requestBody: JsonObject | undefined;
  if (spec.body) {
    const schema = jsonSchemaOf(spec.body, 'input', components, `${prefix}_body`);
    const content: Record<string, JsonObject> = { 'application/json': { schema } };
    // The link pages' buttons post the same fields as a form.
    if (spec.bodyType === 'form') content['application/x-www-form-urlencoded'] = { schema };
    requestBody = { required: !acceptsNothing(spec.body), content };
  }
  const operation: JsonObject = {
    operationId: spec.operationId,
    summary: spec.summary,
    description: [spec.description, roleNote(spec.auth)].filter(Boolean).join('\n\n'),
    tags: [spec.tag],
    security: bearer ? [{ bearerAuth: [] }] : [],
    'x-holdfast-auth': spec.auth,
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses,
  };
  return operation;
}

/**
 * Builds the document. Two specs for the same method and path, or two with the same
 * operationId, are a mistake in a route file and throw, so the OpenAPI test names it.
 */
export function buildOpenApiDocument({ routes, publicBaseUrl, version }: OpenApiDocumentOptions): OpenApiDocument {
  const schemas: Record<string, JsonObject> = {
    [ERROR_ENVELOPE]: jsonSchemaOf(errorEnvelopeSchema, 'output', {}, ERROR_ENVELOPE),
  };
  const paths: OpenApiDocument['paths'] = {};
  const operationIds = new Set<string>();
  for (const spec of routes) {
    if (operationIds.has(spec.operationId)) throw new Error(`Two route specs share operationId ${spec.operationId}`);
    operationIds.add(spec.operationId);
    const path = openApiPath(spec.path);
    const item = (paths[path] ??= {});
    if (item[spec.method]) throw new Error(`Two route specs describe ${spec.method.toUpperCase()} ${spec.path}`);
    item[spec.method] = operationOf(spec, schemas);
  }
  const sortedPaths = Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b)));
  return {
    openapi: '3.1.0',
    info: {
      title: 'Holdfast API',
      version,
      description:
        'Durable business workflows for multi-tenant SaaS back ends, on Temporal. ' +
        'Every `/api/v1` route takes a bearer JWT whose `tenantId` scopes everything it sees; ' +
        'the routes behind links in messages take the link’s signed token instead. ' +
        'Every refusal answers `{ error: { code, message, details } }`.',
    },
    servers: [{ url: publicBaseUrl }],
    paths: sortedPaths,
    components: {
      schemas,
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'A JWT with `sub`, `tenantId` and `roles`; `npm run token` mints one in development.',
        },
      },
    },
    // In the order the routes are collected (api/openapi/routes.ts), so the docs open on the probes and the operator's surface.
    tags: [...new Set(routes.map((spec) => spec.tag))].map((name) =>
      tagDescriptions[name] ? { name, description: tagDescriptions[name] } : { name },
    ),
  };
}
