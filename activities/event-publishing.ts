import { Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { eventRequestHash, reportedEventKey } from '../domain/events';
import { type Prisma, type PrismaClient } from '../lib/db';
import { eventFanOutId, eventFanOutStartOptions } from '../workflows/event-fan-out.contract';
import type { TenantFairnessLookup } from '../lib/tenant-fairness';

/**
 * Publishing domain events: the row in the outbox (OutboxEvent) and the start of its fan-out
 * workflow. A flow writes its event with {@link recordEvent} in the same transaction as the change
 * the event reports, then starts the fan-out after the commit with {@link startEventFanOut}; if the
 * process dies between the two, the outbox sweep starts it. Code outside a transaction (the API,
 * another activity) uses {@link publishEvent}, which does both.
 */

/** A domain event to record: a tenant's reported event, or one of Holdfast's own. */
export interface DomainEventInput {
  tenantId: string;
  /**
   * The event's identity within the tenant: the reporter's `id` (stored as `api:{id}`, so it never
   * meets a flow's key), or a business key for a flow's event (e.g. `offer.accepted:{holdId}`), so
   * a retried step finds the row it wrote.
   */
  key: string;
  /** e.g. `ticket.created`, `order.assigned` (domain/events.ts). */
  type: string;
  subject?: { type: string; id: string };
  /** The event's data: delivered to webhooks and read by notification rules. Stays in PostgreSQL. */
  data: Record<string, unknown>;
  /** When it happened; the recording time when left out. */
  occurredAt?: Date;
  /** API for events a tenant's application reported; FLOW for Holdfast's own. */
  source: 'API' | 'FLOW';
}

/** Where fan-outs are started: the process's Temporal client and the task queue of the worker. */
export interface FanOutStarter {
  client: Client;
  taskQueue: string;
  /** The tenant's plan and weights for a fair start; without it the fan-out runs at the free plan's weight. */
  fairnessOf?: TenantFairnessLookup;
}

/**
 * The key of an event a tenant reported was used before for another event (other content, or an
 * event Holdfast published). The API answers it with 422.
 */
export class EventKeyConflict extends Error {
  constructor(readonly eventId: string) {
    super('This event ID was already used for a different event');
    this.name = 'EventKeyConflict';
  }
}

/** The failure type of a flow's event whose key is held by another kind of event. */
export const EVENT_KEY_TAKEN = 'EventKeyTaken';

/** What recording found: the row, whether this call wrote it, and whether its fan-out still has to start. */
export interface RecordedEvent {
  eventId: string;
  created: boolean;
  /**
   * The row is new, or its fan-out never began (`publishedAt` unset). A published event's fan-out
   * is not started again: once Temporal's retention has forgotten the run, a start would run it twice.
   */
  needsFanOut: boolean;
}

/**
 * Writes the event's OutboxEvent row inside the caller's transaction, once per (tenant, key): a
 * repeat finds the row (`created: false`). The insert skips a duplicate key instead of failing,
 * so it never aborts the caller's transaction.
 *
 * @throws {@link EventKeyConflict} when an API event's key names a row with other content.
 * @throws ApplicationFailure {@link EVENT_KEY_TAKEN} (non-retryable) when a flow's key names a row
 *   that is not a flow event of the same type: returning it would silently drop the flow's event.
 *   A flow's repeat is not compared further: its data may carry times of the retry.
 */
export async function recordEvent(tx: Prisma.TransactionClient, event: DomainEventInput): Promise<RecordedEvent> {
  const eventKey = event.source === 'API' ? reportedEventKey(event.key) : event.key;
  const requestHash = eventRequestHash({
    type: event.type,
    subject: event.subject ?? null,
    data: event.data,
    occurredAt: event.source === 'API' ? (event.occurredAt ?? null) : null,
  });
  const [inserted] = await tx.outboxEvent.createManyAndReturn({
    data: [
      {
        tenantId: event.tenantId,
        eventKey,
        type: event.type,
        subjectType: event.subject?.type ?? null,
        subjectId: event.subject?.id ?? null,
        payload: event.data as Prisma.InputJsonObject,
        requestHash,
        source: event.source,
        ...(event.occurredAt ? { occurredAt: event.occurredAt } : {}),
      },
    ],
    skipDuplicates: true,
    select: { id: true },
  });
  if (inserted) return { eventId: inserted.id, created: true, needsFanOut: true };
  const existing = await tx.outboxEvent.findUniqueOrThrow({
    where: { tenantId_eventKey: { tenantId: event.tenantId, eventKey } },
    select: { id: true, type: true, requestHash: true, source: true, publishedAt: true },
  });
  if (event.source === 'API' && (existing.source !== 'API' || existing.requestHash !== requestHash)) {
    throw new EventKeyConflict(existing.id);
  }
  if (event.source === 'FLOW' && (existing.source !== 'FLOW' || existing.type !== event.type)) {
    throw ApplicationFailure.nonRetryable(
      `Event key of a ${event.type} event is held by ${existing.source} event ${existing.id} of type ${existing.type}`,
      EVENT_KEY_TAKEN,
    );
  }
  return { eventId: existing.id, created: false, needsFanOut: existing.publishedAt === null };
}

/**
 * Starts the event's fan-out workflow, or finds the one already started for it: a repeat joins
 * a running fan-out, and one that completed is not run again (workflows/event-fan-out.contract.ts).
 * The fan-out marks the row published when it begins. `eventType`, when the caller knows it, names
 * a Holdfast event in the Web UI's summary (a tenant's own type is shown by the event's ID).
 */
export async function startEventFanOut(
  temporal: FanOutStarter,
  tenantId: string,
  eventId: string,
  eventType?: string,
): Promise<{ workflowId: string }> {
  const options = eventFanOutStartOptions(tenantId, eventId, await temporal.fairnessOf?.(tenantId), { eventType });
  try {
    await temporal.client.workflow.start('eventFanOutWorkflow', {
      taskQueue: temporal.taskQueue,
      args: [{ tenantId, eventId }],
      ...options,
    });
  } catch (error) {
    // REJECT for a completed fan-out: it already did its work.
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
  return { workflowId: options.workflowId };
}

export interface PublishDeps {
  prisma: PrismaClient;
  /** Absent (tests of activities that start no workflow): the outbox sweep starts the fan-out. */
  temporal?: FanOutStarter;
}

/**
 * Records an event outside any transaction and starts its fan-out. Idempotent on (tenant, key):
 * a repeat returns the first row (`created: false`) and starts nothing once the fan-out has begun
 * (`started: false`); a fan-out whose start was lost is started again here or by the sweep.
 *
 * @throws {@link EventKeyConflict} as {@link recordEvent}.
 */
export async function publishEvent(
  deps: PublishDeps,
  event: DomainEventInput,
): Promise<{ eventId: string; workflowId: string; created: boolean; started: boolean }> {
  const { eventId, created, needsFanOut } = await recordEvent(deps.prisma, event);
  const workflowId = eventFanOutId(event.tenantId, eventId);
  if (!deps.temporal || !needsFanOut) return { eventId, workflowId, created, started: false };
  await startEventFanOut(deps.temporal, event.tenantId, eventId, event.type);
  return { eventId, workflowId, created, started: true };
}

/**
 * Starts the fan-outs of events a transaction recorded, after its commit (an `undefined` entry is
 * a step that recorded nothing). Never throws: the change is committed whatever happens here, and
 * an event whose start fails, or that has no Temporal client to start with (tests of single
 * activities), is started by the outbox sweep (OUTBOX_SWEEP_GRACE_SECONDS later). A failure goes
 * to `onError`, by default a warning in the activity's log.
 */
export async function startFanOutsAfterCommit(
  temporal: FanOutStarter | undefined,
  tenantId: string,
  eventIds: ReadonlyArray<string | undefined>,
  onError: (error: unknown, eventId: string) => void = warnFanOutNotStarted(tenantId),
): Promise<void> {
  if (!temporal) return;
  for (const eventId of eventIds) {
    if (eventId === undefined) continue;
    try {
      await startEventFanOut(temporal, tenantId, eventId);
    } catch (error) {
      onError(error, eventId);
    }
  }
}

/** Logs through the activity's logger when called in an activity (the API's callers have none). */
function warnFanOutNotStarted(tenantId: string) {
  return (_error: unknown, eventId: string) => {
    try {
      Context.current().log.warn('Event fan-out not started; the outbox sweep will start it', { tenantId, eventId });
    } catch {
      // Not in an activity: the sweep's own log line will show the late start.
    }
  };
}
