import { writeAudit } from '../../../activities/audit';
import type { Prisma } from '../../../lib/db';
import type { OperationsDeps } from './operations-deps';
import { isTenantRowId } from './visibility-query';

export interface OperationAudit {
  actor: string;
  action: string;
  entityType: 'Workflow' | 'DeadLetter';
  entityId: string;
  details: Record<string, unknown>;
  /** Makes the row the record of a request that must happen once (see AuditLog.dedupKey). */
  dedupKey?: string;
}

/**
 * Audits an operator's action under the tenant whose flow it touched (its TenantId, not the
 * caller's token: a platform admin acting on a tenant's flow shows in that tenant's log). The
 * platform's own flows have no tenant row to hold an audit row, so they are logged only.
 */
export async function auditOperation(
  deps: Pick<OperationsDeps, 'prisma' | 'logger'>,
  tenantId: string | null,
  entry: OperationAudit,
): Promise<void> {
  if (isTenantRowId(tenantId)) {
    await writeAudit(deps.prisma, { tenantId, ...entry, details: entry.details as Prisma.InputJsonValue });
    return;
  }
  deps.logger?.info(
    { audit: { action: entry.action, entityType: entry.entityType, entityId: entry.entityId } },
    'platform flow action',
  );
}
