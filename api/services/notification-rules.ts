import { writeAudit } from '../../activities/audit';
import type { NotificationChannel } from '../../domain/notifications';
import { MAX_RULES_PER_TENANT, type RuleCondition } from '../../domain/notification-rules';
import { Prisma, type PrismaClient } from '../../lib/db';
import { AppError, notFound } from '../errors';
import { requireTemplate } from './templates';

/** A rule as the route validated it; `delaySeconds` is the delay in seconds. */
export interface RuleFields {
  name: string;
  eventType: string;
  condition: RuleCondition | null;
  channel: NotificationChannel;
  template: string;
  recipientPath: string;
  priority: number;
  delaySeconds: number;
  locale: string | null;
  enabled: boolean;
}

/** Who asks: the tenant, and the admin for the audit log. */
export interface RuleCaller {
  tenantId: string;
  actor: string;
}

type RuleRow = Awaited<ReturnType<PrismaClient['notificationRule']['findFirstOrThrow']>>;

export function presentRule(rule: RuleRow) {
  const { id, name, eventType, condition, channel, template, recipientPath, priority, delaySeconds, locale } = rule;
  return {
    id,
    name,
    eventType,
    condition,
    channel,
    template,
    recipientPath,
    priority,
    delaySeconds,
    locale,
    enabled: rule.enabled,
    createdAt: rule.createdAt,
    updatedAt: rule.updatedAt,
  };
}

/** A page of the tenant's rules, oldest first, optionally for one event type, with how many match in all. */
export async function listRules(
  prisma: PrismaClient,
  tenantId: string,
  filter: { eventType?: string; limit: number; offset: number },
) {
  const { eventType, limit, offset } = filter;
  const where = { tenantId, ...(eventType ? { eventType } : {}) };
  const [rules, total] = await Promise.all([
    prisma.notificationRule.findMany({
      where,
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      take: limit,
      skip: offset,
    }),
    prisma.notificationRule.count({ where }),
  ]);
  return { rules: rules.map(presentRule), total, limit, offset };
}

const conditionColumn = (condition: RuleCondition | null) =>
  condition === null ? Prisma.DbNull : (condition as Prisma.InputJsonObject);

async function findRule(prisma: PrismaClient, tenantId: string, ruleId: string): Promise<RuleRow> {
  const rule = await prisma.notificationRule.findFirst({ where: { id: ruleId, tenantId } });
  if (!rule) throw notFound('Notification rule', { ruleId });
  return rule;
}

/**
 * Creates a rule after checking its template; audited. Throws 409 RULE_LIMIT_REACHED when the
 * tenant has {@link MAX_RULES_PER_TENANT} rules already.
 */
export async function createRule(prisma: PrismaClient, { tenantId, actor }: RuleCaller, fields: RuleFields) {
  await requireTemplate(prisma, tenantId, fields.template, fields.channel);
  return prisma.$transaction(async (tx) => {
    // Serialises the tenant's concurrent creates, so two of them cannot both take the last place.
    await tx.$queryRaw`SELECT id FROM "Tenant" WHERE id = ${tenantId} FOR UPDATE`;
    const count = await tx.notificationRule.count({ where: { tenantId } });
    if (count >= MAX_RULES_PER_TENANT) {
      throw new AppError(409, 'RULE_LIMIT_REACHED', `A tenant may have at most ${MAX_RULES_PER_TENANT} rules`, {
        limit: MAX_RULES_PER_TENANT,
      });
    }
    const rule = await tx.notificationRule.create({
      data: { ...fields, tenantId, condition: conditionColumn(fields.condition) },
    });
    await writeAudit(tx, {
      tenantId,
      actor,
      action: 'notification-rule.created',
      entityType: 'NotificationRule',
      entityId: rule.id,
      details: { name: rule.name, eventType: rule.eventType, template: rule.template, channel: rule.channel },
    });
    return rule;
  });
}

/** Changes the given fields of one of the tenant's rules; a changed template or channel is checked again. */
export async function updateRule(
  prisma: PrismaClient,
  { tenantId, actor }: RuleCaller,
  ruleId: string,
  changes: Partial<RuleFields>,
) {
  const current = await findRule(prisma, tenantId, ruleId);
  if (changes.template !== undefined || changes.channel !== undefined) {
    await requireTemplate(prisma, tenantId, changes.template ?? current.template, changes.channel ?? current.channel);
  }
  const { condition, ...rest } = changes;
  return prisma.$transaction(async (tx) => {
    const rule = await tx.notificationRule.update({
      where: { id: current.id },
      data: { ...rest, ...(condition !== undefined ? { condition: conditionColumn(condition) } : {}) },
    });
    await writeAudit(tx, {
      tenantId,
      actor,
      action: 'notification-rule.updated',
      entityType: 'NotificationRule',
      entityId: rule.id,
      details: { fields: Object.keys(changes).sort() },
    });
    return rule;
  });
}

/** Deletes one of the tenant's rules; notifications it already made stay. Audited. */
export async function deleteRule(prisma: PrismaClient, { tenantId, actor }: RuleCaller, ruleId: string) {
  const rule = await findRule(prisma, tenantId, ruleId);
  await prisma.$transaction(async (tx) => {
    await tx.notificationRule.delete({ where: { id: rule.id } });
    await writeAudit(tx, {
      tenantId,
      actor,
      action: 'notification-rule.deleted',
      entityType: 'NotificationRule',
      entityId: rule.id,
      details: { name: rule.name, eventType: rule.eventType },
    });
  });
}

export { findRule };
