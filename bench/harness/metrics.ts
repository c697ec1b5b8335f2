import { hashOfferToken } from '../../domain/offer-token';
import type { PrismaClient } from '../../lib/db';
import type { CaughtMessage } from '../lib/arm';
import { duplicateMessages, redeliveredMessages } from '../chaos/checks';

/**
 * The bench's measurements, read the same way for every arm: from the arm's application database
 * (Hold, Slot and Notification rows, the same tables for all arms), the catcher's messages and the
 * load generator's client-side timings. The pure parts (percentiles, pairing, judgements) are
 * exported for test/unit/bench-metrics.test.ts.
 */

/** p50/p99/max of a set of figures (milliseconds unless said otherwise); `count` 0 leaves them undefined. */
export interface Summary {
  count: number;
  p50?: number;
  p99?: number;
  max?: number;
}

/** Nearest-rank percentile (0 < p ≤ 100) of unsorted values; undefined for none. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { count: 0 };
  return {
    count: values.length,
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: Math.max(...values),
  };
}

/** The median of figures across rounds (the mean of the middle two for an even count); undefined for none. */
export function median(values: readonly (number | undefined)[]): number | undefined {
  const present = values.filter((value): value is number => value !== undefined && Number.isFinite(value));
  if (present.length === 0) return undefined;
  const sorted = [...present].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The Hold columns the metrics read. */
export interface HoldRow {
  id: string;
  slotId: string;
  round: number;
  status: 'OFFERED' | 'CONFIRMED' | 'DECLINED' | 'EXPIRED' | 'RELEASED';
  tokenHash: string;
  createdAt: Date;
  expiresAt: Date;
  respondedAt: Date | null;
  updatedAt: Date;
}

/** Each slot's holds in the order they were offered. */
export function holdsBySlot(holds: readonly HoldRow[]): Map<string, HoldRow[]> {
  const bySlot = new Map<string, HoldRow[]>();
  for (const hold of holds) {
    const list = bySlot.get(hold.slotId) ?? [];
    list.push(hold);
    bySlot.set(hold.slotId, list);
  }
  for (const list of bySlot.values()) {
    list.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.round - b.round);
  }
  return bySlot;
}

/**
 * When a hold stopped being live: an answer sets `respondedAt`; an expiry or a release only changes the
 * status, so its row's `updatedAt` (Prisma's @updatedAt, set by that write) is the settling instant.
 */
export function settledAt(hold: HoldRow): Date | undefined {
  if (hold.status === 'OFFERED') return undefined;
  return hold.respondedAt ?? hold.updatedAt;
}

/** Hold-expiry lateness (ms): the next hold's createdAt − the EXPIRED hold's expiresAt, per expired hold with a next round. */
export function expiryLateness(bySlot: ReadonlyMap<string, readonly HoldRow[]>): number[] {
  const lateness: number[] = [];
  for (const holds of bySlot.values()) {
    holds.forEach((hold, index) => {
      const next = holds[index + 1];
      if (hold.status === 'EXPIRED' && next) lateness.push(next.createdAt.getTime() - hold.expiresAt.getTime());
    });
  }
  return lateness;
}

/** A hold created while its slot's previous hold was still live. */
export interface Overlap {
  slotId: string;
  previousHoldId: string;
  nextHoldId: string;
  /** How long both were live (ms); Infinity when the previous one is still OFFERED. */
  overlapMs: number;
}

/** Post-hoc check: every hold must be created after the previous hold of its slot was settled. */
export function findOverlaps(bySlot: ReadonlyMap<string, readonly HoldRow[]>): Overlap[] {
  const overlaps: Overlap[] = [];
  for (const [slotId, holds] of bySlot) {
    holds.forEach((hold, index) => {
      const next = holds[index + 1];
      if (!next) return;
      const settled = settledAt(hold);
      const overlapMs = settled === undefined ? Infinity : settled.getTime() - next.createdAt.getTime();
      if (overlapMs > 0) overlaps.push({ slotId, previousHoldId: hold.id, nextHoldId: next.id, overlapMs });
    });
  }
  return overlaps;
}

