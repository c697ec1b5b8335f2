import { fileJobRoutes } from '../openapi/file-job-routes';
import type { RouteSpec } from '../openapi/route-spec';
import { Router } from 'express';
import { z } from 'zod';
import { EARLIEST_DATE, LATEST_DATE } from '../../domain/input-rules';
import { reportFormats, reportTypes } from '../../domain/reports';
import { FileJobStatus, NotificationChannel } from '../../generated/prisma/enums';
import type { FileStore } from '../../lib/file-store';
import { principalOf, requireRole } from '../auth';
import { email, isoDateTime, noBody, noQuery, pagination, requiredIdempotencyKey, uuid } from '../schemas';
import { reportFile, sendStoredFile } from '../services/downloads';
import type { DownloadLinkSettings } from '../services/file-jobs';
import { cancelReport, getReport, listReports, readyReport, reportLink, requestReport } from '../services/reports';
import type { WorkflowRouterDeps } from '../router-deps';
import { parse } from '../validation';

export interface ReportsRouterDeps extends WorkflowRouterDeps {
  /** Where the files are read from (config.files.store). */
  files: FileStore;
  downloadLinks: DownloadLinkSettings;
}

const reportParams = z.object({ reportId: uuid() });

/** A day (`2026-11-30`) or an instant with its offset, within the dates the API stores. */
const reportDate = z.union([
  z.iso.date().refine((day) => {
    const time = Date.parse(`${day}T00:00:00Z`);
    return time >= EARLIEST_DATE && time < LATEST_DATE;
  }, 'must lie within the dates the API accepts'),
  isoDateTime(),
]);

/** The filters a report takes: its period, and per type a retailer, a slot or a channel. */
export const reportFiltersSchema = z
  .object({
    from: reportDate.optional(),
    to: reportDate.optional(),
    retailerId: uuid().optional(),
    slotId: uuid().optional(),
    channel: z.enum(NotificationChannel).optional(),
  })
  .strict();

const createBody = z
  .object({
    type: z.enum(reportTypes),
    format: z.enum(reportFormats),
    filters: reportFiltersSchema.optional(),
    notifyEmail: email().optional(),
  })
  .strict();

const listQuery = z
  .object({
    status: z.enum(FileJobStatus).optional(),
    type: z.enum(reportTypes).optional(),
    scheduleId: uuid().optional(),
    ...pagination(),
  })
  .strict();

/**
 * Reports over the caller's tenant's data: operators and above request and cancel them; any role
 * reads them and their files. Every route answers 404 for another tenant's report.
 */
export function createReportsRouter(deps: ReportsRouterDeps): Router {
  const router = Router();
  const { prisma, files, downloadLinks } = deps;

  router.post('/reports', requireRole('operator'), async (req, res) => {
    parse(noQuery, req.query);
    const idempotencyKey = requiredIdempotencyKey(req.get('Idempotency-Key'));
    const { filters, notifyEmail, ...body } = parse(createBody, req.body);
    const { tenantId, subject: actor } = principalOf(req);
    const { reportId, workflowId, created } = await requestReport(
      deps,
      { tenantId, actor, idempotencyKey },
      { ...body, filters: filters ?? {}, ...(notifyEmail ? { notifyEmail } : {}) },
    );
    res
      .status(202)
      .location(`/api/v1/reports/${reportId}`)
      .set(created ? {} : { 'Idempotent-Replayed': 'true' })
      .json({ reportId, workflowId });
  });

  router.get('/reports', async (req, res) => {
    res.json(await listReports(prisma, principalOf(req).tenantId, parse(listQuery, req.query)));
  });

  router.get('/reports/:reportId', async (req, res) => {
    const { reportId } = parse(reportParams, req.params);
    parse(noQuery, req.query);
    res.json(await getReport(prisma, principalOf(req).tenantId, reportId));
  });

  router.get('/reports/:reportId/download', async (req, res) => {
    const { reportId } = parse(reportParams, req.params);
    parse(noQuery, req.query);
    const row = await readyReport(prisma, principalOf(req).tenantId, reportId);
    await sendStoredFile(res, files, reportFile(row));
  });

  router.post('/reports/:reportId/cancel', requireRole('operator'), async (req, res) => {
    const { reportId } = parse(reportParams, req.params);
    parse(noQuery, req.query);
    parse(noBody, req.body);
    const answer = await cancelReport(deps, principalOf(req).tenantId, reportId);
    res.status(answer.cancelRequested ? 202 : 200).json(answer);
  });

  router.post('/reports/:reportId/link', async (req, res) => {
    const { reportId } = parse(reportParams, req.params);
    parse(noQuery, req.query);
    parse(noBody, req.body);
    res.status(201).json(await reportLink(prisma, downloadLinks, principalOf(req).tenantId, reportId));
  });

  return router;
}

export const reportsRoutes: RouteSpec[] = fileJobRoutes({
  noun: 'report',
  tag: 'Reports',
  flow: 'reports',
  params: reportParams,
  createBody,
  listQuery,
  summaries: {
    request: 'Build a report (CSV, JSON or PDF) over the tenant’s data, in the background',
    cancel: 'Cancel a report still being built',
  },
  formats: 'CSV, JSON or PDF',
  requestRefusals: 'INVALID_PERIOD, UNKNOWN_RETAILER, UNKNOWN_SLOT or IDEMPOTENCY_KEY_REUSED',
});
