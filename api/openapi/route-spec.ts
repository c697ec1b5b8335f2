import type { z } from 'zod';
import type { Role } from '../auth';

/**
 * What one route accepts and answers, declared beside the route with the very zod schemas its
 * handler parses, so the OpenAPI document (api/openapi/document.ts) is generated from what
 * validates rather than written by hand.
 */
export interface RouteSpec {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** The full Express path, e.g. `/api/v1/exports/:exportId`. */
  path: string;
  /** A short, stable name for the typed client and the docs, e.g. `getExport`. */
  operationId: string;
  summary: string;
  description?: string;
  /** The group in the docs, e.g. `Exports`. */
  tag: string;
  /**
   * Who may call it: the least role a bearer token must hold, `link-token` for routes whose
   * credential is a signed token in the link, `none` for open routes (health, metrics).
   */
  auth: Role | 'link-token' | 'none';
  params?: z.ZodType;
  query?: z.ZodType;
  /** The JSON body, or a form body for the link pages (`bodyType: 'form'`). */
  body?: z.ZodType;
  bodyType?: 'json' | 'form';
  /** Request headers the route reads, e.g. `Idempotency-Key`. */
  headers?: z.ZodType;
  /** By status: what the answer means, and its JSON body's schema (or another content type). */
  responses: Record<number, RouteResponse>;
}

export interface RouteResponse {
  description: string;
  /**
   * The success body's schema. A JSON 4xx or 5xx is always documented as the shared error envelope
   * (`{ error: { code, message, details } }`), so the description is what to say there: the codes.
   */
  schema?: z.ZodType;
  /** Defaults to `application/json`; e.g. `text/html`, `text/csv`, `application/pdf`. */
  contentType?: string;
}
