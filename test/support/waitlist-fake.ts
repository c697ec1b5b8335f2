import { Context } from '@temporalio/activity';
import type { Activities } from '../../activities';
import type { Candidate, OfferedHold, SettleHoldInput, WaitlistActivities } from '../../activities/waitlist';
import type { SkippableNotification } from '../../activities/notifications';
import { pickNextCandidate } from '../../domain/candidates';
import type { NotificationChannel } from '../../domain/notifications';

export interface FakeEntry {
  id: string;
  customerName: string;
  priority: number;
  joinedAt: Date;
  phone: string | null;
  status: 'WAITING' | 'OFFERED' | 'ACCEPTED' | 'DECLINED' | 'EXPIRED' | 'UNREACHABLE' | 'REMOVED';
}

export interface FakeHold extends OfferedHold {
  cascadeId: string;
  round: number;
  status: 'OFFERED' | 'CONFIRMED' | 'DECLINED' | 'EXPIRED' | 'RELEASED';
}

export interface FakeDelivery {
  holdId: string;
  entryId: string;
  channel: NotificationChannel;
  tokenHash: string;
}

/** Decides how one offer notification attempt goes: return normally to deliver, throw to fail. */
export type NotificationBehaviour = (attempt: number) => void;

/**
 * An in-memory stand-in for the waitlist's database and messaging, behind the same activity
 * signatures as the real ones. Workflow tests (and the history recorder) mock at the activity
 * boundary with it, so they exercise the workflow's decisions and Temporal's timers and retries
 * without PostgreSQL or SMTP.
 */
export class FakeWaitlist {
  slotStatus: 'OPEN' | 'CASCADING' | 'ASSIGNED' | 'UNFILLED' = 'OPEN';
  assignedEntryId: string | null = null;
  readonly entries: FakeEntry[] = [];
  readonly holds: FakeHold[] = [];
  readonly deliveries: FakeDelivery[] = [];
  readonly notificationAttempts = new Map<string, number>();
  readonly confirmations: string[] = [];
  readonly escalations: Array<{ offered: number; declined: number; expired: number; unreachable: number }> = [];
  readonly extensions: Array<{ holdId: string; expiresAt: string; actor: string }> = [];
  /** How long each hold lasts, as the tenant or slot setting would say. */
  holdMs = 15 * 60_000;
  /** Per entry ID: how its offer notifications behave (default: delivered). */
  readonly notificationBehaviour = new Map<string, NotificationBehaviour>();
  /** Settling a hold with a gated outcome waits for the gate: lets a test act mid-settlement. */
  readonly settleGates = new Map<SettleHoldInput['outcome'], Promise<void>>();
  readonly settlesStarted: Array<{ holdId: string; outcome: SettleHoldInput['outcome'] }> = [];

  /** Holds `outcome` settlements until the returned function is called. */
  gateSettlement(outcome: SettleHoldInput['outcome']): () => void {
    let open!: () => void;
    this.settleGates.set(outcome, new Promise<void>((resolve) => (open = resolve)));
    return () => open();
  }

  private joined = 0;
  private readonly waiters: Array<{ count: number; resolve: (delivery: FakeDelivery) => void }> = [];

  /** Adds a WAITING entry; later joiners get later `joinedAt`. */
  join(customerName: string, options: { priority?: number; phone?: string } = {}): FakeEntry {
    this.joined += 1;
    const entry: FakeEntry = {
      id: `entry-${this.joined}-${customerName.toLowerCase()}`,
      customerName,
      priority: options.priority ?? 0,
      joinedAt: new Date(Date.UTC(2026, 0, 1) + this.joined * 1000),
      phone: options.phone ?? null,
      status: 'WAITING',
    };
    this.entries.push(entry);
    return entry;
  }

  entry(customerName: string): FakeEntry {
    const found = this.entries.find((entry) => entry.customerName === customerName);
    if (!found) throw new Error(`no entry ${customerName}`);
    return found;
  }

  /** The offer delivered to `customerName` most recently. */
  offerTo(customerName: string): FakeDelivery {
    const { id } = this.entry(customerName);
    const delivery = [...this.deliveries].reverse().find((d) => d.entryId === id);
    if (!delivery) throw new Error(`${customerName} has had no offer`);
    return delivery;
  }

  /** Resolves once `count` offer messages have been delivered in all. */
  delivered(count: number): Promise<FakeDelivery> {
    const ready = this.deliveries[count - 1];
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  private recordDelivery(delivery: FakeDelivery) {
    this.deliveries.push(delivery);
    for (const waiter of this.waiters.filter((w) => w.count <= this.deliveries.length)) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve(this.deliveries[waiter.count - 1]!);
    }
  }

