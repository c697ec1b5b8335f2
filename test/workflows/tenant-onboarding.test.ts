import { randomUUID } from 'node:crypto';
import {
  WorkflowFailedError,
  WorkflowUpdateFailedError,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { FailureType } from '../../workflows/errors';
import { tenantOnboardingStartOptions } from '../../workflows/tenant-onboarding.contract';
import { FlowStatusKey } from '../../workflows/search-attributes';
import {
  approveOnboardingUpdate,
  getOnboardingProgressQuery,
  rejectOnboardingUpdate,
  tenantOnboardingWorkflow,
  type OnboardingProgress,
  type TenantOnboardingInput,
} from '../../workflows/tenant-onboarding';
import { until } from '../support/eventually';
import { resultOnceClosed } from '../support/workflow-handles';
import { FakeOnboarding, type OnboardingActivityName } from '../support/onboarding-fake';
import { useTimeSkippingWorkers, type WorkflowStart } from '../support/time-skipping';

type OnboardingHandle = WorkflowHandleWithFirstExecutionRunId<typeof tenantOnboardingWorkflow>;

const FORWARD: OnboardingActivityName[] = [
  'reserveTenant',
  'createAdminUser',
  'createBillingCustomer',
  'createBillingSubscription',
  'provisionTenantDefaults',
  'sendWelcomeEmail',
  'activateTenant',
];

/** The failure a workflow ended with, from its result (`handle.result()` or `resultOnceClosed`). */
async function failureOf(result: Promise<unknown>): Promise<WorkflowFailedError> {
  const error = await result.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WorkflowFailedError);
  return error as WorkflowFailedError;
}

