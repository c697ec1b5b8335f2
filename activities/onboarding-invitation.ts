import { randomUUID } from 'node:crypto';
import {
  hashInvitationToken,
  invitationToken,
  invitationTokenMatching,
  invitationUrl,
} from '../domain/invitation-token';
import { isUniqueViolation } from '../lib/db';
import { FailureType } from '../workflows/errors';
import type { NotificationResult } from './notifications';
import type { OnboardingDeps, OnboardingRef, StepReceipt } from './onboarding';
import { DAY_MS, audit, permanent, reporting } from './onboarding-support';

/** How long the link in the welcome email works. */
export const INVITATION_VALIDITY_DAYS = 14;

export interface CreateAdminUserInput extends OnboardingRef {
  email: string;
  name: string;
}

/**
 * The tenant's first admin: invited with a fresh invitation token, welcomed by email with the
 * link, or disabled (the link stops working) when the saga unwinds. Idempotent under retry
 * (activities/onboarding.ts says how).
 */
export function createAdminInvitationActivities(deps: OnboardingDeps) {
  const { prisma, notifier } = deps;
  const now = deps.now ?? (() => new Date());

  return {
    /**
     * Step 2: the tenant's admin, INVITED as tenant-admin, holding the hash of a fresh
     * invitation token. An existing user of that email (disabled by an earlier failed
     * onboarding) is invited again.
     */
    async createAdminUser(input: CreateAdminUserInput): Promise<{ userId: string } & StepReceipt> {
      const { tenantId, onboardingId, name } = input;
      const email = input.email.trim().toLowerCase();
      return reporting(async () => {
        const existing = await prisma.user.findUnique({ where: { tenantId_email: { tenantId, email } } });
        const userId = existing?.id ?? randomUUID();
        const invitation = {
          name,
          role: 'tenant-admin',
          status: 'INVITED' as const,
          invitationTokenHash: hashInvitationToken(
            invitationToken(deps.invitationTokenSecret, { tenantId, userId, onboardingId }),
          ),
          invitationExpiresAt: new Date(now().getTime() + INVITATION_VALIDITY_DAYS * DAY_MS),
        };
        try {
          await prisma.$transaction(async (tx) => {
            if (existing) await tx.user.update({ where: { id: userId }, data: invitation });
            else await tx.user.create({ data: { id: userId, tenantId, email, ...invitation } });
            await audit(tx, {
              tenantId,
              action: 'user.invited',
              entityType: 'User',
              entityId: userId,
              details: { email, role: 'tenant-admin', onboardingId },
              dedupKey: `${onboardingId}:user.invited`,
            });
          });
        } catch (error) {
          if (isUniqueViolation(error)) throw new Error(`The user ${userId} was created meanwhile; retrying`);
          throw error;
        }
        return { userId };
      });
    },

    /**
     * Step 5: the welcome email with the invitation link, through the notification ledger
     * (`{onboardingId}:welcome`, so it goes out once). The token is rebuilt here from the user
     * and the onboarding, so it never passes through workflow history.
     *
     * @throws `NotFound` when the user is no longer INVITED; the notifier's failures otherwise.
     */
    async sendWelcomeEmail(
      input: OnboardingRef & { userId: string },
    ): Promise<{ notificationId: string; delivery: NotificationResult['status'] } & StepReceipt> {
      const { tenantId, onboardingId, userId } = input;
      return reporting(async () => {
        const user = await prisma.user.findFirst({ where: { id: userId, tenantId }, include: { tenant: true } });
        if (!user || user.status !== 'INVITED' || !user.invitationExpiresAt) {
          throw permanent(`User ${userId} has no open invitation`, FailureType.NotFound);
        }
        // A user invited before an upgrade stores the hash of a legacy token: the email carries that one.
        const claims = { tenantId, userId, onboardingId };
        const token = invitationTokenMatching(deps.invitationTokenSecret, claims, user.invitationTokenHash);
        const sent = await notifier.send({
          tenantId,
          channel: 'EMAIL',
          recipient: user.email,
          idempotencyKey: `${onboardingId}:welcome`,
          template: {
            name: 'tenant.welcome',
            data: {
              organizationName: user.tenant.name,
              adminName: user.name,
              tier: user.tenant.tier,
              invitationUrl: invitationUrl(deps.publicBaseUrl, token),
              invitationExpiresAt: user.invitationExpiresAt.toISOString(),
            },
          },
        });
        await audit(prisma, {
          tenantId,
          action: 'user.welcome-sent',
          entityType: 'User',
          entityId: userId,
          details: { notificationId: sent.notificationId, onboardingId },
          dedupKey: `${onboardingId}:welcome`,
        });
        return { notificationId: sent.notificationId, delivery: sent.status };
      });
    },

    /** Undoes step 2: the user is DISABLED and the invitation link stops working. */
    async disableAdminUser(input: OnboardingRef & { userId: string }): Promise<void> {
      const { tenantId, onboardingId, userId } = input;
      await prisma.$transaction(async (tx) => {
        await tx.user.updateMany({
          where: { id: userId, tenantId },
          data: { status: 'DISABLED', invitationTokenHash: null, invitationExpiresAt: null },
        });
        await audit(tx, {
          tenantId,
          action: 'user.disabled',
          entityType: 'User',
          entityId: userId,
          details: { onboardingId },
          dedupKey: `${onboardingId}:user.disabled`,
        });
      });
    },
  };
}
