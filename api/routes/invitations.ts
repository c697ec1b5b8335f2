import type { RouteSpec } from '../openapi/route-spec';
import express, { Router, type Request } from 'express';
import { z } from 'zod';
import { hashInvitationToken } from '../../domain/invitation-token';
import type { PrismaClient } from '../../lib/db';
import { AppError, conflict, notFound } from '../errors';
import { writeAudit } from '../../activities/audit';
import { isFormPost, page, postButton } from '../pages';
import { linkToken } from '../schemas';
import { parse } from '../validation';

const token = linkToken(16, 256);
const acceptBody = z.object({ token }).strict();
const acceptQuery = z.object({ token }).strict();

/**
 * The invitation in a welcome email, authenticated by its token instead of a JWT; mount it
 * outside the authenticated router.
 *
 * - `GET /invitations/accept?token`: the page the email's link opens. It changes nothing (mail
 *   scanners prefetch links) and shows a button that POSTs the token.
 * - `POST /invitations/accept` `{ token }`, JSON or a form post from that page: the user becomes
 *   ACTIVE and the token stops working. 200 `{ userId, tenantId, email, role, status }`;
 *   404 INVITATION_NOT_FOUND for an unknown or used token; 409 INVITATION_EXPIRED, or
 *   TENANT_NOT_ACTIVE while the tenant's onboarding has not finished.
 */
export function createInvitationsRouter({ prisma }: { prisma: PrismaClient }): Router {
  const router = Router();

  async function openInvitation(rawToken: string) {
    const user = await prisma.user.findUnique({
      where: { invitationTokenHash: hashInvitationToken(rawToken) },
      include: { tenant: true },
    });
    if (!user || user.status !== 'INVITED') {
      throw new AppError(404, 'INVITATION_NOT_FOUND', 'This invitation is not valid or has been used');
    }
    if (!user.invitationExpiresAt || user.invitationExpiresAt.getTime() <= Date.now()) {
      throw conflict('INVITATION_EXPIRED', 'This invitation has expired; ask for a new one');
    }
    if (user.tenant.status !== 'ACTIVE') {
      throw conflict('TENANT_NOT_ACTIVE', `${user.tenant.name} is not ready yet (${user.tenant.status})`);
    }
    return user;
  }

  router.get('/invitations/accept', async (req, res) => {
    const { token: rawToken } = parse(acceptQuery, req.query);
    try {
      const user = await openInvitation(rawToken);
      page(
        res,
        200,
        `Join ${user.tenant.name}`,
        `${user.name}, you are invited to administer ${user.tenant.name} on Holdfast.`,
        postButton('/api/v1/invitations/accept', { token: rawToken }, 'Accept'),
      );
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      page(res, error.status, 'This invitation cannot be used', error.message);
    }
  });

  async function accept(rawToken: string) {
    const user = await openInvitation(rawToken);
    const accepted = await prisma.$transaction(async (tx) => {
      // Guarded by the hash, so two clicks cannot both accept.
      const claimed = await tx.user.updateMany({
        where: { id: user.id, status: 'INVITED', invitationTokenHash: user.invitationTokenHash },
        data: { status: 'ACTIVE', invitationTokenHash: null, invitationExpiresAt: null },
      });
      if (claimed.count === 0) return false;
      await writeAudit(tx, {
        tenantId: user.tenantId,
        actor: `user:${user.id}`,
        action: 'user.invitation-accepted',
        entityType: 'User',
        entityId: user.id,
        details: { email: user.email, role: user.role },
      });
      return true;
    });
    if (!accepted) throw notFound('Invitation');
    return { userId: user.id, tenantId: user.tenantId, email: user.email, role: user.role, status: 'ACTIVE' as const };
  }

  router.post(
    '/invitations/accept',
    express.urlencoded({ extended: false, limit: '8kb' }),
    async (req: Request, res) => {
      const { token: rawToken } = parse(acceptBody, req.body);
      if (!isFormPost(req)) {
        res.json(await accept(rawToken));
        return;
      }
      try {
        await accept(rawToken);
        page(res, 200, 'Welcome to Holdfast', 'Your account is active. You can sign in now.');
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        page(res, error.status, 'This invitation cannot be used', error.message);
      }
    },
  );

  return router;
}

const invitationAccepted = z.object({
  userId: z.string(),
  tenantId: z.string(),
  email: z.string(),
  role: z.string(),
  status: z.literal('ACTIVE'),
});

export const invitationsRoutes: RouteSpec[] = [
  {
    method: 'get',
    path: '/api/v1/invitations/accept',
    operationId: 'showInvitation',
    summary: 'The page the welcome email’s link opens: a button that accepts',
    description: 'Changes nothing (mail scanners prefetch links). Errors are answered as pages too.',
    tag: 'Invitations',
    auth: 'link-token',
    query: acceptQuery,
    responses: {
      200: { description: 'The invitation page', contentType: 'text/html' },
      404: { description: 'Unknown or used invitation (a page)', contentType: 'text/html' },
      409: { description: 'Expired invitation, or the tenant is not ready yet (a page)', contentType: 'text/html' },
    },
  },
  {
    method: 'post',
    path: '/api/v1/invitations/accept',
    operationId: 'acceptInvitation',
    summary: 'Accept an invitation: the user becomes ACTIVE and the token stops working',
    description: 'JSON is answered in JSON; a form post from the invitation page is answered with a page.',
    tag: 'Invitations',
    auth: 'link-token',
    body: acceptBody,
    bodyType: 'form',
    responses: {
      200: { description: 'The user is active', schema: invitationAccepted },
      404: { description: 'INVITATION_NOT_FOUND: unknown or used token' },
      409: { description: 'INVITATION_EXPIRED, or TENANT_NOT_ACTIVE while onboarding has not finished' },
    },
  },
];
