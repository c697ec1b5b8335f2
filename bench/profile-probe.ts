import { AsyncLocalStorage } from 'node:async_hooks';
import fs from 'node:fs';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type * as TemporalClient from '@temporalio/client';
import type * as Pg from 'pg';

/**
 * Preloaded into the API by `npm run bench:profile` (`node --import tsx --require
 * ./bench/profile-probe.ts api/server.ts`) when HOLDFAST_PROFILE_PROBE_FILE is set: it times each
 * HTTP request's phases without touching the application's code.
 *
 * - the request's own context comes from an AsyncLocalStorage entered where the HTTP server
 *   emits `request`;
 * - every `pg` query made in that context is timed (Prisma's driver adapter runs on `pg`), and
 *   labelled by its statement kind and first table only: never its parameters;
 * - every `WorkflowClient.start` (and signal-with-start) in that context is timed;
 * - the response's `finish` closes the request.
 *
 * The spans are kept in memory (bounded) and written as JSON when the process exits. Times are
 * milliseconds from the request's arrival.
 */

export interface ProbedSpan {
  kind: 'db' | 'temporal';
  /** `select Tenant`, `insert AuditLog`, `start waitlistCascade`… */
  label: string;
  startMs: number;
  endMs: number;
}

export interface ProbedRequest {
  method: string;
  /** The path with IDs and query removed: `/api/v1/slots/:id/release`. */
  route: string;
  status: number;
  arrivedAt: number;
  finishMs: number;
  spans: ProbedSpan[];
}

const MAX_REQUESTS = 20_000;
const MAX_SPANS_PER_REQUEST = 50;
const outputFile = process.env.HOLDFAST_PROFILE_PROBE_FILE;

const routeOf = (url: string | undefined) =>
  (url ?? '/').split(/[?#]/, 1)[0]!.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, ':id');

/** `select Tenant` from `SELECT … FROM "public"."Tenant" WHERE …`: the statement kind and its first table. */
export function statementLabel(text: string): string {
  const kind = /^\s*(\w+)/.exec(text)?.[1]?.toLowerCase() ?? 'query';
  const table = /(?:from|into|update)\s+(?:"\w+"\.)?"(\w+)"/i.exec(text)?.[1];
  return table ? `${kind} ${table}` : kind;
}

function install(file: string): void {
  const requests: ProbedRequest[] = [];
  const current = new AsyncLocalStorage<ProbedRequest & { startedAt: number }>();

  const span = async <T>(kind: ProbedSpan['kind'], label: string, run: () => Promise<T>): Promise<T> => {
    const request = current.getStore();
    if (!request || request.spans.length >= MAX_SPANS_PER_REQUEST) return run();
    const startMs = performance.now() - request.startedAt;
    try {
      return await run();
    } finally {
      request.spans.push({ kind, label, startMs, endMs: performance.now() - request.startedAt });
    }
  };

  const serverPrototype = http.Server.prototype as unknown as Record<string, unknown>;
  const emit = serverPrototype.emit as (this: http.Server, event: string, ...args: unknown[]) => boolean;
  serverPrototype.emit = function probedEmit(this: http.Server, event: string, ...args: unknown[]) {
    if (event !== 'request') return emit.call(this, event, ...args);
    const [req, res] = args as [http.IncomingMessage, http.ServerResponse];
    const request = {
      method: req.method ?? 'GET',
      route: routeOf(req.url),
      status: 0,
      arrivedAt: Date.now(),
      startedAt: performance.now(),
      finishMs: 0,
      spans: [] as ProbedSpan[],
    };
    res.once('finish', () => {
      request.status = res.statusCode;
      request.finishMs = performance.now() - request.startedAt;
      if (requests.length < MAX_REQUESTS) requests.push(request);
    });
    return current.run(request, () => emit.call(this, event, ...args));
  };

  // Loaded lazily from the application's own node_modules, so these are the very modules it uses.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pg = require('pg') as typeof Pg;
  // Prisma's adapter queries through the pool (which checks a client out and calls its query with a
  // callback) and runs transactions on a checked-out client (promise style): time both styles'
  // entry points, never the pool's inner callback call, so that nothing is counted twice.
  for (const target of [pg.Pool.prototype, pg.Client.prototype] as Array<{ query: unknown }>) {
    const query = target.query as (...args: unknown[]) => unknown;
    target.query = function probedQuery(this: unknown, ...args: unknown[]) {
      const [config] = args;
      const text = typeof config === 'string' ? config : ((config as { text?: string } | undefined)?.text ?? '');
      const callbackStyle = typeof args[args.length - 1] === 'function';
      if (callbackStyle || !current.getStore()) return query.apply(this, args);
      return span('db', statementLabel(text), () => query.apply(this, args) as Promise<unknown>);
    };
  }

  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { WorkflowClient } = require('@temporalio/client') as typeof TemporalClient;
  const clientPrototype = WorkflowClient.prototype as unknown as Record<string, unknown>;
  for (const method of ['start', 'signalWithStart'] as const) {
    const original = clientPrototype[method] as (...args: unknown[]) => Promise<unknown>;
    clientPrototype[method] = function probedStart(this: unknown, ...args: unknown[]) {
      const [workflow] = args;
      const type = typeof workflow === 'string' ? workflow : ((workflow as { name?: string }).name ?? 'workflow');
      return span('temporal', `${method} ${type}`, () => original.apply(this, args));
    };
  }

  // Updates go through a handle: time the handle's update calls.
  const getHandle = clientPrototype.getHandle as (...args: unknown[]) => Record<string, unknown>;
  clientPrototype.getHandle = function probedHandle(this: unknown, ...args: unknown[]) {
    const handle = getHandle.apply(this, args);
    const executeUpdate = handle.executeUpdate as (...updateArgs: unknown[]) => Promise<unknown>;
    handle.executeUpdate = (...updateArgs: unknown[]) => {
      const [update] = updateArgs;
      const name = typeof update === 'string' ? update : ((update as { name?: string }).name ?? 'update');
      return span('temporal', `executeUpdate ${name}`, () => executeUpdate.apply(handle, updateArgs));
    };
    return handle;
  };

  process.once('exit', () => {
    fs.writeFileSync(file, JSON.stringify(requests));
  });
}

if (outputFile) install(outputFile);
