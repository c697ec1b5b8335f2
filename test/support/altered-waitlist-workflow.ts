import { proxyActivities } from '@temporalio/workflow';
import type { WaitlistCascadeInput, WaitlistCascadeResult } from '../../workflows/waitlist-cascade.contract';
import { waitlistCascadeWorkflow as currentWaitlistCascadeWorkflow } from '../../workflows/waitlist-cascade';

/**
 * A deliberately incompatible change to the waitlist cascade, for the replay gate's negative proof
 * (test/replay/replay-gate.test.ts): the same workflow type, but it schedules one more activity
 * before the real flow starts, as a careless edit without `patched()` would. Replaying any recorded
 * cascade against it must fail with a non-determinism error; if it did not, the gate could never fail.
 */
const { auditChangedStep } = proxyActivities<{ auditChangedStep(slotId: string): Promise<void> }>({
  startToCloseTimeout: '10 seconds',
});

export async function waitlistCascadeWorkflow(input: WaitlistCascadeInput): Promise<WaitlistCascadeResult> {
  await auditChangedStep(input.slotId);
  return currentWaitlistCascadeWorkflow(input);
}
