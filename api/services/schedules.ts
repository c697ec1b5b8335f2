import { ScheduleNotFoundError, type Client, type ScheduleDescription } from '@temporalio/client';
import { flowByWorkflowType } from '../../domain/flow-catalog';
import type { FairnessWeights } from '../../domain/tenant-fairness';
import type { PrismaClient } from '../../lib/db';
import type { Logger } from '../../lib/logger';
import { holdfastSchedules } from '../../workers/schedules';
import { PLATFORM_TENANT_ID, type Principal } from '../auth';
import { AppError, notFound } from '../errors';
import { pauseReportSchedule, scheduleNote, triggerReportSchedule, unpauseReportSchedule } from './report-schedules';

/**
 * The Schedules API (GET /api/v1/schedules, POST …/:scheduleId/pause|unpause|trigger): one view
 * over Holdfast's Temporal Schedules. A tenant sees and acts on its own report schedules only;
 * the platform's Schedules (the daily cleanup, the event outbox sweep) are a platform admin's,
 * who may also name a tenant. Another tenant's Schedule and a platform Schedule are, for a
 * tenant, 404s identical to a missing one.
 */

export interface ScheduleServiceDeps {
  prisma: PrismaClient;
  temporal: Client;
  taskQueue: string;
  fairnessWeights: FairnessWeights;
}

export type ScheduleAction = 'pause' | 'unpause' | 'trigger';

/** How many upcoming runs and past actions a Schedule's answer lists. */
const RUNS_SHOWN = 5;

/** The Schedules the platform owns (workers/schedules.ts), by Temporal Schedule ID. */
function platformScheduleIds(taskQueue: string): string[] {
  return holdfastSchedules(taskQueue).map((options) => options.scheduleId);
}

/** When a Schedule runs, in words, from Temporal's description: its calendar's comment or its interval. */
function whenOf(description: ScheduleDescription): string | null {
  const calendar = description.spec.calendars?.[0]?.comment;
  if (calendar) return calendar;
  const everyMs = description.spec.intervals?.[0]?.every;
  return typeof everyMs === 'number' ? `every ${Math.round(everyMs / 1000)} seconds` : null;
}

interface ScheduleOwner {
  /** The tenant whose report schedule it is; null for a platform Schedule. */
  tenantId: string | null;
  /** The ReportSchedule row's ID, for a tenant's report schedule. */
  reportScheduleId: string | null;
  /** When it runs: a report schedule's cron and zone; null to say it from Temporal's description. */
  when: string | null;
}

/** One Schedule as the API shows it: who owns it, which flow it starts, and what Temporal says of it. */
async function presentSchedule(
  prisma: PrismaClient,
  scheduleId: string,
  owner: ScheduleOwner,
  description: ScheduleDescription | undefined,
) {
  const base = {
    scheduleId,
    scope: owner.tenantId ? ('tenant' as const) : ('platform' as const),
    tenantId: owner.tenantId,
    reportScheduleId: owner.reportScheduleId,
    when: owner.when,
  };
  if (!description) {
    return {
      ...base,
      flow: owner.tenantId ? 'reports' : null,
      state: 'MISSING' as const,
      paused: null,
      note: null,
      nextRuns: [],
      recentActions: [],
    };
  }
  const recent = description.info.recentActions.slice(-RUNS_SHOWN).reverse();
  return {
    ...base,
    flow: flowByWorkflowType(description.action.workflowType)?.name ?? null,
    when: owner.when ?? whenOf(description),
    state: description.state.paused ? ('PAUSED' as const) : ('ACTIVE' as const),
    paused: description.state.paused,
    note:
      owner.tenantId && owner.reportScheduleId
        ? await scheduleNote(prisma, { tenantId: owner.tenantId, id: owner.reportScheduleId }, description.state.note)
        : (description.state.note ?? null),
    nextRuns: description.info.nextActionTimes.slice(0, RUNS_SHOWN).map((at) => at.toISOString()),
    recentActions: recent.map((run) => ({
      scheduledAt: run.scheduledAt.toISOString(),
      startedAt: run.takenAt.toISOString(),
      workflowId: run.action.workflow.workflowId,
      firstExecutionRunId: run.action.workflow.firstExecutionRunId,
    })),
  };
}

export type ScheduleView = Awaited<ReturnType<typeof presentSchedule>>;

async function describe(temporal: Client, scheduleId: string): Promise<ScheduleDescription | undefined> {
  try {
    return await temporal.schedule.getHandle(scheduleId).describe();
  } catch (error) {
    if (error instanceof ScheduleNotFoundError) return undefined;
    throw error;
  }
}

/** The tenant's report schedules, oldest first, each with its Temporal Schedule's state. */
async function tenantSchedules(deps: ScheduleServiceDeps, tenantId: string): Promise<ScheduleView[]> {
  const rows = await deps.prisma.reportSchedule.findMany({
    where: { tenantId },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    select: { id: true, scheduleId: true, cron: true, timezone: true },
  });
  return Promise.all(
    rows.map(async (row) =>
      presentSchedule(
        deps.prisma,
        row.scheduleId,
        { tenantId, reportScheduleId: row.id, when: `${row.cron} (${row.timezone})` },
        await describe(deps.temporal, row.scheduleId),
      ),
    ),
  );
}

