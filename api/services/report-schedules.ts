import { createHash } from 'node:crypto';
import {
  isGrpcServiceError,
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ServiceError,
  type Client,
} from '@temporalio/client';
import { writeAudit } from '../../activities/audit';
import { canonicalJson } from '../../domain/canonical-json';
import {
  MAX_REPORT_SCHEDULES_PER_TENANT,
  type ReportFilters,
  type ReportFormat,
  type ReportType,
  type SchedulePeriod,
} from '../../domain/reports';
import type { FairnessWeights } from '../../domain/tenant-fairness';
import type { PrismaClient } from '../../lib/db';
import { loadTenantFairness } from '../../lib/tenant-fairness';
import { reportScheduleId, reportScheduleOptions } from '../../workflows/report.contract';
import { AppError, notFound } from '../errors';
import { checkFilterTargets, checkReportRequest } from './reports';
import { assertFlowAccepting, initialScheduleState, settleWithFlowPause } from './flow-pauses';

export interface ReportScheduleServiceDeps {
  prisma: PrismaClient;
  temporal: Client;
  taskQueue: string;
  fairnessWeights: FairnessWeights;
}

export interface ReportScheduleCaller {
  tenantId: string;
  actor: string;
}

export interface ReportScheduleRequest {
  type: ReportType;
  format: ReportFormat;
  cron: string;
  timezone: string;
  period: SchedulePeriod;
  notifyEmail: string;
  /** A retailer, slot or channel; a schedule's period comes from `period`, never from dates. */
  filters: Omit<ReportFilters, 'from' | 'to'>;
}

type ScheduleRow = Awaited<ReturnType<PrismaClient['reportSchedule']['findFirstOrThrow']>>;

/** gRPC's status code for a request the server refuses as malformed. */
const GRPC_INVALID_ARGUMENT = 3;

/** How many upcoming and past runs a schedule's answer lists. */
const RUNS_SHOWN = 5;

/**
 * The row ID an Idempotency-Key stands for (a UUID made from the tenant and the key), so a
 * repeated request finds the schedule the first one made without a column of its own.
 */
