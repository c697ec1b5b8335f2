import { PrismaPg } from '@prisma/adapter-pg';
import type { PoolConfig } from 'pg';
import { PrismaClient } from '../generated/prisma/client';
import { classifyDatabaseError } from './db-errors';
import type { Logger } from './logger';

export type { PrismaClient };
export { Prisma } from '../generated/prisma/client';

export interface DatabasePoolOptions {
  maxConnections?: number;
  /** Told of each connection the server ended or lost, in use or idle (the process's logger, say). */
  onConnectionLost?: (error: Error) => void;
}

/** A Prisma client on the `pg` driver adapter: no native query engine is needed. */
export function createPrismaClient(databaseUrl: string, options: DatabasePoolOptions = {}): PrismaClient {
  const adapter = new PrismaPg(databasePoolConfig(databaseUrl, options));
  return new PrismaClient({ adapter: keepingSqlStates(adapter) });
}

/**
 * The `pg` pool settings under which every connection listens for its errors for its whole life.
 * node-postgres emits a connection's error as an event when no query is waiting for its answer, as
 * when the server shuts down or ends the backend while the connection is checked out between two
 * queries, and an error event nobody listens to ends the process: a PostgreSQL restart would take the
 * worker or the API down with it. node-postgres marks such a connection unusable, so its next query
 * fails (an outage error, retried like any other) and the pool drops it when it comes back. The
 * listener is added as each connection opens, in every pool the driver adapter makes from these settings.
 */
export function databasePoolConfig(databaseUrl: string, options: DatabasePoolOptions = {}): PoolConfig {
  const onConnectionLost = options.onConnectionLost ?? (() => undefined);
  return {
    connectionString: databaseUrl,
    max: options.maxConnections ?? 10,
    onConnect: (connection) => {
      connection.on('error', onConnectionLost);
    },
  };
}

/**
 * Logs a lost database connection at warn, by its SQLSTATE or socket code and the driver's message
 * (neither carries a query's values): the process carries on, and the queries that needed it fail as in an outage.
 */
export function databaseConnectionLost(logger: Pick<Logger, 'warn'>): (error: Error) => void {
  return (error) =>
    logger.warn(
      { code: (error as { code?: unknown }).code ?? null, reason: error.message },
      'database connection lost',
    );
}

/** Whether a database error is a unique-constraint violation, however it was raised (lib/db-errors.ts). */
export function isUniqueViolation(error: unknown): boolean {
  return classifyDatabaseError(error)?.kind === 'unique';
}

/**
 * The driver-adapter error kinds Prisma Client 6.19 turns into its own errors (its
 * `runtime/client.js` maps each to a P code, or rethrows a `postgres` one as it is). `@prisma/adapter-pg`
 * 7.10 reports some SQLSTATEs under newer kinds (22P02 as `InvalidInputValue`, 23001 as
 * `RestrictViolation`); for those the client throws a bare `Error("Unknown error: [object Object]")`
 * and the SQLSTATE is lost.
 */
const kindsPrismaClientKnows = new Set([
  'AuthenticationFailed',
  'DatabaseNotReachable',
  'DatabaseDoesNotExist',
  'SocketTimeout',
  'DatabaseAlreadyExists',
  'DatabaseAccessDenied',
  'TlsConnectionError',
  'ConnectionClosed',
  'TransactionAlreadyClosed',
  'LengthMismatch',
  'UniqueConstraintViolation',
  'ForeignKeyConstraintViolation',
  'UnsupportedNativeDataType',
  'NullConstraintViolation',
  'ValueOutOfRange',
  'TableDoesNotExist',
  'ColumnNotFound',
  'InvalidIsolationLevel',
  'InconsistentColumnData',
  'MissingFullTextSearchIndex',
  'TransactionWriteConflict',
  'GenericJs',
  'TooManyConnections',
  'postgres',
]);

type Bag = Record<string, unknown>;
const asBag = (value: unknown): Bag | undefined =>
  typeof value === 'object' && value !== null ? (value as Bag) : undefined;

/**
 * Rewrites, in place, a driver-adapter error of a kind the client does not know into the
 * adapter's generic `postgres` kind with the SQLSTATE as its `code`, which the client passes on
 * as it is and lib/db-errors.ts classifies.
 */
function keepSqlState(error: unknown): unknown {
  const adapterError = asBag(error);
  const cause = asBag(adapterError?.cause);
  if (adapterError?.name !== 'DriverAdapterError' || !cause || typeof cause.kind !== 'string') return error;
  if (kindsPrismaClientKnows.has(cause.kind) || typeof cause.originalCode !== 'string') return error;
  adapterError.cause = {
    kind: 'postgres',
    code: cause.originalCode,
    severity: 'ERROR',
    message: typeof cause.originalMessage === 'string' ? cause.originalMessage : '',
    originalCode: cause.originalCode,
    originalMessage: cause.originalMessage,
  };
  return error;
}

/**
 * Wraps the adapter (and the connections and transactions it hands out) so that every error it
 * throws keeps its SQLSTATE on the way through Prisma Client ({@link keepSqlState}). Each method
 * runs on the adapter itself, so its private state is untouched.
 */
function keepingSqlStates<T extends object>(target: T): T {
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property, object);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result: unknown = Reflect.apply(value, object, args);
        if (!(result instanceof Promise)) return result;
        return result.then(
          (resolved: unknown) => {
            // A connection or a transaction: its queries must keep their SQLSTATEs too.
            const bag = asBag(resolved);
            return bag && typeof bag.queryRaw === 'function' ? keepingSqlStates(bag) : resolved;
          },
          (error: unknown) => {
            throw keepSqlState(error);
          },
        );
      };
    },
  });
}
