import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { REQUEST_ANSWER_BOUND } from '../../workflows/attention';
import { OrderRejection } from '../../workflows/order-routing.contract';
import {
  assignVendorManuallyUpdate,
  cancelOrderUpdate,
  getOrderStateQuery,
  type orderRoutingWorkflow,
  vendorRespondUpdate,
  type OrderState,
} from '../../workflows/order-routing';
import {
  acceptOfferUpdate,
  extendHoldUpdate,
  getCascadeStateQuery,
  type waitlistCascadeWorkflow,
} from '../../workflows/waitlist-cascade';
import { until } from '../support/eventually';
import { FakeOrders } from '../support/orders-fake';
import { duringOutage, NEXT_RETRY } from '../support/outage';
import { orderRoutingStart, useTimeSkippingWorkers, waitlistCascadeStart } from '../support/time-skipping';
import { FakeWaitlist } from '../support/waitlist-fake';
import { noActivityRunning, rejectionOf } from '../support/workflow-handles';

const TENANT_ID = 'tenant-a';
/**
 * Every Update that waits on a database write answers within REQUEST_ANSWER_BOUND, even while the
 * write is retried through an outage: `pending` means the request was taken, and the flow carries
 * it out once the database is back. Time skipping, activities mocked; the outage is a retryable
 * error on every attempt.
 */
