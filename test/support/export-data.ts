import { Client as PgClient } from 'pg';
import type { PrismaClient } from '../../lib/db';

/**
 * Data for export tests: many orders of one tenant inserted by one SQL statement, with IDs and
 * content derived from the tenant and the row number, so the same seed always exports the same bytes.
 */

/** A retailer for the tenant's orders to belong to. */
export async function seedRetailer(prisma: PrismaClient, tenantId: string) {
  return prisma.retailer.create({
    data: {
      tenantId,
      name: 'Seeded retailer',
      channel: 'EMAIL',
      contact: 'retailer@example.test',
      creditLimit: 1_000_000,
    },
  });
}

/**
 * Inserts `count` orders for the tenant: order `n` has total `n`, region `region-{n % 7}`, and is
 * created `n` seconds after 2026-01-01. Order 1's status reason looks like a spreadsheet formula and
 * order 2's region holds a comma and a quote, for the CSV escaping.
 */
export async function seedOrders(prisma: PrismaClient, tenantId: string, count: number): Promise<string> {
  const retailer = await seedRetailer(prisma, tenantId);
  await prisma.$executeRawUnsafe(
    `INSERT INTO "Order" ("id", "tenantId", "retailerId", "items", "total", "deliveryRegion", "status", "statusReason",
       "requestHash", "createdAt", "updatedAt")
     SELECT md5($1 || n)::uuid::text, $1, $2, '[{"sku":"RICE-5","quantity":1}]'::jsonb, n,
       CASE WHEN n = 2 THEN 'north, "upper"' ELSE 'region-' || (n % 7) END,
       'PENDING'::"OrderStatus",
       CASE WHEN n = 1 THEN '=HYPERLINK("http://x")' ELSE NULL END,
       'seeded', timestamp '2026-01-01' + n * interval '1 second', timestamp '2026-01-01' + n * interval '1 second'
     FROM generate_series(1, $3::int) AS n`,
    tenantId,
    retailer.id,
    count,
  );
  return retailer.id;
}

/** The ID the seed gave order `n` of the tenant. */
export async function orderIdOf(prisma: PrismaClient, tenantId: string, n: number): Promise<string> {
  const [row] = await prisma.$queryRawUnsafe<{ id: string }[]>(
    `SELECT md5($1 || $2::int)::uuid::text AS id`,
    tenantId,
    n,
  );
  return row!.id;
}

/**
 * Holds an ACCESS EXCLUSIVE lock on a table until released: every read of it waits, so an export
 * reading it stops at its next page, whatever its speed. The lock is taken on a connection of its own.
 */
export async function lockTable(databaseUrl: string, table: string): Promise<{ release(): Promise<void> }> {
  const client = new PgClient({ connectionString: databaseUrl });
  await client.connect();
  await client.query('BEGIN');
  await client.query(`LOCK TABLE "${table}" IN ACCESS EXCLUSIVE MODE`);
  return {
    async release() {
      await client.query('ROLLBACK');
      await client.end();
    },
  };
}
