import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import request from 'supertest';
import { z } from 'zod';
import { buildOpenApiDocument, ERROR_ENVELOPE, openApiPath, pathParameterNames } from '../../api/openapi/document';
import type { RouteSpec } from '../../api/openapi/route-spec';
import { allRouteSpecs } from '../../api/openapi/routes';
import { useApiStack } from '../support/api-stack';
import { listRoutes, routeKey } from '../support/routes';

const ROOT = path.join(__dirname, '..', '..');

interface ValidationResult {
  valid: boolean;
  version: string;
  errors: unknown;
}

/**
 * Validates a document with @seriousme/openapi-schema-validator, which is an ES module only: it
 * runs in a Node process of its own rather than through Jest's CommonJS registry.
 */
function validateOpenApi(document: unknown): Promise<ValidationResult> {
  const script = `
    import { Validator } from '@seriousme/openapi-schema-validator';
    const chunks = [];
    for await (const chunk of process.stdin) chunks.push(chunk);
    const validator = new Validator();
    const result = await validator.validate(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    process.stdout.write(JSON.stringify({ valid: result.valid, version: validator.version, errors: result.errors ?? null }));
  `;
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${error.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as ValidationResult);
      },
    );
    child.stdin!.end(JSON.stringify(document));
  });
}

const specKey = (spec: RouteSpec) => `${spec.method.toUpperCase()} ${spec.path}`;

/** Routes the document must describe: the API under /api/, and the probes, metrics and codec server beside it. */
const isDescribed = (routePath: string) =>
  routePath.startsWith('/api/') ||
  routePath.startsWith('/codec/') ||
  ['/healthz', '/readyz', '/metrics'].includes(routePath);

/** Values tried for a path parameter, in order, until the route's own params schema accepts one. */
const parameterCandidates = () => [randomUUID(), 'openapi-test', 'waitlist', 'ticket.update', 'EMAIL', 'd1.abc.def'];

/**
 * Path parameters the spec's params schema accepts, so a request reaches the part under test: an
 * enum's first value, else the first candidate that passes.
 */
function validParams(spec: RouteSpec): Record<string, string> {
  const names = pathParameterNames(spec.path);
  if (!spec.params || names.length === 0) return {};
  const properties = (z.toJSONSchema(spec.params, { io: 'input', unrepresentable: 'any' }).properties ?? {}) as Record<
    string,
    { enum?: string[] }
  >;
  const chosen: Record<string, string> = {};
  for (const name of names) {
    const fromEnum = properties[name]?.enum?.[0];
    if (fromEnum !== undefined) chosen[name] = fromEnum;
  }
  const shape = spec.params instanceof z.ZodObject ? (spec.params.shape as Record<string, z.ZodType>) : {};
  for (const name of names.filter((name) => chosen[name] === undefined)) {
    const accepted = parameterCandidates().find((value) => shape[name]?.safeParse(value).success);
    if (accepted === undefined) throw new Error(`${specKey(spec)}: no candidate value fits :${name}; add one`);
    chosen[name] = accepted;
  }
  expect(spec.params.safeParse(chosen).success).toBe(true);
  return chosen;
}

const urlOf = (spec: RouteSpec, params: Record<string, string>) =>
  spec.path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => encodeURIComponent(params[name]!));

/** Valid values for the headers a spec reads (each an Idempotency-Key today). */
function validHeaders(spec: RouteSpec): Record<string, string> {
  if (!spec.headers) return {};
  const properties = z.toJSONSchema(spec.headers, { io: 'input', unrepresentable: 'any' }).properties ?? {};
  const headers = Object.fromEntries(Object.keys(properties).map((name) => [name, `openapi-${randomUUID()}`]));
  expect(spec.headers.safeParse(headers).success).toBe(true);
  return headers;
}

