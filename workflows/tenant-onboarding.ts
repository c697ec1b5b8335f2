import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  isCancellation,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  TemporalFailure,
  upsertSearchAttributes,
  workflowInfo,
  type RetryPolicy,
} from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';
import type { OnboardingActivities, OnboardingRef, StepReceipt } from '../activities/onboarding';
import type { CompensationReport, OnboardingOutcome } from '../domain/onboarding-messages';
import type { TenantTier } from '../domain/tenants';
import { FailureType, PermanentFailures } from './errors';
import { onboardingEnded } from './metrics';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from './search-attributes';
import { activitySummary, finishedDetails, stepDetails, timerSummary, waitingUntilDetails } from './summaries';
import { requireStorableText } from './validation';
import {
  approveOnboardingUpdate,
  getOnboardingProgressQuery,
  OnboardingRejection,
  rejectOnboardingUpdate,
  type ApprovalDecision,
  type CompensationName,
  type OnboardingProgress,
  type OnboardingStatus,
  type OnboardingStepName,
  type ApproveOnboardingInput,
  type TenantOnboardingInput,
  type TenantOnboardingResult,
} from './tenant-onboarding.contract';

// Each profile states its attempts, so the progress query can tell how many a step made when they ran out.
// Data the database refuses (DataRejected) fails the same way on every attempt, so no profile
// retries it (PermanentFailures.step): the step fails at once and the saga unwinds.

// Database steps are idempotent, so retrying is safe. 10 attempts (about 6 minutes) ride out a
// failover; past that the saga unwinds instead of leaving the tenant PENDING for hours.
const databaseRetry = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  maximumAttempts: 10,
  nonRetryableErrorTypes: PermanentFailures.step,
} satisfies RetryPolicy;

// Billing calls carry idempotency keys, so a retry after a timeout cannot double-charge. The
// adapter gives up on a request after BILLING_TIMEOUT (15 s by default); 8 attempts span about
// 10 minutes of provider trouble. Refused payments are non-retryable and end the step at once.
const billingRetry = {
  initialInterval: '5 seconds',
  backoffCoefficient: 2,
  maximumInterval: '2 minutes',
  maximumAttempts: 8,
  nonRetryableErrorTypes: PermanentFailures.step,
} satisfies RetryPolicy;

// SMTP outages last longer than database blips; the notification ledger keeps retries from sending twice.
const emailRetry = {
  initialInterval: '10 seconds',
  backoffCoefficient: 2,
  maximumInterval: '5 minutes',
  maximumAttempts: 10,
  nonRetryableErrorTypes: PermanentFailures.step,
} satisfies RetryPolicy;

// Undoing must not be given up lightly: a dropped compensation leaves a paying subscription
// behind. 100 attempts, at most 10 minutes apart, keep trying for about 16 hours.
const compensationRetry = {
  initialInterval: '5 seconds',
  backoffCoefficient: 2,
  maximumInterval: '10 minutes',
  maximumAttempts: 100,
  nonRetryableErrorTypes: PermanentFailures.step,
} satisfies RetryPolicy;

const database = proxyActivities<OnboardingActivities>({ startToCloseTimeout: '30 seconds', retry: databaseRetry });
const billing = proxyActivities<OnboardingActivities>({ startToCloseTimeout: '1 minute', retry: billingRetry });
const email = proxyActivities<OnboardingActivities>({ startToCloseTimeout: '1 minute', retry: emailRetry });
const undo = proxyActivities<OnboardingActivities>({ startToCloseTimeout: '1 minute', retry: compensationRetry });

/** How long an enterprise onboarding waits for a platform admin's decision; silence is a rejection. */
export const APPROVAL_TIMEOUT = '7 days';
const APPROVAL_TIMEOUT_MS = 7 * 24 * 60 * 60 * 1000;

export * from './tenant-onboarding.contract';

