import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client';
import { classifyDatabaseError } from './db-errors';

export type { PrismaClient };
export { Prisma } from '../generated/prisma/client';

/** A Prisma client on the `pg` driver adapter: no native query engine is needed. */
export function createPrismaClient(databaseUrl: string, options: { maxConnections?: number } = {}): PrismaClient {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: options.maxConnections ?? 10 });
  return new PrismaClient({ adapter: keepingSqlStates(adapter) });
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
