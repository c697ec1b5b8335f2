import type { RouteSpec } from '../openapi/route-spec';
import { Router } from 'express';
import { z } from 'zod';
import type { PrismaClient } from '../../lib/db';
import { principalOf, requireRole } from '../auth';
import { notFound } from '../errors';
import { int4, money, noBody, noQuery, pagination, singleLine, uuid } from '../schemas';
import { createRetailer, createVendor, updateRetailer, updateVendor } from '../services/partners';
import { recalculateCreditScore } from '../services/retailers';
import { parse } from '../validation';

/**
 * The reference data orders are routed with: the tenant's retailers (who order, on credit) and
 * vendors (who fulfil). Any role reads; tenant-admin writes. Scoped to the token's tenant: another
 * tenant's row is simply not found.
 */

export interface PartnersRouterDeps {
  prisma: PrismaClient;
}

const channel = z.enum(['EMAIL', 'SMS', 'WHATSAPP']);
const idParams = z.object({ id: uuid() });
const name = singleLine(200);
/** An email address or an E.164 number; the partner services match it to the channel. */
const contact = singleLine(254);
const region = singleLine(100);
const listQuery = z.object(pagination()).strict();

const retailerFields = {
  name,
  channel,
  contact,
  /** Minor units. */
  creditLimit: money(),
};
const createRetailerBody = z.object(retailerFields).strict();
const updateRetailerBody = z
  .object({ ...retailerFields, flagged: z.literal(false) })
  .partial()
  .strict()
  .refine((body) => Object.keys(body).length > 0, { message: 'name at least one field' });

const vendorFields = {
  name,
  region,
  categories: z.array(singleLine(100)).min(1).max(50),
  capacity: int4(1, 100_000),
  rating: z.number().min(0).max(5),
  active: z.boolean(),
  channel,
  contact,
};
const createVendorBody = z.object(vendorFields).partial({ rating: true, active: true }).strict();
const updateVendorBody = z
  .object(vendorFields)
  .partial()
  .strict()
  .refine((body) => Object.keys(body).length > 0, { message: 'name at least one field' });
const vendorListQuery = listQuery.extend({
  region: region.optional(),
  active: z.enum(['true', 'false']).optional(),
});

function presentRetailer(retailer: {
  id: string;
  name: string;
  channel: string;
  contact: string;
  creditLimit: number;
  creditScore: number;
  flagged: boolean;
  flaggedReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}) {
  const { id, name, channel, contact, creditLimit, creditScore, flagged, flaggedReason, createdAt, updatedAt } =
    retailer;
  return { id, name, channel, contact, creditLimit, creditScore, flagged, flaggedReason, createdAt, updatedAt };
}

function presentVendor(vendor: {
  id: string;
  name: string;
  region: string;
  categories: string[];
  capacity: number;
  rating: number;
  active: boolean;
  channel: string;
  contact: string;
  createdAt: Date;
  updatedAt: Date;
}) {
  const { id, name, region, categories, capacity, rating, active, channel, contact, createdAt, updatedAt } = vendor;
  return { id, name, region, categories, capacity, rating, active, channel, contact, createdAt, updatedAt };
}

