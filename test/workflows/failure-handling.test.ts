import { randomUUID } from 'node:crypto';
import {
  WorkflowFailedError,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal as proto } from '@temporalio/proto';
import { FailureType, FlowRejection } from '../../workflows/errors';
import { tenantOnboardingId } from '../../workflows/tenant-onboarding.contract';
import {
  assignVendorManuallyUpdate,
  cancelOrderUpdate,
  getOrderStateQuery,
  type orderRoutingWorkflow,
  vendorRespondUpdate,
  type OrderState,
} from '../../workflows/order-routing';
import { FlowStatusKey } from '../../workflows/search-attributes';
import {
  approveOnboardingUpdate,
  getOnboardingProgressQuery,
  rejectOnboardingUpdate,
  tenantOnboardingWorkflow,
  type TenantOnboardingInput,
} from '../../workflows/tenant-onboarding';
import {
  acceptOfferUpdate,
  extendHoldUpdate,
  getCascadeStateQuery,
  type waitlistCascadeWorkflow,
} from '../../workflows/waitlist-cascade';
import { until } from '../support/eventually';
import { FakeOnboarding } from '../support/onboarding-fake';
import { FakeOrders } from '../support/orders-fake';
import { orderRoutingStart, useTimeSkippingWorkers, waitlistCascadeStart } from '../support/time-skipping';
import { FakeWaitlist } from '../support/waitlist-fake';
import { noActivityRunning, rejectionOf } from '../support/workflow-handles';

const TENANT_ID = 'tenant-a';
const NUL_TEXT = 'moved\u0000away';
const LONE_SURROGATE = 'broken \ud800 text';
const { EventType } = proto.api.enums.v1;

/** What a real activity throws when PostgreSQL refuses its data (activities/database-failures.ts). */
const dataRejected = () =>
  ApplicationFailure.create({
    type: FailureType.DataRejected,
    message: 'The database refused the data: a value cannot be stored in its column (SQLSTATE 22021)',
    nonRetryable: true,
  });

