import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { classifyDatabaseError, type DatabaseErrorClass } from '../lib/db-errors';
import { FailureType } from '../workflows/errors';

/**
 * What the database refused, in words that never quote the refused value: PostgreSQL's own
 * messages often do (`invalid input syntax for type integer: "…"`), and a failure's message is
 * kept in workflow history and shown in the Web UI.
 */
const problemBySqlState: Record<string, string> = {
  '22001': 'a value is longer than its column allows',
  '22003': 'a number is out of range for its column',
  '22007': 'a date or time has an invalid format',
  '22008': 'a date or time is out of range',
  '22021': 'text contains a character the database cannot store (a NUL or invalid UTF-8)',
  '22P02': 'a value has the wrong format for its column',
  '22P05': 'text contains a character the database cannot store',
  '23502': 'a required value is missing',
  '23001': 'other rows still refer to a row it removes',
  '23503': 'a row it refers to does not exist',
  '23505': 'a row with the same unique key already exists',
  '23514': 'a value breaks a check constraint',
};

const problemByKind: Record<DatabaseErrorClass['kind'], string> = {
  unique: 'a row with the same unique key already exists',
  'foreign-key': 'a row it refers to does not exist',
  'invalid-data': 'a value cannot be stored in its column',
  transient: 'the database is unavailable',
  unknown: 'the database failed',
};

/** Data and integrity errors: the same input fails the same way on every retry. */
const rejectedKinds = new Set<DatabaseErrorClass['kind']>(['unique', 'foreign-key', 'invalid-data']);

/** The running activity's context, or undefined outside one (tests may call activities directly). */
function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/** The running attempt, when called inside an activity. */
function currentAttempt(): number | undefined {
  return currentContext()?.info.attempt;
}

/**
 * The failure an activity should end with for `error`. A data or integrity error (SQLSTATE
 * classes 22 and 23, Prisma's validation errors) becomes a non-retryable `DataRejected` whose
 * message names the problem and its SQLSTATE but not the value, and whose details carry the
 * classification and the attempt. Anything else, including transient database errors (connection,
 * timeout, serialization, deadlock) and the ApplicationFailures activities throw themselves, is
 * returned unchanged, so it keeps its retry behaviour.
 */
