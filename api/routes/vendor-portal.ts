import express, { Router } from 'express';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { z } from 'zod';
import { orderReference } from '../../domain/order-messages';
import { OrderRejection } from '../../domain/orders';
import { hashVendorToken, verifyVendorToken } from '../../domain/vendor-token';
import type { PrismaClient } from '../../lib/db';
import { orderRoutingId } from '../../workflows/ids';
import { vendorRespondUpdate, type VendorResponseResult } from '../../workflows/order-routing';
import { AppError, conflict, notFound } from '../errors';
import { isFormPost, page, postButton } from '../pages';
import { linkToken, multiLine } from '../schemas';
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

const rejected = (code: string) => conflict(code, rejectionMessages[code] ?? code);

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

  async function respond(body: z.infer<typeof respondBody>): Promise<VendorResponseResult> {
    const attempt = await attemptFor(body.token);
    if (attempt.outcome !== 'OFFERED') throw rejected(rejectionFor(attempt.outcome));
    const handle = temporal.workflow.getHandle(orderRoutingId(attempt.tenantId, attempt.orderId));
    try {
      return await handle.executeUpdate(vendorRespondUpdate, {
        args: [{ tokenHash: attempt.tokenHash!, decision: body.decision, reason: body.reason }],
      });
    } catch (error) {
      if (!(error instanceof WorkflowUpdateFailedError || error instanceof WorkflowNotFoundError)) throw error;
      // Once the workflow has moved on (or closed), the attempt row is the last word on this offer.
      const now = await prisma.routingAttempt.findUnique({ where: { id: attempt.id }, select: { outcome: true } });
      if (now && now.outcome !== 'OFFERED') throw rejected(rejectionFor(now.outcome));
      if (error instanceof WorkflowNotFoundError) throw rejected(OrderRejection.OfferSuperseded);
      throw error;
    }
  }

  router.get('/vendor/offers/respond', async (req, res) => {
    const query = respondQuery.safeParse(req.query);
    if (!query.success) return page(res, 400, 'This link is incomplete', 'Open the link from your message again.');
    let attempt: Awaited<ReturnType<typeof attemptFor>>;
    try {
      attempt = await attemptFor(query.data.token);
    } catch (error) {
      if (error instanceof AppError) return page(res, error.status, 'This offer cannot be found', error.message);
      throw error;
    }
    const title = `Order ${orderReference(attempt.orderId)}`;
    if (attempt.outcome !== 'OFFERED') return page(res, 409, title, rejectionMessages[rejectionFor(attempt.outcome)]!);
    const verb = query.data.decision === 'accept' ? 'Accept' : 'Reject';
    page(
      res,
      200,
      title,
      `Hello ${attempt.vendor.name}, please answer by ${attempt.deadline?.toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
      postButton('/api/v1/vendor/offers/respond', query.data, `${verb} this order`),
    );
  });

  router.post('/vendor/offers/respond', express.urlencoded({ extended: false, limit: '8kb' }), async (req, res) => {
    if (!isFormPost(req)) {
      const result = await respond(parse(respondBody, req.body));
      res.status(result.status === 'pending' ? 202 : 200).json(result);
      return;
    }
    const body = respondBody.safeParse(req.body);
    if (!body.success) return page(res, 400, 'This answer is incomplete', 'Open the link from your message again.');
    try {
      const result = await respond(body.data);
      if (result.status === 'pending') {
        return page(
          res,
          202,
          'Answer received',
          'We have your answer and are still recording it. Open this link again later to see that it was.',
        );
      }
      page(
        res,
        200,
        result.status === 'accepted' ? 'Accepted' : 'Rejected',
        result.status === 'accepted'
          ? 'The order is yours. Thank you.'
          : 'Thank you; the order goes to another vendor.',
      );
    } catch (error) {
      if (error instanceof AppError) return page(res, error.status, 'Your answer could not be taken', error.message);
      throw error;
    }
  });

  router.post('/vendor/orders/status', async (req, res) => {
    const body = parse(statusBody, req.body);
    const attempt = await attemptFor(body.token);
    if (attempt.outcome !== 'ACCEPTED' || attempt.order.vendorId !== attempt.vendorId) {
      throw new AppError(403, 'FORBIDDEN', 'Only the vendor the order is assigned to can report its progress');
    }
    const handle = temporal.workflow.getHandle(orderRoutingId(attempt.tenantId, attempt.orderId));
    try {
      res.status(202).json(await requestFulfilment(handle, body.status, `vendor:${attempt.vendorId}`));
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) {
        throw conflict('ORDER_CLOSED', `The order is ${attempt.order.status}`, { status: attempt.order.status });
      }
      throw error;
    }
  });

  return router;
}
