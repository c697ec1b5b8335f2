import { randomUUID } from 'node:crypto';
import {
  postEmails,
  untilEmailBacklogReaches,
  useBacklogStack,
  withDrainingEmailWorker,
} from '../support/dispatch-order';
import { until } from '../support/eventually';
import { testLogger } from '../support/stack';

/**
 * Fairness between tenants on a shared provider queue, on the real dev server (matching.enableFairness,
 * one partition per queue: scripts/stack/temporal-dev-server.ts). Every notification's start carries
 * its tenant as the fairness key and the tenant's plan weight (free 1, professional 2, enterprise 3).
 *
 * How many dispatches a tenant can wait (docs/queues.md, "Fairness"): the server (1.32,
 * service/matching/fair_task_writer.go and counter/) gives each task a pass when it is queued,
 * `pass = max(base + d, previous pass of its key + stride)`, with stride S / weight, base the queue's
 * ack level and d a per-key offset in [0, stride); it dispatches in pass order, ties by task ID.
 * Nothing is dispatched while the backlogs build (no email worker), so base is the same for all:
 *  - equal weights: A's i-th task (from 0) sits at base + dA + i·S, B's j-th at base + dB + j·S. A's
 *    i-th is ahead of B's j-th only if i·S ≤ j·S + (dB − dA) < (j + 1)·S, that is i ≤ j: at most
 *    j + 1 of A's tasks precede B's j-th. So B's three (j = 0, 1, 2) are dispatched within the first
 *    3 + 3 = 6, however many A queued before them.
 *  - weights 1 and 3: with x = (P − base) / S for the pass P of the n-th dispatch, A has at most
 *    x + 1 tasks at or below P and C more than 3x − 3, so C ≥ 3·A − 5. With A + C = 40: A ≤ 11 and
 *    C ≥ 29 (ideal 10 / 30).
 */

const recipients = (tenant: string, count: number) => {
  const run = randomUUID().slice(0, 8);
  return Array.from({ length: count }, (_, index) => `${tenant}-${index}-${run}@mail.test`);
};
const tenantOf = (to: string) => to.split('-')[0];

describe('fairness: a small tenant behind a big backlog (API, worker, PostgreSQL, Temporal)', () => {
  const stack = useBacklogStack();

  it("dispatches tenant B's 3 notifications within the first 6, though tenant A queued 300 before them", async () => {
    // The bound of 6 is for equal weights: both tenants on the same plan, whatever the fixtures' default.
    await stack.prisma.tenant.updateMany({
      where: { id: { in: [stack.tenant.id, stack.otherTenant.id] } },
      data: { tier: 'professional' },
    });
    const fromA = recipients('a', 300);
    const fromB = recipients('b', 3);

    await postEmails(stack, stack.tokens.operator, fromA);
    await untilEmailBacklogReaches(stack.client, stack.config, fromA.length);
    await postEmails(stack, stack.tokens.otherAdmin, fromB);
    await untilEmailBacklogReaches(stack.client, stack.config, fromA.length + fromB.length);

    const firstSix = await withDrainingEmailWorker(stack, testLogger(stack.config), async (drain) => {
      await until(
        () => drain.sent.filter((to) => tenantOf(to) === 'b').length === fromB.length && drain.sent.length >= 6,
      );
      return drain.sent.slice(0, 6);
    });

    expect(firstSix.filter((to) => tenantOf(to) === 'b').sort()).toEqual([...fromB].sort());
    // First come, first served would have sent all 300 of A's first.
    expect(firstSix.filter((to) => tenantOf(to) === 'a')).toHaveLength(3);
  });
});

describe('fairness weights: a free and an enterprise tenant, both backlogged (API, worker, PostgreSQL, Temporal)', () => {
  const stack = useBacklogStack();

  it('gives the enterprise tenant (weight 3) at least 29 of the first 40 dispatches, the free one (weight 1) at most 11', async () => {
    await stack.prisma.tenant.update({ where: { id: stack.tenant.id }, data: { tier: 'free' } });
    await stack.prisma.tenant.update({ where: { id: stack.otherTenant.id }, data: { tier: 'enterprise' } });
    const fromFree = recipients('a', 60);
    const fromEnterprise = recipients('c', 60);

    // The free tenant queues first: order of arrival must not decide the shares.
    await postEmails(stack, stack.tokens.operator, fromFree);
    await postEmails(stack, stack.tokens.otherAdmin, fromEnterprise);
    await untilEmailBacklogReaches(stack.client, stack.config, fromFree.length + fromEnterprise.length);

    const firstForty = await withDrainingEmailWorker(stack, testLogger(stack.config), async (drain) => {
      await until(() => drain.sent.length >= 40);
      return drain.sent.slice(0, 40);
    });

    const enterpriseShare = firstForty.filter((to) => tenantOf(to) === 'c').length;
    const freeShare = firstForty.filter((to) => tenantOf(to) === 'a').length;
    expect(enterpriseShare + freeShare).toBe(40);
    expect(enterpriseShare).toBeGreaterThanOrEqual(29);
    expect(freeShare).toBeLessThanOrEqual(11);
    expect(enterpriseShare).toBeGreaterThanOrEqual(2 * freeShare);
  });
});
