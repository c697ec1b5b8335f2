import { fileJobRoutes } from '../openapi/file-job-routes';
import type { RouteSpec } from '../openapi/route-spec';
import { Router } from 'express';
import { z } from 'zod';
import { exportEntities, exportFormats, exportStatuses } from '../../domain/exports';
import { FileJobStatus } from '../../generated/prisma/enums';
import type { FileStore } from '../../lib/file-store';
import { principalOf, requireRole } from '../auth';
import { email, isoDateTime, noBody, noQuery, pagination, requiredIdempotencyKey, uuid } from '../schemas';
import { exportFile, sendStoredFile } from '../services/downloads';
import { cancelExport, exportLink, getExport, listExports, readyExport, requestExport } from '../services/exports';
import type { DownloadLinkSettings } from '../services/file-jobs';
import type { WorkflowRouterDeps } from '../router-deps';
import { parse } from '../validation';

export interface ExportsRouterDeps extends WorkflowRouterDeps {
  /** Where the files are read from (config.files.store). */
  files: FileStore;
  downloadLinks: DownloadLinkSettings;
}

const exportParams = z.object({ exportId: uuid() });

const allStatuses = [...new Set(Object.values(exportStatuses).flat())];

/** `from`/`to` on when rows were created, and a status for the entities that have one. */
const exportFiltersSchema = z
  .object({
    from: isoDateTime().optional(),
    to: isoDateTime().optional(),
    status: z.enum(allStatuses as [string, ...string[]]).optional(),
  })
  .strict()
  .refine((filters) => !filters.from || !filters.to || new Date(filters.from) < new Date(filters.to), {
    message: 'expected from before to',
    path: ['to'],
  });

const createBody = z
  .object({
    entities: z.array(z.enum(exportEntities)).min(1).max(exportEntities.length),
    format: z.enum(exportFormats),
    filters: exportFiltersSchema.optional(),
    notifyEmail: email().optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (new Set(body.entities).size !== body.entities.length) {
      ctx.addIssue({ code: 'custom', path: ['entities'], message: 'expected each entity once' });
    }
    const status = body.filters?.status;
    if (status && !body.entities.some((entity) => exportStatuses[entity]?.includes(status))) {
      ctx.addIssue({
        code: 'custom',
        path: ['filters', 'status'],
        message: 'expected a status of at least one of the chosen entities',
      });
    }
  });

const listQuery = z
  .object({
    status: z.enum(FileJobStatus).optional(),
    ...pagination(),
  })
  .strict();

/**
 * Exports of the caller's tenant's data: operators and above request and cancel them; any role
 * reads them, downloads their files and asks for signed links. Every route answers 404 for
 * another tenant's export.
 */
export function createExportsRouter(deps: ExportsRouterDeps): Router {
  const router = Router();
  const { prisma, files, downloadLinks } = deps;

  router.post('/exports', requireRole('operator'), async (req, res) => {
    parse(noQuery, req.query);
    const idempotencyKey = requiredIdempotencyKey(req.get('Idempotency-Key'));
    const { filters, notifyEmail, ...body } = parse(createBody, req.body);
    const { tenantId, subject: actor } = principalOf(req);
    const { exportId, workflowId, created } = await requestExport(
      deps,
      { tenantId, actor, idempotencyKey },
      { ...body, filters: filters ?? {}, ...(notifyEmail ? { notifyEmail } : {}) },
    );
    res
      .status(202)
      .location(`/api/v1/exports/${exportId}`)
      .set(created ? {} : { 'Idempotent-Replayed': 'true' })
      .json({ exportId, workflowId });
  });

  router.get('/exports', async (req, res) => {
    res.json(await listExports(prisma, principalOf(req).tenantId, parse(listQuery, req.query)));
  });

  router.get('/exports/:exportId', async (req, res) => {
    const { exportId } = parse(exportParams, req.params);
    parse(noQuery, req.query);
    res.json(await getExport(deps, principalOf(req).tenantId, exportId));
  });

  router.get('/exports/:exportId/download', async (req, res) => {
    const { exportId } = parse(exportParams, req.params);
    parse(noQuery, req.query);
    const row = await readyExport(prisma, principalOf(req).tenantId, exportId);
    await sendStoredFile(res, files, exportFile(row));
  });

  router.post('/exports/:exportId/cancel', requireRole('operator'), async (req, res) => {
    const { exportId } = parse(exportParams, req.params);
    parse(noQuery, req.query);
    parse(noBody, req.body);
    const answer = await cancelExport(deps, principalOf(req).tenantId, exportId);
    res.status(answer.cancelRequested ? 202 : 200).json(answer);
  });

  router.post('/exports/:exportId/link', async (req, res) => {
    const { exportId } = parse(exportParams, req.params);
    parse(noQuery, req.query);
    parse(noBody, req.body);
    res.status(201).json(await exportLink(prisma, downloadLinks, principalOf(req).tenantId, exportId));
  });

  return router;
}

export const exportsRoutes: RouteSpec[] = fileJobRoutes({
  noun: 'export',
  tag: 'Exports',
  flow: 'exports',
  params: exportParams,
  createBody,
  listQuery,
  summaries: {
    request: 'Export the tenant’s data (CSV or NDJSON), in the background',
    cancel: 'Cancel an export still running',
  },
  formats: 'CSV or NDJSON',
  requestRefusals: 'IDEMPOTENCY_KEY_REUSED with another body',
});
