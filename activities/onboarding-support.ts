import { activityInfo } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Prisma, PrismaClient } from '../lib/db';
import { FailureType } from '../workflows/errors';
import { writeAudit, type AuditEntry } from './audit';
import type { StepReceipt } from './onboarding';

/** Pieces the onboarding activity factories share: the audit writer, failures and step receipts. */

/** The audit-log actor for what the onboarding does by itself. */
export const ONBOARDING_ACTOR = 'system:tenant-onboarding';

export const DAY_MS = 24 * 60 * 60 * 1000;

export type Tx = Prisma.TransactionClient;

type OnboardingAudit = Omit<AuditEntry<'Tenant' | 'User'>, 'actor'> & { actor?: string; dedupKey: string };

/** Writes an onboarding's audit row, as the onboarding itself unless the entry names a person. */
export function audit(db: Tx | PrismaClient, entry: OnboardingAudit) {
  return writeAudit(db, { actor: ONBOARDING_ACTOR, ...entry });
}

export const permanent = (message: string, type: string) => ApplicationFailure.nonRetryable(message, type);

/** Reads a tenant; a missing one fails NotFound. */
export function tenantLoader(prisma: PrismaClient) {
  return async function loadTenant(tenantId: string) {
    const tenant = await prisma.tenant.findUnique({ where: { id: tenantId } });
    if (!tenant) throw permanent(`Tenant ${tenantId} not found`, FailureType.NotFound);
    return tenant;
  };
}

/**
 * Runs a step and reports the attempt that finished it. A permanent failure gets its attempt
 * appended to `details`, since the workflow sees only the final failure of an activity.
 */
export async function reporting<T extends object>(body: () => Promise<T>): Promise<T & StepReceipt> {
  const { attempt } = activityInfo();
  try {
    return { ...(await body()), attempt };
  } catch (error) {
    if (error instanceof ApplicationFailure && error.nonRetryable) {
      throw ApplicationFailure.create({
        type: error.type ?? undefined,
        message: error.message,
        nonRetryable: true,
        details: [...(error.details ?? []), { attempt }],
      });
    }
    throw error;
  }
}
