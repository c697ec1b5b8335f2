import { PLATFORM_TENANT_ID } from '../../auth';
import { isTenantScope, type OperationsScope } from './scope';

/**
 * Visibility queries (Temporal's List Filter) built from validated values only, with every
 * literal quoted and escaped all the same, so no value can end its string and add a clause.
 */

/** Execution statuses as the API names them, and as a List Filter spells them. */
export const executionStatuses = {
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Canceled',
  terminated: 'Terminated',
  'timed-out': 'TimedOut',
  'continued-as-new': 'ContinuedAsNew',
} as const;

export type ExecutionStatus = keyof typeof executionStatuses;
export const executionStatusNames = Object.keys(executionStatuses) as ExecutionStatus[];

/** The API's name for a List Filter status (`TimedOut` → `timed-out`); undefined for one it does not know. */
export function executionStatusOf(visibilityName: string): ExecutionStatus | undefined {
  return executionStatusNames.find((name) => executionStatuses[name] === visibilityName);
}

/**
 * A List Filter string literal: double-quoted, with backslashes and quotes escaped. Control
 * characters never reach a query (the API's schemas refuse them); they are refused here too.
 */
export function quote(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new RangeError('a visibility literal cannot hold control characters');
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * The scope's clause: one tenant's flows by their TenantId search attribute, or (across tenants)
 * every flow that carries one, the platform's own included.
 */
export function scopeClause(scope: OperationsScope): string {
  return isTenantScope(scope) ? `TenantId = ${quote(scope.tenantId)}` : 'TenantId IS NOT NULL';
}

/** `Field = "a" OR Field = "b"` in parentheses; one value needs none. */
export function anyOf(field: string, values: readonly string[]): string {
  if (values.length === 0) throw new RangeError(`anyOf(${field}) needs at least one value`);
  const terms = values.map((value) => `${field} = ${quote(value)}`);
  return terms.length === 1 ? terms[0]! : `(${terms.join(' OR ')})`;
}

export interface WorkflowFilter {
  workflowType?: string;
  status?: ExecutionStatus;
  flowStatus?: string;
  businessKey?: string;
  /** Started at or after. */
  since?: Date;
}

/** The List Filter of GET /api/v1/workflows: always the scope, then each filter given. */
export function workflowListQuery(scope: OperationsScope, filter: WorkflowFilter = {}): string {
  const clauses = [scopeClause(scope)];
  if (filter.workflowType) clauses.push(`WorkflowType = ${quote(filter.workflowType)}`);
  if (filter.status) clauses.push(`ExecutionStatus = ${quote(executionStatuses[filter.status])}`);
  if (filter.flowStatus) clauses.push(`FlowStatus = ${quote(filter.flowStatus)}`);
  if (filter.businessKey) clauses.push(`BusinessKey = ${quote(filter.businessKey)}`);
  if (filter.since) clauses.push(`StartTime >= ${quote(filter.since.toISOString())}`);
  return clauses.join(' AND ');
}

/** Whether a TenantId names a tenant row (not the platform's own flows). */
export const isTenantRowId = (tenantId: string | null | undefined): tenantId is string =>
  typeof tenantId === 'string' && tenantId.length > 0 && tenantId !== PLATFORM_TENANT_ID;
