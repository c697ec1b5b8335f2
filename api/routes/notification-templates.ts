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
