import { createHash } from 'node:crypto';
import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';
import type { PrismaClient } from '../lib/db';
import type { Logger } from '../lib/logger';

interface HitRow {
  hits: number;
  resetMs: number;
}

/**
 * An express-rate-limit store in PostgreSQL (the `RateLimitHit` table), so that several API
 * instances share one count per client. Each row is one fixed window: the first hit sets its
 * end, later hits in the window add one, and the first hit after it starts a new window. The
 * increment is a single upsert, so concurrent instances never lose a hit, and the database's
 * clock decides the windows, so instances with skewed clocks agree.
 *
 * Keys are stored as SHA-256 hashes under the limiter's prefix: no IP address, token or tenant
 * ID is written, so callers pass their keys as they are and this is the only place they are
 * hashed. Rows whose window ended are deleted at most once per window by whichever store
 * notices first.
 */
export class PostgresRateLimitStore implements Store {
  /** Counts are shared between instances, which express-rate-limit's double-count check needs to know. */
  readonly localKeys = false;
  private windowMs = 60_000;
  private nextSweepAt = 0;

  constructor(
    private readonly prisma: PrismaClient,
    /** Names the limiter; two limiters never share a prefix. */
    readonly prefix: string,
    private readonly logger: Logger,
  ) {}

  init(options: Options): void {
    this.windowMs = options.windowMs;
  }

  private rowKey(key: string): string {
    return `${this.prefix}:${createHash('sha256').update(key).digest('base64url')}`;
  }

  /** The count of the key's current window, without counting; undefined when no window is running. */
  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    const [row] = await this.prisma.$queryRaw<HitRow[]>`
      SELECT "hits", (EXTRACT(EPOCH FROM "resetAt") * 1000)::float8 AS "resetMs"
      FROM "RateLimitHit"
      WHERE "key" = ${this.rowKey(key)} AND "resetAt" > (now() AT TIME ZONE 'UTC')`;
    return row && { totalHits: row.hits, resetTime: new Date(row.resetMs) };
  }

  async increment(key: string): Promise<ClientRateLimitInfo> {
    this.sweepIfDue();
    // Timestamps are UTC without a zone, as Prisma writes DateTime columns.
    const [row] = await this.prisma.$queryRaw<HitRow[]>`
      INSERT INTO "RateLimitHit" AS hit ("key", "hits", "resetAt")
      VALUES (
        ${this.rowKey(key)},
        1,
        (now() AT TIME ZONE 'UTC') + ${this.windowMs}::integer * interval '1 millisecond'
      )
      ON CONFLICT ("key") DO UPDATE SET
        "hits" = CASE WHEN hit."resetAt" <= (now() AT TIME ZONE 'UTC') THEN 1 ELSE hit."hits" + 1 END,
        "resetAt" = CASE WHEN hit."resetAt" <= (now() AT TIME ZONE 'UTC') THEN excluded."resetAt" ELSE hit."resetAt" END
      RETURNING "hits", (EXTRACT(EPOCH FROM "resetAt") * 1000)::float8 AS "resetMs"`;
    return { totalHits: row!.hits, resetTime: new Date(row!.resetMs) };
  }

  async decrement(key: string): Promise<void> {
    await this.prisma.$executeRaw`
      UPDATE "RateLimitHit" SET "hits" = GREATEST("hits" - 1, 0)
      WHERE "key" = ${this.rowKey(key)} AND "resetAt" > (now() AT TIME ZONE 'UTC')`;
  }

  async resetKey(key: string): Promise<void> {
    await this.prisma.$executeRaw`DELETE FROM "RateLimitHit" WHERE "key" = ${this.rowKey(key)}`;
  }

  async resetAll(): Promise<void> {
    await this.prisma.$executeRaw`DELETE FROM "RateLimitHit" WHERE starts_with("key", ${`${this.prefix}:`})`;
  }

  /** Deletes ended windows in the background; a failed sweep is retried a window later. */
  private sweepIfDue(): void {
    const now = Date.now();
    if (now < this.nextSweepAt) return;
    this.nextSweepAt = now + this.windowMs;
    this.prisma.$executeRaw`DELETE FROM "RateLimitHit" WHERE "resetAt" < (now() AT TIME ZONE 'UTC')`.catch(
      (error: unknown) => this.logger.warn({ err: error }, 'rate limit sweep failed'),
    );
  }
}
