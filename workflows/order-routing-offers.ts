import { ApplicationFailure, isCancellation, log } from '@temporalio/workflow';
import { ORDER_ROUTING_ACTOR } from '../domain/orders';
import { isPending, type AttentionStop } from './attention';
import { FlowRejection } from './errors';
import { countOfferSent, vendorOfferSettled } from './metrics';
import { OfferDesk } from './offer';
import { assignOrder, offerOrderToVendor, sendVendorOffer, settleRoutingAttempt } from './order-routing-activities';
import {
  OrderRejection,
  type AttemptOutcome,
  type ExpireVendorOfferNowInput,
  type ExpireVendorOfferNowResult,
  type OrderState,
  type RankedVendor,
  type VendorResponseInput,
  type VendorResponseResult,
} from './order-routing.contract';
import { activitySummary, timerSummary } from './summaries';
import { requireStorableText } from './validation';

/** What the vendor offers work on: the order's run while it is being routed. */
export interface RoutedOrder {
  readonly state: OrderState;
  readonly ref: { tenantId: string; orderId: string };
  readonly attention: AttentionStop;
  /** Shows in the Web UI what the order is doing now, after a change to its state. */
  showDetails(): void;
}

/** A vendor's answer to the open offer. */
interface VendorAnswer {
  decision: 'accept' | 'reject';
  reason?: string;
}

const now = () => new Date().toISOString();

/**
 * The order's offers to its ranked vendors, one at a time: each is sent on the vendor's channel
 * and open for the tenant's response window; the vendor answers with `vendorRespond`. Runs on the
 * shared {@link OfferDesk}; records every attempt in the order's state.
 */
export class VendorOffers {
  /** The open offer to a vendor: its token, its deadline and the vendor's answer. */
  private readonly desk = new OfferDesk<VendorAnswer, AttemptOutcome>({
    superseded: OrderRejection.OfferSuperseded,
    alreadyAnswered: OrderRejection.AlreadyResponded,
    expired: OrderRejection.OfferExpired,
  });

  /** The operator who expired the open offer now (`expireVendorOfferNow`), recorded as the timeout's actor. */
  private expiredNowBy: { attemptId: string; actor: string } | undefined;

  constructor(private readonly order: RoutedOrder) {}

  /** The number of the next attempt, offer or manual assignment; an open offer counts as one. */
  nextAttempt(): number {
    const { attempts, currentOffer } = this.order.state;
    return attempts.length + (currentOffer ? 1 : 0) + 1;
  }

  /** `vendorRespond`: takes the vendor's answer and returns once the flow has recorded it. */
  async answer({ decision, reason }: VendorResponseInput): Promise<VendorResponseResult> {
    const { attention } = this.order;
    // A step that fails for good settles nothing: the answer is refused rather than left waiting.
    const outcome = await this.desk.answerAndAwait({ decision, reason }, () => attention.stopped);
    if (isPending(outcome)) return outcome;
    if (outcome === undefined) throw attention.refusal();
    return { status: outcome === 'ACCEPTED' ? 'accepted' : 'rejected' };
  }

  validateAnswer({ tokenHash, decision, reason }: VendorResponseInput): void {
    this.order.attention.refuseWhenStopped();
    requireStorableText({ tokenHash }, { reason });
    if (decision !== 'accept' && decision !== 'reject') {
      throw ApplicationFailure.create({
        type: FlowRejection.InvalidInput,
        message: 'decision must be accept or reject',
        nonRetryable: true,
      });
    }
    this.desk.validate(tokenHash);
  }

  /** `expireVendorOfferNow` applies only to an open offer that has no answer yet. */
  validateExpireNow(request: ExpireVendorOfferNowInput | undefined): void {
    this.order.attention.refuseWhenStopped();
    if (!this.desk.isAnswerable || !this.order.state.currentOffer) {
      throw ApplicationFailure.create({
        type: OrderRejection.NoOpenOffer,
        message: 'There is no open vendor offer to expire',
        nonRetryable: true,
      });
    }
    requireStorableText({ actor: request?.actor });
  }

