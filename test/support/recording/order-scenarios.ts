import { randomUUID } from 'node:crypto';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { CreditRefusal } from '../../../domain/orders';
import { until } from '../eventually';
import { withRecordingWorker, type FlowRecording } from '../history-recording';
import { FakeOrders } from '../orders-fake';
import { NEXT_RETRY, outageScenarios } from '../outage';
import { REQUEST_ANSWER_BOUND } from '../../../workflows/attention';
import { FailureType } from '../../../workflows/errors';
import { orderRoutingId } from '../../../workflows/order-routing.contract';
import {
  assignVendorManuallyUpdate,
  cancelOrderUpdate,
  expireVendorOfferNowUpdate,
  getOrderStateQuery,
  orderRoutingWorkflow,
  orderStatusSignal,
  paymentReceivedSignal,
  vendorRespondUpdate,
  type OrderState,
} from '../../../workflows/order-routing';
import { noActivityRunning } from '../workflow-handles';

/*
 * The paths through order routing whose histories test/histories/order-*.json hold, run on the
 * time-skipping server with the in-memory activities of test/support/orders-fake.ts.
 * `npm run histories:record -- orders [scenario…]` records them; the existing ones must keep
 * replaying after every change to the workflow (test/replay/orders.replay.test.ts), or the change
 * needs `patched()`.
 */

type Handle = WorkflowHandleWithFirstExecutionRunId<typeof orderRoutingWorkflow>;
type Sleep = (duration: string) => Promise<void>;
type OrderActivities = ReturnType<FakeOrders['activities']>;

interface Scenario {
  name: string;
  /** Record with the workflow code of this commit instead of today's: how such runs went before a change. */
  from?: string;
  arrange: (fake: FakeOrders) => void;
  /** The worker's activities; the fake's by default. */
  activities?: (fake: FakeOrders) => OrderActivities;
  drive: (handle: Handle, fake: FakeOrders, sleep: Sleep) => Promise<void>;
}

const duringAnOutage = outageScenarios<Handle, FakeOrders, OrderActivities>((fake) => fake.activities());

/** The fake's activities with `name` failing for good, as one whose data the database refuses does. */
const failingForGood =
  (name: keyof OrderActivities, type: string, message: string) =>
  (fake: FakeOrders): OrderActivities => ({
    ...fake.activities(),
    [name]: () => Promise.reject(ApplicationFailure.create({ type, message, nonRetryable: true })),
  });

const respond = async (handle: Handle, fake: FakeOrders, nth: number, decision: 'accept' | 'reject') =>
  handle.executeUpdate(vendorRespondUpdate, { args: [{ tokenHash: (await fake.delivered(nth)).tokenHash, decision }] });

const statusReaches = (handle: Handle, status: OrderState['status']) =>
  until(async () => (await handle.query(getOrderStateQuery)).status === status);

const finish = (handle: Handle) =>
  handle.result().then(
    () => undefined,
    () => undefined,
  );

/** The assigned order is dispatched, delivered and paid in full. */
async function deliverAndPay(handle: Handle, fake: FakeOrders): Promise<void> {
  await statusReaches(handle, 'ASSIGNED');
  await handle.signal(orderStatusSignal, { status: 'DISPATCHED', actor: 'vendor:driver' });
  await handle.signal(orderStatusSignal, { status: 'DELIVERED', actor: 'vendor:driver' });
  await until(() => fake.creditScoreTriggers.includes('order_delivered'));
  await handle.signal(paymentReceivedSignal, { paymentId: 'payment-1', amount: fake.total });
  await finish(handle);
}

const twoVendors = (fake: FakeOrders) => {
  fake.vendor('Ada Supplies');
  fake.vendor('Ben Wholesale');
};

const refusedRejection = failingForGood(
  'settleRoutingAttempt',
  FailureType.DataRejected,
  'The database refused the data: text contains a character the database cannot store (SQLSTATE 22021)',
);

