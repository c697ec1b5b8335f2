import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { writeAudit } from '../../activities/audit';
import { flowByName, flowCatalog, type FlowDefinition } from '../../domain/flow-catalog';
import { isUniqueViolation, type PrismaClient } from '../../lib/db';
import { classifyDatabaseError } from '../../lib/db-errors';
import type { Principal } from '../auth';
import { AppError } from '../errors';
import { isTenantScope, resolveOperationsScope } from './operations/scope';

/**
 * Pausing a flow for a tenant (POST /api/v1/flows/:flow/pause): the API refuses the flow's new
 * starts with 423 FLOW_PAUSED, and for `reports` the tenant's report Schedules are paused too.
 * Runs already going continue, and signals and Updates still reach them: a pause stops new work
 * coming in, it does not freeze work in flight. The pause is a FlowPause row, so every API
 * instance sees it at once and it survives restarts.
 */

export interface FlowPauseDeps {
  prisma: PrismaClient;
  temporal: Client;
}

export interface FlowPauseCaller {
  tenantId: string;
  actor: string;
}

type FlowPauseRow = Awaited<ReturnType<PrismaClient['flowPause']['findFirstOrThrow']>>;

/** The flows whose Temporal Schedules pause with them: only reports have tenant Schedules today. */
const SCHEDULED_FLOW = 'reports';

/** The note a Schedule paused with its flow carries, so the Web UI and CLI say why it is paused. */
export function flowPauseScheduleNote(flow: string, pausedAt: Date): string {
  return `Paused with the tenant's ${flow} flow (paused at ${pausedAt.toISOString()}); resume the flow to unpause it`;
}

const UNPAUSE_NOTE = 'Unpaused: the flow was resumed';

/** How a pause is shown: who paused the flow, when, why, and which Schedules it paused. */
export function presentFlowPause(row: FlowPauseRow) {
  return {
    reason: row.reason,
    pausedBy: row.pausedBy,
    pausedAt: row.pausedAt.toISOString(),
    pausedSchedules: row.pausedSchedules,
  };
}

/** One catalog flow of a tenant as GET /api/v1/flows lists it. */
function presentFlow(flow: FlowDefinition, row: FlowPauseRow | undefined) {
  return {
    flow: flow.name,
    label: flow.label,
    workflowType: flow.workflowType,
    pausable: flow.pausable,
    paused: row !== undefined,
    pause: row ? presentFlowPause(row) : null,
  };
}

/**
 * The tenant an operations request is about, resolved as every operations route resolves it
 * ({@link resolveOperationsScope}): a tenant's token is about its own tenant (naming another is
 * 403, whatever that tenant is, so nothing is learnt about it); a platform admin names one with
 * `?tenantId=`, which must exist (404 TENANT_NOT_FOUND otherwise).
 *
 * @throws 400 TENANT_REQUIRED when a platform admin names none and `required` is set.
 */
export async function tenantInScope(
  prisma: PrismaClient,
  principal: Principal,
  named: string | undefined,
  options: { required: true },
): Promise<string>;
export async function tenantInScope(
  prisma: PrismaClient,
  principal: Principal,
  named: string | undefined,
  options: { required: false },
): Promise<string | undefined>;
export async function tenantInScope(
  prisma: PrismaClient,
  principal: Principal,
  named: string | undefined,
  { required }: { required: boolean },
): Promise<string | undefined> {
  const scope = await resolveOperationsScope(prisma, principal, named);
  if (isTenantScope(scope)) return scope.tenantId;
  if (!required) return undefined;
  throw new AppError(400, 'TENANT_REQUIRED', 'A platform admin names the tenant with ?tenantId=');
}

/** The catalog's tenant flow named `name`. @throws 404 FLOW_NOT_FOUND for any other name. */
export function tenantFlow(name: string): FlowDefinition {
  const flow = flowByName(name);
  if (!flow || flow.scope !== 'tenant') {
    throw new AppError(404, 'FLOW_NOT_FOUND', `There is no flow named '${name}'`, {
      flow: name,
      known: flowCatalog.filter((known) => known.scope === 'tenant').map((known) => known.name),
    });
  }
  return flow;
}

function pausableFlow(name: string): FlowDefinition {
  const flow = tenantFlow(name);
  if (!flow.pausable) {
    throw new AppError(409, 'FLOW_NOT_PAUSABLE', `The ${flow.label} flow cannot be paused`, { flow: flow.name });
  }
  return flow;
}

/** The tenant's paused flows, oldest pause first. */
export function listFlowPauses(prisma: PrismaClient, tenantId: string) {
  return prisma.flowPause.findMany({ where: { tenantId }, orderBy: [{ pausedAt: 'asc' }, { flow: 'asc' }] });
}

/** Every tenant flow of the catalog, pausable or not, with its pause if it has one. */
export async function listFlows(prisma: PrismaClient, tenantId: string) {
  const pauses = new Map((await listFlowPauses(prisma, tenantId)).map((row) => [row.flow, row]));
  return {
    tenantId,
    flows: flowCatalog
      .filter((flow) => flow.scope === 'tenant')
      .map((flow) => presentFlow(flow, pauses.get(flow.name))),
  };
}

