import { flowPaused } from '../openapi/common-responses';
import type { RouteSpec } from '../openapi/route-spec';
import { Router } from 'express';
import type { WorkflowRouterDeps } from '../router-deps';
import { z } from 'zod';
import { candidateOrder } from '../../domain/candidates';
import { MAX_EXTEND_MINUTES } from '../../domain/holds';
import { EntryStatus } from '../../generated/prisma/enums';
import { extendHoldUpdate, getCascadeStateQuery, waitlistCascadeId } from '../../workflows/waitlist-cascade.contract';
import { principalOf, requireRole } from '../auth';
import { describedAsClosed, whileOpen } from '../closed-workflows';
import {
  cancelCascade,
  createSlot,
  findSlot as findTenantSlot,
  joinWaitlist,
  leaveWaitlist,
  releaseSlot,
} from '../services/slots';
import { email, int4, isoDateTime, noBody, noQuery, pagination, phone, singleLine, uuid } from '../schemas';
import { parse } from '../validation';

export type SlotsRouterDeps = WorkflowRouterDeps;

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
export function createSlotsRouter({ prisma, temporal, taskQueue, fairnessWeights }: SlotsRouterDeps): Router {
  const router = Router();

  const findSlot = (tenantId: string, slotId: string) => findTenantSlot(prisma, tenantId, slotId);

  /** Answers for a cascade that cannot take the request: 404 if it never ran, else 409. */
  const closedCascade = (workflowId: string) => describedAsClosed(temporal, 'CASCADE_CLOSED', 'cascade', workflowId);

  router.post('/slots', async (req, res) => {
    parse(noQuery, req.query);
    const body = parse(createSlotBody, req.body);
    const { tenantId, subject } = principalOf(req);
    const slot = await createSlot(prisma, { tenantId, actor: subject }, body);
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
    const entry = await joinWaitlist(prisma, { tenantId, actor: subject }, slotId, body);
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
    await leaveWaitlist(prisma, { tenantId, actor: subject }, slotId, entryId);
    res.status(204).end();
  });

  router.post('/slots/:slotId/release', requireRole('operator'), async (req, res) => {
    const { slotId } = parse(slotParams, req.params);
    parse(noQuery, req.query);
    parse(noBody, req.body);
    const { tenantId, subject } = principalOf(req);
    const { workflowId, runId } = await releaseSlot(
      { prisma, temporal, taskQueue, fairnessWeights },
      { tenantId, actor: subject },
      slotId,
    );
    res.status(202).location(`/api/v1/slots/${slotId}/cascade`).json({ workflowId, runId });
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
    const { workflowId, runId } = await cancelCascade({ prisma, temporal }, { tenantId, actor: subject }, slotId);
    res.status(202).json({ workflowId, runId, status: 'cancelling' });
  });

  return router;
}

const slotAnswer = z.object({
  id: z.uuid(),
  name: z.string(),
  startsAt: z.iso.datetime().nullable(),
  holdMinutes: z.number().nullable(),
  status: z.string(),
  assignedEntryId: z.uuid().nullable(),
  createdAt: z.iso.datetime(),
});

const entryAnswer = z.object({
  id: z.uuid(),
  slotId: z.uuid(),
  customerName: z.string(),
  email: z.string(),
  phone: z.string().nullable(),
  priority: z.number().int(),
  status: z.enum(EntryStatus),
  joinedAt: z.iso.datetime(),
});

const startedAnswer = z.object({ workflowId: z.string(), runId: z.string() });

export const slotsRoutes: RouteSpec[] = [
  {
    method: 'post',
    path: '/api/v1/slots',
    operationId: 'createSlot',
    summary: 'Create a slot (a place that people wait for)',
    tag: 'Waitlist',
    auth: 'member',
    query: noQuery,
    body: createSlotBody,
    responses: { 201: { description: 'The slot, with Location', schema: slotAnswer } },
  },
  {
    method: 'get',
    path: '/api/v1/slots/:slotId',
    operationId: 'getSlot',
    summary: 'One slot and how many are waiting',
    tag: 'Waitlist',
    auth: 'member',
    params: slotParams,
    query: noQuery,
    responses: { 200: { description: 'The slot', schema: slotAnswer.extend({ waiting: z.number().int() }) } },
  },
  {
    method: 'post',
    path: '/api/v1/slots/:slotId/waitlist',
    operationId: 'joinWaitlist',
    summary: 'Put a person on the slot’s waitlist',
    tag: 'Waitlist',
    auth: 'member',
    params: slotParams,
    query: noQuery,
    body: joinBody,
    responses: {
      201: { description: 'The entry, with Location', schema: entryAnswer },
      409: { description: 'ALREADY_ON_WAITLIST' },
    },
  },
  {
    method: 'get',
    path: '/api/v1/slots/:slotId/waitlist',
    operationId: 'listWaitlist',
    summary: 'The slot’s waitlist, in the order offers go out',
    tag: 'Waitlist',
    auth: 'member',
    params: slotParams,
    query: listQuery,
    responses: { 200: { description: 'The entries', schema: z.object({ entries: z.array(entryAnswer) }) } },
  },
  {
    method: 'delete',
    path: '/api/v1/slots/:slotId/waitlist/:entryId',
    operationId: 'leaveWaitlist',
    summary: 'Take a person off the waitlist',
    tag: 'Waitlist',
    auth: 'member',
    params: entryParams,
    query: noQuery,
    responses: {
      204: { description: 'Removed' },
      409: { description: 'ENTRY_LOCKED (holding an offer, or placed) or ENTRY_CHANGED' },
    },
  },
  {
    method: 'post',
    path: '/api/v1/slots/:slotId/release',
    operationId: 'releaseSlot',
    summary: 'Release the slot: its cascade offers it to the waitlist, one person at a time',
    tag: 'Waitlist',
    auth: 'operator',
    params: slotParams,
    query: noQuery,
    body: noBody,
    responses: {
      202: { description: 'The cascade runs, with Location', schema: startedAnswer },
      409: { description: 'SLOT_ASSIGNED, or ALREADY_STARTED when its cascade has run' },
      423: flowPaused('waitlist'),
    },
  },
  {
    method: 'get',
    path: '/api/v1/slots/:slotId/cascade',
    operationId: 'getCascade',
    summary: 'The cascade’s state: the current offer, who was offered, its deadline',
    tag: 'Waitlist',
    auth: 'member',
    params: slotParams,
    query: noQuery,
    responses: { 200: { description: 'The cascade state' } },
  },
  {
    method: 'post',
    path: '/api/v1/slots/:slotId/cascade/extend',
    operationId: 'extendHold',
    summary: 'Give the person holding the offer more time',
    tag: 'Waitlist',
    auth: 'operator',
    params: slotParams,
    query: noQuery,
    body: extendBody,
    responses: {
      200: { description: 'Extended' },
      202: { description: 'In force; its database write is still being retried (status pending)' },
      409: { description: 'No open hold to extend, or CASCADE_CLOSED' },
    },
  },
  {
    method: 'post',
    path: '/api/v1/slots/:slotId/cascade/cancel',
    operationId: 'cancelCascade',
    summary: 'Cancel the cascade: open holds are withdrawn',
    tag: 'Waitlist',
    auth: 'operator',
    params: slotParams,
    query: noQuery,
    body: noBody,
    responses: {
      202: {
        description: 'Cancelling',
        schema: startedAnswer.extend({ status: z.literal('cancelling') }),
      },
    },
  },
];
