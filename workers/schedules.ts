import { isDeepStrictEqual } from 'node:util';
import {
  ScheduleAlreadyRunning,
  type Client,
  type ScheduleDescription,
  type ScheduleOptions,
  type ScheduleOptionsStartWorkflowAction,
} from '@temporalio/client';
import { decodeScheduleSpec, encodeScheduleSpec } from '@temporalio/client/lib/schedule-helpers';
import { msToNumber } from '@temporalio/common/lib/time';
import type { Workflow } from '@temporalio/common';
import type { Logger } from '../lib/logger';
import { dailyCleanupScheduleOptions } from '../workflows/cleanup.contract';
import { outboxSweepScheduleOptions } from '../workflows/event-fan-out.contract';

/** The Schedules Holdfast owns: recurring work runs as Temporal Schedules, visible and pausable beside the flows. */
export function holdfastSchedules(taskQueue: string): ScheduleOptions[] {
  return [dailyCleanupScheduleOptions(taskQueue), outboxSweepScheduleOptions(taskQueue)];
}

/**
 * Creates each Schedule, or updates it in place when its definition differs from the code's, so
 * running this at every worker start (or `npm run schedules:sync`) converges on the code's definition.
 *
 * An update replaces the whole Schedule, its paused state included, with what the SDK read just
 * before (Temporal applies a pause that reaches it in the same moment first, then the update over
 * it). So a Schedule that already matches is left alone: a worker start never undoes an
 * operator's pause. Only a deploy that changes a Schedule's definition has that moment.
 */
export async function syncSchedules(client: Client, taskQueue: string, logger: Logger): Promise<void> {
  for (const options of holdfastSchedules(taskQueue)) {
    try {
      await client.schedule.create(options);
      logger.info({ scheduleId: options.scheduleId }, 'schedule created');
    } catch (error) {
      if (!(error instanceof ScheduleAlreadyRunning)) throw error;
      const handle = client.schedule.getHandle(options.scheduleId);
      const changed = scheduleChanges(await handle.describe(), options);
      if (changed.length === 0) {
        logger.info({ scheduleId: options.scheduleId }, 'schedule unchanged');
        continue;
      }
      await handle.update((previous) => ({
        ...previous,
        spec: options.spec,
        action: options.action,
        policies: { ...previous.policies, ...options.policies },
      }));
      logger.info({ scheduleId: options.scheduleId, changed }, 'schedule updated');
    }
  }
}

/**
 * The parts of a registered Schedule that differ from `wanted`, compared as the SDK decodes them:
 * `spec`, `policies`, and `action.<field>` for each field of the action. The Schedule's memo is set
 * when it is created and is not compared. Anything the comparison cannot match counts as changed, so
 * a doubt costs an update, never a definition left stale.
 */
export function scheduleChanges(current: ScheduleDescription, wanted: ScheduleOptions): string[] {
  const changed: string[] = [];
  // The SDK's encoding fills in every calendar field, as the server returns them.
  const wantedSpec = decodeScheduleSpec(encodeScheduleSpec(wanted.spec));
  if (!sameJson({ ...current.spec, timezone: current.spec.timezone || undefined }, wantedSpec)) changed.push('spec');
  changed.push(...actionChanges(current.action, wanted.action).map((field) => `action.${field}`));
  const policies = wanted.policies ?? {};
  const samePolicies =
    (policies.overlap === undefined || policies.overlap === current.policies.overlap) &&
    (policies.catchupWindow === undefined || msToNumber(policies.catchupWindow) === current.policies.catchupWindow) &&
    (policies.pauseOnFailure === undefined || policies.pauseOnFailure === current.policies.pauseOnFailure);
  if (!samePolicies) changed.push('policies');
  return changed;
}

const durationFields = new Set(['workflowExecutionTimeout', 'workflowRunTimeout', 'workflowTaskTimeout']);

/** The untyped view of the search attributes, which the SDK decodes beside the typed one it compares. */
const comparedElsewhere = new Set(['type', 'searchAttributes']);

/** Unset as far as a Schedule's action goes: what the SDK decodes for a field the action does not have. */
function isUnset(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.values(value).every(isUnset);
  return false;
}

/**
 * The action's fields that differ, over the fields of both sides: a field the code no longer sets but
 * the registered action still has is a change too, since the update replaces the whole action.
 */
function actionChanges(
  current: ScheduleDescription['action'],
  wanted: ScheduleOptionsStartWorkflowAction<Workflow>,
): string[] {
  if (current.type !== wanted.type) return ['type'];
  const registered = current as unknown as Record<string, unknown>;
  const code: Record<string, unknown> = {
    ...wanted,
    workflowType: typeof wanted.workflowType === 'function' ? wanted.workflowType.name : wanted.workflowType,
  };
  const fields = [...new Set([...Object.keys(code), ...Object.keys(registered)])];
  return fields.filter((field) => {
    if (comparedElsewhere.has(field)) return false;
    const [was, is] = [registered[field], code[field]];
    if (field === 'typedSearchAttributes') return !sameJson(searchAttributePairs(was), searchAttributePairs(is));
    if (isUnset(was) && isUnset(is)) return false;
    if (durationFields.has(field) && !isUnset(is)) return msToNumber(is) !== was;
    return !sameJson(was, is);
  });
}

/**
 * Search attributes as sorted `[name, value]` pairs: the server returns them in its own order, and the
 * SDK as a `TypedSearchAttributes` object, which serialises as the array of pairs the options give.
 */
function searchAttributePairs(attributes: unknown): [string, unknown][] {
  const pairs: unknown = JSON.parse(JSON.stringify(attributes ?? []));
  if (!Array.isArray(pairs)) return [];
  return pairs
    .map((pair: { key: { name: string }; value: unknown }): [string, unknown] => [pair.key.name, pair.value])
    .sort(([a], [b]) => a.localeCompare(b));
}

/** Equal once both have been through JSON: undefined fields and Date objects compare as the wire does. */
function sameJson(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(JSON.parse(JSON.stringify(a ?? null)), JSON.parse(JSON.stringify(b ?? null)));
}