export function createPartnersRouter({ prisma }: PartnersRouterDeps): Router {
  const router = Router();

  router.post('/retailers', requireRole('tenant-admin'), async (req, res) => {
    parse(noQuery, req.query);
    const body = parse(createRetailerBody, req.body);
    const { tenantId, subject } = principalOf(req);
    const retailer = await createRetailer(prisma, { tenantId, actor: subject }, body);
    res.status(201).location(`/api/v1/retailers/${retailer.id}`).json(presentRetailer(retailer));
  });

  router.get('/retailers', async (req, res) => {
    const { limit, offset } = parse(listQuery, req.query);
    const retailers = await prisma.retailer.findMany({
      where: { tenantId: principalOf(req).tenantId },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      take: limit,
      skip: offset,
    });
    res.json({ retailers: retailers.map(presentRetailer) });
  });

  router.get('/retailers/:id', async (req, res) => {
    const { id } = parse(idParams, req.params);
    parse(noQuery, req.query);
    const retailer = await prisma.retailer.findFirst({ where: { id, tenantId: principalOf(req).tenantId } });
    if (!retailer) throw notFound('Retailer', { id });
    res.json(presentRetailer(retailer));
  });

  router.patch('/retailers/:id', requireRole('tenant-admin'), async (req, res) => {
    const { id } = parse(idParams, req.params);
    parse(noQuery, req.query);
    const body = parse(updateRetailerBody, req.body);
    const { tenantId, subject } = principalOf(req);
    const retailer = await updateRetailer(prisma, { tenantId, actor: subject }, id, body);
    res.json(presentRetailer(retailer));
  });

  router.post('/retailers/:id/credit-score/recalculate', requireRole('operator'), async (req, res) => {
    const { id } = parse(idParams, req.params);
    parse(noQuery, req.query);
    parse(noBody, req.body);
    const { tenantId, subject } = principalOf(req);
    res.json(await recalculateCreditScore(prisma, { tenantId, actor: subject }, id));
  });

  router.post('/vendors', requireRole('tenant-admin'), async (req, res) => {
    parse(noQuery, req.query);
    const body = parse(createVendorBody, req.body);
    const { tenantId, subject } = principalOf(req);
    const vendor = await createVendor(prisma, { tenantId, actor: subject }, body);
    res.status(201).location(`/api/v1/vendors/${vendor.id}`).json(presentVendor(vendor));
  });

  router.get('/vendors', async (req, res) => {
    const { limit, offset, region, active } = parse(vendorListQuery, req.query);
    const vendors = await prisma.vendor.findMany({
      where: {
        tenantId: principalOf(req).tenantId,
        ...(region ? { region } : {}),
        ...(active ? { active: active === 'true' } : {}),
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      take: limit,
      skip: offset,
    });
    res.json({ vendors: vendors.map(presentVendor) });
  });

  router.get('/vendors/:id', async (req, res) => {
    const { id } = parse(idParams, req.params);
    parse(noQuery, req.query);
    const vendor = await prisma.vendor.findFirst({ where: { id, tenantId: principalOf(req).tenantId } });
    if (!vendor) throw notFound('Vendor', { id });
    res.json(presentVendor(vendor));
  });

  router.patch('/vendors/:id', requireRole('tenant-admin'), async (req, res) => {
    const { id } = parse(idParams, req.params);
    parse(noQuery, req.query);
    const body = parse(updateVendorBody, req.body);
    const { tenantId, subject } = principalOf(req);
    const vendor = await updateVendor(prisma, { tenantId, actor: subject }, id, body);
    res.json(presentVendor(vendor));
  });

  return router;
}

const retailerAnswer = z.object({
  id: z.uuid(),
  name: z.string(),
  channel,
  contact: z.string(),
  creditLimit: z.number().int(),
  creditScore: z.number().int(),
  flagged: z.boolean(),
  flaggedReason: z.string().nullable(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});

const vendorAnswer = z.object({
  id: z.uuid(),
  name: z.string(),
  region: z.string(),
  categories: z.array(z.string()),
  capacity: z.number().int(),
  rating: z.number(),
  active: z.boolean(),
  channel,
  contact: z.string(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});

export const partnersRoutes: RouteSpec[] = [
  {
    method: 'post',
    path: '/api/v1/retailers',
    operationId: 'createRetailer',
    summary: 'Add a retailer (who orders, on credit)',
    tag: 'Retailers',
    auth: 'tenant-admin',
    query: noQuery,
    body: createRetailerBody,
    responses: { 201: { description: 'The retailer, with Location', schema: retailerAnswer } },
  },
  {
    method: 'get',
    path: '/api/v1/retailers',
    operationId: 'listRetailers',
    summary: "The tenant's retailers",
    tag: 'Retailers',
    auth: 'member',
    query: listQuery,
    responses: { 200: { description: 'A page', schema: z.object({ retailers: z.array(retailerAnswer) }) } },
  },
  {
    method: 'get',
    path: '/api/v1/retailers/:id',
    operationId: 'getRetailer',
    summary: 'One retailer',
    tag: 'Retailers',
    auth: 'member',
    params: idParams,
    query: noQuery,
    responses: { 200: { description: 'The retailer', schema: retailerAnswer } },
  },
  {
    method: 'patch',
    path: '/api/v1/retailers/:id',
    operationId: 'updateRetailer',
    summary: 'Change a retailer; `flagged: false` clears a credit flag',
    tag: 'Retailers',
    auth: 'tenant-admin',
    params: idParams,
    query: noQuery,
    body: updateRetailerBody,
    responses: { 200: { description: 'The retailer as changed', schema: retailerAnswer } },
  },
  {
    method: 'post',
    path: '/api/v1/retailers/:id/credit-score/recalculate',
    operationId: 'recalculateRetailerCreditScore',
    summary: "Recalculate a retailer's credit score from its payment history now",
    tag: 'Retailers',
    auth: 'operator',
    params: idParams,
    query: noQuery,
    body: noBody,
    responses: { 200: { description: 'The new score' } },
  },
  {
    method: 'post',
    path: '/api/v1/vendors',
    operationId: 'createVendor',
    summary: 'Add a vendor (who fulfils orders)',
    tag: 'Vendors',
    auth: 'tenant-admin',
    query: noQuery,
    body: createVendorBody,
    responses: { 201: { description: 'The vendor, with Location', schema: vendorAnswer } },
  },
  {
    method: 'get',
    path: '/api/v1/vendors',
    operationId: 'listVendors',
    summary: "The tenant's vendors, by region and whether active",
    tag: 'Vendors',
    auth: 'member',
    query: vendorListQuery,
    responses: { 200: { description: 'A page', schema: z.object({ vendors: z.array(vendorAnswer) }) } },
  },
  {
    method: 'get',
    path: '/api/v1/vendors/:id',
    operationId: 'getVendor',
    summary: 'One vendor',
    tag: 'Vendors',
    auth: 'member',
    params: idParams,
    query: noQuery,
    responses: { 200: { description: 'The vendor', schema: vendorAnswer } },
  },
  {
    method: 'patch',
    path: '/api/v1/vendors/:id',
    operationId: 'updateVendor',
    summary: 'Change a vendor',
    tag: 'Vendors',
    auth: 'tenant-admin',
    params: idParams,
    query: noQuery,
    body: updateVendorBody,
    responses: { 200: { description: 'The vendor as changed', schema: vendorAnswer } },
  },
];