export function scheduleRowIdFor(tenantId: string, idempotencyKey: string): string {
  const bytes = createHash('sha256').update(`report-schedule\0${tenantId}\0${idempotencyKey}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80; // version 8: a custom, name-derived UUID
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // the RFC 9562 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** What a schedule was asked for, in a form two requests can be compared by. */
function fingerprint(request: ReportScheduleRequest | ScheduleRow): string {
  const { type, format, cron, timezone, period, notifyEmail } = request;
  return canonicalJson({ type, format, cron, timezone, period, notifyEmail, filters: request.filters ?? {} });
}

async function workOf(deps: ReportScheduleServiceDeps, tenantId: string) {
  return { tenantId, ...(await loadTenantFairness(deps.prisma, tenantId, deps.fairnessWeights)) };
}

/** Whether Temporal refused the Schedule's definition (its cron or time zone). */
function isInvalidArgument(error: unknown): boolean {
  const grpc = error instanceof ServiceError ? error.cause : error;
  return isGrpcServiceError(grpc) && Number(grpc.code) === GRPC_INVALID_ARGUMENT;
}

/**
 * Creates the row's Temporal Schedule (paused when `state` says so); one that exists already (a
 * repeated request) is kept as it is. Answers whether it created it.
 */
async function ensureSchedule(
  deps: ReportScheduleServiceDeps,
  row: ScheduleRow,
  state?: { paused: boolean; note: string },
): Promise<boolean> {
  const options = reportScheduleOptions(
    await workOf(deps, row.tenantId),
    row.id,
    { cron: row.cron, timezone: row.timezone, type: row.type as ReportType, format: row.format as ReportFormat },
    deps.taskQueue,
  );
  try {
    await deps.temporal.schedule.create(state ? { ...options, state } : options);
    return true;
  } catch (error) {
    if (error instanceof ScheduleAlreadyRunning) return false;
    throw error;
  }
}

/**
 * The tenant's schedule with what its Temporal Schedule says: paused or not (and the note), the
 * next run times, the last runs with their reports. A Schedule that has gone missing is shown as such.
 */
async function presentSchedule(deps: Pick<ReportScheduleServiceDeps, 'prisma' | 'temporal'>, row: ScheduleRow) {
  const base = {
    id: row.id,
    scheduleId: row.scheduleId,
    type: row.type,
    format: row.format,
    cron: row.cron,
    timezone: row.timezone,
    period: row.period,
    filters: row.filters,
    notifyEmail: row.notifyEmail,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
  };
  let description;
  try {
    description = await deps.temporal.schedule.getHandle(row.scheduleId).describe();
  } catch (error) {
    if (!(error instanceof ScheduleNotFoundError)) throw error;
    return { ...base, state: 'MISSING' as const, paused: null, note: null, nextRuns: [], recentRuns: [] };
  }
  const recent = description.info.recentActions.slice(-RUNS_SHOWN).reverse();
  const reports = await deps.prisma.report.findMany({
    where: { tenantId: row.tenantId, workflowId: { in: recent.map((run) => run.action.workflow.workflowId) } },
    select: { id: true, status: true, workflowId: true },
  });
  const reportOf = new Map(reports.map((report) => [report.workflowId, report]));
  return {
    ...base,
    state: description.state.paused ? ('PAUSED' as const) : ('ACTIVE' as const),
    paused: description.state.paused,
    note: await scheduleNote(deps.prisma, row, description.state.note),
    nextRuns: description.info.nextActionTimes.slice(0, RUNS_SHOWN).map((at) => at.toISOString()),
    recentRuns: recent.map((run) => {
      const report = reportOf.get(run.action.workflow.workflowId);
      return {
        scheduledAt: run.scheduledAt.toISOString(),
        startedAt: run.takenAt.toISOString(),
        workflowId: run.action.workflow.workflowId,
        reportId: report?.id ?? null,
        status: report?.status ?? null,
      };
    }),
  };
}

/**
 * Records a report schedule and creates its Temporal Schedule, once per Idempotency-Key: a
 * repeat with the same body answers the same schedule (`created: false`).
 *
 * @throws 422 INVALID_CRON when Temporal refuses the expression, IDEMPOTENCY_KEY_REUSED (a known
 *   key with another body), FILTER_NOT_APPLICABLE, UNKNOWN_RETAILER, UNKNOWN_SLOT; 409
 *   REPORT_SCHEDULE_LIMIT when the tenant has MAX_REPORT_SCHEDULES_PER_TENANT schedules already.
 */
export async function createReportSchedule(
  deps: ReportScheduleServiceDeps,
  { tenantId, actor, idempotencyKey }: ReportScheduleCaller & { idempotencyKey: string },
  request: ReportScheduleRequest,
) {
  const { prisma } = deps;
  checkReportRequest({ type: request.type, filters: request.filters }, new Date());
  const id = scheduleRowIdFor(tenantId, idempotencyKey);
  const known = await prisma.reportSchedule.findFirst({ where: { id, tenantId } });
  if (!known) await checkFilterTargets(prisma, tenantId, request.filters);
  if (known) {
    if (fingerprint(known) !== fingerprint(request)) {
      throw new AppError(422, 'IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used for a different schedule', {
        scheduleId: id,
      });
    }
    // An earlier attempt may have stopped before its Schedule existed, or before it met a pause.
    const pausedWithFlow = await initialScheduleState(prisma, tenantId, 'reports');
    const createdNow = await ensureSchedule(deps, known, pausedWithFlow);
    await settleWithFlowPause(deps, tenantId, 'reports', known.scheduleId, createdNow && pausedWithFlow !== undefined);
    return { schedule: await presentSchedule(deps, known), created: false };
  }
  // The count and the insert under one per-tenant lock, so concurrent requests cannot pass the cap together.
  const row = await prisma.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`report-schedules:${tenantId}`}))`;
    const existing = await tx.reportSchedule.count({ where: { tenantId } });
    if (existing >= MAX_REPORT_SCHEDULES_PER_TENANT) {
      throw new AppError(
        409,
        'REPORT_SCHEDULE_LIMIT',
        `A tenant may have at most ${MAX_REPORT_SCHEDULES_PER_TENANT} report schedules; delete one first`,
        { limit: MAX_REPORT_SCHEDULES_PER_TENANT },
      );
    }
    return tx.reportSchedule.upsert({
      where: { id },
      create: {
        id,
        tenantId,
        type: request.type,
        format: request.format,
        cron: request.cron,
        timezone: request.timezone,
        period: request.period,
        filters: request.filters,
        notifyEmail: request.notifyEmail,
        scheduleId: reportScheduleId(tenantId, id),
        createdBy: actor,
      },
      update: {},
    });
  });
  // While the tenant's reports are paused, a new schedule starts paused and resumes with the flow.
  const pausedWithFlow = await initialScheduleState(prisma, tenantId, 'reports');
  try {
    await ensureSchedule(deps, row, pausedWithFlow);
  } catch (error) {
    // Without its Schedule the row would promise reports that never come.
    await prisma.reportSchedule.deleteMany({ where: { id, tenantId } });
    if (isInvalidArgument(error)) {
      throw new AppError(422, 'INVALID_CRON', 'Temporal does not accept this cron expression or time zone', {
        cron: request.cron,
        timezone: request.timezone,
      });
    }
    throw error;
  }
  // A pause committed after the state was read did not see this Schedule: it is caught here.
  await settleWithFlowPause(deps, tenantId, 'reports', row.scheduleId, pausedWithFlow !== undefined);
  await writeAudit(prisma, {
    tenantId,
    actor,
    action: 'report-schedule.created',
    entityType: 'ReportSchedule',
    entityId: id,
    details: { type: request.type, format: request.format, cron: request.cron, timezone: request.timezone },
  });
  return { schedule: await presentSchedule(deps, row), created: true };
}