/** The error a start of a paused flow answers: what is paused, since when, by whom, and how to resume it. */
function flowPaused(row: FlowPauseRow): AppError {
  const flow = flowByName(row.flow);
  const because = row.reason ? ` (${row.reason})` : '';
  return new AppError(
    423,
    'FLOW_PAUSED',
    `The ${flow?.label ?? row.flow} flow is paused for this tenant since ${row.pausedAt.toISOString()} by ` +
      `${row.pausedBy}${because}: it starts no new runs, while runs already going continue. ` +
      `An operator resumes it with POST /api/v1/flows/${row.flow}/resume.`,
    { flow: row.flow, pausedAt: row.pausedAt.toISOString(), pausedBy: row.pausedBy, reason: row.reason },
  );
}

/**
 * Refuses a new run of `flow` for the tenant while the flow is paused; called by every API path
 * that starts one, before it records or starts anything.
 *
 * @throws 423 FLOW_PAUSED with details `{ flow, pausedAt, pausedBy, reason }`.
 */
export async function assertFlowAccepting(prisma: PrismaClient, tenantId: string, flow: string): Promise<void> {
  const row = await prisma.flowPause.findUnique({ where: { tenantId_flow: { tenantId, flow } } });
  if (row) throw flowPaused(row);
}

/** The Temporal Schedule IDs of the tenant's Schedules that run `flow`. */
async function schedulesOf(prisma: PrismaClient, tenantId: string, flow: string): Promise<string[]> {
  if (flow !== SCHEDULED_FLOW) return [];
  const rows = await prisma.reportSchedule.findMany({
    where: { tenantId },
    select: { scheduleId: true },
    orderBy: { createdAt: 'asc' },
  });
  return rows.map((row) => row.scheduleId);
}

/**
 * Pauses each of the flow's Schedules that is running and answers those it paused; one already
 * paused (by hand, or by this pause before) is left as it is, and so is one that has gone missing.
 */
async function pauseRunningSchedules(deps: FlowPauseDeps, row: FlowPauseRow): Promise<string[]> {
  const paused: string[] = [];
  for (const scheduleId of await schedulesOf(deps.prisma, row.tenantId, row.flow)) {
    if (row.pausedSchedules.includes(scheduleId)) continue;
    const handle = deps.temporal.schedule.getHandle(scheduleId);
    try {
      const { state } = await handle.describe();
      if (state.paused) continue;
      await handle.pause(flowPauseScheduleNote(row.flow, row.pausedAt));
      paused.push(scheduleId);
    } catch (error) {
      if (!(error instanceof ScheduleNotFoundError)) throw error;
    }
  }
  return paused;
}

async function unpauseSchedules(temporal: Client, scheduleIds: string[]): Promise<string[]> {
  const unpaused: string[] = [];
  for (const scheduleId of scheduleIds) {
    try {
      await temporal.schedule.getHandle(scheduleId).unpause(UNPAUSE_NOTE);
      unpaused.push(scheduleId);
    } catch (error) {
      // Deleted while the flow was paused: nothing left to unpause.
      if (!(error instanceof ScheduleNotFoundError)) throw error;
    }
  }
  return unpaused;
}

/**
 * Adds Schedules this pause paused to its row. When the flow was resumed meanwhile (the row is
 * gone), they are unpaused again, so no Schedule stays paused by a pause that no longer exists.
 */
async function recordPausedSchedules(deps: FlowPauseDeps, row: FlowPauseRow, scheduleIds: string[]) {
  if (scheduleIds.length === 0) return row;
  const { count } = await deps.prisma.flowPause.updateMany({
    where: { tenantId: row.tenantId, flow: row.flow },
    data: { pausedSchedules: { push: scheduleIds } },
  });
  if (count === 0) {
    await unpauseSchedules(deps.temporal, scheduleIds);
    return row;
  }
  return deps.prisma.flowPause.findUniqueOrThrow({
    where: { tenantId_flow: { tenantId: row.tenantId, flow: row.flow } },
  });
}

/**
 * Pauses the tenant's `flow`: new starts answer 423 FLOW_PAUSED from now on, and the flow's running
 * Schedules are paused with a note naming the pause. Pausing a paused flow answers the existing
 * pause unchanged (`changed: false`); it also pauses a Schedule an earlier attempt could not reach.
 *
 * @throws 404 FLOW_NOT_FOUND, 409 FLOW_NOT_PAUSABLE.
 */
export async function pauseFlow(deps: FlowPauseDeps, caller: FlowPauseCaller, name: string, reason?: string) {
  const flow = pausableFlow(name);
  const { tenantId, actor } = caller;
  const key = { tenantId_flow: { tenantId, flow: flow.name } };
  let row: FlowPauseRow;
  let changed = true;
  try {
    row = await deps.prisma.flowPause.create({
      data: { tenantId, flow: flow.name, reason: reason ?? null, pausedBy: actor },
    });
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    row = await deps.prisma.flowPause.findUniqueOrThrow({ where: key });
    changed = false;
  }
  const pausedNow = await pauseRunningSchedules(deps, row);
  row = await recordPausedSchedules(deps, row, pausedNow);
  if (changed || pausedNow.length > 0) {
    await writeAudit(deps.prisma, {
      tenantId,
      actor,
      action: 'flow.paused',
      entityType: 'Flow',
      entityId: flow.name,
      details: { ...(reason ? { reason } : {}), pausedSchedules: pausedNow, alreadyPaused: !changed },
    });
  }
  return { ...presentFlow(flow, row), changed };
}

