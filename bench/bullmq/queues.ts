import type { JobsOptions, Queue, QueueOptions } from 'bullmq';

/**
 * The queues of the BullMQ baseline, named and configured as in the seed's design
 * (/work/shared/seeds/000_*.txt): `expired-holds` (1 concurrent job, every minute, 3 attempts),
 * `notification-cascade` (3 concurrent jobs, 5 attempts with exponential backoff) and the
 * notification retries (2 concurrent jobs, 3 attempts, 1 s, 2 s, 4 s).
 */

export const QueueName = {
  cascade: 'notification-cascade',
  expiredHolds: 'expired-holds',
  notifications: 'notifications',
} as const;

/** How holds expire: B-poll (the seed's minute poll) or B-delay (one delayed job per hold). */
export type ExpiryMode = 'poll' | 'delay';

/** One round of a cascade: offer the slot to the next WAITING candidate. */
export interface CascadeJobData {
  tenantId: string;
  slotId: string;
  /** `bull:<slotId>:<release stamp>`: one per release, stored on every Hold of the cascade. */
  cascadeId: string;
  round: number;
  reason: 'release' | 'declined' | 'expired' | 'unreachable';
}

/** B-delay: expire this hold at its deadline unless it was answered. */
export interface ExpireHoldJobData {
  tenantId: string;
  holdId: string;
}

export type NotificationJobData =
  | { kind: 'confirmation'; tenantId: string; holdId: string }
  | { kind: 'escalation'; tenantId: string; slotId: string; cascadeId: string };

export const JobName = {
  cascade: 'cascade',
  pollExpiredHolds: 'expired-holds',
  expireHold: 'expire-hold',
  confirmation: 'confirmation',
  escalation: 'escalation',
} as const;

/** The seed's per-queue concurrency. */
export const Concurrency = { cascade: 3, expiredHolds: 1, notifications: 2 } as const;

/** The seed's "every minute"; the test shortens it with BULL_POLL_EVERY_MS. */
export const DEFAULT_POLL_EVERY_MS = 60_000;

/**
 * Completed and failed jobs are trimmed (the seed: "automatic cleanup of completed jobs"). Job-ID
 * dedup therefore holds only while a job is kept; every processor is idempotent against the
 * database as well, so a re-added job that already ran changes nothing.
 */
const retention = { removeOnComplete: { count: 5_000 }, removeOnFail: { count: 10_000 } } as const;

export const jobOptions = {
  cascade: { attempts: 5, backoff: { type: 'exponential', delay: 1_000 }, ...retention },
  expiredHolds: { attempts: 3, backoff: { type: 'exponential', delay: 1_000 }, ...retention },
  notifications: { attempts: 3, backoff: { type: 'exponential', delay: 1_000 }, ...retention },
} satisfies Record<string, JobsOptions>;

/** BullMQ refuses `:` in custom job IDs. */
const idPart = (text: string) => text.replace(/:/g, '-');

/** One job per (cascade, round): a second enqueue of the same round is dropped by Redis. */
export const cascadeJobId = (cascadeId: string, round: number) => `cascade-${idPart(cascadeId)}-r${round}`;

/** One delayed expiry job per hold (B-delay). */
export const expireHoldJobId = (holdId: string) => `expire-${holdId}`;

export const confirmationJobId = (holdId: string) => `confirmation-${holdId}`;
export const escalationJobId = (cascadeId: string) => `escalation-${idPart(cascadeId)}`;

/** A new cascade's ID: the slot plus the release instant, so a slot released again after UNFILLED starts afresh. */
export const newCascadeId = (slotId: string, now: Date) => `bull:${slotId}:${now.getTime().toString(36)}`;

/** ioredis options from `redis://host:port[/db]`; BullMQ workers need `maxRetriesPerRequest: null`. */
export function redisConnection(url: string): QueueOptions['connection'] {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    db: parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0,
    maxRetriesPerRequest: null,
  };
}

/** Enqueues a cascade round; idempotent per (cascade, round). */
export function enqueueCascade(queue: Queue, data: CascadeJobData): Promise<unknown> {
  return queue.add(JobName.cascade, data, { ...jobOptions.cascade, jobId: cascadeJobId(data.cascadeId, data.round) });
}

/** Reads BULL_EXPIRY; anything but `poll` or `delay` is refused rather than guessed. */
export function expiryModeOf(env: NodeJS.ProcessEnv): ExpiryMode {
  const value = env.BULL_EXPIRY ?? 'poll';
  if (value !== 'poll' && value !== 'delay') throw new Error(`BULL_EXPIRY must be poll or delay, not ${value}`);
  return value;
}

/** Reads BULL_POLL_EVERY_MS (default 60 000). */
export function pollEveryMsOf(env: NodeJS.ProcessEnv): number {
  const raw = env.BULL_POLL_EVERY_MS;
  if (raw === undefined || raw === '') return DEFAULT_POLL_EVERY_MS;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 100) throw new Error('BULL_POLL_EVERY_MS must be an integer ≥ 100');
  return value;
}

/**
 * Reads BULL_CASCADE_CONCURRENCY: the seed's 3 by default. The bench may raise it to give the
 * baseline the tuning a team would do under load; the setting used belongs in its report.
 */
export function cascadeConcurrencyOf(env: NodeJS.ProcessEnv): number {
  const raw = env.BULL_CASCADE_CONCURRENCY;
  if (raw === undefined || raw === '') return Concurrency.cascade;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 100) throw new Error('BULL_CASCADE_CONCURRENCY must be 1..100');
  return value;
}

/** Reads REDIS_URL. */
export function redisUrlOf(env: NodeJS.ProcessEnv): string {
  const url = env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL must be set (redis://127.0.0.1:<port>)');
  return url;
}
