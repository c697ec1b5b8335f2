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

/** The running attempt, when called inside an activity (tests may call activities directly). */
function currentAttempt(): number | undefined {
  try {
    return Context.current().info.attempt;
  } catch {
    return undefined;
  }
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
    const guarded = {
      // A computed name keeps the activity's own name on the wrapper, for stack traces.
      async [name](...args: unknown[]) {
        try {
          return await activity(...args);
        } catch (error) {
          throw activityFailureFor(error);
        }
      },
    };
    wrapped[name] = guarded[name]!;
  }
  return wrapped as T;
}
