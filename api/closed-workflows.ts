import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { conflict, type AppError } from './errors';

/**
 * Runs `action` against a flow's workflow. A workflow that has closed no longer takes signals,
 * queries or Updates, and Temporal answers them as "not found"; `closed` turns that into the
 * flow's own 409, so the caller learns the flow is over rather than that it never existed.
 */
export async function whileOpen<T>(action: () => Promise<T>, closed: () => AppError | Promise<AppError>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
    throw await closed();
  }
}

/** The 409 for a flow whose workflow has closed, naming how it ended (`completed`, `failed`, …). */
export function workflowClosed(code: string, flow: string, workflowId: string, status: string): AppError {
  return conflict(code, `The ${flow} is ${status.toLowerCase()}`, { workflowId, status });
}

/** The same, with the final status read from Temporal. */
export async function describedAsClosed(
  temporal: Client,
  code: string,
  flow: string,
  workflowId: string,
): Promise<AppError> {
  const description = await temporal.workflow.getHandle(workflowId).describe();
  return workflowClosed(code, flow, workflowId, description.status.name);
}

/** The 409 for an order whose workflow has closed; the order row tells how it ended. */
export function orderClosed(status: string): AppError {
  return conflict('ORDER_CLOSED', `The order is ${status} and its workflow has finished`, { status });
}
