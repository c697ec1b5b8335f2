import { randomUUID } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import { Client as PgClient } from 'pg';
import { WorkflowNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import { AppError } from '../../api/errors';
import { PrismaClient } from '../../generated/prisma/client';
import type { PrismaClient as AppPrismaClient } from '../../lib/db';
import { classifyDatabaseError } from '../../lib/db-errors';
import { freePort } from '../../scripts/stack/ports';
import { createTestTenant, testConfig, testPrisma } from '../support/stack';

/** Runs a database call that must fail, and returns what it threw. */
async function failureOf(call: () => PromiseLike<unknown>): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  throw new Error('the call succeeded; it was meant to fail');
}

/** A promise and the function that settles it, for making two transactions meet. */
function gate(parties: number): () => Promise<void> {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return async () => {
    arrived += 1;
    if (arrived === parties) open();
    await opened;
  };
}

describe('classifyDatabaseError, on what Prisma with the pg adapter really throws', () => {
  const config = testConfig();
  let prisma: AppPrismaClient;
  let tenantId: string;
  let retailerId: string;

  beforeAll(async () => {
    prisma = testPrisma(config);
    tenantId = (await createTestTenant(prisma)).id;
    retailerId = (
      await prisma.retailer.create({
        data: { tenantId, name: 'Corner Shop', channel: 'EMAIL', contact: 'shop@corner.test', creditLimit: 100 },
      })
    ).id;
  });

  afterAll(async () => {
    await prisma.$disconnect();
  });

  const order = (items: unknown, total = 1) =>
    prisma.order.create({
      data: { tenantId, retailerId, items: items as object, total, deliveryRegion: 'north', requestHash: 'h' },
    });

  describe('data the database cannot store is invalid-data', () => {
    it('a NUL byte in a text column (22021)', async () => {
      const error = await failureOf(() => prisma.slot.create({ data: { tenantId, name: 'a\u0000b' } }));
      expect(classifyDatabaseError(error)).toEqual({ kind: 'invalid-data', sqlState: '22021' });
    });

    it('a NUL byte inside a jsonb value (22P05)', async () => {
      const error = await failureOf(() => order([{ name: 'a\u0000b' }]));
      expect(classifyDatabaseError(error)).toEqual({ kind: 'invalid-data', sqlState: '22P05' });
    });

    it('an unpaired surrogate in text, which Prisma refuses before sending', async () => {
      const error = await failureOf(() => prisma.slot.create({ data: { tenantId, name: 'a\ud800b' } }));
      expect(classifyDatabaseError(error)).toEqual({ kind: 'invalid-data' });
    });

    it('an unpaired surrogate inside a jsonb value', async () => {
      const error = await failureOf(() => order([{ name: 'a\udc00b' }]));
      expect(classifyDatabaseError(error)).toEqual({ kind: 'invalid-data' });
    });

    it('an amount beyond a 32-bit integer column (22003, P2020)', async () => {
      const error = await failureOf(() => order([], 2 ** 31));
      expect(classifyDatabaseError(error)).toEqual({ kind: 'invalid-data', sqlState: '22003', prismaCode: 'P2020' });
    });

    it('a date in year 0000 (22008)', async () => {
      const error = await failureOf(() =>
        prisma.slot.create({ data: { tenantId, name: 'year zero', startsAt: new Date('0000-01-01T00:00:00Z') } }),
      );
      expect(classifyDatabaseError(error)).toEqual({ kind: 'invalid-data', sqlState: '22008' });
    });

    it('a date beyond year 9999, which Prisma cannot even serialise', async () => {
      const error = await failureOf(() =>
        prisma.slot.create({ data: { tenantId, name: 'far future', startsAt: new Date(8.64e15) } }),
      );
      expect(classifyDatabaseError(error)).toEqual({ kind: 'invalid-data' });
    });

    it("a value of the wrong type (Prisma's validation error)", async () => {
      const error = await failureOf(() => prisma.slot.create({ data: { tenantId, name: 42 as unknown as string } }));
      expect(classifyDatabaseError(error)).toEqual({ kind: 'invalid-data' });
    });

    it('a value too long for its column (22001, P2010 from raw SQL)', async () => {
      const error = await failureOf(() =>
        prisma.$transaction(async (tx) => {
          await tx.$executeRawUnsafe('CREATE TEMP TABLE short_text (value varchar(3)) ON COMMIT DROP');
          await tx.$executeRaw`INSERT INTO short_text VALUES (${'abcdef'})`;
        }),
      );
      expect(classifyDatabaseError(error)).toEqual({ kind: 'invalid-data', sqlState: '22001', prismaCode: 'P2010' });
    });

    it('a value in the wrong format for its type (22P02), in a query and in a transaction', async () => {
      const query = await failureOf(() => prisma.$queryRaw`SELECT ${'not-a-uuid'}::uuid`);
      const inTransaction = await failureOf(() =>
        prisma.$transaction(async (tx) => {
          await tx.$executeRaw`SELECT ${'12x'}::integer`;
        }),
      );
      for (const error of [query, inTransaction]) {
        expect(classifyDatabaseError(error)).toEqual({ kind: 'invalid-data', sqlState: '22P02', prismaCode: 'P2010' });
      }
    });

    it('a check-constraint violation (23514)', async () => {
      const error = await failureOf(() =>
        prisma.$transaction(async (tx) => {
          await tx.$executeRawUnsafe('CREATE TEMP TABLE positive (value int CHECK (value > 0)) ON COMMIT DROP');
          await tx.$executeRawUnsafe('INSERT INTO positive VALUES (-1)');
        }),
      );
      expect(classifyDatabaseError(error)).toEqual({ kind: 'invalid-data', sqlState: '23514', prismaCode: 'P2010' });
    });
  });

  describe('integrity violations', () => {
    it('a foreign key to a row that does not exist is foreign-key (23503, P2003)', async () => {
      const error = await failureOf(() => prisma.slot.create({ data: { tenantId: `t-${randomUUID()}`, name: 'x' } }));
      expect(classifyDatabaseError(error)).toEqual({ kind: 'foreign-key', sqlState: '23503', prismaCode: 'P2003' });
    });

    it('deleting a row that others still refer to is foreign-key, still referenced (23503)', async () => {
      const error = await failureOf(() =>
        prisma.$transaction(async (tx) => {
          await tx.$executeRawUnsafe('CREATE TEMP TABLE parent (id int PRIMARY KEY) ON COMMIT DROP');
          await tx.$executeRawUnsafe('CREATE TEMP TABLE child (parent int REFERENCES parent) ON COMMIT DROP');
          await tx.$executeRawUnsafe('INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1)');
          await tx.$executeRawUnsafe('DELETE FROM parent');
        }),
      );
      expect(classifyDatabaseError(error)).toEqual({
        kind: 'foreign-key',
        sqlState: '23503',
        prismaCode: 'P2010',
        stillReferenced: true,
      });
    });

    /** A retailer an order refers to: Order.retailerId is an ON DELETE RESTRICT key. */
    async function referencedRetailer() {
      const retailer = await prisma.retailer.create({
        data: { tenantId, name: 'Referenced Shop', channel: 'EMAIL', contact: 'ref@shop.test', creditLimit: 100 },
      });
      await prisma.order.create({
        data: { tenantId, retailerId: retailer.id, items: [], total: 1, deliveryRegion: 'north', requestHash: 'h' },
      });
      return retailer;
    }

    it('a RESTRICT violation (23001) is foreign-key, still referenced', async () => {
      const retailer = await referencedRetailer();
      const error = await failureOf(() => prisma.retailer.delete({ where: { id: retailer.id } }));
      expect(classifyDatabaseError(error)).toEqual({ kind: 'foreign-key', sqlState: '23001', stillReferenced: true });
    });

    it("keeps the SQLSTATE that Prisma Client 6.19 alone loses: without lib/db.ts's adapter wrapper a RESTRICT violation is a bare 'Unknown error'", async () => {
      // adapter-pg 7.10 reports 23001 as RestrictViolation, a kind the client does not know. When an
      // upgrade makes this fail, the client knows the kind and the wrapper can go.
      const retailer = await referencedRetailer();
      const bare = new PrismaClient({ adapter: new PrismaPg({ connectionString: config.databaseUrl!, max: 1 }) });
      try {
        const error = await failureOf(() => bare.retailer.delete({ where: { id: retailer.id } }));
        expect(error).toMatchObject({ message: 'Unknown error: [object Object]' });
        expect(classifyDatabaseError(error)).toEqual({ kind: 'unknown' });
      } finally {
        await bare.$disconnect();
      }
    });

    it('a duplicate unique key is unique (23505, P2002)', async () => {
      const error = await failureOf(() =>
        prisma.tenant.create({ data: { id: tenantId, slug: `t-${randomUUID()}`, name: 'Duplicate' } }),
      );
      expect(classifyDatabaseError(error)).toEqual({ kind: 'unique', sqlState: '23505', prismaCode: 'P2002' });
    });

    it('a record the query needed that is missing stays unknown with its code (P2025)', async () => {
      const error = await failureOf(() =>
        prisma.slot.update({ where: { id: randomUUID() }, data: { name: 'renamed' } }),
      );
      expect(classifyDatabaseError(error)).toEqual({ kind: 'unknown', prismaCode: 'P2025' });
    });
  });

  describe('failures that may pass are transient', () => {
    it('a statement timeout (57014) and a lock timeout (55P03)', async () => {
      const locker = new PgClient({ connectionString: config.databaseUrl! });
      await locker.connect();
      try {
        await locker.query('BEGIN');
        await locker.query('SELECT id FROM "Tenant" WHERE id = $1 FOR UPDATE', [tenantId]);
        const updateUnder = (setting: string) =>
          failureOf(() =>
            prisma.$transaction(async (tx) => {
              await tx.$executeRawUnsafe(`SET LOCAL ${setting} = 200`);
              await tx.tenant.update({ where: { id: tenantId }, data: { name: 'locked' } });
            }),
          );

        expect(classifyDatabaseError(await updateUnder('statement_timeout'))).toEqual({
          kind: 'transient',
          sqlState: '57014',
        });
        expect(classifyDatabaseError(await updateUnder('lock_timeout'))).toEqual({
          kind: 'transient',
          sqlState: '55P03',
        });
      } finally {
        await locker.query('ROLLBACK');
        await locker.end();
      }
    });

    it('a deadlock (40P01, P2034)', async () => {
      const other = (await createTestTenant(prisma)).id;
      const bothHoldOne = gate(2);
      const lockInOrder = (first: string, second: string) =>
        prisma.$transaction(
          async (tx) => {
            await tx.tenant.update({ where: { id: first }, data: { name: 'first' } });
            await bothHoldOne();
            await tx.tenant.update({ where: { id: second }, data: { name: 'second' } });
          },
          { timeout: 20_000 },
        );

      const results = await Promise.allSettled([lockInOrder(tenantId, other), lockInOrder(other, tenantId)]);

      const failures = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
      expect(failures).toHaveLength(1);
      expect(classifyDatabaseError(failures[0])).toEqual({ kind: 'transient', sqlState: '40P01', prismaCode: 'P2034' });
    });

    it('a serialization failure (40001, P2034)', async () => {
      // Under REPEATABLE READ, updating a row that another transaction changed after our snapshot
      // fails at that statement. (A SERIALIZABLE conflict found only at COMMIT instead leaves the
      // connection unreleased, so that $disconnect never returns: avoided here.)
      let snapshotTaken!: () => void;
      let otherCommitted!: () => void;
      const snapshot = new Promise<void>((resolve) => (snapshotTaken = resolve));
      const committed = new Promise<void>((resolve) => (otherCommitted = resolve));
      const conflicting = failureOf(() =>
        prisma.$transaction(
          async (tx) => {
            await tx.tenant.findUniqueOrThrow({ where: { id: tenantId } });
            snapshotTaken();
            await committed;
            await tx.tenant.update({ where: { id: tenantId }, data: { name: 'from the older snapshot' } });
          },
          { isolationLevel: 'RepeatableRead', timeout: 20_000 },
        ),
      );
      await snapshot;
      await prisma.tenant.update({ where: { id: tenantId }, data: { name: 'changed meanwhile' } });
      otherCommitted();

      expect(classifyDatabaseError(await conflicting)).toEqual({
        kind: 'transient',
        sqlState: '40001',
        prismaCode: 'P2034',
      });
    });

    it('a connection the server terminates under a query (57P01)', async () => {
      const killer = new PgClient({ connectionString: config.databaseUrl! });
      await killer.connect();
      try {
        const marker = `sleep_${randomUUID().replaceAll('-', '')}`;
        const sleeping = failureOf(() => prisma.$queryRawUnsafe(`SELECT pg_sleep(30)::text AS ${marker}`));
        let terminated = 0;
        while (terminated === 0) {
          const { rowCount } = await killer.query(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()',
            [`%${marker}%`],
          );
          terminated = rowCount ?? 0;
          if (terminated === 0) await new Promise((resolve) => setTimeout(resolve, 20));
        }

        expect(classifyDatabaseError(await sleeping)).toEqual({
          kind: 'transient',
          sqlState: '57P01',
          prismaCode: 'P2010',
        });
      } finally {
        await killer.end();
      }
    });

    it('an interactive transaction that outlived its timeout (P2028)', async () => {
      const error = await failureOf(() =>
        prisma.$transaction(
          async (tx) => {
            await new Promise((resolve) => setTimeout(resolve, 300));
            await tx.tenant.count();
          },
          { timeout: 100 },
        ),
      );
      expect(classifyDatabaseError(error)).toEqual({ kind: 'transient', prismaCode: 'P2028' });
    });

    it('no free connection in the pool in time', async () => {
      const small = new PrismaClient({
        adapter: new PrismaPg({ connectionString: config.databaseUrl!, max: 1, connectionTimeoutMillis: 100 }),
      });
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const holding = gate(2);
      const holder = small.$transaction(
        async (tx) => {
          await tx.tenant.count();
          await holding();
          await held;
        },
        { timeout: 20_000 },
      );
      try {
        await holding();
        const error = await failureOf(() => small.tenant.count());
        expect(classifyDatabaseError(error)).toEqual({ kind: 'transient' });
      } finally {
        release();
        await holder;
        await small.$disconnect();
      }
    });

    it('a database server that refuses connections (P1001)', async () => {
      const unreachable = new PrismaClient({
        adapter: new PrismaPg({ connectionString: `postgresql://nobody:nothing@127.0.0.1:${await freePort()}/none` }),
      });
      try {
        const error = await failureOf(() => unreachable.tenant.count());
        expect(classifyDatabaseError(error)).toEqual({ kind: 'transient', prismaCode: 'P1001' });
      } finally {
        await unreachable.$disconnect();
      }
    });
  });

  it('errors that did not come from the database are not classified', () => {
    const zodError = z.object({ name: z.string() }).safeParse({}).error;
    for (const error of [
      new Error('boom'),
      new AppError(404, 'NOT_FOUND', 'Slot not found'),
      new WorkflowNotFoundError('gone', 'wf', undefined),
      zodError,
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:2525'), { code: 'ECONNREFUSED', syscall: 'connect' }),
      'a string',
      undefined,
      null,
    ]) {
      expect(classifyDatabaseError(error)).toBeUndefined();
    }
  });
});
