import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { eventually } from '../support/eventually';
import { useApiStack } from '../support/api-stack';
import { OperationsFake } from '../support/operations-fake';

interface FlowStats {
  flow: string;
  counts: { running: number; completed: number; failed: number; terminated: number; total: number };
  running: Record<string, number>;
  categories: { working: number; waitingOnTimer: number; needsAttention: number; retrying: number };
  paused: boolean;
  bull: Record<string, number | boolean>;
}

describe('stats count a tenant’s flows by execution status, FlowStatus and category, in Bull’s shape too', () => {
  const fake = new OperationsFake();
  // Stats uncached here, so each answer shows the flows as they are; caching has its own case.
  const stack = useApiStack({
    fakeActivities: fake.activities(),
    terminateOnStop: true,
    config: { OPERATIONS_STATS_TTL: '0 seconds' },
  });
  const api = () => request(stack.app);
  const queue = () => stack.config.temporal.taskQueue;
  const statsOf = async (token = stack.tokens.member, query = '') => {
    const res = await api().get(`/api/v1/stats${query}`).set('Authorization', token);
    expect(res.status).toBe(200);
    return res.body as { flows: FlowStats[]; retryingScanned: number; cost: Record<string, number> };
  };
  const notifications = (stats: { flows: FlowStats[] }) => stats.flows.find((flow) => flow.flow === 'notifications')!;

  it('moves the counts and categories as flows wait, retry, fail and finish', async () => {
    const before = notifications(await statsOf());
    expect(before.counts).toMatchObject({ running: 0, completed: 0, failed: 0, total: 0 });

    const waiting = await fake.startNotification(stack.client, queue(), stack.tenant.id, 'deliver', {
      sendAt: new Date(Date.now() + 3_600_000),
    });
    const retrying = await fake.startNotification(stack.client, queue(), stack.tenant.id, 'keep-retrying');
    const failing = await fake.startNotification(stack.client, queue(), stack.tenant.id, 'fail-run');
    const done = await fake.startNotification(stack.client, queue(), stack.tenant.id, 'deliver');
    await done.handle.result();
    await expect(failing.handle.result()).rejects.toThrow();

    const stats = await eventually(async () => {
      const answer = await statsOf();
      const flow = notifications(answer);
      return flow.counts.running === 2 &&
        flow.categories.retrying === 1 &&
        flow.counts.failed === 1 &&
        flow.counts.completed === 1
        ? answer
        : undefined;
    });
    const flow = notifications(stats);
    expect(flow.running).toEqual({ SCHEDULED: 1, SENDING: 1 });
    expect(flow.categories).toMatchObject({ waitingOnTimer: 1, retrying: 1, working: 0, needsAttention: 0 });
    expect(flow.bull).toEqual({ waiting: 1, active: 1, delayed: 1, failed: 1, completed: 1, paused: false });
    expect(stats.retryingScanned).toBeGreaterThanOrEqual(2);

    await waiting.handle.terminate('done with it');
    await retrying.handle.terminate('done with it');
    const after = notifications(
      await eventually(async () => {
        const answer = await statsOf();
        return notifications(answer).counts.terminated === 2 ? answer : undefined;
      }),
    );
    expect(after.counts).toMatchObject({ running: 0, terminated: 2, failed: 1, completed: 1, total: 4 });
    expect(after.categories.retrying).toBe(0);
  });

  it('counts a stuck order as needing attention, and shows the tenant’s paused flows', async () => {
    await fake.startStuckOrder(stack.client, queue(), stack.tenant.id);
    await stack.prisma.flowPause.create({
      data: { tenantId: stack.tenant.id, flow: 'orders', pausedBy: 'dev:operator', reason: 'vendor outage' },
    });
    const stats = await eventually(async () => {
      const answer = await statsOf();
      return answer.flows.find((flow) => flow.flow === 'orders')?.categories.needsAttention === 1 ? answer : undefined;
    });
    const orders = stats.flows.find((flow) => flow.flow === 'orders')!;
    expect(orders.running).toEqual({ NEEDS_ATTENTION: 1 });
    expect(orders.paused).toBe(true);
    expect(orders.bull.paused).toBe(true);
  });

  it('shows another tenant none of this tenant’s flows', async () => {
    const theirs = await statsOf(stack.tokens.otherMember);
    for (const flow of theirs.flows) {
      expect({ flow: flow.flow, total: flow.counts.total, paused: flow.paused }).toEqual({
        flow: flow.flow,
        total: 0,
        paused: false,
      });
    }
    const named = await api()
      .get(`/api/v1/stats?tenantId=${stack.tenant.id}`)
      .set('Authorization', stack.tokens.otherMember);
    expect(named.status).toBe(403);
  });

  it('lets a platform admin count one tenant or all, the platform’s own flows included', async () => {
    const one = await statsOf(stack.tokens.platformAdmin, `?tenantId=${stack.tenant.id}`);
    expect(notifications(one).counts.total).toBeGreaterThanOrEqual(4);
    const all = await statsOf(stack.tokens.platformAdmin);
    expect(all.flows.map((flow) => flow.flow)).toContain('cleanup');
    expect(notifications(all).counts.total).toBeGreaterThanOrEqual(notifications(one).counts.total);
  });

  it('answers from its cache within OPERATIONS_STATS_TTL, and says so', async () => {
    const app = stack.appWith({}, { OPERATIONS_STATS_TTL: '1 hour' });
    const first = await request(app).get('/api/v1/stats').set('Authorization', stack.tokens.member);
    await fake.startNotification(stack.client, queue(), stack.tenant.id, 'deliver', {
      sendAt: new Date(Date.now() + 3_600_000),
    });
    const second = await request(app).get('/api/v1/stats').set('Authorization', stack.tokens.member);
    expect(second.body.generatedAt).toBe(first.body.generatedAt);
    expect(second.body.cachedForMs).toBe(3_600_000);
  });

  it('records what counting costs with N running flows (docs/operations.md quotes it)', async () => {
    const N = 40;
    for (let i = 0; i < N; i++) {
      await fake.startNotification(stack.client, queue(), stack.tenant.id, 'deliver', {
        sendAt: new Date(Date.now() + 3_600_000),
      });
    }
    const stats = await eventually(async () => {
      const answer = await statsOf();
      return (notifications(answer).running.SCHEDULED ?? 0) >= N ? answer : undefined;
    });
    const all = await statsOf(stack.tokens.platformAdmin);
    const dir = path.join(__dirname, '..', '..', 'test-artifacts');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'operations-stats-cost.json'),
      JSON.stringify(
        { runningNotifications: notifications(stats).counts.running, tenant: stats.cost, allTenants: all.cost },
        null,
        2,
      ),
    );
    expect(stats.cost.visibilityCalls).toBeGreaterThan(0);
    expect(stats.cost.describeCalls).toBe(stats.retryingScanned);
  });
});
