import { createHmac, randomUUID } from 'node:crypto';
import request from 'supertest';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type { MailTransport } from '../../activities/notifications';
import { hashInvitationToken, invitationToken } from '../../domain/invitation-token';
import { hashOfferToken, signOfferToken } from '../../domain/offer-token';
import { hashVendorToken, signVendorToken } from '../../domain/vendor-token';
import type { Config } from '../../lib/config';
import type { PrismaClient } from '../../lib/db';
import { useApiStack, type ApiStack } from '../support/api-stack';
import {
  createOfferedAttempt,
  createOfferedCandidate,
  createOfferedHold,
  createOrderForVendor,
  type TokenFor,
} from '../support/link-offers';
import { uniqueContact } from '../support/partners';

/**
 * Link tokens as the release before per-purpose keys signed them, spelled out here rather than
 * taken from the code under test: `v1.<payload>.<HMAC-SHA256 of "v1.<payload>">`, keyed with the
 * offer-token secret itself for waitlist offers and with `<secret>:vendor-offer` for vendors.
 */
function legacyLinkToken(key: string, tenantId: string, subjectId: string): string {
  const payload = Buffer.from(JSON.stringify({ t: tenantId, h: subjectId })).toString('base64url');
  return `v1.${payload}.${createHmac('sha256', key).update(`v1.${payload}`).digest('base64url')}`;
}

/** The invitation token of that release: the HMAC of the IDs joined with colons, under the secret itself. */
function legacyInvitationToken(secret: string, tenantId: string, userId: string, onboardingId: string): string {
  return createHmac('sha256', secret).update(`invitation:v1:${tenantId}:${userId}:${onboardingId}`).digest('base64url');
}

interface Mail {
  to: string;
  subject: string;
  text: string;
}

/** The token in the first link of `mail`. */
function tokenIn(mail: Mail): string {
  const link = mail.text.split(/\s+/).find((word) => word.includes('token='));
  if (!link) throw new Error(`no link in the mail "${mail.subject}"`);
  return new URL(link).searchParams.get('token')!;
}

/**
 * An upgrade that changes how link tokens are signed must not break the links already sent: the
 * records made before it (holds, routing attempts, invited users) keep the hash of the token
 * their messages carry. The API over real HTTP on loopback and the activities as the worker
 * registers them, against a real PostgreSQL, with the secrets the API is configured with.
 */
