import type { Request, Router } from 'express';
import { z } from 'zod';
import { flowByName, flowCatalog, statusCategory, type StatusCategory } from '../../domain/flow-catalog';
import { DeadLetterKind } from '../../generated/prisma/enums';
import { multiLine, singleLine, uuid } from '../schemas';
import { listFlows, pauseFlow, resumeFlow } from '../services/flow-pauses';
import { discardDeadLetter, listDeadLetters, retryDeadLetter } from '../services/operations/dead-letter';
import { getStats } from '../services/operations/stats';
import { executionStatusNames } from '../services/operations/visibility-query';
import {
  cancelWorkflow,
  describeWorkflow,
  listWorkflows,
  resetWorkflow,
  runFlowAction,
  terminateWorkflow,
} from '../services/operations/workflows';
import { actOnSchedule, listSchedules, type ScheduleAction } from '../services/schedules';
import { stateRows } from './state-view';
import { CONSOLE_PATH } from './session';
import { parseForm, principal, requireOperator, type ConsoleContext } from './context';

/**
 * The console's pages. Each reads the signed-in tenant's data through the same service functions
 * the operations API calls, with the session's own tenant: the console never takes a tenant from
 * the request, so nothing of another tenant can be asked for.
 */

/** A form field left empty is a field not given. */
const optional = <Schema extends z.ZodType>(schema: Schema) =>
  z.preprocess((value) => (typeof value === 'string' && value.trim() === '' ? undefined : value), schema.optional());

const tenantFlows = flowCatalog.filter((flow) => flow.scope === 'tenant');
const flowStatusOptions = [...new Set(tenantFlows.flatMap((flow) => Object.keys(flow.statuses)))].sort();

const flowParams = z.object({ flow: singleLine(64) });
const workflowParams = z.object({ workflowId: singleLine(1000) });
const actionParams = workflowParams.extend({ action: singleLine(64) });
const scheduleActions = ['pause', 'unpause', 'trigger'] as const satisfies readonly ScheduleAction[];
const scheduleParams = z.object({ scheduleId: singleLine(1000), action: z.enum(scheduleActions) });
const noFields = z.object({ csrf: z.string() });
const optionalReasonForm = noFields.extend({ reason: optional(multiLine(500)) });
const reasonForm = noFields.extend({ reason: multiLine(500) });
const resetForm = reasonForm.extend({ to: z.enum(['first', 'last']) });

/** The Flows page's filters, from its GET form; empty selects mean "any". */
const workflowFilters = z.object({
  flow: optional(z.enum(tenantFlows.map((flow) => flow.name) as [string, ...string[]])),
  status: optional(z.enum(executionStatusNames)),
  flowStatus: optional(
    z
      .string()
      .trim()
      .regex(/^[A-Z0-9_]{1,64}$/, 'expected a FlowStatus such as NEEDS_ATTENTION'),
  ),
  businessKey: optional(singleLine(200)),
  pageToken: optional(z.string().max(4096)),
});

/** Workflows per page of the Flows list, and dead letters per page of the inbox. */
const PAGE_SIZE = 25;

const deadLetterKindLabels: Record<DeadLetterKind, string> = {
  WORKFLOW_FAILED: 'Workflow failed',
  WORKFLOW_TIMED_OUT: 'Workflow timed out',
  ACTIVITY_RETRYING: 'Step keeps failing',
  NEEDS_ATTENTION: 'Needs attention',
  NOTIFICATION_FAILED: 'Notification failed',
};

const deadLetterFilters = z.object({
  flow: optional(z.enum(tenantFlows.map((flow) => flow.name) as [string, ...string[]])),
  kind: optional(z.enum(Object.values(DeadLetterKind))),
  resolved: optional(z.literal('yes')),
  offset: optional(z.coerce.number().int().min(0).max(100_000)),
});
const deadLetterParams = z.object({ id: uuid() });
const retryForm = optionalReasonForm.extend({ mode: optional(z.enum(['reset', 'rerun'])) });

