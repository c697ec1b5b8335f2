import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { hashInvitationToken } from '../../domain/invitation-token';
import { signOfferToken } from '../../domain/offer-token';
import { signVendorToken } from '../../domain/vendor-token';
import type { Config } from '../../lib/config';
import type { PrismaClient } from '../../lib/db';
import { useApiStack, type ApiStack } from '../support/api-stack';
import { createOfferedAttempt, createOfferedHold } from '../support/link-offers';
import { tokenFor } from '../support/stack';

/** The response headers every page or answer carrying a link token or personal data must have. */
const privateHeaders = { 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' };

const form = 'application/x-www-form-urlencoded';

describe('pages behind links in messages', () => {
  const stack = useApiStack();
  let config: Config;
  let prisma: PrismaClient;
  let app: ApiStack['app'];
  let tenantId: string;

  beforeAll(() => {
    ({ config, prisma, app } = stack);
    tenantId = stack.tenant.id;
  });

  const offerToken = (holdId: string) => signOfferToken(config.offerTokenSecret, { tenantId, holdId });
  const vendorToken = (attemptId: string) => signVendorToken(config.offerTokenSecret, { tenantId, attemptId });

  /** The link token of a new OFFERED hold for "Ada Lovelace", whose cascade is not running. */
  const offeredHold = async () => (await createOfferedHold(prisma, tenantId, offerToken)).token;

  /** The link token of a new OFFERED routing attempt to vendor "Fresh Farms", whose order is not being routed. */
  const offeredAttempt = async () => (await createOfferedAttempt(prisma, tenantId, vendorToken)).token;

  /** An invited user "Grace Hopper" of an active tenant, and the token of the invitation. */
  async function invitation(): Promise<string> {
    const token = `invitation-${randomUUID()}`;
    await prisma.user.create({
      data: {
        tenantId,
        email: `grace-${randomUUID().slice(0, 8)}@pages.test`,
        name: 'Grace Hopper',
        role: 'tenant-admin',
        invitationTokenHash: hashInvitationToken(token),
        invitationExpiresAt: new Date(Date.now() + 3_600_000),
      },
    });
    return token;
  }

  it('the offer page, which shows the candidate’s name and carries the token, is never cached nor sent as a referrer', async () => {
    const token = await offeredHold();

    const response = await request(app).get('/api/v1/offers/respond').query({ token, decision: 'accept' });

    expect(response.status).toBe(200);
    expect(response.text).toContain('Ada Lovelace');
    expect(response.headers).toMatchObject(privateHeaders);
  });

  it('the answers to an offer, as a form post and as JSON, are never cached nor sent as a referrer', async () => {
    const token = await offeredHold();

    const formAnswer = await request(app)
      .post('/api/v1/offers/respond')
      .type(form)
      .send({ token, decision: 'decline' });
    const jsonAnswer = await request(app).post('/api/v1/offers/respond').send({ token, decision: 'decline' });

    expect(formAnswer.type).toBe('text/html');
    expect(jsonAnswer.type).toBe('application/json');
    expect(formAnswer.headers).toMatchObject(privateHeaders);
    expect(jsonAnswer.headers).toMatchObject(privateHeaders);
  });

  it('the vendor offer page and its answers are never cached nor sent as a referrer', async () => {
    const token = await offeredAttempt();

    const page = await request(app).get('/api/v1/vendor/offers/respond').query({ token, decision: 'accept' });
    const formAnswer = await request(app)
      .post('/api/v1/vendor/offers/respond')
      .type(form)
      .send({ token, decision: 'reject', reason: 'closed today' });
    const jsonAnswer = await request(app)
      .post('/api/v1/vendor/offers/respond')
      .send({ token, decision: 'reject', reason: 'closed today' });
    const statusReport = await request(app).post('/api/v1/vendor/orders/status').send({ token, status: 'DISPATCHED' });

    expect(page.status).toBe(200);
    expect(page.text).toContain('Fresh Farms');
    for (const response of [page, formAnswer, jsonAnswer, statusReport]) {
      expect(response.headers).toMatchObject(privateHeaders);
    }
  });

  it('the invitation page and its answers are never cached nor sent as a referrer', async () => {
    const pageToken = await invitation();
    const formToken = await invitation();
    const jsonToken = await invitation();

    const page = await request(app).get('/api/v1/invitations/accept').query({ token: pageToken });
    const formAnswer = await request(app).post('/api/v1/invitations/accept').type(form).send({ token: formToken });
    const jsonAnswer = await request(app).post('/api/v1/invitations/accept').send({ token: jsonToken });

    expect(page.status).toBe(200);
    expect(page.text).toContain('Grace Hopper');
    expect(page.text).toContain('<form method="post" action="/api/v1/invitations/accept">');
    expect([formAnswer.status, jsonAnswer.status]).toEqual([200, 200]);
    for (const response of [page, formAnswer, jsonAnswer]) expect(response.headers).toMatchObject(privateHeaders);
  });

  it('the authenticated API’s answers, which list customers’ names and contacts, are never cached either', async () => {
    const admin = await tokenFor(config, tenantId, 'tenant-admin');

    const listed = await request(app).get('/api/v1/retailers').set('Authorization', `Bearer ${admin}`);
    const refused = await request(app).get('/api/v1/retailers');

    expect(listed.status).toBe(200);
    expect(listed.headers).toMatchObject(privateHeaders);
    expect(refused.headers).toMatchObject(privateHeaders);
  });

  it('a page for a link that is not valid is not cached either', async () => {
    const response = await request(app).get('/api/v1/offers/respond').query({ token: 'v2.bogus.bogus', decision: 'x' });

    expect(response.status).toBe(400);
    expect(response.headers).toMatchObject(privateHeaders);
  });

  describe('content security policy', () => {
    const cspFor = async (publicBaseUrl: string) => {
      const served = stack.appWith({}, { PUBLIC_BASE_URL: publicBaseUrl });
      const response = await request(served)
        .get('/api/v1/offers/respond')
        .query({ token: await offeredHold() });
      return {
        csp: String(response.headers['content-security-policy']),
        hsts: response.headers['strict-transport-security'],
      };
    };

    it('over plain HTTP (a phone on the LAN), leaves out upgrade-insecure-requests so the answer form can post', async () => {
      const { csp, hsts } = await cspFor('http://192.168.1.20:3000');

      expect(csp).not.toContain('upgrade-insecure-requests');
      expect(csp).toContain("form-action 'self'");
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(hsts).toBeUndefined();
    });

    it('over HTTPS, upgrades insecure requests and keeps forms to the same origin', async () => {
      const { csp, hsts } = await cspFor('https://holdfast.example.com');

      expect(csp).toContain('upgrade-insecure-requests');
      expect(csp).toContain("form-action 'self'");
      expect(hsts).toMatch(/max-age=\d+/);
    });
  });
});
