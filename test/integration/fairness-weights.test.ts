import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { useApiStack } from '../support/api-stack';

/**
 * FAIRNESS_WEIGHTS is the operator's say in how much of a shared queue each plan gets: every start
 * the API makes must carry the configured weight, not the default. No worker runs, so the started
 * workflows wait on their queue and are terminated when the suite ends.
 */
describe('FAIRNESS_WEIGHTS reaches the workflows the API starts (API, PostgreSQL, Temporal)', () => {
  const stack = useApiStack({ terminateOnStop: true });

  beforeAll(async () => {
    await stack.prisma.tenant.update({ where: { id: stack.tenant.id }, data: { tier: 'free' } });
  });

  const startedThrough = async (path: string, body: Record<string, unknown>) => {
    const app = stack.appWith({}, { FAIRNESS_WEIGHTS: 'free=7' });
    const answer = await request(app)
      .post(path)
      .set('Authorization', stack.tokens.operator)
      .set('Idempotency-Key', randomUUID())
      .send(body);
    expect(answer.status).toBe(202);
    return stack.client.workflow.getHandle(answer.body.workflowId as string).describe();
  };

  it('weighs a notification by the configured weight of the tenant’s plan', async () => {
    const described = await startedThrough('/api/v1/notifications', {
      channel: 'EMAIL',
      to: `weights-${randomUUID().slice(0, 8)}@mail.test`,
      subject: 'Weighed',
      text: 'A message weighed by the configured plan weight.',
    });
    expect(described.priority).toMatchObject({ fairnessKey: stack.tenant.id, fairnessWeight: 7 });
  });

  it('weighs a report by the configured weight of the tenant’s plan', async () => {
    const described = await startedThrough('/api/v1/reports', { type: 'order-volume', format: 'csv' });
    expect(described.priority).toMatchObject({ fairnessKey: stack.tenant.id, fairnessWeight: 7 });
  });
});
