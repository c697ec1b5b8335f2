import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { createNotifier, type NotificationRequest } from '../../activities/notifications';
import { redactedProviderReply } from '../../activities/provider-replies';
import { createHttpSmsProvider, type SmsProvider } from '../../activities/sms-provider';
import type { NotificationTemplate } from '../../domain/notifications';
import type { PrismaClient } from '../../lib/db';
import { FailureType } from '../../workflows/errors';
import { createTestTenant, testConfig, testPrisma } from '../support/stack';
import { renderNotification } from '../support/legacy-messages';

const TOKEN = 'whatsapp-test-token';
const NOW = new Date('2026-12-01T10:00:00.000Z');

interface ReceivedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

interface Answer {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

/**
 * A provider on loopback that records every request and answers from a queue; with the queue
 * empty it accepts the message as `201 { id }`.
 */
class FakeProvider {
  readonly requests: ReceivedRequest[] = [];
  private readonly answers: Answer[] = [];
  private readonly server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      this.requests.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: JSON.parse(body),
      });
      const answer = this.answers.shift() ?? {
        status: 201,
        body: JSON.stringify({ id: `wa-${this.requests.length}` }),
      };
      res.writeHead(answer.status, { 'Content-Type': 'application/json', ...answer.headers });
      res.end(answer.body);
    });
  });
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  answerNext(...answers: Answer[]): void {
    this.answers.push(...answers);
  }

  reset(): void {
    this.requests.length = 0;
    this.answers.length = 0;
  }

  to(pathPrefix: string): ReceivedRequest[] {
    return this.requests.filter((request) => request.path.startsWith(pathPrefix));
  }
}

/** What a call threw, for assertions on its type and retryability. */
async function errorOf(call: Promise<unknown>): Promise<Error> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}

const provider = new FakeProvider();

beforeAll(() => provider.start());
afterAll(() => provider.stop());
beforeEach(() => provider.reset());

