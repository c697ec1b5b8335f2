import { flowPaused, requiredIdempotencyKeyHeaders } from '../openapi/common-responses';
import type { RouteSpec } from '../openapi/route-spec';
import { Router } from 'express';
import { z } from 'zod';
import {
  cronFrequencyProblem,
  cronProblem,
  isKnownTimeZone,
  reportFormats,
  reportTypes,
  schedulePeriods,
} from '../../domain/reports';
import { NotificationChannel } from '../../generated/prisma/enums';
import { principalOf, requireRole } from '../auth';
import { AppError } from '../errors';
import type { WorkflowRouterDeps } from '../router-deps';
import { email, multiLine, noBody, noQuery, optionalBody, pagination, requiredIdempotencyKey, uuid } from '../schemas';
import {
  createReportSchedule,
  deleteReportSchedule,
  getReportSchedule,
  listReportSchedules,
  pauseReportSchedule,
  triggerReportSchedule,
  unpauseReportSchedule,
} from '../services/report-schedules';
import { parse } from '../validation';

export type ReportSchedulesRouterDeps = WorkflowRouterDeps;

const scheduleParams = z.object({ scheduleId: uuid() });

const createBody = z
  .object({
    type: z.enum(reportTypes),
    format: z.enum(reportFormats),
    cron: z.string().trim().min(1).max(100),
    timezone: z.string().min(1).max(64),
    notifyEmail: email(),
    // A week ending when the run starts suits the seeds' weekly reports; say 'day' for a daily one.
    period: z.enum(schedulePeriods).default('week'),
    filters: z
      .object({
        retailerId: uuid().optional(),
        slotId: uuid().optional(),
        channel: z.enum(NotificationChannel).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const noteBody = optionalBody({ note: multiLine(500).optional() });

const listQuery = z.object({ ...pagination({ defaultLimit: 50, maxLimit: 100 }) }).strict();

/**
 * A tenant's recurring reports, each a Temporal Schedule: tenant admins create and delete them,
 * operators pause, unpause and trigger them, any role reads them. Another tenant's schedule is 404.
 */
export function createReportSchedulesRouter(deps: ReportSchedulesRouterDeps): Router {
  const router = Router();

  router.post('/report-schedules', requireRole('tenant-admin'), async (req, res) => {
    parse(noQuery, req.query);
    const idempotencyKey = requiredIdempotencyKey(req.get('Idempotency-Key'));
    const { filters, ...body } = parse(createBody, req.body);
    // Checked here, not by Temporal alone: its cron also takes six fields and descriptors, which
    // this API does not promise; an unknown zone would only fail at the first run.
    const problem = cronProblem(body.cron);
    if (problem)
      throw new AppError(422, 'INVALID_CRON', `The cron expression is not valid: ${problem}`, { cron: body.cron });
    const tooFrequent = cronFrequencyProblem(body.cron);
    if (tooFrequent) throw new AppError(422, 'SCHEDULE_TOO_FREQUENT', tooFrequent, { cron: body.cron });
    if (!isKnownTimeZone(body.timezone)) {
      throw new AppError(422, 'INVALID_TIMEZONE', 'Expected an IANA time zone such as Europe/Berlin', {
        timezone: body.timezone,
      });
    }
    const { tenantId, subject: actor } = principalOf(req);
    const { schedule, created } = await createReportSchedule(
      deps,
      { tenantId, actor, idempotencyKey },
      { ...body, cron: body.cron.trim().split(/\s+/).join(' '), filters: filters ?? {} },
    );
    res
      .status(created ? 201 : 200)
      .location(`/api/v1/report-schedules/${schedule.id}`)
      .set(created ? {} : { 'Idempotent-Replayed': 'true' })
      .json(schedule);
  });

  router.get('/report-schedules', async (req, res) => {
    res.json(await listReportSchedules(deps, principalOf(req).tenantId, parse(listQuery, req.query)));
  });

  router.get('/report-schedules/:scheduleId', async (req, res) => {
    const { scheduleId } = parse(scheduleParams, req.params);
    parse(noQuery, req.query);
    res.json(await getReportSchedule(deps, principalOf(req).tenantId, scheduleId));
  });

  router.post('/report-schedules/:scheduleId/pause', requireRole('operator'), async (req, res) => {
    const { scheduleId } = parse(scheduleParams, req.params);
    parse(noQuery, req.query);
    const note = parse(noteBody, req.body)?.note;
    const { tenantId, subject: actor } = principalOf(req);
    res.json(await pauseReportSchedule(deps, { tenantId, actor }, scheduleId, note));
  });

  router.post('/report-schedules/:scheduleId/unpause', requireRole('operator'), async (req, res) => {
    const { scheduleId } = parse(scheduleParams, req.params);
    parse(noQuery, req.query);
    const note = parse(noteBody, req.body)?.note;
    const { tenantId, subject: actor } = principalOf(req);
    res.json(await unpauseReportSchedule(deps, { tenantId, actor }, scheduleId, note));
  });

  router.post('/report-schedules/:scheduleId/trigger', requireRole('operator'), async (req, res) => {
    const { scheduleId } = parse(scheduleParams, req.params);
    parse(noQuery, req.query);
    parse(noBody, req.body);
    const { tenantId, subject: actor } = principalOf(req);
    res.status(202).json(await triggerReportSchedule(deps, { tenantId, actor }, scheduleId));
  });

  router.delete('/report-schedules/:scheduleId', requireRole('tenant-admin'), async (req, res) => {
    const { scheduleId } = parse(scheduleParams, req.params);
    parse(noQuery, req.query);
    const { tenantId, subject: actor } = principalOf(req);
    await deleteReportSchedule(deps, { tenantId, actor }, scheduleId);
    res.status(204).end();
  });

  return router;
}

const scheduleTag = 'Report schedules';

export const reportSchedulesRoutes: RouteSpec[] = [
  {
    method: 'post',
    path: '/api/v1/report-schedules',
    operationId: 'createReportSchedule',
    summary: 'A recurring report: a Temporal Schedule that runs it on a cron in a time zone',
    description: 'Five-field cron; a repeat with the same Idempotency-Key answers 200 Idempotent-Replayed.',
    tag: scheduleTag,
    auth: 'tenant-admin',
    query: noQuery,
    headers: requiredIdempotencyKeyHeaders,
    body: createBody,
    responses: {
      200: { description: 'Already created with this key' },
      201: { description: 'Created, with Location' },
      422: { description: 'INVALID_CRON, SCHEDULE_TOO_FREQUENT, INVALID_TIMEZONE or IDEMPOTENCY_KEY_REUSED' },
    },
  },
  {
    method: 'get',
    path: '/api/v1/report-schedules',
    operationId: 'listReportSchedules',
    summary: "The tenant's report schedules",
    tag: scheduleTag,
    auth: 'member',
    query: listQuery,
    responses: { 200: { description: 'A page of schedules' } },
  },
  {
    method: 'get',
    path: '/api/v1/report-schedules/:scheduleId',
    operationId: 'getReportSchedule',
    summary: 'One schedule with its next and recent runs',
    tag: scheduleTag,
    auth: 'member',
    params: scheduleParams,
    query: noQuery,
    responses: { 200: { description: 'The schedule' } },
  },
  {
    method: 'post',
    path: '/api/v1/report-schedules/:scheduleId/pause',
    operationId: 'pauseReportSchedule',
    summary: 'Pause a schedule, with a note',
    tag: scheduleTag,
    auth: 'operator',
    params: scheduleParams,
    query: noQuery,
    body: noteBody,
    responses: { 200: { description: 'Paused' } },
  },
  {
    method: 'post',
    path: '/api/v1/report-schedules/:scheduleId/unpause',
    operationId: 'unpauseReportSchedule',
    summary: 'Unpause a schedule, with a note',
    tag: scheduleTag,
    auth: 'operator',
    params: scheduleParams,
    query: noQuery,
    body: noteBody,
    responses: {
      200: { description: 'Running again' },
      423: flowPaused('reports'),
    },
  },
  {
    method: 'post',
    path: '/api/v1/report-schedules/:scheduleId/trigger',
    operationId: 'triggerReportSchedule',
    summary: 'Run a schedule’s report now',
    tag: scheduleTag,
    auth: 'operator',
    params: scheduleParams,
    query: noQuery,
    body: noBody,
    responses: {
      202: { description: 'Triggered' },
      423: flowPaused('reports'),
    },
  },
  {
    method: 'delete',
    path: '/api/v1/report-schedules/:scheduleId',
    operationId: 'deleteReportSchedule',
    summary: 'Delete a schedule',
    tag: scheduleTag,
    auth: 'tenant-admin',
    params: scheduleParams,
    query: noQuery,
    responses: { 204: { description: 'Deleted' } },
  },
];
