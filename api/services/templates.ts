import { resolveTemplate } from '../../activities/templates';
import type { NotificationChannel } from '../../domain/notifications';
import { templateKinds } from '../../domain/templates/sources';
import type { PrismaClient } from '../../lib/db';
import { AppError } from '../errors';

/**
 * Refuses (422 UNKNOWN_TEMPLATE) a template the tenant cannot send on the channel: one Holdfast
 * ships (domain/templates/sources.ts) or one of the tenant's own saved for that channel. With a
 * `locale` (null: the tenant's default), the tenant's own must also exist in that locale or the
 * tenant's default one, as the message will be rendered in it.
 */
export async function requireTemplate(
  prisma: PrismaClient,
  tenantId: string,
  template: string,
  channel: NotificationChannel,
  options: { locale?: string | null } = {},
): Promise<void> {
  const found =
    options.locale !== undefined
      ? (await resolveTemplate(prisma, tenantId, template, channel, options.locale)) !== undefined
      : templateKinds.has(template) ||
        (await prisma.tenantNotificationTemplate.findFirst({
          where: { tenantId, template, channel },
          select: { template: true },
        })) !== null;
  if (!found) {
    throw new AppError(422, 'UNKNOWN_TEMPLATE', 'No template has this name for this channel', { template, channel });
  }
}
