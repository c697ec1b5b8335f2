import { Router } from 'express';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { candidateOrder } from '../../domain/candidates';
import { MAX_EXTEND_MINUTES } from '../../domain/holds';
import { EntryStatus } from '../../generated/prisma/enums';
import type { PrismaClient } from '../../lib/db';
import { waitlistCascadeWorkflow } from '../../workflows/waitlist-cascade';
import {
  extendHoldUpdate,
  getCascadeStateQuery,
  waitlistCascadeId,
  waitlistCascadeStartOptions,
} from '../../workflows/waitlist-cascade.contract';
import { principalOf, requireRole } from '../auth';
import { conflict, notFound } from '../errors';
import { writeAudit } from '../../activities/audit';
import { describedAsClosed, whileOpen, workflowClosed } from '../closed-workflows';
import { email, int4, isoDateTime, noBody, noQuery, pagination, phone, singleLine, uuid } from '../schemas';
import { parse } from '../validation';

export interface SlotsRouterDeps {
  prisma: PrismaClient;
  temporal: Client;
  taskQueue: string;
}

const MAX_HOLD_MINUTES = 7 * 24 * 60;

const slotParams = z.object({ slotId: uuid() });
const entryParams = z.object({ slotId: uuid(), entryId: uuid() });

const createSlotBody = z
  .object({
    name: singleLine(200),
    startsAt: isoDateTime().optional(),
    holdMinutes: int4(1, MAX_HOLD_MINUTES).optional(),
  })
  .strict();

const joinBody = z
  .object({
    customerName: singleLine(200),
    email: email(),
    phone: phone().optional(),
    priority: int4(-1000, 1000).optional(),
  })
  .strict();

const listQuery = z
  .object({
    status: z.enum(EntryStatus).optional(),
    limit: pagination().limit,
  })
  .strict();

const extendBody = z.object({ minutes: int4(1, MAX_EXTEND_MINUTES) }).strict();

function presentSlot(slot: {
  id: string;
  name: string;
  startsAt: Date | null;
  holdSeconds: number | null;
  status: string;
  assignedEntryId: string | null;
  createdAt: Date;
}) {
  const { id, name, startsAt, holdSeconds, status, assignedEntryId, createdAt } = slot;
  return {
    id,
    name,
    startsAt,
    holdMinutes: holdSeconds === null ? null : holdSeconds / 60,
    status,
    assignedEntryId,
    createdAt,
  };
}

function presentEntry(entry: {
  id: string;
  slotId: string;
  customerName: string;
  email: string;
  phone: string | null;
  priority: number;
  status: string;
  joinedAt: Date;
}) {
  const { id, slotId, customerName, email, phone, priority, status, joinedAt } = entry;
  return { id, slotId, customerName, email, phone, priority, status, joinedAt };
}

/**
 * Slots, their waitlists and their cascades, all scoped to the caller's tenant: another
 * tenant's slot is simply not found. Reading and joining need any role; releasing, extending
 * and cancelling a cascade need operator or above.
 */
