import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createApiMetrics, type ApiMetrics } from '../../api/metrics';
import { useApiStack } from '../support/api-stack';
import { listRoutes } from '../support/routes';

/** The sample lines of `name` in a scrape, e.g. `http_request_duration_seconds_count{…} 1`. */
const samples = (scrape: string, name: string) => scrape.split('\n').filter((line) => line.startsWith(`${name}{`));

/** The labels of one sample line, parsed. */
function labelsOf(line: string): Record<string, string> {
  const inside = line.slice(line.indexOf('{') + 1, line.lastIndexOf('}'));
  return Object.fromEntries([...inside.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((match) => [match[1]!, match[2]!]));
}

const durationCounts = (scrape: string) => samples(scrape, 'http_request_duration_seconds_count').map(labelsOf);

describe('GET /metrics on the API', () => {
  const stack = useApiStack();
  let metrics: ApiMetrics;
  let app: ReturnType<typeof stack.appWith>;

  beforeAll(() => {
    // Counts of this suite's own, apart from every other app built in the same process.
    metrics = createApiMetrics();
    app = stack.appWith({ metrics });
  });

  const scrape = async () => {
    const response = await request(app).get('/metrics');
    expect(response.status).toBe(200);
    return response.text;
  };

  it('answers Prometheus’ text format with the process and Node metrics, never cached', async () => {
    const response = await request(app).get('/metrics');

    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.text).toMatch(/^# TYPE process_cpu_user_seconds_total counter$/m);
    expect(response.text).toMatch(/^# TYPE nodejs_heap_size_used_bytes gauge$/m);
    expect(response.text).toMatch(/^# TYPE http_request_duration_seconds histogram$/m);
  });

  it('times a request by the route pattern that answered it, and the ID in its path appears nowhere', async () => {
    const orderId = randomUUID();

    const answer = await request(app).get(`/api/v1/orders/${orderId}`).set('Authorization', stack.tokens.member);
    const output = await scrape();

    expect(answer.status).toBe(404);
    expect(durationCounts(output)).toContainEqual({
      method: 'GET',
      route: '/api/v1/orders/:orderId',
      status_code: '404',
    });
    expect(output).not.toContain(orderId);
  });

  it('labels a download link by its pattern, so the token in its path never reaches the metrics', async () => {
    const token = `link-token-${randomUUID()}`;

    const answer = await request(app).get(`/api/v1/downloads/${token}`);
    const output = await scrape();

    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(durationCounts(output)).toContainEqual({
      method: 'GET',
      route: '/api/v1/downloads/:token',
      status_code: String(answer.status),
    });
    expect(output).not.toContain(token);
  });

  it('labels requests no route answered as unmatched: unknown paths, and requests refused before routing', async () => {
    const secret = `secret-${randomUUID()}`;

    const unknown = await request(app).get(`/no/such/${secret}`);
    const unauthenticated = await request(app).get(`/api/v1/orders/${secret}`);
    const output = await scrape();

    expect(unknown.status).toBe(404);
    expect(unauthenticated.status).toBe(401);
    const counts = durationCounts(output);
    expect(counts).toContainEqual({ method: 'GET', route: 'unmatched', status_code: '404' });
    expect(counts).toContainEqual({ method: 'GET', route: 'unmatched', status_code: '401' });
    expect(output).not.toContain(secret);
    // Every route label is a pattern the app declares, or `unmatched`: nothing is taken from a raw path.
    const declared = new Set(['unmatched', ...listRoutes(app).map((route) => route.path)]);
    expect(counts.map(({ route }) => route).filter((route) => !declared.has(route!))).toEqual([]);
  });

  it('counts every request once, with its method and status', async () => {
    const before = durationCounts(await scrape()).length;
    const orderId = randomUUID();

    await request(app).post(`/api/v1/orders/${orderId}/cancel`).set('Authorization', stack.tokens.member).send({});
    const output = await scrape();

    const cancel = samples(output, 'http_request_duration_seconds_count').find((line) => {
      const labels = labelsOf(line);
      return labels.method === 'POST' && labels.route === '/api/v1/orders/:orderId/cancel';
    });
    expect(cancel).toMatch(/ 1$/);
    expect(durationCounts(output).length).toBeGreaterThan(before);
  });

  it('refuses a query it does not take with 400', async () => {
    const response = await request(app).get('/metrics').query({ tenantId: 'x' });

    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('VALIDATION_FAILED');
  });

  it('ignores the Authorization header while no METRICS_TOKEN is set, however long it is', async () => {
    const response = await request(app)
      .get('/metrics')
      .set('Authorization', `Bearer ${'x'.repeat(4000)}`);

    expect(response.status).toBe(200);
    expect(response.text).toMatch(/^# TYPE http_request_duration_seconds histogram$/m);
  });

  describe('with METRICS_TOKEN set', () => {
    const metricsToken = `metrics-${randomUUID()}`;
    let guarded: ReturnType<typeof stack.appWith>;

    beforeAll(() => {
      guarded = stack.appWith({ metrics: createApiMetrics() }, { METRICS_TOKEN: metricsToken });
    });

    it('refuses a scrape without the bearer token with 401', async () => {
      const response = await request(guarded).get('/metrics');

      expect(response.status).toBe(401);
      expect(response.body.error).toMatchObject({ code: 'UNAUTHORIZED' });
      expect(response.headers['www-authenticate']).toBe('Bearer realm="metrics"');
      expect(response.text).not.toContain('http_request_duration_seconds');
    });

    it('refuses a wrong token, a tenant’s JWT and a token sent any other way with 401', async () => {
      const wrong = await request(guarded).get('/metrics').set('Authorization', `Bearer ${metricsToken}x`);
      const jwt = await request(guarded).get('/metrics').set('Authorization', stack.tokens.admin);
      const basic = await request(guarded).get('/metrics').set('Authorization', `Basic ${metricsToken}`);
      const withQuery = await request(guarded).get('/metrics').query({ token: metricsToken });
      const overlong = await request(guarded)
        .get('/metrics')
        .set('Authorization', `Bearer ${metricsToken}${'x'.repeat(4000)}`);

      expect([wrong.status, jwt.status, basic.status, withQuery.status, overlong.status]).toEqual([
        401, 401, 401, 401, 401,
      ]);
    });

    it('answers the metrics to the bearer token', async () => {
      const response = await request(guarded).get('/metrics').set('Authorization', `Bearer ${metricsToken}`);

      expect(response.status).toBe(200);
      expect(response.text).toMatch(/^# TYPE http_request_duration_seconds histogram$/m);
      expect(response.text).not.toContain(metricsToken);
    });

    it('still answers the rest of the API as before', async () => {
      const response = await request(guarded).get('/healthz');

      expect(response.status).toBe(200);
    });
  });
});
