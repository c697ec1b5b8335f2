import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  exportLaneStateQuery,
  releaseSlotSignal,
  requestSlotSignal,
  type ExportLaneInput,
  type ExportLaneState,
} from './export-lane.contract';
import { slotGrantedSignal } from './export.contract';
import { untilTheDatabaseAnswers } from './retry-profiles';
import { FlowStatusKey } from './search-attributes';
import { carriedRunDetails, exportLaneMetadata, finishedDetails, timerSummary } from './summaries';

export * from './export-lane.contract';

// Describing the holders: a read of Temporal, retried until it answers.
const { closedExports } = proxyActivities<Activities>(untilTheDatabaseAnswers);

/**
 * How often the lane checks that its holders still run: an export that was terminated, timed out
 * or reset never gives its slot back itself.
 */
const HOLDER_CHECK_INTERVAL_MS = 5 * 60 * 1000;

/** A run hands over to a fresh one past this many events, well below Temporal's limits. */
const HISTORY_EVENTS_BOUND = 10_000;

/** The lane's state: holders and waiters, FIFO, up to the cap. Deterministic: only signals change it. */
class ExportLane {
  readonly state: ExportLaneState;

  constructor(carried?: ExportLaneState) {
    this.state = carried
      ? { cap: carried.cap, holders: [...carried.holders], waiters: [...carried.waiters] }
      : { cap: 1, holders: [], waiters: [] };
  }

  request(workflowId: string, cap: number): void {
    this.state.cap = Math.max(1, cap);
    if (this.state.holders.includes(workflowId) || this.state.waiters.includes(workflowId)) return;
    this.state.waiters.push(workflowId);
  }

  release(workflowId: string): void {
    this.state.holders = this.state.holders.filter((id) => id !== workflowId);
    this.state.waiters = this.state.waiters.filter((id) => id !== workflowId);
  }

  /** The next export to grant a slot to, moved into the holders; undefined when none may start. */
  nextGrant(): string | undefined {
    if (this.state.holders.length >= this.state.cap) return undefined;
    const next = this.state.waiters.shift();
    if (next !== undefined) this.state.holders.push(next);
    return next;
  }

  get canGrant(): boolean {
    return this.state.waiters.length > 0 && this.state.holders.length < this.state.cap;
  }

  get idle(): boolean {
    return this.state.holders.length === 0 && this.state.waiters.length === 0;
  }
}

const shouldHandOver = () =>
  workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > HISTORY_EVENTS_BOUND;

/**
 * A tenant's export lane: grants export slots first come, first served, at most `cap` at once
 * (EXPORTS_PER_TENANT for the tenant's plan), by signalling `slotGranted` to each export in turn.
 * Exports ask with `requestSlot` (through `signalWithStart`, which starts the lane when it is not
 * running) and give the slot back with `releaseSlot` when they end, however they end.
 *
 * It continues as new when Temporal suggests it or its history grows long, carrying holders and
 * waiters, and it completes when nobody holds or waits, so an idle tenant costs nothing. A grant
 * to an export that has already closed is dropped and the slot goes to the next in line. Every
 * five minutes it asks Temporal whether its holders still run and takes back the slots of those
 * that closed without releasing them (terminated, timed out, reset).
 */
export async function exportLaneWorkflow(input: ExportLaneInput): Promise<ExportLaneState> {
  const lane = new ExportLane(input.carried);
  setHandler(requestSlotSignal, ({ workflowId, cap }) => lane.request(workflowId, cap));
  setHandler(releaseSlotSignal, ({ workflowId }) => lane.release(workflowId));
  setHandler(exportLaneStateQuery, () => lane.state);

  /** Current details, after the lane's summary on a run carried over by continue-as-new (which has none). */
  const show = (details: string) =>
    setCurrentDetails(
      carriedRunDetails(
        input.carried !== undefined,
        workflowInfo().memo,
        exportLaneMetadata({ tenantId: input.tenantId }).staticSummary,
        details,
      ),
    );

  /** What the Web UI shows the lane doing: how many exports hold a slot and how many wait. */
  const showDetails = () => {
    const { holders, waiters, cap } = lane.state;
    show(`${holders.length} of ${cap} slots held, ${waiters.length} waiting`);
  };

  let nextHolderCheck = Date.now() + HOLDER_CHECK_INTERVAL_MS;
  for (;;) {
    showDetails();
    const woken = await condition(
      () => lane.canGrant || lane.idle || shouldHandOver(),
      Math.max(1, nextHolderCheck - Date.now()),
      { summary: timerSummary.holderCheck },
    );
    if (!woken || Date.now() >= nextHolderCheck) {
      nextHolderCheck = Date.now() + HOLDER_CHECK_INTERVAL_MS;
      if (lane.state.holders.length > 0) {
        const closed = await closedExports({ workflowIds: [...lane.state.holders] });
        for (const workflowId of closed) {
          log.warn('export slot reclaimed: its export closed without giving it back', { workflowId });
          lane.release(workflowId);
        }
      }
    }
    while (lane.canGrant) {
      const workflowId = lane.nextGrant()!;
      try {
        await getExternalWorkflowHandle(workflowId).signal(slotGrantedSignal);
      } catch (error) {
        log.warn('export slot not granted: the export has closed', { workflowId, error: (error as Error).message });
        lane.release(workflowId);
      }
    }
    if (lane.idle) {
      await condition(allHandlersFinished);
      // A request that arrived while the handlers finished keeps the lane going.
      if (lane.idle) {
        upsertSearchAttributes([{ key: FlowStatusKey, value: 'IDLE' }]);
        show(finishedDetails('IDLE'));
        return lane.state;
      }
      continue;
    }
    if (shouldHandOver()) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof exportLaneWorkflow>({ tenantId: input.tenantId, carried: lane.state });
    }
  }
}
