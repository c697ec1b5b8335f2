import { defineQuery, defineSignal } from '@temporalio/workflow';
import { workPriority, WorkPriority, type FairnessTier } from '../domain/work-priority';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from './search-attributes';
import { exportLaneMetadata, summaryMemo } from './summaries';

/**
 * The per-tenant export lane's contract: one long-lived workflow per tenant that hands out a
 * tenant's export slots first come, first served, up to the cap of its plan
 * (EXPORTS_PER_TENANT). Exports over the cap wait in it durably instead of failing.
 */

/** One lane per tenant; the ID holds only the tenant's UUID. */
export function exportLaneId(tenantId: string): string {
  return `export-lane:${tenantId}`;
}

/**
 * What `signalWithStart` starts a lane with when it is not running (the task queue comes from the
 * caller): the tenant's work at low priority, like its exports.
 */
export function exportLaneStartOptions(tenantId: string, tier: FairnessTier, weights?: Record<FairnessTier, number>) {
  const metadata = exportLaneMetadata({ tenantId, tier });
  return {
    workflowId: exportLaneId(tenantId),
    ...metadata,
    // Kept for the runs after a continue-as-new, which cannot carry the static summary.
    memo: summaryMemo(metadata),
    priority: workPriority(WorkPriority.low, { tenantId, tier }, weights),
    typedSearchAttributes: [
      { key: TenantIdKey, value: tenantId },
      { key: BusinessKeyKey, value: `export-lane:${tenantId}` },
      { key: FlowStatusKey, value: 'RUNNING' },
    ],
  };
}

export interface ExportLaneInput {
  tenantId: string;
  /** Set by continue-as-new only: who held and who waited when the previous run ended. */
  carried?: ExportLaneState;
}

export interface ExportLaneState {
  /** How many exports of the tenant may run at once (the latest request's cap). */
  cap: number;
  /** Workflow IDs of the exports holding a slot, in grant order. */
  holders: string[];
  /** Workflow IDs of the exports waiting, first in line first. */
  waiters: string[];
}

export interface SlotRequest {
  /** The asking export's workflow ID: the lane signals `slotGranted` to it. */
  workflowId: string;
  /** The cap of the tenant's plan now; a later request's cap replaces an earlier one. */
  cap: number;
}

/** An export asks for a slot; asking again while holding or waiting changes nothing. */
export const requestSlotSignal = defineSignal<[SlotRequest]>('requestSlot');

/** An export gives its slot back, or leaves the line (cancelled while waiting). */
export const releaseSlotSignal = defineSignal<[{ workflowId: string }]>('releaseSlot');

/** Who holds and who waits. */
export const exportLaneStateQuery = defineQuery<ExportLaneState>('exportLaneState');

/** The place of an export in its tenant's line: 1 is next, null when it is not waiting. */
export function placeInLine(state: ExportLaneState, workflowId: string): number | null {
  const index = state.waiters.indexOf(workflowId);
  return index < 0 ? null : index + 1;
}
