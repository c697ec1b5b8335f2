import fs from 'node:fs';
import { Router } from 'express';
import { z } from 'zod';
import { readOutbox } from '../../domain/outbox';
import { requireRole } from '../auth';
import { parse } from '../validation';

const outboxQuery = z
  .object({
    to: z.string().trim().min(1).max(254).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
  })
  .strict();

/**
 * `GET /dev/outbox?to=<address>&limit=`: what the local SMTP catcher and SMS sink caught,
 * newest first, as `{ messages: [{ channel, to, subject, text, links, sentAt }] }`.
 * Tenant-admin only. Mount it only in development with a dev outbox file: elsewhere the route
 * does not exist (404).
 */
export function createDevOutboxRouter({ outboxFile }: { outboxFile: string }): Router {
  const router = Router();
  router.get('/dev/outbox', requireRole('tenant-admin'), async (req, res) => {
    const { to, limit } = parse(outboxQuery, req.query);
    const text = await fs.promises.readFile(outboxFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw error;
    });
    res.json({ messages: readOutbox(text, { to, limit }) });
  });
  return router;
}
