/**
 * What a database failure means for the caller, whatever layer threw it: Prisma's client errors,
 * the `@prisma/adapter-pg` driver-adapter error (its `cause` carries the mapped kind and the
 * SQLSTATE), or a raw `pg` / socket error. The API turns the kind into an HTTP status, and
 * activities into "retry" or "give up".
 */

export type DatabaseErrorKind = 'unique' | 'foreign-key' | 'invalid-data' | 'transient' | 'unknown';

export interface DatabaseErrorClass {
  kind: DatabaseErrorKind;
  /** The PostgreSQL SQLSTATE, when the server answered. */
  sqlState?: string;
  /** Prisma's error code (`P2002`, …), when Prisma raised one. */
  prismaCode?: string;
  /**
   * For `foreign-key`: true when the row being deleted or re-keyed is still referenced (a conflict
   * with other rows), false or absent when the row referred to does not exist.
   */
  stillReferenced?: boolean;
}

const invalidDataPrismaCodes = new Set([
  'P2000', // value too long for the column
  'P2005', // stored value invalid for the field type
  'P2006', // provided value not valid for the field
  'P2007', // data validation error
  'P2009', // query validation failed
  'P2011', // null constraint violation
  'P2012', // missing required value
  'P2019', // input error
  'P2020', // value out of range for the type
  'P2023', // inconsistent column data
  'P2033', // number does not fit in 64 bits
]);

const transientPrismaCodes = new Set([
  'P1001', // database not reachable
  'P1002', // database server timed out
  'P1008', // operation timed out
  'P1017', // server closed the connection
  'P2024', // timed out fetching a connection from the pool
  'P2028', // transaction API error (expired or closed transaction)
  'P2034', // write conflict or deadlock: retry the transaction
  'P2037', // too many database connections
]);

/** Node socket and driver failures that mean "the database was not there this time". */
const transientNodeCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** Kinds that `@prisma/adapter-pg` maps a driver failure to, in its error's `cause`. */
const adapterKinds: Record<string, DatabaseErrorKind> = {
  UniqueConstraintViolation: 'unique',
  ForeignKeyConstraintViolation: 'foreign-key',
  RestrictViolation: 'foreign-key',
  LengthMismatch: 'invalid-data',
  ValueOutOfRange: 'invalid-data',
  InvalidInputValue: 'invalid-data',
  NullConstraintViolation: 'invalid-data',
  InconsistentColumnData: 'invalid-data',
  DatabaseNotReachable: 'transient',
  ConnectionClosed: 'transient',
  SocketTimeout: 'transient',
  TransactionWriteConflict: 'transient',
  TooManyConnections: 'transient',
};

const prismaErrorNames = new Set([
  'PrismaClientKnownRequestError',
  'PrismaClientUnknownRequestError',
  'PrismaClientValidationError',
  'PrismaClientInitializationError',
  'PrismaClientRustPanicError',
  'DriverAdapterError',
]);

function kindOfSqlState(sqlState: string): DatabaseErrorKind {
  if (sqlState === '23505') return 'unique';
  if (sqlState === '23503' || sqlState === '23001') return 'foreign-key';
  // Class 22 (data exception: NUL in text, out-of-range number or date, bad JSON) and the rest of
  // class 23 (not null, check, exclusion) are the request's fault: retrying cannot help.
  if (sqlState.startsWith('22') || sqlState.startsWith('23')) return 'invalid-data';
  if (
    sqlState.startsWith('08') || // connection exception
    sqlState.startsWith('53') || // insufficient resources (too many connections, out of memory)
    sqlState === '40001' || // serialization failure
    sqlState === '40P01' || // deadlock
    sqlState === '57014' || // statement timeout / query cancelled
    sqlState === '57P01' || // admin shutdown
    sqlState === '57P02' || // crash shutdown
    sqlState === '57P03' || // cannot connect now (starting up)
    sqlState === '55P03' // lock not available (lock_timeout)
  ) {
    return 'transient';
  }
  return 'unknown';
}

const isSqlState = (value: unknown): value is string => typeof value === 'string' && /^[0-9A-Z]{5}$/.test(value);
const isPrismaCode = (value: unknown): value is string => typeof value === 'string' && /^P\d{4}$/.test(value);

type Bag = Record<string, unknown>;
const asBag = (value: unknown): Bag | undefined =>
  typeof value === 'object' && value !== null ? (value as Bag) : undefined;

/**
 * Classifies an error thrown by a database call. What Prisma 6.19 on `@prisma/adapter-pg` really
 * throws (test/unit/db-errors.test.ts provokes each against PostgreSQL):
 * - a SQLSTATE the adapter maps (23505, 23503, 22001, 22003, 40001, …) comes as
 *   PrismaClientKnownRequestError with a P code and `meta.driverAdapterError.cause.originalCode`;
 * - one it does not map (22021 NUL in text, 22P05 NUL in jsonb, 22008 date out of range, 57014,
 *   55P03) comes as a bare DriverAdapterError whose `cause` is `{ kind: 'postgres', code }`;
 * - a serialization failure inside an interactive transaction comes as a bare DriverAdapterError
 *   with `cause.kind` TransactionWriteConflict;
 * - pool and socket failures come as P1001 or as pg's plain Errors;
 * - one the adapter (7.10) maps to a kind Prisma Client 6.19 does not know (23001 RESTRICT on
 *   delete, 22P02 bad input syntax from a model query) would come as a plain "Unknown error" with
 *   no code at all; the adapter wrapper in lib/db.ts turns it into the generic `postgres` kind, so
 *   it comes as a bare DriverAdapterError with its SQLSTATE, like the ones above (raw queries keep
 *   it anyway, as P2010).
 *
 * P2025 (a record the query needed was not found) stays `unknown` with its `prismaCode`: whether
 * that is a 404 or a bug depends on the caller. Returns `undefined` when the error did not come
 * from the database layer at all (a bug, a Temporal error, an `AppError`), so callers can leave it
 * to their own handling.
 */
