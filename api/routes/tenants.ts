import type { RouteSpec } from '../openapi/route-spec';
import type { WorkflowRouterDeps } from '../router-deps';
import { Router, type Request } from 'express';
import type { WorkflowHandle } from '@temporalio/client';
import { z } from 'zod';
import { isValidSlug, SLUG_PATTERN, slugFromName, tenantIdForSlug, tenantTiers } from '../../domain/tenants';
import {
  approveOnboardingUpdate,
  getOnboardingProgressQuery,
  rejectOnboardingUpdate,
  tenantOnboardingId,
  type OnboardingProgress,
} from '../../workflows/tenant-onboarding.contract';
import { hasRole, principalOf, requireRole, type TenantStatusCache } from '../auth';
import { AppError, conflict, notFound } from '../errors';
import { writeAudit } from '../../activities/audit';
import { describedAsClosed, whileOpen } from '../closed-workflows';
import { cancelOnboarding, startOnboarding } from '../services/onboarding';
import { refuseErasedTenant } from '../services/tenant-erasure';
import { readablePendingActivities } from '../services/operations/temporal-records';
import { email, multiLine, noBody, noQuery, optionalBody, singleLine } from '../schemas';
import { parse } from '../validation';

export interface TenantsRouterDeps extends WorkflowRouterDeps {
  /** Forgotten for a tenant whose status a platform admin changes, so the change applies to the next request. */
  tenantStatus: TenantStatusCache;
}

const name = singleLine(200);

const onboardBody = z
  .object({
    organizationName: name,
    slug: z.string().refine(isValidSlug, {
      message: 'expected 3-63 characters of a-z, 0-9 and single inner hyphens, not a reserved word',
    }),
    adminEmail: email(),
    adminName: name,
    tier: z.enum(tenantTiers),
  })
  .partial({ slug: true })
  .strict()
  .transform((body, ctx) => {
    const slug = body.slug ?? slugFromName(body.organizationName);
    if (!isValidSlug(slug)) {
      ctx.addIssue({
        code: 'custom',
        path: ['slug'],
        message: `no valid slug can be made from the organization name ("${slug}"); give one`,
      });
      return z.NEVER;
    }
    return { ...body, slug };
  });

const slugParams = z.object({ slug: z.string().regex(SLUG_PATTERN) });
const approveBody = optionalBody({ note: multiLine(1000).optional() });
const rejectBody = z.object({ reason: multiLine(1000) }).strict();

/** A pending activity as the server describes it, reduced to what the progress view adds. */
interface PendingActivity {
  activityType?: { name?: string | null } | null;
  attempt?: number | null;
  lastFailure?: { message?: string | null } | null;
}

/**
 * The workflow sees an activity only when it finishes; the server knows the live attempt count
 * and last failure of one still retrying, so a running step shows them.
 */
function withLiveAttempts(progress: OnboardingProgress, pending: PendingActivity[]): OnboardingProgress {
  return {
    ...progress,
    steps: progress.steps.map((step) => {
      const live = pending.find((activity) => activity.activityType?.name === step.name);
      if (step.status !== 'running' || !live) return step;
      return {
        ...step,
        attempts: live.attempt ?? step.attempts,
        lastError: live.lastFailure?.message ?? step.lastError,
      };
    }),
  };
}

/**
 * Tenant onboarding, for platform admins:
 *
 * - `POST /tenants` `{ organizationName, slug?, adminEmail, adminName, tier }` starts the
 *   onboarding saga: 202 `{ workflowId, runId, tenantId, slug }` with `Location`. The slug is
 *   derived from the organization name when absent. The tenant ID is derived from the slug, so a
 *   repeat while the onboarding runs joins it (same IDs) and, after a failure, a new onboarding
 *   reuses the FAILED tenant; 409 TENANT_EXISTS once the slug belongs to a tenant in use.
 * - `GET /tenants/:slug/onboarding`: the progress (also for the tenant's own tenant-admin).
 * - `POST /tenants/:slug/onboarding/approve` `{ note? }` and `/reject` `{ reason }`: the
 *   enterprise decision (409 NOT_AWAITING_APPROVAL when none is awaited).
 * - `POST /tenants/:slug/onboarding/cancel`: 202; the saga undoes what was done.
 * - `POST /tenants/:slug/suspend` and `/reactivate` `{ reason }`: see {@link addStatusChangeRoutes}.
 *
 * 404 when the slug never had an onboarding, 409 ONBOARDING_CLOSED when it has finished.
 */