/** The failure a workflow ended with. */
async function workflowFailure(handle: Pick<WorkflowHandle, 'result'>): Promise<ApplicationFailure> {
  const error = await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const cause = (error as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

/** Updates the workflow accepted: a validator's rejection writes none. */
async function acceptedUpdates(handle: Pick<WorkflowHandle, 'fetchHistory'>): Promise<number> {
  const { events } = await handle.fetchHistory();
  return (events ?? []).filter((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
    .length;
}

const flowStatusOf = async (handle: Pick<WorkflowHandle, 'describe'>) =>
  (await handle.describe()).typedSearchAttributes.get(FlowStatusKey);

describe('no input wedges a flow (time skipping, activities mocked)', () => {
  const temporal = useTimeSkippingWorkers();

  describe('order routing', () => {
    type OrderHandle = WorkflowHandleWithFirstExecutionRunId<typeof orderRoutingWorkflow>;

    /** Runs `body` with a worker serving `activities` (default: the fake's) and a started order. */
    async function withOrder<T>(
      fake: FakeOrders,
      body: (handle: OrderHandle) => Promise<T>,
      activities: ReturnType<FakeOrders['activities']> = fake.activities(),
    ): Promise<T> {
      const start = { ...orderRoutingStart(TENANT_ID), beforeTerminate: () => fake.openGates() };
      return temporal.runWorkflow(activities, 'orders-failures', start, body);
    }

    const stateOf = (handle: OrderHandle): Promise<OrderState> => handle.query(getOrderStateQuery);
    const cancel = (handle: OrderHandle, reason: string) =>
      handle.executeUpdate(cancelOrderUpdate, { args: [{ reason, actor: 'operator:1' }] });
    const respond = (handle: OrderHandle, tokenHash: string, decision: 'accept' | 'reject', reason?: string) =>
      handle.executeUpdate(vendorRespondUpdate, { args: [{ tokenHash, decision, reason }] });

    /** The fake's activities, with `name` failing for good (by default as a database data error does), and the calls counted. */
    function failingActivities<N extends keyof ReturnType<FakeOrders['activities']>>(
      fake: FakeOrders,
      name: N,
      calls: { count: number; stopReasons: string[] },
      failure: () => ApplicationFailure = dataRejected,
    ): ReturnType<FakeOrders['activities']> {
      const activities = fake.activities();
      return {
        ...activities,
        [name]: async () => {
          calls.count += 1;
          throw failure();
        },
        markNeedsAttention: async (input: Parameters<typeof activities.markNeedsAttention>[0]) => {
          if (input.reason) calls.stopReasons.push(input.reason);
          return activities.markNeedsAttention(input);
        },
      };
    }

    it('when recording a cancellation fails for good, the cancel is refused with NEEDS_ATTENTION at once and the order stops in NEEDS_ATTENTION with the reason', async () => {
      const fake = new FakeOrders();
      fake.vendor('Ada Supplies');
      const calls = { count: 0, stopReasons: [] as string[] };

      const { rejection, state, flowStatus, failure } = await withOrder(
        fake,
        async (handle) => {
          await fake.delivered(1);
          // Cancelling while the offer's send completes trips the time-skipping server.
          await noActivityRunning(handle);
          const rejection = await rejectionOf(cancel(handle, 'the retailer changed its mind'));
          return {
            rejection,
            state: await stateOf(handle),
            flowStatus: await flowStatusOf(handle),
            failure: await workflowFailure(handle),
          };
        },
        failingActivities(fake, 'cancelOrderRecord', calls),
      );

      expect(rejection).toBe(FlowRejection.NeedsAttention);
      expect(calls.count).toBe(1);
      expect(state.status).toBe('NEEDS_ATTENTION');
      expect(state.statusReason).toMatch(/^cancelOrderRecord failed: The database refused the data/);
      expect(state.failure).toMatchObject({ step: 'cancelOrderRecord', type: FailureType.DataRejected });
      expect(flowStatus).toBe('NEEDS_ATTENTION');
      expect(failure.type).toBe(FailureType.NeedsAttention);
      expect(calls.stopReasons).toEqual([state.statusReason]);
    });

    it('a cancel that the order row refuses (OrderStateConflict) is answered with NEEDS_ATTENTION rather than left waiting', async () => {
      const fake = new FakeOrders();
      fake.vendor('Ada Supplies');
      const calls = { count: 0, stopReasons: [] as string[] };
      const conflict = () =>
        ApplicationFailure.nonRetryable(
          'The order is DISPATCHED and can no longer be cancelled',
          FailureType.OrderStateConflict,
        );

      const { rejection, state, failure } = await withOrder(
        fake,
        async (handle) => {
          await fake.delivered(1);
          await noActivityRunning(handle);
          const rejection = await rejectionOf(cancel(handle, 'the retailer changed its mind'));
          return { rejection, state: await stateOf(handle), failure: await workflowFailure(handle) };
        },
        failingActivities(fake, 'cancelOrderRecord', calls, conflict),
      );

      expect(rejection).toBe(FlowRejection.NeedsAttention);
      expect(state).toMatchObject({
        status: 'NEEDS_ATTENTION',
        failure: { step: 'cancelOrderRecord', type: FailureType.OrderStateConflict },
      });
      expect(failure.type).toBe(FailureType.NeedsAttention);
    });

    it("when recording a vendor's rejection fails for good, the vendor's answer is refused with NEEDS_ATTENTION and the order stops", async () => {
      const fake = new FakeOrders();
      fake.vendor('Ada Supplies');
      fake.vendor('Ben Wholesale');
      const calls = { count: 0, stopReasons: [] as string[] };

      const { rejection, state, failure } = await withOrder(
        fake,
        async (handle) => {
          const offer = await fake.delivered(1);
          const rejection = await rejectionOf(respond(handle, offer.tokenHash, 'reject', 'out of stock'));
          return { rejection, state: await stateOf(handle), failure: await workflowFailure(handle) };
        },
        failingActivities(fake, 'settleRoutingAttempt', calls),
      );

      expect(rejection).toBe(FlowRejection.NeedsAttention);
      expect(calls.count).toBe(1);
      expect(state).toMatchObject({
        status: 'NEEDS_ATTENTION',
        failure: { step: 'settleRoutingAttempt', type: FailureType.DataRejected },
      });
      expect(failure.type).toBe(FailureType.NeedsAttention);
      // Routing stopped: the second vendor was never offered the order.
      expect(fake.deliveries).toHaveLength(1);
    });

    it('a step that fails for good before any request (the credit check) stops the order in NEEDS_ATTENTION instead of retrying', async () => {
      const fake = new FakeOrders();
      fake.vendor('Ada Supplies');
      const calls = { count: 0, stopReasons: [] as string[] };

      const { state, failure } = await withOrder(
        fake,
        async (handle) => ({ failure: await workflowFailure(handle), state: await stateOf(handle) }),
        failingActivities(fake, 'checkCredit', calls),
      );

      expect(calls.count).toBe(1);
      expect(state).toMatchObject({ status: 'NEEDS_ATTENTION', failure: { step: 'checkCredit' } });
      expect(failure).toMatchObject({ type: FailureType.NeedsAttention, message: state.statusReason });
      expect(calls.stopReasons).toEqual([state.statusReason]);
    });

    it.each([
      ['a NUL', NUL_TEXT],
      ['an unpaired surrogate', LONE_SURROGATE],
    ])(
      'a cancel whose reason holds %s is refused with INVALID_INPUT, writes no history, and a clean cancel afterwards succeeds',
      async (_what, reason) => {
        const fake = new FakeOrders();
        fake.vendor('Ada Supplies');

        const { rejection, accepted, during, cancelled } = await withOrder(fake, async (handle) => {
          await fake.delivered(1);
          await noActivityRunning(handle);
          const rejection = await rejectionOf(cancel(handle, reason));
          const accepted = await acceptedUpdates(handle);
          const during = await stateOf(handle);
          const cancelled = await cancel(handle, 'the retailer changed its mind');
          await handle.result();
          return { rejection, accepted, during, cancelled };
        });

        expect(rejection).toBe(FlowRejection.InvalidInput);
        expect(accepted).toBe(0);
        expect(during).toMatchObject({ status: 'ROUTING', failure: null });
        expect(cancelled).toEqual({ status: 'cancelled' });
        expect(fake.status).toBe('CANCELLED');
        expect(fake.statusReason).toBe('the retailer changed its mind');
      },
    );

    it("a vendor's rejection whose reason holds a NUL or an unpaired surrogate is refused with INVALID_INPUT and the offer stays open", async () => {
      const fake = new FakeOrders();
      fake.vendor('Ada Supplies');
      fake.vendor('Ben Wholesale');

      const { rejections, accepted, open, answer } = await withOrder(fake, async (handle) => {
        const offer = await fake.delivered(1);
        const rejections = [
          await rejectionOf(respond(handle, offer.tokenHash, 'reject', NUL_TEXT)),
          await rejectionOf(respond(handle, offer.tokenHash, 'reject', LONE_SURROGATE)),
        ];
        const accepted = await acceptedUpdates(handle);
        const open = (await stateOf(handle)).currentOffer;
        const answer = await respond(handle, offer.tokenHash, 'reject', 'out of stock');
        await fake.delivered(2);
        await noActivityRunning(handle);
        await cancel(handle, 'test over');
        await handle.result();
        return { rejections, accepted, open, answer };
      });

      expect(rejections).toEqual([FlowRejection.InvalidInput, FlowRejection.InvalidInput]);
      expect(accepted).toBe(0);
      expect(open).toMatchObject({ attempt: 1 });
      expect(answer).toEqual({ status: 'rejected' });
      expect(fake.attempts[0]).toMatchObject({ outcome: 'REJECTED', reason: 'out of stock' });
    });

    it('a manual assignment naming a vendor ID with a NUL is refused with INVALID_INPUT and the order keeps waiting for an operator', async () => {
      const fake = new FakeOrders();
      const dee = fake.vendor('Dee Direct', { ranked: false });

      const { rejection, waiting, assigned } = await withOrder(fake, async (handle) => {
        await until(async () => (await stateOf(handle)).status === 'NEEDS_ATTENTION');
        const rejection = await rejectionOf(
          handle.executeUpdate(assignVendorManuallyUpdate, { args: [{ vendorId: `${dee.id}\u0000`, actor: 'op:1' }] }),
        );
        const waiting = await stateOf(handle);
        const assigned = await handle.executeUpdate(assignVendorManuallyUpdate, {
          args: [{ vendorId: dee.id, actor: 'op:1' }],
        });
        return { rejection, waiting, assigned };
      });

      expect(rejection).toBe(FlowRejection.InvalidInput);
      expect(waiting).toMatchObject({ status: 'NEEDS_ATTENTION', failure: null });
      expect(waiting.manualAssignmentDeadline).not.toBeNull();
      expect(assigned).toEqual({ vendorId: dee.id, vendorName: 'Dee Direct' });
    });
  });

  describe('waitlist cascade', () => {
    type CascadeHandle = WorkflowHandleWithFirstExecutionRunId<typeof waitlistCascadeWorkflow>;

    async function withCascade<T>(
      activities: ReturnType<FakeWaitlist['activities']>,
      body: (handle: CascadeHandle) => Promise<T>,
    ): Promise<T> {
      return temporal.runWorkflow(activities, 'cascade-failures', waitlistCascadeStart(TENANT_ID), body);
    }

    it('when confirming an accepted offer fails for good, the accept is refused with NEEDS_ATTENTION, the hold is released and the slot reopened', async () => {
      const fake = new FakeWaitlist();
      fake.join('Ada');
      let confirmCalls = 0;
      const activities = {
        ...fake.activities(),
        confirmHold: async () => {
          confirmCalls += 1;
          throw dataRejected();
        },
      };

      const { rejection, state, flowStatus, failure } = await withCascade(activities, async (handle) => {
        const offer = await fake.delivered(1);
        const rejection = await rejectionOf(
          handle.executeUpdate(acceptOfferUpdate, { args: [{ tokenHash: offer.tokenHash }] }),
        );
        return {
          rejection,
          failure: await workflowFailure(handle),
          state: await handle.query(getCascadeStateQuery),
          flowStatus: await flowStatusOf(handle),
        };
      });

      expect(rejection).toBe(FlowRejection.NeedsAttention);
      expect(confirmCalls).toBe(1);
      expect(state).toMatchObject({
        status: 'NEEDS_ATTENTION',
        currentHold: null,
        failure: { step: 'confirmHold', type: FailureType.DataRejected },
      });
      expect(state.offers.map((offer) => offer.outcome)).toEqual(['RELEASED']);
      expect(flowStatus).toBe('NEEDS_ATTENTION');
      expect(failure.type).toBe(FailureType.NeedsAttention);
      expect(fake.slotStatus).toBe('OPEN');
      expect(fake.entry('Ada').status).toBe('WAITING');
    });

    it('an extension whose actor holds a NUL is refused with INVALID_INPUT; one whose write fails for good is refused with DATA_REJECTED and the hold keeps its deadline', async () => {
      const fake = new FakeWaitlist();
      fake.join('Ada');
      const activities = { ...fake.activities(), moveHoldDeadline: () => Promise.reject(dataRejected()) };

      const { invalid, refused, before, after } = await withCascade(activities, async (handle) => {
        await fake.delivered(1);
        const before = (await handle.query(getCascadeStateQuery)).currentHold!.expiresAt;
        const extend = (actor: string) => handle.executeUpdate(extendHoldUpdate, { args: [{ minutes: 30, actor }] });
        const invalid = await rejectionOf(extend(`admin\u0000`));
        const refused = await rejectionOf(extend('admin:1'));
        const after = (await handle.query(getCascadeStateQuery)).currentHold!.expiresAt;
        return { invalid, refused, before, after };
      });

      expect(invalid).toBe(FlowRejection.InvalidInput);
      expect(refused).toBe(FlowRejection.DataRejected);
      expect(after).toBe(before);
    });
  });

  describe('tenant onboarding', () => {
    type OnboardingHandle = WorkflowHandleWithFirstExecutionRunId<typeof tenantOnboardingWorkflow>;

    async function withOnboarding<T>(
      fake: FakeOnboarding,
      tier: TenantOnboardingInput['tier'],
      body: (handle: OnboardingHandle) => Promise<T>,
    ): Promise<T> {
      const slug = `acme-${randomUUID().slice(0, 8)}`;
      const start = {
        workflow: tenantOnboardingWorkflow,
        workflowId: tenantOnboardingId(slug),
        args: [
          {
            tenantId: randomUUID(),
            slug,
            organizationName: 'Acme Clinics',
            adminEmail: 'ada@acme.test',
            adminName: 'Ada Admin',
            tier,
            requestedBy: 'platform-admin:1',
          },
        ] as Parameters<typeof tenantOnboardingWorkflow>,
      };
      return temporal.runWorkflow(fake.activities(), 'onboarding-failures', start, body);
    }

    it('an approval whose note, or a rejection whose reason, holds a NUL is refused with INVALID_INPUT and the onboarding keeps waiting for a decision', async () => {
      const fake = new FakeOnboarding();

      const { rejections, accepted, waiting, approved } = await withOnboarding(fake, 'enterprise', async (handle) => {
        await until(async () => (await handle.query(getOnboardingProgressQuery)).status === 'AWAITING_APPROVAL');
        const rejections = [
          await rejectionOf(
            handle.executeUpdate(approveOnboardingUpdate, { args: [{ actor: 'platform:1', note: NUL_TEXT }] }),
          ),
          await rejectionOf(
            handle.executeUpdate(rejectOnboardingUpdate, { args: [{ actor: 'platform:1', reason: LONE_SURROGATE }] }),
          ),
        ];
        const accepted = await acceptedUpdates(handle);
        const waiting = (await handle.query(getOnboardingProgressQuery)).status;
        const approved = await handle.executeUpdate(approveOnboardingUpdate, {
          args: [{ actor: 'platform:1', note: 'checked the contract' }],
        });
        await handle.result();
        return { rejections, accepted, waiting, approved };
      });

      expect(rejections).toEqual([FlowRejection.InvalidInput, FlowRejection.InvalidInput]);
      expect(accepted).toBe(0);
      expect(waiting).toBe('AWAITING_APPROVAL');
      expect(approved.decision).toBe('approved');
      expect(fake.inputOf('recordApprovalDecision')).toMatchObject({ reason: 'checked the contract' });
    });

    it('a step whose data the database refuses fails after one attempt and the saga unwinds to FAILED', async () => {
      const fake = new FakeOnboarding().failPermanently('createAdminUser', FailureType.DataRejected);

      const { failure, progress, flowStatus } = await withOnboarding(fake, 'professional', async (handle) => ({
        failure: await workflowFailure(handle),
        progress: await handle.query(getOnboardingProgressQuery),
        flowStatus: await flowStatusOf(handle),
      }));

      expect(failure.type).toBe(FailureType.OnboardingFailed);
      expect(fake.names().filter((name) => name === 'createAdminUser')).toHaveLength(1);
      expect(progress.status).toBe('FAILED');
      expect(progress.failure).toMatchObject({ step: 'createAdminUser', type: FailureType.DataRejected });
      expect(progress.steps.find((step) => step.name === 'createAdminUser')).toMatchObject({
        status: 'failed',
        attempts: 1,
      });
      expect(fake.names()).toContain('markTenantFailed');
      expect(flowStatus).toBe('FAILED');
    });
  });
});