describe('Updates answer within a bound during a database outage (time skipping, activities mocked)', () => {
  const temporal = useTimeSkippingWorkers();

  describe('order routing', () => {
    type OrderHandle = WorkflowHandleWithFirstExecutionRunId<typeof orderRoutingWorkflow>;

    async function withOrder<T>(
      activities: ReturnType<FakeOrders['activities']>,
      body: (handle: OrderHandle) => Promise<T>,
    ): Promise<T> {
      return temporal.runWorkflow(activities, 'orders-bounds', orderRoutingStart(TENANT_ID), body);
    }

    const stateOf = (handle: OrderHandle): Promise<OrderState> => handle.query(getOrderStateQuery);

    it('a cancel during an outage answers pending after the bound, and the order is cancelled once the database is back', async () => {
      const fake = new FakeOrders();
      fake.vendor('Ada Supplies');
      const outage = duringOutage(fake.activities(), ['cancelOrderRecord']);

      const { answer, during, result, after } = await withOrder(outage.activities, async (handle) => {
        await fake.delivered(1);
        await noActivityRunning(handle);
        const cancel = handle.executeUpdate(cancelOrderUpdate, {
          args: [{ reason: 'duplicate', actor: 'operator:1' }],
        });
        await outage.called(1);
        await temporal.env.sleep(REQUEST_ANSWER_BOUND);
        const answer = await cancel;
        const during = await stateOf(handle);
        outage.end();
        const result = await handle.result();
        return { answer, during, result, after: await stateOf(handle) };
      });

      expect(answer).toEqual({ status: 'pending' });
      expect(outage.calls).toBeGreaterThan(1);
      expect(during).toMatchObject({ status: 'ROUTING', failure: null });
      expect(result).toMatchObject({ outcome: 'cancelled', status: 'CANCELLED' });
      expect(after).toMatchObject({ status: 'CANCELLED', statusReason: 'duplicate' });
      expect(fake.status).toBe('CANCELLED');
    });

    it("a vendor's accept during an outage answers pending after the bound, and the order is assigned to that vendor once the database is back", async () => {
      const fake = new FakeOrders();
      fake.vendor('Ada Supplies');
      fake.vendor('Ben Wholesale');
      const outage = duringOutage(fake.activities(), ['assignOrder']);

      const { answer, during, after } = await withOrder(outage.activities, async (handle) => {
        const offer = await fake.delivered(1);
        const accept = handle.executeUpdate(vendorRespondUpdate, {
          args: [{ tokenHash: offer.tokenHash, decision: 'accept' }],
        });
        await outage.called(1);
        await temporal.env.sleep(REQUEST_ANSWER_BOUND);
        const answer = await accept;
        const during = await stateOf(handle);
        outage.end();
        await temporal.env.sleep(NEXT_RETRY);
        await until(async () => (await stateOf(handle)).status === 'ASSIGNED');
        return { answer, during, after: await stateOf(handle) };
      });

      expect(answer).toEqual({ status: 'pending' });
      expect(during).toMatchObject({ status: 'ROUTING', currentOffer: { attempt: 1 } });
      expect(after.vendor).toEqual({ vendorId: fake.vendors[0]!.id, vendorName: 'Ada Supplies' });
      expect(after.attempts).toEqual([expect.objectContaining({ attempt: 1, outcome: 'ACCEPTED' })]);
      expect(fake.deliveries).toHaveLength(1);
    });

    it('a manual assignment during an outage answers pending after the bound, refuses a second one meanwhile, and assigns the vendor once the database is back', async () => {
      const fake = new FakeOrders();
      const dee = fake.vendor('Dee Direct', { ranked: false });
      const outage = duringOutage(fake.activities(), ['assignOrder']);
      const assign = (handle: OrderHandle) =>
        handle.executeUpdate(assignVendorManuallyUpdate, { args: [{ vendorId: dee.id, actor: 'operator:1' }] });

      const { answer, second, after } = await withOrder(outage.activities, async (handle) => {
        await until(async () => (await stateOf(handle)).status === 'NEEDS_ATTENTION');
        const assignment = assign(handle);
        await outage.called(1);
        await temporal.env.sleep(REQUEST_ANSWER_BOUND);
        const answer = await assignment;
        const second = await rejectionOf(assign(handle));
        outage.end();
        await temporal.env.sleep(NEXT_RETRY);
        await until(async () => (await stateOf(handle)).status === 'ASSIGNED');
        return { answer, second, after: await stateOf(handle) };
      });

      expect(answer).toEqual({ status: 'pending' });
      expect(second).toBe(OrderRejection.NotAwaitingAssignment);
      expect(after).toMatchObject({ vendor: { vendorId: dee.id, vendorName: 'Dee Direct' } });
      expect(after.attempts).toEqual([expect.objectContaining({ outcome: 'MANUAL', vendorId: dee.id })]);
      expect(fake.status).toBe('ASSIGNED');
    });
  });

  describe('waitlist cascade', () => {
    type CascadeHandle = WorkflowHandleWithFirstExecutionRunId<typeof waitlistCascadeWorkflow>;

    async function withCascade<T>(
      activities: ReturnType<FakeWaitlist['activities']>,
      body: (handle: CascadeHandle) => Promise<T>,
    ): Promise<T> {
      return temporal.runWorkflow(activities, 'cascade-bounds', waitlistCascadeStart(TENANT_ID), body);
    }

    it('an accept during an outage answers pending after the bound, and the slot is confirmed once the database is back', async () => {
      const fake = new FakeWaitlist();
      fake.join('Ada');
      const outage = duringOutage(fake.activities(), ['confirmHold']);

      const { answer, during, result } = await withCascade(outage.activities, async (handle) => {
        const offer = await fake.delivered(1);
        const accept = handle.executeUpdate(acceptOfferUpdate, { args: [{ tokenHash: offer.tokenHash }] });
        await outage.called(1);
        await temporal.env.sleep(REQUEST_ANSWER_BOUND);
        const answer = await accept;
        const during = await handle.query(getCascadeStateQuery);
        outage.end();
        return { answer, during, result: await handle.result() };
      });

      expect(answer).toEqual({ status: 'pending' });
      expect(during).toMatchObject({ status: 'OFFERING', failure: null });
      expect(result).toMatchObject({ outcome: 'confirmed', acceptedEntryId: fake.entry('Ada').id });
      expect(fake.slotStatus).toBe('ASSIGNED');
      expect(fake.entry('Ada').status).toBe('ACCEPTED');
    });

    it('an extension during an outage answers pending with the new deadline after the bound, keeps the hold open until then, and writes it once the database is back', async () => {
      const fake = new FakeWaitlist();
      fake.join('Ada');
      const outage = duringOutage(fake.activities(), ['moveHoldDeadline']);

      const { before, answer, during, written } = await withCascade(outage.activities, async (handle) => {
        await fake.delivered(1);
        const before = (await handle.query(getCascadeStateQuery)).currentHold!;
        const extend = handle.executeUpdate(extendHoldUpdate, { args: [{ minutes: 30, actor: 'operator:1' }] });
        await outage.called(1);
        await temporal.env.sleep(REQUEST_ANSWER_BOUND);
        const answer = await extend;
        const during = (await handle.query(getCascadeStateQuery)).currentHold;
        outage.end();
        await temporal.env.sleep(NEXT_RETRY);
        await until(() => fake.extensions.length === 1);
        return { before, answer, during, written: fake.extensions[0] };
      });

      const extended = new Date(Date.parse(before.expiresAt) + 30 * 60_000).toISOString();
      expect(answer).toEqual({ holdId: before.holdId, expiresAt: extended, status: 'pending' });
      expect(during).toMatchObject({ holdId: before.holdId, expiresAt: extended });
      expect(written).toEqual({ holdId: before.holdId, expiresAt: extended, actor: 'operator:1' });
      expect(fake.holds[0]).toMatchObject({ status: 'OFFERED', expiresAt: extended });
    });
  });
});
