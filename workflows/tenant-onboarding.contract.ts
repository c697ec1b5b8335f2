import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { TenantTier } from '../domain/tenants';
import { tenantWorkPriority, type TenantFairness } from '../domain/tenant-fairness';
import { WorkPriority } from '../domain/work-priority';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from './search-attributes';
import { tenantOnboardingMetadata } from './summaries';

/**
 * Tenant onboarding's contract: its input, progress and result, the Updates that decide an
 * enterprise approval, the codes they reject with, its workflow ID and the options every start uses.
 */

/** One onboarding per slug at a time; the slug is the tenant's business key before it has any row. */
export function tenantOnboardingId(slug: string): string {
  return `tenant-onboarding:${slug}`;
}

/**
 * How a platform admin's request starts an onboarding (the task queue comes from configuration):
 * a repeat while it runs joins it; after a failure a new request starts afresh.
 */
export function tenantOnboardingStartOptions(tenantId: string, slug: string, fairness?: TenantFairness) {
  return {
    workflowId: tenantOnboardingId(slug),
    ...tenantOnboardingMetadata({ tenantId, slug, tier: fairness?.tier }),
    // Onboarding is interactive work (an admin follows it): high.
    priority: tenantWorkPriority(WorkPriority.high, tenantId, fairness),
    workflowIdConflictPolicy: 'USE_EXISTING' as const,
    workflowIdReusePolicy: 'ALLOW_DUPLICATE' as const,
    typedSearchAttributes: [
      { key: TenantIdKey, value: tenantId },
      { key: BusinessKeyKey, value: slug },
      { key: FlowStatusKey, value: 'PROVISIONING' },
    ],
  };
}

export type OnboardingStepName =
  | 'reserveTenant'
  | 'createAdminUser'
  | 'awaitApproval'
  | 'createBillingCustomer'
  | 'createBillingSubscription'
  | 'provisionTenantDefaults'
  | 'sendWelcomeEmail'
  | 'activateTenant';

/** The undo activity of each step that has one. */
export type CompensationName =
  'markTenantFailed' | 'disableAdminUser' | 'deleteBillingCustomer' | 'cancelBillingSubscription';

export type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'compensated';

/** The onboarding's status; also its FlowStatus search attribute. */
export type OnboardingStatus =
  'PROVISIONING' | 'AWAITING_APPROVAL' | 'COMPENSATING' | 'ACTIVE' | 'FAILED' | 'REJECTED' | 'CANCELLED';

export interface StepProgress {
  name: OnboardingStepName;
  status: StepStatus;
  /**
   * For a finished step, the attempt that finished it. For a failed one, the attempts made: the
   * profile's maximum when retries ran out, the attempt reported with a permanent failure, null
   * when unknown. While a step runs the workflow cannot see its retries; the API adds the live
   * attempt count from the server's pending-activity view.
   */
  attempts: number | null;
  lastError: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** Its undo once the saga unwinds; null for steps with nothing to undo or not yet undone. */
  compensation: {
    action: CompensationName;
    status: 'running' | 'done' | 'failed';
    error: string | null;
    finishedAt: string | null;
  } | null;
}

export interface ApprovalState {
  deadline: string;
  decision: 'approved' | 'rejected' | 'expired' | null;
  decidedBy: string | null;
  reason: string | null;
  decidedAt: string | null;
}

/** What `getOnboardingProgress` answers. */
export interface OnboardingProgress {
  tenantId: string;
  slug: string;
  organizationName: string;
  tier: TenantTier;
  status: OnboardingStatus;
  steps: StepProgress[];
  /** Enterprise only: the approval wait and its outcome. */
  approval: ApprovalState | null;
  failure: { step: OnboardingStepName | null; type: string; message: string } | null;
  startedAt: string;
  finishedAt: string | null;
}

export interface TenantOnboardingInput {
  /** Derived from the slug by the API (domain/tenants.ts), so a repeated request names the same tenant. */
  tenantId: string;
  slug: string;
  organizationName: string;
  adminEmail: string;
  adminName: string;
  tier: TenantTier;
  /** The platform admin who asked, for the audit log. */
  requestedBy: string;
}

export interface TenantOnboardingResult {
  tenantId: string;
  slug: string;
  status: 'ACTIVE';
  adminUserId: string;
  billingCustomerId: string;
  subscriptionId: string;
  activatedAt: string;
}

export interface ApproveOnboardingInput {
  actor: string;
  note?: string;
}

export interface RejectOnboardingInput {
  actor: string;
  reason: string;
}

export interface ApprovalDecision {
  decision: 'approved' | 'rejected';
  decidedAt: string;
}

/**
 * Why an approval Update was refused; the API answers these with 409. Text that can never be
 * stored is refused with INVALID_INPUT (FlowRejection in workflows/errors.ts).
 */
export const OnboardingRejection = {
  /** The onboarding is not waiting for a decision: not enterprise, already decided, or over. */
  NotAwaitingApproval: 'NOT_AWAITING_APPROVAL',
  /** A rejection needs a reason. */
  ReasonRequired: 'REASON_REQUIRED',
} as const;

/** Every step with its status, attempts, last error and timestamps, plus the approval and the failure. */
export const getOnboardingProgressQuery = defineQuery<OnboardingProgress>('getOnboardingProgress');

/**
 * Approves an enterprise onboarding that is waiting for a decision; billing starts next.
 * Rejected (validator) with NOT_AWAITING_APPROVAL otherwise, or INVALID_INPUT for an actor or a
 * note that cannot be stored (the decision is recorded in the database).
 */
export const approveOnboardingUpdate = defineUpdate<ApprovalDecision, [ApproveOnboardingInput]>('approveOnboarding');

/**
 * Rejects an enterprise onboarding that is waiting for a decision; the saga unwinds and the
 * workflow fails with `OnboardingRejected`. Rejected with NOT_AWAITING_APPROVAL, REASON_REQUIRED
 * or INVALID_INPUT.
 */
export const rejectOnboardingUpdate = defineUpdate<ApprovalDecision, [RejectOnboardingInput]>('rejectOnboarding');
