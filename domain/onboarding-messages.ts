/** The tenant-onboarding messages, in the shape of the other notification templates. Pure. */

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
