import type { ErrorRequestHandler, RequestHandler } from 'express';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ZodError } from 'zod';
import type { Logger } from '../lib/logger';

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

/** Maps every error to `{ error: { code, message, details } }`; only unexpected ones are 500. */
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
      res.status(409).json(body(cause?.type ?? 'UPDATE_REJECTED', cause?.message ?? error.message));
      return;
    }
    const httpError = clientHttpError(error);
    if (httpError) {
      const code = (httpError.type && httpErrorCodes[httpError.type]) ?? 'BAD_REQUEST';
      res.status(httpError.status).json(body(code, httpError.message));
      return;
    }
    (req.log ?? logger).error({ err: error }, 'unhandled error');
    res.status(500).json(body('INTERNAL', 'Something went wrong on our side'));
  };
}

export const notFoundRoute: RequestHandler = (req, res) => {
  res.status(404).json(body('ROUTE_NOT_FOUND', `No route for ${req.method} ${req.path}`));
};
