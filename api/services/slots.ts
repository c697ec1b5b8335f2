import type { Client } from '@temporalio/client';
import { writeAudit } from '../../activities/audit';
import type { PrismaClient } from '../../lib/db';
import { waitlistCascadeWorkflow } from '../../workflows/waitlist-cascade';
import { waitlistCascadeId, waitlistCascadeStartOptions } from '../../workflows/waitlist-cascade.contract';
import { workflowClosed } from '../closed-workflows';
import { conflict, notFound } from '../errors';
import { assertFlowAccepting } from './flow-pauses';
import type { FairnessWeights } from '../../domain/tenant-fairness';
import { loadTenantFairness } from '../../lib/tenant-fairness';

/** What the slot services use: the tenant's data, and the cascade workflows that fill slots. */
export interface SlotServiceDeps {
  prisma: PrismaClient;
  temporal: Client;
  taskQueue: string;
  /** FAIRNESS_WEIGHTS (config.worker.fairnessWeights); the defaults when absent. */
  fairnessWeights?: FairnessWeights;
}

/** Who asks: the caller's tenant and identity (the audit log's actor). */
export interface SlotCaller {
  tenantId: string;
  actor: string;
}

/** A slot as an operator creates it. */
export type SlotRequest = {
  name: string;
  startsAt?: string;
  holdMinutes?: number;
};

/** Someone asking for a place on a slot's waitlist. */
export interface WaitlistRequest {
  customerName: string;
  email: string;
  phone?: string;
  priority?: number;
}

/** The tenant's slot, or 404 NOT_FOUND: another tenant's slot is simply not found. */
export async function findSlot(prisma: PrismaClient, tenantId: string, slotId: string) {
  const slot = await prisma.slot.findFirst({ where: { id: slotId, tenantId } });
  if (!slot) throw notFound('Slot', { slotId });
  return slot;
}

/** Creates a slot, audited as `slot.created`. */
export async function createSlot(prisma: PrismaClient, { tenantId, actor }: SlotCaller, request: SlotRequest) {
  return prisma.$transaction(async (tx) => {
    const created = await tx.slot.create({
      data: {
        tenantId,
        name: request.name,
        startsAt: request.startsAt ? new Date(request.startsAt) : null,
        holdSeconds: request.holdMinutes === undefined ? null : request.holdMinutes * 60,
      },
    });
    await writeAudit(tx, {
      tenantId,
      actor,
      action: 'slot.created',
      entityType: 'Slot',
      entityId: created.id,
      details: request,
    });
    return created;
  });
}

/**
 * Puts someone on a slot's waitlist, audited as `waitlist.joined`. Throws 404 for an unknown slot
 * and 409 ALREADY_ON_WAITLIST while the same email (in any case) is waiting or holds an offer.
 */
export async function joinWaitlist(
  prisma: PrismaClient,
  { tenantId, actor }: SlotCaller,
  slotId: string,
  request: WaitlistRequest,
) {
  await findSlot(prisma, tenantId, slotId);
  return prisma.$transaction(async (tx) => {
    const already = await tx.waitlistEntry.findFirst({
      where: { slotId, email: { equals: request.email, mode: 'insensitive' }, status: { in: ['WAITING', 'OFFERED'] } },
    });
    if (already) {
      throw conflict('ALREADY_ON_WAITLIST', 'This email is already waiting for this slot', { entryId: already.id });
    }
    const created = await tx.waitlistEntry.create({ data: { tenantId, slotId, ...request } });
    await writeAudit(tx, {
      tenantId,
      actor,
      action: 'waitlist.joined',
      entityType: 'WaitlistEntry',
      entityId: created.id,
      details: { slotId, priority: created.priority },
    });
    return created;
  });
}

/**
 * Takes an entry off a slot's waitlist, audited as `waitlist.removed`; an entry already removed
 * stays so without a second audit row. Throws 404 for an unknown entry, 409 ENTRY_LOCKED while it
 * holds an offer or has accepted one, 409 ENTRY_CHANGED if an offer was made meanwhile.
 */
