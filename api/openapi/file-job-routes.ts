import { z } from 'zod';
import { noBody, noQuery } from '../schemas';
import { idempotentStartRoute } from './common-responses';
import type { RouteSpec } from './route-spec';

/** The answer of `POST …/:id/link`: a signed, short-lived download link (api/services/file-jobs.ts). */
const fileLinkAnswer = z.object({ url: z.string(), expiresAt: z.iso.datetime() });

export interface FileJobRoutesOptions {
  /** The job's name as the paths and operation IDs spell it: `export` → `/api/v1/exports/:exportId`, `getExport`. */
  noun: 'export' | 'report';
  tag: string;
  /** The flow a tenant pauses to stop new jobs (domain/flow-catalog.ts). */
  flow: string;
  /** The `:<noun>Id` parameter's schema, as the handlers parse it. */
  params: z.ZodType;
  createBody: z.ZodType;
  listQuery: z.ZodType;
  summaries: { request: string; cancel: string };
  /** The file's formats, for the download's description, e.g. `CSV or NDJSON`. */
  formats: string;
  /** The 422 codes of a request, IDEMPOTENCY_KEY_REUSED among them. */
  requestRefusals: string;
}

/**
 * The six routes of a file job (exports, reports): request one in the background, list them, read
 * one, download its file, cancel it, and ask for a signed link. They share their services
 * (api/services/file-jobs.ts) and so their answers; only the nouns, the schemas and the request's
 * own refusals differ.
 */
export function fileJobRoutes(options: FileJobRoutesOptions): RouteSpec[] {
  const { noun, tag, flow, params, createBody, listQuery, summaries, formats, requestRefusals } = options;
  const Noun = noun[0]!.toUpperCase() + noun.slice(1);
  const CODE = noun.toUpperCase();
  const collection = `/api/v1/${noun}s`;
  const one = `${collection}/:${noun}Id`;
  return [
    idempotentStartRoute({
      path: collection,
      operationId: `request${Noun}`,
      summary: summaries.request,
      tag,
      noun,
      body: createBody,
      accepted: 'Requested',
      unprocessable: requestRefusals,
      flow,
    }),
    {
      method: 'get',
      path: collection,
      operationId: `list${Noun}s`,
      summary: `The tenant's ${noun}s`,
      tag,
      auth: 'member',
      query: listQuery,
      responses: { 200: { description: `A page of ${noun}s` } },
    },
    {
      method: 'get',
      path: one,
      operationId: `get${Noun}`,
      summary: `One ${noun} and its progress`,
      tag,
      auth: 'member',
      params,
      query: noQuery,
      responses: { 200: { description: `The ${noun}` } },
    },
    {
      method: 'get',
      path: `${one}/download`,
      operationId: `download${Noun}`,
      summary: `The ${noun}’s file`,
      tag,
      auth: 'member',
      params,
      query: noQuery,
      responses: {
        200: { description: `The file (${formats})`, contentType: 'application/octet-stream' },
        409: { description: `${CODE}_NOT_READY` },
        410: { description: `${CODE}_EXPIRED or FILE_GONE` },
      },
    },
    {
      method: 'post',
      path: `${one}/cancel`,
      operationId: `cancel${Noun}`,
      summary: summaries.cancel,
      tag,
      auth: 'operator',
      params,
      query: noQuery,
      body: noBody,
      responses: {
        200: { description: 'Already cancelled (cancelRequested: false)' },
        202: { description: 'Cancellation requested (cancelRequested: true)' },
        409: { description: `${CODE}_FINISHED: completed, failed or expired` },
      },
    },
    {
      method: 'post',
      path: `${one}/link`,
      operationId: `create${Noun}Link`,
      summary: `A signed, short-lived download link to the ${noun}’s file`,
      tag,
      auth: 'member',
      params,
      query: noQuery,
      body: noBody,
      responses: {
        201: { description: 'The link', schema: fileLinkAnswer },
        409: { description: `${CODE}_NOT_READY` },
        410: { description: `${CODE}_EXPIRED` },
      },
    },
  ];
}
