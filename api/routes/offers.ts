import type { RouteSpec } from '../openapi/route-spec';
import { tokenLinkRoutes } from '../openapi/token-link-routes';
import type { Router } from 'express';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { formatUtc } from '../../domain/notifications';
import { hashOfferToken, verifyOfferToken } from '../../domain/offer-token';
import type { PrismaClient } from '../../lib/db';
import {
  acceptOfferUpdate,
  declineOfferUpdate,
  HoldRejection,
  rejectionForSettledHold,
  waitlistCascadeId,
  type OfferResponseResult,
} from '../../workflows/waitlist-cascade.contract';
import { AppError, notFound } from '../errors';
import { linkToken } from '../schemas';
import { createTokenLinkRouter } from '../token-links';

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

/**
 * The candidate's side of an offer, through the links in the offer message (api/token-links.ts):
 * `GET /offers/respond?token&decision` shows the page, `POST /offers/respond` `{ token, decision:
 * 'accept' | 'decline' }` answers. 200 `{ status: 'confirmed' | 'declined' }`; 202 `{ status:
 * 'pending' }` when the cascade took the answer but could not record it in time: it is recorded
 * once the database is back, and an accept is then confirmed by message. 409 HOLD_EXPIRED |
 * HOLD_SUPERSEDED | ALREADY_RESPONDED; 400 INVALID_TOKEN; 404 for a genuine token whose hold no
 * longer exists.
 */
export function createOffersRouter({ prisma, temporal, offerTokenSecret }: OffersRouterDeps): Router {
  return createTokenLinkRouter({
    path: '/offers/respond',
    answerSchema: respondBody,
    linkSchema: respondQuery,
    async offerFor(rawToken: string) {
      const claims = verifyOfferToken(offerTokenSecret, rawToken);
      if (!claims) throw new AppError(400, 'INVALID_TOKEN', 'The offer link is not valid');
      const hold = await prisma.hold.findUnique({
        where: { tokenHash: hashOfferToken(rawToken) },
        include: { slot: true, entry: true },
      });
      if (!hold || hold.id !== claims.holdId || hold.tenantId !== claims.tenantId) throw notFound('Offer');
      return hold;
    },
    stateOf: (hold) => hold.status,
    currentState: async (hold) =>
      (await prisma.hold.findUnique({ where: { id: hold.id }, select: { status: true } }))?.status ?? null,
    openState: 'OFFERED',
    rejectionFor: rejectionForSettledHold,
    closedRejection: HoldRejection.Superseded,
    rejectionMessages,
    answer: (hold, answer): Promise<OfferResponseResult> =>
      temporal.workflow
        .getHandle(waitlistCascadeId(hold.tenantId, hold.slotId))
        .executeUpdate(answer.decision === 'accept' ? acceptOfferUpdate : declineOfferUpdate, {
          args: [{ tokenHash: hold.tokenHash }],
        }),
    pages: {
      offer: (hold, answer) => ({
        title: hold.slot.name,
        message: `Hello ${hold.entry.customerName}, this place is held for you until ${formatUtc(hold.expiresAt)}.`,
        button: `${answer === 'accept' ? 'Accept' : 'Decline'} this offer`,
      }),
      closedTitle: (hold) => hold.slot.name,
      answered(result, answer) {
        if (result.status === 'pending') {
          return {
            title: 'Answer received',
            message:
              answer.decision === 'accept'
                ? 'We have your answer and are still recording it. You will get a confirmation once the place is yours.'
                : 'We have your answer and are still recording it; the place goes to the next person.',
          };
        }
        return result.status === 'confirmed'
          ? { title: 'Confirmed', message: 'The place is yours. A confirmation is on its way.' }
          : { title: 'Declined', message: 'Thank you for letting us know; the place goes to the next person.' };
      },
    },
  });
}

export const offersRoutes: RouteSpec[] = tokenLinkRoutes({
  path: '/api/v1/offers/respond',
  tag: 'Waitlist',
  operationIds: { show: 'showOffer', respond: 'respondToOffer' },
  summaries: {
    show: "The page an offer message's link opens: a button that accepts or declines",
    respond: 'Accept or decline a held place',
  },
  linkSchema: respondQuery,
  answerSchema: respondBody,
  recordedStatuses: ['confirmed', 'declined'],
  pendingNote: 'cascade took the answer but could not record it in time; it is recorded once the database is back.',
  notFound: 'A genuine token whose hold no longer exists',
  rejections: Object.keys(rejectionMessages),
});
