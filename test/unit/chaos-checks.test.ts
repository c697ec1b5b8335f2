import {
  duplicateMessages,
  redeliveredMessages,
  duplicateOffers,
  lostRecords,
  overlappingLiveHolds,
  slotsNotFinal,
  timersThatDidNotFire,
  wrongOutcomes,
  type HoldRecord,
  type ResponderDecision,
  type SlotRecord,
} from '../../bench/chaos/checks';

const t0 = Date.parse('2026-12-02T10:00:00Z');
const at = (seconds: number) => new Date(t0 + seconds * 1000);

function hold(id: string, slotId: string, entryId: string, status: string, from: number, to: number): HoldRecord {
  return {
    id,
    slotId,
    entryId,
    status,
    tokenHash: `hash-${id}`,
    createdAt: at(from),
    updatedAt: at(to),
    expiresAt: at(from + 10),
  };
}

/** A slot whose three candidates expired, declined, then accepted: correct in every respect. */
const goodHolds = [
  hold('h1', 's1', 'e1', 'EXPIRED', 0, 10),
  hold('h2', 's1', 'e2', 'DECLINED', 10.2, 12),
  hold('h3', 's1', 'e3', 'CONFIRMED', 12.1, 15),
];
const goodSlot: SlotRecord = { id: 's1', status: 'ASSIGNED', assignedEntryId: 'e3' };
const goodDecisions = new Map<string, ResponderDecision>([
  ['hash-h2', 'declined'],
  ['hash-h3', 'accepted'],
]);

describe('the fault battery checks', () => {
  it('find no violation in a correct cascade', () => {
    expect(slotsNotFinal([goodSlot])).toEqual([]);
    expect(duplicateOffers(goodHolds)).toEqual([]);
    expect(overlappingLiveHolds(goodHolds)).toEqual([]);
    expect(wrongOutcomes([goodSlot], goodHolds, goodDecisions, 3)).toEqual([]);
    expect(timersThatDidNotFire([goodSlot], goodHolds, at(100)).violations).toEqual([]);
  });

  it('report a slot that never reached ASSIGNED or UNFILLED as not final', () => {
    expect(slotsNotFinal([goodSlot, { id: 's2', status: 'OFFERING', assignedEntryId: null }])).toEqual(['s2']);
  });

  it('report an entry offered twice on one slot as a duplicate offer', () => {
    const twice = [...goodHolds, hold('h4', 's1', 'e3', 'EXPIRED', 20, 30)];
    expect(duplicateOffers(twice)).toEqual(['s1/e3 offered 2 times']);
  });

  it('report a hold created while the previous one of its slot was still live', () => {
    const overlapping = [hold('h1', 's1', 'e1', 'EXPIRED', 0, 10), hold('h2', 's1', 'e2', 'DECLINED', 5, 12)];
    expect(overlappingLiveHolds(overlapping)).toHaveLength(1);
    const twoOpen = [hold('h1', 's1', 'e1', 'OFFERED', 0, 0), hold('h2', 's1', 'e2', 'OFFERED', 5, 5)];
    expect(overlappingLiveHolds(twoOpen, at(8))).toHaveLength(1);
  });

  it('report an offer mailed as two different messages as a duplicate, and a resent one as a redelivery', () => {
    const once = [{ offerToken: 'aaaa', messageId: '<n1@x>' }, {}, { offerToken: 'bbbb', messageId: '<n2@x>' }];
    expect(duplicateMessages(once)).toEqual([]);
    expect(redeliveredMessages(once)).toEqual([]);
    const twoMessages = [...once, { offerToken: 'aaaa', messageId: '<n3@x>' }];
    expect(duplicateMessages(twoMessages)).toEqual(['token …aaaa as 2 different messages']);
    expect(redeliveredMessages(twoMessages)).toEqual([]);
    const resent = [...once, { offerToken: 'aaaa', messageId: '<n1@x>' }];
    expect(duplicateMessages(resent)).toEqual([]);
    expect(redeliveredMessages(resent)).toEqual(['token …aaaa ×2 (one Message-ID)']);
    // Without a Message-ID two copies cannot be told apart from two messages.
    expect(duplicateMessages([{ offerToken: 'cccc' }, { offerToken: 'cccc' }])).toHaveLength(1);
  });

  it('report a record the flows wrote that the database lacks as lost', () => {
    expect(lostRecords(['h1', 'h2'], ['h1', 'h2', 'h3'])).toEqual([]);
    expect(lostRecords(['h1', 'h2'], ['h1'])).toEqual(['h2']);
  });

  it('report an outcome that contradicts the answers given', () => {
    const wrongAssignee = { ...goodSlot, assignedEntryId: 'e2' };
    expect(wrongOutcomes([wrongAssignee], goodHolds, goodDecisions, 3)).toHaveLength(1);
    const declinedButConfirmed = new Map(goodDecisions).set('hash-h3', 'declined');
    expect(wrongOutcomes([goodSlot], goodHolds, declinedButConfirmed, 3)).toHaveLength(1);
    const unfilledEarly: SlotRecord = { id: 's1', status: 'UNFILLED', assignedEntryId: null };
    const twoExpired = [hold('h1', 's1', 'e1', 'EXPIRED', 0, 10), hold('h2', 's1', 'e2', 'EXPIRED', 10, 20)];
    expect(wrongOutcomes([unfilledEarly], twoExpired, new Map(), 3)).toEqual([
      's1: UNFILLED before every candidate was offered',
    ]);
    expect(wrongOutcomes([{ ...unfilledEarly, status: 'OPEN' }], [], new Map(), 3)).toEqual(['s1: not final (OPEN)']);
    // An unanswered offer may expire or be released as undeliverable; an answered one may not be released.
    const released = [hold('h1', 's1', 'e1', 'RELEASED', 0, 3), ...goodHolds.slice(1)];
    expect(wrongOutcomes([goodSlot], released, goodDecisions, 3)).toEqual([]);
    const acceptedButReleased = new Map(goodDecisions).set('hash-h1', 'accepted');
    expect(wrongOutcomes([goodSlot], released, acceptedButReleased, 3)).toHaveLength(1);
  });

  it('report an expired hold its slot never moved on from as a timer that did not fire', () => {
    const stuck: SlotRecord = { id: 's1', status: 'OFFERING', assignedEntryId: null };
    const expiredLast = [hold('h1', 's1', 'e1', 'EXPIRED', 0, 10)];
    expect(timersThatDidNotFire([stuck], expiredLast, at(100)).violations).toHaveLength(1);
    const openPastExpiry = [hold('h1', 's1', 'e1', 'OFFERED', 0, 0)];
    expect(timersThatDidNotFire([stuck], openPastExpiry, at(100)).violations).toHaveLength(1);
    expect(timersThatDidNotFire([goodSlot], goodHolds, at(100)).latenessMs).toEqual([200]);
  });
});
