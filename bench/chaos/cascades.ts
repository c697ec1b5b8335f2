import type { HoldfastStack } from '../lib/holdfast-stack';
import { createBenchSlots } from '../lib/fixtures';
import {
  duplicateMessages,
  duplicateOffers,
  lostRecords,
  overlappingLiveHolds,
  redeliveredMessages,
  slotsNotFinal,
  wrongOutcomes,
  type HoldRecord,
  type ResponderDecision,
  type SlotRecord,
} from './checks';
import {
  readHolds,
  readSlots,
  releaseAll,
  Responder,
  waitForFinalSlots,
  type AnswerMix,
  type ReleaseAnswer,
} from './common';

export const CANDIDATES_PER_SLOT = 5;

export interface CascadeRunOptions {
  stack: HoldfastStack;
  count: number;
  holdSeconds: number;
  mix: AnswerMix;
  random: () => number;
  /** How long, after the fault, the cascades get to reach a final state. */
  finalTimeoutMs: number;
  /** The fault, started once every release has been answered; the cascades are in flight meanwhile. */
  fault: (slotIds: readonly string[]) => Promise<void>;
  log: (line: string) => void;
}

export interface CascadeRunOutcome {
  slotIds: string[];
  releases: ReleaseAnswer[];
  slots: SlotRecord[];
  holds: HoldRecord[];
  decisions: ReadonlyMap<string, ResponderDecision>;
  /** Figures every cascade scenario reports. */
  figures: Record<string, string | number>;
  /** Violations of the checks every cascade scenario runs. */
  violations: string[];
  /** Seconds from the first release until every slot was final (or the time-out). */
  settledSeconds: number;
}

/**
 * The common body of the cascade scenarios (R1, R2, R3, R5): makes `count` slots of five candidates,
 * answers offers by the seeded mix, releases them all, runs the fault while they are in flight,
 * waits (bounded) for every slot to be final, and checks the outcome: all final, no entry offered
 * twice, no two live offers on a slot, no message twice, every hold settled as it was answered,
 * every hold's offer recorded as sent and every caught offer recorded.
 */