export function activityFailureFor(error: unknown): unknown {
  if (error instanceof ApplicationFailure) return error;
  const classified = classifyDatabaseError(error);
  if (!classified || !rejectedKinds.has(classified.kind)) return error;
  const { kind, sqlState, prismaCode, stillReferenced } = classified;
  const problem = stillReferenced
    ? problemBySqlState['23001']!
    : ((sqlState && problemBySqlState[sqlState]) ?? problemByKind[kind]);
  const code = sqlState ? `SQLSTATE ${sqlState}` : prismaCode ? `Prisma ${prismaCode}` : 'Prisma validation';
  const attempt = currentAttempt();
  return ApplicationFailure.create({
    type: FailureType.DataRejected,
    message: `The database refused the data: ${problem} (${code})`,
    nonRetryable: true,
    details: [{ kind, sqlState: sqlState ?? null, prismaCode: prismaCode ?? null, ...(attempt ? { attempt } : {}) }],
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- activities take any arguments
type ActivityFunction = (...args: any[]) => Promise<unknown>;

/**
 * Wraps every activity so that database data errors leave it as non-retryable `DataRejected`
 * failures ({@link activityFailureFor}). Applied once, where the worker's activities are composed,
 * so no activity can retry a refused value forever.
 */
export function rejectingDataErrors<T extends Record<string, ActivityFunction>>(activities: T): T {
  const wrapped: Record<string, ActivityFunction> = {};
  for (const [name, activity] of Object.entries(activities)) {
    wrapped[name] = namedAs(name, async (...args: unknown[]) => {
      try {
        return await activity(...args);
      } catch (error) {
        throw activityFailureFor(error);
      }
    });
  }
  return wrapped as T;
}

/** `wrapper` under the activity's own name, for stack traces. */
function namedAs(name: string, wrapper: ActivityFunction): ActivityFunction {
  // A computed property name gives the function its name.
  return { [name]: (...args: unknown[]) => wrapper(...args) }[name]!;
}

/** How a message waits out a database outage within its attempt (see {@link waitingOutDatabaseOutages}). */
export interface OutageWaits {
  /** The first wait; each next one doubles, up to `longestMs`, each shortened by up to a fifth at random. */
  firstMs: number;
  longestMs: number;
  /** The attempt stops waiting this long before its start-to-close timeout, and fails by itself instead. */
  marginMs: number;
  /**
   * The messages per second a task queue may send (its `WORKER_<KIND>_RATE`), by queue name: the
   * messages that waited run again no faster than that in this process once the database is back.
   * Undefined for a queue without a rate: they run again as their waits end, at most the queue's
   * concurrency at once, as many as its worker would start.
   */
  ratePerSecond: (taskQueue: string) => number | undefined;
  /** The clock the waits are measured on. */
  now: () => number;
}

export const defaultOutageWaits: OutageWaits = {
  firstMs: 1_000,
  longestMs: 5_000,
  marginMs: 5_000,
  ratePerSecond: () => undefined,
  now: Date.now,
};

/**
 * Wraps the activities named `names` so that an attempt that finds the database unavailable waits
 * and runs again, within the attempt, instead of failing. It is for the messages: their retry
 * policy counts attempts against the provider (five, 1 s to 8 s apart, for most), and a database
 * outage of 15 s would otherwise use them all, so that a message fails for good, and an offer's
 * hold is released as undeliverable, over an outage no provider had a part in.
 *
 * Only transient database errors wait, and every attempt that meets one waits: one that failed
 * instead would use up its attempts while the database is down. Each wait heartbeats first, so
 * that a cancellation of the attempt reaches it, and ends the wait. Near the attempt's own timeout
 * (counted from when it started here) it stops waiting and fails as before, and the next attempt
 * waits again. A waiting message holds its worker slot, which costs little while the database is
 * down: the work of the queues that send messages needs the database too, and the messages that
 * find no slot wait in Temporal without using an attempt. Once the database is back, the waiting
 * messages of a queue with a rate run again at that rate, which Temporal's own limit on the queue
 * does not count; a turn past the attempt's time to wait is not taken, and the attempt runs again
 * when that time ends, so pacing never fails an attempt. Running the activity again is safe because
 * every message goes through the notification ledger.
 */
export function waitingOutDatabaseOutages<T extends Record<string, ActivityFunction>>(
  activities: T,
  names: readonly (keyof T & string)[],
  waits: OutageWaits = defaultOutageWaits,
): T {
  /** When the next message that waited may run again, by task queue, for queues with a rate. */
  const nextRunAt = new Map<string, number>();
  const wrapped: Record<string, ActivityFunction> = { ...activities };
  for (const name of names) {
    const activity = activities[name]!;
    wrapped[name] = namedAs(name, async (...args: unknown[]) => {
      const context = currentContext();
      const stopWaitingAt = context
        ? waits.now() + context.info.startToCloseTimeoutMs - waits.marginMs
        : Number.NEGATIVE_INFINITY;
      for (let waitMs = waits.firstMs; ; waitMs = Math.min(waitMs * 2, waits.longestMs)) {
        try {
          return await activity(...args);
        } catch (error) {
          if (!context || classifyDatabaseError(error)?.kind !== 'transient') throw error;
          // Up to a fifth shorter at random, so that waiting messages do not all run again at the same moment.
          const jitteredMs = Math.round(waitMs * (0.8 + Math.random() * 0.2));
          const now = waits.now();
          const { taskQueue } = context.info;
          if (now + jitteredMs > stopWaitingAt) throw error;
          const rate = waits.ratePerSecond(taskQueue);
          // A turn after the wait, `1 / rate` after the turn of the one before it; one past the attempt's
          // time to wait is not taken, and the attempt runs again when that time ends.
          const turn = rate ? Math.max(now + jitteredMs, nextRunAt.get(taskQueue) ?? 0) : now + jitteredMs;
          if (rate && turn <= stopWaitingAt) nextRunAt.set(taskQueue, turn + 1_000 / rate);
          // In steps no longer than the longest wait, each after a heartbeat, so that a cancellation
          // reaches a long turn's wait too.
          for (let remainingMs = Math.min(turn, stopWaitingAt) - now; remainingMs > 0;) {
            const stepMs = Math.min(remainingMs, waits.longestMs);
            context.heartbeat();
            await context.sleep(stepMs);
            remainingMs -= stepMs;
          }
        }
      }
    });
  }
  return wrapped as T;
}
