import { ApplicationFailure, condition } from '@temporalio/workflow';
import { answeredWithin, boundsRequestWaits, pending, type PendingAnswer } from './attention';

/**
 * The codes a flow rejects an answer with, from its own Update vocabulary (e.g. HOLD_SUPERSEDED
 * for the waitlist, OFFER_SUPERSEDED for orders).
 */
export interface OfferRejections {
  /** The token is not the open offer's: another offer replaced it, or none is open. */
  superseded: string;
  /** The open offer already has an answer. */
  alreadyAnswered: string;
  /** The deadline has passed, or the flow is already settling the offer. */
  expired: string;
}

export interface OfferRejectionTexts {
  superseded: string;
  alreadyAnswered: string;
  expired: string;
}

const defaultTexts: OfferRejectionTexts = {
  superseded: 'This offer is no longer open',
  alreadyAnswered: 'This offer has already been answered',
  expired: 'The time to answer this offer is over',
};

/** The private side of the open offer: what validation checks, never shown by a state query. */
interface OpenOffer<Answer> {
  id: string;
  tokenHash: string;
  /** Read at every check, so a deadline moved on the flow's state moves the offer's deadline too. */
  deadline: () => string;
  answer?: Answer;
  /** Set once the flow has decided the offer's fate, so late answers and extensions are refused. */
  settling: boolean;
}

/**
 * An offer to one party at a time, open until a movable deadline: the flow opens it, the party's
 * Update validates its token and answers, the flow waits for the answer or the deadline, settles
 * the offer with an outcome, and the waiting Update returns that outcome. The waitlist's holds
 * and the order's vendor offers both run on it.
 *
 * Pure workflow code: the clock is workflow time (`Date.now()` is deterministic in a workflow and
 * is the same clock as the deadline's timer), and it starts no activity; the flow writes the rows.
 *
 * @typeParam Answer what a party answers (e.g. 'accept' | 'decline').
 * @typeParam Outcome how the flow settled an offer (e.g. 'CONFIRMED' | 'EXPIRED').
 */
export class OfferDesk<Answer, Outcome extends string> {
  private current: OpenOffer<Answer> | undefined;
  /** Outcomes of this run's settled offers, for the Updates waiting on them. */
  private readonly settled = new Map<string, Outcome>();
  private readonly texts: OfferRejectionTexts;

  constructor(
    private readonly rejections: OfferRejections,
    texts: Partial<OfferRejectionTexts> = {},
  ) {
    this.texts = { ...defaultTexts, ...texts };
  }

  /**
   * Opens the offer `id`, answerable with the token whose hash is `tokenHash` until `deadline()`,
   * an ISO timestamp read at every check so that an extension can move it.
   */
  open(id: string, tokenHash: string, deadline: () => string): void {
    this.current = { id, tokenHash, deadline, settling: false };
  }

  /** Whether an offer is open: answered or not, until the flow settles it. */
  get isOpen(): boolean {
    return this.current !== undefined;
  }

  /** The open offer's answer, once given. */
  get answer(): Answer | undefined {
    return this.current?.answer;
  }

  /** Whether the open offer can still take an answer or an extension: unanswered, unsettled, before its deadline. */
  get isAnswerable(): boolean {
    const offer = this.current;
    return offer !== undefined && offer.answer === undefined && !offer.settling && Date.now() < this.deadlineMs(offer);
  }

  /** For an answer's validator: refuses a token that is not the open offer's, a second answer, and a late one. */
  validate(tokenHash: string): void {
    const offer = this.current;
    if (!offer || offer.tokenHash !== tokenHash) throw this.reject(this.rejections.superseded, this.texts.superseded);
    if (offer.answer !== undefined) throw this.reject(this.rejections.alreadyAnswered, this.texts.alreadyAnswered);
    if (offer.settling || Date.now() >= this.deadlineMs(offer)) {
      throw this.reject(this.rejections.expired, this.texts.expired);
    }
  }

  /**
   * Takes a validated answer and waits until the flow settles the offer or `stopped()` holds: the
   * outcome, undefined when the flow stopped without settling it, or `pending` once
   * REQUEST_ANSWER_BOUND has passed in runs that bound their Updates' waits.
   */
  async answerAndAwait(answer: Answer, stopped: () => boolean): Promise<Outcome | PendingAnswer | undefined> {
    const offer = this.current!;
    offer.answer = answer;
    const recorded = () => this.settled.has(offer.id) || stopped();
    if (!boundsRequestWaits()) await condition(recorded);
    else if (!(await answeredWithin(recorded))) return pending();
    return this.settled.get(offer.id);
  }

  /**
   * Waits for an answer until the deadline, waiting again whenever the deadline moves; undefined
   * means the deadline passed unanswered. `waitWhenAnswered` starts the deadline's wait even if the
   * answer came first, as order routing always has, which keeps its recorded command sequence.
   * `timerSummary` names the deadline's timer in the Web UI (e.g. "hold expires 14:45 UTC").
   */
  async awaitAnswer({
    waitWhenAnswered = false,
    timerSummary,
  }: { waitWhenAnswered?: boolean; timerSummary?: (deadline: string) => string } = {}): Promise<Answer | undefined> {
    const offer = this.current!;
    for (;;) {
      const deadline = offer.deadline();
      const remaining = Date.parse(deadline) - Date.now();
      if (remaining <= 0 || (offer.answer !== undefined && !waitWhenAnswered)) return offer.answer;
      // Wakes on an answer, or on the deadline moving (then waits again), or times out.
      const moved = () => offer.answer !== undefined || offer.deadline() !== deadline;
      await (timerSummary
        ? condition(moved, remaining, { summary: timerSummary(deadline) })
        : condition(moved, remaining));
      if (offer.deadline() === deadline) return offer.answer;
    }
  }

  /** The flow decides the open offer's fate from here on: later answers are refused as expired. Answers the answer. */
  close(): Answer | undefined {
    const offer = this.current!;
    offer.settling = true;
    return offer.answer;
  }

  /** Records how offer `id` ended, which answers the Update waiting on it, and closes it. */
  settle(id: string, outcome: Outcome): void {
    this.settled.set(id, outcome);
    this.current = undefined;
  }

  private deadlineMs(offer: OpenOffer<Answer>): number {
    return Date.parse(offer.deadline());
  }

  private reject(type: string, message: string): ApplicationFailure {
    return ApplicationFailure.create({ type, message, nonRetryable: true });
  }
}
