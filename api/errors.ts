import type { ErrorRequestHandler, RequestHandler } from 'express';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ZodError } from 'zod';
import { classifyDatabaseError, type DatabaseErrorClass } from '../lib/db-errors';
import type { Logger } from '../lib/logger';
import { FlowRejection } from '../workflows/errors';

/** An error whose HTTP answer is known where it is thrown. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const notFound = (what: string, details?: unknown) =>
  new AppError(404, 'NOT_FOUND', `${what} not found`, details);
export const conflict = (code: string, message: string, details?: unknown) => new AppError(409, code, message, details);

interface ErrorBody {
  error: { code: string; message: string; details: unknown };
}

const body = (code: string, message: string, details: unknown = null): ErrorBody => ({
  error: { code, message, details },
});

/** Body-parser and other http-errors style failures carry their own 4xx status. */
function clientHttpError(error: unknown): { status: number; type?: string; message: string } | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { status, statusCode, type, message } = error as {
    status?: unknown;
    statusCode?: unknown;
    type?: unknown;
    message?: unknown;
  };
  const code = typeof status === 'number' ? status : typeof statusCode === 'number' ? statusCode : undefined;
  if (code === undefined || code < 400 || code > 499) return undefined;
  return {
    status: code,
    type: typeof type === 'string' ? type : undefined,
    message: typeof message === 'string' ? message : 'Bad request',
  };
}

const httpErrorCodes: Record<string, string> = {
  'entity.parse.failed': 'MALFORMED_JSON',
  'entity.too.large': 'PAYLOAD_TOO_LARGE',
  'encoding.unsupported': 'UNSUPPORTED_ENCODING',
  'charset.unsupported': 'UNSUPPORTED_CHARSET',
};

/** Update rejections that mean the request itself was bad, not that the flow's state forbids it. */
const badInputRejections = new Set<string>([FlowRejection.InvalidInput, FlowRejection.DataRejected]);

/**
 * The code an Update rejection is answered with. Flows' own rejection codes are already
 * UPPER_SNAKE; an activity's failure type (PascalCase, e.g. `VendorUnavailable`) reaches an Update
 * when the step it waited for failed for good, and is spelled the same way here, so a client sees
 * one casing whichever layer refused.
 */
export function httpCodeOf(type: string): string {
  if (/^[A-Z0-9_]+$/.test(type)) return type;
  return type.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** Seconds a client should wait before retrying when the database is unavailable. */
const DATABASE_RETRY_AFTER_SECONDS = 5;

/**
 * The HTTP answer to a database error, or undefined for one that is still unexpected. Messages
 * never quote the database's own text: it can contain the refused value.
 */
function databaseAnswer({ kind, stillReferenced, prismaCode }: DatabaseErrorClass) {
  switch (kind) {
    case 'unique':
      return { status: 409, code: 'ALREADY_EXISTS', message: 'A record with the same unique key already exists' };
    case 'foreign-key':
      return stillReferenced
        ? { status: 409, code: 'STILL_REFERENCED', message: 'Other records still refer to this one' }
        : { status: 404, code: 'NOT_FOUND', message: 'A record this request refers to does not exist' };
    case 'invalid-data':
      return { status: 400, code: 'INVALID_DATA', message: 'A value in the request cannot be stored' };
    case 'transient':
      return {
        status: 503,
        code: 'SERVICE_UNAVAILABLE',
        message: 'The database is unavailable; retry shortly',
      };
    case 'unknown':
      // P2025: an update or delete found no row to act on.
      return prismaCode === 'P2025'
        ? { status: 404, code: 'NOT_FOUND', message: 'The record was not found' }
        : undefined;
  }
}

/**
 * Maps every error to `{ error: { code, message, details } }`. Database errors are mapped by what
 * they mean (lib/db-errors.ts), so none becomes a 500; what is still unexpected is a 500 whose
 * details carry only the request ID, logged once with the error.
 */
export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    if (error instanceof AppError) {
      res.status(error.status).json(body(error.code, error.message, error.details));
      return;
    }
    if (error instanceof ZodError) {
      const details = error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
      res.status(400).json(body('VALIDATION_FAILED', 'The request is not valid', details));
      return;
    }
    if (error instanceof WorkflowNotFoundError) {
      res.status(404).json(body('NOT_FOUND', 'No such workflow'));
      return;
    }
    if (error instanceof WorkflowExecutionAlreadyStartedError) {
      res.status(409).json(body('ALREADY_STARTED', 'That flow has already run', { workflowId: error.workflowId }));
      return;
    }
    if (error instanceof WorkflowUpdateFailedError) {
      const cause = error.cause as { type?: string; message?: string } | undefined;
      const status = cause?.type && badInputRejections.has(cause.type) ? 400 : 409;
      const code = cause?.type ? httpCodeOf(cause.type) : 'UPDATE_REJECTED';
      res.status(status).json(body(code, cause?.message ?? error.message));
      return;
    }
    const database = classifyDatabaseError(error);
    const answer = database && databaseAnswer(database);
    if (database && answer) {
      const { kind, sqlState, prismaCode } = database;
      // Only the classification is logged: the error's message can quote the refused value.
      const log = req.log ?? logger;
      if (kind === 'transient') {
        log.warn({ database: { kind, sqlState, prismaCode } }, 'database unavailable');
        res.set('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
      } else {
        log.info({ database: { kind, sqlState, prismaCode } }, 'database refused the request');
      }
      res.status(answer.status).json(body(answer.code, answer.message));
      return;
    }
    const httpError = clientHttpError(error);
    if (httpError) {
      const code = (httpError.type && httpErrorCodes[httpError.type]) ?? 'BAD_REQUEST';
      res.status(httpError.status).json(body(code, httpError.message));
      return;
    }
    (req.log ?? logger).error({ err: error }, 'unhandled error');
    res.status(500).json(body('INTERNAL', 'Something went wrong on our side', { requestId: req.id ?? null }));
  };
}

export const notFoundRoute: RequestHandler = (req, res) => {
  res.status(404).json(body('ROUTE_NOT_FOUND', `No route for ${req.method} ${req.path}`));
};
