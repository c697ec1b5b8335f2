import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { EventKeyConflict, publishEvent } from '../../activities/event-publishing';
import { publicEventKey } from '../../domain/events';
import type { PrismaClient } from '../../lib/db';
import { eventFanOutId, getFanOutStateQuery, type EventFanOutState } from '../../workflows/event-fan-out.contract';
import { AppError, notFound } from '../errors';
import { assertFlowAccepting } from './flow-pauses';
import type { FairnessWeights } from '../../domain/tenant-fairness';
import { tenantFairnessLookup } from '../../lib/tenant-fairness';

/** What the event services use: the tenant's data, and the workflows that fan events out. */
export interface EventServiceDeps {
  prisma: PrismaClient;
  temporal: Client;
  taskQueue: string;
  /** FAIRNESS_WEIGHTS (config.worker.fairnessWeights); the defaults when absent. */
  fairnessWeights?: FairnessWeights;
}

/** An event as a tenant's application reports it (validated by the route). */
export interface EventReportBody {
  id?: string;
  type: string;
  subject: { type: string; id: string };
  data: Record<string, unknown>;
  occurredAt?: string;
}

/**
 * Records a tenant's event once per (tenant, id) and starts its fan-out, however often it is
 * reported: a repeat with the same content answers the first recording (`duplicate`) and starts
 * nothing once the fan-out has begun. Throws 422 EVENT_ID_REUSED when the id was used for other
 * content.
 */
export async function reportEvent(
  { prisma, temporal, taskQueue, fairnessWeights }: EventServiceDeps,
  tenantId: string,
  body: EventReportBody,
): Promise<{ eventId: string; workflowId: string; duplicate: boolean }> {
  await assertFlowAccepting(prisma, tenantId, 'events');
  try {
    const { eventId, workflowId, created } = await publishEvent(
      { prisma, temporal: { client: temporal, taskQueue, fairnessOf: tenantFairnessLookup(prisma, fairnessWeights) } },
      {
        tenantId,
        key: body.id ?? randomUUID(),
        type: body.type,
        subject: body.subject,
        data: body.data,
        ...(body.occurredAt ? { occurredAt: new Date(body.occurredAt) } : {}),
        source: 'API',
      },
    );
    return { eventId, workflowId, duplicate: !created };
  } catch (error) {
    if (error instanceof EventKeyConflict) {
      throw new AppError(422, 'EVENT_ID_REUSED', 'This event id was already used for a different event', {
        eventId: error.eventId,
      });
    }
    throw error;
  }
}

type EventRow = {
  id: string;
  eventKey: string;
  type: string;
  subjectType: string | null;
  subjectId: string | null;
  payload: unknown;
  source: string;
  occurredAt: Date;
  createdAt: Date;
  publishedAt: Date | null;
};

/** An event as the API shows it: `key` is the id it was reported under (or a flow's business key). */
export function presentEvent(event: EventRow) {
  return {
    id: event.id,
    key: publicEventKey(event.eventKey, event.source),
    type: event.type,
    subject: event.subjectType && event.subjectId ? { type: event.subjectType, id: event.subjectId } : null,
    data: event.payload,
    source: event.source,
    occurredAt: event.occurredAt,
    recordedAt: event.createdAt,
    publishedAt: event.publishedAt,
    workflowId: null as string | null,
  };
}

/**
 * A page of the tenant's events, newest first, optionally of one type and recorded since an
 * instant, with how many match in all.
 */
export async function listEvents(
  prisma: PrismaClient,
  tenantId: string,
  query: { type?: string; since?: string; limit: number; offset: number },
) {
  const { limit, offset } = query;
  const where = {
    tenantId,
    ...(query.type ? { type: query.type } : {}),
    ...(query.since ? { createdAt: { gte: new Date(query.since) } } : {}),
  };
  const [events, total] = await Promise.all([
    prisma.outboxEvent.findMany({ where, orderBy: [{ createdAt: 'desc' }, { id: 'asc' }], take: limit, skip: offset }),
    prisma.outboxEvent.count({ where }),
  ]);
  return {
    events: events.map((event) => ({ ...presentEvent(event), workflowId: eventFanOutId(tenantId, event.id) })),
    total,
    limit,
    offset,
  };
}

/** How long the fan-out's state is waited for: the rest of the answer comes from PostgreSQL. */
const FAN_OUT_QUERY_TIMEOUT_MS = 2_000;

/**
 * One event of the tenant, with what its fan-out did: the notifications its rules made, the
 * webhook deliveries it made, and the fan-out workflow's state. The state is null when it cannot
 * be had within {@link FAN_OUT_QUERY_TIMEOUT_MS}: before the run started, once Temporal has
 * forgotten it, or while no worker answers queries. Another tenant's event is not found.
 */
export async function eventWithFanOut({ prisma, temporal }: EventServiceDeps, tenantId: string, eventId: string) {
  const event = await prisma.outboxEvent.findFirst({ where: { id: eventId, tenantId } });
  if (!event) throw notFound('Event', { eventId });
  const workflowId = eventFanOutId(tenantId, eventId);
  // The workflow's state first, then the rows: a step the state reports done has its rows in what is read after
  // it, so a COMPLETED fan-out never shows fewer notifications or deliveries than it made.
  const fanOut = await temporal
    .withDeadline(Date.now() + FAN_OUT_QUERY_TIMEOUT_MS, () =>
      temporal.workflow.getHandle(workflowId).query(getFanOutStateQuery),
    )
    // The rows are the record; the workflow's state is a bonus a missing worker must not break.
    .catch((): EventFanOutState | null => null);
  const [notifications, deliveries] = await Promise.all([
    prisma.notification.findMany({
      where: { tenantId, eventId },
      select: { id: true, ruleId: true, channel: true, template: true, status: true, sendAt: true, sentAt: true },
      orderBy: { createdAt: 'asc' },
    }),
    prisma.webhookDelivery.findMany({
      where: { tenantId, eventId },
      select: { id: true, endpointId: true, status: true, attempts: true, workflowId: true, completedAt: true },
      orderBy: { createdAt: 'asc' },
    }),
  ]);
  return {
    ...presentEvent(event),
    workflowId,
    fanOut,
    notifications,
    webhookDeliveries: deliveries.map(({ id, ...rest }) => ({ deliveryId: id, ...rest })),
  };
}
