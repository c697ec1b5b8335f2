import { tenantWorkPriority } from '../../domain/tenant-fairness';
import { WorkPriority } from '../../domain/work-priority';
import { createTenantTierCache, type TenantTierCache } from '../../lib/tenant-fairness';
import { eventFanOutStartOptions } from '../../workflows/event-fan-out.contract';
import { notificationRetryStartOptions, notificationStartOptions } from '../../workflows/notification.contract';
import { orderRoutingStartOptions } from '../../workflows/order-routing.contract';
import { reminderSequenceStartOptions } from '../../workflows/reminder-sequence.contract';
import { tenantOnboardingStartOptions } from '../../workflows/tenant-onboarding.contract';
import { waitlistCascadeStartOptions } from '../../workflows/waitlist-cascade.contract';
import { webhookDeliveryStartOptions, webhookReplayStartOptions } from '../../workflows/webhook-delivery.contract';

const tenantId = 't-acme';
const enterprise = { tier: 'enterprise' as const };
const now = new Date('2026-12-02T10:00:00Z');

describe('the priority every start of a tenant’s work carries', () => {
  it('puts each flow at its level: offers critical, interactive flows high, reminders normal', () => {
    expect(waitlistCascadeStartOptions(tenantId, 's-1', enterprise).priority.priorityKey).toBe(WorkPriority.critical);
    expect(orderRoutingStartOptions(tenantId, 'o-1', enterprise).priority.priorityKey).toBe(WorkPriority.high);
    expect(tenantOnboardingStartOptions(tenantId, 'acme', enterprise).priority.priorityKey).toBe(WorkPriority.high);
    expect(eventFanOutStartOptions(tenantId, 'e-1', enterprise).priority.priorityKey).toBe(WorkPriority.high);
    expect(webhookDeliveryStartOptions(tenantId, 'w-1', 'e-1', enterprise).priority.priorityKey).toBe(
      WorkPriority.high,
    );
    expect(reminderSequenceStartOptions(tenantId, 'r-1', enterprise).priority.priorityKey).toBe(WorkPriority.normal);
  });

  it('keys fairness by tenant and weighs it by plan, with the configured weights when given', () => {
    const weights = { free: 1, professional: 4, enterprise: 10 };

    expect(orderRoutingStartOptions(tenantId, 'o-1', { tier: 'professional' }).priority).toEqual({
      priorityKey: WorkPriority.high,
      fairnessKey: tenantId,
      fairnessWeight: 2,
    });
    expect(orderRoutingStartOptions(tenantId, 'o-1', { tier: 'professional', weights }).priority.fairnessWeight).toBe(
      4,
    );
    expect(webhookReplayStartOptions(tenantId, 'w-1', 'e-1', { tier: 'enterprise', weights }).priority).toEqual({
      priorityKey: WorkPriority.high,
      fairnessKey: tenantId,
      fairnessWeight: 10,
    });
  });

  it('still names the tenant when the plan is unknown, at the free plan’s weight', () => {
    expect(reminderSequenceStartOptions(tenantId, 'r-1').priority).toEqual({
      priorityKey: WorkPriority.normal,
      fairnessKey: tenantId,
      fairnessWeight: 1,
    });
    expect(tenantWorkPriority(WorkPriority.low, tenantId)).toEqual({
      priorityKey: WorkPriority.low,
      fairnessKey: tenantId,
      fairnessWeight: 1,
    });
  });

  it('gives a notification its own level (1–4, normal for anything else) with its tenant’s fairness', () => {
    const input = { tenantId, notificationId: 'n-1', priority: 1, channel: 'EMAIL' as const };

    expect(notificationStartOptions(input, now, enterprise).priority).toEqual({
      priorityKey: 1,
      fairnessKey: tenantId,
      fairnessWeight: 3,
    });
    expect(notificationRetryStartOptions({ ...input, priority: 4 }, now, enterprise).priority.priorityKey).toBe(4);
    expect(notificationStartOptions({ ...input, priority: 9 }, now).priority).toEqual({
      priorityKey: WorkPriority.normal,
      fairnessKey: tenantId,
      fairnessWeight: 1,
    });
  });

  it('keeps personal data out of the fairness key: it is the tenant ID, whatever the recipient', () => {
    const options = notificationStartOptions({ tenantId, notificationId: 'n-2', priority: 3, channel: 'SMS' }, now);

    expect(options.priority.fairnessKey).toBe(tenantId);
    expect(JSON.stringify(options)).not.toMatch(/@|\+\d{6,}/);
  });
});

describe('the per-process memory of tenants’ plans (lib/tenant-fairness.ts)', () => {
  /** A database of tenants' plans that counts its reads. */
  function tenantsTable(tiers: Record<string, 'free' | 'professional' | 'enterprise'>) {
    const reads: string[] = [];
    const prisma = {
      tenant: {
        findUnique: ({ where }: { where: { id: string } }) => {
          reads.push(where.id);
          const tier = tiers[where.id];
          return Promise.resolve(tier ? { tier } : null);
        },
      },
    } as unknown as Parameters<TenantTierCache['tierOf']>[0];
    return { prisma, reads, tiers };
  }

  it('reads a tenant’s plan once per TTL, and a plan change applies once the TTL has passed', async () => {
    let clock = 0;
    const cache = createTenantTierCache({ ttlMs: 30_000, now: () => clock });
    const db = tenantsTable({ acme: 'free' });

    expect(await cache.tierOf(db.prisma, 'acme')).toBe('free');
    db.tiers.acme = 'enterprise';
    clock = 29_999;
    expect(await cache.tierOf(db.prisma, 'acme')).toBe('free');
    expect(db.reads).toEqual(['acme']);

    clock = 30_000;
    expect(await cache.tierOf(db.prisma, 'acme')).toBe('enterprise');
    expect(db.reads).toEqual(['acme', 'acme']);
  });

  it('does not remember a tenant without a row: it counts as free until onboarding writes it', async () => {
    const cache = createTenantTierCache();
    const db = tenantsTable({});

    expect(await cache.tierOf(db.prisma, 'new')).toBe('free');
    db.tiers.new = 'professional';
    expect(await cache.tierOf(db.prisma, 'new')).toBe('professional');
  });

  it('holds at most maxEntries tenants, dropping the oldest, and keeps each database client apart', async () => {
    const cache = createTenantTierCache({ maxEntries: 2 });
    const one = tenantsTable({ a: 'free', b: 'free', c: 'free' });
    const other = tenantsTable({ a: 'enterprise' });

    for (const id of ['a', 'b', 'c', 'b', 'c']) await cache.tierOf(one.prisma, id);
    expect(one.reads).toEqual(['a', 'b', 'c']);
    await cache.tierOf(one.prisma, 'a');
    expect(one.reads).toEqual(['a', 'b', 'c', 'a']);

    expect(await cache.tierOf(other.prisma, 'a')).toBe('enterprise');
  });
});