const categoryLabels: Record<StatusCategory, string> = {
  working: 'working',
  'waiting-on-person': 'waiting on a person',
  'waiting-on-timer': 'waiting on a timer',
  'needs-attention': 'needs attention',
  finished: 'finished',
};

export const categoryLabel = (category: string | null | undefined) =>
  category ? (categoryLabels[category as StatusCategory] ?? category) : '';

const workflowPath = (workflowId: string) => `${CONSOLE_PATH}/workflows/${encodeURIComponent(workflowId)}`;

const scheduleDone: Record<ScheduleAction, string> = {
  pause: 'is paused',
  unpause: 'is unpaused',
  trigger: 'runs now',
};

export function registerPages(router: Router, ctx: ConsoleContext): void {
  const { prisma, temporal, logger, operations } = ctx.deps;
  const callerOf = (req: Request) => {
    const { tenantId, subject } = principal(req);
    return { tenantId, actor: subject };
  };
  // The console's scope is always the session's own tenant (platform tokens cannot sign in).
  const scopeOf = (req: Request) => ({ tenantId: principal(req).tenantId });
  const actorOf = (req: Request) => ({ actor: principal(req).subject });

  // --- overview: stats per flow ---
  router.get('/', async (req, res) => {
    const scope = scopeOf(req);
    const [stats, inbox] = await Promise.all([
      getStats(operations, scope),
      listDeadLetters(operations, scope, { includeResolved: false, limit: 1, offset: 0 }),
    ]);
    const sum = (pick: (flow: (typeof stats.flows)[number]) => number) =>
      stats.flows.reduce((total, flow) => total + pick(flow), 0);
    await ctx.render(req, res, 'overview', {
      title: 'Overview',
      section: '',
      flows: stats.flows,
      openDeadLetters: inbox.total,
      totals: {
        running: sum((flow) => flow.counts.running),
        retrying: sum((flow) => flow.categories.retrying),
        needsAttention: sum((flow) => flow.categories.needsAttention),
        paused: stats.flows.filter((flow) => flow.paused).length,
      },
      generatedAt: stats.generatedAt,
      cachedForSeconds: Math.round(stats.cachedForMs / 1000),
      retryingScanned: stats.retryingScanned,
      retryingCapped: stats.retryingCapped,
    });
  });

  // --- dead letters ---
  router.get('/dead-letters', async (req, res) => {
    const filters = parseForm(deadLetterFilters, req.query);
    const offset = filters.offset ?? 0;
    const inbox = await listDeadLetters(operations, scopeOf(req), {
      flow: filters.flow,
      kind: filters.kind,
      includeResolved: filters.resolved === 'yes',
      limit: PAGE_SIZE,
      offset,
    });
    const pageAt = (at: number) => {
      const query = new URLSearchParams();
      for (const key of ['flow', 'kind', 'resolved'] as const) if (filters[key]) query.set(key, filters[key]);
      if (at > 0) query.set('offset', String(at));
      const text = query.toString();
      return `${CONSOLE_PATH}/dead-letters${text ? `?${text}` : ''}`;
    };
    await ctx.render(req, res, 'dead-letters', {
      title: 'Dead letters',
      section: '/dead-letters',
      filters: { ...filters, resolved: filters.resolved === 'yes' },
      flowOptions: tenantFlows,
      kindOptions: Object.entries(deadLetterKindLabels).map(([value, label]) => ({ value, label })),
      total: inbox.total,
      deadLetters: inbox.deadLetters.map((item) => ({
        ...item,
        kindLabel: deadLetterKindLabels[item.kind],
        flowLabel: flowByName(item.flow)?.label ?? item.flow,
        href: workflowPath(item.workflowId),
      })),
      previousPage: offset > 0 ? pageAt(Math.max(0, offset - PAGE_SIZE)) : undefined,
      nextPage: offset + PAGE_SIZE < inbox.total ? pageAt(offset + PAGE_SIZE) : undefined,
    });
  });

  router.post('/dead-letters/:id/retry', requireOperator, async (req, res) => {
    await ctx.act(req, res, `${CONSOLE_PATH}/dead-letters`, async () => {
      const { id } = parseForm(deadLetterParams, req.params);
      const { mode, reason } = parseForm(retryForm, req.body);
      const { deadLetter, retry } = await retryDeadLetter(operations, scopeOf(req), actorOf(req), id, {
        mode: mode ?? 'reset',
        reason,
      });
      const how =
        retry.mode === 'rerun'
          ? 'a new run with the same input'
          : retry.mode === 'reset'
            ? 'a reset run'
            : 'a new send';
      return `Retried ${deadLetter.businessKey ?? deadLetter.workflowId}: ${how} is under way.`;
    });
  });

  router.post('/dead-letters/:id/discard', requireOperator, async (req, res) => {
    await ctx.act(req, res, `${CONSOLE_PATH}/dead-letters`, async () => {
      const { id } = parseForm(deadLetterParams, req.params);
      const { reason } = parseForm(reasonForm, req.body);
      const { deadLetter, terminated } = await discardDeadLetter(operations, scopeOf(req), actorOf(req), id, reason);
      return `Discarded ${deadLetter.businessKey ?? deadLetter.workflowId}${terminated ? ', and its flow is terminated' : ''}.`;
    });
  });

  // --- flows: the tenant's workflows, filtered ---
  router.get('/flows', async (req, res) => {
    const filters = parseForm(workflowFilters, req.query);
    const page = await listWorkflows(operations, scopeOf(req), {
      type: filters.flow,
      status: filters.status,
      flowStatus: filters.flowStatus,
      businessKey: filters.businessKey,
      pageSize: PAGE_SIZE,
      pageToken: filters.pageToken,
    });
    const next = page.nextPageToken
      ? `${CONSOLE_PATH}/flows?${new URLSearchParams(
          Object.entries({ ...filters, pageToken: page.nextPageToken }).filter(
            (entry): entry is [string, string] => typeof entry[1] === 'string',
          ),
        ).toString()}`
      : undefined;
    await ctx.render(req, res, 'flows', {
      title: filters.flow ? `${flowByName(filters.flow)?.label ?? filters.flow} flows` : 'Flows',
      section: '/flows',
      filters,
      flowOptions: tenantFlows,
      statusOptions: executionStatusNames,
      flowStatusOptions,
      webUiList: page.links.webUi,
      nextPage: next,
      workflows: page.workflows.map((workflow) => ({
        ...workflow,
        href: workflowPath(workflow.workflowId),
        flowLabel: (workflow.flow && flowByName(workflow.flow)?.label) ?? workflow.workflowType,
        categoryLabel: categoryLabel(workflow.category),
      })),
    });
  });

  // --- one workflow ---
  router.get('/workflows/:workflowId', async (req, res) => {
    const { workflowId } = parseForm(workflowParams, req.params);
    const workflow = await describeWorkflow(operations, scopeOf(req), workflowId);
    const flow = workflow.flow ? flowByName(workflow.flow) : undefined;
    const category = flow && workflow.flowStatus ? statusCategory(flow, workflow.flowStatus) : undefined;
    await ctx.render(req, res, 'workflow', {
      title: `${workflow.flowLabel ?? workflow.workflowType}: ${workflow.businessKey ?? workflow.workflowId}`,
      section: '/flows',
      wf: workflow,
      categoryLabel: categoryLabel(category),
      stateRows: stateRows(workflow.state),
      stateJson: workflow.state === null ? '' : JSON.stringify(workflow.state, null, 2),
      actionBase: workflowPath(workflow.workflowId),
    });
  });

  router.post('/workflows/:workflowId/cancel', requireOperator, async (req, res) => {
    const { workflowId } = parseForm(workflowParams, req.params);
    await ctx.act(req, res, workflowPath(workflowId), async () => {
      const { reason } = parseForm(optionalReasonForm, req.body);
      await cancelWorkflow(operations, scopeOf(req), actorOf(req), workflowId, reason);
      return 'Cancellation requested: the flow runs its clean-up and ends.';
    });
  });

  router.post('/workflows/:workflowId/terminate', requireOperator, async (req, res) => {
    const { workflowId } = parseForm(workflowParams, req.params);
    await ctx.act(req, res, workflowPath(workflowId), async () => {
      const { reason } = parseForm(reasonForm, req.body);
      await terminateWorkflow(operations, scopeOf(req), actorOf(req), workflowId, reason);
      return 'The workflow is terminated.';
    });
  });

  router.post('/workflows/:workflowId/reset', requireOperator, async (req, res) => {
    const { workflowId } = parseForm(workflowParams, req.params);
    await ctx.act(req, res, workflowPath(workflowId), async () => {
      const { reason, to } = parseForm(resetForm, req.body);
      const reset = await resetWorkflow(operations, scopeOf(req), actorOf(req), workflowId, { reason, to });
      return `The workflow is reset to its ${to} workflow task; the new run is ${reset.runId}.`;
    });
  });

  router.post('/workflows/:workflowId/actions/:action', requireOperator, async (req, res) => {
    const { workflowId, action } = parseForm(actionParams, req.params);
    await ctx.act(req, res, workflowPath(workflowId), async () => {
      parseForm(noFields, req.body);
      const done = await runFlowAction(operations, scopeOf(req), actorOf(req), workflowId, action);
      const label = flowCatalog.flatMap((flow) => flow.actions).find((known) => known.name === done.action)?.label;
      return `${label ?? done.action}: done.`;
    });
  });

  // --- schedules ---
  router.get('/schedules', async (req, res) => {
    const { schedules } = await listSchedules(operations, principal(req).tenantId);
    await ctx.render(req, res, 'schedules', {
      title: 'Schedules',
      section: '/schedules',
      schedules: schedules.map((schedule) => ({
        ...schedule,
        stateLabel:
          schedule.state === 'PAUSED' ? 'Paused' : schedule.state === 'ACTIVE' ? 'Active' : 'Missing in Temporal',
      })),
    });
  });

  router.post('/schedules/:scheduleId/:action', requireOperator, async (req, res) => {
    const { scheduleId, action } = parseForm(scheduleParams, req.params);
    await ctx.act(req, res, `${CONSOLE_PATH}/schedules`, async () => {
      parseForm(noFields, req.body);
      const caller = { principal: principal(req), tenantId: principal(req).tenantId, logger };
      await actOnSchedule(operations, caller, scheduleId, action);
      return `Schedule ${scheduleId} ${scheduleDone[action]}.`;
    });
  });

  // --- paused flows ---
  router.get('/paused', async (req, res) => {
    const { flows } = await listFlows(prisma, principal(req).tenantId);
    await ctx.render(req, res, 'paused', {
      title: 'Paused flows',
      section: '/paused',
      flows,
      pausedCount: flows.filter((flow) => flow.paused).length,
    });
  });

  router.post('/flows/:flow/pause', requireOperator, async (req, res) => {
    await ctx.act(req, res, `${CONSOLE_PATH}/paused`, async () => {
      const { flow } = parseForm(flowParams, req.params);
      const { reason } = parseForm(optionalReasonForm, req.body);
      const paused = await pauseFlow({ prisma, temporal }, callerOf(req), flow, reason);
      return paused.changed
        ? `${paused.label} is paused: new starts are refused, runs already going continue.`
        : `${paused.label} was already paused.`;
    });
  });

  router.post('/flows/:flow/resume', requireOperator, async (req, res) => {
    await ctx.act(req, res, `${CONSOLE_PATH}/paused`, async () => {
      const { flow } = parseForm(flowParams, req.params);
      parseForm(noFields, req.body);
      const resumed = await resumeFlow({ prisma, temporal }, callerOf(req), flow);
      return resumed.changed
        ? `${resumed.label} is resumed: new starts are accepted again.`
        : `${resumed.label} was not paused.`;
    });
  });
}
