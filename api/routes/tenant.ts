import type { RouteSpec } from '../openapi/route-spec';
import { Router } from 'express';
import { z } from 'zod';
import type { PrismaClient } from '../../lib/db';
import { principalOf, requireRole, roles } from '../auth';
import { notFound } from '../errors';
import { writeAudit } from '../../activities/audit';
import { email, int4, noQuery } from '../schemas';
import { parse } from '../validation';

const settingsBody = z
  .object({
    holdMinutes: int4(1, 7 * 24 * 60).optional(),
    retentionDays: int4(1, 3650).optional(),
    adminEmail: email().nullable().optional(),
    paymentTermsDays: int4(1, 365).optional(),
    vendorResponseMinutes: int4(1, 7 * 24 * 60).optional(),
    // A webhook delivery's attempts, its first retry interval (doubling after, capped by the
    // workflow) and the consecutive failed deliveries that disable an endpoint.
    webhookMaxAttempts: int4(1, 20).optional(),
    webhookRetryInitialSeconds: int4(1, 3600).optional(),
    webhookFailureThreshold: int4(1, 1000).optional(),
    defaultLocale: z
      .string()
      .regex(/^[a-z]{2,3}(-[A-Z][A-Za-z]{1,3})?$/, 'a locale such as en or pt-BR')
      .optional(),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, { message: 'name at least one setting' });

function present(tenant: {
  id: string;
  slug: string;
  name: string;
  status: string;
  tier: string;
  holdMinutes: number;
  retentionDays: number;
  adminEmail: string | null;
  paymentTermsDays: number;
  vendorResponseMinutes: number;
  webhookMaxAttempts: number;
  webhookRetryInitialSeconds: number;
  webhookFailureThreshold: number;
  defaultLocale: string;
}) {
  const { id, slug, name, status, tier, holdMinutes, retentionDays, adminEmail } = tenant;
  const { paymentTermsDays, vendorResponseMinutes, defaultLocale } = tenant;
  const { webhookMaxAttempts, webhookRetryInitialSeconds, webhookFailureThreshold } = tenant;
  return {
    id,
    slug,
    name,
    status,
    tier,
    settings: {
      holdMinutes,
      retentionDays,
      adminEmail,
      paymentTermsDays,
      vendorResponseMinutes,
      webhookMaxAttempts,
      webhookRetryInitialSeconds,
      webhookFailureThreshold,
      defaultLocale,
    },
  };
}

/** The caller's own tenant: who am I, and the settings flows read (hold length, retention, payment terms). */
export function createTenantRouter({ prisma }: { prisma: PrismaClient }): Router {
  const router = Router();

  router.get('/me', (req, res) => {
    parse(noQuery, req.query);
    const { subject, tenantId, roles } = principalOf(req);
    res.json({ subject, tenantId, roles });
  });

  router.get('/tenant', async (req, res) => {
    parse(noQuery, req.query);
    const tenant = await prisma.tenant.findUnique({ where: { id: principalOf(req).tenantId } });
    if (!tenant) throw notFound('Tenant');
    res.json(present(tenant));
  });

  router.patch('/tenant/settings', requireRole('tenant-admin'), async (req, res) => {
    parse(noQuery, req.query);
    const settings = parse(settingsBody, req.body);
    const { tenantId, subject } = principalOf(req);
    const tenant = await prisma.$transaction(async (tx) => {
      const updated = await tx.tenant.updateMany({ where: { id: tenantId }, data: settings });
      if (updated.count === 0) throw notFound('Tenant');
      await writeAudit(tx, {
        tenantId,
        actor: subject,
        action: 'tenant.settings.updated',
        entityType: 'Tenant',
        entityId: tenantId,
        details: settings,
      });
      return tx.tenant.findUniqueOrThrow({ where: { id: tenantId } });
    });
    res.json(present(tenant));
  });

  return router;
}

const principalAnswer = z.object({ subject: z.string(), tenantId: z.string(), roles: z.array(z.enum(roles)) });

const tenantAnswer = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  status: z.enum(['PENDING', 'ACTIVE', 'FAILED', 'SUSPENDED']),
  tier: z.string(),
  settings: z.object({
    holdMinutes: z.number().int(),
    retentionDays: z.number().int(),
    adminEmail: z.string().nullable(),
    paymentTermsDays: z.number().int(),
    vendorResponseMinutes: z.number().int(),
    webhookMaxAttempts: z.number().int(),
    webhookRetryInitialSeconds: z.number().int(),
    webhookFailureThreshold: z.number().int(),
    defaultLocale: z.string(),
  }),
});

export const tenantRoutes: RouteSpec[] = [
  {
    method: 'get',
    path: '/api/v1/me',
    operationId: 'getMe',
    summary: "The token's subject, tenant and roles",
    tag: 'Tenant',
    auth: 'member',
    query: noQuery,
    responses: { 200: { description: 'Who the token speaks for', schema: principalAnswer } },
  },
  {
    method: 'get',
    path: '/api/v1/tenant',
    operationId: 'getTenant',
    summary: "The caller's tenant and its settings",
    tag: 'Tenant',
    auth: 'member',
    query: noQuery,
    responses: {
      200: { description: 'The tenant', schema: tenantAnswer },
      404: { description: 'The token names no tenant that exists' },
    },
  },
  {
    method: 'patch',
    path: '/api/v1/tenant/settings',
    operationId: 'updateTenantSettings',
    summary: 'Change the settings flows read (hold length, retention, payment terms, webhooks, locale)',
    description: 'Audited as tenant.settings.updated.',
    tag: 'Tenant',
    auth: 'tenant-admin',
    query: noQuery,
    body: settingsBody,
    responses: { 200: { description: 'The tenant with its new settings', schema: tenantAnswer } },
  },
];
