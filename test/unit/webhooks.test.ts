import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  checkResolvedAddress,
  checkWebhookUrl,
  classifyAddress,
  judgeReceiverStatus,
  parseAllowList,
  responseExcerpt,
  retryAfterMs,
  webhookBody,
  webhookHeaders,
  type UrlPolicy,
} from '../../domain/webhooks';
import { policyCheckedLookup } from '../../lib/webhook-targets';
import { loadConfig } from '../../lib/config';
import { DEV_SECRETS_FILE, loadDevSecrets } from '../../lib/dev-secrets';
import { createSecretBox } from '../../lib/secret-box';
import {
  generateWebhookSecret,
  signWebhook,
  verifyWebhookSignature,
  WebhookVerificationError,
} from '../../lib/webhook-signature';

const production: UrlPolicy = { requireHttps: true, allowList: { hosts: [], cidrs: [] } };

function reasonOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error.reason;
    throw error;
  }
  return undefined;
}

describe('webhook signatures (Standard Webhooks)', () => {
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const now = () => new Date(1_700_000_000_000);
  const timestamp = 1_700_000_000;
  const body = '{"type":"ticket.created","data":{"n":1}}';

  it('signs id.timestamp.body with HMAC-SHA256 under the base64-decoded key after whsec_', () => {
    const key = Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64');
    const expected = createHmac('sha256', key).update(`msg_1.${timestamp}.${body}`).digest('base64');

    expect(signWebhook(secret, 'msg_1', timestamp, body)).toBe(`v1,${expected}`);
  });

  it('a receiver verifies a genuine delivery from its headers and raw body', () => {
    const headers = webhookHeaders('msg_1', timestamp, body, [secret]);

    expect(verifyWebhookSignature(secret, headers, Buffer.from(body), { now })).toEqual({ id: 'msg_1', timestamp });
  });

  it('a tampered body, a wrong secret or a forged signature is rejected', () => {
    const headers = webhookHeaders('msg_1', timestamp, body, [secret]);

    expect(reasonOf(() => verifyWebhookSignature(secret, headers, `${body} `, { now }))).toBe('NO_MATCHING_SIGNATURE');
    expect(reasonOf(() => verifyWebhookSignature(generateWebhookSecret(), headers, body, { now }))).toBe(
      'NO_MATCHING_SIGNATURE',
    );
    expect(
      reasonOf(() =>
        verifyWebhookSignature(secret, { ...headers, 'webhook-signature': 'v1,AAAA v2,BBBB' }, body, { now }),
      ),
    ).toBe('NO_MATCHING_SIGNATURE');
  });

  it('a timestamp outside the tolerance is rejected either way, so an old delivery cannot be replayed', () => {
    const old = webhookHeaders('msg_1', timestamp - 301, body, [secret]);
    const ahead = webhookHeaders('msg_1', timestamp + 301, body, [secret]);
    const edge = webhookHeaders('msg_1', timestamp - 300, body, [secret]);

    expect(reasonOf(() => verifyWebhookSignature(secret, old, body, { now }))).toBe('TIMESTAMP_TOO_OLD');
    expect(reasonOf(() => verifyWebhookSignature(secret, ahead, body, { now }))).toBe('TIMESTAMP_TOO_NEW');
    expect(reasonOf(() => verifyWebhookSignature(secret, edge, body, { now }))).toBeUndefined();
    expect(reasonOf(() => verifyWebhookSignature(secret, old, body, { now, toleranceSeconds: 600 }))).toBeUndefined();
  });

  it('missing headers and a malformed timestamp are rejected', () => {
    const headers = webhookHeaders('msg_1', timestamp, body, [secret]);

    expect(reasonOf(() => verifyWebhookSignature(secret, {}, body, { now }))).toBe('MISSING_HEADERS');
    expect(
      reasonOf(() => verifyWebhookSignature(secret, { ...headers, 'webhook-timestamp': '17e8' }, body, { now })),
    ).toBe('INVALID_TIMESTAMP');
  });

  it('during a rotation either secret verifies, since the header carries a signature of each', () => {
    const previous = generateWebhookSecret();
    const headers = webhookHeaders('msg_1', timestamp, body, [secret, previous]);

    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(verifyWebhookSignature(secret, headers, body, { now }).id).toBe('msg_1');
    expect(verifyWebhookSignature(previous, headers, body, { now }).id).toBe('msg_1');
  });

  it('takes a fetch Headers object as well as a header record', () => {
    const headers = new Headers(webhookHeaders('msg_1', timestamp, body, [secret]));

    expect(verifyWebhookSignature(secret, headers, body, { now }).timestamp).toBe(timestamp);
  });

  it('new secrets are whsec_ and the base64 of 32 random bytes', () => {
    const generated = generateWebhookSecret();

    expect(generated).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(generated.slice(6), 'base64')).toHaveLength(32);
    expect(generateWebhookSecret()).not.toBe(generated);
  });
});

