import { log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { isValidRecipient } from '../domain/notifications';
import { ruleMatches, ruleSendAt, valueAtPath } from '../domain/notification-rules';
import { PayloadScopeErasedError } from '../lib/data-converter';
import type { PrismaClient } from '../lib/db';
import type { FanOutPlan, OutboxSweepInput, OutboxSweepResult, RuleOutcome } from '../workflows/event-fan-out.contract';
import { startEventFanOut, type FanOutStarter } from './event-publishing';
import { enqueueNotification, IdempotencyConflict } from './notification-requests';
import { enqueueWebhookDelivery, listSubscribedEndpoints, recordSkippedDeliveries } from './webhook-deliveries';

export interface EventActivityDeps {
  prisma: PrismaClient;
  /** Starts the notification and delivery workflows; the worker always passes it. */
  temporal?: FanOutStarter;
  now?: () => Date;
}

export interface FanOutStep {
  tenantId: string;
  eventId: string;
}

/** What the rule step did: IDs and a reason code only, as they go into the fan-out's history. */
export type RuleStepResult = Pick<RuleOutcome, 'notificationId' | 'reason'> & { outcome: 'ENQUEUED' | 'SKIPPED' };

/** Why a rule sent nothing for an event; nothing a retry could change. */
export const RuleSkip = {
  /** The value at the rule's recipientPath is missing or not an address or number for its channel. */
  NoValidRecipient: 'NO_VALID_RECIPIENT',
  /** The rule was deleted or disabled after the fan-out planned it. */
  RuleGone: 'RULE_GONE',
  /** The event was deleted after the fan-out planned it. */
  EventGone: 'EVENT_GONE',
} as const;

function requireTemporal(temporal: FanOutStarter | undefined): FanOutStarter {
  // A worker built without a Temporal client is a deployment error, not an outage.
  if (!temporal) throw ApplicationFailure.nonRetryable('No Temporal client to start workflows with', 'NotConfigured');
  return temporal;
}

/**
 * The event fan-out's activities (workflows/event-fan-out.ts) and the outbox sweep's. They take
 * and return row IDs: the event's data, and the recipients read from it, never leave PostgreSQL
 * and the Notification rows.
 */
export function createEventActivities(deps: EventActivityDeps) {
  const { prisma } = deps;
  const now = deps.now ?? (() => new Date());

  return {
    /**
     * Marks the event published and lists, as IDs, the tenant's enabled rules it triggers and the
     * ACTIVE webhook endpoints subscribed to its type; subscribed DISABLED endpoints get a SKIPPED
     * delivery row to replay once enabled. Null when the event is not the tenant's (or is gone).
     */
    async planEventFanOut({ tenantId, eventId }: FanOutStep): Promise<FanOutPlan | null> {
      const event = await prisma.outboxEvent.findFirst({ where: { id: eventId, tenantId } });
      if (!event) return null;
      if (!event.publishedAt) {
        await prisma.outboxEvent.updateMany({
          where: { id: eventId, publishedAt: null },
          data: { publishedAt: now() },
        });
      }
      const [rules, endpoints] = await Promise.all([
        prisma.notificationRule.findMany({
          where: { tenantId, eventType: event.type, enabled: true },
          orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
        }),
        listSubscribedEndpoints(prisma, tenantId, event.type),
        recordSkippedDeliveries(prisma, { tenantId, eventId, eventType: event.type }, now()),
      ]);
      return {
        eventId,
        eventType: event.type,
        ruleIds: rules.filter((rule) => ruleMatches(rule, event.type, event.payload)).map((rule) => rule.id),
        endpointIds: endpoints.map((endpoint) => endpoint.id),
      };
    },

    /**
     * Enqueues the rule's notification for the event, once per (event, rule) (key
     * `rule:{eventId}:{ruleId}`): the recipient is read from the event's data at the rule's
     * recipientPath, and the message is due the rule's delay after the event was recorded.
     * A missing or invalid recipient, or a rule gone meanwhile, is SKIPPED, not a failure.
     */
    async enqueueRuleNotification({
      tenantId,
      eventId,
      ruleId,
    }: FanOutStep & { ruleId: string }): Promise<RuleStepResult> {
      const earlier = await prisma.notification.findFirst({
        where: { tenantId, eventId, ruleId },
        select: { id: true },
      });
      if (earlier) return { outcome: 'ENQUEUED', notificationId: earlier.id, reason: null };
      const [event, rule] = await Promise.all([
        prisma.outboxEvent.findFirst({ where: { id: eventId, tenantId } }),
        prisma.notificationRule.findFirst({ where: { id: ruleId, tenantId } }),
      ]);
      if (!event) return { outcome: 'SKIPPED', notificationId: null, reason: RuleSkip.EventGone };
      if (!rule || !rule.enabled) return { outcome: 'SKIPPED', notificationId: null, reason: RuleSkip.RuleGone };
      const channel = rule.channel;
      const recipient = valueAtPath(event.payload, rule.recipientPath);
      if (typeof recipient !== 'string' || !isValidRecipient(channel, recipient.trim())) {
        log.warn('Rule skipped: no valid recipient in the event data', { tenantId, eventId, ruleId });
        return { outcome: 'SKIPPED', notificationId: null, reason: RuleSkip.NoValidRecipient };
      }
      const data =
        typeof event.payload === 'object' && event.payload !== null && !Array.isArray(event.payload)
          ? (event.payload as Record<string, unknown>)
          : {};
      const sendAt = ruleSendAt(event.createdAt, rule.delaySeconds);
      try {
        const { notificationId } = await enqueueNotification(
          { prisma, temporal: requireTemporal(deps.temporal), now },
          {
            tenantId,
            source: 'RULE',
            key: `rule:${eventId}:${ruleId}`,
            channel,
            to: recipient.trim(),
            template: rule.template,
            data,
            priority: rule.priority as 1 | 2 | 3 | 4,
            ...(rule.locale ? { locale: rule.locale } : {}),
            ...(sendAt ? { sendAt } : {}),
            eventId,
            ruleId,
          },
        );
        return { outcome: 'ENQUEUED', notificationId, reason: null };
      } catch (error) {
        // The rule was edited between a lost answer and this retry: the notification made first stands.
        if (!(error instanceof IdempotencyConflict)) throw error;
        const made = await prisma.notification.findFirst({
          where: { tenantId, eventId, ruleId },
          select: { id: true },
        });
        if (!made) throw error;
        return { outcome: 'ENQUEUED', notificationId: made.id, reason: null };
      }
    },

    /** Enqueues the event's delivery to the endpoint, once per (event, endpoint) (activities/webhook-deliveries.ts). */
    async enqueueEventDelivery({
      tenantId,
      eventId,
      endpointId,
    }: FanOutStep & { endpointId: string }): Promise<{ deliveryId: string; workflowId: string }> {
      // An endpoint or event gone meanwhile fails as a non-retryable NotFound.
      const { deliveryId, workflowId } = await enqueueWebhookDelivery(
        { prisma, temporal: requireTemporal(deps.temporal) },
        { tenantId, endpointId, eventId },
      );
      return { deliveryId, workflowId };
    },

    /**
     * Starts the fan-out of every event recorded more than `graceSeconds` ago whose fan-out never
     * began (oldest first, at most `limit`), and marks each published. Safe to repeat: a start
     * joins a fan-out already running and leaves a completed one alone.
     *
     * Events of an erased tenant (api/services/tenant-erasure.ts) are left unpublished: a fan-out's
     * input can no longer be encrypted under its keys. They are kept out of the query, or they would
     * fill every sweep's `limit` forever; one whose tenant is erased while the sweep runs is passed over.
     */
    async publishUnpublishedEvents(
      input: OutboxSweepInput & { graceSeconds: number; limit: number },
    ): Promise<OutboxSweepResult> {
      const temporal = requireTemporal(deps.temporal);
      const before = new Date(now().getTime() - input.graceSeconds * 1000);
      const erased = await prisma.payloadKeyScope.findMany({
        where: { salt: null, tenantId: { not: null } },
        distinct: ['tenantId'],
        select: { tenantId: true },
      });
      const events = await prisma.outboxEvent.findMany({
        where: {
          publishedAt: null,
          createdAt: { lt: before },
          tenantId: {
            ...(input.tenantId ? { equals: input.tenantId } : {}),
            notIn: erased.map((row) => row.tenantId!),
          },
        },
        select: { id: true, tenantId: true },
        orderBy: { createdAt: 'asc' },
        take: input.limit,
      });
      let published = 0;
      for (const event of events) {
        try {
          await startEventFanOut(temporal, event.tenantId, event.id);
        } catch (error) {
          if (!(error instanceof PayloadScopeErasedError)) throw error;
          log.warn('Event fan-out not started: the tenant was erased', {
            tenantId: event.tenantId,
            eventId: event.id,
          });
          continue;
        }
        await prisma.outboxEvent.updateMany({
          where: { id: event.id, publishedAt: null },
          data: { publishedAt: now() },
        });
        published += 1;
      }
      return { published };
    },
  };
}
