import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { tenantIdForSlug } from '../../domain/tenants';
import {
  isPayloadScope,
  onboardingScope,
  PLATFORM_SCOPE,
  scopeOfWorkflowId,
  slugOfScope,
  tenantIdOfScope,
  tenantScope,
  type PayloadScope,
} from '../../lib/payload-scope';
import { dailyCleanupScheduleId, dailyCleanupWorkflowId } from '../../workflows/cleanup.contract';
import { eventFanOutId, outboxSweepScheduleId, outboxSweepWorkflowId } from '../../workflows/event-fan-out.contract';
import { exportLaneId } from '../../workflows/export-lane.contract';
import { exportWorkflowId } from '../../workflows/export.contract';
import { notificationWorkflowId } from '../../workflows/notification.contract';
import { orderRoutingId } from '../../workflows/order-routing.contract';
import { reminderSequenceId } from '../../workflows/reminder-sequence.contract';
import { reportScheduleId, reportWorkflowId } from '../../workflows/report.contract';
import { tenantOnboardingId } from '../../workflows/tenant-onboarding.contract';
import { waitlistCascadeId } from '../../workflows/waitlist-cascade.contract';
import { webhookDeliveryId } from '../../workflows/webhook-delivery.contract';

/** Temporal names a Schedule's run after the Schedule's workflow ID plus the run's scheduled time. */
const scheduledRun = (workflowId: string) => `${workflowId}-2026-12-02T03:00:00Z`;

/** Every workflow-ID function of a tenant's flow, by its exported name, with the ID it gives `tenantId`. */
const tenantFlowIds: Record<string, (tenantId: string) => string> = {
  waitlistCascadeId: (tenantId) => waitlistCascadeId(tenantId, randomUUID()),
  orderRoutingId: (tenantId) => orderRoutingId(tenantId, randomUUID()),
  notificationWorkflowId: (tenantId) => notificationWorkflowId(tenantId, randomUUID()),
  reminderSequenceId: (tenantId) => reminderSequenceId(tenantId, randomUUID()),
  reportWorkflowId: (tenantId) => reportWorkflowId(tenantId, randomUUID()),
  reportScheduleId: (tenantId) => scheduledRun(reportScheduleId(tenantId, randomUUID())),
  exportWorkflowId: (tenantId) => exportWorkflowId(tenantId, randomUUID()),
  exportLaneId: (tenantId) => exportLaneId(tenantId),
  eventFanOutId: (tenantId) => eventFanOutId(tenantId, randomUUID()),
  webhookDeliveryId: (tenantId) => webhookDeliveryId(tenantId, randomUUID(), randomUUID()),
};

/** The platform's own flows: their runs as their Schedules name them. */
const platformFlowIds: Record<string, string> = {
  dailyCleanupWorkflowId: scheduledRun(dailyCleanupWorkflowId),
  outboxSweepWorkflowId: scheduledRun(outboxSweepWorkflowId),
};

/** IDs of Schedules, not of workflows: the codec never sees them as a workflow's. */
const scheduleIds = new Set(['dailyCleanupScheduleId', 'outboxSweepScheduleId', 'reportScheduleId']);

/** The tenant IDs Holdfast makes: from a slug (production), and the tests' `t-<uuid>`. */
const tenantIds = [tenantIdForSlug('corner-shop'), 't-3f1c2a9e-5b7d-4c1e-9a0f-000000000001'];

describe('the payload scope of every flow', () => {
  describe.each(tenantIds)('for tenant %s', (tenantId) => {
    it.each(Object.entries(tenantFlowIds))("%s is encrypted under the tenant's key", (_, idOf) => {
      const scope = scopeOfWorkflowId(idOf(tenantId));

      expect(scope).toBe(tenantScope(tenantId));
      expect(isPayloadScope(scope)).toBe(true);
      expect(tenantIdOfScope(scope)).toBe(tenantId);
    });
  });

  it("a tenant's onboarding is encrypted under its slug's key: the tenant has no row when it starts", () => {
    const scope = scopeOfWorkflowId(tenantOnboardingId('corner-shop'));

    expect(scope).toBe(onboardingScope('corner-shop'));
    expect(isPayloadScope(scope)).toBe(true);
    expect(slugOfScope(scope)).toBe('corner-shop');
    expect(tenantIdOfScope(scope)).toBeUndefined();
  });

  it.each(Object.entries(platformFlowIds))('%s is encrypted under the platform key', (_, workflowId) => {
    expect(scopeOfWorkflowId(workflowId)).toBe(PLATFORM_SCOPE);
  });

  it.each<[string, string | undefined]>([
    ['no workflow at all', undefined],
    ['an empty ID', ''],
    ['an ID of one segment', 'waitlist'],
    ['a tenant prefix without its tenant', 'waitlist::slot'],
    ['a prefix no flow uses', `elsewhere:${tenantIds[0]}:x`],
    ['a tenant segment no scope can name', 'order:acme.co:1'],
    ['an onboarding slug no scope can name', 'tenant-onboarding:corner shop'],
    ['a tenant segment longer than any scope', `waitlist:${'t'.repeat(101)}:slot`],
  ])('%s falls back to the platform key', (_, workflowId) => {
    const scope = scopeOfWorkflowId(workflowId);

    expect(scope).toBe(PLATFORM_SCOPE);
    // What encoding writes, decoding must accept.
    expect(isPayloadScope(scope)).toBe(true);
  });

  it('the codec refuses a scope that no workflow ID maps to', () => {
    for (const scope of ['tenant/', 'tenant/a/b', 'tenant/../x', 'onboarding/a b', 'platform/x', 'tenant']) {
      expect(isPayloadScope(scope)).toBe(false);
    }
    for (const scope of [
      PLATFORM_SCOPE,
      tenantScope(tenantIds[0]!),
      onboardingScope('corner-shop'),
    ] as PayloadScope[]) {
      expect(isPayloadScope(scope)).toBe(true);
    }
  });

  it("covers every workflow-ID function of every flow's contract, so a new flow cannot fall to the platform key unseen", () => {
    const workflowsDir = path.resolve(__dirname, '../../workflows');
    const exported = fs
      .readdirSync(workflowsDir)
      .filter((file) => file.endsWith('.contract.ts'))
      .flatMap((file) => [
        ...fs.readFileSync(path.join(workflowsDir, file), 'utf8').matchAll(/export (?:function|const) (\w+Id)\b/g),
      ])
      .map((match) => match[1]!);
    const covered = new Set([
      ...Object.keys(tenantFlowIds),
      ...Object.keys(platformFlowIds),
      'tenantOnboardingId',
      ...scheduleIds,
    ]);

    expect(exported.filter((name) => !covered.has(name))).toEqual([]);
    expect(exported).toEqual(expect.arrayContaining([...covered]));
    expect([dailyCleanupScheduleId, outboxSweepScheduleId].map(scopeOfWorkflowId)).toEqual([
      PLATFORM_SCOPE,
      PLATFORM_SCOPE,
    ]);
  });
});