const scenarios: Scenario[] = [
  {
    name: 'first-vendor-accepted-paid',
    arrange: twoVendors,
    drive: async (handle, fake) => {
      await respond(handle, fake, 1, 'accept');
      await deliverAndPay(handle, fake);
    },
  },
  {
    name: 'rejected-then-fallback',
    arrange: twoVendors,
    drive: async (handle, fake) => {
      await respond(handle, fake, 1, 'reject');
      await respond(handle, fake, 2, 'accept');
      await deliverAndPay(handle, fake);
    },
  },
  {
    name: 'timed-out-then-fallback',
    arrange: twoVendors,
    drive: async (handle, fake, sleep) => {
      await fake.delivered(1);
      await sleep('11 minutes');
      await respond(handle, fake, 2, 'accept');
      await deliverAndPay(handle, fake);
    },
  },
  {
    name: 'vendor-offer-expired-now',
    arrange: twoVendors,
    drive: async (handle, fake) => {
      await fake.delivered(1);
      await handle.executeUpdate(expireVendorOfferNowUpdate, { args: [{ actor: 'operator-recorded' }] });
      await respond(handle, fake, 2, 'accept');
      await deliverAndPay(handle, fake);
    },
  },
  {
    name: 'unreachable-then-fallback',
    arrange: (fake) => {
      const ada = fake.vendor('Ada Supplies');
      fake.vendor('Ben Wholesale');
      fake.offerBehaviour.set(ada.id, () => {
        throw ApplicationFailure.nonRetryable('not a WhatsApp number', FailureType.InvalidRecipient);
      });
    },
    drive: async (handle, fake) => {
      await respond(handle, fake, 1, 'accept');
      await deliverAndPay(handle, fake);
    },
  },
  {
    name: 'offer-throttled',
    arrange: (fake) => {
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
    },
    drive: async (handle, fake, sleep) => {
      await until(() => fake.offerSendAttempts.length === 1);
      await sleep('1 minute');
      await respond(handle, fake, 1, 'accept');
      await deliverAndPay(handle, fake);
    },
  },
  {
    name: 'manual-assignment',
    arrange: (fake) => {
      fake.vendor('Ada Supplies');
      fake.vendor('Dee Depot', { ranked: false });
    },
    drive: async (handle, fake) => {
      await respond(handle, fake, 1, 'reject');
      await statusReaches(handle, 'NEEDS_ATTENTION');
      // A failed assignment first: the order keeps waiting.
      await handle
        .executeUpdate(assignVendorManuallyUpdate, { args: [{ vendorId: 'vendor-unknown', actor: 'operator:1' }] })
        .catch(() => undefined);
      await handle.executeUpdate(assignVendorManuallyUpdate, {
        args: [{ vendorId: fake.vendors[1]!.id, actor: 'operator:1' }],
      });
      await deliverAndPay(handle, fake);
    },
  },
  {
    name: 'unassigned-cancelled',
    arrange: (fake) => void fake.vendor('Ada Supplies'),
    drive: async (handle, fake) => {
      await respond(handle, fake, 1, 'reject');
      // Awaiting the result skips the 24-hour window.
      await finish(handle);
    },
  },
  {
    name: 'cancelled-during-offer',
    arrange: twoVendors,
    drive: async (handle, fake) => {
      await fake.delivered(1);
      await noActivityRunning(handle);
      await handle.executeUpdate(cancelOrderUpdate, {
        args: [{ reason: 'the retailer changed their mind', actor: 'retailer:1' }],
      });
      await finish(handle);
    },
  },
  {
    name: 'assigned-then-cancelled',
    arrange: twoVendors,
    drive: async (handle, fake) => {
      await respond(handle, fake, 1, 'accept');
      await until(() => fake.creditScoreTriggers.includes('order_assigned'));
      await handle.executeUpdate(cancelOrderUpdate, { args: [{ reason: 'duplicate order', actor: 'retailer:1' }] });
      await finish(handle);
    },
  },
  {
    name: 'workflow-cancelled',
    arrange: twoVendors,
    drive: async (handle, fake) => {
      await fake.delivered(1);
      await noActivityRunning(handle);
      await handle.cancel();
      await finish(handle);
    },
  },
  {
    name: 'credit-rejected',
    arrange: (fake) => {
      fake.vendor('Ada Supplies');
      fake.refuseCredit(CreditRefusal.Flagged, 'The retailer was flagged after a final payment notice');
    },
    drive: finish,
  },
  {
    name: 'paid-mid-way',
    arrange: (fake) => void fake.vendor('Ada Supplies'),
    drive: async (handle, fake, sleep) => {
      await respond(handle, fake, 1, 'accept');
      await statusReaches(handle, 'ASSIGNED');
      await handle.signal(orderStatusSignal, { status: 'DELIVERED', actor: 'vendor:driver' });
      await until(() => fake.creditScoreTriggers.includes('order_delivered'));
      await sleep('13 days');
      await handle.signal(paymentReceivedSignal, { paymentId: 'payment-1', amount: 5_000 });
      await sleep('3 days');
      await handle.signal(paymentReceivedSignal, { paymentId: 'payment-2', amount: fake.total - 5_000 });
      await finish(handle);
    },
  },
  {
    name: 'reminders-final-notice-paid',
    arrange: (fake) => void fake.vendor('Ada Supplies'),
    drive: async (handle, fake, sleep) => {
      await respond(handle, fake, 1, 'accept');
      await statusReaches(handle, 'ASSIGNED');
      await handle.signal(orderStatusSignal, { status: 'DELIVERED', actor: 'vendor:driver' });
      await until(() => fake.creditScoreTriggers.includes('order_delivered'));
      await sleep('29 days');
      await until(() => fake.creditScoreTriggers.includes('final_notice'));
      await handle.signal(paymentReceivedSignal, { paymentId: 'payment-1', amount: 5_000 });
      await until(() => fake.creditScoreTriggers.includes('payment_received'));
      await handle.signal(paymentReceivedSignal, { paymentId: 'payment-2', amount: fake.total - 5_000 });
      await finish(handle);
    },
  },
  {
    name: 'stopped-for-attention',
    arrange: twoVendors,
    activities: refusedRejection,
    drive: async (handle, fake) => {
      // Recording the rejection fails for good: the answer is refused and the order stops.
      await respond(handle, fake, 1, 'reject').catch(() => undefined);
      await finish(handle);
    },
  },
  {
    // How such an order went before it stopped for attention: the run failed at once. It must still replay.
    name: 'failed-before-attention-stop',
    from: '2f898c36db194950c2496e47b0ba3b7546bf9e52',
    arrange: twoVendors,
    activities: refusedRejection,
    drive: async (handle, fake) => {
      await respond(handle, fake, 1, 'reject').catch(() => undefined);
      await finish(handle);
    },
  },
  duringAnOutage({
    name: 'cancel-answered-pending',
    arrange: twoVendors,
    failing: ['cancelOrderRecord'],
    drive: async (handle, fake, sleep, outage) => {
      await fake.delivered(1);
      await noActivityRunning(handle);
      const cancel = handle.executeUpdate(cancelOrderUpdate, { args: [{ reason: 'duplicate', actor: 'retailer:1' }] });
      await outage.called(1);
      await sleep(REQUEST_ANSWER_BOUND);
      await cancel;
      outage.end();
      await finish(handle);
    },
  }),
  duringAnOutage({
    name: 'vendor-answer-pending',
    arrange: twoVendors,
    failing: ['assignOrder'],
    drive: async (handle, fake, sleep, outage) => {
      const accept = respond(handle, fake, 1, 'accept');
      await outage.called(1);
      await sleep(REQUEST_ANSWER_BOUND);
      await accept;
      outage.end();
      await sleep(NEXT_RETRY);
      await deliverAndPay(handle, fake);
    },
  }),
  duringAnOutage({
    name: 'manual-assignment-pending',
    arrange: (fake) => void fake.vendor('Dee Depot', { ranked: false }),
    failing: ['assignOrder'],
    drive: async (handle, fake, sleep, outage) => {
      await statusReaches(handle, 'NEEDS_ATTENTION');
      const assign = handle.executeUpdate(assignVendorManuallyUpdate, {
        args: [{ vendorId: fake.vendors[0]!.id, actor: 'operator:1' }],
      });
      await outage.called(1);
      await sleep(REQUEST_ANSWER_BOUND);
      await assign;
      outage.end();
      await sleep(NEXT_RETRY);
      await deliverAndPay(handle, fake);
    },
  }),
];

/** Each scenario must leave its order closed: a running order is no path's end. */
export const orderRecording: FlowRecording<Scenario> = {
  filePrefix: 'order',
  scenarios,
  async record(scenario, env, bundle) {
    const fake = new FakeOrders();
    scenario.arrange(fake);
    const taskQueue = `record-${randomUUID()}`;
    return withRecordingWorker(env, bundle, taskQueue, scenario.activities?.(fake) ?? fake.activities(), async () => {
      const orderId = `order-${scenario.name}`;
      const handle = await env.client.workflow.start(orderRoutingWorkflow, {
        taskQueue,
        workflowId: orderRoutingId('tenant-recorded', orderId),
        args: [{ tenantId: 'tenant-recorded', orderId }],
      });
      await scenario.drive(handle, fake, (duration) => env.sleep(duration));
      const { status } = await handle.describe();
      if (status.name === 'RUNNING') throw new Error(`scenario ${scenario.name} left its order running`);
      return [{ suffix: '', history: await handle.fetchHistory(), status: status.name }];
    });
  },
};