  /** A new hold for a WAITING entry, which becomes OFFERED. */
  private holdFor(cascadeId: string, round: number, entryId: string, expiresAt: Date): FakeHold {
    this.entries.find((e) => e.id === entryId)!.status = 'OFFERED';
    const holdId = `hold-${this.holds.length + 1}`;
    const hold: FakeHold = {
      holdId,
      entryId,
      expiresAt: expiresAt.toISOString(),
      tokenHash: `hash-of-${holdId}`,
      cascadeId,
      round,
      status: 'OFFERED',
    };
    this.holds.push(hold);
    return hold;
  }

  private hold(holdId: string): FakeHold {
    const hold = this.holds.find((h) => h.holdId === holdId);
    if (!hold) throw new Error(`no hold ${holdId}`);
    return hold;
  }

  /** The cascade's activities, typed as the worker registers them. */
  activities(): Pick<Activities, keyof WaitlistActivities> {
    return {
      beginCascade: async () => {
        if (this.slotStatus === 'ASSIGNED') return { status: 'assigned' as const };
        this.slotStatus = 'CASCADING';
        return { status: 'cascading' as const };
      },

      pickNextCandidate: async () => {
        const best = pickNextCandidate(this.entries.filter((entry) => entry.status === 'WAITING'));
        const candidate: Candidate | null = best
          ? { entryId: best.id, customerName: best.customerName, hasPhone: best.phone !== null }
          : null;
        return { candidate, holdMs: this.holdMs };
      },

      createHold: async ({ cascadeId, round, entryId, expiresAt }) => {
        const existing = this.holds.find((h) => h.cascadeId === cascadeId && h.round === round);
        if (existing) return existing;
        const entry = this.entries.find((e) => e.id === entryId);
        if (!entry || entry.status !== 'WAITING') return null;
        return this.holdFor(cascadeId, round, entryId, new Date(expiresAt));
      },

      offerNextCandidate: async ({ cascadeId, round, offeredAt }) => {
        const madeAlready = this.holds.find((h) => h.cascadeId === cascadeId && h.round === round);
        const best =
          madeAlready === undefined
            ? pickNextCandidate(this.entries.filter((entry) => entry.status === 'WAITING'))
            : this.entries.find((entry) => entry.id === madeAlready.entryId);
        if (!best) return null;
        const hold =
          madeAlready ?? this.holdFor(cascadeId, round, best.id, new Date(Date.parse(offeredAt) + this.holdMs));
        return {
          candidate: { entryId: best.id, customerName: best.customerName, hasPhone: best.phone !== null },
          hold,
          offeredAt,
        };
      },

      sendOfferNotification: async ({ holdId, channel }): Promise<SkippableNotification> => {
        const hold = this.hold(holdId);
        const key = `${holdId}:${channel}`;
        const attempt = Context.current().info.attempt;
        this.notificationAttempts.set(key, attempt);
        if (channel === 'SMS') return { status: 'SKIPPED', reason: 'no SMS provider in the fake' };
        this.notificationBehaviour.get(hold.entryId)?.(attempt);
        this.recordDelivery({ holdId, entryId: hold.entryId, channel, tokenHash: hold.tokenHash });
        return { status: 'SENT', notificationId: `n-${key}`, providerId: null };
      },

      settleHold: async ({ holdId, outcome, entryStatus }: SettleHoldInput) => {
        const hold = this.hold(holdId);
        this.settlesStarted.push({ holdId, outcome });
        await this.settleGates.get(outcome);
        if (hold.status !== 'OFFERED') return;
        hold.status = outcome;
        this.entries.find((e) => e.id === hold.entryId)!.status = entryStatus;
      },

      confirmHold: async ({ holdId }) => {
        const hold = this.hold(holdId);
        hold.status = 'CONFIRMED';
        this.entries.find((e) => e.id === hold.entryId)!.status = 'ACCEPTED';
        this.slotStatus = 'ASSIGNED';
        this.assignedEntryId = hold.entryId;
      },

      moveHoldDeadline: async ({ holdId, expiresAt, actor }) => {
        this.hold(holdId).expiresAt = expiresAt;
        this.extensions.push({ holdId, expiresAt, actor });
      },

      sendConfirmation: async ({ holdId }) => {
        this.confirmations.push(holdId);
        return { status: 'SENT' as const, notificationId: `n-confirm-${holdId}`, providerId: null };
      },

      closeUnfilledSlot: async () => {
        this.slotStatus = 'UNFILLED';
      },

      sendEscalation: async ({ counts }) => {
        this.escalations.push(counts);
        return { status: 'SENT' as const, notificationId: `n-escalation-${this.escalations.length}`, providerId: null };
      },

      reopenSlot: async () => {
        if (this.slotStatus === 'CASCADING') this.slotStatus = 'OPEN';
      },
    };
  }
}
