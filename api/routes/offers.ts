import express, { Router } from 'express';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { z } from 'zod';
import { formatUtc } from '../../domain/notifications';
import { HoldRejection, rejectionForSettledHold } from '../../domain/holds';
import { hashOfferToken, verifyOfferToken } from '../../domain/offer-token';
import type { PrismaClient } from '../../lib/db';
import { waitlistCascadeId } from '../../workflows/ids';
import { acceptOfferUpdate, declineOfferUpdate, type OfferResponseResult } from '../../workflows/waitlist-cascade';
import { AppError, conflict, notFound } from '../errors';
import { isFormPost, page, postButton } from '../pages';
import { linkToken } from '../schemas';
import { parse } from '../validation';

export interface OffersRouterDeps {
  prisma: PrismaClient;
  temporal: Client;
  offerTokenSecret: string;
}

const decision = z.enum(['accept', 'decline']);
const token = linkToken();
const respondBody = z.object({ token, decision }).strict();
const respondQuery = z.object({ token, decision }).strict();

const rejectionMessages: Record<HoldRejection, string> = {
  HOLD_EXPIRED: 'The hold on this offer has expired',
  HOLD_SUPERSEDED: 'This offer is no longer open',
  ALREADY_RESPONDED: 'This offer has already been answered',
};

const rejected = (code: HoldRejection) => conflict(code, rejectionMessages[code]);

const invalidToken = () => new AppError(400, 'INVALID_TOKEN', 'The offer link is not valid');

/**
 * The candidate's side of an offer, authenticated by the signed token in the offer's links
 * instead of a JWT; mount it outside the authenticated router.
 *
 * - `GET /offers/respond?token&decision`: the page a link opens. It changes nothing (mail
 *   scanners prefetch links), and shows a button that POSTs the answer.
 * - `POST /offers/respond` `{ token, decision }`, JSON (answered in JSON) or a form post from
 *   that page (answered with a page). 200 `{ status: 'confirmed' | 'declined' }`; 202
 *   `{ status: 'pending' }` when the cascade took the answer but could not record it in time (a
 *   database outage): it is recorded once the database is back, and an accept is then confirmed
 *   by message. No `Location`: a candidate has no way in but the link they already hold, and a
 *   URL carrying the token is not handed out again. 409 HOLD_EXPIRED | HOLD_SUPERSEDED |
 *   ALREADY_RESPONDED; 400 INVALID_TOKEN; 404 for a genuine token whose hold no longer exists.
 */
export function createOffersRouter({ prisma, temporal, offerTokenSecret }: OffersRouterDeps): Router {
  const router = Router();

  /** The hold a token names; throws 400 for a forged or malformed token, 404 for an unknown hold. */
  async function holdFor(rawToken: string) {
    const claims = verifyOfferToken(offerTokenSecret, rawToken);
    if (!claims) throw invalidToken();
    const hold = await prisma.hold.findUnique({
      where: { tokenHash: hashOfferToken(rawToken) },
      include: { slot: true, entry: true },
    });
    if (!hold || hold.id !== claims.holdId || hold.tenantId !== claims.tenantId) throw notFound('Offer');
    return hold;
  }

  async function respond(rawToken: string, answer: z.infer<typeof decision>): Promise<OfferResponseResult> {
    const hold = await holdFor(rawToken);
    if (hold.status !== 'OFFERED') throw rejected(rejectionForSettledHold(hold.status));
    const handle = temporal.workflow.getHandle(waitlistCascadeId(hold.tenantId, hold.slotId));
    try {
      return await handle.executeUpdate(answer === 'accept' ? acceptOfferUpdate : declineOfferUpdate, {
        args: [{ tokenHash: hold.tokenHash }],
      });
    } catch (error) {
      if (!(error instanceof WorkflowUpdateFailedError || error instanceof WorkflowNotFoundError)) throw error;
      // Once the cascade has moved on (or closed), the hold row is the last word on this offer.
      const now = await prisma.hold.findUnique({ where: { id: hold.id }, select: { status: true } });
      if (now && now.status !== 'OFFERED') throw rejected(rejectionForSettledHold(now.status));
      if (error instanceof WorkflowNotFoundError) throw rejected(HoldRejection.Superseded);
      throw error;
    }
  }

  router.get('/offers/respond', async (req, res) => {
    const query = respondQuery.safeParse(req.query);
    if (!query.success) return page(res, 400, 'This link is incomplete', 'Open the link from your message again.');
    let hold: Awaited<ReturnType<typeof holdFor>>;
    try {
      hold = await holdFor(query.data.token);
    } catch (error) {
      if (error instanceof AppError) return page(res, error.status, 'This offer cannot be found', error.message);
      throw error;
    }
    if (hold.status !== 'OFFERED') {
      return page(res, 409, hold.slot.name, rejectionMessages[rejectionForSettledHold(hold.status)]);
    }
    const verb = query.data.decision === 'accept' ? 'Accept' : 'Decline';
    page(
      res,
      200,
      hold.slot.name,
      `Hello ${hold.entry.customerName}, this place is held for you until ${formatUtc(hold.expiresAt)}.`,
      postButton('/api/v1/offers/respond', query.data, `${verb} this offer`),
    );
  });

  router.post('/offers/respond', express.urlencoded({ extended: false, limit: '8kb' }), async (req, res) => {
    if (!isFormPost(req)) {
      const body = parse(respondBody, req.body);
      const result = await respond(body.token, body.decision);
      res.status(result.status === 'pending' ? 202 : 200).json(result);
      return;
    }
    const body = respondBody.safeParse(req.body);
    if (!body.success) return page(res, 400, 'This answer is incomplete', 'Open the link from your message again.');
    try {
      const result = await respond(body.data.token, body.data.decision);
      if (result.status === 'pending') {
        return page(
          res,
          202,
          'Answer received',
          body.data.decision === 'accept'
            ? 'We have your answer and are still recording it. You will get a confirmation once the place is yours.'
            : 'We have your answer and are still recording it; the place goes to the next person.',
        );
      }
      page(
        res,
        200,
        result.status === 'confirmed' ? 'Confirmed' : 'Declined',
        result.status === 'confirmed'
          ? 'The place is yours. A confirmation is on its way.'
          : 'Thank you for letting us know; the place goes to the next person.',
      );
    } catch (error) {
      if (error instanceof AppError) return page(res, error.status, 'Your answer could not be taken', error.message);
      throw error;
    }
  });

  return router;
}