/**
 * Resumes the tenant's `flow`: starts are accepted again, and exactly the Schedules its pause
 * paused are unpaused (one paused by hand before the pause stays paused). Resuming a flow that is
 * not paused answers it as it is (`changed: false`).
 *
 * @throws 404 FLOW_NOT_FOUND, 409 FLOW_NOT_PAUSABLE.
 */
export async function resumeFlow(deps: FlowPauseDeps, caller: FlowPauseCaller, name: string) {
  const flow = pausableFlow(name);
  const { tenantId, actor } = caller;
  const key = { tenantId_flow: { tenantId, flow: flow.name } };
  const before = await deps.prisma.flowPause.findUnique({ where: key });
  if (!before) return { ...presentFlow(flow, undefined), changed: false };
  // The Schedules first, while the pause still lists them: if Temporal fails half-way, the flow
  // stays paused with its list whole, and resuming again unpauses the rest.
  const unpaused = await unpauseSchedules(deps.temporal, before.pausedSchedules);
  let row: FlowPauseRow;
  try {
    // Deleting answers the row as it was at that instant: a Schedule recorded by a concurrent
    // pause or creation either made it into this list, or finds the row gone and unpauses itself.
    row = await deps.prisma.flowPause.delete({ where: key });
  } catch (error) {
    // P2025: another resume got there first and answers for it.
    if (classifyDatabaseError(error)?.prismaCode !== 'P2025') throw error;
    return { ...presentFlow(flow, undefined), changed: false };
  }
  const joinedSince = row.pausedSchedules.filter((scheduleId) => !before.pausedSchedules.includes(scheduleId));
  unpaused.push(...(await unpauseSchedules(deps.temporal, joinedSince)));
  await writeAudit(deps.prisma, {
    tenantId,
    actor,
    action: 'flow.resumed',
    entityType: 'Flow',
    entityId: flow.name,
    details: {
      pausedAt: row.pausedAt.toISOString(),
      pausedBy: row.pausedBy,
      unpausedSchedules: unpaused,
    },
  });
  return { ...presentFlow(flow, undefined), changed: true, unpausedSchedules: unpaused };
}

/**
 * The state a new Schedule of `flow` starts in: paused with the pause's note while the flow is
 * paused, so not one run fires between its creation and its pause. Follow it with
 * {@link joinFlowPause} once the Schedule exists.
 */
export async function initialScheduleState(
  prisma: PrismaClient,
  tenantId: string,
  flow: string,
): Promise<{ paused: true; note: string } | undefined> {
  const row = await prisma.flowPause.findUnique({ where: { tenantId_flow: { tenantId, flow } } });
  return row ? { paused: true, note: flowPauseScheduleNote(flow, row.pausedAt) } : undefined;
}

/**
 * Records a Schedule created paused with its flow in the pause, so resuming the flow unpauses it;
 * if the flow was resumed in between, the Schedule is unpaused at once.
 */
export async function joinFlowPause(deps: FlowPauseDeps, tenantId: string, flow: string, scheduleId: string) {
  const { count } = await deps.prisma.flowPause.updateMany({
    where: { tenantId, flow, NOT: { pausedSchedules: { has: scheduleId } } },
    data: { pausedSchedules: { push: scheduleId } },
  });
  if (count > 0) return;
  const still = await deps.prisma.flowPause.findUnique({ where: { tenantId_flow: { tenantId, flow } } });
  if (!still) await unpauseSchedules(deps.temporal, [scheduleId]);
}

/**
 * Brings a Schedule of `flow` that now exists in line with the flow's pause, once it has been
 * created (or found) in `createdPaused` state. A pause committed after the creation read the
 * pause state, or one the Schedule missed (an earlier attempt that created it unpaused), is
 * caught here: the Schedule is paused with the pause's note and joins its list.
 */
export async function settleWithFlowPause(
  deps: FlowPauseDeps,
  tenantId: string,
  flow: string,
  scheduleId: string,
  createdPaused: boolean,
) {
  if (createdPaused) return joinFlowPause(deps, tenantId, flow, scheduleId);
  const row = await deps.prisma.flowPause.findUnique({ where: { tenantId_flow: { tenantId, flow } } });
  if (!row || row.pausedSchedules.includes(scheduleId)) return;
  const handle = deps.temporal.schedule.getHandle(scheduleId);
  const { state } = await handle.describe();
  // Paused by hand, and not by this pause: it stays as its owner left it.
  if (state.paused && state.note !== flowPauseScheduleNote(flow, row.pausedAt)) return;
  if (!state.paused) await handle.pause(flowPauseScheduleNote(flow, row.pausedAt));
  await joinFlowPause(deps, tenantId, flow, scheduleId);
}
