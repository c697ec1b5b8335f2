import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { loadConfig } from '../../lib/config';
import { createConfiguredCodec } from '../../lib/payload-key-scopes';
import { temporalClientOptions, temporalConnectionOptions } from '../../lib/temporal';
import { waitlistCascadeId, type WaitlistCascadeResult } from '../../workflows/waitlist-cascade.contract';
import type { HoldfastStack } from '../lib/holdfast-stack';

/** A Temporal client of the stack, decoding payloads with the stack's own keys (as its API does). */
export interface ChaosTemporal {
  client: Client;
  close(): Promise<void>;
}

export async function connectTemporal(stack: HoldfastStack): Promise<ChaosTemporal> {
  const config = loadConfig(stack.appEnv);
  const connection = await Connection.connect(temporalConnectionOptions(config.temporal));
  const codec = createConfiguredCodec(config.payloads, stack.prisma);
  const client = new Client({ connection, ...temporalClientOptions(config.temporal, codec) });
  return { client, close: () => connection.close() };
}

export function cascadeWorkflowId(stack: HoldfastStack, slotId: string): string {
  return waitlistCascadeId(stack.tenantId, slotId);
}

/** Whether the workflow exists on the server (any status). */
export async function workflowExists(client: Client, workflowId: string): Promise<boolean> {
  try {
    await client.workflow.getHandle(workflowId).describe();
    return true;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

/** The result of a completed cascade, or undefined if it has not completed (or failed). */
export async function cascadeResult(client: Client, workflowId: string): Promise<WaitlistCascadeResult | undefined> {
  const handle = client.workflow.getHandle<() => Promise<WaitlistCascadeResult>>(workflowId);
  const description = await handle.describe();
  if (description.status.name !== 'COMPLETED') return undefined;
  return handle.result();
}

export interface AttemptFigures {
  /** Activity executions that needed more than one attempt. */
  retriedActivities: number;
  /** The highest attempt any activity reached. */
  maxAttempt: number;
  /** Workflow task failures and time-outs (a killed worker's tasks time out). */
  workflowTaskTimeouts: number;
}

/** Reads the attempt counts off the histories (ActivityTaskStarted.attempt, counted once per activity). */
export async function attemptFigures(client: Client, workflowIds: readonly string[]): Promise<AttemptFigures> {
  const figures: AttemptFigures = { retriedActivities: 0, maxAttempt: 0, workflowTaskTimeouts: 0 };
  const EventType = proto.api.enums.v1.EventType;
  for (const workflowId of workflowIds) {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    for (const event of history.events ?? []) {
      if (event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED) {
        const attempt = event.activityTaskStartedEventAttributes?.attempt ?? 1;
        if (attempt > 1) figures.retriedActivities += 1;
        figures.maxAttempt = Math.max(figures.maxAttempt, attempt);
      } else if (
        event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT ||
        event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
      ) {
        figures.workflowTaskTimeouts += 1;
      }
    }
  }
  return figures;
}
