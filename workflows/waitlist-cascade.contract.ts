import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { HoldStatus } from '../domain/holds';
import type { PendingAnswer, StepFailure } from './attention';
import { tenantWorkPriority, type TenantFairness } from '../domain/tenant-fairness';
import { WorkPriority } from '../domain/work-priority';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from './search-attributes';
import { summaryMemo, waitlistCascadeMetadata, type WaitlistAbout } from './summaries';

/**
 * The waitlist cascade's contract: its input, state and result, the messages callers send it,
 * the codes its Updates reject with, its workflow ID and the options every start uses.
 */

/** One cascade per slot at a time; the ID starts with the tenant, so it cannot collide across tenants. */
export function waitlistCascadeId(tenantId: string, slotId: string): string {
  return `waitlist:${tenantId}:${slotId}`;
}

/**
 * How a slot release starts its cascade (the task queue comes from configuration): a repeat while
 * the cascade runs joins it; once it has closed, a new release starts afresh.
 */
export function waitlistCascadeStartOptions(
  tenantId: string,
  slotId: string,
  fairness?: TenantFairness,
  about: Omit<WaitlistAbout, 'tenantId' | 'slotId'> = {},
) {
  const metadata = waitlistCascadeMetadata({ tenantId, slotId, ...about });
  return {
    workflowId: waitlistCascadeId(tenantId, slotId),
    ...metadata,
    // Kept for the runs after a continue-as-new, which cannot carry the static summary.
    memo: summaryMemo(metadata),
    // A waitlist offer holds a slot for a deadline: critical, ahead of any backlog.
    priority: tenantWorkPriority(WorkPriority.critical, tenantId, fairness),
    workflowIdConflictPolicy: 'USE_EXISTING' as const,
    workflowIdReusePolicy: 'ALLOW_DUPLICATE' as const,
    typedSearchAttributes: [
      { key: TenantIdKey, value: tenantId },
      { key: BusinessKeyKey, value: slotId },
      { key: FlowStatusKey, value: 'OFFERING' },
    ],
  };
}

/** Why an answer to a hold cannot be taken: the codes `accept` and `decline` reject with (409). */
export const HoldRejection = {
  Expired: 'HOLD_EXPIRED',
  Superseded: 'HOLD_SUPERSEDED',
  AlreadyResponded: 'ALREADY_RESPONDED',
} as const;
export type HoldRejection = (typeof HoldRejection)[keyof typeof HoldRejection];

/**
 * Why a hold that is no longer `OFFERED` cannot take a response, judged from its stored status.
 * Used when the workflow has already moved on (or closed) and only the row can answer.
 */
export function rejectionForSettledHold(status: Exclude<HoldStatus, 'OFFERED'>): HoldRejection {
  switch (status) {
    case 'EXPIRED':
      return HoldRejection.Expired;
    case 'CONFIRMED':
    case 'DECLINED':
      return HoldRejection.AlreadyResponded;
    case 'RELEASED':
      return HoldRejection.Superseded;
  }
}

/** Why the cascade refused an operator's request: the codes `extendHold` rejects with (409). */
export const CascadeRejection = {
  /** There is no offer open to extend (between rounds, or the cascade has finished). */
  NoActiveHold: 'NO_ACTIVE_HOLD',
  /** An extension outside 1..MAX_EXTEND_MINUTES (domain/holds.ts) minutes. */
  InvalidExtension: 'INVALID_EXTENSION',
  /** There is no open hold to expire now: between rounds, once answered, or the cascade has finished. */
  NoOpenHold: 'NO_OPEN_HOLD',
} as const;
export type CascadeRejection = (typeof CascadeRejection)[keyof typeof CascadeRejection];

/** Offers kept in the state (and carried across continue-as-new); older ones are only counted. */
export const OFFER_HISTORY_LIMIT = 20;

/** Rounds per run before continuing as new, unless the input says otherwise. */
export const DEFAULT_MAX_ROUNDS_PER_RUN = 100;

/** What became of one offer. UNREACHABLE: no message could be delivered, so the hold was released. */
export type OfferOutcome = 'CONFIRMED' | 'DECLINED' | 'EXPIRED' | 'UNREACHABLE' | 'RELEASED';

/** NEEDS_ATTENTION: a step failed for good; the cascade stopped and `failure` says why. */
export type CascadeStatus =
  'OFFERING' | 'CONFIRMED' | 'UNFILLED' | 'CANCELLED' | 'ALREADY_ASSIGNED' | 'NEEDS_ATTENTION';

/** The open offer. */
export interface CurrentHold {
  holdId: string;
  entryId: string;
  customerName: string;
  round: number;
  offeredAt: string;
  expiresAt: string;
}

export interface OfferRecord extends CurrentHold {
  outcome: OfferOutcome;
  settledAt: string;
}

/** Offers made, and how many ended each way short of a confirmation; the escalation reports them. */
export interface OfferCounts {
  offered: number;
  declined: number;
  expired: number;
  unreachable: number;
}