async function platformSchedules(deps: ScheduleServiceDeps): Promise<ScheduleView[]> {
  return Promise.all(
    platformScheduleIds(deps.taskQueue).map(async (scheduleId) =>
      presentSchedule(
        deps.prisma,
        scheduleId,
        { tenantId: null, reportScheduleId: null, when: null },
        await describe(deps.temporal, scheduleId),
      ),
    ),
  );
}

/**
 * The Schedules a caller sees: a tenant's report schedules for a tenant (or a platform admin who
 * names it), the platform's own Schedules for a platform admin who names none.
 */
export async function listSchedules(deps: ScheduleServiceDeps, tenantId: string | undefined) {
  if (tenantId === undefined) return { tenantId: null, schedules: await platformSchedules(deps) };
  return { tenantId, schedules: await tenantSchedules(deps, tenantId) };
}

/**
 * Whose Schedule `scheduleId` is, as far as the caller may know: its own report schedule, or for
 * a platform admin any tenant's (only the named tenant's when it names one) and the platform's.
 *
 * @throws 404 for anything else, the same answer as for a Schedule that does not exist.
 */
async function ownerFor(
  deps: ScheduleServiceDeps,
  principal: Principal,
  tenantId: string | undefined,
  scheduleId: string,
): Promise<ScheduleOwner> {
  const platformAdmin = principal.tenantId === PLATFORM_TENANT_ID;
  if (platformAdmin && tenantId === undefined && platformScheduleIds(deps.taskQueue).includes(scheduleId)) {
    return { tenantId: null, reportScheduleId: null, when: null };
  }
  const row = await deps.prisma.reportSchedule.findFirst({
    where: { scheduleId, ...(tenantId !== undefined ? { tenantId } : {}) },
    select: { id: true, tenantId: true, cron: true, timezone: true },
  });
  if (!row || (!platformAdmin && row.tenantId !== principal.tenantId)) throw notFound('Schedule', { scheduleId });
  return { tenantId: row.tenantId, reportScheduleId: row.id, when: `${row.cron} (${row.timezone})` };
}

const platformNotes: Record<Exclude<ScheduleAction, 'trigger'>, string> = {
  pause: 'Paused by a platform admin through the API',
  unpause: 'Unpaused by a platform admin through the API',
};

/**
 * Pauses, unpauses or triggers a Schedule the caller may touch. A tenant's report schedule goes
 * through the report-schedule service (audited there, and refused with 423 FLOW_PAUSED while the
 * tenant's reports flow is paused, for unpause and trigger); a platform Schedule is acted on
 * directly and logged, since the platform has no tenant to audit under.
 *
 * @throws 404 for a Schedule the caller may not see, 400 NOTE_NOT_KEPT for a note on a platform
 *   Schedule, 409 SCHEDULE_MISSING when its Temporal Schedule has gone, 423 FLOW_PAUSED.
 */
export async function actOnSchedule(
  deps: ScheduleServiceDeps,
  { principal, tenantId, logger }: { principal: Principal; tenantId: string | undefined; logger: Logger },
  scheduleId: string,
  action: ScheduleAction,
  note?: string,
): Promise<ScheduleView> {
  const owner = await ownerFor(deps, principal, tenantId, scheduleId);
  if (owner.tenantId && owner.reportScheduleId) {
    const caller = { tenantId: owner.tenantId, actor: principal.subject };
    if (action === 'pause') await pauseReportSchedule(deps, caller, owner.reportScheduleId, note);
    else if (action === 'unpause') await unpauseReportSchedule(deps, caller, owner.reportScheduleId, note);
    else await triggerReportSchedule(deps, caller, owner.reportScheduleId);
  } else {
    // Temporal would keep the note in clear, and the platform has no audit log to keep it in instead.
    if (note !== undefined) {
      throw new AppError(
        400,
        'NOTE_NOT_KEPT',
        'A platform Schedule takes no note: Temporal would keep it in clear, and the platform has no audit log for it',
        { scheduleId },
      );
    }
    const handle = deps.temporal.schedule.getHandle(scheduleId);
    try {
      if (action === 'trigger') await handle.trigger();
      else if (action === 'pause') await handle.pause(platformNotes.pause);
      else await handle.unpause(platformNotes.unpause);
    } catch (error) {
      if (!(error instanceof ScheduleNotFoundError)) throw error;
      throw new AppError(409, 'SCHEDULE_MISSING', 'The Temporal Schedule is gone; a worker start creates it again', {
        scheduleId,
      });
    }
    logger.info({ scheduleId, action, actor: principal.subject }, 'platform schedule changed by a platform admin');
  }
  return presentSchedule(deps.prisma, scheduleId, owner, await describe(deps.temporal, scheduleId));
}