describe('the delivery body and the receiver verdicts', () => {
  it('is the Standard Webhooks payload with the event id, key and subject', () => {
    const body = JSON.parse(
      webhookBody({
        id: 'e-1',
        key: 'evt-42',
        type: 'ticket.created',
        occurredAt: new Date('2026-12-02T10:00:00Z'),
        subjectType: 'ticket',
        subjectId: 'T-1',
        payload: { priority: 'high' },
      }),
    ) as unknown;

    expect(body).toEqual({
      type: 'ticket.created',
      timestamp: '2026-12-02T10:00:00.000Z',
      id: 'e-1',
      key: 'evt-42',
      subject: { type: 'ticket', id: 'T-1' },
      data: { priority: 'high' },
    });
  });

  it.each([
    [200, 'DELIVERED'],
    [204, 'DELIVERED'],
    [410, 'GONE'],
    [408, 'RETRY'],
    [429, 'RETRY'],
    [500, 'RETRY'],
    [503, 'RETRY'],
    [400, 'REFUSED'],
    [401, 'REFUSED'],
    [404, 'REFUSED'],
    [301, 'REFUSED'],
  ])('status %d means %s', (status, verdict) => {
    expect(judgeReceiverStatus(status)).toBe(verdict);
  });

  it('reads Retry-After as seconds or an HTTP date, capped at a day', () => {
    const now = new Date('2026-12-02T10:00:00Z');

    expect(retryAfterMs('120', now)).toBe(120_000);
    expect(retryAfterMs('Wed, 02 Dec 2026 10:01:00 GMT', now)).toBe(60_000);
    expect(retryAfterMs('999999999', now)).toBe(24 * 60 * 60 * 1000);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });

  it('keeps the first 1 KiB of a response, without NUL or a cut character', () => {
    const excerpt = responseExcerpt(Buffer.concat([Buffer.from('a\u0000'), Buffer.alloc(1021, 'b'), Buffer.from('é')]));

    expect(excerpt).toBe(`a${'b'.repeat(1021)}`);
  });
});

