import { parseArgs } from 'node:util';
import { roles, type Role } from '../api/auth';
import { loadConfigOrExit } from '../lib/config';
import { createPrismaClient } from '../lib/db';
import { DevTokenError, resolveTokenTenant, signDevToken, tenantLookup, type TenantLookup } from '../lib/dev-token';

const usage = `Usage: npm run token -- --tenant <slug or id> --role <role> [--role <role>] [--sub <subject>] [--expires 8h]
       npm run token -- --tenant platform --role platform-admin
The tenant must exist and be ACTIVE: it is looked up in DATABASE_URL, or in the database of a running \`npm run dev\`.
--expires may not exceed JWT_MAX_TTL (24 hours unless configured).
Roles: ${roles.join(', ')}`;

/** How long the tool waits for the database before saying that it cannot reach it. */
const DATABASE_TIMEOUT_MS = 10_000;

/** Where `npm run dev` runs its embedded PostgreSQL (scripts/dev.ts, scripts/stack/postgres.ts). */
function devDatabaseUrl(): string {
  return `postgresql://holdfast:holdfast@127.0.0.1:${process.env.DEV_POSTGRES_PORT ?? 54320}/holdfast`;
}

/** host:port/database, without the credentials, for messages. */
function describeDatabase(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.host}${parsed.pathname}`;
  } catch {
    return 'DATABASE_URL';
  }
}

/** Prints one line on stderr and exits non-zero. */
function fail(message: string): never {
  process.stderr.write(`${message.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(1);
}

/** A lookup that connects only when asked (the platform tenant needs no database), and gives up after a while. */
function databaseLookup(databaseUrl: string): { lookup: TenantLookup; close: () => Promise<void> } {
  let prisma: ReturnType<typeof createPrismaClient> | undefined;
  return {
    lookup: async (idOrSlug) => {
      prisma ??= createPrismaClient(databaseUrl, { maxConnections: 1 });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${DATABASE_TIMEOUT_MS / 1000} seconds`)),
          DATABASE_TIMEOUT_MS,
        );
      });
      try {
        return await Promise.race([tenantLookup(prisma)(idOrSlug), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    close: async () => {
      await prisma?.$disconnect();
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tenant: { type: 'string' },
      role: { type: 'string', multiple: true },
      sub: { type: 'string' },
      expires: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const requested = values.role ?? [];
  const unknown = requested.filter((role) => !(roles as readonly string[]).includes(role));
  if (!values.tenant || requested.length === 0 || unknown.length > 0) {
    if (unknown.length > 0) console.error(`Unknown role(s): ${unknown.join(', ')}`);
    console.error(usage);
    process.exit(2);
  }
  const config = loadConfigOrExit();
  // In development the tool finds `npm run dev`'s database by itself; elsewhere it must be named.
  const databaseUrl = config.databaseUrl ?? (config.env === 'development' ? devDatabaseUrl() : undefined);
  const database = databaseUrl
    ? databaseLookup(databaseUrl)
    : {
        lookup: () => Promise.reject(new Error('DATABASE_URL is not set')),
        close: () => Promise.resolve(),
      };

  let tenantId: string;
  try {
    tenantId = await resolveTokenTenant(database.lookup, values.tenant, requested as Role[]);
  } catch (error) {
    if (error instanceof DevTokenError) fail(error.message);
    const where = databaseUrl ? describeDatabase(databaseUrl) : 'a database';
    const fix = config.databaseUrl
      ? 'check DATABASE_URL, and that its migrations are applied (npm run db:migrate)'
      : 'start `npm run dev` in another terminal, or set DATABASE_URL';
    // Prisma's messages open with a code frame; the cause is on the last line.
    const cause = String((error as Error).message)
      .trim()
      .split('\n')
      .at(-1);
    fail(`Cannot look up tenant "${values.tenant}" in ${where} (${cause}): ${fix}`);
  } finally {
    await database.close();
  }

  try {
    console.log(
      await signDevToken(config.auth, {
        tenantId,
        roles: requested as Role[],
        subject: values.sub,
        expiresIn: values.expires,
      }),
    );
  } catch (error) {
    if (error instanceof DevTokenError) fail(error.message);
    throw error;
  }
}

main().catch((error: unknown) => {
  fail(error instanceof Error ? error.message : String(error));
});