const maximumAttempts: Record<OnboardingStepName, number> = {
  reserveTenant: databaseRetry.maximumAttempts,
  createAdminUser: databaseRetry.maximumAttempts,
  awaitApproval: 1,
  createBillingCustomer: billingRetry.maximumAttempts,
  createBillingSubscription: billingRetry.maximumAttempts,
  provisionTenantDefaults: databaseRetry.maximumAttempts,
  sendWelcomeEmail: emailRetry.maximumAttempts,
  activateTenant: databaseRetry.maximumAttempts,
};

const stepsFor = (tier: TenantTier): OnboardingStepName[] => [
  'reserveTenant',
  'createAdminUser',
  ...(tier === 'enterprise' ? (['awaitApproval'] as const) : []),
  'createBillingCustomer',
  'createBillingSubscription',
  'provisionTenantDefaults',
  'sendWelcomeEmail',
  'activateTenant',
];

const refuse = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });

/** The failure an activity ended with: its own message and type rather than the wrapper's. */
function describe(error: unknown): { type: string; message: string } {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? 'Error', message: cause.message };
  if (cause instanceof Error) return { type: cause.name, message: cause.message };
  return { type: 'Error', message: String(cause) };
}

function attemptsOf(error: unknown, step: OnboardingStepName): number | null {
  if (!(error instanceof ActivityFailure)) return null;
  if (error.retryState === RetryState.MAXIMUM_ATTEMPTS_REACHED) return maximumAttempts[step];
  const details = error.cause instanceof ApplicationFailure ? (error.cause.details ?? []) : [];
  const reported = details.find(
    (detail): detail is StepReceipt => typeof (detail as StepReceipt)?.attempt === 'number',
  );
  return reported?.attempt ?? null;
}

/**
 * Onboards a new tenant as a saga: reserve the slug (tenant PENDING), invite the admin user,
 * for enterprise wait up to 7 days for a platform admin's approval, create the billing customer
 * and subscription, provision the tier's defaults, send the welcome email, and activate the
 * tenant with its `tenant.activated` outbox event.
 *
 * After each step succeeds its undo is pushed; when a step fails for good, the onboarding is
 * rejected (or nobody decides in time), or it is cancelled, the undos run in reverse in a
 * non-cancellable scope: cancel the subscription, delete the billing customer, disable the
 * user, mark the tenant FAILED. A failing undo is retried by its activity, then logged and
 * reported, and the rest still run. A platform admin is then emailed the outcome.
 *
 * A cancellation lets the step in flight finish first, so what it did is known and undone.
 *
 * @param input the tenant (ID derived from the slug), its admin, its tier and who asked.
 * @returns the active tenant's references.
 * @throws ApplicationFailure `OnboardingFailed` (a step failed; the cause is the step's failure)
 *   or `OnboardingRejected`; a cancelled onboarding ends Cancelled after unwinding.
 */
