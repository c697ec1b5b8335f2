import { PrismaPg } from '@prisma/adapter-pg';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { waitingOutDatabaseOutages, type OutageWaits } from '../../activities/database-failures';
import { classifyDatabaseError } from '../../lib/db-errors';
import { PrismaClient } from '../../generated/prisma/client';
import { freePort } from '../../scripts/stack/ports';

/*
 * The messages wait out a database outage within their attempt, so that the outage does not use up the
 * attempts their retry policy counts against the provider (activities/database-failures.ts). The outage's
 * error is real: what a Prisma client throws when its database refuses connections (P1001).
 */

const waits: OutageWaits = { firstMs: 10, longestMs: 40, marginMs: 100, maxWaiting: 10, now: Date.now };

/** An attempt of an activity, started now, with `startToCloseTimeoutMs`. */
const attempt = (startToCloseTimeoutMs = 60_000) => new MockActivityEnvironment({ startToCloseTimeoutMs });

describe('a message waits out a database outage within its attempt', () => {
  /** What a real query against a database that is down throws. */
  let outageError: Error;

  beforeAll(async () => {
    const unreachable = new PrismaClient({
      adapter: new PrismaPg({ connectionString: `postgresql://nobody:nothing@127.0.0.1:${await freePort()}/none` }),
    });
    try {
      const failure: unknown = await unreachable.tenant.count().then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(Error);
      expect(classifyDatabaseError(failure)?.kind).toBe('transient');
      outageError = failure as Error;
    } finally {
      await unreachable.$disconnect();
    }
  });

  /** An activity whose first `failures` runs meet `error`, then answers 'sent'. */
  function activityFailing(failures: number, error: () => Error) {
    let runs = 0;
    return {
      runs: () => runs,
      activities: {
        sendOfferNotification: (): Promise<string> => {
          runs += 1;
          return runs <= failures ? Promise.reject(error()) : Promise.resolve('sent');
        },
        settleHold: (): Promise<string> => {
          runs += 1;
          return Promise.reject(error());
        },
      },
    };
  }

  it('runs again once the database is back, in the same attempt', async () => {
    const { runs, activities } = activityFailing(3, () => outageError);
    const wrapped = waitingOutDatabaseOutages(activities, ['sendOfferNotification'], waits);
    await expect(attempt().run(wrapped.sendOfferNotification)).resolves.toBe('sent');
    expect(runs()).toBe(4);
  });

  it('fails the attempt as before once its timeout comes near, so the next attempt takes over', async () => {
    const { runs, activities } = activityFailing(1_000, () => outageError);
    // A clock that moves 50 ms at every reading: the attempt starts at 50 and stops waiting at 50 + 300 − 100.
    let clock = 0;
    const wrapped = waitingOutDatabaseOutages(activities, ['sendOfferNotification'], {
      ...waits,
      now: () => (clock += 50),
    });
    await expect(attempt(300).run(wrapped.sendOfferNotification)).rejects.toBe(outageError);
    // Runs at 100 (+ a wait of at most 10), 150 (+ 20), 200 (+ 40); at 250 a wait would end past 250.
    expect(runs()).toBe(4);
  });

  it('does not wait on a failure the database did not cause (a provider’s, a refused value)', async () => {
    const providerDown = new Error('SMTP connection failed (ECONNREFUSED)');
    const { runs, activities } = activityFailing(1, () => providerDown);
    const wrapped = waitingOutDatabaseOutages(activities, ['sendOfferNotification'], waits);
    await expect(attempt().run(wrapped.sendOfferNotification)).rejects.toBe(providerDown);
    expect(runs()).toBe(1);
  });

  it('leaves the activities it is not given as they are', async () => {
    const { runs, activities } = activityFailing(1, () => outageError);
    const wrapped = waitingOutDatabaseOutages(activities, ['sendOfferNotification'], waits);
    await expect(attempt().run(wrapped.settleHold)).rejects.toBe(outageError);
    expect(runs()).toBe(1);
  });

  it('lets only so many attempts of one queue wait at once; the next one fails as before, and waits once one is done', async () => {
    const runs = { first: 0, second: 0, third: 0 };
    let firstWaits!: () => void;
    const firstIsWaiting = new Promise<void>((resolve) => (firstWaits = resolve));
    const wrapped = waitingOutDatabaseOutages(
      {
        sendOfferNotification: (which: string): Promise<string> => {
          const run = (runs[which as keyof typeof runs] += 1);
          if (which === 'first' && run === 1) setImmediate(firstWaits);
          return Promise.reject(outageError);
        },
      },
      ['sendOfferNotification'],
      { ...waits, firstMs: 3_600_000, longestMs: 3_600_000, maxWaiting: 1 },
    );
    const first = attempt(3_600_000);
    const waitingFirst = first.run(wrapped.sendOfferNotification, 'first');
    await firstIsWaiting;
    await expect(attempt(3_600_000).run(wrapped.sendOfferNotification, 'second')).rejects.toBe(outageError);
    expect(runs.second).toBe(1);
    first.cancel();
    await expect(waitingFirst).rejects.toBeInstanceOf(CancelledFailure);

    // The first no longer waits: a third attempt may.
    const third = attempt(3_600_000);
    let thirdWaits = false;
    third.on('heartbeat', () => {
      thirdWaits = true;
      setImmediate(() => third.cancel());
    });
    await expect(third.run(wrapped.sendOfferNotification, 'third')).rejects.toBeInstanceOf(CancelledFailure);
    expect(thirdWaits).toBe(true);
    expect(runs.third).toBe(1);
  });

  it('heartbeats before it waits, so that a cancellation of the attempt reaches it, and stops waiting then', async () => {
    const env = attempt(3_600_000);
    let runs = 0;
    let heartbeats = 0;
    // The server answers a heartbeat with the attempt's cancellation.
    env.on('heartbeat', () => {
      heartbeats += 1;
      setImmediate(() => env.cancel());
    });
    const sendOfferNotification = (): Promise<string> => {
      runs += 1;
      return Promise.reject(outageError);
    };
    const wrapped = waitingOutDatabaseOutages({ sendOfferNotification }, ['sendOfferNotification'], {
      ...waits,
      firstMs: 3_600_000,
      longestMs: 3_600_000,
    });
    await expect(env.run(wrapped.sendOfferNotification)).rejects.toBeInstanceOf(CancelledFailure);
    expect(heartbeats).toBe(1);
    expect(runs).toBe(1);
  });
});
