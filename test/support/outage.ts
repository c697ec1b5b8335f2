// eslint-disable-next-line @typescript-eslint/no-explicit-any -- activities take any arguments
type ActivityFunction = (...args: any[]) => Promise<unknown>;

/** A database outage as the named activities meet it, for workflow tests and the history recorders. */
export interface Outage<T> {
  /** The activities, with the named ones failing while the outage lasts. */
  activities: T;
  /** Calls to the named activities so far, failed ones included. */
  readonly calls: number;
  /** Resolves once the named activities have been called `count` times. */
  called(count: number): Promise<void>;
  /** Ends the outage: the next attempt of each named activity runs as usual. */
  end(): void;
}

/**
 * `activities` with `names` failing as a database outage makes them fail: a plain (retryable)
 * error on every attempt, until {@link Outage.end}. The workflow's retry policy keeps retrying
 * them, as it does a real connection refused.
 */
export function duringOutage<T extends Record<string, ActivityFunction>>(
  activities: T,
  names: ReadonlyArray<keyof T>,
): Outage<T> {
  let down = true;
  let calls = 0;
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const failing: Record<string, ActivityFunction> = { ...activities };
  for (const name of names) {
    const activity = activities[name]!;
    failing[name as string] = async (...args: unknown[]) => {
      calls += 1;
      for (const waiter of waiters.filter((w) => w.count <= calls)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
      if (down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432 (a simulated database outage)');
      return activity(...args);
    };
  }
  return {
    activities: failing as T,
    get calls() {
      return calls;
    },
    called: (count) =>
      count <= calls ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve })),
    end: () => {
      down = false;
    },
  };
}

/** Past the longest gap between two attempts of a database write: the first attempt after an outage has run. */
export const NEXT_RETRY = '61 seconds';

type Sleep = (duration: string) => Promise<void>;

/**
 * Builds recording scenarios whose `failing` activities meet an outage from the start; each
 * scenario's `drive` ends it with `outage.end()`. Bound once per flow to its handle, fake and
 * activities.
 */
export function outageScenarios<Handle, Fake, Activities extends Record<string, ActivityFunction>>(
  activitiesOf: (fake: Fake) => Activities,
) {
  return (scenario: {
    name: string;
    arrange: (fake: Fake) => void;
    failing: Array<keyof Activities>;
    drive: (handle: Handle, fake: Fake, sleep: Sleep, outage: Outage<Activities>) => Promise<void>;
  }) => {
    let outage: Outage<Activities> | undefined;
    return {
      name: scenario.name,
      arrange: scenario.arrange,
      activities: (fake: Fake) => (outage = duringOutage(activitiesOf(fake), scenario.failing)).activities,
      drive: (handle: Handle, fake: Fake, sleep: Sleep) => scenario.drive(handle, fake, sleep, outage!),
    };
  };
}
