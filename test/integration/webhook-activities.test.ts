import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client, Connection } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  endpointSecretBinding,
  createWebhookActivities,
  type WebhookDeliverySettings,
} from '../../activities/webhooks';
import { parseAllowList } from '../../domain/webhooks';
import type { PrismaClient } from '../../lib/db';
import { createSecretBox } from '../../lib/secret-box';
import { generateWebhookSecret, verifyWebhookSignature } from '../../lib/webhook-signature';
import { WebhookFailure } from '../../workflows/webhook-delivery.contract';
import { recordSkippedDeliveries } from '../../activities/webhook-deliveries';
import { requestedNotificationKey } from '../../activities/notification-requests';
import { createTestTenant, testConfig, testPrisma, testTemporalClient } from '../support/stack';

/**
 * The delivery step against a real PostgreSQL and a receiver on loopback: the URL policy is applied
 * again when the request is made (a name that now resolves to a private address is refused), and
 * the settle step counts a failure once however often it runs.
 */
describe('webhook delivery activities (real PostgreSQL, a receiver on loopback)', () => {
  const config = testConfig();
  const secretKey = 'webhook-activities-test-key-0123456789abcdef';
  let prisma: PrismaClient;
  let tenantId: string;
  let server: http.Server;
  let port: number;
  const received: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];

  beforeAll(async () => {
    prisma = testPrisma(config);
    tenantId = (await createTestTenant(prisma)).id;
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await prisma.$disconnect();
  });

  const settings = (allowed: string): WebhookDeliverySettings => ({
    secretKey,
    timeoutMs: 5_000,
    policy: { requireHttps: false, allowList: parseAllowList(allowed).allowList },
  });

  /** An endpoint at `localhost` (resolved at delivery) of `tenant`, with its secret. */
  async function createEndpoint(tenant = tenantId, status: 'ACTIVE' | 'DISABLED' = 'ACTIVE') {
    const endpointId = randomUUID();
    const secret = generateWebhookSecret();
    await prisma.webhookEndpoint.create({
      data: {
        id: endpointId,
        tenantId: tenant,
        url: `http://localhost:${port}/hooks/${endpointId}`,
        events: ['*'],
        status,
        secretCiphertext: createSecretBox(secretKey).seal(secret, endpointSecretBinding(endpointId)),
      },
    });
    return { endpointId, secret };
  }

  /** An event of `tenant` and its delivery row to the endpoint. */
  async function createDelivery(endpointId: string, tenant = tenantId) {
    const event = await prisma.outboxEvent.create({
      data: { tenantId: tenant, eventKey: randomUUID(), type: 'ticket.created', payload: { n: 1 } },
    });
    const delivery = await prisma.webhookDelivery.create({
      data: {
        tenantId: tenant,
        endpointId,
        eventId: event.id,
        eventType: event.type,
        workflowId: `webhook:${tenant}:${endpointId}:${event.id}`,
      },
    });
    return delivery.id;
  }

  /** An endpoint, an event and its delivery row. */
  async function pendingDelivery() {
    const { endpointId, secret } = await createEndpoint();
    return { endpointId, secret, deliveryId: await createDelivery(endpointId) };
  }

  it('a host that resolves to a loopback address is refused when the request is made, unless allowed', async () => {
    const { deliveryId, secret } = await pendingDelivery();
    const before = received.length;

    const refused = await createWebhookActivities({ prisma, webhooks: settings('') })
      .deliverWebhook({ tenantId, deliveryId })
      .catch((error: unknown) => error);

    expect(refused).toBeInstanceOf(ApplicationFailure);
    expect(refused).toMatchObject({ type: WebhookFailure.TargetRefused, nonRetryable: true });
    expect(received).toHaveLength(before);
    const attempts = await prisma.webhookAttempt.findMany({ where: { deliveryId } });
    expect(attempts).toEqual([expect.objectContaining({ statusCode: null, error: expect.stringMatching(/loopback/) })]);

    const sent = await createWebhookActivities({ prisma, webhooks: settings('localhost') }).deliverWebhook({
      tenantId,
      deliveryId,
    });

    expect(sent).toEqual({ outcome: 'DELIVERED', statusCode: 200 });
    const got = received.at(-1)!;
    expect(verifyWebhookSignature(secret, got.headers, got.body).id).toBe(deliveryId);
  });

  it('settling a failure twice, as a retried step would, counts one failure', async () => {
    const { deliveryId, endpointId } = await pendingDelivery();
    const activities = createWebhookActivities({ prisma });

    await activities.settleWebhookDelivery({ tenantId, deliveryId, outcome: 'FAILED', error: 'HTTP 500' });
    await activities.settleWebhookDelivery({ tenantId, deliveryId, outcome: 'FAILED', error: 'HTTP 500' });

    const endpoint = await prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: endpointId } });
    expect(endpoint.consecutiveFailures).toBe(1);
    expect(await prisma.webhookDelivery.findUniqueOrThrow({ where: { id: deliveryId } })).toMatchObject({
      status: 'FAILED',
      lastError: 'HTTP 500',
    });
  });

  it("another tenant's delivery is not found by the steps", async () => {
    const { deliveryId } = await pendingDelivery();
    const activities = createWebhookActivities({ prisma, webhooks: settings('localhost') });

    const prepared = await activities.prepareWebhookDelivery({ tenantId: 'someone-else', deliveryId });

    expect(prepared).toEqual({ status: 'SKIPPED', reason: 'ENDPOINT_DELETED' });
  });

  it('only the failed delivery that disabled the endpoint reports it, also when its settle is repeated', async () => {
    const tenant = await createTestTenant(prisma);
    await prisma.tenant.update({ where: { id: tenant.id }, data: { webhookFailureThreshold: 1 } });
    const { endpointId } = await createEndpoint(tenant.id);
    const first = await createDelivery(endpointId, tenant.id);
    const later = await createDelivery(endpointId, tenant.id);
    const activities = createWebhookActivities({ prisma });
    const fail = (deliveryId: string) =>
      activities.settleWebhookDelivery({ tenantId: tenant.id, deliveryId, outcome: 'FAILED', error: 'HTTP 500' });

    const disabling = await fail(first);
    const afterwards = await fail(later);
    const repeated = await fail(first);

    const endpoint = await prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: endpointId } });
    expect(endpoint).toMatchObject({ status: 'DISABLED', disabledReason: 'FAILURE_THRESHOLD', consecutiveFailures: 2 });
    expect(disabling).toEqual({ endpointId, disabledByThresholdAt: endpoint.disabledAt!.toISOString() });
    expect(afterwards).toEqual({ endpointId, disabledByThresholdAt: null });
    expect(repeated).toEqual(disabling);
    expect(endpoint.disabledNotice).toEqual({ url: endpoint.url, failures: 1, tenantName: tenant.name });
  });

  describe("telling the tenant's admins", () => {
    let temporal: { client: Client; taskQueue: string };
    let connection: Connection;

    beforeAll(async () => {
      const made = await testTemporalClient(config, prisma);
      connection = made.connection;
      // A queue no worker serves: the notices' workflows wait there, and the ledger rows are what is checked.
      temporal = { client: made.client, taskQueue: `webhook-notices-${randomUUID()}` };
    });

    afterAll(() => connection.close());

    it('one notice per address whatever its case, with the data frozen at the disabling, however often it runs', async () => {
      const tenant = await createTestTenant(prisma, { adminEmail: 'Ops@Example.test' });
      await prisma.tenant.update({ where: { id: tenant.id }, data: { webhookFailureThreshold: 1 } });
      await prisma.user.createMany({
        data: [
          { tenantId: tenant.id, email: 'ops@example.test', name: 'Ops', role: 'tenant-admin', status: 'ACTIVE' },
          { tenantId: tenant.id, email: 'lead@example.test', name: 'Lead', role: 'tenant-admin', status: 'ACTIVE' },
          { tenantId: tenant.id, email: 'member@example.test', name: 'Member', role: 'member', status: 'ACTIVE' },
        ],
      });
      const { endpointId } = await createEndpoint(tenant.id);
      const activities = createWebhookActivities({ prisma, temporal });
      const settled = await activities.settleWebhookDelivery({
        tenantId: tenant.id,
        deliveryId: await createDelivery(endpointId, tenant.id),
        outcome: 'FAILED',
      });
      const notice = { tenantId: tenant.id, endpointId, disabledAt: settled.disabledByThresholdAt! };
      const urlAtDisabling = (await prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: endpointId } })).url;

      const first = await activities.notifyWebhookEndpointDisabled(notice);
      // The endpoint's URL, its failure count and the tenant's name change before a retry of the step.
      await prisma.webhookEndpoint.update({
        where: { id: endpointId },
        data: { url: `${urlAtDisabling}/moved`, consecutiveFailures: 7 },
      });
      await prisma.tenant.update({ where: { id: tenant.id }, data: { name: 'Renamed' } });
      const again = await activities.notifyWebhookEndpointDisabled(notice);

      const rows = await prisma.notification.findMany({
        where: { tenantId: tenant.id, template: 'webhook.endpoint-disabled' },
      });
      expect(first).toEqual({ notified: 2 });
      expect(again).toEqual({ notified: 2 });
      expect(rows.map((row) => row.recipient).sort()).toEqual(['lead@example.test', 'ops@example.test']);
      for (const row of rows) {
        expect(row.data).toMatchObject({ url: urlAtDisabling, failures: 1, tenantName: tenant.name, endpointId });
      }
      await Promise.all(rows.map((row) => temporal.client.workflow.getHandle(row.workflowId!).terminate()));
    });

    it('a key already used for another message counts as told, and the other admins still get theirs', async () => {
      const tenant = await createTestTenant(prisma, { adminEmail: 'first@example.test' });
      await prisma.tenant.update({ where: { id: tenant.id }, data: { webhookFailureThreshold: 1 } });
      await prisma.user.create({
        data: {
          tenantId: tenant.id,
          email: 'second@example.test',
          name: 'Second',
          role: 'tenant-admin',
          status: 'ACTIVE',
        },
      });
      const { endpointId } = await createEndpoint(tenant.id);
      const activities = createWebhookActivities({ prisma, temporal });
      const { disabledByThresholdAt } = await activities.settleWebhookDelivery({
        tenantId: tenant.id,
        deliveryId: await createDelivery(endpointId, tenant.id),
        outcome: 'FAILED',
      });
      // An earlier version of Holdfast told the first admin under the same key with other data.
      const firstKey = createHash('sha256').update('first@example.test').digest('hex').slice(0, 32);
      await prisma.notification.create({
        data: {
          tenantId: tenant.id,
          source: 'FLOW',
          channel: 'EMAIL',
          recipient: 'first@example.test',
          template: 'webhook.endpoint-disabled',
          idempotencyKey: requestedNotificationKey(
            tenant.id,
            'FLOW',
            `webhook.endpoint-disabled:${endpointId}:${new Date(disabledByThresholdAt!).getTime()}:${firstKey}`,
          ),
          requestHash: 'an older message',
          status: 'SENT',
        },
      });

      const told = await activities.notifyWebhookEndpointDisabled({
        tenantId: tenant.id,
        endpointId,
        disabledAt: disabledByThresholdAt!,
      });

      const rows = await prisma.notification.findMany({ where: { tenantId: tenant.id } });
      expect(told).toEqual({ notified: 2 });
      expect(rows.map((row) => row.recipient).sort()).toEqual(['first@example.test', 'second@example.test']);
      const started = rows.find((row) => row.recipient === 'second@example.test')!;
      await temporal.client.workflow.getHandle(started.workflowId!).terminate();
    });
  });

  it.each([
    ['the worker has no webhook settings', () => undefined],
    [
      'the worker key cannot decrypt the secret',
      () => ({ ...settings('localhost'), secretKey: 'another-worker-key-0123456789abcdef!' }),
    ],
  ])(
    "when %s the delivery stays PENDING with the operator's cause, and nothing counts against the endpoint",
    async (_, webhooks) => {
      const { deliveryId, endpointId } = await pendingDelivery();
      const before = received.length;

      const failure = await createWebhookActivities({ prisma, webhooks: webhooks() })
        .deliverWebhook({ tenantId, deliveryId })
        .catch((error: unknown) => error);

      expect(failure).toMatchObject({ type: WebhookFailure.NotConfigured, nonRetryable: true });
      expect(received).toHaveLength(before);
      const row = await prisma.webhookDelivery.findUniqueOrThrow({ where: { id: deliveryId } });
      expect(row).toMatchObject({ status: 'PENDING', lastError: expect.stringContaining('WEBHOOK_SECRET_KEY') });
      const endpoint = await prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: endpointId } });
      expect(endpoint).toMatchObject({ status: 'ACTIVE', consecutiveFailures: 0 });
    },
  );

  it('an event for a subscribed DISABLED endpoint leaves one SKIPPED delivery to replay, however often it is planned', async () => {
    const tenant = await createTestTenant(prisma);
    const { endpointId: disabledId } = await createEndpoint(tenant.id, 'DISABLED');
    await createEndpoint(tenant.id, 'ACTIVE');
    const event = await prisma.outboxEvent.create({
      data: { tenantId: tenant.id, eventKey: randomUUID(), type: 'ticket.created', payload: {} },
    });
    const request = { tenantId: tenant.id, eventId: event.id, eventType: event.type };

    const created = await recordSkippedDeliveries(prisma, request);
    const repeated = await recordSkippedDeliveries(prisma, request);

    const rows = await prisma.webhookDelivery.findMany({ where: { eventId: event.id } });
    expect([created, repeated]).toEqual([1, 0]);
    expect(rows).toEqual([
      expect.objectContaining({
        endpointId: disabledId,
        status: 'SKIPPED',
        workflowId: `webhook:${tenant.id}:${disabledId}:${event.id}`,
      }),
    ]);
  });
});
