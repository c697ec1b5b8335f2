import type { RouteSpec } from '../openapi/route-spec';
import { tokenLinkRoutes } from '../openapi/token-link-routes';
import { Router } from 'express';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { orderReference } from '../../domain/order-messages';
import { hashVendorToken, verifyVendorToken } from '../../domain/vendor-token';
import type { PrismaClient } from '../../lib/db';
import {
  OrderRejection,
  orderRoutingId,
  vendorRespondUpdate,
  type VendorResponseResult,
} from '../../workflows/order-routing.contract';
import { orderClosed, whileOpen } from '../closed-workflows';
import { AppError, notFound } from '../errors';
import { linkToken, multiLine } from '../schemas';
import { createTokenLinkRouter } from '../token-links';
import { parse } from '../validation';
import { requestFulfilment } from './orders';

export interface VendorPortalDeps {
  prisma: PrismaClient;
  temporal: Client;
  offerTokenSecret: string;
}

const token = linkToken();
const decision = z.enum(['accept', 'reject']);
const respondBody = z.object({ token, decision, reason: multiLine(500).optional() }).strict();
const respondQuery = z.object({ token, decision }).strict();
const statusBody = z.object({ token, status: z.enum(['DISPATCHED', 'DELIVERED']) }).strict();

const rejectionMessages: Record<string, string> = {
  [OrderRejection.OfferExpired]: 'The time to answer this offer is over',
  [OrderRejection.OfferSuperseded]: 'This offer is no longer open',
  [OrderRejection.AlreadyResponded]: 'This offer has already been answered',
};

/** Why an offer that is no longer OFFERED cannot take an answer, judged from its stored outcome. */
function rejectionFor(outcome: string): string {
  if (outcome === 'TIMED_OUT') return OrderRejection.OfferExpired;
  if (outcome === 'ACCEPTED' || outcome === 'REJECTED') return OrderRejection.AlreadyResponded;
  return OrderRejection.OfferSuperseded;
}

/**
 * The vendor's side of an order, authenticated by the signed token in the offer's links instead
 * of a JWT (vendors have no accounts); mount it outside the authenticated router.
 *
 * - `GET /vendor/offers/respond?token&decision`: the page a link opens; it changes nothing.
 * - `POST /vendor/offers/respond` `{ token, decision: 'accept' | 'reject', reason? }`, JSON or a
 *   form post from that page. 200 `{ status: 'accepted' | 'rejected' }`; 202 `{ status: 'pending' }`
 *   when the workflow took the answer but could not record it in time (a database outage): it is
 *   recorded once the database is back, and the link then shows the offer as answered. No
 *   `Location`: the vendor's only way in is the link it already holds, and a URL carrying the
 *   token is not handed out again. 409 OFFER_EXPIRED | OFFER_SUPERSEDED | ALREADY_RESPONDED; 400
 *   INVALID_TOKEN; 404 for an unknown offer.
 * - `POST /vendor/orders/status` `{ token, status: 'DISPATCHED' | 'DELIVERED' }`: the vendor that
 *   accepted reports fulfilment with the same token. 202; 403 if its offer was not the accepted one.
 */
export function createVendorPortalRouter({ prisma, temporal, offerTokenSecret }: VendorPortalDeps): Router {
  const router = Router();

  async function attemptFor(rawToken: string) {
    const claims = verifyVendorToken(offerTokenSecret, rawToken);
    if (!claims) throw new AppError(400, 'INVALID_TOKEN', 'The offer link is not valid');
    const attempt = await prisma.routingAttempt.findUnique({
      where: { tokenHash: hashVendorToken(rawToken) },
      include: { vendor: true, order: true },
    });
    if (!attempt || attempt.id !== claims.attemptId || attempt.tenantId !== claims.tenantId) throw notFound('Offer');
    return attempt;
  }

  router.use(
    createTokenLinkRouter({
      path: '/vendor/offers/respond',
      answerSchema: respondBody,
      linkSchema: respondQuery,
      offerFor: attemptFor,
      stateOf: (attempt) => attempt.outcome,
      currentState: async (attempt) =>
        (await prisma.routingAttempt.findUnique({ where: { id: attempt.id }, select: { outcome: true } }))?.outcome ??
        null,
      openState: 'OFFERED',
      rejectionFor,
      closedRejection: OrderRejection.OfferSuperseded,
      rejectionMessages,
      answer: (attempt, body): Promise<VendorResponseResult> =>
        temporal.workflow
          .getHandle(orderRoutingId(attempt.tenantId, attempt.orderId))
          .executeUpdate(vendorRespondUpdate, {
            args: [{ tokenHash: attempt.tokenHash!, decision: body.decision, reason: body.reason }],
          }),
      pages: {
        offer: (attempt, answer) => ({
          title: `Order ${orderReference(attempt.orderId)}`,
          message: `Hello ${attempt.vendor.name}, please answer by ${attempt.deadline?.toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
          button: `${answer === 'accept' ? 'Accept' : 'Reject'} this order`,
        }),
        closedTitle: (attempt) => `Order ${orderReference(attempt.orderId)}`,
        answered(result) {
          if (result.status === 'pending') {
            return {
              title: 'Answer received',
              message: 'We have your answer and are still recording it. Open this link again later to see that it was.',
            };
          }
          return result.status === 'accepted'
            ? { title: 'Accepted', message: 'The order is yours. Thank you.' }
            : { title: 'Rejected', message: 'Thank you; the order goes to another vendor.' };
        },
      },
    }),
  );

  router.post('/vendor/orders/status', async (req, res) => {
    const body = parse(statusBody, req.body);
    const attempt = await attemptFor(body.token);
    if (attempt.outcome !== 'ACCEPTED' || attempt.order.vendorId !== attempt.vendorId) {
      throw new AppError(403, 'FORBIDDEN', 'Only the vendor the order is assigned to can report its progress');
    }
    const handle = temporal.workflow.getHandle(orderRoutingId(attempt.tenantId, attempt.orderId));
    const requested = await whileOpen(
      () => requestFulfilment(handle, body.status, `vendor:${attempt.vendorId}`),
      () => orderClosed(attempt.order.status),
    );
    res.status(202).json(requested);
  });

  return router;
}

export const vendorPortalRoutes: RouteSpec[] = [
  ...tokenLinkRoutes({
    path: '/api/v1/vendor/offers/respond',
    tag: 'Vendor portal',
    operationIds: { show: 'showVendorOffer', respond: 'respondToVendorOffer' },
    summaries: {
      show: "The page an order offer's link opens: a button that accepts or rejects",
      respond: 'Accept or reject an order offer',
    },
    linkSchema: respondQuery,
    answerSchema: respondBody,
    recordedStatuses: ['accepted', 'rejected'],
    pendingNote: 'workflow took the answer but could not record it in time.',
    notFound: 'An unknown offer',
    rejections: Object.keys(rejectionMessages),
  }),
  {
    method: 'post',
    path: '/api/v1/vendor/orders/status',
    operationId: 'reportVendorFulfilment',
    summary: 'The vendor that accepted reports dispatch or delivery, with its offer’s token',
    tag: 'Vendor portal',
    auth: 'link-token',
    body: statusBody,
    responses: {
      202: { description: 'Requested' },
      400: { description: 'VALIDATION_FAILED, or INVALID_TOKEN for a forged link' },
      403: { description: 'FORBIDDEN: this offer was not the accepted one' },
      404: { description: 'An unknown offer' },
      409: { description: 'INVALID_TRANSITION, or ORDER_CLOSED' },
    },
  },
];