export function classifyDatabaseError(error: unknown): DatabaseErrorClass | undefined {
  const found: Found = { fromDatabase: false, connectionLost: false, refusedByPrisma: false };

  // Walk the error, its `cause` chain and Prisma's `meta.driverAdapterError`, breadth-first and bounded.
  const queue: unknown[] = [error];
  const seen = new Set<unknown>();
  while (queue.length > 0 && seen.size < 16) {
    const current = asBag(queue.shift());
    if (!current || seen.has(current)) continue;
    seen.add(current);
    inspect(current, found);
    queue.push(current.cause, asBag(current.meta)?.driverAdapterError);
  }

  if (!found.fromDatabase) return undefined;
  const { sqlState, prismaCode } = found;
  const kind = kindOf(found);
  return {
    kind,
    ...(sqlState ? { sqlState } : {}),
    ...(prismaCode ? { prismaCode } : {}),
    ...(kind === 'foreign-key' && found.stillReferenced ? { stillReferenced: true } : {}),
  };
}

interface Found {
  fromDatabase: boolean;
  prismaCode?: string;
  sqlState?: string;
  adapterKind?: DatabaseErrorKind;
  connectionLost: boolean;
  refusedByPrisma: boolean;
  stillReferenced?: boolean;
}

function inspect(current: Bag, found: Found): void {
  const name = typeof current.name === 'string' ? current.name : undefined;
  // Prisma stamps `clientVersion` on everything it rethrows, pg-pool's plain Errors included.
  const viaPrisma = (name !== undefined && prismaErrorNames.has(name)) || 'clientVersion' in current;
  if (viaPrisma) found.fromDatabase = true;
  if (name === 'PrismaClientValidationError') found.refusedByPrisma = true;

  const { code, originalCode, originalMessage, kind, message } = current;
  // PostgreSQL words 23503 by what was attempted: "insert or update on table … violates foreign key
  // constraint" (the referenced row is missing) or "update or delete on table …" (it is still referenced).
  for (const text of [originalMessage, message]) {
    if (typeof text === 'string' && /^update or delete on table/.test(text)) found.stillReferenced = true;
  }
  if (originalCode === '23001' || (code === '23001' && typeof current.severity === 'string')) {
    found.stillReferenced = true;
  }
  if (isPrismaCode(code)) {
    found.prismaCode ??= code;
    found.fromDatabase = true;
  } else if (isSqlState(code) && typeof current.severity === 'string') {
    // A raw `pg` DatabaseError, or the adapter's `{ kind: 'postgres', code, severity }`.
    found.sqlState ??= code;
    found.fromDatabase = true;
  } else if (viaPrisma && typeof code === 'string' && transientNodeCodes.has(code)) {
    found.connectionLost = true;
  }
  if (isSqlState(originalCode)) {
    found.sqlState ??= originalCode;
    found.fromDatabase = true;
  }
  if (typeof kind === 'string' && kind in adapterKinds) {
    found.adapterKind ??= adapterKinds[kind];
    found.fromDatabase = true;
  }
  if (viaPrisma && typeof message === 'string') {
    // pg-pool's plain Errors: no free connection in time, or a connection that broke under a query.
    if (
      /timeout exceeded when trying to connect|Connection terminated|connection error and is not queryable/i.test(
        message,
      )
    ) {
      found.connectionLost = true;
    }
    // Prisma refuses, before the database sees it, text with an unpaired surrogate ("JSON Error:
    // lone leading surrogate in hex escape") and dates outside years 0..9999 ("Could not convert
    // argument value"), as a PrismaClientUnknownRequestError without a code.
    if (name === 'PrismaClientUnknownRequestError' && /JSON Error|Could not convert argument value/.test(message)) {
      found.refusedByPrisma = true;
    }
  }
}

function kindOf(found: Found): DatabaseErrorKind {
  const { sqlState, prismaCode, adapterKind } = found;
  const bySqlState = sqlState ? kindOfSqlState(sqlState) : 'unknown';
  if (bySqlState !== 'unknown') return bySqlState;
  if (adapterKind) return adapterKind;
  if (prismaCode === 'P2002') return 'unique';
  if (prismaCode === 'P2003') return 'foreign-key';
  if (prismaCode && invalidDataPrismaCodes.has(prismaCode)) return 'invalid-data';
  if ((prismaCode && transientPrismaCodes.has(prismaCode)) || found.connectionLost) return 'transient';
  if (found.refusedByPrisma) return 'invalid-data';
  return 'unknown';
}
