import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowBundle } from '@temporalio/worker';
import { recordedHistoryFiles, replayFailures } from '../support/replay';
import { bundleWorkflows } from '../support/stack';

const files = recordedHistoryFiles('waitlist-');

interface RecordedEvent {
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string } };
  markerRecordedEventAttributes?: { markerName?: string; details?: { data?: { payloads?: Array<{ data?: string }> } } };
}

/** A recorded cascade's activities in order, each `queued <type>` or `local <type>` (a local activity's marker). */
function activitiesOf(file: string): string[] {
  const { events } = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../histories', file), 'utf8')) as {
    events: RecordedEvent[];
  };
  return events.flatMap((event) => {
    const queued = event.activityTaskScheduledEventAttributes?.activityType?.name;
    if (queued) return [`queued ${queued}`];
    const marker = event.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_local_activity') return [];
    const call = JSON.parse(Buffer.from(marker.details!.data!.payloads![0]!.data!, 'base64').toString('utf8')) as {
      activity_type: string;
    };
    return [`local ${call.activity_type}`];
  });
}

/**
 * Every recorded cascade (test/histories/waitlist-*.json, one per path through the workflow)
 * must replay against today's workflow code without a non-determinism error. A change that
 * breaks one needs `patched()`; a new path gets a history from
 * `npm run histories:record -- waitlist <scenario>`.
 */
describe('waitlist cascade replay', () => {
  let bundle: WorkflowBundle;

  beforeAll(async () => {
    bundle = await bundleWorkflows();
  });

  it('has a recorded history for each path, as cascades run it now (their rows written in local activities), as those started before that ran it (queued activities), and as those started before one activity picked and held: accepted, declined, expired, unreachable, retried, extended, expired now by an operator, cancelled, continued as new, stopped for attention, answered pending during an outage, deployed mid-cascade', () => {
    expect(files).toEqual([
      'waitlist-accept-answered-pending-before-local-writes.json',
      'waitlist-accept-answered-pending-before-one-step-offer.json',
      'waitlist-accept-answered-pending.json',
      'waitlist-accepted-first-offer-before-local-writes.json',
      'waitlist-accepted-first-offer-before-one-step-offer.json',
      'waitlist-accepted-first-offer.json',
      'waitlist-cancelled-during-offer-before-local-writes.json',
      'waitlist-cancelled-during-offer-before-one-step-offer.json',
      'waitlist-cancelled-during-offer.json',
      'waitlist-continued-as-new-before-local-writes-last-run.json',
      'waitlist-continued-as-new-before-local-writes.json',
      'waitlist-continued-as-new-before-one-step-offer-last-run.json',
      'waitlist-continued-as-new-before-one-step-offer.json',
      'waitlist-continued-as-new-last-run.json',
      'waitlist-continued-as-new.json',
      'waitlist-declined-then-accepted-before-local-writes.json',
      'waitlist-declined-then-accepted-before-one-step-offer.json',
      'waitlist-declined-then-accepted.json',
      'waitlist-deployed-after-queued-writes.json',
      'waitlist-deployed-after-two-step-offer.json',
      'waitlist-expired-then-exhausted-before-local-writes.json',
      'waitlist-expired-then-exhausted-before-one-step-offer.json',
      'waitlist-expired-then-exhausted.json',
      'waitlist-extend-answered-pending-before-local-writes.json',
      'waitlist-extend-answered-pending-before-one-step-offer.json',
      'waitlist-extend-answered-pending.json',
      'waitlist-extended-then-accepted-before-local-writes.json',
      'waitlist-extended-then-accepted-before-one-step-offer.json',
      'waitlist-extended-then-accepted.json',
      'waitlist-hold-expired-now-before-local-writes.json',
      'waitlist-hold-expired-now-before-one-step-offer.json',
      'waitlist-hold-expired-now.json',
      'waitlist-notification-retried-before-local-writes.json',
      'waitlist-notification-retried-before-one-step-offer.json',
      'waitlist-notification-retried.json',
      'waitlist-stopped-for-attention-before-local-writes.json',
      'waitlist-stopped-for-attention-before-one-step-offer.json',
      'waitlist-stopped-for-attention.json',
      'waitlist-unreachable-then-accepted-before-local-writes.json',
      'waitlist-unreachable-then-accepted-before-one-step-offer.json',
      'waitlist-unreachable-then-accepted.json',
    ]);
  });

  it('has cascades in flight across a deploy, which switch to the new code at their next write: queued before it, local after', () => {
    const afterTheDeploy = [
      'local settleHold',
      'local offerNextCandidate',
      'queued sendOfferNotification',
      'local confirmHold',
      'queued sendConfirmation',
    ];
    expect(activitiesOf('waitlist-deployed-after-queued-writes.json')).toEqual([
      'queued beginCascade',
      'queued offerNextCandidate',
      'queued sendOfferNotification',
      ...afterTheDeploy,
    ]);
    expect(activitiesOf('waitlist-deployed-after-two-step-offer.json')).toEqual([
      'queued beginCascade',
      'queued pickNextCandidate',
      'queued createHold',
      'queued sendOfferNotification',
      ...afterTheDeploy,
    ]);
  });

  it('has a write that met an outage: tried once in the worker, then queued with its retries, where operators see it', () => {
    expect(activitiesOf('waitlist-accept-answered-pending.json')).toEqual([
      'local beginCascade',
      'local offerNextCandidate',
      'queued sendOfferNotification',
      'local confirmHold',
      'queued confirmHold',
      'queued sendConfirmation',
    ]);
  });

  it('replays every recorded cascade history deterministically', async () => {
    expect(await replayFailures(bundle, files)).toEqual([]);
  });
});