export function createTenantsRouter({
  prisma,
  temporal,
  taskQueue,
  fairnessWeights,
  tenantStatus,
}: TenantsRouterDeps): Router {
  const router = Router();

  /** Answers for an onboarding that cannot take the request: 404 if it never ran, else 409. */
  /** Sends an approval Update to the slug's onboarding. */
  async function decide<T>(req: Request, update: (handle: WorkflowHandle, actor: string) => Promise<T>): Promise<T> {
    const { slug } = parse(slugParams, req.params);
    parse(noQuery, req.query);
    const workflowId = tenantOnboardingId(slug);
    return whileOpen(
      () => update(temporal.workflow.getHandle(workflowId), principalOf(req).subject),
      () => describedAsClosed(temporal, 'ONBOARDING_CLOSED', 'onboarding', workflowId),
    );
  }

  router.post('/tenants', requireRole('platform-admin'), async (req, res) => {
    parse(noQuery, req.query);
    const body = parse(onboardBody, req.body);
    const { subject } = principalOf(req);
    await refuseErasedTenant(prisma, { id: tenantIdForSlug(body.slug), slug: body.slug });
    const { workflowId, runId, tenantId } = await startOnboarding(
      { prisma, temporal, taskQueue, fairnessWeights },
      subject,
      body,
    );
    res
      .status(202)
      .location(`/api/v1/tenants/${body.slug}/onboarding`)
      .json({ workflowId, runId, tenantId, slug: body.slug });
  });

  router.get('/tenants/:slug/onboarding', async (req, res) => {
    const { slug } = parse(slugParams, req.params);
    parse(noQuery, req.query);
    const principal = principalOf(req);
    const ownTenant = principal.tenantId === tenantIdForSlug(slug);
    // Another tenant's onboarding is simply not found, exactly like a slug that never had one.
    if (!hasRole(principal, 'platform-admin') && !ownTenant) throw notFound('Onboarding', { slug });
    if (!hasRole(principal, 'platform-admin') && !hasRole(principal, 'tenant-admin')) {
      throw new AppError(403, 'FORBIDDEN', 'This needs the platform-admin role, or tenant-admin of this tenant');
    }
    // An erased onboarding's history cannot be read any more: the query would fail in the worker.
    await refuseErasedTenant(prisma, { id: tenantIdForSlug(slug), slug });
    const handle = temporal.workflow.getHandle(tenantOnboardingId(slug));
    const description = await handle.describe();
    const progress = await handle.query(getOnboardingProgressQuery);
    res.json({
      workflowId: description.workflowId,
      runId: description.runId,
      execution: description.status.name,
      ...withLiveAttempts(
        progress,
        await readablePendingActivities(temporal, description.workflowId, description.raw.pendingActivities),
      ),
    });
  });

  router.post('/tenants/:slug/onboarding/approve', requireRole('platform-admin'), async (req, res) => {
    const note = parse(approveBody, req.body)?.note;
    res.json(
      await decide(req, (handle, actor) => handle.executeUpdate(approveOnboardingUpdate, { args: [{ actor, note }] })),
    );
  });

  router.post('/tenants/:slug/onboarding/reject', requireRole('platform-admin'), async (req, res) => {
    const { reason } = parse(rejectBody, req.body);
    res.json(
      await decide(req, (handle, actor) => handle.executeUpdate(rejectOnboardingUpdate, { args: [{ actor, reason }] })),
    );
  });

  router.post('/tenants/:slug/onboarding/cancel', requireRole('platform-admin'), async (req, res) => {
    const { slug } = parse(slugParams, req.params);
    parse(noQuery, req.query);
    parse(noBody, req.body);
    const { subject } = principalOf(req);
    const { workflowId, runId } = await cancelOnboarding({ prisma, temporal }, subject, slug);
    res.status(202).json({ workflowId, runId, status: 'cancelling' });
  });

  addStatusChangeRoutes(router, { prisma, tenantStatus });

  return router;
}

