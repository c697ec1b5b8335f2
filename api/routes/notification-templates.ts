import type { RouteSpec } from '../openapi/route-spec';
import { Router } from 'express';
import { z } from 'zod';
import { NotificationChannel } from '../../generated/prisma/enums';
import type { PrismaClient } from '../../lib/db';
import { principalOf, requireRole } from '../auth';
import { AppError } from '../errors';
import { localeTag, multiLine, noQuery, singleLine, templateName } from '../schemas';
import { deleteTemplate, listTemplates, saveTemplate } from '../services/notifications';
import { parse } from '../validation';

export interface NotificationTemplatesRouterDeps {
  prisma: PrismaClient;
}

const templateParams = z.object({ template: templateName(), channel: z.enum(NotificationChannel) });

const saveBody = z
  .object({
    locale: localeTag().optional(),
    subject: singleLine(1_000).optional(),
    text: multiLine(50_000).optional(),
    html: multiLine(200_000).optional(),
    enabled: z.boolean().optional(),
  })
  .strict();

const localeQuery = z.object({ locale: localeTag().optional() }).strict();

/**
 * The tenant's notification templates (tenant admins only): the kinds Holdfast ships with their
 * variables and default sources, and the tenant's overrides per template, channel and locale.
 */
export function createNotificationTemplatesRouter({ prisma }: NotificationTemplatesRouterDeps): Router {
  const router = Router();
  const admin = requireRole('tenant-admin');

  router.get('/notification-templates', admin, async (req, res) => {
    parse(noQuery, req.query);
    res.json(await listTemplates(prisma, principalOf(req).tenantId));
  });

  router.put('/notification-templates/:template/:channel', admin, async (req, res) => {
    const { template, channel } = parse(templateParams, req.params);
    parse(noQuery, req.query);
    const body = parse(saveBody, req.body);
    if (channel !== 'EMAIL' && (body.subject !== undefined || body.html !== undefined)) {
      throw new AppError(400, 'VALIDATION_FAILED', 'The request is not valid', [
        {
          path: body.subject !== undefined ? 'subject' : 'html',
          message: `${channel} messages have no subject or HTML`,
        },
      ]);
    }
    const { tenantId, subject: actor } = principalOf(req);
    res.json(await saveTemplate(prisma, { tenantId, actor }, template, channel, body));
  });

  router.delete('/notification-templates/:template/:channel', admin, async (req, res) => {
    const { template, channel } = parse(templateParams, req.params);
    const { locale } = parse(localeQuery, req.query);
    const { tenantId, subject: actor } = principalOf(req);
    await deleteTemplate(prisma, { tenantId, actor }, template, channel, locale);
    res.status(204).end();
  });

  return router;
}

const templateTag = 'Notification templates';

export const notificationTemplatesRoutes: RouteSpec[] = [
  {
    method: 'get',
    path: '/api/v1/notification-templates',
    operationId: 'listNotificationTemplates',
    summary: 'The template kinds Holdfast ships, their variables and defaults, and the tenant’s overrides',
    tag: templateTag,
    auth: 'tenant-admin',
    query: noQuery,
    responses: { 200: { description: 'The templates' } },
  },
  {
    method: 'put',
    path: '/api/v1/notification-templates/:template/:channel',
    operationId: 'saveNotificationTemplate',
    summary: 'Save the tenant’s override of a template for a channel and locale',
    description: 'SMS and WhatsApp templates have no subject or HTML.',
    tag: templateTag,
    auth: 'tenant-admin',
    params: templateParams,
    query: noQuery,
    body: saveBody,
    responses: { 200: { description: 'The saved override' } },
  },
  {
    method: 'delete',
    path: '/api/v1/notification-templates/:template/:channel',
    operationId: 'deleteNotificationTemplate',
    summary: 'Delete the tenant’s override (the shipped default applies again)',
    tag: templateTag,
    auth: 'tenant-admin',
    params: templateParams,
    query: localeQuery,
    responses: { 204: { description: 'Deleted' } },
  },
];
