import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Client } from '@temporalio/client';
import type { Config } from '../../lib/config';
import type { PrismaClient } from '../../lib/db';
import { waitlistCascadeId } from '../../workflows/waitlist-cascade.contract';
import { eventually } from '../support/eventually';
import { useApiStack, type ApiStack } from '../support/api-stack';
import { createTestTenant, tokenFor } from '../support/stack';

/**
 * Tenant states on the real stack: the API, a real worker, PostgreSQL and an SMTP server. A
 * tenant that is not ACTIVE starts nothing, but what already runs for it carries on.
 */
describe('tenant states on the real stack (API + worker + PostgreSQL + SMTP)', () => {
  const stack = useApiStack({ worker: true, mail: 'smtp' });
  let config: Config;
  let prisma: PrismaClient;
  let client: Client;
  let app: ApiStack['app'];
  let platformAdmin: string;

  beforeAll(() => {
    ({ config, prisma, client, app } = stack);
    platformAdmin = stack.tokens.platformAdmin;
  });

  /** The link for `decision` in the newest waitlist offer `to` received. */
  async function offerLink(to: string, decision: 'accept' | 'decline'): Promise<URL> {
    const offer = await eventually(() => stack.outbox(to).find((message) => message.subject?.startsWith('A place')));
    return new URL(offer.links.find((link) => link.includes(`decision=${decision}`))!);
  }

  const answer = (link: URL) =>
    request(app)
      .post(link.pathname)
      .send({ token: link.searchParams.get('token'), decision: link.searchParams.get('decision') });

  it('while its enterprise onboarding awaits approval, the new tenant’s admin can follow it but use nothing else', async () => {
    const slug = `pending-${randomUUID().slice(0, 8)}`;
    const started = await request(app)
      .post('/api/v1/tenants')
      .set('Authorization', platformAdmin)
      .send({
        organizationName: 'Pending Health',
        slug,
        adminEmail: `it@${slug}.test`,
        adminName: 'IT',
        tier: 'enterprise',
      });
    expect(started.status).toBe(202);
    const admin = `Bearer ${await tokenFor(config, started.body.tenantId, 'tenant-admin')}`;
    const progress = () => request(app).get(`/api/v1/tenants/${slug}/onboarding`).set('Authorization', admin);
    await eventually(async () => (await progress()).body.status === 'AWAITING_APPROVAL');

    const ownProgress = await progress();
    const tenant = await request(app).get('/api/v1/tenant').set('Authorization', admin);
    const slot = await request(app).post('/api/v1/slots').set('Authorization', admin).send({ name: 'Too early' });

    expect(ownProgress.status).toBe(200);
    expect(ownProgress.body).toMatchObject({ execution: 'RUNNING', status: 'AWAITING_APPROVAL' });
    expect((await prisma.tenant.findUniqueOrThrow({ where: { id: started.body.tenantId } })).status).toBe('PENDING');
    expect([tenant.status, tenant.body.error.code]).toEqual([403, 'TENANT_INACTIVE']);
    expect([slot.status, slot.body.error.code]).toEqual([403, 'TENANT_INACTIVE']);

    const cancelled = await request(app)
      .post(`/api/v1/tenants/${slug}/onboarding/cancel`)
      .set('Authorization', platformAdmin);
    expect(cancelled.status).toBe(202);
    await client.workflow
      .getHandle(started.body.workflowId)
      .result()
      .catch(() => undefined);
  });

  it('a suspended tenant starts nothing new, but its running cascade goes on: links are answered and hold timers fire', async () => {
    const tenantId = (await createTestTenant(prisma, { holdMinutes: 15 })).id;
    const slug = (await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId } })).slug;
    const operator = `Bearer ${await tokenFor(config, tenantId, 'operator')}`;
    const slot = await request(app).post('/api/v1/slots').set('Authorization', operator).send({ name: 'Dr. Lee 9:00' });
    const other = await request(app)
      .post('/api/v1/slots')
      .set('Authorization', operator)
      .send({ name: 'Dr. Lee 10:00' });
    const slotId = slot.body.id as string;
    const people = ['ada', 'ben', 'cy'].map((name, index) => ({
      customerName: name,
      email: `${name}-${slotId.slice(0, 6)}@clinic.test`,
      priority: 3 - index,
    }));
    for (const person of people) {
      const joined = await request(app)
        .post(`/api/v1/slots/${slotId}/waitlist`)
        .set('Authorization', operator)
        .send(person);
      expect(joined.status).toBe(201);
    }
    expect((await request(app).post(`/api/v1/slots/${slotId}/release`).set('Authorization', operator)).status).toBe(
      202,
    );
    const adaDeclines = await offerLink(people[0]!.email, 'decline');

    const suspended = await request(app)
      .post(`/api/v1/tenants/${slug}/suspend`)
      .set('Authorization', platformAdmin)
      .send({ reason: 'payment overdue' });
    // From here on, Ben's and Cy's offers are made while the tenant is suspended; Ben's hold is
    // one second long, so its timer fires during the suspension.
    await prisma.slot.update({ where: { id: slotId }, data: { holdSeconds: 1 } });
    const newStart = await request(app).post(`/api/v1/slots/${other.body.id}/release`).set('Authorization', operator);
    const read = await request(app).get(`/api/v1/slots/${slotId}/cascade`).set('Authorization', operator);
    const declined = await answer(adaDeclines);
    const cyAccepts = await offerLink(people[2]!.email, 'accept');
    const accepted = await answer(cyAccepts);

    expect(suspended.status).toBe(200);
    expect([newStart.status, newStart.body.error.code]).toEqual([403, 'TENANT_INACTIVE']);
    expect([read.status, read.body.error.code]).toEqual([403, 'TENANT_INACTIVE']);
    expect(declined.status).toBe(200);
    expect(accepted.status).toBe(200);
    expect(accepted.body).toEqual({ status: 'confirmed' });
    const result = await client.workflow.getHandle(waitlistCascadeId(tenantId, slotId)).result();
    expect(result).toMatchObject({ outcome: 'confirmed', rounds: 3, totals: { declined: 1, expired: 1 } });
    const holds = await prisma.hold.findMany({ where: { slotId }, orderBy: { round: 'asc' } });
    expect(holds.map((hold) => hold.status)).toEqual(['DECLINED', 'EXPIRED', 'CONFIRMED']);
    expect((await prisma.slot.findUniqueOrThrow({ where: { id: slotId } })).status).toBe('ASSIGNED');
    expect(await prisma.hold.count({ where: { slotId: other.body.id } })).toBe(0);
    expect((await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId } })).status).toBe('SUSPENDED');
  });
});
