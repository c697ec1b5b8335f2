import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { createTokenVerifier } from '../../api/auth';
import type { PrismaClient } from '../../lib/db';
import { freePort } from '../../scripts/stack/ports';
import { createTestTenant, testConfig, testPrisma } from '../support/stack';

const root = path.resolve(__dirname, '../..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `npm run token` as a user runs it: scripts/token.ts in its own process, against the test
 * database, with nothing inherited but what is passed here.
 */
describe('npm run token', () => {
  const config = testConfig();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'holdfast-token-tool-'));
  let prisma: PrismaClient;

  beforeAll(() => {
    prisma = testPrisma(config);
  });

  afterAll(async () => {
    await prisma.$disconnect();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  function token(args: string[], env: Record<string, string> = {}): Promise<Run> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'scripts/token.ts', ...args],
        {
          cwd: root,
          env: {
            PATH: process.env.PATH ?? '',
            APP_ENV: 'development',
            HOLDFAST_DATA_DIR: dataDir,
            JWT_SECRET: config.auth.jwtSecret!,
            DATABASE_URL: config.databaseUrl!,
            LOG_LEVEL: 'silent',
            ...env,
          },
        },
        (error, stdout, stderr) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  const verify = createTokenVerifier(config.auth);

  /** A refusal: non-zero exit, no token, and one line on stderr. */
  function expectRefusal(run: Run, message: RegExp) {
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(message);
  }

  it('resolves a slug to its tenant’s ID, and takes the ID as well', async () => {
    const tenant = await createTestTenant(prisma);
    const slug = `clinic-${randomUUID().slice(0, 8)}`;
    await prisma.tenant.update({ where: { id: tenant.id }, data: { slug } });

    const bySlug = await token(['--tenant', slug, '--role', 'tenant-admin']);
    const byId = await token(['--tenant', tenant.id, '--role', 'operator', '--role', 'member']);

    expect(bySlug).toMatchObject({ code: 0, stderr: '' });
    expect(await verify(bySlug.stdout.trim())).toEqual({
      subject: 'dev:tenant-admin',
      tenantId: tenant.id,
      roles: ['tenant-admin'],
    });
    expect(byId.code).toBe(0);
    expect((await verify(byId.stdout.trim())).tenantId).toBe(tenant.id);
  });

  it('refuses a slug or ID no tenant has, in one line', async () => {
    const run = await token(['--tenant', 'acme-clinics-that-never-was', '--role', 'tenant-admin']);

    expectRefusal(run, /No tenant has the slug or ID "acme-clinics-that-never-was"/);
  });

  it.each(['PENDING', 'FAILED', 'SUSPENDED'] as const)('refuses a %s tenant, naming its status', async (status) => {
    const tenant = await createTestTenant(prisma);
    await prisma.tenant.update({ where: { id: tenant.id }, data: { status } });

    const run = await token(['--tenant', tenant.slug, '--role', 'tenant-admin']);

    expectRefusal(run, new RegExp(`${tenant.id}\\) is ${status}; the API accepts tokens only for ACTIVE tenants`));
  });

  it('mints platform-admin tokens for the platform tenant without asking the database', async () => {
    const closed = `postgresql://holdfast:holdfast@127.0.0.1:${await freePort()}/nowhere`;

    const run = await token(['--tenant', 'platform', '--role', 'platform-admin'], { DATABASE_URL: closed });

    expect(run.code).toBe(0);
    expect(await verify(run.stdout.trim())).toMatchObject({ tenantId: 'platform', roles: ['platform-admin'] });
  });

  it.each([
    [['--tenant', 'platform', '--role', 'operator'], /platform tenant goes with --role platform-admin only/],
    [['--tenant', 'demo', '--role', 'platform-admin'], /use --tenant platform/],
  ] as Array<[string[], RegExp]>)(
    'keeps platform-admin and the platform tenant together: %j',
    async (args, message) => {
      expectRefusal(await token(args), message);
    },
  );

  it('mints tokens up to JWT_MAX_TTL and refuses longer ones', async () => {
    const tenant = await createTestTenant(prisma);
    const args = (expires: string) => ['--tenant', tenant.id, '--role', 'member', '--expires', expires];

    const twoHours = await token(args('2h'));
    const tooLong = await token(args('25h'));
    const shortMax = await token(args('2h'), { JWT_MAX_TTL: '1 hour' });
    const byDefault = await token(['--tenant', tenant.id, '--role', 'member'], { JWT_MAX_TTL: '1 hour' });

    const lifetime = (run: Run) => {
      const { exp, iat } = decodeJwt(run.stdout.trim());
      return exp! - iat!;
    };
    expect(twoHours.code).toBe(0);
    expect(lifetime(twoHours)).toBe(7200);
    expectRefusal(tooLong, /at most 24 hours \(JWT_MAX_TTL\)/);
    expectRefusal(shortMax, /at most 1 hour \(JWT_MAX_TTL\)/);
    expect(lifetime(byDefault)).toBe(3600);
  });

  it('says how to fix it when DATABASE_URL points nowhere', async () => {
    const port = await freePort();

    const run = await token(['--tenant', 'acme-clinics', '--role', 'tenant-admin'], {
      DATABASE_URL: `postgresql://holdfast:secret-password@127.0.0.1:${port}/holdfast`,
    });

    expectRefusal(run, new RegExp(`127\\.0\\.0\\.1:${port}/holdfast .*check DATABASE_URL`));
    expect(run.stderr).not.toContain('secret-password');
  });

  it('in development without DATABASE_URL, looks for `npm run dev`’s database and says to start it', async () => {
    const port = await freePort();

    const run = await token(['--tenant', 'acme-clinics', '--role', 'tenant-admin'], {
      DATABASE_URL: '',
      DEV_POSTGRES_PORT: String(port),
    });

    expectRefusal(run, new RegExp(`127\\.0\\.0\\.1:${port}/holdfast .*start \`npm run dev\``));
  });
});