describe('the OpenAPI document', () => {
  // Development mode mounts the dev outbox, so its route is held to its spec like every other.
  const stack = useApiStack({ devOutbox: true });
  let document: Record<string, unknown> & {
    paths: Record<string, Record<string, Record<string, unknown>>>;
    components: { schemas: Record<string, unknown> };
  };

  const tokenFor = (spec: RouteSpec): Record<string, string> => {
    if (spec.auth === 'none' || spec.auth === 'link-token') return {};
    return { Authorization: spec.auth === 'platform-admin' ? stack.tokens.platformAdmin : stack.tokens.admin };
  };

  const send = (spec: RouteSpec, url: string) => {
    const agent = request(stack.app);
    return {
      get: agent.get(url),
      post: agent.post(url),
      put: agent.put(url),
      patch: agent.patch(url),
      delete: agent.delete(url),
    }[spec.method];
  };

  beforeAll(async () => {
    const response = await request(stack.app).get('/api/openapi.json');
    expect(response.status).toBe(200);
    document = response.body;
  });

  it('validates as OpenAPI 3.1', async () => {
    const result = await validateOpenApi(document);

    expect(result.errors).toBeNull();
    expect(result).toMatchObject({ valid: true, version: '3.1' });
  });

  it('is checked by a validator that does refuse a broken document', async () => {
    const withoutInfo: Record<string, unknown> = { ...document };
    delete withoutInfo.info;
    const brokenOperation = structuredClone(document);
    brokenOperation.paths['/api/v1/me']!.get!.responses = 'none';

    expect((await validateOpenApi(withoutInfo)).valid).toBe(false);
    expect((await validateOpenApi(brokenOperation)).valid).toBe(false);
  });

  it('describes every route of the app under /api/, the probes and the metrics, and only routes that exist', () => {
    const routes = listRoutes(stack.app)
      .filter((route) => isDescribed(route.path))
      .map(routeKey)
      .sort();
    const specs = allRouteSpecs.map(specKey).sort();

    const withoutSpec = routes.filter((route) => !specs.includes(route));
    const withoutRoute = specs.filter((spec) => !routes.includes(spec));
    expect({ withoutSpec, withoutRoute }).toEqual({ withoutSpec: [], withoutRoute: [] });
    const operations = Object.values(document.paths).flatMap((item) => Object.keys(item));
    expect(operations).toHaveLength(allRouteSpecs.length);
  });

  it("names each route's path parameters in its params schema, and no others", () => {
    for (const spec of allRouteSpecs) {
      const names = pathParameterNames(spec.path).sort();
      const declared = spec.params
        ? Object.keys(z.toJSONSchema(spec.params, { io: 'input', unrepresentable: 'any' }).properties ?? {}).sort()
        : [];
      expect({ route: specKey(spec), declared }).toEqual({ route: specKey(spec), declared: names });
    }
  });

  it('answers every 4xx with the error envelope component, whatever the route', () => {
    expect(document.components.schemas[ERROR_ENVELOPE]).toMatchObject({
      type: 'object',
      required: ['error'],
      properties: { error: { required: ['code', 'message', 'details'] } },
    });
    for (const spec of allRouteSpecs) {
      const operation = document.paths[openApiPath(spec.path)]![spec.method]!;
      const responses = operation.responses as Record<string, { content?: Record<string, { schema?: unknown }> }>;
      for (const [status, response] of Object.entries(responses)) {
        if (Number(status) < 400 || !response.content?.['application/json']) continue;
        expect({ route: specKey(spec), status, schema: response.content['application/json'].schema }).toEqual({
          route: specKey(spec),
          status,
          schema: { $ref: `#/components/schemas/${ERROR_ENVELOPE}` },
        });
      }
    }
  });

  it('asks bearer routes for the JWT and says which role, and documents the link-token routes as such', () => {
    expect((document.components as Record<string, unknown>).securitySchemes).toEqual({
      bearerAuth: expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }),
    });
    for (const spec of allRouteSpecs) {
      const operation = document.paths[openApiPath(spec.path)]![spec.method]!;
      const bearer = spec.auth !== 'none' && spec.auth !== 'link-token';
      expect({ route: specKey(spec), security: operation.security }).toEqual({
        route: specKey(spec),
        security: bearer ? [{ bearerAuth: [] }] : [],
      });
      expect(operation['x-holdfast-auth']).toBe(spec.auth);
      if (spec.auth === 'link-token') expect(operation.description).toContain('signed token in the link');
      if (bearer && spec.auth !== 'member') expect(operation.description).toContain(`the ${spec.auth} role`);
    }
  });

  it('names the server from PUBLIC_BASE_URL and turns Express parameters into OpenAPI ones', () => {
    expect(document.servers).toEqual([{ url: stack.config.api.publicBaseUrl }]);
    expect(document.paths['/api/v1/orders/{orderId}/cancel']?.post?.parameters).toEqual([
      expect.objectContaining({
        name: 'orderId',
        in: 'path',
        required: true,
        schema: expect.objectContaining({ format: 'uuid' }),
      }),
    ]);
  });

  it('refuses two specs for one route, or one operationId twice, so a copied spec cannot hide a route', () => {
    const [first] = allRouteSpecs;
    const build = (routes: RouteSpec[]) => () =>
      buildOpenApiDocument({ routes, publicBaseUrl: 'http://localhost:3000', version: 'test' });

    expect(build([first!, { ...first!, operationId: 'another' }])).toThrow(/Two route specs describe/);
    expect(build([first!, { ...first!, path: '/api/v1/elsewhere' }])).toThrow(/share operationId/);
  });

  describe('is generated from the schemas that validate', () => {
    it('every query schema refuses an unknown parameter, and so does its route (400)', async () => {
      const checked: string[] = [];
      for (const spec of allRouteSpecs.filter((candidate) => candidate.query)) {
        const params = validParams(spec);
        expect({ route: specKey(spec), accepted: spec.query!.safeParse({ zzUnknown: '1' }).success }).toEqual({
          route: specKey(spec),
          accepted: false,
        });

        const response = await send(spec, `${urlOf(spec, params)}?zzUnknown=1`)
          .set(tokenFor(spec))
          .set(validHeaders(spec));

        expect({ route: specKey(spec), status: response.status }).toEqual({ route: specKey(spec), status: 400 });
        if (response.type === 'application/json') expect(response.body.error.code).toBe('VALIDATION_FAILED');
        checked.push(specKey(spec));
      }
      expect(checked.length).toBeGreaterThan(50);
    });

    it('every body schema refuses an unknown field, and so does its route (400 VALIDATION_FAILED)', async () => {
      const checked: string[] = [];
      for (const spec of allRouteSpecs.filter((candidate) => candidate.body)) {
        const body = { zzUnknown: true };
        expect({ route: specKey(spec), accepted: spec.body!.safeParse(body).success }).toEqual({
          route: specKey(spec),
          accepted: false,
        });

        const response = await send(spec, urlOf(spec, validParams(spec)))
          .set(tokenFor(spec))
          .set(validHeaders(spec))
          .send(body);

        expect({ route: specKey(spec), status: response.status, code: response.body?.error?.code }).toEqual({
          route: specKey(spec),
          status: 400,
          code: 'VALIDATION_FAILED',
        });
        checked.push(specKey(spec));
      }
      expect(checked.length).toBeGreaterThan(30);
    });

    it('every Idempotency-Key header schema refuses a malformed key, and so does its route', async () => {
      /** The spec's name for the header (HTTP header names are case-insensitive). */
      const keyHeaderOf = (spec: RouteSpec) =>
        Object.keys(z.toJSONSchema(spec.headers!, { io: 'input', unrepresentable: 'any' }).properties ?? {}).find(
          (name) => name.toLowerCase() === 'idempotency-key',
        );
      const specs = allRouteSpecs.filter((candidate) => candidate.headers && keyHeaderOf(candidate));
      expect(specs.length).toBeGreaterThan(5);
      for (const spec of specs) {
        const headers = { [keyHeaderOf(spec)!]: 'two words' };
        expect({ route: specKey(spec), accepted: spec.headers!.safeParse(headers).success }).toEqual({
          route: specKey(spec),
          accepted: false,
        });

        const response = await send(spec, urlOf(spec, validParams(spec)))
          .set(tokenFor(spec))
          .set(headers)
          .send({});

        expect({ route: specKey(spec), status: response.status, code: response.body?.error?.code }).toEqual({
          route: specKey(spec),
          status: 400,
          code: 'VALIDATION_FAILED',
        });
      }
    });

    const specFor = (method: RouteSpec['method'], routePath: string) => {
      const spec = allRouteSpecs.find((candidate) => candidate.method === method && candidate.path === routePath);
      if (!spec) throw new Error(`no spec for ${method} ${routePath}`);
      return spec;
    };

    it('what a body schema accepts the route takes, and its answer matches the response schema', async () => {
      const createSlot = specFor('post', '/api/v1/slots');
      const body = { name: `OpenAPI court ${randomUUID().slice(0, 8)}`, holdMinutes: 30 };
      expect(createSlot.body!.safeParse(body).success).toBe(true);
      expect(createSlot.body!.safeParse({ ...body, holdMinutes: 0 }).success).toBe(false);

      const created = await request(stack.app)
        .post('/api/v1/slots')
        .set('Authorization', stack.tokens.member)
        .send(body);
      const refused = await request(stack.app)
        .post('/api/v1/slots')
        .set('Authorization', stack.tokens.member)
        .send({ ...body, holdMinutes: 0 });

      expect(created.status).toBe(201);
      expect(createSlot.responses[201]!.schema!.parse(created.body)).toMatchObject({
        name: body.name,
        holdMinutes: 30,
      });
      expect(refused.status).toBe(400);
      expect(refused.body.error.details).toEqual([expect.objectContaining({ path: 'holdMinutes' })]);

      const getSlot = specFor('get', '/api/v1/slots/:slotId');
      const read = await request(stack.app)
        .get(`/api/v1/slots/${created.body.id}`)
        .set('Authorization', stack.tokens.member);
      expect(getSlot.responses[200]!.schema!.parse(read.body)).toMatchObject({ id: created.body.id, waiting: 0 });
    });

    it('the answers of routes with a response schema match it', async () => {
      const reads: Array<[string, string]> = [
        ['/healthz', stack.tokens.member],
        ['/api/v1/me', stack.tokens.operator],
        ['/api/v1/tenant', stack.tokens.member],
        ['/api/v1/retailers', stack.tokens.member],
        ['/api/v1/vendors', stack.tokens.member],
        ['/api/v1/orders', stack.tokens.member],
      ];
      for (const [routePath, token] of reads) {
        const response = await request(stack.app).get(routePath).set('Authorization', token);
        const schema = specFor('get', routePath).responses[200]!.schema!;
        expect({ routePath, status: response.status, problems: schema.safeParse(response.body).error?.issues }).toEqual(
          {
            routePath,
            status: 200,
            problems: undefined,
          },
        );
      }
    });
  });
});
