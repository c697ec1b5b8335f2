import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  checkWebhookUrl,
  judgeReceiverStatus,
  responseExcerpt,
  retryAfterMs,
  webhookBody,
  webhookHeaders,
  type UrlPolicy,
} from '../domain/webhooks';
import { publicEventKey } from '../domain/events';
import type { Prisma, PrismaClient } from '../lib/db';
import { createSecretBox } from '../lib/secret-box';
import { policyCheckedLookup, TargetRefused } from '../lib/webhook-targets';
import { FailureType } from '../workflows/errors';
import {
  WebhookFailure,
  type WebhookRetrySettings,
  type WebhookSkipReason,
} from '../workflows/webhook-delivery.contract';
import { notifyWebhookEndpointDisabled, type EndpointDisabledNotice } from './webhook-notices';

/** What the worker needs to deliver webhooks (config.webhooks). */
export interface WebhookDeliverySettings {
  /** Decrypts the endpoints' signing secrets (WEBHOOK_SECRET_KEY). */
  secretKey: string;
  policy: UrlPolicy;
  /** The whole request, connection to last byte (WEBHOOK_TIMEOUT, 30 s). */
  timeoutMs: number;
}

export interface WebhookActivityDeps {
  prisma: PrismaClient;
  webhooks?: WebhookDeliverySettings;
  temporal?: { client: Client; taskQueue: string };
  now?: () => Date;
}

/** The associated data an endpoint's secrets are sealed under (lib/secret-box.ts): a secret opens on its own endpoint only. */
export const endpointSecretBinding = (endpointId: string) => `webhook-endpoint:${endpointId}`;

/** The reason stored on an endpoint disabled by a 410, and by the tenant's failure threshold. */
export const DisabledReason = { Gone: 'ENDPOINT_GONE', FailureThreshold: 'FAILURE_THRESHOLD' } as const;

interface ReceiverAnswer {
  statusCode: number;
  retryAfter: string | undefined;
  body: string;
}

/** POSTs without following redirects, through the policy-checked lookup, giving up after `timeoutMs`. */
function post(url: URL, headers: Record<string, string>, body: string, settings: WebhookDeliverySettings) {
  return new Promise<ReceiverAnswer>((resolve, reject) => {
    const transport = url.protocol === 'https:' ? https : http;
    const request = transport.request(url, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      lookup: policyCheckedLookup(settings.policy),
      agent: false,
    });
    const timer = setTimeout(() => request.destroy(new ReceiverTimeout()), settings.timeoutMs);
    request.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      response.on('data', (chunk: Buffer) => {
        if (kept < 1024) {
          chunks.push(chunk);
          kept += chunk.length;
        }
      });
      response.on('end', () => {
        clearTimeout(timer);
        const retryAfter: string | undefined = response.headers['retry-after'];
        resolve({
          statusCode: response.statusCode ?? 0,
          retryAfter,
          body: responseExcerpt(Buffer.concat(chunks)),
        });
      });
      response.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    request.end(body);
  });
}

class ReceiverTimeout extends Error {
  readonly code = 'TIMEOUT';
  constructor() {
    super('The receiver did not answer in time');
  }
}

/**
 * Words for a failed connection that name the kind of failure only: the error's own message can
 * quote the URL (whose path may carry a token) and lands in workflow history.
 */
function connectionProblem(error: unknown): string {
  if (error instanceof TargetRefused) return error.refusal.message;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^[A-Z_]{2,40}$/.test(code)
    ? `The receiver could not be reached (${code})`
    : 'The receiver could not be reached';
}

/** A key per activity attempt (per run, so a replay's attempts are recorded beside the first run's). */
function attemptKey(): string {
  try {
    const { workflowExecution, attempt, activityId } = Context.current().info;
    if (!workflowExecution) return `${activityId}:${attempt}`;
    return `${workflowExecution.workflowId}:${workflowExecution.runId}:${attempt}`;
  } catch {
    return randomUUID();
  }
}

export type PreparedWebhookDelivery =
  { status: 'READY'; retry: WebhookRetrySettings } | { status: 'SKIPPED'; reason: WebhookSkipReason };