/** A decline the load generator sent, with its client-side instant. */
export interface SentDecline {
  token: string;
  sentAt: number;
  /** HTTP status of the answer; only accepted declines (2xx) are paired. */
  status: number;
}

/** Decline → next offer: to the next hold's createdAt, and to its message in the catcher (ms). */
export function declineToNextOffer(
  declines: readonly SentDecline[],
  bySlot: ReadonlyMap<string, readonly HoldRow[]>,
  messages: readonly CaughtMessage[],
): { toOffer: number[]; toMessage: number[] } {
  const position = new Map<string, { holds: readonly HoldRow[]; index: number }>();
  for (const holds of bySlot.values()) holds.forEach((hold, index) => position.set(hold.tokenHash, { holds, index }));
  const firstMessageAt = new Map<string, number>();
  for (const message of messages) {
    if (!message.offerToken) continue;
    const hash = hashOfferToken(message.offerToken);
    const known = firstMessageAt.get(hash);
    if (known === undefined || message.receivedAt < known) firstMessageAt.set(hash, message.receivedAt);
  }
  const toOffer: number[] = [];
  const toMessage: number[] = [];
  for (const decline of declines) {
    if (decline.status < 200 || decline.status >= 300) continue;
    const found = position.get(hashOfferToken(decline.token));
    const next = found?.holds[found.index + 1];
    if (!next) continue;
    toOffer.push(next.createdAt.getTime() - decline.sentAt);
    const messageAt = firstMessageAt.get(next.tokenHash);
    if (messageAt !== undefined) toMessage.push(messageAt - decline.sentAt);
  }
  return { toOffer, toMessage };
}

export interface BacklogSample {
  at: number;
  backlog: number;
}

/**
 * Whether a backlog grew over a load step. The lowest backlog of the step's second half is compared with
 * that of its first half: a backlog that drains in bursts (B-poll empties its expired holds once a minute)
 * then still counts as kept up with, as long as each half spans one burst period. It grew when the later
 * trough is higher by more than `tolerance` items.
 */
export function judgeBacklogGrowth(
  samples: readonly BacklogSample[],
  tolerance: number,
): { grew: boolean; firstHalfMin?: number; secondHalfMin?: number; last?: number } {
  if (samples.length < 4) return { grew: false };
  const sorted = [...samples].sort((a, b) => a.at - b.at);
  const middle = sorted[0]!.at + (sorted[sorted.length - 1]!.at - sorted[0]!.at) / 2;
  const first = sorted.filter((sample) => sample.at <= middle).map((sample) => sample.backlog);
  const second = sorted.filter((sample) => sample.at > middle).map((sample) => sample.backlog);
  if (first.length === 0 || second.length === 0) return { grew: false };
  const firstHalfMin = Math.min(...first);
  const secondHalfMin = Math.min(...second);
  return {
    grew: secondHalfMin > firstHalfMin + tolerance,
    firstHalfMin,
    secondHalfMin,
    last: sorted[sorted.length - 1]!.backlog,
  };
}

/** How a released slot stands after the drain. */
export type CascadeStanding = 'final' | 'in-flight' | 'stuck';

/**
 * Judges one released slot after the drain. Final: ASSIGNED or UNFILLED. In flight: a live hold whose
 * deadline (plus the arm's expiry allowance) has not passed, or a hold settled (or the release sent)
 * less than the allowance ago. Stuck otherwise: nothing is live and the arm's own mechanism (a durable
 * timer, a delayed job, a minute poll) should have moved it on by now.
 */