async function findSchedule(prisma: PrismaClient, tenantId: string, id: string) {
  const row = await prisma.reportSchedule.findFirst({ where: { id, tenantId } });
  if (!row) throw notFound('Report schedule', { scheduleId: id });
  return row;
}

export async function getReportSchedule(deps: ReportScheduleServiceDeps, tenantId: string, id: string) {
  return presentSchedule(deps, await findSchedule(deps.prisma, tenantId, id));
}

/** A page of the tenant's schedules, oldest first, each with its Schedule's state. */
export async function listReportSchedules(
  deps: ReportScheduleServiceDeps,
  tenantId: string,
  { limit, offset }: { limit: number; offset: number },
) {
  const where = { tenantId };
  const [rows, total] = await Promise.all([
    deps.prisma.reportSchedule.findMany({
      where,
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      take: limit,
      skip: offset,
    }),
    deps.prisma.reportSchedule.count({ where }),
  ]);
  return { schedules: await Promise.all(rows.map((row) => presentSchedule(deps, row))), total, limit, offset };
}

/** Runs `act` on the row's Schedule; a Schedule that has gone missing is a 409 SCHEDULE_MISSING. */
async function onSchedule(
  deps: ReportScheduleServiceDeps,
  caller: ReportScheduleCaller,
  id: string,
  action: string,
  act: (handle: ReturnType<Client['schedule']['getHandle']>) => Promise<void>,
  details?: { note: string },
) {
  const row = await findSchedule(deps.prisma, caller.tenantId, id);
  try {
    await act(deps.temporal.schedule.getHandle(row.scheduleId));
  } catch (error) {
    if (!(error instanceof ScheduleNotFoundError)) throw error;
    throw new AppError(
      409,
      'SCHEDULE_MISSING',
      'The Temporal Schedule is gone; delete this schedule and create it again',
      {
        scheduleId: id,
      },
    );
  }
  await writeAudit(deps.prisma, {
    tenantId: caller.tenantId,
    actor: caller.actor,
    action: `report-schedule.${action}`,
    entityType: 'ReportSchedule',
    entityId: id,
    ...(details ? { details } : {}),
  });
  return presentSchedule(deps, row);
}

