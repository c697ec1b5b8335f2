import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { OfferedCandidate } from '../activities/waitlist';
import { CASCADE_ACTOR, MAX_EXTEND_MINUTES } from '../domain/holds';
import {
  AttentionStop,
  boundsRequestWaits,
  isPending,
  pending,
  rejectionFor,
  settledWithin,
  stepFailure,
} from './attention';
import { cascadeReached, countHoldExpired, countOfferSent } from './metrics';
import { localFirst } from './local-first';
import { OfferDesk } from './offer';
import { fiveMessageAttempts, untilTheDatabaseAnswers } from './retry-profiles';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from './search-attributes';
import {
  activitySummary,
  carriedRunDetails,
  timerSummary,
  waitlistCascadeMetadata,
  waitlistCurrentDetails,
} from './summaries';
import { requireStorableText } from './validation';
import {
  acceptOfferUpdate,
  CascadeRejection,
  declineOfferUpdate,
  DEFAULT_MAX_ROUNDS_PER_RUN,
  expireHoldNowUpdate,
  extendHoldUpdate,
  getCascadeStateQuery,
  HoldRejection,
  OFFER_HISTORY_LIMIT,
  type CarriedCascade,
  type CascadeState,
  type CascadeStatus,
  type ExpireHoldNowInput,
  type ExpireHoldNowResult,
  type ExtendHoldResult,
  type OfferCounts,
  type OfferOutcome,
  type OfferResponseInput,
  type OfferResponseResult,
  type OfferTotals,
  type WaitlistCascadeInput,
  type WaitlistCascadeResult,
} from './waitlist-cascade.contract';

// Database writes retry until the database answers; a refused write stops the cascade in NEEDS_ATTENTION.
const queuedDatabaseSteps = proxyActivities<Activities>(untilTheDatabaseAnswers);
const localFirstDatabaseSteps = localFirst<Activities>(untilTheDatabaseAnswers);
// Only runs recorded before the one-activity offer step pick and hold apart.
const { pickNextCandidate, createHold } = queuedDatabaseSteps;

const { sendOfferNotification, sendConfirmation, sendEscalation } = proxyActivities<Activities>(fiveMessageAttempts);

export * from './waitlist-cascade.contract';

/**
 * Runs with this marker pick the next candidate and make their hold in one activity: one workflow task
 * fewer per offer. Runs recorded before it picked and held in two, and replay so.
 */
const OFFER_IN_ONE_STEP = 'waitlist-offer-in-one-step';

/**
 * Runs with this marker try each row write once in the worker that runs the workflow task (a local
 * activity), and queue it only when that attempt fails in a way a retry could fix (`localFirst`). A
 * decline or an expiry then settles the hold and makes the next one in one workflow task, where a
 * queued write takes a dispatch, a server write and another workflow task each. Runs recorded before
 * the marker queued every write, and replay so.
 */
const DATABASE_STEPS_IN_THE_WORKER = 'waitlist-database-steps-in-the-worker';

/** The cascade's row writes, local first or queued as this point of the run was, or will be, recorded. */
const databaseSteps = () => (patched(DATABASE_STEPS_IN_THE_WORKER) ? localFirstDatabaseSteps : queuedDatabaseSteps);

const totalOf: Record<OfferOutcome, keyof OfferTotals> = {
  CONFIRMED: 'confirmed',
  DECLINED: 'declined',
  EXPIRED: 'expired',
  UNREACHABLE: 'unreachable',
  RELEASED: 'released',
};

const emptyTotals = (): OfferTotals => ({
  offered: 0,
  confirmed: 0,
  declined: 0,
  expired: 0,
  unreachable: 0,
  released: 0,
});

const reject = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });

/**
 * Offers a freed slot to its waitlist, one candidate at a time, until someone accepts or the
 * list runs out. Each round: pick the best WAITING entry, create a hold with a signed response
 * token, notify by email (and SMS), then wait for an answer until the hold expires — a durable
 * timer, so nothing polls. Decline, expiry and undeliverable notifications all move on to the
 * next round.
 *
 * Outcomes: `confirmed` (slot ASSIGNED), `unfilled` (list exhausted: slot UNFILLED, admin
 * escalated), `already-assigned` (nothing to do). Cancellation releases the open hold and
 * reopens the slot in non-cancellable cleanup, then rethrows, so the run shows as Cancelled.
 *
 * A step that fails for good (the database refuses its data, the slot is gone, …) is never retried
 * forever: the cascade stops in NEEDS_ATTENTION with the step and the reason in the query, releases
 * the open hold and reopens the slot, refuses pending answers with NEEDS_ATTENTION, and fails with
 * `NeedsAttention`. Database outages are retried until the database is back.
 *
 * Continues as new when the server suggests it or after `maxRoundsPerRun` rounds, carrying the
 * round counter, the totals and the latest offers, so history stays bounded for any list size.
 *
 * @param input the tenant and slot; `carried` only from continue-as-new.
 */
export async function waitlistCascadeWorkflow(input: WaitlistCascadeInput): Promise<WaitlistCascadeResult> {
  const { tenantId, slotId } = input;
  const info = workflowInfo();
  const state: CascadeState = {
    tenantId,
    slotId,
    cascadeId: input.carried?.cascadeId ?? `${info.workflowId}:${info.firstExecutionRunId}`,
    status: 'OFFERING',
    round: input.carried?.round ?? 0,
    currentHold: null,
    offers: input.carried?.offers ?? [],
    totals: input.carried?.totals ?? emptyTotals(),
    failure: null,
    startedAt: input.carried?.startedAt ?? new Date().toISOString(),
  };
  const ref = { tenantId, slotId, cascadeId: state.cascadeId };
  /** The open hold: its token, its movable deadline and its answer. */
  const holds = new OfferDesk<'accept' | 'decline', OfferOutcome>(
    {
      superseded: HoldRejection.Superseded,
      alreadyAnswered: HoldRejection.AlreadyResponded,
      expired: HoldRejection.Expired,
    },
    { expired: 'The hold on this offer has expired' },
  );

  /** Once a step failed for good: the cascade stopped, and requests are refused with NEEDS_ATTENTION. */
  const attention = new AttentionStop('The cascade', 'the cascade', state);

  /**
   * What the Web UI shows the cascade doing now: the candidate (by round) and the hold's deadline,
   * after the cascade's summary on a run carried over by continue-as-new (which has no summary).
   */
  const showDetails = () =>
    setCurrentDetails(
      carriedRunDetails(
        input.carried !== undefined,
        workflowInfo().memo,
        waitlistCascadeMetadata({ tenantId, slotId }).staticSummary,
        waitlistCurrentDetails(state),
      ),
    );

  /** The operator who expired the open hold now (`expireHoldNow`), recorded as the expiry's actor. */
  let expiredNowBy: { holdId: string; actor: string } | undefined;

  const validateResponse = ({ tokenHash }: OfferResponseInput) => {
    attention.refuseWhenStopped();
    requireStorableText({ tokenHash });
    holds.validate(tokenHash);
  };
  const respond = (decision: 'accept' | 'decline') => async (): Promise<OfferResponseResult> => {
    // A step that fails for good settles nothing: the answer is refused rather than left waiting.
    const outcome = await holds.answerAndAwait(decision, () => attention.stopped);
    if (isPending(outcome)) return outcome;
    // A hold released while the cascade stops was not this answer's doing.
    if (outcome === undefined || (attention.stopped && outcome !== 'CONFIRMED')) throw attention.refusal();
    return { status: outcome === 'CONFIRMED' ? 'confirmed' : 'declined' };
  };

  setHandler(getCascadeStateQuery, () => state);
  setHandler(acceptOfferUpdate, respond('accept'), { validator: validateResponse });
  setHandler(declineOfferUpdate, respond('decline'), { validator: validateResponse });
  setHandler(
    extendHoldUpdate,
    async ({ minutes, actor }): Promise<ExtendHoldResult> => {
      const hold = state.currentHold!;
      const previous = hold.expiresAt;
      const expiresAt = new Date(Date.parse(previous) + minutes * 60_000).toISOString();
      // The deadline moves before the write, so the running timer cannot expire the hold meanwhile.
      hold.expiresAt = expiresAt;
      showDetails();
      // Not written, so the hold keeps the deadline the database and the candidate know.
      const restore = () => {
        if (hold.expiresAt === expiresAt) hold.expiresAt = previous;
        showDetails();
      };
      const bounded = boundsRequestWaits();
      const write = databaseSteps().moveHoldDeadline({ tenantId, holdId: hold.holdId, expiresAt, actor });
      try {
        if (!bounded) await write;
        else {
          const written = await settledWithin(write, (error) => {
            restore();
            log.warn('An extension answered pending could not be written; the hold keeps its deadline', {
              holdId: hold.holdId,
              type: stepFailure(error, '').type,
            });
          });
          if (!written) return { holdId: hold.holdId, expiresAt, ...pending() };
        }
      } catch (error) {
        restore();
        throw rejectionFor(error, 'EXTENSION_FAILED') ?? error;
      }
      return { holdId: hold.holdId, expiresAt };
    },
    {
      validator: ({ minutes, actor }) => {
        attention.refuseWhenStopped();
        requireStorableText({ actor });
        if (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_EXTEND_MINUTES) {
          throw reject(
            CascadeRejection.InvalidExtension,
            `minutes must be a whole number from 1 to ${MAX_EXTEND_MINUTES}`,
          );
        }
        if (!holds.isAnswerable) {
          throw reject(CascadeRejection.NoActiveHold, 'There is no open offer to extend');
        }
      },
    },
  );

  setHandler(
    expireHoldNowUpdate,
    ({ actor }: ExpireHoldNowInput): ExpireHoldNowResult => {
      const hold = state.currentHold!;
      // The OfferDesk reads the deadline at every check: moved to now, its wait wakes and the hold
      // expires as if its time had run out, without a new timer or a change to the wait itself.
      hold.expiresAt = new Date().toISOString();
      expiredNowBy = { holdId: hold.holdId, actor };
      showDetails();
      return { holdId: hold.holdId, expiredAt: hold.expiresAt };
    },
    {
      validator: (request: ExpireHoldNowInput | undefined) => {
        attention.refuseWhenStopped();
        if (!holds.isAnswerable || !state.currentHold) {
          throw reject(CascadeRejection.NoOpenHold, 'There is no open hold to expire');
        }
        requireStorableText({ actor: request?.actor });
      },
    },
  );

  upsertSearchAttributes([
    { key: TenantIdKey, value: tenantId },
    { key: BusinessKeyKey, value: slotId },
    { key: FlowStatusKey, value: 'OFFERING' },
  ]);

  showDetails();

  const setStatus = (status: CascadeStatus) => {
    state.status = status;
    showDetails();
    upsertSearchAttributes([{ key: FlowStatusKey, value: status }]);
    cascadeReached(status, state.startedAt);
  };

  const record = (outcome: OfferOutcome) => {
    const hold = state.currentHold!;
    state.offers.push({ ...hold, outcome, settledAt: new Date().toISOString() });
    if (state.offers.length > OFFER_HISTORY_LIMIT) state.offers.splice(0, state.offers.length - OFFER_HISTORY_LIMIT);
    state.totals[totalOf[outcome]] += 1;
    if (outcome === 'EXPIRED') countHoldExpired('waitlist');
    holds.settle(hold.holdId, outcome);
    state.currentHold = null;
    showDetails();
  };

  const counts = (): OfferCounts => {
    const { offered, declined, expired, unreachable } = state.totals;
    return { offered, declined, expired, unreachable };
  };

  const result = (outcome: WaitlistCascadeResult['outcome'], acceptedEntryId: string | null = null) => ({
    outcome,
    slotId,
    rounds: state.round,
    acceptedEntryId,
    totals: state.totals,
  });

  /** The next candidate and their hold, for the round after the last one offered; undefined when nobody waits. */
  async function offerNext(): Promise<OfferedCandidate | undefined> {
    const round = state.round + 1;
    if (patched(OFFER_IN_ONE_STEP)) {
      const offered = await databaseSteps().offerNextCandidate.executeWithOptions(
        { summary: activitySummary.hold(round) },
        [{ ...ref, round, offeredAt: new Date().toISOString() }],
      );
      return offered ?? undefined;
    }
    const { candidate, holdMs } = await pickNextCandidate({ tenantId, slotId });
    if (!candidate) return undefined;
    const offeredAt = Date.now();
    const hold = await createHold.executeWithOptions({ summary: activitySummary.hold(round) }, [
      {
        ...ref,
        round,
        entryId: candidate.entryId,
        expiresAt: new Date(offeredAt + holdMs).toISOString(),
      },
    ]);
    // The candidate stopped waiting between pick and hold: pick again for the same round.
    if (!hold) return offerNext();
    return { candidate, hold, offeredAt: new Date(offeredAt).toISOString() };
  }

  /** One offer; answers the accepted entry's ID when the slot is taken. */
  async function offerRound(): Promise<string | undefined> {
    const offered = await offerNext();
    if (!offered) return undefined;
    const { candidate, hold, offeredAt } = offered;
    const round = state.round + 1;

    state.round = round;
    state.totals.offered += 1;
    countOfferSent('waitlist');
    state.currentHold = {
      holdId: hold.holdId,
      entryId: hold.entryId,
      customerName: candidate.customerName,
      round,
      offeredAt,
      expiresAt: hold.expiresAt,
    };
    const openHold = state.currentHold;
    holds.open(hold.holdId, hold.tokenHash, () => openHold.expiresAt);
    showDetails();

    const channels = candidate.hasPhone ? (['EMAIL', 'SMS'] as const) : (['EMAIL'] as const);
    const sends = await Promise.allSettled(
      channels.map((channel) =>
        sendOfferNotification.executeWithOptions({ summary: activitySummary.sendOffer(round, channel) }, [
          { tenantId, holdId: hold.holdId, channel },
        ]),
      ),
    );
    // allSettled would swallow a cancellation of the cascade; let it reach the cleanup instead.
    const cancelled = sends.find((send) => send.status === 'rejected' && isCancellation(send.reason));
    if (cancelled) throw (cancelled as PromiseRejectedResult).reason;
    const delivered = sends.some((send) => send.status === 'fulfilled' && send.value.status !== 'SKIPPED');
    if (!delivered && holds.answer === undefined) {
      holds.close();
      log.warn('Offer could not be delivered; releasing the hold', {
        holdId: hold.holdId,
        errors: sends.map((send) => (send.status === 'rejected' ? String(send.reason) : send.value.status)),
      });
      await databaseSteps().settleHold({
        tenantId,
        holdId: hold.holdId,
        outcome: 'RELEASED',
        entryStatus: 'UNREACHABLE',
        actor: CASCADE_ACTOR,
        reason: 'notification failed',
      });
      record('UNREACHABLE');
      return undefined;
    }

    await holds.awaitAnswer({ timerSummary: timerSummary.holdExpires });
    const response = holds.close();
    if (response === 'accept') {
      await databaseSteps().confirmHold.executeWithOptions({ summary: activitySummary.confirmHold(round) }, [
        { tenantId, holdId: hold.holdId, actor: `candidate:${hold.entryId}` },
      ]);
      record('CONFIRMED');
      return hold.entryId;
    }
    if (response === 'decline') {
      await databaseSteps().settleHold.executeWithOptions({ summary: activitySummary.settleHold(round, 'DECLINED') }, [
        {
          tenantId,
          holdId: hold.holdId,
          outcome: 'DECLINED',
          entryStatus: 'DECLINED',
          actor: `candidate:${hold.entryId}`,
        },
      ]);
      record('DECLINED');
    } else {
      const expiredBy = expiredNowBy?.holdId === hold.holdId ? expiredNowBy.actor : undefined;
      await databaseSteps().settleHold.executeWithOptions({ summary: activitySummary.settleHold(round, 'EXPIRED') }, [
        {
          tenantId,
          holdId: hold.holdId,
          outcome: 'EXPIRED',
          entryStatus: 'EXPIRED',
          actor: expiredBy ?? CASCADE_ACTOR,
          ...(expiredBy ? { reason: 'expired now by an operator' } : {}),
        },
      ]);
      record('EXPIRED');
    }
    return undefined;
  }

  async function run(): Promise<WaitlistCascadeResult> {
    if (!input.carried) {
      const begun = await databaseSteps().beginCascade(ref);
      if (begun.status === 'assigned') {
        setStatus('ALREADY_ASSIGNED');
        return result('already-assigned');
      }
    }
    const maxRounds = input.maxRoundsPerRun ?? DEFAULT_MAX_ROUNDS_PER_RUN;
    for (let roundsThisRun = 0; ; roundsThisRun += 1) {
      if (workflowInfo().continueAsNewSuggested || roundsThisRun >= maxRounds) {
        await condition(allHandlersFinished);
        const carried: CarriedCascade = {
          cascadeId: state.cascadeId,
          round: state.round,
          startedAt: state.startedAt,
          offers: state.offers,
          totals: state.totals,
        };
        return continueAsNew<typeof waitlistCascadeWorkflow>({ ...input, carried });
      }
      const roundBefore = state.round;
      const acceptedEntryId = await offerRound();
      if (acceptedEntryId) {
        setStatus('CONFIRMED');
        await sendConfirmation({ tenantId, holdId: state.offers[state.offers.length - 1]!.holdId }).catch(
          (error: unknown) =>
            log.warn('Confirmation could not be sent; the slot stays assigned', { error: String(error) }),
        );
        return result('confirmed', acceptedEntryId);
      }
      if (state.round === roundBefore) {
        // No offer was made: nobody is WAITING any more.
        await databaseSteps().closeUnfilledSlot({ ...ref, counts: counts() });
        setStatus('UNFILLED');
        await sendEscalation({ ...ref, counts: counts() }).catch((error: unknown) =>
          log.warn('Escalation could not be sent; the slot stays unfilled', { error: String(error) }),
        );
        return result('unfilled');
      }
    }
  }

  try {
    const outcome = await run();
    await condition(allHandlersFinished);
    return outcome;
  } catch (error) {
    if (attention.catches(error)) {
      // The open hold is released (its candidate keeps their place) and the slot reopened, so an
      // admin can release it again once the cause is fixed.
      throw await attention.stop(error, () => setStatus('NEEDS_ATTENTION'), [
        {
          what: 'releasing the open hold',
          run: async () => {
            const hold = state.currentHold;
            if (!hold || !holds.isOpen) return;
            await databaseSteps().settleHold({
              tenantId,
              holdId: hold.holdId,
              outcome: 'RELEASED',
              entryStatus: 'WAITING',
              actor: CASCADE_ACTOR,
              reason: 'cascade stopped',
            });
            record('RELEASED');
          },
        },
        { what: 'reopening the slot', run: () => databaseSteps().reopenSlot({ ...ref, reason: attention.reason }) },
      ]);
    }
    if (!isCancellation(error)) throw error;
    await CancellationScope.nonCancellable(async () => {
      const hold = state.currentHold;
      if (hold && holds.isOpen) {
        // The candidate never had a fair chance to answer, so they keep their place.
        await databaseSteps().settleHold({
          tenantId,
          holdId: hold.holdId,
          outcome: 'RELEASED',
          entryStatus: 'WAITING',
          actor: CASCADE_ACTOR,
          reason: 'cascade cancelled',
        });
        record('RELEASED');
      }
      await databaseSteps().reopenSlot(ref);
      if (state.status === 'OFFERING') setStatus('CANCELLED');
    });
    throw error;
  }
}