export function judgeCascade(
  slotStatus: string,
  holds: readonly HoldRow[],
  releasedAt: number,
  now: number,
  expiryAllowanceMs: number,
): CascadeStanding {
  if (slotStatus === 'ASSIGNED' || slotStatus === 'UNFILLED') return 'final';
  const last = holds[holds.length - 1];
  if (!last) return now - releasedAt <= expiryAllowanceMs ? 'in-flight' : 'stuck';
  if (last.status === 'OFFERED') {
    return now - last.expiresAt.getTime() <= expiryAllowanceMs ? 'in-flight' : 'stuck';
  }
  const settled = settledAt(last)!.getTime();
  return now - settled <= expiryAllowanceMs ? 'in-flight' : 'stuck';
}

/** Why a stuck cascade stands still: no first offer, a deadline nobody acted on, or no next offer after a settle. */
export function stuckReason(holds: readonly HoldRow[]): 'no-first-offer' | 'expiry-not-acted-on' | 'no-next-offer' {
  const last = holds[holds.length - 1];
  if (!last) return 'no-first-offer';
  return last.status === 'OFFERED' ? 'expiry-not-acted-on' : 'no-next-offer';
}

// --- From the database --------------------------------------------------------------------------

/** The holds of the given slots. */
export async function readHolds(prisma: PrismaClient, slotIds: readonly string[]): Promise<HoldRow[]> {
  const rows: HoldRow[] = [];
  // Bounded IN lists keep each query small however many cascades ran.
  for (let start = 0; start < slotIds.length; start += 2_000) {
    const page = await prisma.hold.findMany({
      where: { slotId: { in: slotIds.slice(start, start + 2_000) } },
      select: {
        id: true,
        slotId: true,
        round: true,
        status: true,
        tokenHash: true,
        createdAt: true,
        expiresAt: true,
        respondedAt: true,
        updatedAt: true,
      },
    });
    rows.push(...page);
  }
  return rows;
}

async function readSlotStatuses(prisma: PrismaClient, slotIds: readonly string[]): Promise<Map<string, string>> {
  const statuses = new Map<string, string>();
  for (let start = 0; start < slotIds.length; start += 2_000) {
    const page = await prisma.slot.findMany({
      where: { id: { in: slotIds.slice(start, start + 2_000) } },
      select: { id: true, status: true },
    });
    for (const slot of page) statuses.set(slot.id, slot.status);
  }
  return statuses;
}

/** Offer Notification rows per hold beyond one (the ledger's key is unique, so this checks the key scheme held). */
async function duplicateOfferNotifications(prisma: PrismaClient, holdIds: readonly string[]): Promise<number> {
  let duplicates = 0;
  for (let start = 0; start < holdIds.length; start += 500) {
    const page = holdIds.slice(start, start + 500);
    const rows = await prisma.notification.findMany({
      where: { OR: page.map((holdId) => ({ idempotencyKey: { startsWith: `offer:${holdId}:email` } })) },
      select: { idempotencyKey: true, status: true },
    });
    const perHold = new Map<string, number>();
    for (const row of rows) {
      if (row.status !== 'SENT') continue;
      const holdId = row.idempotencyKey.split(':')[1] ?? '';
      perHold.set(holdId, (perHold.get(holdId) ?? 0) + 1);
    }
    for (const count of perHold.values()) duplicates += count - 1;
  }
  return duplicates;
}

/**
 * Samples, every `everyMs`, the slots of the tenant holding two live (OFFERED) holds at once, and the
 * backlog: released slots still waiting for their first offer, plus slots whose latest hold is settled
 * (or OFFERED past its deadline) and whose next offer has not been made yet. Bounded by `maxDurationMs`.
 */
