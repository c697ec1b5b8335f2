import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import request from 'supertest';
import { MAX_ENDPOINTS_PER_TENANT } from '../../api/services/webhooks';
import { verifyWebhookSignature } from '../../lib/webhook-signature';
import { collectBody, closeServer, listenOn } from '../../scripts/stack/ports';
import { useApiStack } from '../support/api-stack';
import { eventually } from '../support/eventually';

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * A tenant's receiver on loopback. Each path answers from its own script, one answer per request
 * (the last repeats; 204 when unscripted), and every request is kept.
 */
async function startReceiver() {
  const received: Received[] = [];
  const scripts = new Map<string, Answer[]>();
  const server = http.createServer((req, res) => {
    collectBody(req, 256 * 1024, (raw) => {
      const path = req.url ?? '/';
      const count = received.filter((request) => request.path === path).length;
      received.push({ path, headers: req.headers, body: raw ?? '' });
      const script = scripts.get(path) ?? [{ status: 204 }];
      const answer = script[Math.min(count, script.length - 1)]!;
      res.writeHead(answer.status, answer.headers).end(answer.body);
    });
  });
  await listenOn(server, 0, '127.0.0.1');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let next = 0;
  return {
    received,
    /** A fresh path on the receiver answering with `answers`, and its URL. */
    route(...answers: Answer[]) {
      const path = `/hooks/${++next}`;
      if (answers.length > 0) scripts.set(path, answers);
      return { path, url: `${base}${path}`, requests: () => received.filter((request) => request.path === path) };
    },
    stop: () => closeServer(server),
  };
}