export function createSlotsRouter({ prisma, temporal, taskQueue }: SlotsRouterDeps): Router {
  const router = Router();

  async function findSlot(tenantId: string, slotId: string) {
    const slot = await prisma.slot.findFirst({ where: { id: slotId, tenantId } });
    if (!slot) throw notFound('Slot', { slotId });
    return slot;
  }

  /** Answers for a cascade that cannot take the request: 404 if it never ran, else 409. */
  const closedCascade = (workflowId: string) => describedAsClosed(temporal, 'CASCADE_CLOSED', 'cascade', workflowId);

  router.post('/slots', async (req, res) => {
    parse(noQuery, req.query);
    const body = parse(createSlotBody, req.body);
    const { tenantId, subject } = principalOf(req);
    const slot = await prisma.$transaction(async (tx) => {
      const created = await tx.slot.create({
        data: {
          tenantId,
          name: body.name,
          startsAt: body.startsAt ? new Date(body.startsAt) : null,
          holdSeconds: body.holdMinutes === undefined ? null : body.holdMinutes * 60,
        },
      });
      await writeAudit(tx, {
        tenantId,
        actor: subject,
        action: 'slot.created',
        entityType: 'Slot',
        entityId: created.id,
        details: body,
      });
      return created;
    });
    res.status(201).location(`/api/v1/slots/${slot.id}`).json(presentSlot(slot));
  });

  router.get('/slots/:slotId', async (req, res) => {
    const { slotId } = parse(slotParams, req.params);
    parse(noQuery, req.query);
    const { tenantId } = principalOf(req);
    const slot = await findSlot(tenantId, slotId);
    const waiting = await prisma.waitlistEntry.count({ where: { slotId, status: 'WAITING' } });
    res.json({ ...presentSlot(slot), waiting });
  });

  router.post('/slots/:slotId/waitlist', async (req, res) => {
    const { slotId } = parse(slotParams, req.params);
    parse(noQuery, req.query);
    const body = parse(joinBody, req.body);
    const { tenantId, subject } = principalOf(req);
    await findSlot(tenantId, slotId);
    const entry = await prisma.$transaction(async (tx) => {
      const already = await tx.waitlistEntry.findFirst({
        where: { slotId, email: { equals: body.email, mode: 'insensitive' }, status: { in: ['WAITING', 'OFFERED'] } },
      });
      if (already) {
        throw conflict('ALREADY_ON_WAITLIST', 'This email is already waiting for this slot', { entryId: already.id });
      }
      const created = await tx.waitlistEntry.create({ data: { tenantId, slotId, ...body } });
      await writeAudit(tx, {
        tenantId,
        actor: subject,
        action: 'waitlist.joined',
        entityType: 'WaitlistEntry',
        entityId: created.id,
        details: { slotId, priority: created.priority },
      });
      return created;
    });
    res.status(201).location(`/api/v1/slots/${slotId}/waitlist/${entry.id}`).json(presentEntry(entry));
  });

  router.get('/slots/:slotId/waitlist', async (req, res) => {
    const { slotId } = parse(slotParams, req.params);
    const { status, limit } = parse(listQuery, req.query);
    const { tenantId } = principalOf(req);
    await findSlot(tenantId, slotId);
    const entries = await prisma.waitlistEntry.findMany({
      where: { tenantId, slotId, ...(status ? { status } : {}) },
      orderBy: [...candidateOrder],
      take: limit,
    });
    res.json({ entries: entries.map(presentEntry) });
  });

  router.delete('/slots/:slotId/waitlist/:entryId', async (req, res) => {
    const { slotId, entryId } = parse(entryParams, req.params);
    parse(noQuery, req.query);
    const { tenantId, subject } = principalOf(req);
    const entry = await prisma.waitlistEntry.findFirst({ where: { id: entryId, slotId, tenantId } });
    if (!entry) throw notFound('Waitlist entry', { entryId });
    if (entry.status === 'OFFERED' || entry.status === 'ACCEPTED') {
      throw conflict('ENTRY_LOCKED', `The entry is ${entry.status.toLowerCase()} and cannot be removed now`, {
        status: entry.status,
      });
    }
    if (entry.status !== 'REMOVED') {
      await prisma.$transaction(async (tx) => {
        // Guarded by the status read above, so an offer made meanwhile is not silently removed.
        const removed = await tx.waitlistEntry.updateMany({
          where: { id: entryId, status: entry.status },
          data: { status: 'REMOVED' },
        });
        if (removed.count === 0) throw conflict('ENTRY_CHANGED', 'The entry changed meanwhile; try again');
        await writeAudit(tx, {
          tenantId,
          actor: subject,
          action: 'waitlist.removed',
          entityType: 'WaitlistEntry',
          entityId: entryId,
        });
      });
    }
    res.status(204).end();
  });

  router.post('/slots/:slotId/release', requireRole('operator'), async (req, res) => {
    const { slotId } = parse(slotParams, req.params);
    parse(noQuery, req.query);
    parse(noBody, req.body);
    const { tenantId, subject } = principalOf(req);
    const slot = await findSlot(tenantId, slotId);
    if (slot.status === 'ASSIGNED') {
      throw conflict('SLOT_ASSIGNED', 'The slot is already assigned', { assignedEntryId: slot.assignedEntryId });
    }
    const startOptions = waitlistCascadeStartOptions(tenantId, slotId);
    const { workflowId } = startOptions;
    const handle = await temporal.workflow.start(waitlistCascadeWorkflow, {
      taskQueue,
      args: [{ tenantId, slotId }],
      ...startOptions,
    });
    await writeAudit(prisma, {
      tenantId,
      actor: subject,
      action: 'slot.release-requested',
      entityType: 'Slot',
      entityId: slotId,
      details: { workflowId, runId: handle.firstExecutionRunId },
    });
    res.status(202).location(`/api/v1/slots/${slotId}/cascade`).json({ workflowId, runId: handle.firstExecutionRunId });
  });

  router.get('/slots/:slotId/cascade', async (req, res) => {
    const { slotId } = parse(slotParams, req.params);
    parse(noQuery, req.query);
    const { tenantId } = principalOf(req);
    await findSlot(tenantId, slotId);
    const state = await temporal.workflow.getHandle(waitlistCascadeId(tenantId, slotId)).query(getCascadeStateQuery);
    res.json(state);
  });

  router.post('/slots/:slotId/cascade/extend', requireRole('operator'), async (req, res) => {
    const { slotId } = parse(slotParams, req.params);
    parse(noQuery, req.query);
    const { minutes } = parse(extendBody, req.body);
    const { tenantId, subject } = principalOf(req);
    await findSlot(tenantId, slotId);
    const workflowId = waitlistCascadeId(tenantId, slotId);
    const extended = await whileOpen(
      () =>
        temporal.workflow
          .getHandle(workflowId)
          .executeUpdate(extendHoldUpdate, { args: [{ minutes, actor: subject }] }),
      () => closedCascade(workflowId),
    );
    // `pending`: the cascade holds the offer open until `expiresAt` already; the database write goes on.
    if (extended.status === 'pending') res.status(202).location(`/api/v1/slots/${slotId}/cascade`);
    res.json(extended);
  });

  router.post('/slots/:slotId/cascade/cancel', requireRole('operator'), async (req, res) => {
    const { slotId } = parse(slotParams, req.params);
    parse(noQuery, req.query);
    parse(noBody, req.body);
    const { tenantId, subject } = principalOf(req);
    await findSlot(tenantId, slotId);
    const workflowId = waitlistCascadeId(tenantId, slotId);
    const handle = temporal.workflow.getHandle(workflowId);
    const description = await handle.describe();
    if (description.status.name !== 'RUNNING') {
      throw workflowClosed('CASCADE_CLOSED', 'cascade', workflowId, description.status.name);
    }
    await handle.cancel();
    await writeAudit(prisma, {
      tenantId,
      actor: subject,
      action: 'cascade.cancel-requested',
      entityType: 'Slot',
      entityId: slotId,
      details: { workflowId, runId: description.runId },
    });
    res.status(202).json({ workflowId, runId: description.runId, status: 'cancelling' });
  });

  return router;
}