export function startLiveSampler(
  prisma: PrismaClient,
  options: { tenantId: string; releasedSlotIds: () => readonly string[]; everyMs?: number; maxDurationMs: number },
): { stop(): Promise<LiveSamples>; backlog(): readonly BacklogSample[] } {
  const everyMs = options.everyMs ?? 1_000;
  const startedAt = Date.now();
  const doubleOffered = new Set<string>();
  const backlog: BacklogSample[] = [];
  let samples = 0;
  let failures = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped && Date.now() - startedAt < options.maxDurationMs) {
      const began = Date.now();
      try {
        const doubles = await prisma.$queryRaw<{ slotId: string }[]>`
          SELECT "slotId" FROM "Hold" WHERE status = 'OFFERED' AND "tenantId" = ${options.tenantId}
          GROUP BY "slotId" HAVING count(*) > 1`;
        for (const row of doubles) doubleOffered.add(row.slotId);
        const waitingNext = await prisma.$queryRaw<{ waiting: bigint }[]>`
          WITH latest AS (
            SELECT DISTINCT ON ("slotId") "slotId", status, "expiresAt" FROM "Hold"
            WHERE "tenantId" = ${options.tenantId} ORDER BY "slotId", "createdAt" DESC
          )
          SELECT count(*) AS waiting FROM latest l JOIN "Slot" s ON s.id = l."slotId"
          WHERE s.status NOT IN ('ASSIGNED', 'UNFILLED')
            AND ((l.status = 'OFFERED' AND l."expiresAt" < now()) OR l.status IN ('DECLINED', 'EXPIRED', 'RELEASED'))`;
        const released = options.releasedSlotIds();
        let waitingFirst = 0;
        for (let start = 0; start < released.length; start += 2_000) {
          waitingFirst += await prisma.slot.count({
            where: { id: { in: released.slice(start, start + 2_000) }, holds: { none: {} } },
          });
        }
        backlog.push({ at: began, backlog: Number(waitingNext[0]?.waiting ?? 0) + waitingFirst });
        samples += 1;
      } catch {
        failures += 1;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, everyMs - (Date.now() - began))));
    }
  })();
  return {
    backlog: () => backlog,
    async stop() {
      stopped = true;
      await loop;
      return { samples, failures, slotsWithTwoLiveOffers: [...doubleOffered], backlog };
    },
  };
}

export interface LiveSamples {
  samples: number;
  failures: number;
  slotsWithTwoLiveOffers: string[];
  backlog: BacklogSample[];
}

/** Everything measured for one load run of one arm. */
export interface RunMetrics {
  cascadesReleased: number;
  releaseFailures: number;
  holdsCreated: number;
  holdsSettled: number;
  /** Offers made plus holds settled, per second of the run's window. */
  stepsPerSecond: number;
  expiryLatenessMs: Summary;
  declineToOfferMs: Summary;
  declineToMessageMs: Summary;
  apiStartMs: Summary;
  correctness: {
    slotsWithTwoLiveOffersLive: number;
    liveSamples: number;
    overlapsPostHoc: number;
    cascadesFinal: number;
    cascadesInFlight: number;
    cascadesStuck: number;
    /** Stuck cascades by reason (see {@link stuckReason}). */
    stuckReasons: Record<string, number>;
    /** Stuck: not final and no longer moving (see `judgedBy`). */
    cascadesLost: number;
    judgedBy: string;
    duplicateMessagesCatcher: number;
    /** One message (one Message-ID) the SMTP server took twice: a resend after a stop mid-send; not a duplicate. */
    messagesRedelivered: number;
    duplicateOfferNotifications: number;
  };
  /** Per process role: CPU-seconds per 1,000 steps, and peak RSS (MB). */
  processes: Record<string, { cpuSeconds: number; cpuSecondsPer1000Steps?: number; peakRssMb: number }>;
}

export interface MeasureInput {
  prisma: PrismaClient;
  releases: readonly { slotId: string; sentAt: number; answeredAt: number; status: number }[];
  declines: readonly SentDecline[];
  messages: readonly CaughtMessage[];
  live: LiveSamples;
  windowStart: number;
  windowEnd: number;
  /** How long after a hold's deadline (or a settle) the arm's own mechanism may take to move on. */
  expiryAllowanceMs: number;
  processUsage: Record<string, { cpuSeconds: number; peakRssBytes: number }>;
}

