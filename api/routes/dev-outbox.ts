import type { RouteSpec } from '../openapi/route-spec';
import fs from 'node:fs';
import { Router } from 'express';
import { z } from 'zod';
import { outboxMessage, readOutbox, type OutboxFilter, type OutboxRecord } from '../../domain/outbox';
import type { PrismaClient } from '../../lib/db';
import { hasRole, principalOf, requireRole, type Principal } from '../auth';
import { parse } from '../validation';

export interface DevOutboxRouterDeps {
  outboxFile: string;
  prisma: PrismaClient;
  /** How often a waiting request looks at the file again. */
  pollIntervalMs?: number;
}

/** The longest a request may wait for a message, in seconds. */
export const MAX_OUTBOX_WAIT_SECONDS = 30;

const digits = (max: number) =>
  z
    .string()
    .regex(/^\d{1,4}$/, { message: 'expected a whole number' })
    .transform(Number)
    .pipe(z.number().int().max(max));

const outboxQuery = z
  .object({
    to: z.string().trim().min(1).max(254).optional(),
    limit: digits(500).pipe(z.number().min(1)).default(50),
    since: z.iso
      .datetime({ offset: true })
      .transform((text) => new Date(text))
      .refine((date) => !Number.isNaN(date.getTime()), { message: 'not a real date' })
      .optional(),
    wait: digits(MAX_OUTBOX_WAIT_SECONDS).default(0),
  })
  .strict();

/** How many file records are checked against the ledger per query. */
const LOOKUP_BATCH = 200;

/**
 * `GET /dev/outbox?to=&since=&limit=&wait=`: what the local SMTP catcher and SMS and WhatsApp
 * sinks caught, newest first, as `{ messages: [{ channel, to, subject, text, links, sentAt }] }`.
 *
 * - A tenant-admin sees only messages its own tenant's flows sent: each record names its
 *   Notification row, and only rows of the caller's tenant pass. A platform-admin sees all.
 * - `since` (ISO 8601 with a zone) keeps messages caught at or after that instant.
 * - `wait` (seconds, at most 30) holds the request until a matching message exists, so a script
 *   never races the mail; when none arrives in time the answer is the empty list, still 200.
 *
 * Mount it only in development with a dev outbox file: elsewhere the route does not exist (404).
 */
export function createDevOutboxRouter({ outboxFile, prisma, pollIntervalMs = 200 }: DevOutboxRouterDeps): Router {
  const router = Router();

  async function readRecords(filter: OutboxFilter): Promise<OutboxRecord[]> {
    const text = await fs.promises.readFile(outboxFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw error;
    });
    return readOutbox(text, filter);
  }

  /** The first `limit` of `records` that `principal` may see, in their order. */
  async function visible(principal: Principal, records: OutboxRecord[], limit: number): Promise<OutboxRecord[]> {
    if (hasRole(principal, 'platform-admin')) return records.slice(0, limit);
    const shown: OutboxRecord[] = [];
    for (let start = 0; start < records.length && shown.length < limit; start += LOOKUP_BATCH) {
      const batch = records.slice(start, start + LOOKUP_BATCH);
      const ids = batch.flatMap((record) => (record.notificationId ? [record.notificationId] : []));
      const keys = batch.flatMap((record) => (record.idempotencyKey ? [record.idempotencyKey] : []));
      if (ids.length === 0 && keys.length === 0) continue;
      const own = await prisma.notification.findMany({
        where: { tenantId: principal.tenantId, OR: [{ id: { in: ids } }, { idempotencyKey: { in: keys } }] },
        select: { id: true, idempotencyKey: true },
      });
      const ownIds = new Set(own.map((row) => row.id));
      const ownKeys = new Set(own.map((row) => row.idempotencyKey));
      for (const record of batch) {
        const mine =
          (record.notificationId !== undefined && ownIds.has(record.notificationId)) ||
          (record.idempotencyKey !== undefined && ownKeys.has(record.idempotencyKey));
        if (mine && shown.length < limit) shown.push(record);
      }
    }
    return shown;
  }

  router.get('/dev/outbox', requireRole('tenant-admin'), async (req, res) => {
    const { to, since, limit, wait } = parse(outboxQuery, req.query);
    const principal = principalOf(req);
    const deadline = Date.now() + wait * 1000;
    let gone = false;
    res.once('close', () => (gone = true));

    let messages = await visible(principal, await readRecords({ to, since }), limit);
    while (messages.length === 0 && !gone && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(pollIntervalMs, deadline - Date.now())));
      messages = await visible(principal, await readRecords({ to, since }), limit);
    }
    if (gone) return;
    res.json({ messages: messages.map(outboxMessage) });
  });
  return router;
}

export const devOutboxRoutes: RouteSpec[] = [
  {
    method: 'get',
    path: '/api/v1/dev/outbox',
    operationId: 'getDevOutbox',
    summary: 'What the local mail catcher and SMS/WhatsApp sinks caught (development only)',
    description:
      'Newest first; a tenant-admin sees only its own tenant’s messages. `wait` holds the request until a ' +
      'matching message exists (at most 30 s). Mounted only in development with a dev outbox file.',
    tag: 'Development',
    auth: 'tenant-admin',
    query: outboxQuery,
    responses: {
      200: {
        description: 'The messages, possibly none',
        schema: z.object({
          messages: z.array(
            z.object({
              channel: z.enum(['email', 'sms', 'whatsapp']),
              to: z.string(),
              subject: z.string().nullable(),
              text: z.string(),
              links: z.array(z.string()),
              sentAt: z.string(),
            }),
          ),
        }),
      },
    },
  },
];
