import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { rejectingDataErrors } from '../../activities/database-failures';
import { classifyDatabaseError } from '../../lib/db-errors';
import { createPrismaClient, type PrismaClient } from '../../lib/db';
import { freePort } from '../../scripts/stack/ports';
import { FailureType } from '../../workflows/errors';
import { createTestTenant, testConfig, testPrisma } from '../support/stack';

/** The error `run` ends with; fails the test if it succeeds. */
async function failureOf(run: Promise<unknown>): Promise<unknown> {
  return run.then(
    () => {
      throw new Error('expected the activity to fail');
    },
    (error: unknown) => error,
  );
}

/**
 * The activities as the worker registers them (createActivities), against a real PostgreSQL and
 * run inside an activity context: what the database refuses must leave them as non-retryable
 * DataRejected failures, and an outage as a retryable error.
 */
describe('activities turn database data errors into non-retryable DataRejected failures (real PostgreSQL)', () => {
  const config = testConfig();
  let prisma: PrismaClient;
  let tenantId: string;

  const activitiesOn = (client: PrismaClient) =>
    createActivities({
      prisma: client,
      offerTokenSecret: 'activity-data-errors-test-secret-0123456789',
      publicBaseUrl: 'http://api.test',
      onboarding: {
        billingPrices: { free: 'price_free', professional: 'price_professional', enterprise: 'price_enterprise' },
        invitationTokenSecret: 'activity-data-errors-invitation-secret-0123',
        platformAdminEmail: 'platform@holdfast.test',
      },
    });

  beforeAll(async () => {
    prisma = testPrisma(config);
    tenantId = (await createTestTenant(prisma)).id;
  });

  afterAll(async () => {
    await prisma.$disconnect();
  });

  async function pendingOrder() {
    const retailer = await prisma.retailer.create({
      data: { tenantId, name: 'Shop', channel: 'EMAIL', contact: 'shop@retail.test', creditLimit: 100_000 },
    });
    return prisma.order.create({
      data: {
        tenantId,
        retailerId: retailer.id,
        items: [{ sku: 'S1', name: 'Soap', category: 'household', quantity: 1, unitPrice: 500 }],
        total: 500,
        deliveryRegion: 'east',
        requestHash: 'test',
      },
    });
  }

  it('a NUL in a cancellation reason fails the activity for good with DataRejected, naming the problem but not the text', async () => {
    const order = await pendingOrder();
    const activities = activitiesOn(prisma);

    const error = await failureOf(
      new MockActivityEnvironment({ attempt: 2 }).run(activities.cancelOrderRecord, {
        tenantId,
        orderId: order.id,
        reason: 'Customer Jane Roe moved\u0000away',
        actor: 'user:operator',
      }),
    );

    expect(error).toBeInstanceOf(ApplicationFailure);
    const failure = error as ApplicationFailure;
    expect(failure.type).toBe(FailureType.DataRejected);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(/cannot store.*SQLSTATE 22021/);
    expect(failure.message).not.toMatch(/Jane|Roe|away/);
    expect(failure.details).toEqual([{ kind: 'invalid-data', sqlState: '22021', prismaCode: null, attempt: 2 }]);
    // The transaction rolled back: the order is as it was.
    expect((await prisma.order.findUniqueOrThrow({ where: { id: order.id } })).status).toBe('PENDING');
  });

  it('a broken reference (a vendor that does not exist) fails the activity for good with DataRejected', async () => {
    const order = await pendingOrder();

    const error = await failureOf(
      new MockActivityEnvironment().run(activitiesOn(prisma).offerOrderToVendor, {
        tenantId,
        orderId: order.id,
        vendorId: 'no-such-vendor',
        attempt: 1,
        deadline: new Date(Date.now() + 600_000).toISOString(),
      }),
    );

    expect(error).toMatchObject({ type: FailureType.DataRejected, nonRetryable: true });
    expect((error as ApplicationFailure).message).toMatch(/refers to does not exist/);
    expect((error as ApplicationFailure).details?.[0]).toMatchObject({ kind: 'foreign-key' });
  });

  it('removing a row that others still refer to (RESTRICT, 23001) fails the activity for good with DataRejected, not as an unknown error retried for ever', async () => {
    const order = await pendingOrder();
    // No activity deletes a retailer; one that did would meet Order.retailerId's ON DELETE RESTRICT.
    const { removeRetailer } = rejectingDataErrors({
      removeRetailer: (id: string) => prisma.retailer.delete({ where: { id } }),
    });

    const error = await failureOf(new MockActivityEnvironment().run(removeRetailer, order.retailerId));

    expect(error).toMatchObject({ type: FailureType.DataRejected, nonRetryable: true });
    expect((error as ApplicationFailure).message).toMatch(/still refer to .*\(SQLSTATE 23001\)/);
    expect((error as ApplicationFailure).details?.[0]).toMatchObject({ kind: 'foreign-key', sqlState: '23001' });
  });

  it('a value in the wrong format for its type (22P02) fails the activity for good with DataRejected', async () => {
    const { castId } = rejectingDataErrors({
      castId: (id: string) => prisma.$queryRaw`SELECT ${id}::uuid AS id`,
    });

    const error = await failureOf(new MockActivityEnvironment().run(castId, 'not-a-uuid'));

    expect(error).toMatchObject({ type: FailureType.DataRejected, nonRetryable: true });
    expect((error as ApplicationFailure).message).toMatch(/wrong format .*\(SQLSTATE 22P02\)/);
    expect((error as ApplicationFailure).message).not.toMatch(/not-a-uuid/);
  });

  it('a value of the wrong type that Prisma refuses fails the activity for good with DataRejected', async () => {
    const order = await pendingOrder();

    const error = await failureOf(
      new MockActivityEnvironment().run(activitiesOn(prisma).cancelOrderRecord, {
        tenantId,
        orderId: order.id,
        reason: 42 as unknown as string,
        actor: 'user:operator',
      }),
    );

    expect(error).toMatchObject({ type: FailureType.DataRejected, nonRetryable: true });
    expect((error as ApplicationFailure).details?.[0]).toMatchObject({ kind: 'invalid-data' });
  });

  it("the activities' own permanent failures pass through unchanged", async () => {
    const error = await failureOf(
      new MockActivityEnvironment().run(activitiesOn(prisma).cancelOrderRecord, {
        tenantId,
        orderId: 'no-such-order',
        reason: 'no longer needed',
        actor: 'user:operator',
      }),
    );

    expect(error).toMatchObject({ type: FailureType.NotFound, nonRetryable: true });
  });

  it('a database that cannot be reached leaves the activity with a retryable error', async () => {
    const unreachable = createPrismaClient(`postgresql://holdfast@127.0.0.1:${await freePort()}/holdfast`, {
      maxConnections: 1,
    });
    try {
      const error = await failureOf(
        new MockActivityEnvironment().run(activitiesOn(unreachable).checkCredit, { tenantId, orderId: 'any' }),
      );

      expect(classifyDatabaseError(error)?.kind).toBe('transient');
      // Retryable: not a non-retryable ApplicationFailure, so the activity's retry policy applies.
      expect(error instanceof ApplicationFailure && error.nonRetryable).toBe(false);
    } finally {
      await unreachable.$disconnect();
    }
  });
});
