import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { CreditRefusal } from '../../domain/orders';
import { OrderRejection } from '../../workflows/order-routing.contract';
import { FailureType } from '../../workflows/errors';
import {
  assignVendorManuallyUpdate,
  cancelOrderUpdate,
  getOrderStateQuery,
  type orderRoutingWorkflow,
  orderStatusSignal,
  paymentReceivedSignal,
  vendorRespondUpdate,
  type OrderState,
} from '../../workflows/order-routing';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from '../../workflows/search-attributes';
import { until } from '../support/eventually';
import { FakeOrders } from '../support/orders-fake';
import { orderRoutingStart, useTimeSkippingWorkers } from '../support/time-skipping';
import { noActivityRunning, rejectionOf, resultOnceClosed } from '../support/workflow-handles';

type OrderHandle = WorkflowHandleWithFirstExecutionRunId<typeof orderRoutingWorkflow>;

const TENANT_ID = 'tenant-a';
const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

describe('order routing workflow (time skipping, activities mocked)', () => {
  const temporal = useTimeSkippingWorkers();

  /**
   * Runs `body` with a fresh worker serving `fake`'s activities and a started order workflow (with no
   * search attributes at start: the workflow sets its own); afterwards opens the fake's gates so that
   * a run still going can go idle and be terminated.
   */
  async function withOrder<T>(
    fake: FakeOrders,
    body: (handle: OrderHandle, orderId: string) => Promise<T>,
  ): Promise<T> {
    const orderId = randomUUID();
    const start = { ...orderRoutingStart(TENANT_ID, orderId), beforeTerminate: () => fake.openGates() };
    return temporal.runWorkflow(fake.activities(), 'orders', start, (handle) => body(handle, orderId));
  }

  const stateOf = (handle: OrderHandle): Promise<OrderState> => handle.query(getOrderStateQuery);

  const statusReaches = (handle: OrderHandle, status: OrderState['status']) =>
    until(async () => (await stateOf(handle)).status === status);

  const respond = (handle: OrderHandle, tokenHash: string, decision: 'accept' | 'reject', reason?: string) =>
    handle.executeUpdate(vendorRespondUpdate, { args: [{ tokenHash, decision, reason }] });

  /** The `nth` offer delivered is accepted, and the order becomes ASSIGNED. */
  async function acceptOffer(handle: OrderHandle, fake: FakeOrders, nth = 1): Promise<void> {
    expect(await respond(handle, (await fake.delivered(nth)).tokenHash, 'accept')).toEqual({ status: 'accepted' });
    await statusReaches(handle, 'ASSIGNED');
  }

  /** Delivered, the retailer told, the credit score recalculated and the reminders scheduled. */
  const deliveryRecorded = (handle: OrderHandle, fake: FakeOrders) =>
    until(
      async () => fake.creditScoreTriggers.includes('order_delivered') && (await stateOf(handle)).reminders.length > 0,
    );

  /** The first vendor accepts and the order is delivered; answers the state once delivery is fully recorded. */
  async function deliver(handle: OrderHandle, fake: FakeOrders): Promise<OrderState> {
    await acceptOffer(handle, fake);
    await handle.signal(orderStatusSignal, { status: 'DELIVERED', actor: 'vendor:delivery' });
    await deliveryRecorded(handle, fake);
    return stateOf(handle);
  }

  const pay = (handle: OrderHandle, paymentId: string, amount: number) =>
    handle.signal(paymentReceivedSignal, { paymentId, amount });

  /** Skips server time forward to `targetMs` (no-op if it is already past). */
  async function sleepUntil(targetMs: number): Promise<void> {
    const now = await temporal.env.currentTimeMs();
    if (targetMs > now) await temporal.env.sleep(targetMs - now);
  }

  const searchAttributesOf = async (handle: OrderHandle) => {
    const { typedSearchAttributes } = await handle.describe();
    return {
      tenantId: typedSearchAttributes.get(TenantIdKey),
      businessKey: typedSearchAttributes.get(BusinessKeyKey),
      flowStatus: typedSearchAttributes.get(FlowStatusKey),
    };
  };

  describe('routing to a vendor', () => {
    it('when the first vendor accepts, the order is assigned to it, the retailer is told and the credit score is recalculated', async () => {
      const fake = new FakeOrders();
      const ada = fake.vendor('Ada Supplies');
      fake.vendor('Ben Wholesale');

      const { state, attributes, orderId } = await withOrder(fake, async (handle, orderId) => {
        const offer = await fake.delivered(1);
        expect(offer.vendorId).toBe(ada.id);
        const offered = await stateOf(handle);
        expect(offered.status).toBe('ROUTING');
        expect(offered.currentOffer).toMatchObject({ attempt: 1, vendorId: ada.id, vendorName: 'Ada Supplies' });

        expect(await respond(handle, offer.tokenHash, 'accept')).toEqual({ status: 'accepted' });
        await statusReaches(handle, 'ASSIGNED');
        await fake.rescored(1);
        return { state: await stateOf(handle), attributes: await searchAttributesOf(handle), orderId };
      });

      expect(state).toMatchObject({
        status: 'ASSIGNED',
        vendor: { vendorId: ada.id, vendorName: 'Ada Supplies' },
        currentOffer: null,
        total: fake.total,
      });
      expect(state.attempts).toEqual([expect.objectContaining({ attempt: 1, vendorId: ada.id, outcome: 'ACCEPTED' })]);
      expect(attributes).toEqual({ tenantId: TENANT_ID, businessKey: orderId, flowStatus: 'ASSIGNED' });
      expect(fake.status).toBe('ASSIGNED');
      expect(fake.vendorId).toBe(ada.id);
      expect(fake.attempts.map((attempt) => attempt.outcome)).toEqual(['ACCEPTED']);
      expect(fake.deliveries).toHaveLength(1);
      expect(fake.sentLabels()).toEqual(['confirmed']);
      expect(fake.creditScoreTriggers).toEqual(['order_assigned']);
    });

    it('when the first vendor rejects, the order is offered to the next vendor, who can accept it', async () => {
      const fake = new FakeOrders();
      const ada = fake.vendor('Ada Supplies');
      const ben = fake.vendor('Ben Wholesale');

      const state = await withOrder(fake, async (handle) => {
        const first = await fake.delivered(1);
        expect(await respond(handle, first.tokenHash, 'reject', 'out of stock')).toEqual({ status: 'rejected' });
        const second = await fake.delivered(2);
        expect(second.vendorId).toBe(ben.id);
        await acceptOffer(handle, fake, 2);
        return stateOf(handle);
      });

      expect(
        state.attempts.map(({ attempt, vendorId, outcome, reason }) => ({ attempt, vendorId, outcome, reason })),
      ).toEqual([
        { attempt: 1, vendorId: ada.id, outcome: 'REJECTED', reason: 'out of stock' },
        { attempt: 2, vendorId: ben.id, outcome: 'ACCEPTED', reason: null },
      ]);
      expect(state.vendor?.vendorId).toBe(ben.id);
      expect(fake.attempts.map((attempt) => [attempt.vendorId, attempt.outcome])).toEqual([
        [ada.id, 'REJECTED'],
        [ben.id, 'ACCEPTED'],
      ]);
      expect(fake.attempts[0]!.actor).toBe(`vendor:${ada.id}`);
      expect(fake.vendorId).toBe(ben.id);
    });

    it('when the vendor does not answer within the tenant’s 10-minute window, the offer times out and the next vendor is offered', async () => {
      const fake = new FakeOrders();
      const ada = fake.vendor('Ada Supplies');
      const ben = fake.vendor('Ben Wholesale');

      const state = await withOrder(fake, async (handle) => {
        const first = await fake.delivered(1);
        const offered = (await stateOf(handle)).currentOffer!;
        expect(Date.parse(offered.deadline) - Date.parse(offered.offeredAt)).toBe(10 * 60_000);

        await temporal.env.sleep('9 minutes');
        expect((await stateOf(handle)).currentOffer?.attemptId).toBe(first.attemptId);
        expect(fake.deliveries).toHaveLength(1);

        await temporal.env.sleep('2 minutes');
        expect((await fake.delivered(2)).vendorId).toBe(ben.id);
        await acceptOffer(handle, fake, 2);
        return stateOf(handle);
      });

      expect(state.attempts[0]).toMatchObject({
        vendorId: ada.id,
        outcome: 'TIMED_OUT',
        reason: 'no answer within 10 minutes',
      });
      expect(fake.attempts[0]).toMatchObject({ outcome: 'TIMED_OUT', actor: 'system:order-routing' });
      expect(state.vendor?.vendorId).toBe(ben.id);
    });

    it('a tenant’s longer response window is the offer’s deadline', async () => {
      const fake = new FakeOrders();
      fake.vendorResponseMs = 45 * 60_000;
      fake.vendor('Ada Supplies');

      await withOrder(fake, async (handle) => {
        await fake.delivered(1);
        const offered = (await stateOf(handle)).currentOffer!;
        expect(Date.parse(offered.deadline) - Date.parse(offered.offeredAt)).toBe(45 * 60_000);
        await temporal.env.sleep('30 minutes');
        await acceptOffer(handle, fake);
      });

      expect(fake.attempts.map((attempt) => attempt.outcome)).toEqual(['ACCEPTED']);
    });

    it('when an offer cannot reach the vendor (invalid number), the next vendor is offered at once', async () => {
      const fake = new FakeOrders();
      const ada = fake.vendor('Ada Supplies');
      const ben = fake.vendor('Ben Wholesale');
      fake.offerBehaviour.set(ada.id, () => {
        throw ApplicationFailure.nonRetryable('not a WhatsApp number', FailureType.InvalidRecipient);
      });

      const state = await withOrder(fake, async (handle) => {
        expect((await fake.delivered(1)).vendorId).toBe(ben.id);
        await acceptOffer(handle, fake, 1);
        return stateOf(handle);
      });

      expect(fake.offerSendAttempts.filter((attempt) => attempt.vendorId === ada.id)).toHaveLength(1);
      expect(state.attempts.map((attempt) => attempt.outcome)).toEqual(['UNREACHABLE', 'ACCEPTED']);
      expect(fake.attempts[0]!.outcome).toBe('UNREACHABLE');
    });

    it('a 429 with Retry-After: 30 s is retried no sooner than 30 s later, and the vendor gets exactly one offer', async () => {
      const fake = new FakeOrders();
      fake.serverClock = () => temporal.env.currentTimeMs();
      const ada = fake.vendor('Ada Supplies');
      fake.offerBehaviour.set(ada.id, (attempt) => {
        if (attempt === 1) {
          throw ApplicationFailure.create({
            type: FailureType.ProviderThrottled,
            message: 'HTTP 429 Too Many Requests (Retry-After: 30)',
            nextRetryDelay: '30 seconds',
          });
        }
      });

      await withOrder(fake, async (handle) => {
        await until(() => fake.offerSendAttempts.length === 1);
        // The default backoff would retry after 1 s; the skipped minute shows which delay applied.
        await temporal.env.sleep('1 minute');
        expect((await fake.delivered(1)).vendorId).toBe(ada.id);
        await acceptOffer(handle, fake);
      });

      const [first, second] = fake.offerSendAttempts;
      expect(fake.offerSendAttempts.map((attempt) => attempt.attempt)).toEqual([1, 2]);
      expect(second!.ranAtServerMs - first!.ranAtServerMs).toBeGreaterThanOrEqual(30_000);
      expect(fake.offers()).toHaveLength(1);
      expect(fake.deliveries).toEqual([expect.objectContaining({ vendorId: ada.id })]);
      expect(fake.vendorId).toBe(ada.id);
    });

    it('when the credit check refuses the order, it is rejected, the retailer is told and no vendor is offered it', async () => {
      const fake = new FakeOrders();
      fake.vendor('Ada Supplies');
      const reason = 'The order total 12500 exceeds the available credit 5000 (limit 20000, outstanding 15000)';
      fake.refuseCredit(CreditRefusal.OverLimit, reason);

      const { result, state, attributes } = await withOrder(fake, async (handle) => ({
        result: await handle.result(),
        state: await stateOf(handle),
        attributes: await searchAttributesOf(handle),
      }));

      expect(result).toMatchObject({ outcome: 'rejected', status: 'REJECTED', vendorId: null, attempts: 0 });
      expect(state).toMatchObject({ status: 'REJECTED', statusReason: reason });
      expect(attributes.flowStatus).toBe('REJECTED');
      expect(fake.status).toBe('REJECTED');
      expect(fake.sentLabels()).toEqual(['rejected']);
      expect(fake.attempts).toEqual([]);
      expect(fake.offerSendAttempts).toEqual([]);
    });
  });

  describe('vendor answers', () => {
    it('an answer whose token matches no open offer is rejected as OFFER_SUPERSEDED, including the previous vendor’s', async () => {
      const fake = new FakeOrders();
      fake.vendor('Ada Supplies');
      fake.vendor('Ben Wholesale');

      await withOrder(fake, async (handle) => {
        const first = await fake.delivered(1);
        expect(await rejectionOf(respond(handle, 'hash-of-something-else', 'accept'))).toBe(
          OrderRejection.OfferSuperseded,
        );
        await respond(handle, first.tokenHash, 'reject');
        await fake.delivered(2);
        expect(await rejectionOf(respond(handle, first.tokenHash, 'accept'))).toBe(OrderRejection.OfferSuperseded);
        await acceptOffer(handle, fake, 2);
      });

      expect(fake.attempts.map((attempt) => attempt.outcome)).toEqual(['REJECTED', 'ACCEPTED']);
    });

    it('a second answer to the same offer is rejected as ALREADY_RESPONDED, and the first answer stands', async () => {
      const fake = new FakeOrders();
      fake.vendor('Ada Supplies');
      fake.vendor('Ben Wholesale');
      const openGate = fake.gate('settle:REJECTED');

      await withOrder(fake, async (handle) => {
        const offer = await fake.delivered(1);
        const rejected = respond(handle, offer.tokenHash, 'reject', 'no driver today');
        await until(() => fake.stepsStarted.includes('settle:REJECTED'));

        expect(await rejectionOf(respond(handle, offer.tokenHash, 'accept'))).toBe(OrderRejection.AlreadyResponded);

        openGate();
        expect(await rejected).toEqual({ status: 'rejected' });
        await fake.delivered(2);
      });

      expect(fake.attempts[0]).toMatchObject({ outcome: 'REJECTED', reason: 'no driver today' });
      expect(fake.vendorId).toBeNull();
    });

    it('an answer after the response window is rejected as OFFER_EXPIRED, and the next vendor is offered', async () => {
      const fake = new FakeOrders();
      fake.vendor('Ada Supplies');
      const ben = fake.vendor('Ben Wholesale');
      const openGate = fake.gate('settle:TIMED_OUT');

      await withOrder(fake, async (handle) => {
        const first = await fake.delivered(1);
        await temporal.env.sleep('10 minutes');
        // The deadline has passed and the time-out is being recorded: the accept is too late.
        await until(() => fake.stepsStarted.includes('settle:TIMED_OUT'));
        expect(await rejectionOf(respond(handle, first.tokenHash, 'accept'))).toBe(OrderRejection.OfferExpired);
        openGate();

        expect((await fake.delivered(2)).vendorId).toBe(ben.id);
        await acceptOffer(handle, fake, 2);
      });

      expect(fake.attempts.map((attempt) => attempt.outcome)).toEqual(['TIMED_OUT', 'ACCEPTED']);
    });
  });

  describe('no vendor left', () => {
    it('when every vendor has been tried, the order needs attention, operators are told, and an operator can assign a vendor by hand', async () => {
      const fake = new FakeOrders();
      const ada = fake.vendor('Ada Supplies');
      const ben = fake.vendor('Ben Wholesale');
      fake.vendor('Cy Closed', { active: false });
      const dee = fake.vendor('Dee Depot', { ranked: false });

      const { waiting, assigned, state, attributes } = await withOrder(fake, async (handle) => {
        await respond(handle, (await fake.delivered(1)).tokenHash, 'reject');
        await respond(handle, (await fake.delivered(2)).tokenHash, 'reject');
        await statusReaches(handle, 'NEEDS_ATTENTION');
        await fake.notified(1);
        const waitingState = await stateOf(handle);
        const waitingAttributes = await searchAttributesOf(handle);

        const vendor = await handle.executeUpdate(assignVendorManuallyUpdate, {
          args: [{ vendorId: dee.id, actor: 'operator:1' }],
        });
        await statusReaches(handle, 'ASSIGNED');
        await fake.rescored(1);
        return {
          waiting: { state: waitingState, attributes: waitingAttributes },
          assigned: vendor,
          state: await stateOf(handle),
          attributes: await searchAttributesOf(handle),
        };
      });

      expect(waiting.state.attempts.map((attempt) => [attempt.vendorId, attempt.outcome])).toEqual([
        [ada.id, 'REJECTED'],
        [ben.id, 'REJECTED'],
      ]);
      const window =
        Date.parse(waiting.state.manualAssignmentDeadline!) - Date.parse(waiting.state.attempts[1]!.settledAt);
      expect(Math.round(window / HOUR)).toBe(24);
      expect(waiting.attributes.flowStatus).toBe('NEEDS_ATTENTION');
      expect(assigned).toEqual({ vendorId: dee.id, vendorName: 'Dee Depot' });
      expect(state).toMatchObject({ status: 'ASSIGNED', vendor: assigned, manualAssignmentDeadline: null });
      expect(state.attempts[2]).toMatchObject({
        attempt: 3,
        vendorId: dee.id,
        outcome: 'MANUAL',
        reason: 'assigned by operator:1',
      });
      expect(attributes.flowStatus).toBe('ASSIGNED');
      expect(fake.deliveries.map((delivery) => delivery.vendorId)).toEqual([ada.id, ben.id]);
      expect(fake.attempts[2]).toMatchObject({ attempt: 3, vendorId: dee.id, outcome: 'MANUAL', actor: 'operator:1' });
      expect(fake.status).toBe('ASSIGNED');
      expect(fake.vendorId).toBe(dee.id);
      expect(fake.sentLabels()).toEqual(['needs-attention', 'confirmed']);
      expect(fake.creditScoreTriggers).toEqual(['order_assigned']);
    });

    it('assignVendorManually is rejected with NOT_AWAITING_ASSIGNMENT while vendors are still being offered the order, and once assigned', async () => {
      const fake = new FakeOrders();
      const ada = fake.vendor('Ada Supplies');
      const dee = fake.vendor('Dee Depot', { ranked: false });
      const assign = (handle: OrderHandle) =>
        handle.executeUpdate(assignVendorManuallyUpdate, { args: [{ vendorId: dee.id, actor: 'operator:1' }] });

      await withOrder(fake, async (handle) => {
        await fake.delivered(1);
        expect(await rejectionOf(assign(handle))).toBe(OrderRejection.NotAwaitingAssignment);
        await acceptOffer(handle, fake);
        expect(await rejectionOf(assign(handle))).toBe(OrderRejection.NotAwaitingAssignment);
      });

      expect(fake.vendorId).toBe(ada.id);
      expect(fake.attempts).toHaveLength(1);
    });

    it('a manual assignment to an unknown or inactive vendor fails with the activity’s failure type, and the order keeps waiting', async () => {
      const fake = new FakeOrders();
      const cy = fake.vendor('Cy Closed', { active: false });
      const dee = fake.vendor('Dee Depot', { ranked: false });
      const assign = (handle: OrderHandle, vendorId: string) =>
        handle.executeUpdate(assignVendorManuallyUpdate, { args: [{ vendorId, actor: 'operator:1' }] });

      const state = await withOrder(fake, async (handle) => {
        // No vendor is eligible at all: the order needs attention at once.
        await statusReaches(handle, 'NEEDS_ATTENTION');
        expect(await rejectionOf(assign(handle, 'vendor-of-another-tenant'))).toBe(FailureType.NotFound);
        expect(await rejectionOf(assign(handle, cy.id))).toBe(FailureType.VendorUnavailable);

        const stillWaiting = await stateOf(handle);
        expect(stillWaiting).toMatchObject({ status: 'NEEDS_ATTENTION', vendor: null, attempts: [] });
        expect(stillWaiting.manualAssignmentDeadline).not.toBeNull();

        expect(await assign(handle, dee.id)).toEqual({ vendorId: dee.id, vendorName: 'Dee Depot' });
        await statusReaches(handle, 'ASSIGNED');
        return stateOf(handle);
      });

      expect(state.attempts).toEqual([expect.objectContaining({ attempt: 1, vendorId: dee.id, outcome: 'MANUAL' })]);
      expect(fake.deliveries).toEqual([]);
      expect(fake.vendorId).toBe(dee.id);
    });

    it('when nobody assigns a vendor within 24 hours, the order is cancelled and the retailer is told', async () => {
      const fake = new FakeOrders();
      fake.vendor('Ada Supplies');

      const { result, attributes } = await withOrder(fake, async (handle) => {
        await respond(handle, (await fake.delivered(1)).tokenHash, 'reject');
        await statusReaches(handle, 'NEEDS_ATTENTION');
        await temporal.env.sleep('23 hours');
        expect((await stateOf(handle)).status).toBe('NEEDS_ATTENTION');
        expect(fake.status).toBe('NEEDS_ATTENTION');
        return { result: await handle.result(), attributes: await searchAttributesOf(handle) };
      });

      expect(result).toMatchObject({ outcome: 'cancelled', status: 'CANCELLED', vendorId: null, attempts: 1 });
      expect(attributes.flowStatus).toBe('CANCELLED');
      expect(fake.status).toBe('CANCELLED');
      expect(fake.statusReason).toBe('no vendor was assigned within 24 hours');
      expect(fake.sentLabels()).toEqual(['needs-attention', 'cancelled:retailer']);
    });

    it('an assignment that arrives once the 24-hour window has closed is refused, and the order is cancelled without a vendor', async () => {
      const fake = new FakeOrders();
      fake.vendor('Ada Supplies');
      const dee = fake.vendor('Dee Depot', { ranked: false });
      const openGate = fake.gate('cancel');

      const result = await withOrder(fake, async (handle) => {
        await respond(handle, (await fake.delivered(1)).tokenHash, 'reject');
        await statusReaches(handle, 'NEEDS_ATTENTION');
        await fake.notified(1);
        const { manualAssignmentDeadline } = await stateOf(handle);
        await sleepUntil(Date.parse(manualAssignmentDeadline!) + 1000);
        // The window has closed and the cancellation is being recorded.
        await until(() => fake.stepsStarted.includes('cancel'));

        const late = handle.executeUpdate(assignVendorManuallyUpdate, {
          args: [{ vendorId: dee.id, actor: 'operator:1' }],
        });
        expect(await rejectionOf(late)).toBe(OrderRejection.NotAwaitingAssignment);
        openGate();
        return handle.result();
      });

      expect(result).toMatchObject({ outcome: 'cancelled', status: 'CANCELLED', vendorId: null });
      expect(fake.vendorId).toBeNull();
      expect(fake.status).toBe('CANCELLED');
      expect(fake.sentLabels()).toEqual(['needs-attention', 'cancelled:retailer']);
    });
  });

  describe('cancellation', () => {
    it('cancelOrder while a vendor considers the offer withdraws it, cancels the order, tells the retailer and that vendor, and ends as cancelled', async () => {
      const fake = new FakeOrders();
      const ada = fake.vendor('Ada Supplies');
      fake.vendor('Ben Wholesale');

      const { answer, result, state, attributes } = await withOrder(fake, async (handle) => {
        await fake.delivered(1);
        await noActivityRunning(handle);
        const cancelled = await handle.executeUpdate(cancelOrderUpdate, {
          args: [{ reason: 'the retailer changed their mind', actor: 'retailer:1' }],
        });
        return {
          answer: cancelled,
          result: await handle.result(),
          state: await stateOf(handle),
          attributes: await searchAttributesOf(handle),
        };
      });

      expect(answer).toEqual({ status: 'cancelled' });
      expect(result).toMatchObject({ outcome: 'cancelled', status: 'CANCELLED', vendorId: null, attempts: 1 });
      expect(state).toMatchObject({
        status: 'CANCELLED',
        statusReason: 'the retailer changed their mind',
        currentOffer: null,
      });
      expect(state.attempts).toEqual([
        expect.objectContaining({ vendorId: ada.id, outcome: 'CANCELLED', reason: 'the retailer changed their mind' }),
      ]);
      expect(attributes.flowStatus).toBe('CANCELLED');
      expect(fake.attempts.map((attempt) => attempt.outcome)).toEqual(['CANCELLED']);
      expect(fake).toMatchObject({ status: 'CANCELLED', statusReason: 'the retailer changed their mind' });
      expect(fake.sentLabels()).toEqual(['cancelled:retailer', `cancelled:vendor:${ada.id}`]);
      expect(fake.deliveries).toHaveLength(1);
    });

    it('cancelOrder after a vendor accepted releases that vendor and tells it', async () => {
      const fake = new FakeOrders();
      const ada = fake.vendor('Ada Supplies');

      const result = await withOrder(fake, async (handle) => {
        await acceptOffer(handle, fake);
        await fake.rescored(1);
        // Cancelling as the score activity completes trips the time-skipping server (ACTIVITY_UNKNOWN).
        await noActivityRunning(handle);
        await handle.executeUpdate(cancelOrderUpdate, { args: [{ reason: 'duplicate order', actor: 'retailer:1' }] });
        return handle.result();
      });

      expect(result).toMatchObject({ outcome: 'cancelled', status: 'CANCELLED', vendorId: ada.id });
      expect(fake.status).toBe('CANCELLED');
      expect(fake.sentLabels()).toEqual(['confirmed', 'cancelled:retailer', `cancelled:vendor:${ada.id}`]);
    });

    it('cancelOrder is rejected with NOT_CANCELLABLE once the order is dispatched', async () => {
      const fake = new FakeOrders();
      fake.vendor('Ada Supplies');

      await withOrder(fake, async (handle) => {
        await acceptOffer(handle, fake);
        await handle.signal(orderStatusSignal, { status: 'DISPATCHED', actor: 'vendor:driver' });
        await statusReaches(handle, 'DISPATCHED');
        const cancel = handle.executeUpdate(cancelOrderUpdate, { args: [{ reason: 'too late', actor: 'retailer:1' }] });
        expect(await rejectionOf(cancel)).toBe(OrderRejection.NotCancellable);
        expect((await stateOf(handle)).status).toBe('DISPATCHED');
      });

      expect(fake.status).toBe('DISPATCHED');
      expect(fake.sentLabels()).not.toContain('cancelled:retailer');
    });

    it('cancelling the workflow before dispatch runs the same clean-up, and the run ends cancelled', async () => {
      const fake = new FakeOrders();
      const ada = fake.vendor('Ada Supplies');

      const { error, status, attributes } = await withOrder(fake, async (handle) => {
        await fake.delivered(1);
        await noActivityRunning(handle);
        await handle.cancel();
        const failure = await resultOnceClosed(handle).catch((e: unknown) => e);
        return {
          error: failure,
          status: (await handle.describe()).status.name,
          attributes: await searchAttributesOf(handle),
        };
      });

      expect(error).toBeInstanceOf(WorkflowFailedError);
      expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      expect(status).toBe('CANCELLED');
      expect(attributes.flowStatus).toBe('CANCELLED');
      expect(fake.attempts.map((attempt) => attempt.outcome)).toEqual(['CANCELLED']);
      expect(fake).toMatchObject({ status: 'CANCELLED', statusReason: 'the order workflow was cancelled' });
      expect(fake.sentLabels()).toEqual(['cancelled:retailer', `cancelled:vendor:${ada.id}`]);
    });
  });

  describe('fulfilment', () => {
    it('orderStatus signals record DISPATCHED then DELIVERED with a due date 14 days on; a status the order cannot take is ignored', async () => {
      const fake = new FakeOrders();
      fake.vendor('Ada Supplies');

      const state = await withOrder(fake, async (handle) => {
        await fake.delivered(1);
        // Not assigned yet: nothing to deliver.
        await handle.signal(orderStatusSignal, { status: 'DELIVERED', actor: 'vendor:early' });
        await acceptOffer(handle, fake);

        await handle.signal(orderStatusSignal, { status: 'DISPATCHED', actor: 'vendor:driver' });
        await until(async () => ['DISPATCHED', 'DELIVERED'].includes((await stateOf(handle)).status));
        // Had the early DELIVERED counted, the order would have skipped DISPATCHED.
        expect(fake.fulfilments.map((entry) => entry.status)).toEqual(['DISPATCHED']);
        await handle.signal(orderStatusSignal, { status: 'DISPATCHED', actor: 'vendor:driver' });

        await handle.signal(orderStatusSignal, { status: 'DELIVERED', actor: 'vendor:driver' });
        await statusReaches(handle, 'DELIVERED');
        await handle.signal(orderStatusSignal, { status: 'DISPATCHED', actor: 'vendor:late' });
        await deliveryRecorded(handle, fake);
        return stateOf(handle);
      });

      expect(fake.fulfilments.map(({ status, actor }) => [status, actor])).toEqual([
        ['DISPATCHED', 'vendor:driver'],
        ['DELIVERED', 'vendor:driver'],
      ]);
      expect(state.status).toBe('DELIVERED');
      expect(state.deliveredAt).toBe(fake.deliveredAt);
      expect(Date.parse(state.dueDate!) - Date.parse(state.deliveredAt!)).toBe(14 * DAY);
      expect(fake.sentLabels()).toEqual(['confirmed', 'delivery-update:DISPATCHED', 'delivery-update:DELIVERED']);
      expect(fake.creditScoreTriggers).toEqual(['order_assigned', 'order_delivered']);
    });
  });

  describe('payment reminders', () => {
    it('after delivery the retailer is reminded DUE_SOON on day 12, OVERDUE on days 14, 17, 20, 23 and 26 and FINAL_NOTICE on day 28, flagged once, and paying then ends the workflow as paid', async () => {
      const fake = new FakeOrders();
      fake.vendor('Ada Supplies');
      const expected: Array<[string, number]> = [
        ['DUE_SOON', 12],
        ['OVERDUE', 14],
        ['OVERDUE', 17],
        ['OVERDUE', 20],
        ['OVERDUE', 23],
        ['OVERDUE', 26],
        ['FINAL_NOTICE', 28],
      ];

      const { deliveredAt, thirtyDays, result, final } = await withOrder(fake, async (handle) => {
        const delivered = Date.parse((await deliver(handle, fake)).deliveredAt!);
        for (const [index, [, day]] of expected.entries()) {
          await sleepUntil(delivered + day * DAY - HOUR);
          expect(fake.reminders()).toHaveLength(index);
          await sleepUntil(delivered + day * DAY + HOUR);
          await until(() => fake.reminders().length === index + 1);
        }
        await until(async () => (await stateOf(handle)).retailerFlagged);
        await sleepUntil(delivered + 30 * DAY);
        const afterThirtyDays = await stateOf(handle);

        await pay(handle, 'payment-1', fake.total);
        return {
          deliveredAt: delivered,
          thirtyDays: afterThirtyDays,
          result: await handle.result(),
          final: await stateOf(handle),
        };
      });

      const dayOf = (iso: string) => (Date.parse(iso) - deliveredAt) / DAY;
      expect(fake.reminders().map(({ kind, sequence }) => [kind, sequence])).toEqual(
        expected.map(([kind], index) => [kind, index + 1]),
      );
      expect(fake.reminders().every((reminder) => reminder.amountDue === fake.total)).toBe(true);
      expect(thirtyDays.reminders.map(({ kind, at, status }) => [kind, dayOf(at), status])).toEqual(
        expected.map(([kind, day]) => [kind, day, 'sent']),
      );
      for (const reminder of thirtyDays.reminders) {
        expect(Date.parse(reminder.sentAt!)).toBeGreaterThanOrEqual(Date.parse(reminder.at));
        expect(Date.parse(reminder.sentAt!) - Date.parse(reminder.at)).toBeLessThan(DAY);
      }
      expect(thirtyDays).toMatchObject({ status: 'DELIVERED', retailerFlagged: true });
      expect(fake.retailerFlags).toHaveLength(1);
      expect(fake.finalNoticeAt).toBe(thirtyDays.reminders[6]!.sentAt);
      expect(result).toMatchObject({ outcome: 'paid', status: 'PAID', remindersSent: 7 });
      expect(final).toMatchObject({ status: 'PAID', paid: fake.total });
      expect(fake.status).toBe('PAID');
      expect(fake.creditScoreTriggers).toEqual([
        'order_assigned',
        'order_delivered',
        'final_notice',
        'payment_received',
        'order_paid',
      ]);
    });

    it('a payment in full mid-way stops the reminders at once: the rest are cancelled, the order is paid and the credit score recalculated', async () => {
      const fake = new FakeOrders();
      fake.vendor('Ada Supplies');

      const { result, state } = await withOrder(fake, async (handle) => {
        const delivered = Date.parse((await deliver(handle, fake)).deliveredAt!);
        await sleepUntil(delivered + 15 * DAY);
        await until(() => fake.reminders().length === 2);

        await pay(handle, 'payment-1', fake.total);
        // Paid in full, the order closes without waiting for any later reminder's time.
        return { result: await resultOnceClosed(handle), state: await stateOf(handle) };
      });

      expect(fake.reminders().map((reminder) => reminder.kind)).toEqual(['DUE_SOON', 'OVERDUE']);
      expect(state.reminders.map((reminder) => reminder.status)).toEqual([
        'sent',
        'sent',
        'cancelled',
        'cancelled',
        'cancelled',
        'cancelled',
        'cancelled',
      ]);
      expect(result).toMatchObject({ outcome: 'paid', status: 'PAID', remindersSent: 2 });
      expect(state).toMatchObject({ status: 'PAID', paid: fake.total, retailerFlagged: false });
      expect(fake.status).toBe('PAID');
      expect(fake.retailerFlags).toEqual([]);
      expect(fake.creditScoreTriggers).toEqual(['order_assigned', 'order_delivered', 'payment_received', 'order_paid']);
    });

    it('a part payment does not stop the reminders: they go on for what is still due until the rest is paid', async () => {
      const fake = new FakeOrders();
      fake.vendor('Ada Supplies');
      const part = 5_000;

      const { result, state } = await withOrder(fake, async (handle) => {
        const delivered = Date.parse((await deliver(handle, fake)).deliveredAt!);
        await sleepUntil(delivered + 13 * DAY);
        await until(() => fake.reminders().length === 1);

        await pay(handle, 'payment-1', part);
        await until(() => fake.creditScoreTriggers.includes('payment_received'));
        // The same payment signalled twice counts once.
        await pay(handle, 'payment-1', part);
        await sleepUntil(delivered + 18 * DAY);
        await until(() => fake.reminders().length === 3);
        expect((await stateOf(handle)).status).toBe('DELIVERED');

        await pay(handle, 'payment-2', fake.total - part);
        return { result: await resultOnceClosed(handle), state: await stateOf(handle) };
      });

      expect(fake.reminders().map(({ kind, amountDue }) => [kind, amountDue])).toEqual([
        ['DUE_SOON', fake.total],
        ['OVERDUE', fake.total - part],
        ['OVERDUE', fake.total - part],
      ]);
      expect(result).toMatchObject({ outcome: 'paid', remindersSent: 3 });
      expect(state.payments.map(({ paymentId, amount }) => [paymentId, amount])).toEqual([
        ['payment-1', part],
        ['payment-2', fake.total - part],
      ]);
      expect(state.paid).toBe(fake.total);
      expect(fake.status).toBe('PAID');
      expect(fake.creditScoreTriggers.filter((trigger) => trigger === 'payment_received')).toHaveLength(2);
    });

    it('after the final notice a part payment is scored but leaves the order unpaid until the rest arrives', async () => {
      const fake = new FakeOrders();
      fake.vendor('Ada Supplies');
      const part = 5_000;

      const { afterPart, result } = await withOrder(fake, async (handle) => {
        const delivered = Date.parse((await deliver(handle, fake)).deliveredAt!);
        await sleepUntil(delivered + 29 * DAY);
        await until(() => fake.creditScoreTriggers.includes('final_notice'));

        await pay(handle, 'payment-1', part);
        await until(() => fake.creditScoreTriggers.includes('payment_received') || fake.status === 'PAID');
        const partState = await stateOf(handle);
        const partStatus = (await handle.describe()).status.name;

        await pay(handle, 'payment-2', fake.total - part);
        return { afterPart: { state: partState, workflow: partStatus }, result: await handle.result() };
      });

      expect(afterPart.state).toMatchObject({ status: 'DELIVERED', paid: part });
      expect(afterPart.workflow).toBe('RUNNING');
      expect(result).toMatchObject({ outcome: 'paid', status: 'PAID', remindersSent: 7 });
      expect(fake.status).toBe('PAID');
      expect(fake.creditScoreTriggers.slice(-3)).toEqual(['payment_received', 'payment_received', 'order_paid']);
    });
  });
});
