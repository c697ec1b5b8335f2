import type { PrismaClient } from '../../../lib/db';
import { PLATFORM_TENANT_ID, type Principal } from '../../auth';
import { AppError } from '../../errors';

/**
 * Whose flows an operations request sees: one tenant's (a tenant's token, or a platform admin who
 * named one), or every tenant's (a platform admin who named none).
 */
export type OperationsScope = { tenantId: string } | { allTenants: true };

export const isTenantScope = (scope: OperationsScope): scope is { tenantId: string } => 'tenantId' in scope;

/** A stable key per scope, for caches. */
export const scopeKey = (scope: OperationsScope): string => (isTenantScope(scope) ? `tenant:${scope.tenantId}` : 'all');

/** Whether a flow carrying `tenantId` (its TenantId search attribute) belongs to the scope. */
export function inScope(scope: OperationsScope, tenantId: string | null | undefined): boolean {
  return isTenantScope(scope) ? tenantId === scope.tenantId : true;
}

/**
 * The scope of an operations request. A tenant's token sees its own tenant; naming another tenant
 * is 403 whatever that tenant is, so nothing is learnt about it. A platform admin names one tenant
 * with `?tenantId=` (404 when no tenant has that ID) or, naming none, looks across all.
 */
export async function resolveOperationsScope(
  prisma: Pick<PrismaClient, 'tenant'>,
  principal: Principal,
  named: string | undefined,
): Promise<OperationsScope> {
  if (principal.tenantId !== PLATFORM_TENANT_ID) {
    if (named !== undefined && named !== principal.tenantId) {
      throw new AppError(403, 'FORBIDDEN', 'Only a platform admin may name another tenant', { tenantId: named });
    }
    return { tenantId: principal.tenantId };
  }
  if (named === undefined) return { allTenants: true };
  const tenant = await prisma.tenant.findUnique({ where: { id: named }, select: { id: true } });
  if (!tenant) throw new AppError(404, 'TENANT_NOT_FOUND', 'Tenant not found', { tenantId: named });
  return { tenantId: tenant.id };
}
