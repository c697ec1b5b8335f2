import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createHoldfastClient, HoldfastApiError, unwrap, type HoldfastClient } from '../../api/client';
import { useApiStack } from '../support/api-stack';

/**
 * The typed client (api/client) against the API over real HTTP: the types generated from the
 * OpenAPI document, openapi-fetch, and the error envelope turned into a HoldfastApiError.
 */
describe('the typed client', () => {
  const stack = useApiStack();
  let server: http.Server;
  let baseUrl: string;
  let member: HoldfastClient;
  let admin: HoldfastClient;

  beforeAll(async () => {
    server = http.createServer(stack.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    member = createHoldfastClient({ baseUrl, token: stack.tokens.member });
    // A token function, as a client that renews its token would pass.
    admin = createHoldfastClient({ baseUrl, token: async () => stack.tokens.admin });
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it('api/client/openapi-types.ts is what `npm run client:generate` writes from the current routes', async () => {
    // In a process of its own: openapi-typescript loads ES modules that Jest's CommonJS registry cannot.
    const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'scripts/generate-client.ts', '--check'],
        { cwd: path.join(__dirname, '..', '..') },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, output: stdout + stderr }),
      );
    });

    // Stale: a route or a schema changed without `npm run client:generate`; run it and commit the file.
    expect({ code, output }).toEqual({ code: 0, output: 'api/client/openapi-types.ts is up to date\n' });
  });

  it('creates a slot, reads it back, puts a person on its waitlist and lists the waitlist', async () => {
    const name = `Typed court ${randomUUID().slice(0, 8)}`;

    const slot = await unwrap(member.POST('/api/v1/slots', { body: { name, holdMinutes: 45 } }));
    const read = await unwrap(member.GET('/api/v1/slots/{slotId}', { params: { path: { slotId: slot.id } } }));
    const entry = await unwrap(
      member.POST('/api/v1/slots/{slotId}/waitlist', {
        params: { path: { slotId: slot.id } },
        body: { customerName: 'Ada Lovelace', email: `ada-${randomUUID().slice(0, 8)}@typed.test` },
      }),
    );
    const waitlist = await unwrap(
      member.GET('/api/v1/slots/{slotId}/waitlist', {
        params: { path: { slotId: slot.id }, query: { status: 'WAITING' } },
      }),
    );

    expect(read).toMatchObject({ id: slot.id, name, holdMinutes: 45, status: slot.status, waiting: 0 });
    expect(waitlist.entries.map((waiting) => waiting.id)).toEqual([entry.id]);
    expect(entry).toMatchObject({ slotId: slot.id, customerName: 'Ada Lovelace', status: 'WAITING' });
  });

  it('creates and lists retailers as a tenant admin, and reads who the token is', async () => {
    const created = await unwrap(
      admin.POST('/api/v1/retailers', {
        body: { name: 'Corner Shop', channel: 'EMAIL', contact: 'orders@corner.test', creditLimit: 50_000 },
      }),
    );
    const { retailers } = await unwrap(admin.GET('/api/v1/retailers', { params: { query: { limit: 500 } } }));
    const me = await unwrap(admin.GET('/api/v1/me'));

    expect(retailers.map((retailer) => retailer.id)).toContain(created.id);
    expect(created).toMatchObject({ creditLimit: 50_000, flagged: false });
    expect(me).toMatchObject({ tenantId: stack.tenant.id, roles: ['tenant-admin'] });
  });

  it('reads the operator surface: stats and the flows that can be paused', async () => {
    const stats = await unwrap(member.GET('/api/v1/stats'));
    const flows = await unwrap(member.GET('/api/v1/flows'));

    expect(stats.scope).toEqual({ tenantId: stack.tenant.id });
    expect(stats.flows.map((flow) => flow.flow)).toContain('waitlist');
    expect(flows.flows.find((flow) => flow.flow === 'waitlist')).toMatchObject({ paused: false });
  });

  it('answers a refusal with the typed error envelope, and unwrap throws it as a HoldfastApiError', async () => {
    const slotId = randomUUID();

    const missing = await member.GET('/api/v1/slots/{slotId}', { params: { path: { slotId } } });
    const thrown = await unwrap(member.GET('/api/v1/slots/{slotId}', { params: { path: { slotId } } })).catch(
      (error: unknown) => error,
    );

    expect(missing.response.status).toBe(404);
    expect(missing.error?.error.code).toBe('NOT_FOUND');
    expect(thrown).toBeInstanceOf(HoldfastApiError);
    expect(thrown).toMatchObject({ status: 404, code: 'NOT_FOUND', details: { slotId } });
    expect((thrown as HoldfastApiError).requestId).toEqual(expect.any(String));
  });

  it('carries the validation details and the role refusals through the typed error', async () => {
    const invalid = await unwrap(member.POST('/api/v1/slots', { body: { name: '   ' } })).catch(
      (error: unknown) => error,
    );
    const slot = await unwrap(member.POST('/api/v1/slots', { body: { name: 'Released by nobody' } }));
    const forbidden = await unwrap(
      member.POST('/api/v1/slots/{slotId}/release', { params: { path: { slotId: slot.id } } }),
    ).catch((error: unknown) => error);
    const anonymous = await unwrap(createHoldfastClient({ baseUrl }).GET('/api/v1/me')).catch(
      (error: unknown) => error,
    );

    expect(invalid).toMatchObject({
      status: 400,
      code: 'VALIDATION_FAILED',
      details: [expect.objectContaining({ path: 'name' })],
    });
    expect(forbidden).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    expect(anonymous).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
  });
});