const statusChangeBody = z
  .object({
    reason: multiLine(1000),
  })
  .strict();

/**
 * The status changes a platform admin makes by hand: each from one status to another. The routes
 * and their specs (`tenantsRoutes`) are both made from this list.
 */
const statusChanges = {
  suspend: {
    from: 'ACTIVE',
    to: 'SUSPENDED',
    action: 'tenant.suspended',
    refusal: { code: 'TENANT_NOT_ACTIVE', message: 'Only an ACTIVE tenant can be suspended' },
    operationId: 'suspendTenant',
    summary: 'Suspend an ACTIVE tenant: its tokens are refused, its running flows go on',
    done: 'Suspended',
  },
  reactivate: {
    from: 'SUSPENDED',
    to: 'ACTIVE',
    action: 'tenant.reactivated',
    refusal: { code: 'TENANT_NOT_SUSPENDED', message: 'Only a SUSPENDED tenant can be reactivated' },
    operationId: 'reactivateTenant',
    summary: 'Reactivate a SUSPENDED tenant',
    done: 'Active again',
  },
} as const;

/**
 * Suspension, for platform admins:
 *
 * - `POST /tenants/:slug/suspend` `{ reason }`: an ACTIVE tenant becomes SUSPENDED. From its
 *   next request on, every tenant route answers its tokens 403 TENANT_INACTIVE, so it starts
 *   nothing new; flows already running go on (timers fire, and candidates and vendors can still
 *   answer their links).
 * - `POST /tenants/:slug/reactivate` `{ reason }`: a SUSPENDED tenant becomes ACTIVE again.
 *
 * Both answer 200 `{ tenantId, slug, status }` and write an audit row with the reason; 404 for an
 * unknown slug; 409 TENANT_NOT_ACTIVE or TENANT_NOT_SUSPENDED when the tenant is in another
 * status (a PENDING or FAILED tenant has no onboarding finished to suspend).
 */
function addStatusChangeRoutes(
  router: Router,
  { prisma, tenantStatus }: Pick<TenantsRouterDeps, 'prisma' | 'tenantStatus'>,
): void {
  for (const [verb, change] of Object.entries(statusChanges)) {
    router.post(`/tenants/:slug/${verb}`, requireRole('platform-admin'), async (req, res) => {
      const { slug } = parse(slugParams, req.params);
      parse(noQuery, req.query);
      const { reason } = parse(statusChangeBody, req.body);
      const { subject } = principalOf(req);
      const tenantId = await prisma.$transaction(async (tx) => {
        const tenant = await tx.tenant.findUnique({ where: { slug }, select: { id: true, status: true } });
        if (!tenant) throw notFound('Tenant', { slug });
        const moved = await tx.tenant.updateMany({
          where: { id: tenant.id, status: change.from },
          data: { status: change.to },
        });
        if (moved.count === 0) {
          const { code, message } = change.refusal;
          throw conflict(code, `${message}; ${slug} is ${tenant.status}`, { slug, status: tenant.status });
        }
        // Read under the row lock the update holds, which an erasure takes before writing its tombstones
        // (api/services/tenant-erasure.ts): one of the two waits for the other, so they cannot both succeed.
        if (change.to === 'ACTIVE') await refuseErasedTenant(tx, { id: tenant.id, slug });
        await writeAudit(tx, {
          tenantId: tenant.id,
          actor: subject,
          action: change.action,
          entityType: 'Tenant',
          entityId: tenant.id,
          details: { reason, from: change.from, to: change.to },
        });
        return tenant.id;
      });
      tenantStatus.forget(tenantId);
      res.json({ tenantId, slug, status: change.to });
    });
  }
}