  /**
   * Ends the open offer now: its deadline becomes the workflow's now, which the OfferDesk reads at
   * every check, so the wait wakes and the offer times out as if its time had run out.
   */
  expireNow({ actor }: ExpireVendorOfferNowInput): ExpireVendorOfferNowResult {
    const offer = this.order.state.currentOffer!;
    offer.deadline = new Date().toISOString();
    this.expiredNowBy = { attemptId: offer.attemptId, actor };
    this.order.showDetails();
    return { attemptId: offer.attemptId, vendorId: offer.vendorId, expiredAt: offer.deadline };
  }

  /** Offers the order to one vendor and waits for its answer; true when it accepted (the order is then assigned). */
  async offerTo(vendor: RankedVendor, vendorResponseMs: number): Promise<boolean> {
    const { ref, state } = this.order;
    const desk = this.desk;
    const attempt = this.nextAttempt();
    const offeredAt = Date.now();
    const offer = await offerOrderToVendor.executeWithOptions({ summary: activitySummary.offerVendor(attempt) }, [
      {
        ...ref,
        vendorId: vendor.vendorId,
        attempt,
        deadline: new Date(offeredAt + vendorResponseMs).toISOString(),
      },
    ]);
    const current = {
      attempt,
      attemptId: offer.attemptId,
      ...vendor,
      offeredAt: new Date(offeredAt).toISOString(),
      deadline: offer.deadline,
    };
    state.currentOffer = current;
    // The deadline is read from the state, so expiring the offer now moves it.
    desk.open(offer.attemptId, offer.tokenHash, () => current.deadline);
    this.order.showDetails();
    countOfferSent('orders');

    const delivered = await sendVendorOffer
      .executeWithOptions({ summary: activitySummary.sendVendorOffer(attempt) }, [
        { tenantId: ref.tenantId, attemptId: offer.attemptId },
      ])
      .then(
        (result) => result.status !== 'SKIPPED',
        (error: unknown) => {
          if (isCancellation(error)) throw error;
          log.warn('The offer could not reach the vendor; trying the next one', {
            vendorId: vendor.vendorId,
            error: String(error),
          });
          return false;
        },
      );
    if (!delivered && desk.answer === undefined) {
      desk.close();
      await settleRoutingAttempt({
        tenantId: ref.tenantId,
        attemptId: offer.attemptId,
        outcome: 'UNREACHABLE',
        reason: 'the offer could not be delivered',
        actor: ORDER_ROUTING_ACTOR,
      });
      this.settle('UNREACHABLE', 'the offer could not be delivered');
      return false;
    }

    await desk.awaitAnswer({ waitWhenAnswered: true, timerSummary: timerSummary.vendorDeadline });
    const response = desk.close();
    if (response?.decision === 'accept') {
      state.vendor = await assignOrder({
        ...ref,
        vendorId: vendor.vendorId,
        attempt,
        attemptId: offer.attemptId,
        actor: `vendor:${vendor.vendorId}`,
      });
      this.settle('ACCEPTED');
      return true;
    }
    const outcome = response ? 'REJECTED' : 'TIMED_OUT';
    const expiredBy = this.expiredNowBy?.attemptId === offer.attemptId ? this.expiredNowBy.actor : undefined;
    const reason = response
      ? (response.reason ?? null)
      : expiredBy
        ? 'expired now by an operator'
        : `no answer within ${Math.round(vendorResponseMs / 60_000)} minutes`;
    await settleRoutingAttempt({
      tenantId: ref.tenantId,
      attemptId: offer.attemptId,
      outcome,
      reason: reason ?? undefined,
      actor: response ? `vendor:${vendor.vendorId}` : (expiredBy ?? ORDER_ROUTING_ACTOR),
    });
    this.settle(outcome, reason);
    return false;
  }

  /** Records how the open offer ended, which answers a `vendorRespond` waiting on it, and closes it. */
  settle(outcome: AttemptOutcome, reason: string | null = null): void {
    const state = this.order.state;
    const offer = state.currentOffer!;
    const { attempt, vendorId, vendorName } = offer;
    state.attempts.push({ attempt, vendorId, vendorName, outcome, reason, settledAt: now() });
    this.desk.settle(offer.attemptId, outcome);
    state.currentOffer = null;
    vendorOfferSettled(outcome);
    this.order.showDetails();
  }
}