describe('WhatsApp provider adapter against a local HTTP provider', () => {
  const whatsapp = () =>
    createHttpSmsProvider({
      name: 'WhatsApp provider',
      url: `${provider.url}/whatsapp/`,
      token: TOKEN,
      now: () => NOW,
    });
  const send = () => whatsapp().send({ to: '+14155550123', body: 'Hello', idempotencyKey: 'order:o-1:whatsapp' });

  it('POSTs { to, body } to {url}/messages with the Bearer token and the Idempotency-Key, and returns the id of a 201', async () => {
    provider.answerNext({ status: 201, body: '{"id":"wamid.42"}' });

    const result = await send();

    expect(result).toEqual({ id: 'wamid.42' });
    expect(provider.requests).toEqual([
      expect.objectContaining({
        method: 'POST',
        path: '/whatsapp/messages',
        body: { to: '+14155550123', body: 'Hello' },
      }),
    ]);
    expect(provider.requests[0]!.headers).toMatchObject({
      authorization: `Bearer ${TOKEN}`,
      'idempotency-key': 'order:o-1:whatsapp',
      'content-type': 'application/json',
    });
  });

  it('sends no Authorization header when no token is configured', async () => {
    const anonymous = createHttpSmsProvider({ name: 'WhatsApp provider', url: provider.url });

    await anonymous.send({ to: '+14155550123', body: 'Hello', idempotencyKey: 'k-anonymous' });

    expect(provider.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('a 429 with Retry-After: 30 is a retryable ProviderThrottled that asks Temporal to retry in 30 seconds', async () => {
    provider.answerNext({ status: 429, headers: { 'Retry-After': '30' }, body: '{"error":"slow down"}' });

    const throttled = await errorOf(send());

    expect(throttled).toBeInstanceOf(ApplicationFailure);
    expect(throttled).toMatchObject({
      type: FailureType.ProviderThrottled,
      nonRetryable: false,
      nextRetryDelay: 30_000,
    });
    expect(throttled.message).toBe('WhatsApp provider answered 429');
    expect(redactedProviderReply(throttled)).toBe('{"error":"slow down"}');
  });

  it('a 429 whose Retry-After is an HTTP date asks for the time until that date', async () => {
    const retryAt = new Date(NOW.getTime() + 45_000).toUTCString();
    provider.answerNext({ status: 429, headers: { 'Retry-After': retryAt }, body: '{}' });

    const throttled = await errorOf(send());

    expect(retryAt).toBe('Tue, 01 Dec 2026 10:00:45 GMT');
    expect(throttled).toMatchObject({ type: FailureType.ProviderThrottled, nextRetryDelay: 45_000 });
  });

  it('a 429 without a readable Retry-After leaves the delay to the retry policy', async () => {
    provider.answerNext({ status: 429, body: '{}' }, { status: 429, headers: { 'Retry-After': 'soon' }, body: '{}' });

    const failures = [await errorOf(send()), await errorOf(send())];

    for (const failure of failures) {
      expect(failure).toMatchObject({ type: FailureType.ProviderThrottled, nonRetryable: false });
      expect((failure as ApplicationFailure).nextRetryDelay).toBeUndefined();
    }
  });

  it('a 400 is a non-retryable ProviderRejected whose message names the provider and status only; the reply, redacted, rides beside it', async () => {
    provider.answerNext({ status: 400, body: '{"error":"+14155550123 is not a WhatsApp number"}' });

    const rejected = await errorOf(send());

    expect(rejected).toBeInstanceOf(ApplicationFailure);
    expect(rejected).toMatchObject({ type: FailureType.ProviderRejected, nonRetryable: true });
    expect(rejected.message).toBe('WhatsApp provider answered 400');
    expect(redactedProviderReply(rejected)).toBe('{"error":"[phone] is not a WhatsApp number"}');
  });

  it('a 500 is a plain retryable Error that names the WhatsApp provider', async () => {
    provider.answerNext({ status: 500, body: 'internal error' });

    const failure = await errorOf(send());

    expect(failure).not.toBeInstanceOf(ApplicationFailure);
    expect(failure.message).toBe('WhatsApp provider answered 500');
  });

  it('a 2xx without an id is a retryable error, so the retry (with the same key) learns the id', async () => {
    provider.answerNext({ status: 200, body: '{}' });

    const failure = await errorOf(send());

    expect(failure).not.toBeInstanceOf(ApplicationFailure);
    expect(failure.message).toBe('WhatsApp provider answered 200 without an id');
  });
});

describe('Notifier on the WHATSAPP channel (real PostgreSQL ledger, local providers)', () => {
  let prisma: PrismaClient;
  let tenantId: string;

  beforeAll(async () => {
    prisma = testPrisma(testConfig());
    tenantId = (await createTestTenant(prisma)).id;
  });

  afterAll(async () => {
    await prisma.tenant.delete({ where: { id: tenantId } });
    await prisma.$disconnect();
  });

  const sms = (): SmsProvider => createHttpSmsProvider({ url: `${provider.url}/sms`, token: 'sms-token' });
  const whatsapp = (): SmsProvider =>
    createHttpSmsProvider({ name: 'WhatsApp provider', url: `${provider.url}/whatsapp`, token: TOKEN });
  const template: NotificationTemplate = {
    name: 'order.confirmed',
    data: {
      tenantName: 'Acme Wholesale',
      retailerName: 'Corner Shop',
      orderRef: 'ORD-3F1C2A9E',
      vendorName: 'Fresh Farms',
      total: 123_450,
    },
  };
  const message = (key: string, recipient = '+14155550123'): NotificationRequest => ({
    tenantId,
    channel: 'WHATSAPP',
    recipient,
    template,
    idempotencyKey: `${tenantId}:${key}`,
  });
  const ledgerRow = (key: string) =>
    prisma.notification.findUniqueOrThrow({ where: { idempotencyKey: `${tenantId}:${key}` } });

  it('supports WHATSAPP exactly when a whatsapp provider is given, whatever the SMS provider', () => {
    const smsOnly = createNotifier({ prisma, sms: sms() });
    const whatsappOnly = createNotifier({ prisma, whatsapp: whatsapp() });

    expect([smsOnly.supports('SMS'), smsOnly.supports('WHATSAPP')]).toEqual([true, false]);
    expect([whatsappOnly.supports('SMS'), whatsappOnly.supports('WHATSAPP')]).toEqual([false, true]);
    expect(whatsappOnly.supports('EMAIL')).toBe(false);
  });

  it('sends a WHATSAPP message through the whatsapp provider, not the SMS one, and records it SENT', async () => {
    const notifier = createNotifier({ prisma, sms: sms(), whatsapp: whatsapp(), now: () => NOW });

    const result = await notifier.send(message('routed'));

    expect(result).toEqual({ notificationId: expect.any(String), status: 'SENT', providerId: 'wa-1' });
    expect(provider.to('/sms')).toEqual([]);
    expect(provider.to('/whatsapp')).toEqual([
      expect.objectContaining({
        path: '/whatsapp/messages',
        body: { to: '+14155550123', body: renderNotification('WHATSAPP', template).text },
      }),
    ]);
    expect(provider.requests[0]!.headers).toMatchObject({
      authorization: `Bearer ${TOKEN}`,
      'idempotency-key': `${tenantId}:routed`,
    });
    expect(await ledgerRow('routed')).toMatchObject({
      channel: 'WHATSAPP',
      template: 'order.confirmed',
      status: 'SENT',
      providerId: 'wa-1',
      attempts: 1,
      sentAt: NOW,
      lastError: null,
    });
  });

  it('without a whatsapp provider a WHATSAPP message fails non-retryable ChannelNotConfigured, and SMS is not used instead', async () => {
    const notifier = createNotifier({ prisma, sms: sms() });

    const failure = await errorOf(notifier.send(message('unconfigured')));

    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: FailureType.ChannelNotConfigured, nonRetryable: true });
    expect(failure.message).toBe('No WHATSAPP provider is configured');
    expect(provider.requests).toEqual([]);
    expect(await ledgerRow('unconfigured')).toMatchObject({ status: 'FAILED', attempts: 1 });
  });

  it('a retry after a success sends nothing and answers ALREADY_SENT from the ledger', async () => {
    provider.answerNext({ status: 500, body: 'down' });
    const send = () => createNotifier({ prisma, whatsapp: whatsapp() }).send(message('retried'));

    const failed = await errorOf(send());
    const afterFailure = await ledgerRow('retried');
    const sent = await send();
    const repeat = await send();

    expect(failed.message).toBe('WhatsApp provider answered 500');
    // A failure a retry may still overcome leaves the row PENDING; FAILED means failed for good.
    expect(afterFailure).toMatchObject({
      status: 'PENDING',
      attempts: 1,
      lastError: 'Error: WhatsApp provider answered 500 (provider replied: down)',
    });
    expect(sent).toMatchObject({ status: 'SENT', providerId: 'wa-2' });
    expect(repeat).toEqual({ ...sent, status: 'ALREADY_SENT' });
    expect(provider.to('/whatsapp')).toHaveLength(2);
    expect(await ledgerRow('retried')).toMatchObject({
      status: 'SENT',
      attempts: 2,
      providerId: 'wa-2',
      lastError: null,
    });
  });

  it('a throttled attempt is recorded PENDING (it will be retried) and rethrown as ProviderThrottled with the provider’s delay', async () => {
    provider.answerNext({ status: 429, headers: { 'Retry-After': '30' }, body: '{"error":"slow down"}' });
    const notifier = createNotifier({ prisma, whatsapp: whatsapp() });

    const throttled = await errorOf(notifier.send(message('throttled')));

    expect(throttled).toMatchObject({ type: FailureType.ProviderThrottled, nextRetryDelay: 30_000 });
    const row = await ledgerRow('throttled');
    expect(row).toMatchObject({ status: 'PENDING', attempts: 1 });
    expect(row.lastError).toContain('WhatsApp provider answered 429');
  });

  it('a WHATSAPP recipient that is not an E.164 number fails InvalidRecipient without contacting the provider', async () => {
    const notifier = createNotifier({ prisma, whatsapp: whatsapp() });

    const failure = await errorOf(notifier.send(message('not-e164', '0415 555 0123')));

    expect(failure).toMatchObject({ type: FailureType.InvalidRecipient, nonRetryable: true });
    expect(provider.requests).toEqual([]);
  });
});