describe('links sent before the upgrade to per-purpose token keys keep working', () => {
  const stack = useApiStack();
  let config: Config;
  const legacyOffer = (tenantId: string, holdId: string) => legacyLinkToken(config.offerTokenSecret, tenantId, holdId);
  const legacyVendor = (tenantId: string, attemptId: string) =>
    legacyLinkToken(`${config.offerTokenSecret}:vendor-offer`, tenantId, attemptId);
  const mails: Mail[] = [];
  const transport: MailTransport = {
    sendMail: async (message) => {
      mails.push(message);
      return { messageId: `m-${mails.length}` };
    },
  };
  let prisma: PrismaClient;
  let app: ApiStack['app'];
  let activities: ReturnType<typeof createActivities>;
  let tenantId: string;

  beforeAll(async () => {
    ({ config, prisma, app } = stack);
    activities = createActivities({
      prisma,
      mail: { transport, from: 'Holdfast <t@holdfast.test>' },
      offerTokenSecret: config.offerTokenSecret,
      publicBaseUrl: config.api.publicBaseUrl,
      onboarding: {
        billingPrices: { free: 'price_free', professional: 'price_professional', enterprise: 'price_enterprise' },
        invitationTokenSecret: config.onboarding.invitationTokenSecret,
        platformAdminEmail: 'platform@holdfast.test',
      },
    });
    tenantId = stack.tenant.id;
  });

  /** Runs an activity in an activity context, as the worker would. */
  const run = <A extends unknown[], R>(activity: (...args: A) => Promise<R>, ...args: A): Promise<R> =>
    new MockActivityEnvironment().run<A, R, typeof activity>(activity, ...args);

  /** A response's status and error code, if any. */
  const outcome = (response: request.Response): [number, unknown] => [
    response.status,
    (response.body as { error?: { code?: unknown } }).error?.code,
  ];

  const mailTo = (recipient: string) => {
    const found = mails.filter((mail) => mail.to === recipient);
    expect(found).toHaveLength(1);
    return found[0]!;
  };

  const offeredCandidate = () => createOfferedCandidate(prisma, tenantId);
  const offeredHold = (tokenFor: TokenFor) => createOfferedHold(prisma, tenantId, tokenFor);
  const orderForVendor = () => createOrderForVendor(prisma, tenantId);
  const offeredAttempt = (tokenFor: TokenFor) => createOfferedAttempt(prisma, tenantId, tokenFor);

  const answerOffer = (token: string) =>
    request(app).post('/api/v1/offers/respond').send({ token, decision: 'accept' });
  const answerVendorOffer = (token: string) =>
    request(app).post('/api/v1/vendor/offers/respond').send({ token, decision: 'accept' });

  describe('the respond endpoints', () => {
    it('an offer link from before the upgrade opens its page and gets the answer a current link gets', async () => {
      const before = await offeredHold((holdId) => legacyOffer(tenantId, holdId));
      const after = await offeredHold((holdId) => signOfferToken(config.offerTokenSecret, { tenantId, holdId }));

      const pages = await Promise.all(
        [before, after].map(({ token }) =>
          request(app).get('/api/v1/offers/respond').query({ token, decision: 'accept' }),
        ),
      );
      const answers = await Promise.all([before, after].map(({ token }) => answerOffer(token)));

      expect(before.token).toMatch(/^v1\./);
      expect(pages.map((page) => page.status)).toEqual([200, 200]);
      for (const page of pages) expect(page.text).toContain('Hello Ada Lovelace');
      // No cascade runs for these holds, so both answers are the same refusal, and not INVALID_TOKEN.
      expect(answers.map(outcome)).toEqual([
        [409, 'HOLD_SUPERSEDED'],
        [409, 'HOLD_SUPERSEDED'],
      ]);
    });

    it('a vendor link from before the upgrade opens its page and gets the answer a current link gets', async () => {
      const before = await offeredAttempt((attemptId) => legacyVendor(tenantId, attemptId));
      const after = await offeredAttempt((attemptId) =>
        signVendorToken(config.offerTokenSecret, { tenantId, attemptId }),
      );

      const pages = await Promise.all(
        [before, after].map(({ token }) =>
          request(app).get('/api/v1/vendor/offers/respond').query({ token, decision: 'accept' }),
        ),
      );
      const answers = await Promise.all([before, after].map(({ token }) => answerVendorOffer(token)));

      expect(before.token).toMatch(/^v1\./);
      expect(pages.map((page) => page.status)).toEqual([200, 200]);
      for (const page of pages) expect(page.text).toContain('Hello Fresh Farms');
      expect(answers.map(outcome)).toEqual([
        [409, 'OFFER_SUPERSEDED'],
        [409, 'OFFER_SUPERSEDED'],
      ]);
    });

    it('a v1 offer token never passes as a vendor token, nor a v1 vendor token as an offer token', async () => {
      // Each row stores the hash of the other purpose's token, so only the key stands in the way.
      const vendorTokenOnHold = await offeredHold((holdId) => legacyVendor(tenantId, holdId));
      const offerTokenOnAttempt = await offeredAttempt((attemptId) => legacyOffer(tenantId, attemptId));

      const onOffers = await answerOffer(vendorTokenOnHold.token);
      const onVendors = await answerVendorOffer(offerTokenOnAttempt.token);

      expect([onOffers.status, onOffers.body.error.code]).toEqual([400, 'INVALID_TOKEN']);
      expect([onVendors.status, onVendors.body.error.code]).toEqual([400, 'INVALID_TOKEN']);
    });
  });

  describe('messages re-sent after the upgrade', () => {
    it('an offer re-sent for a hold offered before the upgrade carries its v1 link, and that link works', async () => {
      const { holdId, token, email } = await offeredHold((id) => legacyOffer(tenantId, id));

      const sent = await run(activities.sendOfferNotification, { tenantId, holdId, channel: 'EMAIL' });
      const mailed = tokenIn(mailTo(email));
      const page = await request(app).get('/api/v1/offers/respond').query({ token: mailed, decision: 'accept' });

      expect(sent.status).toBe('SENT');
      expect(mailed).toBe(token);
      expect(page.status).toBe(200);
    });

    it('a hold offered after the upgrade gets a v2 token, and its offer carries it', async () => {
      const { slot, entry } = await offeredCandidate();
      await prisma.waitlistEntry.update({ where: { id: entry.id }, data: { status: 'WAITING' } });
      const cascadeId = `upgrade-${randomUUID()}`;

      const hold = await run(activities.createHold, {
        tenantId,
        slotId: slot.id,
        cascadeId,
        round: 1,
        entryId: entry.id,
        expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      });
      await run(activities.sendOfferNotification, { tenantId, holdId: hold!.holdId, channel: 'EMAIL' });
      const mailed = tokenIn(mailTo(entry.email));

      expect(mailed).toBe(signOfferToken(config.offerTokenSecret, { tenantId, holdId: hold!.holdId }));
      expect(mailed).toMatch(/^v2\./);
      expect(hold!.tokenHash).toBe(hashOfferToken(mailed));
    });

    it('a vendor offer re-sent for an attempt made before the upgrade carries its v1 link, and that link works', async () => {
      const { attemptId, token, contact } = await offeredAttempt((id) => legacyVendor(tenantId, id));

      const sent = await run(activities.sendVendorOffer, { tenantId, attemptId });
      const mailed = tokenIn(mailTo(contact));
      const page = await request(app).get('/api/v1/vendor/offers/respond').query({ token: mailed, decision: 'accept' });

      expect(sent.status).toBe('SENT');
      expect(mailed).toBe(token);
      expect(page.status).toBe(200);
    });

    it('a routing attempt made after the upgrade gets a v2 token, and its vendor offer carries it', async () => {
      const { vendor, order } = await orderForVendor();

      const offer = await run(activities.offerOrderToVendor, {
        tenantId,
        orderId: order.id,
        vendorId: vendor.id,
        attempt: 1,
        deadline: new Date(Date.now() + 3_600_000).toISOString(),
      });
      await run(activities.sendVendorOffer, { tenantId, attemptId: offer.attemptId });
      const mailed = tokenIn(mailTo(vendor.contact));

      expect(mailed).toBe(signVendorToken(config.offerTokenSecret, { tenantId, attemptId: offer.attemptId }));
      expect(mailed).toMatch(/^v2\./);
      expect(offer.tokenHash).toBe(hashVendorToken(mailed));
    });

    it('a welcome email re-sent to a user invited before the upgrade carries the token the user holds, and it is accepted', async () => {
      const onboardingId = `tenant-onboarding:${tenantId}:${randomUUID()}`;
      const userId = randomUUID();
      const email = uniqueContact('grace', 'upgrade.test');
      const legacy = legacyInvitationToken(config.onboarding.invitationTokenSecret, tenantId, userId, onboardingId);
      await prisma.user.create({
        data: {
          id: userId,
          tenantId,
          email,
          name: 'Grace Hopper',
          role: 'tenant-admin',
          invitationTokenHash: hashInvitationToken(legacy),
          invitationExpiresAt: new Date(Date.now() + 3_600_000),
        },
      });

      await run(activities.sendWelcomeEmail, { tenantId, onboardingId, userId });
      const mailed = tokenIn(mailTo(email));
      const accepted = await request(app).post('/api/v1/invitations/accept').send({ token: mailed });

      expect(mailed).toBe(legacy);
      expect(accepted.status).toBe(200);
      expect(accepted.body).toMatchObject({ userId, status: 'ACTIVE' });
    });

    it('a user invited after the upgrade gets the current invitation token in the welcome email', async () => {
      const onboardingId = `tenant-onboarding:${tenantId}:${randomUUID()}`;
      const email = uniqueContact('katherine', 'upgrade.test');

      const { userId } = await run(activities.createAdminUser, {
        tenantId,
        onboardingId,
        email,
        name: 'Katherine Johnson',
      });
      await run(activities.sendWelcomeEmail, { tenantId, onboardingId, userId });
      const mailed = tokenIn(mailTo(email));
      const accepted = await request(app).post('/api/v1/invitations/accept').send({ token: mailed });

      expect(mailed).toBe(invitationToken(config.onboarding.invitationTokenSecret, { tenantId, userId, onboardingId }));
      expect(accepted.status).toBe(200);
    });
  });
});
