import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Activities } from '../../activities';
import type { OrderActivities, OrderMessage, OrderStart, VendorOffer } from '../../activities/orders';
import type { RankedVendor, SettledRoutingOutcome } from '../../workflows/order-routing.contract';
import type { SkippableNotification } from '../../activities/notifications';
import { isCancellable, type CreditRefusal, type OrderStatus } from '../../domain/orders';
import { DEFAULT_PAYMENT_TERMS_DAYS, paymentDueDate, type ScheduledReminder } from '../../domain/payment-reminders';
import { FailureType } from '../../workflows/errors';

export interface FakeVendor {
  id: string;
  name: string;
  active: boolean;
  /** Whether the ranking offers it the order (active, right region, categories, capacity). */
  ranked: boolean;
}

export type FakeAttemptOutcome = 'OFFERED' | 'ACCEPTED' | 'MANUAL' | SettledRoutingOutcome;

/** A routing attempt row: an offer to a vendor, or an operator's manual assignment. */
export interface FakeAttempt {
  attemptId: string;
  vendorId: string;
  attempt: number;
  deadline: string | null;
  tokenHash: string | null;
  outcome: FakeAttemptOutcome;
  reason: string | null;
  actor: string | null;
}

/** An offer message that reached its vendor. */
export interface FakeOfferDelivery {
  attemptId: string;
  vendorId: string;
  tokenHash: string;
}

/** One invocation of sendVendorOffer, retries included. */
export interface FakeOfferSendAttempt {
  attemptId: string;
  vendorId: string;
  /** The activity's attempt number. */
  attempt: number;
  /**
   * The activity's `currentAttemptScheduledTimestampMs`. The time-skipping test server stamps a
   * retry with the time it was decided, not when its backoff ran out, so tests of retry delays
   * read `ranAtServerMs` instead.
   */
  scheduledAtMs: number;
  /** The server's clock when the attempt ran (skipped time counts), from {@link FakeOrders.serverClock}. */
  ranAtServerMs: number;
}

/** A message sent to the retailer, an operator or a vendor, with a short label for assertions. */
export interface FakeNotification {
  message: OrderMessage;
  /** `confirmed`, `cancelled:retailer`, `cancelled:vendor:<id>`, `delivery-update:DELIVERED`, `reminder:OVERDUE`, … */
  label: string;
}

export interface FakeReminder extends ScheduledReminder {
  amountDue: number;
}

/** Decides how one attempt at a message goes: return normally to deliver, throw to fail. */
export type SendBehaviour = (attempt: number) => void;

/** Activities a test can hold half-way, to act while the workflow waits on them. */
export type GatedStep = `settle:${SettledRoutingOutcome}` | 'assign' | 'cancel';

type CreditAnswer = { approved: true } | { approved: false; code: CreditRefusal; reason: string };

const labelOf = (message: OrderMessage): string => {
  switch (message.kind) {
    case 'cancelled':
      return message.audience === 'vendor' ? `cancelled:vendor:${message.vendorId}` : 'cancelled:retailer';
    case 'delivery-update':
      return `delivery-update:${message.status}`;
    case 'reminder':
      return `reminder:${message.reminder.kind}`;
    default:
      return message.kind;
  }
};

/** A list that tests can wait on: `nth(n)` resolves once n items are in. */
class Recorded<T> {
  readonly items: T[] = [];
  private readonly waiters: Array<{ count: number; resolve: (item: T) => void }> = [];

  push(item: T): void {
    this.items.push(item);
    for (const waiter of this.waiters.filter((w) => w.count <= this.items.length)) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve(this.items[waiter.count - 1]!);
    }
  }

  nth(count: number): Promise<T> {
    const ready = this.items[count - 1];
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }
}

const notFound = (what: string) => ApplicationFailure.nonRetryable(`${what} not found`, FailureType.NotFound);
const stateConflict = (message: string) => ApplicationFailure.nonRetryable(message, FailureType.OrderStateConflict);