export interface OfferTotals extends OfferCounts {
  confirmed: number;
  released: number;
}

/** What `getCascadeState` answers. */
export interface CascadeState {
  tenantId: string;
  slotId: string;
  cascadeId: string;
  status: CascadeStatus;
  /** Rounds that made an offer, across every run of this cascade. */
  round: number;
  currentHold: CurrentHold | null;
  /** The latest {@link OFFER_HISTORY_LIMIT} offers, oldest first. */
  offers: OfferRecord[];
  /** Counts over every offer, including those no longer listed. */
  totals: OfferTotals;
  /** The step that failed for good and why, once the cascade stopped in NEEDS_ATTENTION; null otherwise. */
  failure: StepFailure | null;
  startedAt: string;
}

/** State handed from one run to the next by continue-as-new. */
export interface CarriedCascade {
  cascadeId: string;
  round: number;
  startedAt: string;
  offers: OfferRecord[];
  totals: OfferTotals;
}

export interface WaitlistCascadeInput {
  tenantId: string;
  slotId: string;
  /** Continue-as-new after this many rounds in one run, even unsuggested; default {@link DEFAULT_MAX_ROUNDS_PER_RUN}. */
  maxRoundsPerRun?: number;
  /** Set by continue-as-new only. */
  carried?: CarriedCascade;
}

export interface WaitlistCascadeResult {
  outcome: 'confirmed' | 'unfilled' | 'already-assigned';
  slotId: string;
  rounds: number;
  acceptedEntryId: string | null;
  totals: OfferTotals;
}

/** A candidate's answer. The API has verified the signed token and passes only its hash. */
export interface OfferResponseInput {
  tokenHash: string;
}

/** `pending`: the answer was taken, but recording it did not finish in time (see {@link PendingAnswer}). */
export interface OfferResponseResult {
  status: 'confirmed' | 'declined' | PendingAnswer['status'];
}

export interface ExtendHoldInput {
  minutes: number;
  /** Who asked, for the audit log. */
  actor: string;
}

export interface ExtendHoldResult {
  holdId: string;
  expiresAt: string;
  /**
   * `pending` when writing the new deadline did not finish in time (see {@link PendingAnswer}): the
   * cascade already keeps the hold open until `expiresAt`, and the write goes on. Absent once written.
   */
  status?: PendingAnswer['status'];
}

/** The cascade's state: slot, round, open hold and recent offers. */
export const getCascadeStateQuery = defineQuery<CascadeState>('getCascadeState');

/**
 * Accepts the open offer. Returns once the slot is assigned in the database, or `pending` after
 * REQUEST_ANSWER_BOUND if that write is still being retried (the answer stands and is recorded once
 * the database is back). Rejected (validator) with HOLD_SUPERSEDED, ALREADY_RESPONDED,
 * HOLD_EXPIRED, INVALID_INPUT or NEEDS_ATTENTION; fails with NEEDS_ATTENTION if recording the
 * answer stops the cascade.
 */
export const acceptOfferUpdate = defineUpdate<OfferResponseResult, [OfferResponseInput]>('accept');

/** Declines the open offer; returns once the hold is recorded as declined. Rejected as for accept. */
export const declineOfferUpdate = defineUpdate<OfferResponseResult, [OfferResponseInput]>('decline');

/**
 * Moves the open hold's deadline `minutes` later (1..1440) and writes the new expiresAt; answers
 * with `status: 'pending'` after REQUEST_ANSWER_BOUND if the write is still being retried.
 * Rejected with NO_ACTIVE_HOLD when no offer is open, INVALID_EXTENSION for a bad amount,
 * INVALID_INPUT for an actor that cannot be stored, NEEDS_ATTENTION once the cascade stopped;
 * fails with DATA_REJECTED (or NotFound) if the new deadline cannot be written, and the hold keeps
 * its old deadline (also when that comes after a `pending` answer).
 */
export const extendHoldUpdate = defineUpdate<ExtendHoldResult, [ExtendHoldInput]>('extendHold');

/** Who asks for a "do it now" action (the API's principal), for the audit trail; not personal data. */
export interface ExpireHoldNowInput {
  actor: string;
}

export interface ExpireHoldNowResult {
  holdId: string;
  /** The hold's deadline now: the workflow's time when the Update ran. */
  expiredAt: string;
}

/**
 * An operator ends the open hold now, as if its time had run out: the hold's deadline becomes the
 * workflow's now, the cascade records the hold EXPIRED (with the operator as the actor) and offers
 * the slot to the next person. Answers at once with the hold and its new deadline. Rejected with
 * NO_OPEN_HOLD when no unanswered hold is open, INVALID_INPUT for an actor that cannot be stored,
 * NEEDS_ATTENTION once the cascade stopped.
 */
export const expireHoldNowUpdate = defineUpdate<ExpireHoldNowResult, [ExpireHoldNowInput]>('expireHoldNow');