/**
 * What a pause or unpause through the API tells Temporal. Temporal keeps a Schedule's note in clear, out
 * of the codec's reach, and a user's note may name a person: the note, like the actor, is kept in the
 * audit row only, from which the API shows it back ({@link scheduleNote}).
 */
export const scheduleNoteForTemporal = {
  paused: 'Paused through the API; any note is in the audit log',
  unpaused: 'Unpaused through the API; any note is in the audit log',
} as const;

/**
 * A report schedule's note as the API shows it: Temporal's own (a pause of the tenant's reports flow,
 * a change made in the Web UI or the CLI), or after a pause or unpause through the API, the note of its
 * audit row (null when none was given).
 */
export async function scheduleNote(
  prisma: PrismaClient,
  schedule: { tenantId: string; id: string },
  temporalNote: string | undefined,
): Promise<string | null> {
  const fromApi: readonly string[] = Object.values(scheduleNoteForTemporal);
  if (temporalNote === undefined || !fromApi.includes(temporalNote)) return temporalNote ?? null;
  const audit = await prisma.auditLog.findFirst({
    where: {
      tenantId: schedule.tenantId,
      entityType: 'ReportSchedule',
      entityId: schedule.id,
      action: { in: ['report-schedule.paused', 'report-schedule.unpaused'] },
    },
    orderBy: { at: 'desc' },
    select: { details: true },
  });
  const note = (audit?.details as { note?: unknown } | null | undefined)?.note;
  return typeof note === 'string' ? note : null;
}

export function pauseReportSchedule(
  deps: ReportScheduleServiceDeps,
  caller: ReportScheduleCaller,
  id: string,
  note?: string,
) {
  return onSchedule(
    deps,
    caller,
    id,
    'paused',
    (handle) => handle.pause(scheduleNoteForTemporal.paused),
    note ? { note } : undefined,
  );
}

/** Refused with 423 FLOW_PAUSED while the tenant's reports flow is paused: resuming the flow unpauses it. */
export async function unpauseReportSchedule(
  deps: ReportScheduleServiceDeps,
  caller: ReportScheduleCaller,
  id: string,
  note?: string,
) {
  await assertFlowAccepting(deps.prisma, caller.tenantId, 'reports');
  return onSchedule(
    deps,
    caller,
    id,
    'unpaused',
    (handle) => handle.unpause(scheduleNoteForTemporal.unpaused),
    note ? { note } : undefined,
  );
}

/**
 * Starts a run now; under the skip-overlap policy it is skipped while a run is still going.
 * Refused with 423 FLOW_PAUSED while the tenant's reports flow is paused.
 */
export async function triggerReportSchedule(deps: ReportScheduleServiceDeps, caller: ReportScheduleCaller, id: string) {
  await assertFlowAccepting(deps.prisma, caller.tenantId, 'reports');
  return onSchedule(deps, caller, id, 'triggered', (handle) => handle.trigger());
}

/**
 * Deletes the Temporal Schedule and the row; the reports it made stay (their scheduleId is
 * cleared). A Schedule already gone is not an error, so a retry after a failure finishes the job.
 */
export async function deleteReportSchedule(deps: ReportScheduleServiceDeps, caller: ReportScheduleCaller, id: string) {
  const row = await findSchedule(deps.prisma, caller.tenantId, id);
  try {
    await deps.temporal.schedule.getHandle(row.scheduleId).delete();
  } catch (error) {
    if (!(error instanceof ScheduleNotFoundError)) throw error;
  }
  await deps.prisma.reportSchedule.deleteMany({ where: { id, tenantId: caller.tenantId } });
  await writeAudit(deps.prisma, {
    tenantId: caller.tenantId,
    actor: caller.actor,
    action: 'report-schedule.deleted',
    entityType: 'ReportSchedule',
    entityId: id,
  });
}