export type WebhookSendOutcome =
  { outcome: 'DELIVERED'; statusCode: number } | { outcome: 'SKIPPED'; reason: WebhookSkipReason };

export interface SettledWebhookDelivery {
  endpointId: string | null;
  /** Set when the endpoint is disabled by the failure threshold: the admins are told, keyed by it. */
  disabledByThresholdAt: string | null;
}

/**
 * The webhook delivery's activities. Each reads the delivery's row by its ID within the tenant, so
 * the workflow's history holds IDs only. Data the database refuses fails non-retryably
 * (activities/database-failures.ts); outages are retried by the workflow's profiles.
 */
export function createWebhookActivities(deps: WebhookActivityDeps) {
  const { prisma } = deps;
  const now = deps.now ?? (() => new Date());

  const findDelivery = (tenantId: string, deliveryId: string) =>
    prisma.webhookDelivery.findFirst({
      where: { id: deliveryId, tenantId },
      include: { endpoint: true, event: true, tenant: true },
    });

  /**
   * Notes on a PENDING delivery why Holdfast itself cannot send it, and returns the failure that
   * ends the run in NEEDS_ATTENTION: nothing counts against the tenant's endpoint, and the
   * delivery can be replayed once an operator has fixed the configuration.
   */
  const heldForOperator = async (input: { tenantId: string; deliveryId: string }, reason: string) => {
    await prisma.webhookDelivery.updateMany({
      where: { id: input.deliveryId, tenantId: input.tenantId, status: 'PENDING' },
      data: { lastError: reason },
    });
    return ApplicationFailure.nonRetryable(reason, WebhookFailure.NotConfigured);
  };

  return {
    /**
     * Reads the tenant's retry profile and whether there is anything to send: a delivery whose
     * endpoint is disabled or gone is skipped, as is one already settled unless this is a replay
     * (which reopens it as PENDING).
     */
    async prepareWebhookDelivery(input: {
      tenantId: string;
      deliveryId: string;
      replay?: boolean;
    }): Promise<PreparedWebhookDelivery> {
      const delivery = await findDelivery(input.tenantId, input.deliveryId);
      if (!delivery) return { status: 'SKIPPED', reason: 'ENDPOINT_DELETED' };
      if (delivery.endpoint.status !== 'ACTIVE') return { status: 'SKIPPED', reason: 'ENDPOINT_DISABLED' };
      if (delivery.status !== 'PENDING') {
        if (!input.replay) return { status: 'SKIPPED', reason: 'ALREADY_SETTLED' };
        await prisma.webhookDelivery.update({
          where: { id: delivery.id },
          data: { status: 'PENDING', completedAt: null, lastError: null },
        });
      }
      return {
        status: 'READY',
        retry: {
          maximumAttempts: Math.max(1, delivery.tenant.webhookMaxAttempts),
          initialIntervalSeconds: Math.max(1, delivery.tenant.webhookRetryInitialSeconds),
        },
      };
    },

    /**
     * One attempt: signs the event with the endpoint's secret (and the previous one during a
     * rotation window), POSTs it through the URL policy and records the attempt.
     *
     * @throws ApplicationFailure WebhookEndpointGone (410), WebhookRejected (other 4xx, 3xx),
     *   WebhookTargetRefused (the URL policy), WebhookNotConfigured (Holdfast's own configuration:
     *   no key on the worker, or a secret it cannot decrypt), all non-retryable; ProviderThrottled with the
     *   receiver's Retry-After (429, 503 with the header); WebhookUnavailable (408, 5xx, network),
     *   retried with the tenant's backoff.
     */
    async deliverWebhook(input: { tenantId: string; deliveryId: string }): Promise<WebhookSendOutcome> {
      const settings = deps.webhooks;
      if (!settings) {
        throw await heldForOperator(input, 'Webhook delivery is not configured on the worker (WEBHOOK_SECRET_KEY)');
      }
      const delivery = await findDelivery(input.tenantId, input.deliveryId);
      if (!delivery) return { outcome: 'SKIPPED', reason: 'ENDPOINT_DELETED' };
      const { endpoint, event } = delivery;
      if (endpoint.status !== 'ACTIVE') return { outcome: 'SKIPPED', reason: 'ENDPOINT_DISABLED' };

      const startedAt = now();
      const clock = Date.now();
      const box = createSecretBox(settings.secretKey);
      let current: string;
      try {
        current = box.open(endpoint.secretCiphertext, endpointSecretBinding(endpoint.id));
      } catch {
        // Holdfast's key, not the receiver: restoring WEBHOOK_SECRET_KEY (or rotating the secret) and
        // replaying helps; retrying cannot.
        throw await heldForOperator(
          input,
          'The endpoint signing secret cannot be decrypted with the worker key (was WEBHOOK_SECRET_KEY changed?)',
        );
      }
      const secrets = [current];
      if (
        endpoint.previousSecretCiphertext &&
        endpoint.previousSecretExpiresAt &&
        endpoint.previousSecretExpiresAt > startedAt
      ) {
        // A previous secret sealed under a replaced key is dropped: the current one still signs.
        try {
          secrets.push(box.open(endpoint.previousSecretCiphertext, endpointSecretBinding(endpoint.id)));
        } catch {
          // Nothing to add.
        }
      }
      const body = webhookBody({
        id: event.id,
        key: publicEventKey(event.eventKey, event.source),
        type: event.type,
        occurredAt: event.occurredAt,
        subjectType: event.subjectType,
        subjectId: event.subjectId,
        payload: event.payload,
      });
      const headers = webhookHeaders(delivery.id, Math.floor(startedAt.getTime() / 1000), body, secrets);

      const record = async (outcome: { statusCode?: number; error?: string; responseBody?: string }) => {
        const durationMs = Math.max(0, Date.now() - clock);
        await prisma.$transaction(async (tx) => {
          const created = await tx.webhookAttempt.createMany({
            data: [{ deliveryId: delivery.id, attemptKey: attemptKey(), startedAt, durationMs, ...outcome }],
            skipDuplicates: true,
          });
          await tx.webhookDelivery.update({
            where: { id: delivery.id },
            data: {
              attempts: { increment: created.count },
              lastError:
                outcome.error ??
                (outcome.statusCode && outcome.statusCode >= 300 ? `HTTP ${outcome.statusCode}` : null),
            },
          });
        });
      };

      const checked = checkWebhookUrl(endpoint.url, settings.policy);
      if ('refused' in checked) {
        await record({ error: checked.refused.message });
        throw ApplicationFailure.nonRetryable(checked.refused.message, WebhookFailure.TargetRefused);
      }
      let answer: ReceiverAnswer;
      try {
        answer = await post(checked.url, headers, body, settings);
      } catch (error) {
        const problem = connectionProblem(error);
        await record({ error: problem });
        if (error instanceof TargetRefused)
          throw ApplicationFailure.nonRetryable(problem, WebhookFailure.TargetRefused);
        throw ApplicationFailure.retryable(problem, WebhookFailure.Unavailable);
      }
      await record({ statusCode: answer.statusCode, responseBody: answer.body });

      const message = `The receiver answered ${answer.statusCode}`;
      switch (judgeReceiverStatus(answer.statusCode)) {
        case 'DELIVERED':
          return { outcome: 'DELIVERED', statusCode: answer.statusCode };
        case 'GONE':
          throw ApplicationFailure.nonRetryable(message, WebhookFailure.EndpointGone);
        case 'REFUSED':
          throw ApplicationFailure.nonRetryable(message, WebhookFailure.Rejected);
        case 'RETRY': {
          const delay =
            answer.statusCode === 429 || answer.statusCode === 503 ? retryAfterMs(answer.retryAfter, now()) : undefined;
          if (delay !== undefined) {
            throw ApplicationFailure.create({ type: FailureType.ProviderThrottled, message, nextRetryDelay: delay });
          }
          throw ApplicationFailure.retryable(message, WebhookFailure.Unavailable);
        }
      }
    },

    /**
     * Records how the delivery ended, once: only a PENDING delivery moves, so a retried write does
     * not count a failure twice. SUCCEEDED resets the endpoint's consecutive failures; ENDPOINT_GONE
     * disables it; FAILED counts one more failure and disables the endpoint at the tenant's threshold.
     */
    async settleWebhookDelivery(input: {
      tenantId: string;
      deliveryId: string;
      outcome: 'SUCCEEDED' | 'FAILED' | 'ENDPOINT_GONE' | 'SKIPPED';
      error?: string;
    }): Promise<SettledWebhookDelivery> {
      const at = now();
      return prisma.$transaction(async (tx) => {
        const delivery = await tx.webhookDelivery.findFirst({
          where: { id: input.deliveryId, tenantId: input.tenantId },
          include: { tenant: { select: { webhookFailureThreshold: true } } },
        });
        if (!delivery) return { endpointId: null, disabledByThresholdAt: null };
        const status = input.outcome === 'SUCCEEDED' ? 'SUCCEEDED' : input.outcome === 'SKIPPED' ? 'SKIPPED' : 'FAILED';
        const moved = await tx.webhookDelivery.updateMany({
          where: { id: delivery.id, status: 'PENDING' },
          data: { status, completedAt: at, ...(input.error ? { lastError: input.error.slice(0, 1000) } : {}) },
        });
        const endpointId = delivery.endpointId;
        if (moved.count === 1) {
          if (input.outcome === 'SUCCEEDED') {
            await tx.webhookEndpoint.update({ where: { id: endpointId }, data: { consecutiveFailures: 0 } });
          } else if (input.outcome === 'ENDPOINT_GONE') {
            await tx.webhookEndpoint.updateMany({
              where: { id: endpointId, status: 'ACTIVE' },
              data: { status: 'DISABLED', disabledReason: DisabledReason.Gone, disabledAt: at },
            });
          } else if (input.outcome === 'FAILED') {
            const endpoint = await tx.webhookEndpoint.update({
              where: { id: endpointId },
              data: { consecutiveFailures: { increment: 1 } },
              include: { tenant: { select: { name: true } } },
            });
            if (endpoint.consecutiveFailures >= delivery.tenant.webhookFailureThreshold) {
              const notice: EndpointDisabledNotice = {
                url: endpoint.url,
                failures: endpoint.consecutiveFailures,
                tenantName: endpoint.tenant.name,
              };
              // Only the delivery that flips the endpoint from ACTIVE disables it; those failing after it just count.
              await tx.webhookEndpoint.updateMany({
                where: { id: endpointId, status: 'ACTIVE' },
                data: {
                  status: 'DISABLED',
                  disabledReason: DisabledReason.FailureThreshold,
                  disabledAt: at,
                  disabledNotice: notice as unknown as Prisma.InputJsonObject,
                },
              });
            }
          }
        }
        if (input.outcome !== 'FAILED') return { endpointId, disabledByThresholdAt: null };
        // The disabling this delivery made carries its settle time, so a retry of this step after a
        // lost answer still reports it, and a delivery that failed after the disabling does not.
        const settledAt = moved.count === 1 ? at : delivery.completedAt;
        const endpoint = await tx.webhookEndpoint.findUniqueOrThrow({ where: { id: endpointId } });
        const disabledByThis =
          endpoint.status === 'DISABLED' &&
          endpoint.disabledReason === DisabledReason.FailureThreshold &&
          settledAt !== null &&
          endpoint.disabledAt?.getTime() === settledAt.getTime();
        return { endpointId, disabledByThresholdAt: disabledByThis ? endpoint.disabledAt!.toISOString() : null };
      });
    },

    /** @see notifyWebhookEndpointDisabled in activities/webhook-notices.ts */
    notifyWebhookEndpointDisabled: (input: { tenantId: string; endpointId: string; disabledAt: string }) =>
      notifyWebhookEndpointDisabled({ prisma, temporal: deps.temporal, now }, input),
  };
}

export type WebhookActivities = ReturnType<typeof createWebhookActivities>;