describe('the webhook URL policy (server-side request forgery)', () => {
  it.each([
    ['127.0.0.1', 'LOOPBACK'],
    ['::1', 'LOOPBACK'],
    ['10.1.2.3', 'PRIVATE'],
    ['172.20.0.1', 'PRIVATE'],
    ['192.168.1.1', 'PRIVATE'],
    ['fd12:3456::1', 'PRIVATE'],
    ['169.254.169.254', 'LINK_LOCAL'],
    ['fe80::1', 'LINK_LOCAL'],
    ['100.100.100.200', 'CGNAT'],
    ['224.0.0.1', 'MULTICAST'],
    ['ff02::1', 'MULTICAST'],
    ['0.0.0.0', 'UNSPECIFIED'],
    ['::', 'UNSPECIFIED'],
    ['::ffff:127.0.0.1', 'LOOPBACK'],
    ['::ffff:a9fe:a9fe', 'LINK_LOCAL'],
    ['64:ff9b::10.0.0.1', 'PRIVATE'],
    ['2002:c0a8:0101::1', 'PRIVATE'],
    ['64:ff9b::127.0.0.1', 'LOOPBACK'],
    ['64:ff9b::a9fe:a9fe', 'LINK_LOCAL'],
    ['64:ff9b:1::8.8.8.8', 'RESERVED'],
    ['64:ff9b:1:ffff::1', 'RESERVED'],
    ['2001::1', 'RESERVED'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'RESERVED'],
    ['::ffff:0:8.8.8.8', 'RESERVED'],
    ['::ffff:0:7f00:1', 'RESERVED'],
  ])('%s is refused as %s', (address, addressClass) => {
    expect(classifyAddress(address)).toBe(addressClass);
    expect(checkResolvedAddress('hooks.example.com', address, production)).toMatchObject({
      code: 'ADDRESS_NOT_ALLOWED',
      addressClass,
    });
  });

  it.each([
    '93.184.216.34',
    '2606:2800:220:1:248:1893:25c8:1946',
    '::ffff:93.184.216.34',
    '8.8.8.8',
    // NAT64's well-known prefix is judged by the IPv4 address it carries.
    '64:ff9b::8.8.8.8',
    '2001:4860:4860::8888',
  ])('%s is a public address', (address) => {
    expect(classifyAddress(address)).toBeUndefined();
    expect(checkResolvedAddress('hooks.example.com', address, production)).toBeUndefined();
  });

  it('in production a URL must be https, carry no credentials and not name a private address', () => {
    expect(checkWebhookUrl('http://hooks.example.com/in', production)).toMatchObject({
      refused: { code: 'HTTPS_REQUIRED' },
    });
    expect(checkWebhookUrl('https://user:pw@hooks.example.com/in', production)).toMatchObject({
      refused: { code: 'INVALID_URL' },
    });
    expect(checkWebhookUrl('ftp://hooks.example.com/in', production)).toMatchObject({
      refused: { code: 'INVALID_URL' },
    });
    expect(checkWebhookUrl('https://10.0.0.5/in', production)).toMatchObject({
      refused: { code: 'ADDRESS_NOT_ALLOWED' },
    });
    expect(checkWebhookUrl('https://[::ffff:7f00:1]/in', production)).toMatchObject({
      refused: { code: 'ADDRESS_NOT_ALLOWED', addressClass: 'LOOPBACK' },
    });
    expect(checkWebhookUrl('https://hooks.example.com/in', production)).toHaveProperty('url');
  });

  it('an allow-list admits the hosts and CIDRs it names, and nothing else', () => {
    const { allowList, invalid } = parseAllowList('hooks.internal, 10.20.0.0/16, ::1');
    const policy: UrlPolicy = { requireHttps: true, allowList };

    expect(invalid).toEqual([]);
    expect(checkResolvedAddress('hooks.internal', '10.99.0.1', policy)).toBeUndefined();
    expect(checkResolvedAddress('other.internal', '10.20.5.5', policy)).toBeUndefined();
    expect(checkResolvedAddress('other.internal', '10.21.5.5', policy)).toMatchObject({ code: 'ADDRESS_NOT_ALLOWED' });
    expect(checkResolvedAddress('other.internal', '::1', policy)).toBeUndefined();
    expect(checkResolvedAddress('other.internal', '127.0.0.1', policy)).toMatchObject({ addressClass: 'LOOPBACK' });
    expect(parseAllowList('10.0.0.0/33, not a host').invalid).toEqual(['10.0.0.0/33', 'not a host']);
  });

  it('a request through the checked lookup connects only to an address the policy allows (DNS rebinding)', async () => {
    const server = http.createServer((_req, res) => res.writeHead(204).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const send = (policy: UrlPolicy) =>
      new Promise<number>((resolve, reject) => {
        const req = http.request(`http://localhost:${port}/`, { method: 'POST', lookup: policyCheckedLookup(policy) });
        req.on('response', (res) => resolve(res.statusCode ?? 0)).on('error', reject);
        req.end();
      });
    try {
      await expect(send(production)).rejects.toThrow(/loopback/);
      const loopbackAllowed: UrlPolicy = { requireHttps: false, allowList: parseAllowList('localhost').allowList };
      await expect(send(loopbackAllowed)).resolves.toBe(204);
    } finally {
      server.close();
    }
  });

  it('production requires https and allows no private target; development allows loopback for the demo', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'holdfast-webhooks-'));
    const development = loadConfig({ APP_ENV: 'development', HOLDFAST_DATA_DIR: dataDir });
    const productionConfig = loadConfig({
      APP_ENV: 'production',
      JWT_SECRET: 'prod-jwt-secret-0123456789abcdef-0123',
      OFFER_TOKEN_SECRET: 'prod-offer-secret-0123456789abcdef-01',
      INVITATION_TOKEN_SECRET: 'prod-invitation-secret-0123456789abcd',
      WEBHOOK_SECRET_KEY: 'prod-webhook-key-0123456789abcdef-0123',
      PAYLOAD_KEYS: `k1=${Buffer.from(Array.from({ length: 32 }, (_, i) => i * 7)).toString('base64')}`,
      DATABASE_URL: 'postgresql://holdfast:pw@db:5432/holdfast',
      SMTP_URL: 'smtp://relay.example.com:587',
      BILLING_API_URL: 'https://billing.example.com',
      BILLING_API_KEY: 'sk_live_x',
      PLATFORM_ADMIN_EMAIL: 'ops@example.com',
    });

    expect(productionConfig.webhooks.policy).toEqual({ requireHttps: true, allowList: { hosts: [], cidrs: [] } });
    expect(productionConfig.webhooks).toMatchObject({ timeoutMs: 30_000, rotationWindowMs: 24 * 60 * 60 * 1000 });
    expect(development.webhooks.policy.requireHttps).toBe(false);
    expect(checkResolvedAddress('localhost', '127.0.0.1', development.webhooks.policy)).toBeUndefined();
    expect(checkResolvedAddress('hooks.lan', '192.168.1.1', development.webhooks.policy)).toMatchObject({
      code: 'ADDRESS_NOT_ALLOWED',
    });
  });
});