describe('tenant onboarding workflow (time skipping, activities mocked)', () => {
  const temporal = useTimeSkippingWorkers();

  /**
   * Runs `body` with a fresh worker serving `fake`'s activities and a started onboarding, under the ID
   * and with the search attributes the platform API starts one with.
   */
  async function withOnboarding<T>(
    fake: FakeOnboarding,
    body: (handle: OnboardingHandle) => Promise<T>,
    input: Partial<TenantOnboardingInput> = {},
  ): Promise<T> {
    const slug = `acme-${randomUUID().slice(0, 8)}`;
    const args: TenantOnboardingInput = {
      tenantId: randomUUID(),
      slug,
      organizationName: 'Acme Clinics',
      adminEmail: 'ada@acme.test',
      adminName: 'Ada Admin',
      tier: 'professional',
      requestedBy: 'platform-admin:1',
      ...input,
    };
    const { workflowId, typedSearchAttributes } = tenantOnboardingStartOptions(args.tenantId, args.slug);
    const start: WorkflowStart<typeof tenantOnboardingWorkflow> = {
      workflow: tenantOnboardingWorkflow,
      workflowId,
      args: [args],
      typedSearchAttributes,
    };
    return temporal.runWorkflow(fake.activities(), 'onboarding', start, body);
  }

  const progressOf = (handle: OnboardingHandle) => handle.query(getOnboardingProgressQuery);
  const stepOf = (progress: OnboardingProgress, name: string) => progress.steps.find((step) => step.name === name)!;
  const flowStatusOf = async (handle: OnboardingHandle) =>
    (await handle.describe()).typedSearchAttributes.get(FlowStatusKey);
  const awaitingApproval = (handle: OnboardingHandle) =>
    until(async () => (await progressOf(handle)).status === 'AWAITING_APPROVAL');

  describe('happy path', () => {
    it.each(['free', 'professional'] as const)(
      'a %s tenant is reserved, invited, billed, provisioned, welcomed and activated, each step once and in order',
      async (tier) => {
        const fake = new FakeOnboarding();

        const { result, progress, flowStatus } = await withOnboarding(
          fake,
          async (handle) => ({
            result: await handle.result(),
            progress: await progressOf(handle),
            flowStatus: await flowStatusOf(handle),
          }),
          { tier },
        );

        expect(result).toMatchObject({
          status: 'ACTIVE',
          adminUserId: 'user-1',
          billingCustomerId: 'cus_1',
          subscriptionId: 'sub_1',
        });
        expect(fake.names()).toEqual(FORWARD);
        expect(progress.status).toBe('ACTIVE');
        expect(progress.steps.map((step) => [step.name, step.status, step.attempts])).toEqual(
          FORWARD.map((name) => [name, 'done', 1]),
        );
        expect(progress.failure).toBeNull();
        expect(flowStatus).toBe('ACTIVE');
      },
    );

    it('every step of one onboarding gets the same onboarding ID, made of the workflow ID and its first run', async () => {
      const fake = new FakeOnboarding();

      const handle = await withOnboarding(fake, async (h) => {
        await h.result();
        return h;
      });

      const ids = new Set(fake.calls.map((call) => (call.input as { onboardingId: string }).onboardingId));
      expect([...ids]).toEqual([`${handle.workflowId}:${handle.firstExecutionRunId}`]);
    });

    it('an enterprise tenant waits for a platform admin; approval starts billing and the tenant is activated', async () => {
      const fake = new FakeOnboarding();

      const { result, billedBeforeApproval, decision, progress } = await withOnboarding(
        fake,
        async (handle) => {
          await awaitingApproval(handle);
          const billedBeforeApproval = fake.names().includes('createBillingCustomer');
          const decision = await handle.executeUpdate(approveOnboardingUpdate, {
            args: [{ actor: 'platform-admin:2', note: 'contract signed' }],
          });
          return { result: await handle.result(), billedBeforeApproval, decision, progress: await progressOf(handle) };
        },
        { tier: 'enterprise' },
      );

      expect(billedBeforeApproval).toBe(false);
      expect(decision.decision).toBe('approved');
      expect(result.status).toBe('ACTIVE');
      expect(fake.names()).toEqual(['reserveTenant', 'createAdminUser', 'recordApprovalDecision', ...FORWARD.slice(2)]);
      expect(fake.inputOf('recordApprovalDecision')).toMatchObject({
        decision: 'approved',
        actor: 'platform-admin:2',
        reason: 'contract signed',
      });
      expect(progress.approval).toMatchObject({ decision: 'approved', decidedBy: 'platform-admin:2' });
      expect(stepOf(progress, 'awaitApproval').status).toBe('done');
    });
  });

  describe('a permanent failure at each step undoes exactly the steps done before it, in reverse', () => {
    const undoneAfter: Record<string, OnboardingActivityName[]> = {
      reserveTenant: [],
      createAdminUser: ['markTenantFailed'],
      createBillingCustomer: ['disableAdminUser', 'markTenantFailed'],
      createBillingSubscription: ['deleteBillingCustomer', 'disableAdminUser', 'markTenantFailed'],
      provisionTenantDefaults: [
        'cancelBillingSubscription',
        'deleteBillingCustomer',
        'disableAdminUser',
        'markTenantFailed',
      ],
      sendWelcomeEmail: ['cancelBillingSubscription', 'deleteBillingCustomer', 'disableAdminUser', 'markTenantFailed'],
      activateTenant: ['cancelBillingSubscription', 'deleteBillingCustomer', 'disableAdminUser', 'markTenantFailed'],
    };

    it.each(FORWARD.map((step) => [step, undoneAfter[step]!] as const))(
      'when %s fails for good, the saga runs %j, tells the platform admin and fails with OnboardingFailed',
      async (failing, compensations) => {
        const fake = new FakeOnboarding().failPermanently(failing, 'ProviderRejected', `${failing} refused`);

        const { failure, progress, flowStatus } = await withOnboarding(fake, async (handle) => ({
          failure: await failureOf(handle.result()),
          progress: await progressOf(handle),
          flowStatus: await flowStatusOf(handle),
        }));

        const done = FORWARD.slice(0, FORWARD.indexOf(failing) + 1);
        expect(fake.names()).toEqual([...done, ...compensations, 'notifyOnboardingUnsuccessful']);
        expect(failure.cause).toBeInstanceOf(ApplicationFailure);
        expect((failure.cause as ApplicationFailure).type).toBe(FailureType.OnboardingFailed);
        expect(failure.cause?.message).toBe(`${failing} failed: ${failing} refused`);
        expect(stepOf(progress, failing)).toMatchObject({
          status: 'failed',
          attempts: 1,
          lastError: `${failing} refused`,
        });
        const undoable = ['reserveTenant', 'createAdminUser', 'createBillingCustomer', 'createBillingSubscription'];
        expect(done.slice(0, -1).map((step) => stepOf(progress, step).status)).toEqual(
          done.slice(0, -1).map((step) => (undoable.includes(step) ? 'compensated' : 'done')),
        );
        expect(progress.status).toBe('FAILED');
        expect(progress.failure).toMatchObject({ step: failing, type: 'ProviderRejected' });
        expect(flowStatus).toBe('FAILED');
        expect(fake.inputOf('notifyOnboardingUnsuccessful')).toMatchObject({
          outcome: 'failed',
          failedStep: failing,
          compensations: compensations.map((step) => ({ step, status: 'done', error: null })),
        });
        if (compensations.includes('markTenantFailed')) {
          expect(fake.inputOf('markTenantFailed').reason).toBe(`${failing} failed: ${failing} refused`);
        }
      },
    );
  });

  describe('retries', () => {
    it('a transient billing failure is retried and the onboarding then completes, without undoing anything', async () => {
      const fake = new FakeOnboarding().failTransiently('createBillingCustomer', 2, 'billing answered 503');

      const { result, progress } = await withOnboarding(fake, async (handle) => ({
        result: await handle.result(),
        progress: await progressOf(handle),
      }));

      expect(result.status).toBe('ACTIVE');
      expect(fake.names().filter((name) => name === 'createBillingCustomer')).toHaveLength(3);
      expect(stepOf(progress, 'createBillingCustomer')).toMatchObject({ status: 'done', attempts: 3 });
      expect(fake.names()).not.toContain('deleteBillingCustomer');
    });

    it('a billing outage that outlasts the retry budget fails the step after 8 attempts and unwinds', async () => {
      const fake = new FakeOnboarding().failTransiently('createBillingCustomer', Infinity, 'billing answered 500');

      const { failure, progress } = await withOnboarding(fake, async (handle) => ({
        failure: await failureOf(handle.result()),
        progress: await progressOf(handle),
      }));

      expect((failure.cause as ApplicationFailure).type).toBe(FailureType.OnboardingFailed);
      expect(stepOf(progress, 'createBillingCustomer')).toMatchObject({
        status: 'failed',
        attempts: 8,
        lastError: 'billing answered 500',
      });
      expect(fake.names().slice(-3)).toEqual(['disableAdminUser', 'markTenantFailed', 'notifyOnboardingUnsuccessful']);
    });

    it('a compensation that fails transiently is retried until it succeeds', async () => {
      const fake = new FakeOnboarding()
        .failPermanently('provisionTenantDefaults')
        .failTransiently('deleteBillingCustomer', 3, 'billing answered 502');

      const progress = await withOnboarding(fake, async (handle) => {
        await failureOf(handle.result());
        return progressOf(handle);
      });

      expect(fake.names().filter((name) => name === 'deleteBillingCustomer')).toHaveLength(4);
      expect(stepOf(progress, 'createBillingCustomer')).toMatchObject({
        status: 'compensated',
        compensation: { action: 'deleteBillingCustomer', status: 'done', error: null },
      });
    });

    it('a compensation that fails for good is logged and reported, and the remaining compensations still run', async () => {
      const fake = new FakeOnboarding()
        .failPermanently('sendWelcomeEmail')
        .failPermanently('deleteBillingCustomer', 'ProviderRejected', 'Invalid API Key provided');

      const progress = await withOnboarding(fake, async (handle) => {
        await failureOf(handle.result());
        return progressOf(handle);
      });

      expect(fake.names().slice(-5)).toEqual([
        'cancelBillingSubscription',
        'deleteBillingCustomer',
        'disableAdminUser',
        'markTenantFailed',
        'notifyOnboardingUnsuccessful',
      ]);
      expect(stepOf(progress, 'createBillingCustomer')).toMatchObject({
        status: 'done',
        compensation: { action: 'deleteBillingCustomer', status: 'failed', error: 'Invalid API Key provided' },
      });
      expect(fake.inputOf('notifyOnboardingUnsuccessful').compensations).toContainEqual({
        step: 'deleteBillingCustomer',
        status: 'failed',
        error: 'Invalid API Key provided',
      });
    });

    it('a platform-admin notification that cannot be sent does not hide the onboarding failure', async () => {
      const fake = new FakeOnboarding()
        .failPermanently('createBillingCustomer', FailureType.CardDeclined, 'Your card was declined.')
        .failPermanently('notifyOnboardingUnsuccessful', FailureType.ChannelNotConfigured, 'No SMTP server');

      const failure = await withOnboarding(fake, (handle) => failureOf(handle.result()));

      expect((failure.cause as ApplicationFailure).type).toBe(FailureType.OnboardingFailed);
      expect(failure.cause?.message).toBe('createBillingCustomer failed: Your card was declined.');
    });
  });

  describe('enterprise approval', () => {
    it('a rejection undoes the user and the tenant, bills nothing and fails with OnboardingRejected', async () => {
      const fake = new FakeOnboarding();

      const { decision, failure, progress } = await withOnboarding(
        fake,
        async (handle) => {
          await awaitingApproval(handle);
          const decision = await handle.executeUpdate(rejectOnboardingUpdate, {
            args: [{ actor: 'platform-admin:2', reason: 'sanctioned entity' }],
          });
          return { decision, failure: await failureOf(handle.result()), progress: await progressOf(handle) };
        },
        { tier: 'enterprise' },
      );

      expect(decision.decision).toBe('rejected');
      expect((failure.cause as ApplicationFailure).type).toBe(FailureType.OnboardingRejected);
      expect(failure.cause?.message).toBe('Rejected by platform-admin:2: sanctioned entity');
      expect(fake.names()).toEqual([
        'reserveTenant',
        'createAdminUser',
        'recordApprovalDecision',
        'disableAdminUser',
        'markTenantFailed',
        'notifyOnboardingUnsuccessful',
      ]);
      expect(fake.inputOf('notifyOnboardingUnsuccessful')).toMatchObject({
        outcome: 'rejected',
        failedStep: 'awaitApproval',
      });
      expect(progress.status).toBe('REJECTED');
      expect(stepOf(progress, 'awaitApproval')).toMatchObject({ status: 'failed', lastError: failure.cause?.message });
    });

    it('no decision within 7 days counts as a rejection', async () => {
      const fake = new FakeOnboarding();

      const { failure, progress } = await withOnboarding(
        fake,
        async (handle) => ({ failure: await failureOf(handle.result()), progress: await progressOf(handle) }),
        { tier: 'enterprise' },
      );

      expect((failure.cause as ApplicationFailure).type).toBe(FailureType.OnboardingRejected);
      expect(failure.cause?.message).toBe('No approval decision within 7 days');
      expect(fake.inputOf('recordApprovalDecision')).toMatchObject({ decision: 'expired' });
      expect(progress.approval).toMatchObject({ decision: 'expired' });
      const waited =
        Date.parse(progress.approval!.decidedAt!) - Date.parse(stepOf(progress, 'awaitApproval').startedAt!);
      expect(waited).toBeGreaterThanOrEqual(7 * 24 * 60 * 60 * 1000);
      expect(fake.names()).not.toContain('createBillingCustomer');
      expect(fake.names().slice(-3)).toEqual(['disableAdminUser', 'markTenantFailed', 'notifyOnboardingUnsuccessful']);
    });

    it('approving a tier that needs no approval, deciding twice, or rejecting without a reason is refused', async () => {
      const refusalOf = async (update: Promise<unknown>) => {
        const error = await update.then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
        return ((error as WorkflowUpdateFailedError).cause as ApplicationFailure).type;
      };
      const professional = new FakeOnboarding();
      const professionalBilling = professional.block('createBillingCustomer');
      const enterprise = new FakeOnboarding();
      const enterpriseBilling = enterprise.block('createBillingCustomer');

      // Updated only once the run is past its first steps: an Update racing the very first workflow
      // task can stall the time-skipping test server.
      const notEnterprise = await withOnboarding(professional, async (handle) => {
        await professionalBilling.started;
        const refusal = await refusalOf(
          handle.executeUpdate(approveOnboardingUpdate, { args: [{ actor: 'platform-admin:2' }] }),
        );
        // Lets the run go on to an idle point, where it can be terminated.
        professionalBilling.release();
        return refusal;
      });
      const [noReason, twice] = await withOnboarding(
        enterprise,
        async (handle) => {
          await awaitingApproval(handle);
          const noReason = await refusalOf(
            handle.executeUpdate(rejectOnboardingUpdate, { args: [{ actor: 'platform-admin:2', reason: ' ' }] }),
          );
          await handle.executeUpdate(approveOnboardingUpdate, { args: [{ actor: 'platform-admin:2' }] });
          const twice = await refusalOf(
            handle.executeUpdate(rejectOnboardingUpdate, { args: [{ actor: 'platform-admin:3', reason: 'too late' }] }),
          );
          enterpriseBilling.release();
          return [noReason, twice];
        },
        { tier: 'enterprise' },
      );

      expect(notEnterprise).toBe('NOT_AWAITING_APPROVAL');
      expect(noReason).toBe('REASON_REQUIRED');
      expect(twice).toBe('NOT_AWAITING_APPROVAL');
    });
  });

  describe('cancellation', () => {
    it('cancelled mid-way, the step in flight finishes, everything done is undone in reverse, and the run ends Cancelled', async () => {
      const fake = new FakeOnboarding();
      const subscription = fake.block('createBillingSubscription');

      const { failure, progress, flowStatus } = await withOnboarding(fake, async (handle) => {
        await subscription.started;
        await handle.cancel();
        await until(async () => {
          const { events } = await handle.fetchHistory();
          return (events ?? []).some((event) => event.workflowExecutionCancelRequestedEventAttributes);
        });
        subscription.release();
        return {
          failure: await failureOf(handle.result()),
          progress: await progressOf(handle),
          flowStatus: await flowStatusOf(handle),
        };
      });

      expect(failure.cause).toBeInstanceOf(CancelledFailure);
      expect(fake.names()).toEqual([
        'reserveTenant',
        'createAdminUser',
        'createBillingCustomer',
        'createBillingSubscription',
        'cancelBillingSubscription',
        'deleteBillingCustomer',
        'disableAdminUser',
        'markTenantFailed',
        'notifyOnboardingUnsuccessful',
      ]);
      expect(fake.inputOf('cancelBillingSubscription')).toMatchObject({ subscriptionId: 'sub_1' });
      expect(fake.inputOf('notifyOnboardingUnsuccessful')).toMatchObject({ outcome: 'cancelled', failedStep: null });
      expect(progress.status).toBe('CANCELLED');
      expect(flowStatus).toBe('CANCELLED');
      expect(stepOf(progress, 'provisionTenantDefaults').status).toBe('pending');
    });

    it('cancelled while waiting for approval, the user and the tenant are undone', async () => {
      const fake = new FakeOnboarding();

      const failure = await withOnboarding(
        fake,
        async (handle) => {
          await awaitingApproval(handle);
          await handle.cancel();
          return failureOf(resultOnceClosed(handle));
        },
        { tier: 'enterprise' },
      );

      expect(failure.cause).toBeInstanceOf(CancelledFailure);
      expect(fake.names()).toEqual([
        'reserveTenant',
        'createAdminUser',
        'disableAdminUser',
        'markTenantFailed',
        'notifyOnboardingUnsuccessful',
      ]);
    });
  });
});
