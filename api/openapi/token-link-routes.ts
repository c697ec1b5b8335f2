import { z } from 'zod';
import type { RouteSpec } from './route-spec';

export interface TokenLinkRoutesOptions {
  /** The Express path both routes share, e.g. `/api/v1/offers/respond`. */
  path: string;
  tag: string;
  operationIds: { show: string; respond: string };
  summaries: { show: string; respond: string };
  /** The link's query and the answer's body, the schemas the router parses (api/token-links.ts). */
  linkSchema: z.ZodType;
  answerSchema: z.ZodType;
  /** The statuses a recorded answer reports, e.g. `['confirmed', 'declined']`. */
  recordedStatuses: readonly [string, ...string[]];
  /** Who takes the answer and what follows a 202 `pending`, e.g. `workflow took the answer but …`. */
  pendingNote: string;
  /** What a 404 to the answer means. */
  notFound: string;
  /** The 409 codes: the keys of the router's `rejectionMessages`. */
  rejections: readonly string[];
}

const joinCodes = (codes: readonly string[]): string =>
  codes.length <= 1 ? codes.join('') : `${codes.slice(0, -1).join(', ')} or ${codes.at(-1)}`;

/**
 * The two routes `createTokenLinkRouter` (api/token-links.ts) mounts for a link in a message: the
 * page the link opens, which changes nothing, and the answer its button posts (or a client posts
 * as JSON). The same router answers both for every link, so they are described once.
 */
export function tokenLinkRoutes(options: TokenLinkRoutesOptions): RouteSpec[] {
  const { path, tag, operationIds, summaries } = options;
  return [
    {
      method: 'get',
      path,
      operationId: operationIds.show,
      summary: summaries.show,
      description: 'Changes nothing (mail scanners prefetch links). Every answer, errors included, is a page.',
      tag,
      auth: 'link-token',
      query: options.linkSchema,
      responses: {
        200: { description: 'The offer page', contentType: 'text/html' },
        400: { description: 'The link is incomplete or not valid (a page)', contentType: 'text/html' },
        404: { description: 'The offer no longer exists (a page)', contentType: 'text/html' },
        409: { description: 'The offer is closed (a page)', contentType: 'text/html' },
      },
    },
    {
      method: 'post',
      path,
      operationId: operationIds.respond,
      summary: summaries.respond,
      description:
        'JSON is answered in JSON; a form post from the offer page is answered with a page. 202 `pending`: the ' +
        options.pendingNote,
      tag,
      auth: 'link-token',
      body: options.answerSchema,
      bodyType: 'form',
      responses: {
        200: { description: 'Recorded', schema: z.object({ status: z.enum(options.recordedStatuses) }) },
        202: { description: 'Taken, still being recorded', schema: z.object({ status: z.literal('pending') }) },
        400: { description: 'VALIDATION_FAILED, or INVALID_TOKEN for a forged link' },
        404: { description: options.notFound },
        409: { description: joinCodes(options.rejections) },
      },
    },
  ];
}
