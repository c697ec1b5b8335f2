import type { Client } from '@temporalio/client';
import { writeAudit } from '../../activities/audit';
import { tenantIdForSlug, type TenantTier } from '../../domain/tenants';
import type { PrismaClient } from '../../lib/db';
import { tenantOnboardingWorkflow } from '../../workflows/tenant-onboarding';
import { tenantOnboardingId, tenantOnboardingStartOptions } from '../../workflows/tenant-onboarding.contract';
import { workflowClosed } from '../closed-workflows';
import { conflict } from '../errors';
import type { FairnessWeights } from '../../domain/tenant-fairness';

/** What the onboarding services use: the platform's tenants, and the onboarding workflows. */
export interface OnboardingServiceDeps {
  prisma: PrismaClient;
  temporal: Client;
  taskQueue: string;
  /** FAIRNESS_WEIGHTS (config.worker.fairnessWeights); the defaults when absent. */
  fairnessWeights?: FairnessWeights;
}

/** A new tenant as a platform admin asks for it. */
export interface OnboardingRequest {
  organizationName: string;
  slug: string;
  adminEmail: string;
  adminName: string;
  tier: TenantTier;
}

/**
 * Starts a tenant's onboarding. The tenant ID is derived from the slug, so a repeat while the
 * onboarding runs joins it (same IDs) and, after a failure, a new onboarding reuses the FAILED
 * tenant. Throws 409 TENANT_EXISTS once the slug belongs to a tenant in use.
 */
export async function startOnboarding(
  { prisma, temporal, taskQueue, fairnessWeights }: OnboardingServiceDeps,
  requestedBy: string,
  request: OnboardingRequest,
): Promise<{ workflowId: string; runId: string; tenantId: string }> {
  const tenantId = tenantIdForSlug(request.slug);
  const existing = await prisma.tenant.findUnique({ where: { slug: request.slug } });
  if (existing && (existing.id !== tenantId || existing.status === 'ACTIVE' || existing.status === 'SUSPENDED')) {
    throw conflict('TENANT_EXISTS', `A tenant with the slug ${request.slug} already exists`, {
      slug: request.slug,
      status: existing.status,
    });
  }
  // The tenant row may not exist yet: the plan being bought decides its share.
  const startOptions = tenantOnboardingStartOptions(tenantId, request.slug, {
    tier: request.tier,
    ...(fairnessWeights ? { weights: fairnessWeights } : {}),
  });
  const { workflowId } = startOptions;
  const handle = await temporal.workflow.start(tenantOnboardingWorkflow, {
    taskQueue,
    args: [{ tenantId, ...request, requestedBy }],
    ...startOptions,
  });
  return { workflowId, runId: handle.firstExecutionRunId, tenantId };
}

/**
 * Asks a slug's running onboarding to cancel (the saga undoes what was done), audited as
 * `tenant.onboarding.cancel-requested` once the tenant row exists. Throws 404 when the slug never
 * had an onboarding and 409 ONBOARDING_CLOSED once it has finished.
 */
export async function cancelOnboarding(
  { prisma, temporal }: Pick<OnboardingServiceDeps, 'prisma' | 'temporal'>,
  actor: string,
  slug: string,
): Promise<{ workflowId: string; runId: string }> {
  const workflowId = tenantOnboardingId(slug);
  const handle = temporal.workflow.getHandle(workflowId);
  const description = await handle.describe();
  if (description.status.name !== 'RUNNING') {
    throw workflowClosed('ONBOARDING_CLOSED', 'onboarding', workflowId, description.status.name);
  }
  await handle.cancel();
  const tenantId = tenantIdForSlug(slug);
  // The onboarding's first step writes the tenant row; before that there is nothing to audit against.
  if ((await prisma.tenant.count({ where: { id: tenantId } })) > 0) {
    await writeAudit(prisma, {
      tenantId,
      actor,
      action: 'tenant.onboarding.cancel-requested',
      entityType: 'Tenant',
      entityId: tenantId,
      details: { workflowId, runId: description.runId },
    });
  }
  return { workflowId, runId: description.runId };
}