/**
 * An in-memory stand-in for one order's database rows and messaging, behind the same activity
 * signatures as activities/orders.ts. Workflow tests (and the history recorder) mock at the
 * activity boundary with it, so they exercise the routing workflow's decisions and Temporal's
 * timers and retries without PostgreSQL or message providers.
 */
export class FakeOrders {
  readonly retailerId = 'retailer-1';
  total = 12_500;
  /** The tenant's vendor response window (the schema's default: 10 minutes). */
  vendorResponseMs = 10 * 60_000;
  paymentTermsDays = DEFAULT_PAYMENT_TERMS_DAYS;
  credit: CreditAnswer = { approved: true };

  status: OrderStatus = 'PENDING';
  statusReason: string | null = null;
  vendorId: string | null = null;
  dispatchedAt: string | null = null;
  deliveredAt: string | null = null;
  dueDate: string | null = null;
  paidAt: string | null = null;
  finalNoticeAt: string | null = null;

  readonly vendors: FakeVendor[] = [];
  readonly attempts: FakeAttempt[] = [];
  readonly offerSendAttempts: FakeOfferSendAttempt[] = [];
  readonly fulfilments: Array<{ status: 'DISPATCHED' | 'DELIVERED'; at: string; actor: string }> = [];
  /** Each time the retailer was flagged (once per final notice). */
  readonly retailerFlags: string[] = [];
  /** Per vendor ID: how its offer messages behave (default: delivered). */
  readonly offerBehaviour = new Map<string, SendBehaviour>();
  /** Per notification label: how those messages behave (default: sent). */
  readonly notificationBehaviour = new Map<string, SendBehaviour>();
  /**
   * Reads the server's clock, e.g. `() => env.currentTimeMs()` on the time-skipping server, where
   * skipped time does not show on Date.now(). Defaults to the local clock.
   */
  serverClock: () => Promise<number> = () => Promise.resolve(Date.now());
  /** Gated activities entered so far, in order. */
  readonly stepsStarted: GatedStep[] = [];

  private readonly offerDeliveries = new Recorded<FakeOfferDelivery>();
  private readonly sentNotifications = new Recorded<FakeNotification>();
  private readonly scored = new Recorded<string>();
  private readonly gates = new Map<GatedStep, Promise<void>>();
  private readonly openers: Array<() => void> = [];

  /** Adds a vendor; ranked vendors are offered the order in the order they were added. */
  vendor(name: string, options: { active?: boolean; ranked?: boolean } = {}): FakeVendor {
    const active = options.active ?? true;
    const vendor: FakeVendor = {
      id: `vendor-${this.vendors.length + 1}-${name.toLowerCase().replace(/\W+/g, '-')}`,
      name,
      active,
      ranked: active && (options.ranked ?? true),
    };
    this.vendors.push(vendor);
    return vendor;
  }

  /** The credit check refuses the order. */
  refuseCredit(code: CreditRefusal, reason: string): void {
    this.credit = { approved: false, code, reason };
  }

  /** Holds `step` once entered until the returned function (or {@link openGates}) is called. */
  gate(step: GatedStep): () => void {
    let open!: () => void;
    this.gates.set(step, new Promise<void>((resolve) => (open = resolve)));
    this.openers.push(() => open());
    return () => open();
  }

  /** Opens every gate, so a test that failed half-way leaves no activity blocked. */
  openGates(): void {
    for (const open of this.openers) open();
  }

  /** Offer messages that reached a vendor, in order. */
  get deliveries(): readonly FakeOfferDelivery[] {
    return this.offerDeliveries.items;
  }

  /** Resolves with the `count`-th offer delivered to a vendor. */
  delivered(count: number): Promise<FakeOfferDelivery> {
    return this.offerDeliveries.nth(count);
  }

  /** Every message sent to the retailer, operators and vendors, in order. */
  get notifications(): readonly FakeNotification[] {
    return this.sentNotifications.items;
  }

  /** The labels of the messages sent so far, in order. */
  sentLabels(): string[] {
    return this.notifications.map((notification) => notification.label);
  }

  /** Resolves with the `count`-th message sent. */
  notified(count: number): Promise<FakeNotification> {
    return this.sentNotifications.nth(count);
  }

