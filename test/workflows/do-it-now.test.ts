import { randomUUID } from 'node:crypto';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { SettleHoldInput } from '../../activities/waitlist';
import { flowByName } from '../../domain/flow-catalog';
import { planReminder, replan, type ReminderStepSpec } from '../../domain/reminder-plan';
import { FlowRejection } from '../../workflows/errors';
import {
  getNotificationStateQuery,
  NotificationRejection,
  notificationWorkflow,
  notificationWorkflowId,
  sendNowUpdate,
} from '../../workflows/notification';
import {
  expireVendorOfferNowUpdate,
  getOrderStateQuery,
  OrderRejection,
  vendorRespondUpdate,
  type orderRoutingWorkflow,
} from '../../workflows/order-routing';
import {
  getReminderStateQuery,
  ReminderRejection,
  reminderSequenceStartOptions,
  reminderSequenceWorkflow,
  sendNextReminderNowUpdate,
  type CarriedSequence,
} from '../../workflows/reminder-sequence';
import { TenantIdKey } from '../../workflows/search-attributes';
import {
  acceptOfferUpdate,
  CascadeRejection,
  declineOfferUpdate,
  expireHoldNowUpdate,
  getCascadeStateQuery,
  type waitlistCascadeWorkflow,
} from '../../workflows/waitlist-cascade';
import { until } from '../support/eventually';
import { FakeNotificationLedger } from '../support/notification-fake';
import { FakeOrders } from '../support/orders-fake';
import { FakeReminders } from '../support/reminders-fake';
import { orderRoutingStart, useTimeSkippingWorkers, waitlistCascadeStart } from '../support/time-skipping';
import { FakeWaitlist } from '../support/waitlist-fake';
import { rejectionOf, terminateWhenIdle } from '../support/workflow-handles';

/*
 * The "do it now" Updates (domain/flow-catalog.ts, FlowAction): each does at once what the flow
 * would do when its timer fires, and refuses with its own code when there is nothing to do now.
 */

const TENANT_ID = 'tenant-a';
const DAY_MS = 24 * 60 * 60 * 1000;
const operator = { actor: 'operator-1' };

