import type { NotificationChannel, RenderedMessage } from './notifications';

/**
 * The tenant-onboarding messages, in the shape of the other notification templates
 * (domain/notifications.ts renders them through {@link renderOnboardingMessage}). Pure.
 */

/** How an onboarding that did not finish ended. */
export type OnboardingOutcome = 'failed' | 'rejected' | 'cancelled';

/** One undo step of the saga, as the platform admin's report lists it. */
export interface CompensationReport {
  step: string;
  status: 'done' | 'failed';
  error: string | null;
}

export type OnboardingTemplate =
  | {
      name: 'tenant.welcome';
      data: {
        organizationName: string;
        adminName: string;
        tier: string;
        invitationUrl: string;
        /** ISO-8601. */
        invitationExpiresAt: string;
      };
    }
  | {
      name: 'onboarding.unsuccessful';
      data: {
        organizationName: string;
        slug: string;
        tenantId: string;
        workflowId: string;
        outcome: OnboardingOutcome;
        reason: string;
        /** The step that failed for good, or null for a rejection or a cancellation. */
        failedStep: string | null;
        compensations: CompensationReport[];
      };
    };

const outcomeTitles: Record<OnboardingOutcome, string> = {
  failed: 'failed',
  rejected: 'was rejected',
  cancelled: 'was cancelled',
};

/** Renders an onboarding template; both are email-only, so an SMS gets the same text without a subject. */
export function renderOnboardingMessage(channel: NotificationChannel, template: OnboardingTemplate): RenderedMessage {
  const withSubject = (subject: string, text: string): RenderedMessage => ({
    subject: channel === 'EMAIL' ? subject : null,
    text,
  });
  switch (template.name) {
    case 'tenant.welcome': {
      const { organizationName, adminName, tier, invitationUrl, invitationExpiresAt } = template.data;
      return withSubject(
        `Welcome to Holdfast, ${organizationName}`,
        [
          `Hello ${adminName},`,
          '',
          `${organizationName} is set up on Holdfast (${tier} plan), and you are its administrator.`,
          '',
          `Accept your invitation to get started: ${invitationUrl}`,
          '',
          `The link works once and until ${invitationExpiresAt.slice(0, 10)}. If you did not expect this email, ignore it.`,
        ].join('\n'),
      );
    }
    case 'onboarding.unsuccessful': {
      const { organizationName, slug, tenantId, workflowId, outcome, reason, failedStep, compensations } =
        template.data;
      const undone = compensations.map(
        (c) => `  - ${c.step}: ${c.status === 'done' ? 'undone' : `FAILED (${c.error ?? 'unknown error'})`}`,
      );
      const manual = compensations.some((c) => c.status === 'failed');
      return withSubject(
        `Onboarding of ${organizationName} ${outcomeTitles[outcome]}`,
        [
          `The onboarding of ${organizationName} (slug ${slug}, tenant ${tenantId}) ${outcomeTitles[outcome]}.`,
          '',
          `Reason: ${reason}`,
          ...(failedStep ? [`Failed step: ${failedStep}`] : []),
          '',
          compensations.length > 0 ? 'What was undone:' : 'Nothing had been done, so nothing was undone.',
          ...undone,
          ...(manual ? ['', 'Some steps could not be undone automatically and need a person.'] : []),
          '',
          `Workflow: ${workflowId}`,
        ].join('\n'),
      );
    }
  }
}
