import {
  allHandlersFinished,
  condition,
  defineUpdate,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from '../../workflows/search-attributes';
import type { CeilingActivities } from './activities';

/**
 * The engine ceiling's workflow: the event shape of `waitlistCascadeWorkflow` (workflows/waitlist-cascade.ts)
 * with no-op activities, so the server, the worker's SDK and the payload codec do the same work per step and
 * nothing else does. Counted from the recorded histories (test/histories/waitlist-declined-then-accepted.json):
 *
 * - start: search attributes upserted, then `beginCascade`;
 * - per offer (a step): `offerNextCandidate` (the pick and the hold in one activity), `sendOfferNotification`
 *   in sequence, then one timer (the hold) raced by an Update (`decline` / `accept`), which cancels the timer;
 * - decline or expiry: `settleHold`, and the next offer; the decline's Update completes after the write;
 * - accept: `confirmHold` (the Update completes after it), search attributes upserted, `sendConfirmation`.
 *
 * So 3 activities + 1 timer + 1 Update per declined offer; the first offer adds `beginCascade` and the
 * accepted one `confirmHold` + `sendConfirmation`. The row writes (`beginCascade`, `offerNextCandidate`,
 * `settleHold`, `confirmHold`) are local activities, as the cascade's are; the messages are queued.
 * (Results measured before the cascade wrote its rows in local activities queued them here too, and
 * those before the one-activity offer step ran a fourth, `pickNextCandidate`.)
 *
 * Lives outside workflows/ (it is not part of the product) but keeps its lint rule: imports only
 * `@temporalio/workflow`, pure modules, and activity types.
 */

export interface CeilingCascadeInput {
  /** The tenant the search attributes name (any keyword). */
  tenantId: string;
  /** Offers in this cascade: every one but the last is declined or expires, the last is accepted. */
  offers: number;
  /** The hold's length: the timer each offer starts. */
  holdMs: number;
}

export interface CeilingCascadeResult {
  offers: number;
  expired: number;
}

export type CeilingDecision = 'accept' | 'decline';

export interface CeilingAnswerInput {
  /** The offer this answer is for (1-based); an answer to another offer is refused. */
  offer: number;
  decision: CeilingDecision;
}

export const answerOfferUpdate = defineUpdate<{ status: 'confirmed' | 'declined' }, [CeilingAnswerInput]>(
  'answerOffer',
);

// The same timeouts and retries as the real cascade's profiles (workflows/retry-profiles.ts); no-op
// activities never retry, but the options travel in every command and marker all the same.
const databaseWrites = proxyLocalActivities<CeilingActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});
const messages = proxyActivities<CeilingActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 5 },
});

/** See the module comment: the waitlist cascade's events, with no-op activities. */
export async function ceilingCascadeWorkflow(input: CeilingCascadeInput): Promise<CeilingCascadeResult> {
  let offer = 0;
  let answer: CeilingDecision | undefined;
  /** The offer whose outcome has been written; the Update waits for it, as the real decline does. */
  let settledOffer = 0;
  let expired = 0;

  setHandler(
    answerOfferUpdate,
    async ({ offer: answered, decision }) => {
      answer = decision;
      await condition(() => settledOffer >= answered);
      return { status: decision === 'accept' ? 'confirmed' : 'declined' };
    },
    {
      validator: ({ offer: answered }) => {
        if (answered !== offer || answer !== undefined) throw new Error(`offer ${answered} is not open`);
      },
    },
  );

  upsertSearchAttributes([
    { key: TenantIdKey, value: input.tenantId },
    { key: BusinessKeyKey, value: 'ceiling' },
    { key: FlowStatusKey, value: 'OFFERING' },
  ]);
  await databaseWrites.beginCascade();

  for (offer = 1; offer <= input.offers; offer += 1) {
    answer = undefined;
    const { expiresAt } = await databaseWrites.offerNextCandidate(offer, Date.now() + input.holdMs);
    // The hold's timer starts with the send, not after it: the driver answers as soon as the send runs, faster
    // than any person, and an answer in the same workflow task would leave no timer to start. Same events.
    const answeredInTime = condition(() => answer !== undefined, Math.max(1, expiresAt - Date.now()));
    await messages.sendOfferNotification(offer, expiresAt);
    await answeredInTime;
    if (answer === 'accept') {
      await databaseWrites.confirmHold(offer);
      settledOffer = offer;
      upsertSearchAttributes([{ key: FlowStatusKey, value: 'CONFIRMED' }]);
      await messages.sendConfirmation(offer);
      break;
    }
    if (answer === undefined) expired += 1;
    await databaseWrites.settleHold(offer, answer === undefined ? 'EXPIRED' : 'DECLINED');
    settledOffer = offer;
  }
  await condition(allHandlersFinished);
  return { offers: Math.min(offer, input.offers), expired };
}
