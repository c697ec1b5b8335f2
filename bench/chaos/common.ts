import type { PrismaClient } from '../../lib/db';
import { hashOfferToken } from '../../domain/offer-token';
import type { BenchCaughtMessage, BenchMessageCatcher } from '../lib/catcher';
import { seededRandom } from '../lib/catcher';
import type { HoldRecord, ResponderDecision, SlotRecord } from './checks';
import { FINAL_SLOT_STATUSES } from './checks';

/** What every scenario module answers; bench/chaos.ts prints it and writes it to the results JSON. */
export interface ScenarioResult {
  id: string;
  title: string;
  passed: boolean;
  figures: Record<string, string | number>;
  /** The violations found (at most a few are printed); empty when passed. */
  violations: string[];
}

export interface ScenarioOptions {
  quick: boolean;
  seed: number;
  /** Where this scenario keeps its stack's data and logs (under /tmp/chaos/). */
  dataDir: string;
  /** The first of the ports this scenario may use (a block of 20). */
  portBase: number;
  log: (line: string) => void;
}

/** A deterministic pseudo-random source for one scenario, from the run's seed. */
export function scenarioRandom(seed: number, scenario: string): () => number {
  let mixed = seed;
  for (const char of scenario) mixed = (mixed * 31 + char.charCodeAt(0)) >>> 0;
  return seededRandom(mixed || 1);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The `q` quantile (0..1) of `values`, or NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function round(value: number, digits = 0): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

// ---------------------------------------------------------------------------------------------
// Driving the arm through its HTTP API
// ---------------------------------------------------------------------------------------------

export interface ReleaseAnswer {
  slotId: string;
  /** HTTP status, or 0 when the client saw no answer (connection refused or reset, time-out). */
  status: number;
  workflowId?: string;
  /** The client-side error, when there was no HTTP answer. */
  error?: string;
  latencyMs: number;
}

/** POSTs the release of one slot once (no retry: a scenario decides what to do with a failure). */
export async function releaseSlot(
  apiUrl: string,
  operatorToken: string,
  slotId: string,
  timeoutMs = 30_000,
): Promise<ReleaseAnswer> {
  const started = performance.now();
  try {
    const response = await fetch(`${apiUrl}/api/v1/slots/${slotId}/release`, {
      method: 'POST',
      headers: { authorization: `Bearer ${operatorToken}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await response.json().catch(() => ({}))) as { workflowId?: string };
    return { slotId, status: response.status, workflowId: body.workflowId, latencyMs: performance.now() - started };
  } catch (error) {
    return { slotId, status: 0, error: describeFetchError(error), latencyMs: performance.now() - started };
  }
}

/** Releases every slot with at most `concurrency` requests in flight; answers in slot order. */
export async function releaseAll(
  apiUrl: string,
  operatorToken: string,
  slotIds: readonly string[],
  concurrency = 8,
): Promise<ReleaseAnswer[]> {
  const answers = new Array<ReleaseAnswer>(slotIds.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, slotIds.length) }, async () => {
    while (next < slotIds.length) {
      const index = next;
      next += 1;
      answers[index] = await releaseSlot(apiUrl, operatorToken, slotIds[index]!);
    }
  });
  await Promise.all(lanes);
  return answers;
}

export function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause;
  if (cause?.code) return cause.code;
  return error instanceof Error ? error.name : 'error';
}

/** The mix of answers a simulated candidate gives to an offer; the rest let the hold expire. */
export interface AnswerMix {
  accept: number;
  decline: number;
}

export interface ResponderOptions {
  apiUrl: string;
  catcher: BenchMessageCatcher;
  mix: AnswerMix;
  random: () => number;
  /** Each answer is sent after a random delay below this (keep it well inside the hold). */
  answerWithinMs: number;
  /** A request gets this long (an Update waits at most 30 s for its write); then it is tried again. */
  requestTimeoutMs?: number;
  /** How many times an answer that got no HTTP answer (or a 5xx) is sent; bounded. */
  attempts?: number;
}

/**
 * Plays the candidates: answers every offer message the catcher takes by the seeded mix, through
 * `POST /api/v1/offers/respond`, and records what the API made of it per hold (keyed by the token's
 * hash, as the Hold row stores it), so the outcome check knows what each hold should have become.
 * A token seen twice is answered once (a duplicate message is counted by the checks, not amplified).
 */
export class Responder {
  readonly decisions = new Map<string, ResponderDecision>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly answered = new Set<string>();
  private readonly unsubscribe: () => void;
  private stopped = false;
  /** Answers sent, and those the client saw no answer to (e.g. during a kill). */
  readonly counts = { sent: 0, failedAttempts: 0 };

  constructor(private readonly options: ResponderOptions) {
    this.unsubscribe = options.catcher.onMessage((message) => this.onMessage(message));
  }

  private onMessage(message: BenchCaughtMessage): void {
    const token = message.offerToken;
    if (!token || this.stopped || this.answered.has(token)) return;
    this.answered.add(token);
    const draw = this.options.random();
    const { accept, decline } = this.options.mix;
    const tokenHash = hashOfferToken(token);
    if (draw >= accept + decline) {
      this.decisions.set(tokenHash, 'ignored');
      return;
    }
    const decision = draw < accept ? 'accept' : 'decline';
    const delayMs = Math.floor(this.options.random() * this.options.answerWithinMs);
    const work = sleep(delayMs)
      .then(() => this.answer(token, tokenHash, decision))
      .finally(() => this.inFlight.delete(work));
    this.inFlight.add(work);
  }

  private async answer(token: string, tokenHash: string, decision: 'accept' | 'decline'): Promise<void> {
    const intended: ResponderDecision = decision === 'accept' ? 'accepted' : 'declined';
    const attempts = this.options.attempts ?? 6;
    let anAttemptFailed = false;
    this.counts.sent += 1;
    for (let attempt = 1; attempt <= attempts && !this.stopped; attempt += 1) {
      let status = 0;
      let code: string | undefined;
      try {
        const response = await fetch(`${this.options.apiUrl}/api/v1/offers/respond`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ token, decision }),
          signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 35_000),
        });
        status = response.status;
        const body = (await response.json().catch(() => ({}))) as { error?: { code?: string } };
        code = body.error?.code;
      } catch {
        status = 0;
      }
      if (status === 200 || status === 202) {
        this.decisions.set(tokenHash, intended);
        return;
      }
      if (status === 409 && code === 'ALREADY_RESPONDED' && anAttemptFailed) {
        // Only this responder answers: an earlier attempt whose answer we lost was taken.
        this.decisions.set(tokenHash, intended);
        return;
      }
      if (status === 409 && code === 'HOLD_EXPIRED') {
        this.decisions.set(tokenHash, anAttemptFailed ? 'unknown' : 'too-late');
        return;
      }
      if (status !== 0 && status < 500) break;
      anAttemptFailed = true;
      this.counts.failedAttempts += 1;
      await sleep(1_000);
    }
    this.decisions.set(tokenHash, 'unknown');
  }

  /** Waits for the answers in flight (each bounded by its attempts and time-outs). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  async stop(): Promise<void> {
    this.unsubscribe();
    await this.drain();
    this.stopped = true;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading the outcome from the arm's database
// ---------------------------------------------------------------------------------------------

export async function readSlots(prisma: PrismaClient, slotIds: readonly string[]): Promise<SlotRecord[]> {
  return prisma.slot.findMany({
    where: { id: { in: [...slotIds] } },
    select: { id: true, status: true, assignedEntryId: true },
  });
}

export async function readHolds(prisma: PrismaClient, slotIds: readonly string[]): Promise<HoldRecord[]> {
  return prisma.hold.findMany({
    where: { slotId: { in: [...slotIds] } },
    select: {
      id: true,
      slotId: true,
      entryId: true,
      status: true,
      tokenHash: true,
      createdAt: true,
      updatedAt: true,
      expiresAt: true,
    },
  });
}

/**
 * Polls until every slot is ASSIGNED or UNFILLED, or `timeoutMs` passes (bounded either way);
 * answers how many are final. `onProgress` gets the count every few seconds.
 */
export async function waitForFinalSlots(
  prisma: PrismaClient,
  slotIds: readonly string[],
  timeoutMs: number,
  onProgress?: (final: number) => void,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let final = 0;
  let lastReport = 0;
  while (Date.now() < deadline) {
    try {
      final = await prisma.slot.count({
        where: { id: { in: [...slotIds] }, status: { in: [...FINAL_SLOT_STATUSES] as never } },
      });
    } catch {
      // The database may be the fault under test: ask again.
    }
    if (final === slotIds.length) return final;
    if (onProgress && Date.now() - lastReport > 10_000) {
      onProgress(final);
      lastReport = Date.now();
    }
    await sleep(1_000);
  }
  return final;
}

/** Offer tokens of the messages the catcher took for these slots' candidates (by address suffix). */
export function offerTokensFor(catcher: BenchMessageCatcher, slotIds: readonly string[]): string[] {
  const shortIds = new Set(slotIds.map((id) => id.slice(0, 8)));
  return catcher
    .messages()
    .filter((message) => message.offerToken && shortIds.has(message.to.split('@')[0]!.split('.')[1] ?? ''))
    .map((message) => message.offerToken!);
}