export async function tenantOnboardingWorkflow(input: TenantOnboardingInput): Promise<TenantOnboardingResult> {
  const { tenantId, slug, organizationName, tier } = input;
  const { workflowId, firstExecutionRunId } = workflowInfo();
  const ref: OnboardingRef = { tenantId, onboardingId: `${workflowId}:${firstExecutionRunId}` };
  const timestamp = () => new Date().toISOString();

  const state: OnboardingProgress = {
    tenantId,
    slug,
    organizationName,
    tier,
    status: 'PROVISIONING',
    steps: stepsFor(tier).map((name) => ({
      name,
      status: 'pending',
      attempts: null,
      lastError: null,
      startedAt: null,
      finishedAt: null,
      compensation: null,
    })),
    approval: null,
    failure: null,
    startedAt: timestamp(),
    finishedAt: null,
  };
  let decision: { decision: 'approved' | 'rejected'; actor: string; reason: string | null } | undefined;
  const compensations: Array<{ step: OnboardingStepName; action: CompensationName; run: () => Promise<unknown> }> = [];

  const awaitingDecision = () => {
    if (state.status !== 'AWAITING_APPROVAL' || decision !== undefined) {
      throw refuse(OnboardingRejection.NotAwaitingApproval, 'This onboarding is not waiting for approval');
    }
  };
  const decide = (made: NonNullable<typeof decision>): ApprovalDecision => {
    decision = made;
    return { decision: made.decision, decidedAt: timestamp() };
  };

  setHandler(getOnboardingProgressQuery, () => state);
  setHandler(
    approveOnboardingUpdate,
    ({ actor, note }) => decide({ decision: 'approved', actor, reason: note ?? null }),
    {
      validator: ({ actor, note }: ApproveOnboardingInput) => {
        awaitingDecision();
        requireStorableText({ actor }, { note });
      },
    },
  );
  setHandler(rejectOnboardingUpdate, ({ actor, reason }) => decide({ decision: 'rejected', actor, reason }), {
    validator: ({ actor, reason }) => {
      awaitingDecision();
      if (typeof reason !== 'string' || reason.trim() === '') {
        throw refuse(OnboardingRejection.ReasonRequired, 'A rejection needs a reason');
      }
      requireStorableText({ actor, reason });
    },
  });

  upsertSearchAttributes([
    { key: TenantIdKey, value: tenantId },
    { key: BusinessKeyKey, value: slug },
    { key: FlowStatusKey, value: state.status },
  ]);
  const setStatus = (status: OnboardingStatus) => {
    state.status = status;
    upsertSearchAttributes([{ key: FlowStatusKey, value: status }]);
    if (['ACTIVE', 'CANCELLED', 'REJECTED', 'FAILED'].includes(status)) setCurrentDetails(finishedDetails(status));
    if (status === 'COMPENSATING') setCurrentDetails('undoing the steps done so far');
  };
  /** Where the saga is, for the Web UI: "step 3 of 7: createBillingCustomer". */
  const stepIndex = (name: OnboardingStepName) => state.steps.findIndex((step) => step.name === name) + 1;
  const stepNow = (name: OnboardingStepName) => stepDetails(stepIndex(name), state.steps.length, name);
  /** The activity summary of a step: its place in the plan and what it does. */
  const stepSummary = (name: OnboardingStepName) => ({
    summary: activitySummary.onboardingStep(stepIndex(name), state.steps.length, name),
  });
  const undoSummary = (action: CompensationName) => ({ summary: activitySummary.onboardingUndo(action) });
  const progressOf = (name: OnboardingStepName) => state.steps.find((step) => step.name === name)!;

  /** Steps run non-cancellable, so a cancellation request is acted on between them. */
  const honourCancellation = () => {
    if (CancellationScope.current().consideredCancelled) throw new CancelledFailure('Onboarding cancelled');
  };

  /**
   * Runs one step and, once it has succeeded, pushes its undo. The step runs non-cancellable:
   * a cancellation is honoured when it has finished, so a customer being created is known
   * (and deleted) rather than orphaned.
   */
  async function step<T extends StepReceipt>(
    name: OnboardingStepName,
    run: () => Promise<T>,
    compensation?: { action: CompensationName; run: (result: T) => Promise<unknown> },
  ): Promise<T> {
    honourCancellation();
    const progress = progressOf(name);
    progress.status = 'running';
    progress.startedAt = timestamp();
    setCurrentDetails(stepNow(name));
    let result: T;
    try {
      result = await CancellationScope.nonCancellable(run);
    } catch (error) {
      Object.assign(progress, {
        status: 'failed',
        attempts: attemptsOf(error, name),
        lastError: describe(error).message,
        finishedAt: timestamp(),
      });
      throw error;
    }
    Object.assign(progress, { status: 'done', attempts: result.attempt, finishedAt: timestamp() });
    if (compensation)
      compensations.push({ step: name, action: compensation.action, run: () => compensation.run(result) });
    honourCancellation();
    return result;
  }

  /** Waits for a platform admin's decision; answers only on approval, else throws OnboardingRejected. */
  async function awaitApproval(): Promise<void> {
    const progress = progressOf('awaitApproval');
    progress.status = 'running';
    progress.startedAt = timestamp();
    state.approval = {
      deadline: new Date(Date.now() + APPROVAL_TIMEOUT_MS).toISOString(),
      decision: null,
      decidedBy: null,
      reason: null,
      decidedAt: null,
    };
    setStatus('AWAITING_APPROVAL');
    setCurrentDetails(
      `${stepNow('awaitApproval')}, ${waitingUntilDetails('waiting for a platform admin', state.approval.deadline)}`,
    );
    const answered = await condition(() => decision !== undefined, APPROVAL_TIMEOUT, {
      summary: timerSummary.approvalDeadline,
    });
    // No answer in time is a business outcome (a rejection), not an error.
    const made = answered
      ? decision!
      : {
          decision: 'expired' as const,
          actor: 'system:tenant-onboarding',
          reason: 'No approval decision within 7 days',
        };
    Object.assign(state.approval, {
      decision: made.decision,
      decidedBy: made.actor,
      reason: made.reason,
      decidedAt: timestamp(),
    });
    await CancellationScope.nonCancellable(() =>
      database.recordApprovalDecision.executeWithOptions({ summary: activitySummary.recordApproval(made.decision) }, [
        { ...ref, decision: made.decision, actor: made.actor, reason: made.reason },
      ]),
    );
    if (made.decision === 'approved') {
      Object.assign(progress, { status: 'done', attempts: 1, finishedAt: timestamp() });
      setStatus('PROVISIONING');
      return;
    }
    const message =
      made.decision === 'expired' ? made.reason : `Rejected by ${made.actor}: ${made.reason ?? 'no reason given'}`;
    Object.assign(progress, { status: 'failed', attempts: 1, lastError: message, finishedAt: timestamp() });
    throw ApplicationFailure.create({ type: FailureType.OnboardingRejected, message });
  }

  async function unwind(): Promise<CompensationReport[]> {
    const reports: CompensationReport[] = [];
    for (const { step: name, action, run } of [...compensations].reverse()) {
      const progress = progressOf(name);
      progress.compensation = { action, status: 'running', error: null, finishedAt: null };
      setCurrentDetails(`undoing ${name}: ${action}`);
      try {
        await run();
        progress.compensation = { action, status: 'done', error: null, finishedAt: timestamp() };
        progress.status = 'compensated';
        reports.push({ step: action, status: 'done', error: null });
      } catch (error) {
        const { message } = describe(error);
        // Logged, reported to the platform admin and shown by the query; the other undos still run.
        log.error('Compensation failed for good', { step: name, action, error: message });
        progress.compensation = { action, status: 'failed', error: message, finishedAt: timestamp() };
        reports.push({ step: action, status: 'failed', error: message });
      }
    }
    return reports;
  }

  try {
    await step(
      'reserveTenant',
      () =>
        database.reserveTenant.executeWithOptions(stepSummary('reserveTenant'), [
          { ...ref, slug, organizationName, tier, requestedBy: input.requestedBy },
        ]),
      {
        action: 'markTenantFailed',
        run: () =>
          undo.markTenantFailed.executeWithOptions(undoSummary('markTenantFailed'), [
            { ...ref, reason: state.failure?.message ?? 'Onboarding did not finish' },
          ]),
      },
    );
    const { userId } = await step(
      'createAdminUser',
      () =>
        database.createAdminUser.executeWithOptions(stepSummary('createAdminUser'), [
          { ...ref, email: input.adminEmail, name: input.adminName },
        ]),
      {
        action: 'disableAdminUser',
        run: ({ userId }) =>
          undo.disableAdminUser.executeWithOptions(undoSummary('disableAdminUser'), [{ ...ref, userId }]),
      },
    );
    if (tier === 'enterprise') await awaitApproval();
    const { customerId } = await step(
      'createBillingCustomer',
      () =>
        billing.createBillingCustomer.executeWithOptions(stepSummary('createBillingCustomer'), [
          { ...ref, slug, organizationName, email: input.adminEmail },
        ]),
      {
        action: 'deleteBillingCustomer',
        run: ({ customerId }) =>
          undo.deleteBillingCustomer.executeWithOptions(undoSummary('deleteBillingCustomer'), [{ ...ref, customerId }]),
      },
    );
    const { subscriptionId } = await step(
      'createBillingSubscription',
      () =>
        billing.createBillingSubscription.executeWithOptions(stepSummary('createBillingSubscription'), [
          { ...ref, customerId, tier },
        ]),
      {
        action: 'cancelBillingSubscription',
        run: ({ subscriptionId }) =>
          undo.cancelBillingSubscription.executeWithOptions(undoSummary('cancelBillingSubscription'), [
            { ...ref, subscriptionId },
          ]),
      },
    );
    await step('provisionTenantDefaults', () =>
      database.provisionTenantDefaults.executeWithOptions(stepSummary('provisionTenantDefaults'), [
        { ...ref, tier, adminEmail: input.adminEmail },
      ]),
    );
    await step('sendWelcomeEmail', () =>
      email.sendWelcomeEmail.executeWithOptions(stepSummary('sendWelcomeEmail'), [{ ...ref, userId }]),
    );
    const { activatedAt } = await step('activateTenant', () =>
      database.activateTenant.executeWithOptions(stepSummary('activateTenant'), [{ ...ref, userId }]),
    );

    setStatus('ACTIVE');
    onboardingEnded('activated', null);
    state.finishedAt = timestamp();
    await condition(allHandlersFinished);
    return {
      tenantId,
      slug,
      status: 'ACTIVE',
      adminUserId: userId,
      billingCustomerId: customerId,
      subscriptionId,
      activatedAt,
    };
  } catch (error) {
    // A bug in this code is no business failure: fail the task, so a fixed worker can carry on.
    if (!(error instanceof TemporalFailure)) throw error;
    const cancelled = isCancellation(error);
    const rejected = error instanceof ApplicationFailure && error.type === FailureType.OnboardingRejected;
    const outcome: OnboardingOutcome = cancelled ? 'cancelled' : rejected ? 'rejected' : 'failed';
    const failedStep = state.steps.find((s) => s.status === 'failed' || s.status === 'running')?.name ?? null;
    onboardingEnded(outcome, failedStep);
    const cause = describe(error);
    state.failure = {
      step: cancelled ? null : failedStep,
      type: cancelled ? 'Cancelled' : cause.type,
      message: cancelled
        ? 'Onboarding cancelled'
        : rejected
          ? cause.message
          : `${failedStep ?? 'onboarding'} failed: ${cause.message}`,
    };
    const reason = state.failure.message;
    log.warn('Onboarding did not finish; undoing what was done', { outcome, reason });

    // Undo even when cancelled: this scope ignores the cancellation that brought us here.
    await CancellationScope.nonCancellable(async () => {
      const approval = state.steps.find((s) => s.name === 'awaitApproval');
      if (approval?.status === 'running') {
        Object.assign(approval, { status: 'failed', lastError: reason, finishedAt: timestamp() });
      }
      setStatus('COMPENSATING');
      const compensationReports = await unwind();
      setStatus(cancelled ? 'CANCELLED' : rejected ? 'REJECTED' : 'FAILED');
      state.finishedAt = timestamp();
      await email.notifyOnboardingUnsuccessful
        .executeWithOptions({ summary: activitySummary.onboardingUnsuccessful }, [
          {
            ...ref,
            slug,
            organizationName,
            workflowId,
            outcome,
            reason,
            failedStep: state.failure!.step,
            compensations: compensationReports,
          },
        ])
        .catch((notifyError: unknown) =>
          log.error('The platform admin could not be told', { error: describe(notifyError).message }),
        );
      await condition(allHandlersFinished);
    });

    if (cancelled) throw error;
    throw ApplicationFailure.create({
      type: rejected ? FailureType.OnboardingRejected : FailureType.OnboardingFailed,
      message: reason,
      details: [{ step: state.failure.step, type: cause.type }],
      cause: rejected ? undefined : error,
    });
  }
}
