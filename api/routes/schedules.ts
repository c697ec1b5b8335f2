import { Router } from 'express';
import { z } from 'zod';
import type { Logger } from '../../lib/logger';
import { principalOf, requireRole } from '../auth';
import { flowPaused, tenantScopeRefusals } from '../openapi/common-responses';
import type { RouteSpec } from '../openapi/route-spec';
import type { WorkflowRouterDeps } from '../router-deps';
import { multiLine, optionalBody } from '../schemas';
import { tenantInScope } from '../services/flow-pauses';
import { actOnSchedule, listSchedules, type ScheduleAction } from '../services/schedules';
import { parse } from '../validation';

export interface SchedulesRouterDeps extends WorkflowRouterDeps {
  /** Where platform Schedule changes are logged when the request has no logger of its own. */
  logger: Logger;
}

/** A Temporal Schedule ID: `holdfast:daily-cleanup`, or a report schedule's `report-schedule:<tenant>:<id>`. */
export const scheduleParams = z
  .object({
    scheduleId: z
      .string()
      .min(1)
      .max(300)
      .regex(/^[A-Za-z0-9:._-]+$/, { message: 'expected a Schedule ID such as holdfast:daily-cleanup' }),
  })
  .strict();

/** A platform admin names a tenant to see its report schedules; a tenant's token may only name its own. */
export const schedulesQuery = z.object({ tenantId: z.string().min(1).max(255).optional() }).strict();

export const scheduleActionBody = optionalBody({ note: multiLine(500).optional() });

const scheduleSchema = z.object({
  scheduleId: z.string(),
  scope: z.enum(['tenant', 'platform']),
  tenantId: z.string().nullable(),
  reportScheduleId: z.string().nullable().describe('The report schedule (GET /api/v1/report-schedules/:id)'),
  flow: z.string().nullable().describe("The catalog's flow the Schedule starts"),
  state: z.enum(['ACTIVE', 'PAUSED', 'MISSING']),
  paused: z.boolean().nullable(),
  note: z.string().nullable(),
  when: z.string().nullable().describe("A report schedule's cron and time zone; a platform Schedule's timing in words"),
  nextRuns: z.array(z.iso.datetime()),
  recentActions: z.array(
    z.object({
      scheduledAt: z.iso.datetime(),
      startedAt: z.iso.datetime(),
      workflowId: z.string(),
      firstExecutionRunId: z.string(),
    }),
  ),
});

export const scheduleListSchema = z.object({ tenantId: z.string().nullable(), schedules: z.array(scheduleSchema) });

const actionResponses = (done: string) => ({
  200: { description: done, schema: scheduleSchema },
  ...tenantScopeRefusals({
    invalid: 'Invalid request; NOTE_NOT_KEPT: a note on a platform Schedule (Temporal would keep it in clear)',
    forbidden: 'The role is too low, or a tenant named another tenant',
    notFound: "No such Schedule, another tenant's, or a platform Schedule for a tenant",
  }),
  409: { description: 'SCHEDULE_MISSING: the Temporal Schedule is gone' },
  423: flowPaused('reports'),
});

const actions: Array<{ action: ScheduleAction; operationId: string; summary: string; done: string }> = [
  { action: 'pause', operationId: 'pauseSchedule', summary: 'Pauses a Schedule', done: 'Paused' },
  { action: 'unpause', operationId: 'unpauseSchedule', summary: 'Unpauses a Schedule', done: 'Unpaused' },
  {
    action: 'trigger',
    operationId: 'triggerSchedule',
    summary: "Starts a Schedule's run now (skipped while a run is still going)",
    done: 'Triggered',
  },
];

export const schedulesRoutes: RouteSpec[] = [
  {
    method: 'get',
    path: '/api/v1/schedules',
    operationId: 'listSchedules',
    summary: "The tenant's report schedules, or for a platform admin the platform's Schedules",
    tag: 'Operations',
    auth: 'member',
    query: schedulesQuery,
    responses: {
      200: { description: 'The Schedules with their Temporal state', schema: scheduleListSchema },
      ...tenantScopeRefusals({ notFound: 'The named tenant does not exist' }),
    },
  },
  ...actions.map(({ action, operationId, summary, done }): RouteSpec => ({
    method: 'post',
    path: `/api/v1/schedules/:scheduleId/${action}`,
    operationId,
    summary,
    tag: 'Operations',
    auth: 'operator',
    params: scheduleParams,
    query: schedulesQuery,
    body: scheduleActionBody,
    responses: actionResponses(done),
  })),
];

/**
 * Holdfast's Temporal Schedules: any role lists them, operators and above pause, unpause and
 * trigger them. A tenant sees its report schedules only; the platform's need a platform admin.
 */
export function createSchedulesRouter(deps: SchedulesRouterDeps): Router {
  const router = Router();
  const { prisma } = deps;

  router.get('/schedules', async (req, res) => {
    const { tenantId: named } = parse(schedulesQuery, req.query);
    const tenantId = await tenantInScope(prisma, principalOf(req), named, { required: false });
    res.json(await listSchedules(deps, tenantId));
  });

  for (const { action } of actions) {
    router.post(`/schedules/:scheduleId/${action}`, requireRole('operator'), async (req, res) => {
      const { scheduleId } = parse(scheduleParams, req.params);
      const { tenantId: named } = parse(schedulesQuery, req.query);
      const note = parse(scheduleActionBody, req.body)?.note;
      const principal = principalOf(req);
      const tenantId = await tenantInScope(prisma, principal, named, { required: false });
      const schedule = await actOnSchedule(
        deps,
        { principal, tenantId, logger: req.log ?? deps.logger },
        scheduleId,
        action,
        note,
      );
      res.json(schedule);
    });
  }

  return router;
}