describe('"do it now" Updates (time skipping, activities mocked)', () => {
  const temporal = useTimeSkippingWorkers();

  it('every action in the flow catalog names an Update these flows handle', () => {
    const updates = ['waitlist', 'orders', 'notifications', 'reminders'].flatMap(
      (name) => flowByName(name)?.actions.map((action) => action.update) ?? [],
    );
    expect(updates).toEqual([
      expireHoldNowUpdate.name,
      expireVendorOfferNowUpdate.name,
      sendNowUpdate.name,
      sendNextReminderNowUpdate.name,
    ]);
  });

  describe('waitlist: expireHoldNow', () => {
    type Handle = WorkflowHandleWithFirstExecutionRunId<typeof waitlistCascadeWorkflow>;

    async function withCascade<T>(
      fake: FakeWaitlist,
      settled: SettleHoldInput[],
      body: (handle: Handle) => Promise<T>,
    ) {
      const activities = fake.activities();
      const recording = {
        ...activities,
        settleHold: (input: SettleHoldInput) => {
          settled.push(input);
          return activities.settleHold(input);
        },
      };
      return temporal.runWorkflow(recording, 'expire-hold', waitlistCascadeStart(TENANT_ID, randomUUID()), body);
    }

    it('expires the open hold at once, records the operator, and offers the slot to the next person', async () => {
      const fake = new FakeWaitlist();
      fake.join('Ada');
      fake.join('Ben');
      const settled: SettleHoldInput[] = [];

      await withCascade(fake, settled, async (handle) => {
        const first = await fake.delivered(1);
        const before = await temporal.env.currentTimeMs();
        const holdRanOutAt = Date.parse(fake.holds.find((hold) => hold.holdId === first.holdId)!.expiresAt);

        const answer = await handle.executeUpdate(expireHoldNowUpdate, { args: [operator] });

        expect(answer.holdId).toBe(first.holdId);
        // Expired at the workflow's now: not before the operator asked, and before the hold would have run out.
        expect(Date.parse(answer.expiredAt)).toBeGreaterThanOrEqual(before);
        expect(Date.parse(answer.expiredAt)).toBeLessThan(holdRanOutAt);
        const second = await fake.delivered(2);
        expect(second.entryId).toBe(fake.entry('Ben').id);
        const state = await handle.query(getCascadeStateQuery);
        expect(state.offers[0]).toMatchObject({ holdId: first.holdId, outcome: 'EXPIRED' });
        expect(state.currentHold?.holdId).toBe(second.holdId);
        await handle.executeUpdate(acceptOfferUpdate, { args: [{ tokenHash: second.tokenHash }] });
        await handle.result();
      });

      expect(fake.entry('Ada').status).toBe('EXPIRED');
      expect(settled[0]).toMatchObject({
        outcome: 'EXPIRED',
        actor: 'operator-1',
        reason: 'expired now by an operator',
      });
    });

    it('is refused with NO_OPEN_HOLD once the candidate has answered, and the answer stands', async () => {
      const fake = new FakeWaitlist();
      fake.join('Ada');
      fake.join('Ben');
      const releaseDecline = fake.gateSettlement('DECLINED');

      await withCascade(fake, [], async (handle) => {
        const offer = await fake.delivered(1);
        const declined = handle.executeUpdate(declineOfferUpdate, { args: [{ tokenHash: offer.tokenHash }] });
        await until(() => fake.settlesStarted.some((settle) => settle.outcome === 'DECLINED'));

        expect(await rejectionOf(handle.executeUpdate(expireHoldNowUpdate, { args: [operator] }))).toBe(
          CascadeRejection.NoOpenHold,
        );
        releaseDecline();
        expect(await declined).toEqual({ status: 'declined' });
        expect((await fake.delivered(2)).entryId).toBe(fake.entry('Ben').id);
      });

      expect(fake.entry('Ada').status).toBe('DECLINED');
    });

    it('refuses an actor that cannot be stored with INVALID_INPUT', async () => {
      const fake = new FakeWaitlist();
      fake.join('Ada');

      await withCascade(fake, [], async (handle) => {
        await fake.delivered(1);
        expect(await rejectionOf(handle.executeUpdate(expireHoldNowUpdate, { args: [{ actor: 'a\u0000b' }] }))).toBe(
          FlowRejection.InvalidInput,
        );
        expect((await handle.query(getCascadeStateQuery)).currentHold).not.toBeNull();
      });
    });
  });

  describe('orders: expireVendorOfferNow', () => {
    type Handle = WorkflowHandleWithFirstExecutionRunId<typeof orderRoutingWorkflow>;

    const withOrder = <T>(fake: FakeOrders, body: (handle: Handle) => Promise<T>) =>
      temporal.runWorkflow(
        fake.activities(),
        'expire-offer',
        { ...orderRoutingStart(TENANT_ID), beforeTerminate: () => fake.openGates() },
        body,
      );

    it('times the open offer out at once, records the operator, and offers the order to the next vendor', async () => {
      const fake = new FakeOrders();
      const ada = fake.vendor('Ada Atelier');
      const ben = fake.vendor('Ben Bakery');

      const state = await withOrder(fake, async (handle) => {
        const first = await fake.delivered(1);
        expect(first.vendorId).toBe(ada.id);

        const answer = await handle.executeUpdate(expireVendorOfferNowUpdate, { args: [operator] });

        expect(answer).toMatchObject({ attemptId: first.attemptId, vendorId: ada.id });
        const second = await fake.delivered(2);
        expect(second.vendorId).toBe(ben.id);
        return handle.query(getOrderStateQuery);
      });

      expect(state.attempts[0]).toMatchObject({
        vendorId: ada.id,
        outcome: 'TIMED_OUT',
        reason: 'expired now by an operator',
      });
      expect(fake.attempts[0]).toMatchObject({ outcome: 'TIMED_OUT', actor: 'operator-1' });
    });

    it('is refused with NO_OPEN_OFFER once the vendor has answered', async () => {
      const fake = new FakeOrders();
      fake.vendor('Ada Atelier');

      await withOrder(fake, async (handle) => {
        const offer = await fake.delivered(1);
        await handle.executeUpdate(vendorRespondUpdate, {
          args: [{ tokenHash: offer.tokenHash, decision: 'accept' }],
        });

        expect(await rejectionOf(handle.executeUpdate(expireVendorOfferNowUpdate, { args: [operator] }))).toBe(
          OrderRejection.NoOpenOffer,
        );
        expect((await handle.query(getOrderStateQuery)).status).toBe('ASSIGNED');
      });
    });
  });

  describe('notifications: sendNow', () => {
    type Handle = WorkflowHandleWithFirstExecutionRunId<typeof notificationWorkflow>;

    async function withNotification<T>(
      fake: FakeNotificationLedger,
      sendAt: string | undefined,
      body: (handle: Handle) => Promise<T>,
    ) {
      const notificationId = randomUUID();
      return temporal.runWithWorker(fake.activities(), 'send-now', async (taskQueue) => {
        const handle = await temporal.env.client.workflow.start(notificationWorkflow, {
          taskQueue,
          workflowId: notificationWorkflowId(TENANT_ID, notificationId),
          args: [{ tenantId: TENANT_ID, notificationId, priority: 3, ...(sendAt ? { sendAt } : {}) }],
          typedSearchAttributes: [{ key: TenantIdKey, value: TENANT_ID }],
        });
        try {
          return await body(handle);
        } finally {
          await terminateWhenIdle(handle);
        }
      });
    }

    const inHours = async (hours: number) =>
      new Date((await temporal.env.currentTimeMs()) + hours * 3_600_000).toISOString();

    it('sends a notification scheduled for tomorrow now, and it ends SENT', async () => {
      const fake = new FakeNotificationLedger();
      fake.status = 'SCHEDULED';
      const sendAt = await inHours(24);

      const result = await withNotification(fake, sendAt, async (handle) => {
        expect((await handle.query(getNotificationStateQuery)).status).toBe('SCHEDULED');
        const answer = await handle.executeUpdate(sendNowUpdate, { args: [operator] });
        expect(answer).toMatchObject({ scheduledFor: sendAt });
        expect(Date.parse(answer.sendAt)).toBeLessThan(Date.parse(sendAt));
        return handle.result();
      });

      expect(result.status).toBe('SENT');
      expect(Date.parse(result.sentAt!)).toBeLessThan(Date.parse(sendAt));
      expect(fake.markedDue).toBe(1);
      expect(fake.deliveries).toBe(1);
    });

    it('is refused with NOT_SCHEDULED for a notification that is not waiting for its time', async () => {
      const fake = new FakeNotificationLedger();
      let release = () => undefined as void;
      fake.holdDelivery = new Promise<void>((resolve) => (release = resolve));

      const result = await withNotification(fake, undefined, async (handle) => {
        await until(() => fake.deliveries === 1);
        expect(await rejectionOf(handle.executeUpdate(sendNowUpdate, { args: [operator] }))).toBe(
          NotificationRejection.NotScheduled,
        );
        release();
        return handle.result();
      });

      expect(result.status).toBe('SENT');
      expect(fake.deliveries).toBe(1);
    });
  });

  describe('reminders: sendNextReminderNow', () => {
    type Handle = WorkflowHandleWithFirstExecutionRunId<typeof reminderSequenceWorkflow>;

    const steps: ReminderStepSpec[] = [
      { at: '-2d', kind: 'DUE_SOON' },
      { at: '0', kind: 'DUE' },
    ];

    async function withSequence<T>(
      fake: FakeReminders,
      body: (handle: Handle, created: number) => Promise<T>,
      carry?: (dueAt: string, created: number) => CarriedSequence,
    ) {
      fake.serverClock = () => temporal.env.currentTimeMs();
      const reminderId = randomUUID();
      return temporal.runWithWorker(fake.activities(), 'send-next-now', async (taskQueue) => {
        const created = await temporal.env.currentTimeMs();
        const dueAt = new Date(created + 10 * DAY_MS).toISOString();
        const handle = await temporal.env.client.workflow.start(reminderSequenceWorkflow, {
          taskQueue,
          args: [
            {
              tenantId: TENANT_ID,
              reminderId,
              dueAt,
              steps,
              notifyOnCreate: false,
              createdAt: new Date(created).toISOString(),
              ...(carry ? { carried: carry(dueAt, created) } : {}),
            },
          ],
          ...reminderSequenceStartOptions(TENANT_ID, reminderId),
        });
        try {
          return await body(handle, created);
        } finally {
          await terminateWhenIdle(handle);
        }
      });
    }

    it('sends the next step now; the step after it keeps its time', async () => {
      const fake = new FakeReminders();

      await withSequence(fake, async (handle, created) => {
        const answer = await handle.executeUpdate(sendNextReminderNowUpdate, { args: [operator] });
        expect(answer).toMatchObject({ kind: 'DUE_SOON', scheduledFor: new Date(created + 8 * DAY_MS).toISOString() });

        const [sent] = await fake.sent(1);
        expect(sent).toMatchObject({ kind: 'DUE_SOON' });
        expect(sent!.ranAtServerMs - created).toBeLessThan(DAY_MS);
        // The send ran; the workflow records it at its next task.
        await until(async () => (await handle.query(getReminderStateQuery)).steps[0]?.status !== 'sending');
        const state = await handle.query(getReminderStateQuery);
        expect(state.steps.map((step) => [step.kind, step.status])).toEqual([
          ['DUE_SOON', 'sent'],
          ['DUE', 'scheduled'],
        ]);
      });
    });

    it('a run that continued as new before sending the step asked for now sends it at once', async () => {
      const fake = new FakeReminders();
      // The state the run that took the request hands over: the plan, and the step asked for now.
      const carry = (dueAt: string, created: number): CarriedSequence => {
        const planned = replan([], planReminder(dueAt, steps), created);
        return { dueAt, steps: planned, startedAt: new Date(created).toISOString(), dueNowKey: planned[0]!.key };
      };

      await withSequence(
        fake,
        async (_handle, created) => {
          const [sent] = await fake.sent(1);
          expect(sent).toMatchObject({ kind: 'DUE_SOON' });
          expect(sent!.ranAtServerMs - created).toBeLessThan(DAY_MS);
        },
        carry,
      );
    });

    it('is refused with NO_STEP_SCHEDULED once every step went out', async () => {
      const fake = new FakeReminders();
      let releaseClose = () => undefined as void;
      fake.closeGate = new Promise<void>((resolve) => (releaseClose = resolve));

      await withSequence(fake, async (handle) => {
        await handle.executeUpdate(sendNextReminderNowUpdate, { args: [operator] });
        await fake.sent(1);
        await handle.executeUpdate(sendNextReminderNowUpdate, { args: [operator] });
        await fake.sent(2);
        await until(async () => (await handle.query(getReminderStateQuery)).status === 'FINISHED');

        expect(await rejectionOf(handle.executeUpdate(sendNextReminderNowUpdate, { args: [operator] }))).toBe(
          ReminderRejection.NoStepScheduled,
        );
        releaseClose();
        expect(await handle.result()).toMatchObject({ status: 'FINISHED', sent: 2 });
      });

      expect(fake.sends.map((send) => send.kind)).toEqual(['DUE_SOON', 'DUE']);
    });
  });
});
