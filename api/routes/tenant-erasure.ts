import { Router } from 'express';
import { z } from 'zod';
import { SLUG_PATTERN } from '../../domain/tenants';
import { principalOf, requireRole } from '../auth';
import type { RouteSpec } from '../openapi/route-spec';
import type { WorkflowRouterDeps } from '../router-deps';
import { noBody, noQuery } from '../schemas';
import { eraseTenant, TENANT_ERASED_ACTION, type TenantErasureDeps } from '../services/tenant-erasure';
import { parse } from '../validation';

export type TenantErasureRouterDeps = Pick<WorkflowRouterDeps, 'prisma' | 'temporal'> & TenantErasureDeps;

const slugParams = z.object({ slug: z.string().regex(SLUG_PATTERN) });

/**
 * `POST /tenants/:slug/erase`, for platform admins: crypto-shreds the tenant's Temporal payloads once
 * it is suspended (or failed) and its flows are closed, deleting its Temporal Schedules first (even when
 * the erasure is then refused for running flows). 200
 * `{ tenantId, erasedScopes, deletedSchedules, erasedAt }`, the same again when repeated; 404 for an
 * unknown slug; 409 TENANT_NOT_SUSPENDED or TENANT_FLOWS_OPEN. See api/services/tenant-erasure.ts and
 * docs/encryption.md.
 */
export function createTenantErasureRouter(deps: TenantErasureRouterDeps): Router {
  const router = Router();
  router.post('/tenants/:slug/erase', requireRole('platform-admin'), async (req, res) => {
    const { slug } = parse(slugParams, req.params);
    parse(noQuery, req.query);
    parse(noBody, req.body);
    const erasure = await eraseTenant(deps, slug, principalOf(req).subject);
    const { tenantId, erasedScopes, deletedSchedules, erasedAt } = erasure;
    res.json({ tenantId, erasedScopes, deletedSchedules, erasedAt: erasedAt.toISOString() });
  });
  return router;
}

export const tenantErasureRoutes: RouteSpec[] = [
  {
    method: 'post',
    path: '/api/v1/tenants/:slug/erase',
    operationId: 'eraseTenant',
    summary: 'Crypto-shred a suspended tenant’s Temporal payloads (offboarding)',
    description:
      `Deletes the keys its histories' payloads are encrypted with; audited as ${TENANT_ERASED_ACTION}. ` +
      'The tenant must be SUSPENDED or FAILED, with no running flow. Its Temporal Schedules (report ' +
      'schedules) are deleted first, before its running flows are counted, so a refusal for running flows ' +
      'has deleted them already; their rows stay. Repeating it answers the same ' +
      'tombstones. Other processes forget the keys within PAYLOAD_KEY_CACHE_TTL; PostgreSQL rows are not ' +
      'deleted. See docs/encryption.md.',
    tag: 'Tenants',
    auth: 'platform-admin',
    params: slugParams,
    query: noQuery,
    body: noBody,
    responses: {
      200: {
        description: 'Erased (or already erased)',
        schema: z.object({
          tenantId: z.string(),
          erasedScopes: z.array(z.string()),
          deletedSchedules: z.array(z.string()),
          erasedAt: z.string(),
        }),
      },
      409: { description: 'TENANT_NOT_SUSPENDED (ACTIVE or PENDING), or TENANT_FLOWS_OPEN' },
    },
  },
];
