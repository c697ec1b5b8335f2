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

const waits: OutageWaits = {
  firstMs: 10,
  longestMs: 40,
  marginMs: 100,
  ratePerSecond: () => undefined,
  now: Date.now,
};

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

  /**
   * `count` attempts of one queue, started together, whose first run meets the outage and whose next
   * runs find the database back. Resolves with each attempt's outcome and the order the reruns came in.
   */
  async function outageAcross(count: number, options: OutageWaits) {
    const reruns: number[] = [];
    const runsOf = new Map<number, number>();
    const wrapped = waitingOutDatabaseOutages(
      {
        sendOfferNotification: (which: number): Promise<string> => {
          const run = (runsOf.get(which) ?? 0) + 1;
          runsOf.set(which, run);
          if (run === 1) return Promise.reject(outageError);
          reruns.push(which);
          return Promise.resolve('sent');
        },
      },
      ['sendOfferNotification'],
      options,
    );
    const outcomes = await Promise.allSettled(
      Array.from({ length: count }, (_, which) => attempt(1_000).run(wrapped.sendOfferNotification, which)),
    );
    return { outcomes: outcomes.map((outcome) => outcome.status), reruns };
  }

  it('lets every attempt that meets the outage wait, however many there are at once', async () => {
    const { outcomes, reruns } = await outageAcross(60, { ...waits, marginMs: 0 });

    expect(outcomes).toEqual(Array(60).fill('fulfilled'));
    expect(reruns).toHaveLength(60);
  });

  it("runs the messages that waited again at their queue's rate, and one whose turn would come after its time to wait at that time", async () => {
    // A clock that stands still: each attempt's turn is 1 / rate after the one before it, from the first
    // wait (at most 10 ms); the attempts stop waiting at 1,000 ms.
    const { outcomes, reruns } = await outageAcross(12, {
      ...waits,
      marginMs: 0,
      ratePerSecond: (taskQueue) => (taskQueue === 'test' ? 10 : undefined),
      now: () => 0,
    });

    // Turns 100 ms apart: ten fit in the second, in the order they came; the last two run at its end.
    expect(outcomes).toEqual(Array(12).fill('fulfilled'));
    expect(reruns.slice(0, 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...reruns.slice(10)].sort()).toEqual([10, 11]);
  });

  it('keeps every message waiting while the database stays down, however long the line of turns', async () => {
    // Five messages on a queue of one per second, each with 300 ms to wait: their turns would reach
    // past it, yet none fails before its time is up, and each runs again until then.
    const runsOf = new Map<number, number>();
    const wrapped = waitingOutDatabaseOutages(
      {
        sendOfferNotification: (which: number): Promise<string> => {
          runsOf.set(which, (runsOf.get(which) ?? 0) + 1);
          return Promise.reject(outageError);
        },
      },
      ['sendOfferNotification'],
      { ...waits, marginMs: 0, ratePerSecond: () => 1 },
    );
    const outcomes = await Promise.allSettled(
      [0, 1, 2, 3, 4].map((which) => attempt(300).run(wrapped.sendOfferNotification, which)),
    );

    expect(outcomes.map((outcome) => outcome.status)).toEqual(Array(5).fill('rejected'));
    // Each ran at least twice: once before its first wait, then at its turn or at the end of its time
    // (one whose turn lies past its time still waits, rather than failing after one run).
    expect([...runsOf.values()].every((runs) => runs >= 2)).toBe(true);
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