export async function leaveWaitlist(
  prisma: PrismaClient,
  { tenantId, actor }: SlotCaller,
  slotId: string,
  entryId: string,
): Promise<void> {
  const entry = await prisma.waitlistEntry.findFirst({ where: { id: entryId, slotId, tenantId } });
  if (!entry) throw notFound('Waitlist entry', { entryId });
  if (entry.status === 'OFFERED' || entry.status === 'ACCEPTED') {
    throw conflict('ENTRY_LOCKED', `The entry is ${entry.status.toLowerCase()} and cannot be removed now`, {
      status: entry.status,
    });
  }
  if (entry.status === 'REMOVED') return;
  await prisma.$transaction(async (tx) => {
    // Guarded by the status read above, so an offer made meanwhile is not silently removed.
    const removed = await tx.waitlistEntry.updateMany({
      where: { id: entryId, status: entry.status },
      data: { status: 'REMOVED' },
    });
    if (removed.count === 0) throw conflict('ENTRY_CHANGED', 'The entry changed meanwhile; try again');
    await writeAudit(tx, {
      tenantId,
      actor,
      action: 'waitlist.removed',
      entityType: 'WaitlistEntry',
      entityId: entryId,
    });
  });
}

/** The value of a settled promise, or its rejection thrown. */
function settledValue<T>(outcome: PromiseSettledResult<T>): T {
  if (outcome.status === 'rejected') throw outcome.reason;
  return outcome.value;
}

/**
 * Releases a slot to its waitlist: starts the slot's cascade, audited as `slot.release-requested`.
 * Throws 404 for an unknown slot and 409 SLOT_ASSIGNED once the slot has been given to someone.
 */
export async function releaseSlot(
  { prisma, temporal, taskQueue, fairnessWeights }: SlotServiceDeps,
  { tenantId, actor }: SlotCaller,
  slotId: string,
): Promise<{ workflowId: string; runId: string }> {
  // The reads are independent: one round of parallel queries instead of four in a row
  // (docs/performance.md). Their failures are still reported in the order the checks are made.
  const [found, accepting, counted, fairness] = await Promise.allSettled([
    findSlot(prisma, tenantId, slotId),
    assertFlowAccepting(prisma, tenantId, 'waitlist'),
    // For the Web UI's summary: when the slot starts and how many wait for it, never who.
    prisma.waitlistEntry.count({ where: { tenantId, slotId, status: 'WAITING' } }),
    loadTenantFairness(prisma, tenantId, fairnessWeights),
  ]);
  const slot = settledValue(found);
  if (slot.status === 'ASSIGNED') {
    throw conflict('SLOT_ASSIGNED', 'The slot is already assigned', { assignedEntryId: slot.assignedEntryId });
  }
  settledValue(accepting);
  const startOptions = waitlistCascadeStartOptions(tenantId, slotId, settledValue(fairness), {
    startsAt: slot.startsAt?.toISOString() ?? null,
    waiting: settledValue(counted),
  });
  const { workflowId } = startOptions;
  const handle = await temporal.workflow.start(waitlistCascadeWorkflow, {
    taskQueue,
    args: [{ tenantId, slotId }],
    ...startOptions,
  });
  const runId = handle.firstExecutionRunId;
  await writeAudit(prisma, {
    tenantId,
    actor,
    action: 'slot.release-requested',
    entityType: 'Slot',
    entityId: slotId,
    details: { workflowId, runId },
  });
  return { workflowId, runId };
}

/**
 * Asks a slot's running cascade to cancel, audited as `cascade.cancel-requested`. Throws 404 for an
 * unknown slot and 409 CASCADE_CLOSED once the cascade has closed.
 */
export async function cancelCascade(
  { prisma, temporal }: Pick<SlotServiceDeps, 'prisma' | 'temporal'>,
  { tenantId, actor }: SlotCaller,
  slotId: string,
): Promise<{ workflowId: string; runId: string }> {
  await findSlot(prisma, tenantId, slotId);
  const workflowId = waitlistCascadeId(tenantId, slotId);
  const handle = temporal.workflow.getHandle(workflowId);
  const description = await handle.describe();
  if (description.status.name !== 'RUNNING') {
    throw workflowClosed('CASCADE_CLOSED', 'cascade', workflowId, description.status.name);
  }
  await handle.cancel();
  await writeAudit(prisma, {
    tenantId,
    actor,
    action: 'cascade.cancel-requested',
    entityType: 'Slot',
    entityId: slotId,
    details: { workflowId, runId: description.runId },
  });
  return { workflowId, runId: description.runId };
}
