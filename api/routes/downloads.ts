import type { RouteSpec } from '../openapi/route-spec';
import { Router } from 'express';
import { z } from 'zod';
import { noQuery } from '../schemas';
import { fileOfDownloadLink, sendStoredFile, type PublicDownloadDeps } from '../services/downloads';
import { parse } from '../validation';

/** A download token: `d1.<payload>.<signature>`, base64url; anything else is refused before any lookup. */
const downloadParams = z.object({
  token: z.string().regex(/^[A-Za-z0-9_-]{1,8}\.[A-Za-z0-9_-]{1,1000}\.[A-Za-z0-9_-]{1,100}$/),
});

/**
 * The public download of a report's or an export's file by a signed, short-lived link (the email's
 * link, or one from `POST /exports/:id/link`). No bearer token: the link is the credential, so
 * it is rate-limited per IP like the other token endpoints, and a forged or malformed link is a
 * 404 that reveals nothing, an expired one a 410.
 */
export function createDownloadsRouter(deps: PublicDownloadDeps): Router {
  const router = Router();

  router.get('/downloads/:token', async (req, res) => {
    parse(noQuery, req.query);
    const params = downloadParams.safeParse(req.params);
    // A malformed token is answered like a forged one: 404, nothing looked up.
    const file = await fileOfDownloadLink(deps, params.success ? params.data.token : '');
    await sendStoredFile(res, deps.files, file);
  });

  return router;
}

export const downloadsRoutes: RouteSpec[] = [
  {
    method: 'get',
    path: '/api/v1/downloads/:token',
    operationId: 'downloadByLink',
    summary: "A report's or an export's file, by signed short-lived link",
    description: 'A forged or malformed link is a 404 that reveals nothing; an expired one is a 410.',
    tag: 'Files',
    auth: 'link-token',
    params: downloadParams,
    query: noQuery,
    responses: {
      200: {
        description: 'The file (CSV, JSON or PDF, with Content-Disposition)',
        contentType: 'application/octet-stream',
      },
      409: { description: 'The file is not ready yet (EXPORT_NOT_READY, REPORT_NOT_READY)' },
      410: { description: 'DOWNLOAD_LINK_EXPIRED, EXPORT_EXPIRED / REPORT_EXPIRED, or FILE_GONE' },
    },
  },
];