/** Reads the run's rows and computes every figure. */
export async function measureRun(input: MeasureInput): Promise<RunMetrics> {
  const released = input.releases.filter((release) => release.status >= 200 && release.status < 300);
  const releasedAt = new Map(released.map((release) => [release.slotId, release.sentAt]));
  const slotIds = [...releasedAt.keys()];
  const holds = await readHolds(input.prisma, slotIds);
  const bySlot = holdsBySlot(holds);
  const statuses = await readSlotStatuses(input.prisma, slotIds);
  const now = Date.now();
  const standings = { final: 0, 'in-flight': 0, stuck: 0 };
  const stuckReasons: Record<string, number> = {};
  for (const slotId of slotIds) {
    const standing = judgeCascade(
      statuses.get(slotId) ?? 'OPEN',
      bySlot.get(slotId) ?? [],
      releasedAt.get(slotId)!,
      now,
      input.expiryAllowanceMs,
    );
    standings[standing] += 1;
    if (standing === 'stuck') {
      const reason = stuckReason(bySlot.get(slotId) ?? []);
      stuckReasons[reason] = (stuckReasons[reason] ?? 0) + 1;
    }
  }
  const settled = holds.filter((hold) => settledAt(hold) !== undefined).length;
  const windowSeconds = Math.max(1, (input.windowEnd - input.windowStart) / 1000);
  const inWindow = (at: Date | undefined) =>
    at !== undefined && at.getTime() >= input.windowStart && at.getTime() <= input.windowEnd;
  const stepsInWindow =
    holds.filter((hold) => inWindow(hold.createdAt)).length + holds.filter((hold) => inWindow(settledAt(hold))).length;
  const steps = holds.length + settled;
  const declinePairs = declineToNextOffer(input.declines, bySlot, input.messages);
  const runTokenHashes = new Set(holds.map((hold) => hold.tokenHash));
  const runMessages = input.messages.filter(
    (message) => message.offerToken !== undefined && runTokenHashes.has(hashOfferToken(message.offerToken)),
  );
  const processes: RunMetrics['processes'] = {};
  for (const [role, usage] of Object.entries(input.processUsage)) {
    processes[role] = {
      cpuSeconds: usage.cpuSeconds,
      cpuSecondsPer1000Steps: steps > 0 ? (usage.cpuSeconds / steps) * 1000 : undefined,
      peakRssMb: usage.peakRssBytes / 1024 / 1024,
    };
  }
  return {
    cascadesReleased: released.length,
    releaseFailures: input.releases.length - released.length,
    holdsCreated: holds.length,
    holdsSettled: settled,
    stepsPerSecond: stepsInWindow / windowSeconds,
    expiryLatenessMs: summarize(expiryLateness(bySlot)),
    declineToOfferMs: summarize(declinePairs.toOffer),
    declineToMessageMs: summarize(declinePairs.toMessage),
    apiStartMs: summarize(released.map((release) => release.answeredAt - release.sentAt)),
    correctness: {
      slotsWithTwoLiveOffersLive: input.live.slotsWithTwoLiveOffers.filter((slotId) => releasedAt.has(slotId)).length,
      liveSamples: input.live.samples,
      overlapsPostHoc: findOverlaps(bySlot).length,
      cascadesFinal: standings.final,
      cascadesInFlight: standings['in-flight'],
      cascadesStuck: standings.stuck,
      stuckReasons,
      cascadesLost: standings.stuck,
      judgedBy: `lost = stuck: not final, and no offer made or hold settled for more than ${Math.round(input.expiryAllowanceMs / 1000)} s (the arm's expiry allowance) after the last one was due; a cascade still moving when the drain ended is in flight, not lost`,
      duplicateMessagesCatcher: duplicateMessages(runMessages).length,
      messagesRedelivered: redeliveredMessages(runMessages).length,
      duplicateOfferNotifications: await duplicateOfferNotifications(
        input.prisma,
        holds.map((hold) => hold.id),
      ),
    },
    processes,
  };
}
