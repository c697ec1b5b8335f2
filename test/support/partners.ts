import { randomUUID } from 'node:crypto';
import type { PrismaClient } from '../../lib/db';

/** An address no other row shares, so that tests looking for a message by recipient find only their own. */
export const uniqueContact = (name: string, domain: string) => `${name}-${randomUUID().slice(0, 8)}@${domain}`;

/** Orders are routed by region: a region of its own keeps a test's vendors to itself. */
export const newRegion = () => `region-${randomUUID().slice(0, 8)}`;

export interface RetailerFields {
  name?: string;
  contact?: string;
  creditLimit?: number;
  flagged?: boolean;
}

/**
 * A retailer "Corner Shop" of `tenantId`, reached by email at an address of its own, with a credit
 * limit no test order comes near unless `creditLimit` says otherwise.
 */
export function createRetailer(prisma: PrismaClient, tenantId: string, fields: RetailerFields = {}) {
  return prisma.retailer.create({
    data: {
      tenantId,
      name: 'Corner Shop',
      channel: 'EMAIL',
      contact: uniqueContact('shop', 'retail.test'),
      creditLimit: 100_000_000,
      ...fields,
    },
  });
}

export interface VendorFields {
  name?: string;
  region?: string;
  capacity?: number;
  rating?: number;
  active?: boolean;
  contact?: string;
}

/**
 * An active vendor "Fresh Farms" of `tenantId` supplying produce, reached by email at an address of
 * its own, in a region of its own unless `region` says otherwise.
 */
export function createVendor(prisma: PrismaClient, tenantId: string, fields: VendorFields = {}) {
  return prisma.vendor.create({
    data: {
      tenantId,
      name: 'Fresh Farms',
      region: newRegion(),
      categories: ['produce'],
      capacity: 10,
      rating: 4,
      channel: 'EMAIL',
      contact: uniqueContact('vendor', 'vendors.test'),
      ...fields,
    },
  });
}
