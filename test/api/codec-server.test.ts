import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import request from 'supertest';
import { tenantIdForSlug } from '../../domain/tenants';
import {
  createEncryptionCodec,
  ENCRYPTED_ENCODING,
  METADATA_SCOPE,
  type EncryptionCodec,
} from '../../lib/data-converter';
import { createConfiguredCodec } from '../../lib/payload-key-scopes';
import { onboardingScope, tenantScope, type PayloadScope } from '../../lib/payload-scope';
import { useApiStack } from '../support/api-stack';

/** A payload in the codec protocol's JSON form: protobuf JSON, bytes in base64. */
interface PayloadJson {
  metadata: Record<string, string>;
  data: string;
}

const toJson = (payload: Payload): PayloadJson => ({
  metadata: Object.fromEntries(
    Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value).toString('base64')]),
  ),
  data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
});

const textOf = (payload: PayloadJson) => ({
  metadata: Object.fromEntries(
    Object.entries(payload.metadata).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]),
  ),
  data: Buffer.from(payload.data, 'base64').toString('utf8'),
});

/** Everything the API logs, as parsed JSON lines. */
const logLines: Array<Record<string, unknown>> = [];
const logs = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
    done();
  },
});

describe('the codec server', () => {
  const stack = useApiStack({ logs, config: { LOG_LEVEL: 'info' } });
  let codec: EncryptionCodec;
  /** A tenant onboarded the way real ones are, whose ID is derived from its slug. */
  let onboarded: { id: string; slug: string; admin: string };

  const plain = (value: unknown) => toJson(defaultPayloadConverter.toPayload(value));
  const encrypted = async (value: unknown, scope: PayloadScope) =>
    toJson((await codec.encodeInScope([defaultPayloadConverter.toPayload(value)], scope))[0]!);

  const decode = (authorization: string | undefined, payloads: PayloadJson[]) => {
    const call = request(stack.app).post('/codec/decode').set('X-Namespace', stack.config.temporal.namespace);
    return (authorization ? call.set('Authorization', authorization) : call).send({ payloads });
  };

  beforeAll(async () => {
    // A codec of its own over the same keys and salts: what the worker writes, the API reads.
    codec = createConfiguredCodec(stack.config.payloads, stack.prisma);
    const slug = `codec-${randomUUID().slice(0, 8)}`;
    const tenant = await stack.prisma.tenant.create({
      data: { id: tenantIdForSlug(slug), slug, name: 'Codec Clinic', adminEmail: `admin@${slug}.test` },
    });
    onboarded = { id: tenant.id, slug, admin: await stack.bearer(tenant.id, 'tenant-admin') };
  });

  it('encodes under the caller’s tenant key and decodes back, in the protocol’s JSON form', async () => {
    const original = plain({ customer: 'Dr. Ada Lee', phone: '+44 20 7946 0000' });

    const encoded = await request(stack.app)
      .post('/codec/encode')
      .set('Authorization', stack.tokens.admin)
      .set('X-Namespace', stack.config.temporal.namespace)
      .send({ payloads: [original] });

    expect(encoded.status).toBe(200);
    expect(encoded.headers['cache-control']).toBe('no-store');
    const [ciphertext] = encoded.body.payloads as PayloadJson[];
    expect(textOf(ciphertext!).metadata).toMatchObject({
      encoding: ENCRYPTED_ENCODING,
      [METADATA_SCOPE]: tenantScope(stack.tenant.id),
    });
    expect(textOf(ciphertext!).data).not.toContain('Ada');

    const decoded = await decode(stack.tokens.operator, [ciphertext!]);

    expect(decoded.status).toBe(200);
    expect(decoded.body).toEqual({ payloads: [original] });
  });

  it('decodes a payload far larger than the API’s own body limit, as a large query answer is', async () => {
    const rows = Array.from({ length: 20_000 }, (_, index) => ({ entryId: randomUUID(), position: index }));
    const large = await encrypted({ rows }, tenantScope(stack.tenant.id));
    expect(JSON.stringify({ payloads: [large] }).length).toBeGreaterThan(1_000_000);

    const decoded = await decode(stack.tokens.admin, [large]);

    expect(decoded.status).toBe(200);
    expect(decoded.body).toEqual({ payloads: [plain({ rows })] });
  });

  it('decodes only the caller’s own tenant’s payloads, returns others unchanged, and passes plaintext through', async () => {
    const ofA = await encrypted({ name: 'Alice A' }, tenantScope(stack.tenant.id));
    const ofB = await encrypted({ name: 'Bob B' }, tenantScope(stack.otherTenant.id));
    const inClear = plain({ recordedBefore: 'encryption' });

    const byAdminOfA = await decode(stack.tokens.admin, [ofA, ofB, inClear]);
    const byAdminOfB = await decode(stack.tokens.otherAdmin, [ofA, ofB]);

    expect(byAdminOfA.status).toBe(200);
    expect(byAdminOfA.body.payloads).toEqual([plain({ name: 'Alice A' }), ofB, inClear]);
    expect(byAdminOfB.body.payloads).toEqual([ofA, plain({ name: 'Bob B' })]);
  });

  it('decodes a tenant’s onboarding payloads for that tenant only', async () => {
    const ofOnboarding = await encrypted({ adminName: 'Dana Onboard' }, onboardingScope(onboarded.slug));

    const byItsAdmin = await decode(onboarded.admin, [ofOnboarding]);
    const byAnother = await decode(stack.tokens.admin, [ofOnboarding]);

    expect(byItsAdmin.body.payloads).toEqual([plain({ adminName: 'Dana Onboard' })]);
    expect(byAnother.body.payloads).toEqual([ofOnboarding]);
  });

  it('decodes every tenant’s payloads for a platform admin, and encodes its own under the platform key', async () => {
    const ofA = await encrypted({ name: 'Alice A' }, tenantScope(stack.tenant.id));
    const ofB = await encrypted({ name: 'Bob B' }, tenantScope(stack.otherTenant.id));
    const ofOnboarding = await encrypted({ adminName: 'Dana Onboard' }, onboardingScope(onboarded.slug));

    const decoded = await decode(stack.tokens.platformAdmin, [ofA, ofB, ofOnboarding]);
    const encoded = await request(stack.app)
      .post('/codec/encode')
      .set('Authorization', stack.tokens.platformAdmin)
      .send({ payloads: [plain('cleanup')] });

    expect(decoded.body.payloads).toEqual([
      plain({ name: 'Alice A' }),
      plain({ name: 'Bob B' }),
      plain({ adminName: 'Dana Onboard' }),
    ]);
    expect(encoded.status).toBe(200);
    expect(textOf(encoded.body.payloads[0]).metadata[METADATA_SCOPE]).toBe('platform');
  });

  it('returns a payload it cannot decrypt unchanged, and logs why once per request without its content', async () => {
    const good = await encrypted({ name: 'Alice A' }, tenantScope(stack.tenant.id));
    const tampered = { ...good, data: Buffer.from('x'.repeat(64)).toString('base64') };
    const linesBefore = logLines.length;

    const response = await decode(stack.tokens.admin, [tampered, good, tampered]);

    expect(response.status).toBe(200);
    expect(response.body.payloads).toEqual([tampered, plain({ name: 'Alice A' }), tampered]);
    const warnings = logLines.slice(linesBefore).filter((line) => (line.msg as string)?.startsWith('codec server'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      codec: { undecodable: { [`PayloadTamperedError ${tenantScope(stack.tenant.id)}`]: 2 } },
    });
    expect(JSON.stringify(warnings[0])).not.toContain(tampered.data);
    expect(JSON.stringify(logLines.slice(linesBefore))).not.toContain('Alice');
  });

  it('answers an error, not ciphertext, when the salts cannot be read at all', async () => {
    const payload = await encrypted({ name: 'Alice A' }, tenantScope(stack.tenant.id));
    const unreachable = new Error('connection refused');
    const app = stack.appWith({
      codec: createEncryptionCodec({
        keys: stack.config.payloads.keys,
        salts: { saltOf: () => Promise.reject(unreachable) },
        keyCacheTtlMs: 0,
      }),
    });

    const response = await request(app)
      .post('/codec/decode')
      .set('Authorization', stack.tokens.admin)
      .send({ payloads: [payload] });

    expect(response.status).toBe(500);
    expect(response.body.error.code).toBe('INTERNAL');
  });

  describe('refuses', () => {
    it('a request without credentials, or with a token the API would refuse (401)', async () => {
      const payload = await encrypted({ name: 'Alice A' }, tenantScope(stack.tenant.id));

      const none = await decode(undefined, [payload]);
      const forged = await decode(`Bearer ${stack.tokens.admin.split(' ')[1]!.slice(0, -4)}AAAA`, [payload]);
      const unknownTenant = await decode(await stack.bearer(`t-${randomUUID()}`, 'tenant-admin'), [payload]);

      expect({ status: none.status, code: none.body.error.code }).toEqual({ status: 401, code: 'UNAUTHORIZED' });
      expect(none.body.error).toEqual({ code: 'UNAUTHORIZED', message: expect.any(String), details: null });
      expect({ status: forged.status, code: forged.body.error.code }).toEqual({ status: 401, code: 'UNAUTHORIZED' });
      expect(unknownTenant.status).toBe(401);
    });

    it('a member (403), and a suspended tenant’s token (403 TENANT_INACTIVE)', async () => {
      const suspended = await stack.prisma.tenant.create({
        data: { id: `t-${randomUUID()}`, slug: `t-${randomUUID()}`, name: 'Gone', adminEmail: 'a@gone.test' },
      });
      await stack.prisma.tenant.update({ where: { id: suspended.id }, data: { status: 'SUSPENDED' } });
      const payload = await encrypted({ name: 'Alice A' }, tenantScope(stack.tenant.id));

      const member = await decode(stack.tokens.member, [payload]);
      const memberEncode = await request(stack.app)
        .post('/codec/encode')
        .set('Authorization', stack.tokens.member)
        .send({ payloads: [plain('x')] });
      const inactive = await decode(await stack.bearer(suspended.id, 'tenant-admin'), [payload]);

      expect({ status: member.status, code: member.body.error.code }).toEqual({ status: 403, code: 'FORBIDDEN' });
      expect(memberEncode.status).toBe(403);
      expect({ status: inactive.status, code: inactive.body.error.code }).toEqual({
        status: 403,
        code: 'TENANT_INACTIVE',
      });
    });

    it('another namespace (400 NAMESPACE_MISMATCH)', async () => {
      const response = await request(stack.app)
        .post('/codec/decode')
        .set('Authorization', stack.tokens.admin)
        .set('X-Namespace', 'someone-elses')
        .send({ payloads: [] });

      expect(response.status).toBe(400);
      expect(response.body.error).toMatchObject({
        code: 'NAMESPACE_MISMATCH',
        details: { namespace: 'someone-elses', served: stack.config.temporal.namespace },
      });
    });

    it('malformed bodies (400, with details)', async () => {
      const send = (body: string | object) =>
        request(stack.app)
          .post('/codec/decode')
          .set('Authorization', stack.tokens.admin)
          .set('Content-Type', 'application/json')
          .send(body);

      const notJson = await send('{"payloads": [');
      // Proto3 JSON leaves an empty list out: `{}` is no payloads, which the CLI sends.
      const empty = await send({});
      const noList = await send({ payloads: 'all of them' });
      const notBase64 = await send({ payloads: [{ metadata: { encoding: 'plain text' }, data: 'not base64!' }] });
      const extraField = await send({ payloads: [], more: true });

      expect({ status: notJson.status, code: notJson.body.error.code }).toEqual({
        status: 400,
        code: 'MALFORMED_JSON',
      });
      expect({ status: empty.status, body: empty.body }).toEqual({ status: 200, body: { payloads: [] } });
      expect(noList.status).toBe(400);
      expect(noList.body.error.details).toEqual([expect.objectContaining({ path: 'payloads' })]);
      expect(notBase64.status).toBe(400);
      expect(notBase64.body.error.details).toEqual([
        expect.objectContaining({ path: 'payloads.0.metadata.encoding' }),
        expect.objectContaining({ path: 'payloads.0.data' }),
      ]);
      expect({ status: extraField.status, code: extraField.body.error.code }).toEqual({
        status: 400,
        code: 'VALIDATION_FAILED',
      });
    });
  });

  describe('CORS', () => {
    it('answers the Web UI’s preflight with credentials allowed, and any other origin without CORS', async () => {
      const [webUi] = stack.config.payloads.codecCorsOrigins;
      const preflight = (origin: string) =>
        request(stack.app)
          .options('/codec/decode')
          .set('Origin', origin)
          .set('Access-Control-Request-Method', 'POST')
          .set('Access-Control-Request-Headers', 'content-type,x-namespace,authorization');

      const fromUi = await preflight(webUi!);
      const fromElsewhere = await preflight('https://evil.example');

      expect(fromUi.status).toBe(204);
      expect(fromUi.headers).toMatchObject({
        'access-control-allow-origin': webUi,
        'access-control-allow-credentials': 'true',
        'access-control-allow-methods': 'POST',
        'access-control-max-age': expect.stringMatching(/^\d+$/),
      });
      expect(fromUi.headers['access-control-allow-headers']).toEqual(
        expect.stringContaining('Content-Type, Authorization'),
      );
      expect(fromUi.headers['access-control-allow-headers']).toContain('X-Namespace');
      expect(fromElsewhere.headers['access-control-allow-origin']).toBeUndefined();
      expect(fromElsewhere.headers['access-control-allow-credentials']).toBeUndefined();
      expect(fromElsewhere.headers['access-control-allow-headers']).toBeUndefined();
    });

    it('lets the Web UI read the answer, and no other origin', async () => {
      const [webUi] = stack.config.payloads.codecCorsOrigins;
      const payload = await encrypted({ name: 'Alice A' }, tenantScope(stack.tenant.id));

      const fromUi = await decode(stack.tokens.admin, [payload]).set('Origin', webUi!);
      const refusedFromUi = await decode(undefined, [payload]).set('Origin', webUi!);
      const fromElsewhere = await decode(stack.tokens.admin, [payload]).set('Origin', 'https://evil.example');

      expect(fromUi.headers['access-control-allow-origin']).toBe(webUi);
      // The Web UI can tell a refusal from a network failure, and show it.
      expect(refusedFromUi.status).toBe(401);
      expect(refusedFromUi.headers['access-control-allow-origin']).toBe(webUi);
      expect(fromElsewhere.headers['access-control-allow-origin']).toBeUndefined();
    });
  });

  describe('the console’s codec cookie', () => {
    /** Signs in through the console's own form, as a browser does; the agent keeps the cookies by path. */
    async function signIn(authorization: string) {
      const agent = request.agent(stack.app);
      const form = await agent.get('/console/sign-in');
      const csrf = /name="csrf" value="([^"]+)"/.exec(form.text)?.[1];
      expect(csrf).toBeDefined();
      const signedIn = await agent
        .post('/console/sign-in')
        .type('form')
        .send({ csrf, token: authorization.replace(/^Bearer /, '') });
      expect(signedIn.status).toBe(303);
      return { agent, signedIn };
    }

    const cookieNamed = (setCookie: string[] | string | undefined, name: string) =>
      ([] as string[]).concat(setCookie ?? []).find((cookie) => cookie.startsWith(`${name}=`));

    it('is set at sign-in for /codec only, HttpOnly and SameSite=Strict, and decodes the tenant’s payloads', async () => {
      const { agent, signedIn } = await signIn(stack.tokens.operator);
      const ofA = await encrypted({ name: 'Alice A' }, tenantScope(stack.tenant.id));
      const ofB = await encrypted({ name: 'Bob B' }, tenantScope(stack.otherTenant.id));

      const cookie = cookieNamed(signedIn.headers['set-cookie'], 'holdfast_codec');
      expect(cookie).toMatch(/; Path=\/codec(;|$)/);
      expect(cookie).toContain('HttpOnly');
      expect(cookie).toContain('SameSite=Strict');
      const decoded = await agent.post('/codec/decode').send({ payloads: [ofA, ofB] });
      expect(decoded.status).toBe(200);
      expect(decoded.body.payloads).toEqual([plain({ name: 'Alice A' }), ofB]);
    });

    it('authenticates nothing but the codec server, and the console’s own cookie does not reach it', async () => {
      const { signedIn } = await signIn(stack.tokens.admin);
      const codecCookie = cookieNamed(signedIn.headers['set-cookie'], 'holdfast_codec')!.split(';')[0]!;
      const consoleCookie = cookieNamed(signedIn.headers['set-cookie'], 'holdfast_console')!.split(';')[0]!;

      const api = await request(stack.app).get('/api/v1/me').set('Cookie', codecCookie);
      const consolePage = await request(stack.app).get('/console/').set('Cookie', codecCookie);
      const codecWithConsoleCookie = await request(stack.app)
        .post('/codec/decode')
        .set('Cookie', consoleCookie)
        .send({ payloads: [] });

      expect(api.status).toBe(401);
      expect(consolePage.status).toBe(303);
      expect(consolePage.headers.location).toBe('/console/sign-in');
      expect(codecWithConsoleCookie.status).toBe(401);
    });

    it('is cleared at sign-out', async () => {
      const { agent } = await signIn(stack.tokens.admin);
      const overview = await agent.get('/console/');
      const csrf = /action="\/console\/sign-out"[\s\S]*?name="csrf" value="([^"]+)"/.exec(overview.text)?.[1];
      expect(csrf).toBeDefined();

      const signedOut = await agent.post('/console/sign-out').type('form').send({ csrf });
      const afterwards = await agent.post('/codec/decode').send({ payloads: [] });

      expect(signedOut.status).toBe(303);
      expect(cookieNamed(signedOut.headers['set-cookie'], 'holdfast_codec')).toMatch(
        /Path=\/codec.*Expires=Thu, 01 Jan 1970/,
      );
      expect(afterwards.status).toBe(401);
    });
  });
});