export async function runCascadesUnderFault(options: CascadeRunOptions): Promise<CascadeRunOutcome> {
  const { stack, log } = options;
  const slotIds = await createBenchSlots(stack.prisma, {
    tenantId: stack.tenantId,
    count: options.count,
    candidatesPerSlot: CANDIDATES_PER_SLOT,
    holdSeconds: options.holdSeconds,
  });
  const responder = new Responder({
    apiUrl: stack.apiUrl,
    catcher: stack.catcher,
    mix: options.mix,
    random: options.random,
    // Early in the hold: on a busy machine the message itself may arrive seconds after the hold began.
    answerWithinMs: options.holdSeconds * 250,
  });
  const startedAt = Date.now();
  const releases = await releaseAll(stack.apiUrl, stack.operatorToken, slotIds);
  const refused = releases.filter((answer) => answer.status !== 202);
  log(`released ${slotIds.length - refused.length}/${slotIds.length} cascades`);

  await options.fault(slotIds);

  const final = await waitForFinalSlots(stack.prisma, slotIds, options.finalTimeoutMs, (count) =>
    log(`${count}/${slotIds.length} cascades final`),
  );
  const settledSeconds = (Date.now() - startedAt) / 1000;
  await responder.stop();

  const slots = await readSlots(stack.prisma, slotIds);
  const holds = await readHolds(stack.prisma, slotIds);
  const slotShortIds = new Set(slotIds.map((id) => id.slice(0, 8)));
  const caught = stack.catcher
    .messages()
    .filter((message) => message.offerToken && slotShortIds.has(message.to.split('@')[0]!.split('.')[1] ?? ''));
  const notifications = await stack.prisma.notification.findMany({
    where: { idempotencyKey: { in: holds.map((hold) => `offer:${hold.id}:email`) } },
    select: { id: true, idempotencyKey: true, status: true },
  });
  const sentKeys = notifications.filter((row) => row.status === 'SENT').map((row) => row.idempotencyKey);
  const sentIds = notifications.filter((row) => row.status === 'SENT').map((row) => row.id);

  const violations = [
    ...refused.map((answer) => `release of ${answer.slotId} answered ${answer.status || answer.error}`),
    ...slotsNotFinal(slots).map((slotId) => `${slotId}: not final`),
    ...duplicateOffers(holds),
    ...overlappingLiveHolds(holds),
    ...duplicateMessages(caught),
    ...wrongOutcomes(slots, holds, responder.decisions, CANDIDATES_PER_SLOT).filter(
      (line) => !line.includes('not final'),
    ),
    ...lostRecords(
      // A RELEASED hold's offer could not be delivered (R7's failing SMTP): R7 checks those against the policy.
      holds.filter((hold) => hold.status !== 'RELEASED').map((hold) => `offer:${hold.id}:email`),
      sentKeys,
    ).map((key) => `no SENT notification for ${key}`),
    ...lostRecords(
      caught.flatMap((message) => (message.notificationId ? [message.notificationId] : [])),
      sentIds,
    ).map((id) => `caught message of notification ${id} not recorded as SENT`),
  ];
  const figures: Record<string, string | number> = {
    cascades: slotIds.length,
    final: `${final}/${slotIds.length}`,
    assigned: slots.filter((slot) => slot.status === 'ASSIGNED').length,
    unfilled: slots.filter((slot) => slot.status === 'UNFILLED').length,
    holds: holds.length,
    offerMessages: caught.length,
    duplicateOffers: duplicateOffers(holds).length,
    overlappingOffers: overlappingLiveHolds(holds).length,
    duplicateMessages: duplicateMessages(caught).length,
    redeliveredMessages: redeliveredMessages(caught).length,
    answers: describeDecisions(responder.decisions),
    answersSent: responder.counts.sent,
    answerAttemptsFailed: responder.counts.failedAttempts,
    settledSeconds: Math.round(settledSeconds),
  };
  return { slotIds, releases, slots, holds, decisions: responder.decisions, figures, violations, settledSeconds };
}

/**
 * Milliseconds from `since` until the cascades next moved: a hold of theirs created or settled
 * after `since`. Polls every 250 ms, at most `timeoutMs`; undefined if nothing moved (or every
 * slot was already final).
 */
export async function nextProgressAfter(
  stack: HoldfastStack,
  slotIds: readonly string[],
  since: number,
  timeoutMs: number,
): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  const after = new Date(since);
  while (Date.now() < deadline) {
    try {
      const moved = await stack.prisma.hold.findFirst({
        where: { slotId: { in: [...slotIds] }, OR: [{ createdAt: { gt: after } }, { updatedAt: { gt: after } }] },
        orderBy: { updatedAt: 'asc' },
        select: { createdAt: true, updatedAt: true },
      });
      if (moved) {
        const first = Math.min(
          ...[moved.createdAt, moved.updatedAt].map((at) => at.getTime()).filter((at) => at > since),
        );
        return first - since;
      }
      const open = await stack.prisma.slot.count({
        where: { id: { in: [...slotIds] }, status: { notIn: ['ASSIGNED', 'UNFILLED'] } },
      });
      if (open === 0) return undefined;
    } catch {
      // The database may be down (R3): ask again.
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return undefined;
}

/** "accepted 12, declined 10, ignored 20, too-late 3": what the responder made of the offers. */
function describeDecisions(decisions: ReadonlyMap<string, ResponderDecision>): string {
  const counts = new Map<ResponderDecision, number>();
  for (const decision of decisions.values()) counts.set(decision, (counts.get(decision) ?? 0) + 1);
  return [...counts].map(([decision, count]) => `${decision} ${count}`).join(', ') || 'none';
}
