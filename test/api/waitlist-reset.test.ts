import { ApplicationFailure } from '@temporalio/common';
import request from 'supertest';
import { createPrismaClient, type PrismaClient } from '../../lib/db';
import { getCascadeStateQuery, waitlistCascadeId } from '../../workflows/waitlist-cascade.contract';
import { eventually } from '../support/eventually';
import { useApiStack } from '../support/api-stack';
import { testDatabaseUrl } from '../support/stack-handles';

/**
 * A cascade whose hold the database refused stops in NEEDS_ATTENTION and reopens its slot; once the cause is
 * fixed, an operator's reset of its run offers again on the same slot. The worker is the real one, with real
 * activities; only the database's refusal is staged, on the worker's own client.
 */
describe('a waitlist cascade stopped in NEEDS_ATTENTION offers again when an operator resets its run', () => {
  let refuseHolds = true;
  const workerPrisma = createPrismaClient(testDatabaseUrl(), { maxConnections: 5 }).$extends({
    query: {
      hold: {
        async create({ args, query }) {
          if (refuseHolds) throw ApplicationFailure.nonRetryable('The database refused the hold', 'DataRejected');
          return query(args);
        },
      },
    },
  }) as unknown as PrismaClient;
  const stack = useApiStack({ worker: { prisma: workerPrisma }, mail: 'memory', terminateOnStop: true });
  const api = () => request(stack.app);

  afterAll(async () => {
    await workerPrisma.$disconnect();
  });

  it('stops with the slot OPEN and still its own, then the reset run holds the slot for the first in line', async () => {
    const slot = await api().post('/api/v1/slots').set('Authorization', stack.tokens.member).send({ name: 'Dr. Lee' });
    expect(slot.status).toBe(201);
    const slotId = slot.body.id as string;
    const joined = await api()
      .post(`/api/v1/slots/${slotId}/waitlist`)
      .set('Authorization', stack.tokens.member)
      .send({ customerName: 'Ada', email: 'ada@example.test' });
    expect(joined.status).toBe(201);
    expect(
      (await api().post(`/api/v1/slots/${slotId}/release`).set('Authorization', stack.tokens.operator)).status,
    ).toBe(202);
    const workflowId = waitlistCascadeId(stack.tenant.id, slotId);
    const handle = stack.client.workflow.getHandle(workflowId);
    await expect(handle.result()).rejects.toThrow();
    const stopped = await stack.prisma.slot.findUniqueOrThrow({ where: { id: slotId } });
    expect(stopped.status).toBe('OPEN');
    expect(stopped.cascadeId).not.toBeNull();

    refuseHolds = false;
    const reset = await api()
      .post(`/api/v1/workflows/${encodeURIComponent(workflowId)}/reset`)
      .set('Authorization', stack.tokens.operator)
      .set('Idempotency-Key', `reset-${slotId}`)
      .send({ reason: 'database fixed', to: 'last' });
    expect(reset.status).toBe(200);

    const state = await eventually(async () => {
      const current = await stack.client.workflow.getHandle(workflowId).query(getCascadeStateQuery);
      return current.currentHold ? current : undefined;
    });
    expect(state).toMatchObject({ status: 'OFFERING', currentHold: { entryId: joined.body.id } });
    expect(await stack.prisma.slot.findUniqueOrThrow({ where: { id: slotId } })).toMatchObject({
      status: 'CASCADING',
      cascadeId: stopped.cascadeId,
    });
    await eventually(() => stack.mails.find((mail) => mail.to === 'ada@example.test'));
  });
});
