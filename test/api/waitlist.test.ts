import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Client } from '@temporalio/client';
import { hashOfferToken, signOfferToken } from '../../domain/offer-token';
import type { Config } from '../../lib/config';
import type { PrismaClient } from '../../lib/db';
import { waitlistCascadeId } from '../../workflows/waitlist-cascade.contract';
import { eventually } from '../support/eventually';
import { useApiStack, type ApiStack } from '../support/api-stack';
import { tokenFor } from '../support/stack';

describe('waitlist API', () => {
  const stack = useApiStack({ worker: true, mail: 'memory' });
  const { mails } = stack;
  let config: Config;
  let prisma: PrismaClient;
  let client: Client;
  let app: ApiStack['app'];
  let tenantId: string;
  let otherTenantId: string;
  let member: string;
  let operator: string;

  beforeAll(() => {
    ({ config, prisma, client, app } = stack);
    [tenantId, otherTenantId] = [stack.tenant.id, stack.otherTenant.id];
    ({ member, operator } = stack.tokens);
  });

  async function createSlot(body: Record<string, unknown> = { name: 'Dr. Lee 14:30' }, auth = member): Promise<string> {
    const response = await request(app).post('/api/v1/slots').set('Authorization', auth).send(body);
    expect(response.status).toBe(201);
    return response.body.id as string;
  }

  async function join(slotId: string, email: string, extra: Record<string, unknown> = {}): Promise<string> {
    const response = await request(app)
      .post(`/api/v1/slots/${slotId}/waitlist`)
      .set('Authorization', member)
      .send({ customerName: email.split('@')[0], email, ...extra });
    expect(response.status).toBe(201);
    return response.body.id as string;
  }

  const release = (slotId: string, auth = operator) =>
    request(app).post(`/api/v1/slots/${slotId}/release`).set('Authorization', auth);

  /** The token and decision off the offer link mailed to `email` (the newest one). */
  async function offerLinkFor(email: string, decision: 'accept' | 'decline' = 'accept') {
    const mail = await eventually(() =>
      [...mails].reverse().find((m) => m.to === email && m.subject.startsWith('A place')),
    );
    const link = mail.text.split(/\s+/).find((word) => word.includes(`decision=${decision}`))!;
    const url = new URL(link);
    return { url, token: url.searchParams.get('token')!, decision: url.searchParams.get('decision')! };
  }

  const respond = (body: unknown) =>
    request(app)
      .post('/api/v1/offers/respond')
      .send(body as object);

  describe('slots and waitlists', () => {
    it('creates a slot with a hold in minutes and shows it back', async () => {
      const created = await request(app)
        .post('/api/v1/slots')
        .set('Authorization', member)
        .send({ name: 'Table 4', startsAt: '2026-12-01T19:00:00Z', holdMinutes: 30 });

      expect(created.status).toBe(201);
      expect(created.headers.location).toBe(`/api/v1/slots/${created.body.id}`);
      const shown = await request(app).get(`/api/v1/slots/${created.body.id}`).set('Authorization', member);
      expect(shown.body).toMatchObject({ name: 'Table 4', holdMinutes: 30, status: 'OPEN', waiting: 0 });
    });

    it('answers 400 for an invalid slot, without a name, with a zero hold or with unknown fields', async () => {
      for (const body of [
        {},
        { name: '' },
        { name: 'x', holdMinutes: 0 },
        { name: 'x', surprise: 1 },
        { name: 'x', startsAt: 'soon' },
      ]) {
        const response = await request(app).post('/api/v1/slots').set('Authorization', member).send(body);
        expect(response.status).toBe(400);
        expect(response.body.error.code).toBe('VALIDATION_FAILED');
      }
    });

    it('answers 401 without a token', async () => {
      expect((await request(app).post('/api/v1/slots').send({ name: 'x' })).status).toBe(401);
    });

    it('answers 400 for a slot ID that is not a UUID and 404 for an unknown slot or another tenant’s', async () => {
      const theirs = await createSlot({ name: 'Theirs' }, `Bearer ${await tokenFor(config, otherTenantId, 'member')}`);

      const malformed = await request(app).get('/api/v1/slots/not-a-uuid').set('Authorization', member);
      const unknown = await request(app).get(`/api/v1/slots/${randomUUID()}`).set('Authorization', member);
      const foreign = await request(app).get(`/api/v1/slots/${theirs}`).set('Authorization', member);
      const foreignJoin = await request(app)
        .post(`/api/v1/slots/${theirs}/waitlist`)
        .set('Authorization', member)
        .send({ customerName: 'Eve', email: 'eve@x.test' });
      const foreignRelease = await release(theirs);

      expect(malformed.status).toBe(400);
      expect([unknown.status, foreign.status, foreignJoin.status, foreignRelease.status]).toEqual([404, 404, 404, 404]);
    });

    it('lists the waitlist in offer order: highest priority, then earliest join', async () => {
      const slotId = await createSlot();
      const low = await join(slotId, 'low@x.test', { priority: 0 });
      const high = await join(slotId, 'high@x.test', { priority: 9 });
      const lowLater = await join(slotId, 'low2@x.test', { priority: 0 });

      const listed = await request(app).get(`/api/v1/slots/${slotId}/waitlist`).set('Authorization', member);

      expect(listed.status).toBe(200);
      expect((listed.body.entries as Array<{ id: string }>).map((entry) => entry.id)).toEqual([high, low, lowLater]);
    });

    it('answers 400 for a bad email, phone, priority or list query, and 409 when the email is already waiting', async () => {
      const slotId = await createSlot();
      await join(slotId, 'dup@x.test');
      const post = (body: object) =>
        request(app).post(`/api/v1/slots/${slotId}/waitlist`).set('Authorization', member).send(body);

      const badEmail = await post({ customerName: 'A', email: 'nope' });
      const badPhone = await post({ customerName: 'A', email: 'a@x.test', phone: '12345' });
      const badPriority = await post({ customerName: 'A', email: 'a@x.test', priority: 1.5 });
      const duplicate = await post({ customerName: 'A', email: 'DUP@x.test' });
      const badQuery = await request(app)
        .get(`/api/v1/slots/${slotId}/waitlist?limit=0&status=SOMETIMES`)
        .set('Authorization', member);

      expect([badEmail.status, badPhone.status, badPriority.status, badQuery.status]).toEqual([400, 400, 400, 400]);
      expect(duplicate.status).toBe(409);
      expect(duplicate.body.error.code).toBe('ALREADY_ON_WAITLIST');
    });

    it('removes a waiting entry (204, twice), and answers 404 for an unknown entry', async () => {
      const slotId = await createSlot();
      const entryId = await join(slotId, 'leaver@x.test');
      const remove = (id: string) =>
        request(app).delete(`/api/v1/slots/${slotId}/waitlist/${id}`).set('Authorization', member);

      expect((await remove(entryId)).status).toBe(204);
      expect((await remove(entryId)).status).toBe(204);
      expect((await remove(randomUUID())).status).toBe(404);
      expect((await remove('zzz')).status).toBe(400);
      expect((await prisma.waitlistEntry.findUniqueOrThrow({ where: { id: entryId } })).status).toBe('REMOVED');
    });
  });

  describe('cascades', () => {
    it('release answers 202 with the workflow, starts it with the exact options, and a repeat joins the same run', async () => {
      const slotId = await createSlot();
      await join(slotId, 'first@x.test');
      const start = jest.spyOn(client.workflow, 'start');

      const first = await release(slotId);
      const again = await release(slotId);

      expect(first.status).toBe(202);
      expect(first.headers.location).toBe(`/api/v1/slots/${slotId}/cascade`);
      expect(first.body.workflowId).toBe(waitlistCascadeId(tenantId, slotId));
      expect(again.status).toBe(202);
      expect(again.body).toEqual(first.body);
      expect(start.mock.calls[0]![1]).toMatchObject({
        taskQueue: config.temporal.taskQueue,
        workflowId: `waitlist:${tenantId}:${slotId}`,
        args: [{ tenantId, slotId }],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      });
      start.mockRestore();
      await request(app).post(`/api/v1/slots/${slotId}/cascade/cancel`).set('Authorization', operator);
    });

    it('release needs the operator role (403) and refuses an assigned slot (409)', async () => {
      const slotId = await createSlot();
      await prisma.slot.update({ where: { id: slotId }, data: { status: 'ASSIGNED' } });

      const forbidden = await release(slotId, member);
      const assigned = await release(slotId);

      expect(forbidden.status).toBe(403);
      expect(assigned.status).toBe(409);
      expect(assigned.body.error.code).toBe('SLOT_ASSIGNED');
    });

    it('a release with nobody waiting still runs, ends UNFILLED and escalates to the tenant admin', async () => {
      const slotId = await createSlot({ name: 'Nobody wants me' });

      expect((await release(slotId)).status).toBe(202);

      await eventually(async () => (await prisma.slot.findUnique({ where: { id: slotId } }))?.status === 'UNFILLED');
      const escalation = await eventually(() => mails.find((m) => m.subject === 'Unfilled: Nobody wants me'));
      expect(escalation.to).toBe(`admin@${tenantId}.test`);
      const state = await request(app).get(`/api/v1/slots/${slotId}/cascade`).set('Authorization', member);
      expect(state.body).toMatchObject({ status: 'UNFILLED', round: 0, currentHold: null });
    });

    it('GET cascade answers 404 for a slot never released and the query result for a live one', async () => {
      const slotId = await createSlot();
      await join(slotId, 'state@x.test');

      const before = await request(app).get(`/api/v1/slots/${slotId}/cascade`).set('Authorization', member);
      await release(slotId);
      await offerLinkFor('state@x.test');
      const during = await request(app).get(`/api/v1/slots/${slotId}/cascade`).set('Authorization', member);

      expect(before.status).toBe(404);
      expect(during.status).toBe(200);
      expect(during.body).toMatchObject({
        slotId,
        tenantId,
        status: 'OFFERING',
        round: 1,
        currentHold: { customerName: 'state' },
      });
      await request(app).post(`/api/v1/slots/${slotId}/cascade/cancel`).set('Authorization', operator);
    });

    it('extend moves the hold’s deadline in the workflow and the database; bad minutes 400, member 403', async () => {
      const slotId = await createSlot({ name: 'Extendable', holdMinutes: 15 });
      await join(slotId, 'ext@x.test');
      await release(slotId);
      await offerLinkFor('ext@x.test');
      const extend = (body: unknown, auth = operator) =>
        request(app)
          .post(`/api/v1/slots/${slotId}/cascade/extend`)
          .set('Authorization', auth)
          .send(body as object);
      const hold = await prisma.hold.findFirstOrThrow({ where: { slotId } });

      const extended = await extend({ minutes: 10 });

      expect(extended.status).toBe(200);
      expect(extended.body).toEqual({
        holdId: hold.id,
        expiresAt: new Date(hold.expiresAt.getTime() + 10 * 60_000).toISOString(),
      });
      expect((await prisma.hold.findUniqueOrThrow({ where: { id: hold.id } })).expiresAt.toISOString()).toBe(
        extended.body.expiresAt,
      );
      expect((await extend({ minutes: 0 })).status).toBe(400);
      expect((await extend({ minutes: 1441 })).status).toBe(400);
      expect((await extend({ minutes: 5 }, member)).status).toBe(403);
      await request(app).post(`/api/v1/slots/${slotId}/cascade/cancel`).set('Authorization', operator);
    });

    it('extend and cancel answer 404 before any release and 409 CASCADE_CLOSED once the cascade has ended', async () => {
      const slotId = await createSlot();
      const extend = () =>
        request(app).post(`/api/v1/slots/${slotId}/cascade/extend`).set('Authorization', operator).send({ minutes: 5 });
      const cancel = () => request(app).post(`/api/v1/slots/${slotId}/cascade/cancel`).set('Authorization', operator);

      expect([(await extend()).status, (await cancel()).status]).toEqual([404, 404]);
      await release(slotId);
      await client.workflow.getHandle(waitlistCascadeId(tenantId, slotId)).result();
      const closedExtend = await extend();
      const closedCancel = await cancel();

      expect([closedExtend.status, closedCancel.status]).toEqual([409, 409]);
      expect([closedExtend.body.error.code, closedCancel.body.error.code]).toEqual([
        'CASCADE_CLOSED',
        'CASCADE_CLOSED',
      ]);
    });

    it('cancel answers 202, releases the hold, gives the entry back its place and reopens the slot', async () => {
      const slotId = await createSlot();
      const entryId = await join(slotId, 'cancelled@x.test');
      await release(slotId);
      const { token } = await offerLinkFor('cancelled@x.test');

      const cancelled = await request(app)
        .post(`/api/v1/slots/${slotId}/cascade/cancel`)
        .set('Authorization', operator);

      expect(cancelled.status).toBe(202);
      expect(cancelled.body).toMatchObject({ workflowId: waitlistCascadeId(tenantId, slotId), status: 'cancelling' });
      await eventually(async () => (await prisma.slot.findUnique({ where: { id: slotId } }))?.status === 'OPEN');
      expect((await prisma.waitlistEntry.findUniqueOrThrow({ where: { id: entryId } })).status).toBe('WAITING');
      const late = await respond({ token, decision: 'accept' });
      expect(late.status).toBe(409);
      expect(late.body.error.code).toBe('HOLD_SUPERSEDED');
      // The slot reopens in the workflow's cleanup, a moment before the run itself closes as cancelled.
      await expect(client.workflow.getHandle(waitlistCascadeId(tenantId, slotId)).result()).rejects.toThrow();
      expect(
        (await request(app).post(`/api/v1/slots/${slotId}/cascade/cancel`).set('Authorization', operator)).status,
      ).toBe(409);
    });
  });

  describe('offer responses (token, not JWT)', () => {
    it('accepting through the link assigns the slot; answering again is 409 ALREADY_RESPONDED', async () => {
      const slotId = await createSlot();
      const entryId = await join(slotId, 'taker@x.test');
      await release(slotId);
      const { token, decision } = await offerLinkFor('taker@x.test');

      const accepted = await respond({ token, decision });
      const again = await respond({ token, decision: 'decline' });

      expect(accepted.status).toBe(200);
      expect(accepted.body).toEqual({ status: 'confirmed' });
      expect(await prisma.slot.findUniqueOrThrow({ where: { id: slotId } })).toMatchObject({
        status: 'ASSIGNED',
        assignedEntryId: entryId,
      });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('ALREADY_RESPONDED');
      expect((await release(slotId)).status).toBe(409);
    });

    it('declining moves the offer to the next candidate', async () => {
      const slotId = await createSlot();
      await join(slotId, 'no-thanks@x.test', { priority: 2 });
      await join(slotId, 'next@x.test');
      await release(slotId);
      const { token } = await offerLinkFor('no-thanks@x.test', 'decline');

      const declined = await respond({ token, decision: 'decline' });

      expect(declined.status).toBe(200);
      expect(declined.body).toEqual({ status: 'declined' });
      await offerLinkFor('next@x.test');
      await request(app).post(`/api/v1/slots/${slotId}/cascade/cancel`).set('Authorization', operator);
    });

    it('answers 409 HOLD_EXPIRED for a hold that has expired', async () => {
      const slotId = await createSlot();
      await join(slotId, 'slow@x.test');
      await release(slotId);
      const { token } = await offerLinkFor('slow@x.test');
      await request(app).post(`/api/v1/slots/${slotId}/cascade/cancel`).set('Authorization', operator);
      await eventually(async () => (await prisma.slot.findUnique({ where: { id: slotId } }))?.status === 'OPEN');
      await prisma.hold.updateMany({ where: { slotId }, data: { status: 'EXPIRED' } });

      const response = await respond({ token, decision: 'accept' });

      expect(response.status).toBe(409);
      expect(response.body.error.code).toBe('HOLD_EXPIRED');
    });

    it('maps the workflow’s Update rejection to 409 with its reason as the code', async () => {
      const slotId = await createSlot();
      const entryId = await join(slotId, 'live@x.test');
      await release(slotId);
      await offerLinkFor('live@x.test');
      // An OFFERED hold the running cascade does not know: the workflow's validator refuses it.
      const strayId = randomUUID();
      const strayToken = signOfferToken(config.offerTokenSecret, { tenantId, holdId: strayId });
      await prisma.hold.create({
        data: {
          id: strayId,
          tenantId,
          slotId,
          entryId,
          cascadeId: 'an-older-cascade',
          round: 1,
          tokenHash: hashOfferToken(strayToken),
          expiresAt: new Date(Date.now() + 60_000),
        },
      });

      const response = await respond({ token: strayToken, decision: 'accept' });

      expect(response.status).toBe(409);
      expect(response.body.error.code).toBe('HOLD_SUPERSEDED');
      await request(app).post(`/api/v1/slots/${slotId}/cascade/cancel`).set('Authorization', operator);
    });

    it('answers 400 INVALID_TOKEN for a tampered token, 400 for a bad body, and 404 for a genuine token of no hold', async () => {
      const slotId = await createSlot();
      await join(slotId, 'tamper@x.test');
      await release(slotId);
      const { token } = await offerLinkFor('tamper@x.test');
      const [version, , signature] = token.split('.');
      const otherTenant = Buffer.from(JSON.stringify({ t: otherTenantId, h: randomUUID() })).toString('base64url');
      const tampered = `${version}.${otherTenant}.${signature}`;
      const unknownHold = signOfferToken(config.offerTokenSecret, { tenantId, holdId: randomUUID() });

      const forged = await respond({ token: tampered, decision: 'accept' });
      const garbage = await respond({ token: 'garbage', decision: 'accept' });
      const noDecision = await respond({ token });
      const wrongDecision = await respond({ token, decision: 'maybe' });
      const unknown = await respond({ token: unknownHold, decision: 'accept' });

      expect([forged.status, garbage.status]).toEqual([400, 400]);
      expect(forged.body.error.code).toBe('INVALID_TOKEN');
      expect([noDecision.status, wrongDecision.status]).toEqual([400, 400]);
      expect(unknown.status).toBe(404);
      await request(app).post(`/api/v1/slots/${slotId}/cascade/cancel`).set('Authorization', operator);
    });

    it('the link opens a page that changes nothing and posts the answer as a form, answered with a page', async () => {
      const slotId = await createSlot({ name: 'Yoga 7am' });
      await join(slotId, 'human@x.test');
      await release(slotId);
      const { url, token } = await offerLinkFor('human@x.test');

      const opened = await request(app).get(`${url.pathname}${url.search}`);
      const stillOffered = await prisma.hold.findFirstOrThrow({ where: { slotId } });
      const posted = await request(app).post('/api/v1/offers/respond').type('form').send({ token, decision: 'accept' });
      const tampered = await request(app).get(`/api/v1/offers/respond?token=x${token}&decision=accept`);

      expect(opened.status).toBe(200);
      expect(opened.headers['content-type']).toMatch(/html/);
      expect(opened.text).toContain('Yoga 7am');
      expect(opened.text).toContain('<form method="post" action="/api/v1/offers/respond">');
      expect(stillOffered.status).toBe('OFFERED');
      expect(posted.status).toBe(200);
      expect(posted.text).toContain('Confirmed');
      expect(tampered.status).toBe(400);
    });
  });
});