  /** The payment reminders sent, in order. */
  reminders(): FakeReminder[] {
    return this.notifications.flatMap(({ message }) =>
      message.kind === 'reminder' ? [{ ...message.reminder, amountDue: message.amountDue }] : [],
    );
  }

  /** Why the retailer's credit score was recalculated, one trigger per recalculation, in order. */
  get creditScoreTriggers(): readonly string[] {
    return this.scored.items;
  }

  /** Resolves once `count` credit-score recalculations have run, with the trigger of the last one. */
  rescored(count: number): Promise<string> {
    return this.scored.nth(count);
  }

  /** The offers made, in order (not manual assignments). */
  offers(): FakeAttempt[] {
    return this.attempts.filter((attempt) => attempt.tokenHash !== null);
  }

  private attempt(attemptId: string): FakeAttempt {
    const found = this.attempts.find((attempt) => attempt.attemptId === attemptId);
    if (!found) throw notFound(`Routing attempt ${attemptId}`);
    return found;
  }

  private async enter(step: GatedStep): Promise<void> {
    this.stepsStarted.push(step);
    await this.gates.get(step);
  }

  /** The order activities, typed as the worker registers them. */
  activities(): Pick<Activities, keyof OrderActivities> {
    return {
      checkCredit: async (): Promise<OrderStart> => {
        const context = { total: this.total, retailerId: this.retailerId, vendorResponseMs: this.vendorResponseMs };
        if (this.status === 'PENDING') {
          if (this.credit.approved) this.status = 'ROUTING';
          else {
            this.status = 'REJECTED';
            this.statusReason = this.credit.reason;
          }
        }
        if (this.status === 'REJECTED') {
          const code = this.credit.approved ? null : this.credit.code;
          return { ...context, approved: false, code, reason: this.statusReason ?? 'refused' };
        }
        return { ...context, approved: true };
      },

      rankVendorsForOrder: async (): Promise<RankedVendor[]> =>
        this.vendors
          .filter((vendor) => vendor.ranked)
          .map((vendor) => ({ vendorId: vendor.id, vendorName: vendor.name })),

      offerOrderToVendor: async ({ vendorId, attempt, deadline }): Promise<VendorOffer> => {
        const existing = this.attempts.find((row) => row.attempt === attempt);
        const row: FakeAttempt = existing ?? {
          attemptId: `attempt-${attempt}`,
          vendorId,
          attempt,
          deadline,
          tokenHash: `hash-of-attempt-${attempt}`,
          outcome: 'OFFERED',
          reason: null,
          actor: null,
        };
        if (!existing) this.attempts.push(row);
        return { attemptId: row.attemptId, tokenHash: row.tokenHash ?? '', deadline: row.deadline ?? deadline };
      },

      sendVendorOffer: async ({ attemptId }): Promise<SkippableNotification> => {
        const row = this.attempt(attemptId);
        const { attempt, currentAttemptScheduledTimestampMs } = Context.current().info;
        this.offerSendAttempts.push({
          attemptId,
          vendorId: row.vendorId,
          attempt,
          scheduledAtMs: currentAttemptScheduledTimestampMs,
          ranAtServerMs: await this.serverClock(),
        });
        if (row.outcome !== 'OFFERED') return { status: 'SKIPPED', reason: `the offer is ${row.outcome}` };
        this.offerBehaviour.get(row.vendorId)?.(attempt);
        this.offerDeliveries.push({ attemptId, vendorId: row.vendorId, tokenHash: row.tokenHash! });
        return { status: 'SENT', notificationId: `n-offer-${attemptId}`, providerId: null };
      },

      settleRoutingAttempt: async ({ attemptId, outcome, reason, actor }) => {
        const row = this.attempt(attemptId);
        await this.enter(`settle:${outcome}`);
        if (row.outcome !== 'OFFERED') return;
        Object.assign(row, { outcome, reason: reason ?? null, actor });
      },

      assignOrder: async ({ vendorId, attempt, attemptId, actor }): Promise<RankedVendor> => {
        const vendor = this.vendors.find((v) => v.id === vendorId);
        if (!vendor) throw notFound(`Vendor ${vendorId}`);
        const assigned = { vendorId, vendorName: vendor.name };
        if (this.status === 'ASSIGNED' && this.vendorId === vendorId) return assigned;
        if (this.status !== 'ROUTING' && this.status !== 'NEEDS_ATTENTION') {
          throw stateConflict(`The order is ${this.status} and cannot be assigned`);
        }
        if (!attemptId && !vendor.active) {
          throw ApplicationFailure.nonRetryable(`Vendor ${vendor.name} is inactive`, FailureType.VendorUnavailable);
        }
        await this.enter('assign');
        if (attemptId) {
          const row = this.attempt(attemptId);
          if (row.outcome === 'OFFERED') Object.assign(row, { outcome: 'ACCEPTED', actor });
        } else if (!this.attempts.some((row) => row.attempt === attempt)) {
          this.attempts.push({
            attemptId: `attempt-${attempt}`,
            vendorId,
            attempt,
            deadline: null,
            tokenHash: null,
            outcome: 'MANUAL',
            reason: `assigned by ${actor}`,
            actor,
          });
        }
        if (this.status !== 'ROUTING' && this.status !== 'NEEDS_ATTENTION') {
          throw stateConflict('The order changed while it was being assigned');
        }
        this.status = 'ASSIGNED';
        this.vendorId = vendorId;
        return assigned;
      },

      markNeedsAttention: async () => {
        if (this.status === 'ROUTING') this.status = 'NEEDS_ATTENTION';
      },

      cancelOrderRecord: async ({ reason, actor }) => {
        await this.enter('cancel');
        if (this.status !== 'CANCELLED') {
          if (!isCancellable(this.status)) {
            throw stateConflict(`The order is ${this.status} and can no longer be cancelled`);
          }
          for (const row of this.attempts.filter((a) => a.outcome === 'OFFERED')) {
            Object.assign(row, { outcome: 'CANCELLED', reason, actor });
          }
          this.status = 'CANCELLED';
          this.statusReason = reason;
        }
        const vendorIds = new Set(this.attempts.filter((a) => a.outcome === 'CANCELLED').map((a) => a.vendorId));
        if (this.vendorId) vendorIds.add(this.vendorId);
        return { vendorIds: [...vendorIds] };
      },

      recordFulfilment: async ({ status, at, actor }) => {
        const present = () => ({ deliveredAt: this.deliveredAt, dueDate: this.dueDate });
        const reached: OrderStatus[] =
          status === 'DISPATCHED' ? ['DISPATCHED', 'DELIVERED', 'PAID'] : ['DELIVERED', 'PAID'];
        if (reached.includes(this.status)) return present();
        const from: OrderStatus[] = status === 'DISPATCHED' ? ['ASSIGNED'] : ['ASSIGNED', 'DISPATCHED'];
        if (!from.includes(this.status)) throw stateConflict(`The order is ${this.status} and cannot become ${status}`);
        this.fulfilments.push({ status, at, actor });
        this.status = status;
        this.dispatchedAt ??= at;
        if (status === 'DELIVERED') {
          this.deliveredAt = at;
          this.dueDate = paymentDueDate(at, this.paymentTermsDays);
        }
        return present();
      },

      markOrderPaid: async ({ at }) => {
        if (this.status !== 'DELIVERED') return;
        this.status = 'PAID';
        this.paidAt = at;
      },

      flagRetailer: async ({ at }) => {
        this.finalNoticeAt ??= at;
        this.retailerFlags.push(at);
      },

      recalculateCreditScore: async ({ retailerId, trigger }) => {
        if (retailerId !== this.retailerId) throw notFound(`Retailer ${retailerId}`);
        this.scored.push(trigger);
        return { creditScore: 600 };
      },

      sendOrderNotification: async ({ message }): Promise<SkippableNotification> => {
        const label = labelOf(message);
        this.notificationBehaviour.get(label)?.(Context.current().info.attempt);
        this.sentNotifications.push({ message, label });
        return { status: 'SENT', notificationId: `n-${label}-${this.notifications.length}`, providerId: null };
      },
    };
  }
}
