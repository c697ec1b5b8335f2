import type { CaughtMessage, RunningArm } from '../lib/arm';
import type { SentDecline } from './metrics';

/**
 * The bench's load: open-loop Poisson arrivals of cascades (each one a release of a fresh slot over
 * HTTP; the schedule never waits for answers), and a responder that answers the offers the catcher
 * takes like the seeds' candidates do: accept, decline or let the hold expire, in a fixed mix, after a
 * short think time. Both are seeded, bounded in count and time, and stop by themselves.
 */

/** A small seeded PRNG (mulberry32): uniform in [0, 1). */
export function createPrng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A 32-bit seed from parts (FNV-1a), so that one candidate's choice does not depend on arrival order. */
export function seedFor(...parts: (string | number)[]): number {
  let hash = 0x811c9dc5;
  for (const char of parts.join('\u0000')) {
    hash ^= char.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

export type OfferDecision = 'accept' | 'decline' | 'expire';

/** Shares of offers accepted, declined and left to expire (no answer); they sum to 1. */
export interface AnswerMix {
  accept: number;
  decline: number;
  expire: number;
}

/** The seeds' mix: 30 % accept, 30 % decline, 40 % let the hold expire. */
export const seedsAnswerMix: AnswerMix = { accept: 0.3, decline: 0.3, expire: 0.4 };

export function decideOffer(random: () => number, mix: AnswerMix = seedsAnswerMix): OfferDecision {
  const draw = random() * (mix.accept + mix.decline + mix.expire);
  if (draw < mix.accept) return 'accept';
  if (draw < mix.accept + mix.decline) return 'decline';
  return 'expire';
}

/**
 * Arrival offsets (ms from the start) of a Poisson process of `ratePerSecond`: exponential gaps,
 * at most `maxCount` arrivals and none at or after `maxDurationMs`.
 */
export function poissonArrivals(
  random: () => number,
  ratePerSecond: number,
  maxCount: number,
  maxDurationMs: number,
): number[] {
  const arrivals: number[] = [];
  let at = 0;
  while (arrivals.length < maxCount) {
    // 1 − random() is in (0, 1]: the logarithm stays finite.
    at += (-Math.log(1 - random()) / ratePerSecond) * 1000;
    if (at >= maxDurationMs) break;
    arrivals.push(at);
  }
  return arrivals;
}

/** One release, timed at the client (Date.now() before the request and at its answer). */
export interface ReleaseTiming {
  slotId: string;
  sentAt: number;
  answeredAt: number;
  /** HTTP status; 0 when the request failed or timed out. */
  status: number;
}

/** One answer to an offer, timed at the client. */
export interface AnswerTiming extends SentDecline {
  decision: 'accept' | 'decline';
  answeredAt: number;
}

const requestTimeoutMs = 30_000;

async function post(url: string, headers: Record<string, string>, body?: unknown): Promise<number> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(requestTimeoutMs),
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

export interface ArrivalOptions {
  /** Slots made for this run (createBenchSlots); their count bounds the cascades. */
  slotIds: readonly string[];
  ratePerSecond: number;
  maxDurationMs: number;
  seed: number;
  /** Called with each slot as its release is sent (the live sampler's list of released slots). */
  onReleased?: (slotId: string) => void;
}

/**
 * Releases the slots at Poisson arrival times, without waiting for earlier answers (open loop), and
 * resolves with every release's timing once the last answer is in (each bounded by a 30 s time-out).
 */
export async function runArrivals(arm: RunningArm, options: ArrivalOptions): Promise<ReleaseTiming[]> {
  const schedule = poissonArrivals(
    createPrng(seedFor(options.seed, 'arrivals')),
    options.ratePerSecond,
    options.slotIds.length,
    options.maxDurationMs,
  );
  const headers = { authorization: `Bearer ${arm.operatorToken}` };
  const startedAt = Date.now();
  const pending: Promise<ReleaseTiming>[] = [];
  for (const [index, offset] of schedule.entries()) {
    const wait = startedAt + offset - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const slotId = options.slotIds[index]!;
    options.onReleased?.(slotId);
    const sentAt = Date.now();
    pending.push(
      post(`${arm.apiUrl}/api/v1/slots/${slotId}/release`, headers).then((status) => ({
        slotId,
        sentAt,
        answeredAt: Date.now(),
        status,
      })),
    );
  }
  return Promise.all(pending);
}

export interface ResponderOptions {
  seed: number;
  mix?: AnswerMix;
  /** Think time before answering, uniform in [min, max] ms; keep it well inside the hold. */
  thinkMs?: { min: number; max: number };
  /**
   * A stable name for a recipient: the slot's ordinal in its run and the candidate's rank, so that the
   * same cascade of every arm and round answers alike. Recipients it does not know fall back to the address.
   */
  candidateKey?: (recipient: string) => string | undefined;
}

export interface Responder {
  answers(): readonly AnswerTiming[];
  decisions(): Record<OfferDecision, number>;
  /** Stops taking offers and waits for the answers under way. */
  stop(): Promise<void>;
}

/**
 * Answers each offer the catcher takes. The decision and the think time come from a PRNG seeded by the
 * run's seed and the candidate (see `candidateKey`), so a candidate behaves the same whatever order the
 * messages arrive in. A second message for one offer (a duplicate) is not answered again.
 */
export function startResponder(arm: RunningArm, options: ResponderOptions): Responder {
  const think = options.thinkMs ?? { min: 500, max: 5_000 };
  const mix = options.mix ?? seedsAnswerMix;
  const answers: AnswerTiming[] = [];
  const decisions: Record<OfferDecision, number> = { accept: 0, decline: 0, expire: 0 };
  const seen = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();
  const inFlight = new Set<Promise<void>>();
  let stopped = false;

  const answer = async (token: string, decision: 'accept' | 'decline') => {
    const sentAt = Date.now();
    const status = await post(`${arm.apiUrl}/api/v1/offers/respond`, {}, { token, decision });
    answers.push({ token, decision, sentAt, answeredAt: Date.now(), status });
  };

  const onMessage = (message: CaughtMessage) => {
    const token = message.offerToken;
    if (stopped || !token || seen.has(token)) return;
    seen.add(token);
    const random = createPrng(seedFor(options.seed, options.candidateKey?.(message.to) ?? message.to));
    const decision = decideOffer(random, mix);
    decisions[decision] += 1;
    if (decision === 'expire') return;
    const delay = think.min + random() * (think.max - think.min);
    const timer = setTimeout(() => {
      timers.delete(timer);
      const work = answer(token, decision).finally(() => inFlight.delete(work));
      inFlight.add(work);
    }, delay);
    timers.add(timer);
  };
  const unsubscribe = arm.catcher.onMessage(onMessage);

  return {
    answers: () => answers,
    decisions: () => ({ ...decisions }),
    async stop() {
      stopped = true;
      unsubscribe();
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await Promise.all([...inFlight]);
    },
  };
}