describe('webhooks on the real stack (dev server, PostgreSQL, worker, a receiver on loopback)', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const logs = new PassThrough();
  let logText = '';
  logs.on('data', (chunk: Buffer) => (logText += chunk.toString()));
  const stack = useApiStack({
    worker: true,
    mail: 'memory',
    terminateOnStop: true,
    logs,
    config: async () => {
      receiver = await startReceiver();
      return { LOG_LEVEL: 'debug' };
    },
    stop: () => receiver.stop(),
  });

  beforeAll(async () => {
    // Quick retries keep the suite short; the threshold is reached by two failed deliveries.
    await stack.prisma.tenant.update({
      where: { id: stack.tenant.id },
      data: { webhookMaxAttempts: 3, webhookRetryInitialSeconds: 1, webhookFailureThreshold: 2 },
    });
  });

  const api = () => request(stack.app);
  const admin = () => stack.tokens.admin;

  async function register(url: string, events: string[] = ['*']) {
    const response = await api().post('/api/v1/webhooks').set('Authorization', admin()).send({ url, events });
    expect(response.status).toBe(201);
    return response.body as { id: string; secret: string; status: string };
  }

  async function sendTest(endpointId: string) {
    const response = await api().post(`/api/v1/webhooks/${endpointId}/test`).set('Authorization', admin());
    expect(response.status).toBe(202);
    return response.body as { eventId: string; deliveryId: string; workflowId: string };
  }

  const delivery = (deliveryId: string) =>
    stack.prisma.webhookDelivery.findUniqueOrThrow({ where: { id: deliveryId }, include: { attemptLog: true } });

  async function settled(deliveryId: string) {
    return eventually(async () => {
      const row = await delivery(deliveryId);
      return row.status !== 'PENDING' && row;
    });
  }

  it('a registered endpoint gets the test event signed, and verifyWebhookSignature verifies it with the secret shown once', async () => {
    const target = receiver.route();
    const endpoint = await register(target.url);

    const sent = await sendTest(endpoint.id);

    expect(endpoint.secret).toMatch(/^whsec_/);
    expect(sent.workflowId).toBe(`webhook:${stack.tenant.id}:${endpoint.id}:${sent.eventId}`);
    expect((await settled(sent.deliveryId)).status).toBe('SUCCEEDED');
    const [got] = target.requests();
    expect(verifyWebhookSignature(endpoint.secret, got!.headers, got!.body)).toEqual({
      id: sent.deliveryId,
      timestamp: Number(got!.headers['webhook-timestamp']),
    });
    expect(JSON.parse(got!.body)).toMatchObject({
      type: 'webhook.test',
      id: sent.eventId,
      subject: { type: 'webhook', id: endpoint.id },
      data: { endpointId: endpoint.id },
    });
    expect(() => verifyWebhookSignature(endpoint.secret, got!.headers, `${got!.body} `)).toThrow();
  });

  it('the secret is never shown again, and is stored only encrypted', async () => {
    const endpoint = await register(receiver.route().url, ['ticket.created', 'invoice.created']);

    const one = await api().get(`/api/v1/webhooks/${endpoint.id}`).set('Authorization', admin());
    const list = await api().get('/api/v1/webhooks').set('Authorization', admin());
    const row = await stack.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } });

    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      id: endpoint.id,
      events: ['ticket.created', 'invoice.created'],
      status: 'ACTIVE',
    });
    expect(one.body).not.toHaveProperty('secret');
    expect(JSON.stringify(list.body)).not.toContain(endpoint.secret);
    expect(JSON.stringify(list.body)).not.toContain('whsec_');
    expect(JSON.stringify(row)).not.toContain(endpoint.secret.slice('whsec_'.length));
    expect(row.secretCiphertext).toMatch(/^v1\./);
  });

  it('a receiver failing twice and then answering 2xx gets the event once, and every attempt is listed', async () => {
    const target = receiver.route(
      { status: 500, body: 'x'.repeat(5000) },
      { status: 503 },
      { status: 200, body: '{"ok":true}' },
    );
    const endpoint = await register(target.url);

    const sent = await sendTest(endpoint.id);

    expect((await settled(sent.deliveryId)).status).toBe('SUCCEEDED');
    const listed = await api().get(`/api/v1/webhooks/${endpoint.id}/deliveries`).set('Authorization', admin());
    expect(listed.status).toBe(200);
    expect(listed.body.total).toBe(1);
    const [entry] = listed.body.deliveries as Array<{
      status: string;
      attempts: Array<{ statusCode: number; durationMs: number; responseBody: string }>;
    }>;
    expect(entry!.status).toBe('SUCCEEDED');
    expect(entry!.attempts.map((attempt) => attempt.statusCode)).toEqual([500, 503, 200]);
    expect(entry!.attempts[0]!.responseBody).toHaveLength(1024);
    expect(entry!.attempts[2]!.responseBody).toBe('{"ok":true}');
    for (const attempt of entry!.attempts) expect(attempt.durationMs).toBeGreaterThanOrEqual(0);
    // webhook-id stays the same across retries, so the receiver can drop repeats.
    expect(new Set(target.requests().map((got) => got.headers['webhook-id']))).toEqual(new Set([sent.deliveryId]));
    const row = await stack.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } });
    expect(row.consecutiveFailures).toBe(0);
  });

  it('410 Gone disables the endpoint after one attempt', async () => {
    const target = receiver.route({ status: 410 });
    const endpoint = await register(target.url);

    const sent = await sendTest(endpoint.id);

    expect((await settled(sent.deliveryId)).status).toBe('FAILED');
    const row = await stack.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } });
    expect(row).toMatchObject({ status: 'DISABLED', disabledReason: 'ENDPOINT_GONE' });
    expect(target.requests()).toHaveLength(1);
    const test = await api().post(`/api/v1/webhooks/${endpoint.id}/test`).set('Authorization', admin());
    expect(test.status).toBe(409);
    expect(test.body.error.code).toBe('ENDPOINT_DISABLED');
  });

  it('another 4xx is not retried', async () => {
    const target = receiver.route({ status: 422 });
    const endpoint = await register(target.url);

    const sent = await sendTest(endpoint.id);

    const row = await settled(sent.deliveryId);
    expect(row).toMatchObject({ status: 'FAILED', attempts: 1, lastError: 'The receiver answered 422' });
  });

  it("after the tenant's threshold of failed deliveries the endpoint is disabled, the admin is notified, and PATCH re-enables it", async () => {
    const target = receiver.route({ status: 500 });
    const endpoint = await register(target.url);

    const first = await sendTest(endpoint.id);
    expect((await settled(first.deliveryId)).status).toBe('FAILED');
    const second = await sendTest(endpoint.id);
    expect((await settled(second.deliveryId)).status).toBe('FAILED');

    const disabled = await eventually(async () => {
      const row = await stack.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } });
      return row.status === 'DISABLED' && row;
    });
    expect(disabled).toMatchObject({ disabledReason: 'FAILURE_THRESHOLD', consecutiveFailures: 2 });
    expect(target.requests()).toHaveLength(6);
    const notice = await eventually(() =>
      stack.prisma.notification.findFirst({
        where: { tenantId: stack.tenant.id, template: 'webhook.endpoint-disabled', status: 'SENT' },
      }),
    );
    expect(notice.recipient).toBe(stack.tenant.adminEmail);
    // Only the delivery that disabled the endpoint told the admins: one notice per address.
    const notices = await stack.prisma.notification.findMany({
      where: {
        tenantId: stack.tenant.id,
        template: 'webhook.endpoint-disabled',
        data: { path: ['endpointId'], equals: endpoint.id },
      },
    });
    const recipients = notices.map((row) => row.recipient.toLowerCase());
    expect(new Set(recipients).size).toBe(recipients.length);
    expect(notices.every((row) => row.status === 'SENT' || row.status === 'PENDING')).toBe(true);
    const mail = await eventually(() => stack.mails.find((sent) => sent.to === stack.tenant.adminEmail));
    expect(mail.text).toContain(endpoint.id);

    const enabled = await api()
      .patch(`/api/v1/webhooks/${endpoint.id}`)
      .set('Authorization', admin())
      .send({ status: 'ACTIVE' });
    expect(enabled.status).toBe(200);
    expect(enabled.body).toMatchObject({ status: 'ACTIVE', consecutiveFailures: 0, disabledReason: null });
  });

  it('a replay sends a settled delivery again with the same webhook-id, and is audited', async () => {
    const target = receiver.route();
    const endpoint = await register(target.url);
    const sent = await sendTest(endpoint.id);
    // A replay is a new run once the first has closed; while it runs the API answers 409.
    await stack.client.workflow.getHandle(sent.workflowId).result();

    const replay = await api()
      .post(`/api/v1/webhooks/deliveries/${sent.deliveryId}/replay`)
      .set('Authorization', admin());

    expect(replay.status).toBe(202);
    expect(replay.body).toMatchObject({ deliveryId: sent.deliveryId, workflowId: sent.workflowId });
    await eventually(() => target.requests().length === 2);
    const [first, again] = target.requests();
    expect(again!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    expect(verifyWebhookSignature(endpoint.secret, again!.headers, again!.body).id).toBe(sent.deliveryId);
    const row = await eventually(async () => {
      const found = await delivery(sent.deliveryId);
      return found.status === 'SUCCEEDED' && found.attemptLog.length === 2 && found;
    });
    expect(row.attempts).toBe(2);
    const audit = await stack.prisma.auditLog.findFirst({
      where: { tenantId: stack.tenant.id, action: 'webhook.delivery.replayed', entityId: sent.deliveryId },
    });
    expect(audit).not.toBeNull();
  });

  it('a replay while the delivery is still retrying is refused with 409', async () => {
    const endpoint = await register(receiver.route({ status: 500 }).url);
    const sent = await sendTest(endpoint.id);

    const replay = await api()
      .post(`/api/v1/webhooks/deliveries/${sent.deliveryId}/replay`)
      .set('Authorization', admin());

    expect(replay.status).toBe(409);
    expect(replay.body.error.code).toBe('DELIVERY_IN_PROGRESS');
    await stack.client.workflow.getHandle(sent.workflowId).result();
  });

  it('after a rotation both the new and the previous secret sign, in two v1 signatures', async () => {
    const target = receiver.route();
    const endpoint = await register(target.url);

    const rotated = await api().post(`/api/v1/webhooks/${endpoint.id}/rotate-secret`).set('Authorization', admin());
    expect(rotated.status).toBe(200);
    const sent = await sendTest(endpoint.id);
    await settled(sent.deliveryId);

    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(endpoint.secret);
    expect(Date.parse(rotated.body.previousSecretExpiresAt as string)).toBeGreaterThan(Date.now());
    const [got] = target.requests();
    expect(String(got!.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verifyWebhookSignature(rotated.body.secret as string, got!.headers, got!.body).id).toBe(sent.deliveryId);
    expect(verifyWebhookSignature(endpoint.secret, got!.headers, got!.body).id).toBe(sent.deliveryId);
  });

  it("429 is retried after the receiver's Retry-After, not the tenant's longer backoff", async () => {
    await stack.prisma.tenant.update({ where: { id: stack.tenant.id }, data: { webhookRetryInitialSeconds: 60 } });
    try {
      const target = receiver.route({ status: 429, headers: { 'Retry-After': '1' } }, { status: 200 });
      const endpoint = await register(target.url);

      const sent = await sendTest(endpoint.id);

      const row = await settled(sent.deliveryId);
      expect(row.status).toBe('SUCCEEDED');
      expect(row.attemptLog.map((attempt) => attempt.statusCode).sort()).toEqual([200, 429]);
      // The server recorded the second attempt's start with the first one's failure: the throttle
      // and the receiver's delay, which replaced the tenant's 60 s backoff.
      const { events } = await stack.client.workflow.getHandle(sent.workflowId).fetchHistory();
      const started = events!.flatMap((event) => event.activityTaskStartedEventAttributes ?? []);
      const delivered = started.find((attributes) => attributes.attempt === 2)!;
      expect(delivered.lastFailure?.applicationFailureInfo).toMatchObject({ type: 'ProviderThrottled' });
      expect(Number(delivered.lastFailure?.applicationFailureInfo?.nextRetryDelay?.seconds)).toBe(1);
    } finally {
      await stack.prisma.tenant.update({ where: { id: stack.tenant.id }, data: { webhookRetryInitialSeconds: 1 } });
    }
  });

  it('a tenant at its endpoint limit is refused a new one with 409 ENDPOINT_LIMIT_REACHED', async () => {
    const tenantId = stack.tenant.id;
    const existing = await stack.prisma.webhookEndpoint.count({ where: { tenantId } });
    const fillers = Array.from({ length: MAX_ENDPOINTS_PER_TENANT - existing }, (_, index) => ({
      tenantId,
      url: `https://filler-${index}.example.test/hooks`,
      events: ['ticket.created'],
      secretCiphertext: 'unused',
    }));
    await stack.prisma.webhookEndpoint.createMany({ data: fillers });
    try {
      const refused = await api()
        .post('/api/v1/webhooks')
        .set('Authorization', admin())
        .send({ url: receiver.route().url, events: ['ticket.created'] });

      expect(refused.status).toBe(409);
      expect(refused.body.error).toMatchObject({
        code: 'ENDPOINT_LIMIT_REACHED',
        details: { limit: MAX_ENDPOINTS_PER_TENANT },
      });
      expect(await stack.prisma.webhookEndpoint.count({ where: { tenantId } })).toBe(MAX_ENDPOINTS_PER_TENANT);
    } finally {
      await stack.prisma.webhookEndpoint.deleteMany({ where: { tenantId, secretCiphertext: 'unused' } });
    }
  });

  it('a second registration of the same URL is refused with 409 WEBHOOK_URL_TAKEN naming the endpoint there is', async () => {
    const target = receiver.route();
    const endpoint = await register(target.url);

    const again = await api()
      .post('/api/v1/webhooks')
      .set('Authorization', admin())
      .send({ url: target.url, events: ['ticket.created'] });
    const other = await register(receiver.route().url);
    const moved = await api()
      .patch(`/api/v1/webhooks/${other.id}`)
      .set('Authorization', admin())
      .send({ url: target.url });

    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'WEBHOOK_URL_TAKEN', details: { endpointId: endpoint.id } });
    expect(again.body.error).not.toHaveProperty('details.secret');
    expect(moved.status).toBe(409);
    expect(moved.body.error.code).toBe('WEBHOOK_URL_TAKEN');
    expect(await stack.prisma.webhookEndpoint.count({ where: { tenantId: stack.tenant.id, url: target.url } })).toBe(1);
  });

  it('an event published while its endpoint is disabled is recorded SKIPPED, and replays once the endpoint is enabled', async () => {
    const target = receiver.route();
    const endpoint = await register(target.url, ['ticket.created']);
    const paused = await api()
      .patch(`/api/v1/webhooks/${endpoint.id}`)
      .set('Authorization', admin())
      .send({ status: 'DISABLED' });
    expect(paused.status).toBe(200);

    const posted = await api()
      .post('/api/v1/events')
      .set('Authorization', admin())
      .send({ id: `evt-${Date.now()}`, type: 'ticket.created', subject: { type: 'ticket', id: 'T-9' }, data: {} });
    expect(posted.status).toBe(202);
    const skipped = await eventually(() =>
      stack.prisma.webhookDelivery.findFirst({ where: { endpointId: endpoint.id, status: 'SKIPPED' } }),
    );
    expect(target.requests()).toHaveLength(0);
    await api().patch(`/api/v1/webhooks/${endpoint.id}`).set('Authorization', admin()).send({ status: 'ACTIVE' });
    const replay = await api().post(`/api/v1/webhooks/deliveries/${skipped.id}/replay`).set('Authorization', admin());

    expect(replay.status).toBe(202);
    await eventually(async () => (await delivery(skipped.id)).status === 'SUCCEEDED');
    const [got] = target.requests();
    expect(verifyWebhookSignature(endpoint.secret, got!.headers, got!.body).id).toBe(skipped.id);
    expect(JSON.parse(got!.body)).toMatchObject({ type: 'ticket.created', subject: { type: 'ticket', id: 'T-9' } });
  });

  it('a deleted endpoint and its deliveries are gone; another tenant cannot see or touch them', async () => {
    const endpoint = await register(receiver.route().url);

    const foreign = await api().get(`/api/v1/webhooks/${endpoint.id}`).set('Authorization', stack.tokens.otherAdmin);
    const deleted = await api().delete(`/api/v1/webhooks/${endpoint.id}`).set('Authorization', admin());
    const after = await api().get(`/api/v1/webhooks/${endpoint.id}`).set('Authorization', admin());

    expect(foreign.status).toBe(404);
    expect(deleted.status).toBe(204);
    expect(after.status).toBe(404);
  });

  it.each([
    ['a member', 'member'],
    ['an operator', 'operator'],
  ] as const)('%s may not manage webhooks', async (_, role) => {
    const response = await api().get('/api/v1/webhooks').set('Authorization', stack.tokens[role]);

    expect(response.status).toBe(403);
  });

  it.each([
    ['no URL', { events: ['*'] }],
    ['a relative URL', { url: '/hooks', events: ['*'] }],
    ['an ftp URL', { url: 'ftp://example.com/hooks', events: ['*'] }],
    ['no events', { url: 'https://example.com/hooks', events: [] }],
    ['a malformed event type', { url: 'https://example.com/hooks', events: ['Ticket Created'] }],
    ['an unknown field', { url: 'https://example.com/hooks', events: ['*'], secret: 'whsec_x' }],
  ])('registration with %s is refused with 400', async (_, body) => {
    const response = await api().post('/api/v1/webhooks').set('Authorization', admin()).send(body);

    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('VALIDATION_FAILED');
  });

  it('unknown endpoints and deliveries are 404, malformed IDs 400', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';

    const rotate = await api().post(`/api/v1/webhooks/${unknown}/rotate-secret`).set('Authorization', admin());
    const replay = await api().post(`/api/v1/webhooks/deliveries/${unknown}/replay`).set('Authorization', admin());
    const list = await api().get('/api/v1/webhooks/not-a-uuid/deliveries').set('Authorization', admin());

    expect(rotate.status).toBe(404);
    expect(replay.status).toBe(404);
    expect(list.status).toBe(400);
  });

  describe('in production mode', () => {
    const production = () =>
      stack.appWith(
        {},
        {
          APP_ENV: 'production',
          JWT_SECRET: stack.config.auth.jwtSecret!,
          OFFER_TOKEN_SECRET: stack.config.offerTokenSecret,
          INVITATION_TOKEN_SECRET: stack.config.onboarding.invitationTokenSecret,
          WEBHOOK_SECRET_KEY: stack.config.webhooks.secretKey,
          PAYLOAD_KEYS: stack.config.payloads.keys.map(({ id, key }) => `${id}=${key.toString('base64')}`).join(','),
          SMTP_URL: 'smtp://relay.example.com:587',
          BILLING_API_URL: 'https://billing.example.com',
          BILLING_API_KEY: 'sk_test_x',
          PLATFORM_ADMIN_EMAIL: 'ops@example.com',
        },
      );

    it.each([
      ['a loopback address', 'https://127.0.0.1/hooks', 'ADDRESS_NOT_ALLOWED'],
      ['a private address', 'https://10.1.2.3/hooks', 'ADDRESS_NOT_ALLOWED'],
      ['the cloud metadata address', 'https://169.254.169.254/latest', 'ADDRESS_NOT_ALLOWED'],
      ['an IPv4-mapped loopback', 'https://[::ffff:127.0.0.1]/hooks', 'ADDRESS_NOT_ALLOWED'],
      ['a name that resolves to loopback', 'https://localhost/hooks', 'ADDRESS_NOT_ALLOWED'],
      ['plain http', 'http://example.com/hooks', 'HTTPS_REQUIRED'],
    ])('a URL with %s is refused with 422', async (_, url, reason) => {
      const response = await request(production())
        .post('/api/v1/webhooks')
        .set('Authorization', admin())
        .send({ url, events: ['*'] });

      expect(response.status).toBe(422);
      expect(response.body.error).toMatchObject({ code: 'WEBHOOK_URL_REFUSED', details: { reason } });
    });
  });

  it('no signing secret ever reaches a log line', async () => {
    const target = receiver.route();
    const endpoint = await register(target.url);
    const sent = await sendTest(endpoint.id);
    const rotated = await api().post(`/api/v1/webhooks/${endpoint.id}/rotate-secret`).set('Authorization', admin());
    const again = await sendTest(endpoint.id);
    await settled(sent.deliveryId);
    await settled(again.deliveryId);

    const secrets = [endpoint.secret, rotated.body.secret as string];
    expect(secrets.every((secret) => secret.startsWith('whsec_'))).toBe(true);
    for (const secret of secrets) {
      expect(logText).not.toContain(secret);
      expect(logText).not.toContain(secret.slice('whsec_'.length));
    }
  });
});
