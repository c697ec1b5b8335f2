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

/** How a flow audits the offers it makes to one party at a time (a waitlist hold, a vendor's routing attempt). */
export interface OfferAuditing {
  /** The flow's own actor: an offer is made by the flow, never by a person. */
  actor: string;
  /** The offer row's entity type. */
  entityType: string;
  /** The action's subject: the row's action is `{subject}.offered`. */
  subject: string;
  /** The dedup key's prefix: the key is `{keyPrefix}:{offerId}:offered`. */
  keyPrefix: string;
}

/**
 * Audits that an offer was made, in the transaction that inserts it. The key is the offer's own,
 * so the retry of an insert whose answer was lost records it once.
 */
export function auditOfferMade(
  db: Prisma.TransactionClient | PrismaClient,
  { actor, entityType, subject, keyPrefix }: OfferAuditing,
  offer: { tenantId: string; offerId: string; details: Prisma.InputJsonValue },
) {
  return writeAudit(db, {
    tenantId: offer.tenantId,
    actor,
    action: `${subject}.offered`,
    entityType,
    entityId: offer.offerId,
    details: offer.details,
    dedupKey: `${keyPrefix}:${offer.offerId}:offered`,
  });
}
