import { createHash } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { PrismaClient } from '../lib/db';
import { FailureType } from '../workflows/errors';
import { enqueueNotification, IdempotencyConflict } from './notification-requests';

/** The template the tenant's admins get when an endpoint is disabled after too many failures. */
export const ENDPOINT_DISABLED_TEMPLATE = 'webhook.endpoint-disabled';

/** The admins' notice data frozen on the endpoint in the transaction that disabled it. */
export interface EndpointDisabledNotice {
  url: string;
  failures: number;
  tenantName: string;
}

/** Each admin address once, lower-cased: a tenant's admin email is often also an admin user's. */
export function adminAddresses(emails: Array<string | null | undefined>): string[] {
  const addresses = emails.map((email) => email?.trim().toLowerCase()).filter((email): email is string => !!email);
  return [...new Set(addresses)];
}

/** The recipient's part of a notice's idempotency key: a digest, so the ledger's key holds no address. */
const recipientKey = (address: string) => createHash('sha256').update(address).digest('hex').slice(0, 32);

export interface EndpointNoticeDeps {
  prisma: PrismaClient;
  temporal?: { client: Client; taskQueue: string };
  now: () => Date;
}

/**
 * Tells the tenant's admins (its admin email and its active tenant-admin users, one message per
 * address whatever its case) that an endpoint was disabled, through the notification ledger:
 * one email per admin and disabling, however often this step runs. The message's data is the
 * notice frozen at the disabling, so a retry asks for the same message; a key already used
 * counts as told. A disabling since undone (re-enabled, or disabled again later) is not told.
 *
 * @throws Error when a notice could not be enqueued for some admin, after trying every other
 *   one; the retry enqueues only what is missing.
 */
export async function notifyWebhookEndpointDisabled(
  deps: EndpointNoticeDeps,
  input: {
    tenantId: string;
    endpointId: string;
    disabledAt: string;
  },
): Promise<{ notified: number }> {
  const { prisma } = deps;
  if (!deps.temporal) {
    throw ApplicationFailure.nonRetryable('Notifications are not configured', FailureType.ChannelNotConfigured);
  }
  const [tenant, endpoint, admins] = await Promise.all([
    prisma.tenant.findUnique({ where: { id: input.tenantId }, select: { adminEmail: true, name: true } }),
    prisma.webhookEndpoint.findFirst({ where: { id: input.endpointId, tenantId: input.tenantId } }),
    prisma.user.findMany({
      where: { tenantId: input.tenantId, role: 'tenant-admin', status: 'ACTIVE' },
      select: { email: true },
      orderBy: { createdAt: 'asc' },
    }),
  ]);
  const disabledAt = new Date(input.disabledAt);
  if (!tenant || !endpoint || endpoint.disabledAt?.getTime() !== disabledAt.getTime()) return { notified: 0 };
  const frozen = (endpoint.disabledNotice ?? {}) as Partial<EndpointDisabledNotice>;
  const failures = frozen.failures ?? endpoint.consecutiveFailures;
  const data = {
    tenantName: frozen.tenantName ?? tenant.name,
    endpointId: endpoint.id,
    url: frozen.url ?? endpoint.url,
    reason: `${failures} consecutive deliveries failed`,
    failures,
  };
  const recipients = adminAddresses([tenant.adminEmail, ...admins.map((admin) => admin.email)]);
  let notified = 0;
  const failed: unknown[] = [];
  for (const to of recipients) {
    try {
      await enqueueNotification(
        { prisma, temporal: deps.temporal, now: deps.now },
        {
          tenantId: input.tenantId,
          source: 'FLOW',
          key: `webhook.endpoint-disabled:${endpoint.id}:${disabledAt.getTime()}:${recipientKey(to)}`,
          channel: 'EMAIL',
          to,
          template: ENDPOINT_DISABLED_TEMPLATE,
          data,
          priority: 2,
        },
      );
      notified += 1;
    } catch (error) {
      // A notice made under this key already (by an earlier version of the data): that admin was told.
      if (error instanceof IdempotencyConflict) notified += 1;
      else failed.push(error);
    }
  }
  if (failed.length > 0) {
    throw new Error(`The notice could not be enqueued for ${failed.length} of ${recipients.length} admins`, {
      cause: failed[0],
    });
  }
  return { notified };
}
