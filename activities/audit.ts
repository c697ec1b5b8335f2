import type { Prisma, PrismaClient } from '../lib/db';

/** One AuditLog row as activities write it. */
export interface AuditEntry<EntityType extends string = string> {
  tenantId: string;
  actor: string;
  action: string;
  entityType: EntityType;
  entityId: string;
  details?: Prisma.InputJsonValue;
  /**
   * Set when an activity retry may write the same event again: the unique index drops the repeat.
   * Left out only where a retry cannot reach the write twice.
   */
  dedupKey?: string;
}

/** Writes audit rows, in `db`'s transaction when it is one; repeats of a dedup key are skipped. */
export function writeAudit(db: Prisma.TransactionClient | PrismaClient, ...entries: AuditEntry[]) {
  return db.auditLog.createMany({ data: entries, skipDuplicates: true });
}