const onboardingTag = 'Tenants';

const statusChangeAnswer = z.object({
  tenantId: z.string(),
  slug: z.string(),
  status: z.enum(['ACTIVE', 'SUSPENDED']),
});

export const tenantsRoutes: RouteSpec[] = [
  {
    method: 'post',
    path: '/api/v1/tenants',
    operationId: 'onboardTenant',
    summary: 'Start a tenant’s onboarding saga',
    description:
      'The slug is derived from the organization name when left out; a repeat while the onboarding runs joins ' +
      'it, and after a failure a new onboarding reuses the FAILED tenant.',
    tag: onboardingTag,
    auth: 'platform-admin',
    query: noQuery,
    body: onboardBody,
    responses: {
      202: {
        description: 'Onboarding, with Location',
        schema: z.object({ workflowId: z.string(), runId: z.string(), tenantId: z.string(), slug: z.string() }),
      },
      409: { description: 'TENANT_EXISTS: the slug belongs to a tenant in use; TENANT_ERASED: its keys were erased' },
    },
  },
  {
    method: 'get',
    path: '/api/v1/tenants/:slug/onboarding',
    operationId: 'getOnboarding',
    summary: 'An onboarding’s progress, step by step, with live attempts of a retrying step',
    description: 'For platform admins, and for the tenant’s own tenant-admin.',
    tag: onboardingTag,
    auth: 'tenant-admin',
    params: slugParams,
    query: noQuery,
    responses: {
      200: { description: 'The progress' },
      409: { description: 'TENANT_ERASED: its payload keys were erased, so its onboarding can no longer be read' },
    },
  },
  {
    method: 'post',
    path: '/api/v1/tenants/:slug/onboarding/approve',
    operationId: 'approveOnboarding',
    summary: 'Approve an enterprise onboarding awaiting the decision',
    tag: onboardingTag,
    auth: 'platform-admin',
    params: slugParams,
    query: noQuery,
    body: approveBody,
    responses: {
      200: { description: 'Approved' },
      409: { description: 'NOT_AWAITING_APPROVAL, or ONBOARDING_CLOSED' },
    },
  },
  {
    method: 'post',
    path: '/api/v1/tenants/:slug/onboarding/reject',
    operationId: 'rejectOnboarding',
    summary: 'Reject an enterprise onboarding awaiting the decision',
    tag: onboardingTag,
    auth: 'platform-admin',
    params: slugParams,
    query: noQuery,
    body: rejectBody,
    responses: {
      200: { description: 'Rejected; the saga undoes what was done' },
      409: { description: 'NOT_AWAITING_APPROVAL, or ONBOARDING_CLOSED' },
    },
  },
  {
    method: 'post',
    path: '/api/v1/tenants/:slug/onboarding/cancel',
    operationId: 'cancelOnboarding',
    summary: 'Cancel an onboarding; the saga undoes what was done',
    tag: onboardingTag,
    auth: 'platform-admin',
    params: slugParams,
    query: noQuery,
    body: noBody,
    responses: {
      202: {
        description: 'Cancelling',
        schema: z.object({ workflowId: z.string(), runId: z.string(), status: z.literal('cancelling') }),
      },
    },
  },
  ...Object.entries(statusChanges).map(([verb, change]): RouteSpec => ({
    method: 'post',
    path: `/api/v1/tenants/:slug/${verb}`,
    operationId: change.operationId,
    summary: change.summary,
    description: `Audited as ${change.action} with the reason.`,
    tag: onboardingTag,
    auth: 'platform-admin',
    params: slugParams,
    query: noQuery,
    body: statusChangeBody,
    responses: {
      200: { description: change.done, schema: statusChangeAnswer },
      409: { description: change.to === 'ACTIVE' ? `${change.refusal.code}, or TENANT_ERASED` : change.refusal.code },
    },
  })),
];
