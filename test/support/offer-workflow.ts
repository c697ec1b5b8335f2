import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  setHandler,
} from '@temporalio/workflow';
import { isPending, type PendingAnswer } from '../../workflows/attention';
import { OfferDesk } from '../../workflows/offer';

/** A workflow that offers to parties in turn on an {@link OfferDesk}, for the desk's own tests. */

export type TestAnswer = 'yes' | 'no';
export type TestOutcome = 'ACCEPTED' | 'DECLINED' | 'EXPIRED';

export interface TestOffer {
  id: string;
  tokenHash: string;
  minutes: number;
}

export interface OfferTestInput {
  offers: TestOffer[];
  /** Wait for the settle signal after each offer is decided, so a test can answer in that gap. */
  settleOnSignal?: boolean;
}

export interface OfferTestState {
  offerId: string | null;
  deadline: string | null;
  answerable: boolean;
  closed: boolean;
  outcomes: Record<string, TestOutcome>;
}

export const answerUpdate = defineUpdate<{ outcome: TestOutcome | null } | PendingAnswer, [TestAnswer, string]>(
  'answer',
);
export const extendUpdate = defineUpdate<string, [number]>('extend');
export const settleSignal = defineSignal('settle');
export const offerTestStateQuery = defineQuery<OfferTestState>('offerTestState');

export async function offerTestWorkflow({ offers, settleOnSignal = false }: OfferTestInput): Promise<OfferTestState> {
  const desk = new OfferDesk<TestAnswer, TestOutcome>({
    superseded: 'SUPERSEDED',
    alreadyAnswered: 'ALREADY_ANSWERED',
    expired: 'EXPIRED',
  });
  const state: OfferTestState = { offerId: null, deadline: null, answerable: false, closed: false, outcomes: {} };
  let settleRequests = 0;

  setHandler(offerTestStateQuery, () => ({ ...state, answerable: desk.isAnswerable }));
  setHandler(settleSignal, () => {
    settleRequests += 1;
  });
  setHandler(
    answerUpdate,
    async (answer) => {
      const outcome = await desk.answerAndAwait(answer, () => false);
      return isPending(outcome) ? outcome : { outcome: outcome ?? null };
    },
    { validator: (_answer, tokenHash) => desk.validate(tokenHash) },
  );
  setHandler(
    extendUpdate,
    (minutes: number) => {
      state.deadline = new Date(Date.parse(state.deadline!) + minutes * 60_000).toISOString();
      return state.deadline;
    },
    {
      validator: (minutes: number) => {
        if (!desk.isAnswerable || !(minutes > 0)) {
          throw ApplicationFailure.create({ type: 'NO_OPEN_OFFER', message: 'nothing to extend', nonRetryable: true });
        }
      },
    },
  );

  for (const [index, offer] of offers.entries()) {
    state.offerId = offer.id;
    state.closed = false;
    state.deadline = new Date(Date.now() + offer.minutes * 60_000).toISOString();
    desk.open(offer.id, offer.tokenHash, () => state.deadline!);
    await desk.awaitAnswer();
    const answer = desk.close();
    state.closed = true;
    if (settleOnSignal) await condition(() => settleRequests > index);
    const outcome: TestOutcome = answer === 'yes' ? 'ACCEPTED' : answer === 'no' ? 'DECLINED' : 'EXPIRED';
    desk.settle(offer.id, outcome);
    state.outcomes[offer.id] = outcome;
  }
  state.offerId = null;
  await condition(allHandlersFinished);
  return state;
}
