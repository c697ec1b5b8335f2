import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import {
  isGrpcServiceError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { temporal as proto } from '@temporalio/proto';
import { flowByName, flowByWorkflowType, statusCategory, type FlowDefinition } from '../../../domain/flow-catalog';
import { AppError, httpCodeOf } from '../../errors';
import { auditOperation } from './audit';
import type { OperationsActor, OperationsDeps } from './operations-deps';
import { presentPendingActivity } from './pending-activities';
import { inScope, type OperationsScope } from './scope';
import {
  closeFailure,
  executionStatusName,
  holdfastAttributes,
  isoTime,
  pendingTimers,
  readablePendingActivities,
  readHistory,
  type HistoryEvent,
  resetPoint,
  webUiLinks,
} from './temporal-records';
import { workflowListQuery, type ExecutionStatus } from './visibility-query';

/**
 * The operations API's view of workflows, scoped to a tenant by the TenantId search attribute
 * (never the workflow ID's shape): list, describe, cancel, terminate, reset, and the flows' "do it
 * now" actions. Express-free, so the console calls the same functions.
 */

type RawExecutionInfo = proto.api.workflow.v1.IWorkflowExecutionInfo;
type RawDescription = proto.api.workflowservice.v1.IDescribeWorkflowExecutionResponse;

/** How long the describe waits for the flow's state query before answering without it. */
const STATE_QUERY_DEADLINE_MS = 3_000;

/**
 * How long a "do it now" action waits for the flow to answer. A worker answers in well under a
 * second; without one (a deployment in progress, workers down) the Update would wait for ever.
 */
export const FLOW_ACTION_DEADLINE_MS = 10_000;

export const workflowNotFound = (workflowId: string) =>
  new AppError(404, 'WORKFLOW_NOT_FOUND', 'No such workflow', { workflowId });

const workflowClosed = (workflowId: string, status: string) =>
  new AppError(409, 'WORKFLOW_CLOSED', `The workflow is ${status}; only a running workflow takes this`, {
    workflowId,
    status,
  });

const isGrpc = (error: unknown, code: GrpcStatus) => isGrpcServiceError(error) && error.code === code;

/** One run as lists show it. */
export function presentExecution(deps: Pick<OperationsDeps, 'uiUrl' | 'temporal'>, info: RawExecutionInfo) {
  const workflowType = info.type?.name ?? '';
  const flow = flowByWorkflowType(workflowType);
  const attributes = holdfastAttributes(info.searchAttributes?.indexedFields);
  const workflowId = info.execution?.workflowId ?? '';
  const runId = info.execution?.runId ?? '';
  return {
    workflowId,
    runId,
    flow: flow?.name ?? null,
    workflowType,
    status: executionStatusName(info.status),
    flowStatus: attributes.flowStatus,
    category: flow && attributes.flowStatus ? (statusCategory(flow, attributes.flowStatus) ?? null) : null,
    businessKey: attributes.businessKey,
    tenantId: attributes.tenantId,
    startTime: isoTime(info.startTime),
    closeTime: isoTime(info.closeTime),
    links: { webUi: webUiLinks(deps.uiUrl, deps.temporal.options.namespace).workflow(workflowId, runId) },
  };
}

export type WorkflowListItem = ReturnType<typeof presentExecution>;

export interface WorkflowListInput {
  /** The catalog's short name. */
  type?: string;
  status?: ExecutionStatus;
  flowStatus?: string;
  businessKey?: string;
  since?: Date;
  pageSize: number;
  /** Opaque: Temporal's next page token, signed with the query it pages (see encodePageToken). */
  pageToken?: string;
}

/** Signs page tokens when no secret is configured: such tokens are good only for this process. */
const processPageTokenSecret = randomBytes(32).toString('hex');

/** The signature binding a page token to the query it pages through. */
function pageTokenSignature(secret: string = processPageTokenSecret, query: string, token: Buffer): Buffer {
  return createHmac('sha256', secret)
    .update('workflow-list-page\0')
    .update(query)
    .update('\0')
    .update(token)
    .digest()
    .subarray(0, 16);
}

/** Temporal's next page token, signed with the query: `<token>.<signature>`, both base64url. */
function encodePageToken(secret: string | undefined, query: string, token: Buffer): string {
  return `${token.toString('base64url')}.${pageTokenSignature(secret, query, token).toString('base64url')}`;
}

function decodePageToken(
  secret: string | undefined,
  query: string,
  pageToken: string | undefined,
): Uint8Array | undefined {
  if (pageToken === undefined) return undefined;
  const [token, signature, ...rest] = pageToken.split('.');
  if (!token || !signature || rest.length > 0) throw invalidPageToken();
  const bytes = Buffer.from(token, 'base64url');
  const expected = pageTokenSignature(secret, query, bytes);
  const given = Buffer.from(signature, 'base64url');
  if (bytes.length === 0 || given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw invalidPageToken();
  }
  return bytes;
}

const invalidPageToken = () =>
  new AppError(400, 'INVALID_PAGE_TOKEN', 'The pageToken is not one this list answered; start again without it');

/** A catalog flow by short name, 400 for one the catalog does not have. */
function catalogFlow(name: string): FlowDefinition {
  const flow = flowByName(name);
  if (!flow) throw new AppError(400, 'UNKNOWN_FLOW', `There is no flow named '${name}'`, { flow: name });
  return flow;
}

/**
 * A page of the scope's workflows, newest first, through Temporal's own paging. The List Filter
 * always names the scope's TenantId; the answer also links the same list in the Web UI.
 */
export async function listWorkflows(deps: OperationsDeps, scope: OperationsScope, input: WorkflowListInput) {
  const flow = input.type ? catalogFlow(input.type) : undefined;
  const query = workflowListQuery(scope, {
    workflowType: flow?.workflowType,
    status: input.status,
    flowStatus: input.flowStatus,
    businessKey: input.businessKey,
    since: input.since,
  });
  let page;
  try {
    page = await deps.temporal.workflowService.listWorkflowExecutions({
      namespace: deps.temporal.options.namespace,
      query,
      pageSize: input.pageSize,
      nextPageToken: decodePageToken(deps.pageTokenSecret, query, input.pageToken),
    });
  } catch (error) {
    if (input.pageToken !== undefined && isGrpc(error, GrpcStatus.INVALID_ARGUMENT)) throw invalidPageToken();
    throw error;
  }
  const next = page.nextPageToken && page.nextPageToken.length > 0 ? Buffer.from(page.nextPageToken) : undefined;
  return {
    workflows: (page.executions ?? []).map((info) => presentExecution(deps, info)),
    nextPageToken: next ? encodePageToken(deps.pageTokenSecret, query, next) : null,
    query,
    links: { webUi: webUiLinks(deps.uiUrl, deps.temporal.options.namespace).list(query) },
  };
}

/**
 * The run's description when the scope may see it. A run of another tenant is answered exactly
 * as a missing one: 404 WORKFLOW_NOT_FOUND.
 */
export async function describeInScope(
  deps: Pick<OperationsDeps, 'temporal'>,
  scope: OperationsScope,
  workflowId: string,
  runId?: string,
): Promise<{ raw: RawDescription; info: RawExecutionInfo; tenantId: string | null }> {
  let raw: RawDescription;
  try {
    raw = await deps.temporal.workflowService.describeWorkflowExecution({
      namespace: deps.temporal.options.namespace,
      execution: { workflowId, runId },
    });
  } catch (error) {
    if (isGrpc(error, GrpcStatus.NOT_FOUND) || isGrpc(error, GrpcStatus.INVALID_ARGUMENT)) {
      throw workflowNotFound(workflowId);
    }
    throw error;
  }
  const info = raw.workflowExecutionInfo;
  const tenantId = holdfastAttributes(info?.searchAttributes?.indexedFields).tenantId;
  if (!info || !tenantId || !inScope(scope, tenantId)) throw workflowNotFound(workflowId);
  return { raw, info, tenantId };
}

/** The flow's business state from its state query, or why it could not be read. */
async function flowState(
  deps: Pick<OperationsDeps, 'temporal'>,
  flow: FlowDefinition | undefined,
  workflowId: string,
  runId: string,
): Promise<{ state: unknown; stateError: string | null }> {
  if (!flow?.stateQuery) return { state: null, stateError: null };
  const queryName = flow.stateQuery;
  try {
    const state = await deps.temporal.withDeadline(Date.now() + STATE_QUERY_DEADLINE_MS, () =>
      deps.temporal.workflow.getHandle(workflowId, runId).query(queryName),
    );
    return { state, stateError: null };
  } catch (error) {
    // No worker polls (a deployment in progress), the query timed out, or the run is gone: the rest still answers.
    const reason = isGrpc(error, GrpcStatus.DEADLINE_EXCEEDED)
      ? 'No worker answered the state query in time'
      : error instanceof Error
        ? error.message
        : String(error);
    return { state: null, stateError: reason };
  }
}

/**
 * Everything an operator asks of one run: what it is, how it stands (execution status and
 * FlowStatus), its business state, the steps being retried with their last failure and next
 * attempt, its timers, the failure that closed it, and the actions that apply now.
 */
export async function describeWorkflow(
  deps: OperationsDeps,
  scope: OperationsScope,
  workflowId: string,
  runId?: string,
) {
  const { raw, info } = await describeInScope(deps, scope, workflowId, runId);
  const summary = presentExecution(deps, info);
  const flow = flowByWorkflowType(summary.workflowType);
  const running = summary.status === 'running';
  const history = running
    ? await readHistory(deps.temporal, { workflowId, runId: summary.runId })
    : summary.status === 'failed' || summary.status === 'timed-out'
      ? await readHistory(deps.temporal, { workflowId, runId: summary.runId }, { closeEventOnly: true })
      : [];
  const { state, stateError } = await flowState(deps, flow, workflowId, summary.runId);
  return {
    ...summary,
    flowLabel: flow?.label ?? null,
    taskQueue: info.taskQueue ?? null,
    executionTime: isoTime(info.executionTime),
    historyLength: Number(info.historyLength ?? 0),
    searchAttributes: {
      TenantId: summary.tenantId,
      BusinessKey: summary.businessKey,
      FlowStatus: summary.flowStatus,
    },
    state,
    stateError,
    pendingActivities: (await readablePendingActivities(deps.temporal, workflowId, raw.pendingActivities)).map(
      presentPendingActivity,
    ),
    pendingTimers: running ? pendingTimers(history) : [],
    failure: running ? null : await closeFailure(deps.temporal, workflowId, history.at(-1)),
    actions: running ? availableActions(flow, summary.flowStatus) : [],
  };
}

export type WorkflowDescription = Awaited<ReturnType<typeof describeWorkflow>>;

function availableActions(flow: FlowDefinition | undefined, flowStatus: string | null) {
  if (!flow || !flowStatus) return [];
  return flow.actions
    .filter((action) => action.whenStatus.includes(flowStatus))
    .map(({ name, label, description }) => ({ name, label, description }));
}

/** The run a mutating action applies to: described in scope, and still running. */
async function runningInScope(deps: OperationsDeps, scope: OperationsScope, workflowId: string) {
  const described = await describeInScope(deps, scope, workflowId);
  const summary = presentExecution(deps, described.info);
  if (summary.status !== 'running') throw workflowClosed(workflowId, summary.status);
  return { ...described, summary };
}

/**
 * What Temporal records as the reason of an operator's cancel, terminate or reset. Temporal keeps
 * that text in clear in the history, out of the codec's reach, and an operator's own words may
 * name the person concerned: they stay in the audit row in PostgreSQL, which goes with the tenant's
 * other rows when those are deleted (a tenant's erasure shreds Temporal payloads only).
 */
export const reasonForTemporal = {
  cancel: 'Cancelled by an operator; the reason is in the audit log',
  terminate: 'Terminated by an operator; the reason is in the audit log',
  reset: 'Reset by an operator; the reason is in the audit log',
  discard: 'Discarded from the dead-letter inbox; the reason is in the audit log',
} as const;

/**
 * The identity Temporal records for an operator's request. The operator (a token's subject, which
 * some identity providers make an e-mail address) is in the audit row, not in the history.
 */
export const OPERATIONS_IDENTITY = 'holdfast-operations';

/** Asks the run to cancel: the flow's own clean-up runs and decides how it ends. */
export async function cancelWorkflow(
  deps: OperationsDeps,
  scope: OperationsScope,
  { actor }: OperationsActor,
  workflowId: string,
  reason?: string,
) {
  const { summary, tenantId } = await runningInScope(deps, scope, workflowId);
  try {
    await deps.temporal.workflowService.requestCancelWorkflowExecution({
      namespace: deps.temporal.options.namespace,
      workflowExecution: { workflowId, runId: summary.runId },
      identity: OPERATIONS_IDENTITY,
      requestId: randomUUID(),
      reason: reasonForTemporal.cancel,
    });
  } catch (error) {
    if (isGrpc(error, GrpcStatus.NOT_FOUND)) throw workflowClosed(workflowId, 'closed');
    throw error;
  }
  await auditOperation(deps, tenantId, {
    actor,
    action: 'workflow.cancel-requested',
    entityType: 'Workflow',
    entityId: workflowId,
    details: { runId: summary.runId, flow: summary.flow, reason: reason ?? null },
  });
  return { workflowId, runId: summary.runId, cancelRequested: true };
}

/** Ends the run at once, without its clean-up: for a flow that cannot end any other way. */
export async function terminateWorkflow(
  deps: OperationsDeps,
  scope: OperationsScope,
  { actor }: OperationsActor,
  workflowId: string,
  reason: string,
) {
  const { summary, tenantId } = await runningInScope(deps, scope, workflowId);
  try {
    await deps.temporal.workflow.getHandle(workflowId, summary.runId).terminate(reasonForTemporal.terminate);
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw workflowClosed(workflowId, 'closed');
    throw error;
  }
  await auditOperation(deps, tenantId, {
    actor,
    action: 'workflow.terminated',
    entityType: 'Workflow',
    entityId: workflowId,
    details: { runId: summary.runId, flow: summary.flow, reason },
  });
  return { workflowId, runId: summary.runId, terminated: true };
}

export interface ResetRequest {
  reason: string;
  to: 'first' | 'last';
  /** Makes a repeated request (the same key) reset once. */
  requestId?: string;
}

/** Temporal's refusals of a reset, as answers an operator can act on. */
function resetRefused(workflowId: string, runId: string, error: unknown): unknown {
  if (isGrpc(error, GrpcStatus.NOT_FOUND)) return workflowNotFound(workflowId);
  if (isGrpc(error, GrpcStatus.INVALID_ARGUMENT) || isGrpc(error, GrpcStatus.FAILED_PRECONDITION)) {
    return new AppError(
      409,
      'NOT_RESETTABLE',
      `Temporal refused the reset: ${isGrpcServiceError(error) ? error.details : ''}`,
      {
        workflowId,
        runId,
      },
    );
  }
  return error;
}

/**
 * Resets a run: a new run replays its history up to the chosen workflow task and goes on from
 * there (see {@link resetPoint}); the old run ends. Bull's "retry a failed job". Works on
 * running and closed runs alike, but only on the workflow's current run: resetting a run that
 * was already replaced (by an earlier reset, a rerun, the Web UI or the CLI) would terminate its
 * replacement, so that is a 409 RUN_NOT_CURRENT naming the current run.
 */
export async function resetRun(
  deps: Pick<OperationsDeps, 'temporal'>,
  { workflowId, runId }: { workflowId: string; runId: string },
  { to, requestId, atEventId }: Omit<ResetRequest, 'reason'> & { atEventId?: number },
): Promise<{ runId: string; resetToEventId: number }> {
  let events: HistoryEvent[];
  let currentRunId: string | null | undefined;
  try {
    const current = await deps.temporal.workflowService.describeWorkflowExecution({
      namespace: deps.temporal.options.namespace,
      execution: { workflowId },
    });
    currentRunId = current.workflowExecutionInfo?.execution?.runId;
    events = await readHistory(deps.temporal, { workflowId, runId });
  } catch (error) {
    throw resetRefused(workflowId, runId, error);
  }
  if (currentRunId !== runId) {
    throw new AppError(
      409,
      'RUN_NOT_CURRENT',
      'A newer run has replaced this one; resetting it would end the newer run. Look at the current run, and reset that if it needs it',
      { workflowId, runId, currentRunId: currentRunId ?? null },
    );
  }
  // A caller that chose the point from the run's history (the dead-letter inbox) names it.
  const point = atEventId ?? resetPoint(events, to);
  if (!point) {
    throw new AppError(409, 'NOT_RESETTABLE', 'The run has no completed workflow task to reset to', { workflowId });
  }
  // fromObject takes the event ID as a plain number where the typed request wants a Long.
  const request = proto.api.workflowservice.v1.ResetWorkflowExecutionRequest.fromObject({
    namespace: deps.temporal.options.namespace,
    workflowExecution: { workflowId, runId },
    reason: reasonForTemporal.reset,
    workflowTaskFinishEventId: point,
    requestId: requestId ?? randomUUID(),
  });
  let answer;
  try {
    answer = await deps.temporal.workflowService.resetWorkflowExecution(request);
  } catch (error) {
    throw resetRefused(workflowId, runId, error);
  }
  return { runId: answer.runId ?? '', resetToEventId: point };
}

/** What a reset answered, as its audit row keeps it. */
interface ResetRecord {
  previousRunId: string;
  runId: string;
  to: 'first' | 'last';
  resetToEventId: number;
}

/**
 * Resets the scope's workflow and answers the new run's ID. Only the current run resets: a
 * `runId` naming an older one is a 409 RUN_NOT_CURRENT. With a `requestId` (the caller's
 * Idempotency-Key) the reset happens once: its audit row carries the key, and a repeat answers
 * what the first request did (Temporal itself would reset the new run again).
 */
export async function resetWorkflow(
  deps: OperationsDeps,
  scope: OperationsScope,
  { actor }: OperationsActor,
  workflowId: string,
  request: ResetRequest & { runId?: string },
) {
  const { info, tenantId } = await describeInScope(deps, scope, workflowId);
  const dedupKey = request.requestId ? `workflow.reset:${request.requestId}` : undefined;
  if (dedupKey) {
    const earlier = await deps.prisma.auditLog.findUnique({ where: { dedupKey }, select: { details: true } });
    const first = earlier?.details as ResetRecord | null | undefined;
    if (first?.runId) {
      const { previousRunId, runId, to, resetToEventId } = first;
      return { workflowId, previousRunId, runId, to, resetToEventId };
    }
  }
  const previousRunId = request.runId ?? info.execution?.runId ?? '';
  const { runId, resetToEventId } = await resetRun(deps, { workflowId, runId: previousRunId }, request);
  const record: ResetRecord = { previousRunId, runId, to: request.to, resetToEventId };
  await auditOperation(deps, tenantId, {
    actor,
    action: 'workflow.reset',
    entityType: 'Workflow',
    entityId: workflowId,
    details: { ...record, reason: request.reason },
    ...(dedupKey ? { dedupKey } : {}),
  });
  return { workflowId, ...record };
}

/**
 * Runs one of the flow's "do it now" actions (domain/flow-catalog.ts) as the Update it names,
 * with `{ actor }`. The action must be the flow's (404 ACTION_NOT_FOUND) and apply in its current
 * FlowStatus (409 ACTION_NOT_AVAILABLE); the flow's own refusal is a 409 with its code.
 */
export async function runFlowAction(
  deps: OperationsDeps,
  scope: OperationsScope,
  { actor }: OperationsActor,
  workflowId: string,
  actionName: string,
) {
  const described = await describeInScope(deps, scope, workflowId);
  const summary = presentExecution(deps, described.info);
  const flow = flowByWorkflowType(summary.workflowType);
  const action = flow?.actions.find((candidate) => candidate.name === actionName);
  if (!flow || !action) {
    throw new AppError(404, 'ACTION_NOT_FOUND', `The ${flow?.label ?? 'workflow'} has no action '${actionName}'`, {
      action: actionName,
      actions: flow?.actions.map((known) => known.name) ?? [],
    });
  }
  if (summary.status !== 'running') throw workflowClosed(workflowId, summary.status);
  if (!summary.flowStatus || !action.whenStatus.includes(summary.flowStatus)) {
    throw new AppError(
      409,
      'ACTION_NOT_AVAILABLE',
      `${action.label} applies only while the flow is ${action.whenStatus.join(' or ')}`,
      {
        action: action.name,
        flowStatus: summary.flowStatus,
        whenStatus: action.whenStatus,
      },
    );
  }
  let result: unknown;
  try {
    result = await deps.temporal.withDeadline(Date.now() + FLOW_ACTION_DEADLINE_MS, () =>
      deps.temporal.workflow.getHandle(workflowId, summary.runId).executeUpdate(action.update, { args: [{ actor }] }),
    );
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw workflowClosed(workflowId, 'closed');
    if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isGrpc(error, GrpcStatus.DEADLINE_EXCEEDED)) {
      // Not refused either: Temporal may still hand the action to a worker once one polls.
      throw new AppError(
        504,
        'FLOW_NOT_ANSWERING',
        `The flow did not answer within ${FLOW_ACTION_DEADLINE_MS / 1000} s: no worker may be running for it. ` +
          'The action may still take effect when a worker picks it up; look at the flow before asking again',
        { action: action.name, workflowId, runId: summary.runId },
      );
    }
    if (error instanceof WorkflowUpdateFailedError) {
      const cause = error.cause as { type?: string; message?: string } | undefined;
      throw new AppError(
        409,
        cause?.type ? httpCodeOf(cause.type) : 'UPDATE_REJECTED',
        cause?.message ?? error.message,
        {
          action: action.name,
        },
      );
    }
    throw error;
  }
  await auditOperation(deps, described.tenantId, {
    actor,
    action: `workflow.action.${action.name}`,
    entityType: 'Workflow',
    entityId: workflowId,
    details: { runId: summary.runId, flow: flow.name, update: action.update, flowStatus: summary.flowStatus },
  });
  return { workflowId, runId: summary.runId, action: action.name, result: result ?? null };
}
