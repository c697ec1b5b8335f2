import { Pool } from 'pg';
import { createPrismaClient, databasePoolConfig } from '../../lib/db';
import { classifyDatabaseError } from '../../lib/db-errors';
import { until } from '../support/eventually';
import { testDatabaseUrl } from '../support/stack-handles';

/*
 * The server ends a connection while the process holds it between two queries, as PostgreSQL does to
 * every connection when it shuts down. node-postgres then emits the error as an event; unheard, that
 * event would end the test process as it ended the worker. The first test holds the connection as the
 * driver adapter does during a transaction; the second goes through Prisma.
 */

/** Ends the backend of `pid` from a connection of its own, as a server shutdown would. */
async function terminateBackend(pid: number): Promise<void> {
  const admin = new Pool(databasePoolConfig(testDatabaseUrl(), { maxConnections: 1 }));
  try {
    await admin.query('select pg_terminate_backend($1)', [pid]);
  } finally {
    await admin.end();
  }
}

describe('a database connection the server ends while it is checked out', () => {
  it('is reported, not thrown, and the pool goes on with a new connection', async () => {
    const lost: Error[] = [];
    const pool = new Pool(
      databasePoolConfig(testDatabaseUrl(), {
        maxConnections: 2,
        onConnectionLost: (error) => lost.push(error),
      }),
    );
    try {
      const held = await pool.connect();
      const { rows } = await held.query<{ pid: number }>('select pg_backend_pid() as pid');

      await terminateBackend(rows[0]!.pid);
      await until(() => lost.length > 0);

      // SQLSTATE 57P01: "terminating connection due to administrator command".
      expect(lost[0]).toMatchObject({ code: '57P01' });
      // The connection is unusable, and its next query says so as an outage, which activities retry.
      const failure: unknown = await held.query('select 1').then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(Error);
      held.release(true);
      expect((await pool.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });

  it('leaves a Prisma client answering on a fresh connection once its connections were ended', async () => {
    const prisma = createPrismaClient(testDatabaseUrl(), { maxConnections: 1 });
    try {
      const [{ pid }] = await prisma.$queryRaw<[{ pid: number }]>`select pg_backend_pid() as pid`;

      await terminateBackend(pid);

      // The first query may meet the ended connection; it fails as an outage, never as bad data.
      const first = await prisma.$queryRaw`select 1`.then(
        () => undefined,
        (error: unknown) => error,
      );
      if (first !== undefined) expect(classifyDatabaseError(first)?.kind).toBe('transient');
      await expect(prisma.tenant.count()).resolves.toEqual(expect.any(Number));
    } finally {
      await prisma.$disconnect();
    }
  });
});
