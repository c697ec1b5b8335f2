import { hashOfferToken } from '../../domain/offer-token';
import { createPrng, decideOffer, poissonArrivals, seedFor } from '../../bench/harness/load';
import {
  declineToNextOffer,
  expiryLateness,
  findOverlaps,
  holdsBySlot,
  judgeBacklogGrowth,
  judgeCascade,
  median,
  percentile,
  stuckReason,
  summarize,
  type HoldRow,
} from '../../bench/harness/metrics';
import { duplicateMessages, redeliveredMessages } from '../../bench/chaos/checks';

const t0 = Date.parse('2026-12-02T12:00:00Z');
const at = (ms: number) => new Date(t0 + ms);

function hold(overrides: Partial<HoldRow> & Pick<HoldRow, 'id' | 'round' | 'status'>): HoldRow {
  return {
    slotId: 'slot-1',
    tokenHash: hashOfferToken(`token-${overrides.id}`),
    createdAt: at(0),
    expiresAt: at(30_000),
    respondedAt: null,
    updatedAt: at(0),
    ...overrides,
  };
}

describe('bench metrics', () => {
  it('takes nearest-rank percentiles and medians across rounds', () => {
    const values = Array.from({ length: 100 }, (_, index) => index + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeUndefined();
    expect(summarize([3, 1, 2])).toEqual({ count: 3, p50: 2, p99: 3, max: 3 });
    expect(median([5, undefined, 1, 3])).toBe(3);
    expect(median([4, 1])).toBe(2.5);
    expect(median([undefined])).toBeUndefined();
  });

  it('pairs an expired hold with the next hold of its slot for the lateness', () => {
    const bySlot = holdsBySlot([
      hold({ id: 'b', round: 2, status: 'OFFERED', createdAt: at(30_400), expiresAt: at(60_400) }),
      hold({ id: 'a', round: 1, status: 'EXPIRED', updatedAt: at(30_300) }),
      hold({ id: 'c', slotId: 'slot-2', round: 1, status: 'EXPIRED', updatedAt: at(30_100) }),
    ]);
    // slot-2's expired hold has no next round: it is not paired.
    expect(expiryLateness(bySlot)).toEqual([400]);
  });

  it('finds a hold created while the previous one was still live', () => {
    const settledInOrder = holdsBySlot([
      hold({ id: 'a', round: 1, status: 'DECLINED', respondedAt: at(5_000), updatedAt: at(5_000) }),
      hold({ id: 'b', round: 2, status: 'OFFERED', createdAt: at(5_060) }),
    ]);
    expect(findOverlaps(settledInOrder)).toEqual([]);

    const overlapping = holdsBySlot([
      hold({ id: 'a', round: 1, status: 'EXPIRED', updatedAt: at(31_000) }),
      hold({ id: 'b', round: 2, status: 'DECLINED', createdAt: at(30_500), respondedAt: at(32_000) }),
      hold({ id: 'c', round: 3, status: 'OFFERED', createdAt: at(31_000) }),
    ]);
    expect(findOverlaps(overlapping)).toEqual([
      { slotId: 'slot-1', previousHoldId: 'a', nextHoldId: 'b', overlapMs: 500 },
      { slotId: 'slot-1', previousHoldId: 'b', nextHoldId: 'c', overlapMs: 1_000 },
    ]);

    const stillLive = holdsBySlot([
      hold({ id: 'a', round: 1, status: 'OFFERED' }),
      hold({ id: 'b', round: 2, status: 'OFFERED', createdAt: at(1_000) }),
    ]);
    expect(findOverlaps(stillLive)[0]?.overlapMs).toBe(Infinity);
  });

  it('times a decline to the next offer and to its message, skipping refused declines', () => {
    const bySlot = holdsBySlot([
      hold({ id: 'a', round: 1, status: 'DECLINED', respondedAt: at(2_050) }),
      hold({ id: 'b', round: 2, status: 'OFFERED', createdAt: at(2_080) }),
    ]);
    const messages = [
      // The same message (one Message-ID) caught twice: a resend, counted as a redelivery, not a duplicate.
      {
        to: 'c2@bench.example',
        subject: 'offer',
        text: '',
        offerToken: 'token-b',
        messageId: '<n2@h>',
        receivedAt: t0 + 2_400,
      },
      {
        to: 'c2@bench.example',
        subject: 'offer',
        text: '',
        offerToken: 'token-b',
        messageId: '<n2@h>',
        receivedAt: t0 + 2_900,
      },
    ];
    const declines = [
      { token: 'token-a', sentAt: t0 + 2_000, status: 200 },
      { token: 'token-a', sentAt: t0 + 2_500, status: 409 },
    ];
    expect(declineToNextOffer(declines, bySlot, messages)).toEqual({ toOffer: [80], toMessage: [400] });
    expect(redeliveredMessages(messages)).toHaveLength(1);
    expect(duplicateMessages(messages)).toHaveLength(0);
  });

  it('judges a backlog that drains once a minute as kept up with, and a rising one as grown', () => {
    const sawtooth = Array.from({ length: 120 }, (_, second) => ({ at: second * 1000, backlog: second % 60 }));
    expect(judgeBacklogGrowth(sawtooth, 3).grew).toBe(false);
    const rising = Array.from({ length: 120 }, (_, second) => ({ at: second * 1000, backlog: second }));
    expect(judgeBacklogGrowth(rising, 3)).toMatchObject({ grew: true, firstHalfMin: 0, secondHalfMin: 60 });
    expect(judgeBacklogGrowth(rising.slice(0, 3), 3).grew).toBe(false);
  });

  it('calls a cascade stuck only once the arm had time to move it on', () => {
    const expired = [hold({ id: 'a', round: 1, status: 'EXPIRED', updatedAt: at(30_200) })];
    expect(judgeCascade('ASSIGNED', expired, t0, t0 + 999_000, 10_000)).toBe('final');
    expect(judgeCascade('CASCADING', expired, t0, t0 + 35_000, 10_000)).toBe('in-flight');
    expect(judgeCascade('CASCADING', expired, t0, t0 + 45_000, 10_000)).toBe('stuck');
    const live = [hold({ id: 'b', round: 1, status: 'OFFERED' })];
    expect(judgeCascade('CASCADING', live, t0, t0 + 35_000, 10_000)).toBe('in-flight');
    expect(judgeCascade('CASCADING', live, t0, t0 + 85_000, 60_000)).toBe('in-flight');
    expect(judgeCascade('CASCADING', live, t0, t0 + 95_000, 10_000)).toBe('stuck');
    expect(judgeCascade('OPEN', [], t0, t0 + 5_000, 10_000)).toBe('in-flight');
    expect(judgeCascade('OPEN', [], t0, t0 + 15_000, 10_000)).toBe('stuck');
    expect(stuckReason([])).toBe('no-first-offer');
    expect(stuckReason(live)).toBe('expiry-not-acted-on');
    expect(stuckReason(expired)).toBe('no-next-offer');
  });
});

describe('bench load', () => {
  it('draws the same answers for the same seed and candidate, in the 30/30/40 mix', () => {
    const decisions = Array.from({ length: 10_000 }, (_, index) => decideOffer(createPrng(seedFor(7, `${index}:1`))));
    const again = Array.from({ length: 10_000 }, (_, index) => decideOffer(createPrng(seedFor(7, `${index}:1`))));
    expect(again).toEqual(decisions);
    const share = (decision: string) => decisions.filter((value) => value === decision).length / decisions.length;
    expect(share('accept')).toBeCloseTo(0.3, 1);
    expect(share('decline')).toBeCloseTo(0.3, 1);
    expect(share('expire')).toBeCloseTo(0.4, 1);
  });

  it('spaces Poisson arrivals at the asked rate, bounded in count and time', () => {
    const arrivals = poissonArrivals(createPrng(1), 10, 100_000, 60_000);
    expect(arrivals.length).toBeGreaterThan(500);
    expect(arrivals.length).toBeLessThan(700);
    expect(arrivals.every((offset, index) => offset < 60_000 && offset >= (arrivals[index - 1] ?? 0))).toBe(true);
    expect(poissonArrivals(createPrng(1), 10, 5, 60_000)).toHaveLength(5);
  });
});