describe('signing secrets at rest', () => {
  const box = createSecretBox('a-key-of-at-least-thirty-two-characters!');

  it('round-trips a secret bound to its endpoint, and the stored form does not contain it', () => {
    const secret = generateWebhookSecret();
    const sealed = box.seal(secret, 'webhook-endpoint:e-1');

    expect(sealed).not.toContain(secret.slice(6, 20));
    expect(box.open(sealed, 'webhook-endpoint:e-1')).toBe(secret);
  });

  it('refuses a ciphertext moved to another endpoint, altered, or sealed under another key', () => {
    const sealed = box.seal(generateWebhookSecret(), 'webhook-endpoint:e-1');
    const [version, iv, tag, ciphertext] = sealed.split('.');
    const flipped = Buffer.from(ciphertext!, 'base64url');
    flipped[0] = flipped[0]! ^ 1;

    expect(() => box.open(sealed, 'webhook-endpoint:e-2')).toThrow();
    expect(() =>
      box.open([version, iv, tag, flipped.toString('base64url')].join('.'), 'webhook-endpoint:e-1'),
    ).toThrow();
    expect(() =>
      createSecretBox('another-key-of-at-least-thirty-two-chars').open(sealed, 'webhook-endpoint:e-1'),
    ).toThrow();
  });

  it('refuses a stored form whose authentication tag was cut short, even to the genuine first bytes', () => {
    const sealed = box.seal(generateWebhookSecret(), 'webhook-endpoint:e-1');
    const [version, iv, tag, ciphertext] = sealed.split('.');
    const genuineTag = Buffer.from(tag!, 'base64url');

    expect(genuineTag).toHaveLength(16);
    for (const bytes of [4, 8, 12, 15]) {
      const truncated = [version, iv, genuineTag.subarray(0, bytes).toString('base64url'), ciphertext].join('.');
      expect(() => box.open(truncated, 'webhook-endpoint:e-1')).toThrow('not a sealed secret');
    }
  });

  it('a development secrets file from before webhooks gains a key and keeps its other secrets', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'holdfast-webhooks-'));
    const earlier = {
      jwtSecret: 'j'.repeat(40),
      offerTokenSecret: 'o'.repeat(40),
      invitationTokenSecret: 'i'.repeat(40),
    };
    fs.writeFileSync(path.join(dataDir, DEV_SECRETS_FILE), JSON.stringify(earlier));

    const secrets = loadDevSecrets(dataDir);

    expect(secrets).toMatchObject(earlier);
    expect(secrets.webhookSecretKey.length).toBeGreaterThanOrEqual(32);
    expect(loadDevSecrets(dataDir)).toEqual(secrets);
    expect(fs.readdirSync(dataDir)).toEqual([DEV_SECRETS_FILE]);
  });
});
