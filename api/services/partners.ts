import { writeAudit } from '../../activities/audit';
import { isValidRecipient, type NotificationChannel } from '../../domain/notifications';
import type { PrismaClient } from '../../lib/db';
import { AppError, notFound } from '../errors';

/** Who asks: the caller's tenant and identity (the audit log's actor). */
export interface PartnerCaller {
  tenantId: string;
  actor: string;
}

/** A retailer as a tenant admin registers it; `creditLimit` in minor units. */
export type RetailerRequest = {
  name: string;
  channel: NotificationChannel;
  contact: string;
  creditLimit: number;
};

/** A retailer's changes; `flagged: false` clears a flag and its reason. */
export type RetailerChanges = Partial<RetailerRequest> & { flagged?: false };

/** A vendor as a tenant admin registers it. */
export type VendorRequest = {
  name: string;
  region: string;
  categories: string[];
  capacity: number;
  rating?: number;
  active?: boolean;
  channel: NotificationChannel;
  contact: string;
};

/** A vendor's changes. */
export type VendorChanges = Partial<VendorRequest>;

/** The contact must be reachable on the channel: an address for EMAIL, an E.164 number otherwise. */
function checkContact(contact: { channel: NotificationChannel; contact: string }): void {
  if (!isValidRecipient(contact.channel, contact.contact)) {
    throw new AppError(400, 'VALIDATION_FAILED', 'The request is not valid', [
      {
        path: 'contact',
        message:
          contact.channel === 'EMAIL' ? 'expected an email address' : 'expected an E.164 number such as +14155550123',
      },
    ]);
  }
}

/** Registers a retailer, audited as `retailer.created`. Throws 400 for a contact the channel cannot reach. */
export async function createRetailer(
  prisma: PrismaClient,
  { tenantId, actor }: PartnerCaller,
  request: RetailerRequest,
) {
  checkContact(request);
  return prisma.$transaction(async (tx) => {
    const created = await tx.retailer.create({ data: { tenantId, ...request } });
    await writeAudit(tx, {
      tenantId,
      actor,
      action: 'retailer.created',
      entityType: 'Retailer',
      entityId: created.id,
      details: request,
    });
    return created;
  });
}

/**
 * Changes a retailer, audited as `retailer.updated`. Throws 404 for a retailer outside the tenant,
 * 400 when the contact (as changed) is not reachable on the channel (as changed).
 */
export async function updateRetailer(
  prisma: PrismaClient,
  { tenantId, actor }: PartnerCaller,
  id: string,
  changes: RetailerChanges,
) {
  return prisma.$transaction(async (tx) => {
    const existing = await tx.retailer.findFirst({ where: { id, tenantId } });
    if (!existing) throw notFound('Retailer', { id });
    checkContact({ channel: changes.channel ?? existing.channel, contact: changes.contact ?? existing.contact });
    const data = changes.flagged === false ? { ...changes, flaggedReason: null } : changes;
    const updated = await tx.retailer.update({ where: { id }, data });
    await writeAudit(tx, {
      tenantId,
      actor,
      action: 'retailer.updated',
      entityType: 'Retailer',
      entityId: id,
      details: changes,
    });
    return updated;
  });
}

/** Registers a vendor, audited as `vendor.created`. Throws 400 for a contact the channel cannot reach. */
export async function createVendor(prisma: PrismaClient, { tenantId, actor }: PartnerCaller, request: VendorRequest) {
  checkContact(request);
  return prisma.$transaction(async (tx) => {
    const created = await tx.vendor.create({ data: { tenantId, ...request } });
    await writeAudit(tx, {
      tenantId,
      actor,
      action: 'vendor.created',
      entityType: 'Vendor',
      entityId: created.id,
      details: request,
    });
    return created;
  });
}

/**
 * Changes a vendor, audited as `vendor.updated`. Throws 404 for a vendor outside the tenant, 400
 * when the contact (as changed) is not reachable on the channel (as changed).
 */
export async function updateVendor(
  prisma: PrismaClient,
  { tenantId, actor }: PartnerCaller,
  id: string,
  changes: VendorChanges,
) {
  return prisma.$transaction(async (tx) => {
    const existing = await tx.vendor.findFirst({ where: { id, tenantId } });
    if (!existing) throw notFound('Vendor', { id });
    checkContact({ channel: changes.channel ?? existing.channel, contact: changes.contact ?? existing.contact });
    const updated = await tx.vendor.update({ where: { id }, data: changes });
    await writeAudit(tx, {
      tenantId,
      actor,
      action: 'vendor.updated',
      entityType: 'Vendor',
      entityId: id,
      details: changes,
    });
    return updated;
  });
}
