import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { FailureType } from '../../workflows/errors';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from '../../workflows/search-attributes';
import {
  acceptOfferUpdate,
  declineOfferUpdate,
  extendHoldUpdate,
  getCascadeStateQuery,
  type waitlistCascadeWorkflow,
  type WaitlistCascadeInput,
} from '../../workflows/waitlist-cascade';
import { until } from '../support/eventually';
import { useTimeSkippingWorkers, waitlistCascadeStart, type WorkflowStart } from '../support/time-skipping';
import { FakeWaitlist } from '../support/waitlist-fake';
import { noActivityRunning, rejectionOf, resultOnceClosed } from '../support/workflow-handles';

type CascadeHandle = WorkflowHandleWithFirstExecutionRunId<typeof waitlistCascadeWorkflow>;

describe('waitlist cascade workflow (time skipping, activities mocked)', () => {
  const temporal = useTimeSkippingWorkers();

  /**
   * Runs `body` with a fresh worker serving `fake`'s activities and a started cascade, its tenant and
   * slot set as search attributes at start.
   */
  async function withCascade<T>(
    fake: FakeWaitlist,
    body: (handle: CascadeHandle) => Promise<T>,
    input: Partial<WaitlistCascadeInput> = {},
  ): Promise<T> {
    const tenantId = 'tenant-a';
    const slotId = randomUUID();
    const start: WorkflowStart<typeof waitlistCascadeWorkflow> = {
      ...waitlistCascadeStart(tenantId, slotId),
      args: [{ tenantId, slotId, ...input }],
      typedSearchAttributes: [
        { key: TenantIdKey, value: tenantId },
        { key: BusinessKeyKey, value: slotId },
      ],
    };
    return temporal.runWorkflow(fake.activities(), 'cascade', start, body);
  }

  const accept = (handle: CascadeHandle, tokenHash: string) =>
    handle.executeUpdate(acceptOfferUpdate, { args: [{ tokenHash }] });
  const decline = (handle: CascadeHandle, tokenHash: string) =>
    handle.executeUpdate(declineOfferUpdate, { args: [{ tokenHash }] });

  it('when the first candidate accepts, the slot is assigned to them and they get a confirmation', async () => {
    const fake = new FakeWaitlist();
    fake.join('Ada', { priority: 1 });
    fake.join('Ben', { priority: 5 });

    const result = await withCascade(fake, async (handle) => {
      const offer = await fake.delivered(1);
      const answer = await accept(handle, offer.tokenHash);
      expect(answer).toEqual({ status: 'confirmed' });
      const outcome = await handle.result();
      const { typedSearchAttributes } = await handle.describe();
      expect(typedSearchAttributes.get(FlowStatusKey)).toBe('CONFIRMED');
      expect(typedSearchAttributes.get(TenantIdKey)).toBe('tenant-a');
      return outcome;
    });

    expect(result).toMatchObject({ outcome: 'confirmed', rounds: 1, acceptedEntryId: fake.entry('Ben').id });
    expect(fake.slotStatus).toBe('ASSIGNED');
    expect(fake.entry('Ben').status).toBe('ACCEPTED');
    expect(fake.entry('Ada').status).toBe('WAITING');
    expect(fake.confirmations).toEqual([fake.offerTo('Ben').holdId]);
  });

  it('when a candidate declines, the next candidate gets the offer', async () => {
    const fake = new FakeWaitlist();
    fake.join('Ada');
    fake.join('Ben');

    const state = await withCascade(fake, async (handle) => {
      const first = await fake.delivered(1);
      expect(await decline(handle, first.tokenHash)).toEqual({ status: 'declined' });
      const second = await fake.delivered(2);
      await accept(handle, second.tokenHash);
      await handle.result();
      return handle.query(getCascadeStateQuery);
    });

    expect(fake.deliveries.map((d) => d.entryId)).toEqual([fake.entry('Ada').id, fake.entry('Ben').id]);
    expect(fake.entry('Ada').status).toBe('DECLINED');
    expect(state.offers.map((offer) => [offer.customerName, offer.outcome])).toEqual([
      ['Ada', 'DECLINED'],
      ['Ben', 'CONFIRMED'],
    ]);
  });

  it('when the 15-minute hold expires, the hold is marked expired and the next candidate gets the offer', async () => {
    const fake = new FakeWaitlist();
    fake.join('Ada');
    fake.join('Ben');

    await withCascade(fake, async (handle) => {
      const first = await fake.delivered(1);
      const offered = await handle.query(getCascadeStateQuery);
      expect(Date.parse(offered.currentHold!.expiresAt) - Date.parse(offered.currentHold!.offeredAt)).toBe(15 * 60_000);

      await temporal.env.sleep('14 minutes');
      expect((await handle.query(getCascadeStateQuery)).currentHold?.holdId).toBe(first.holdId);

      await temporal.env.sleep('2 minutes');
      const second = await fake.delivered(2);
      expect(second.entryId).toBe(fake.entry('Ben').id);
      await accept(handle, second.tokenHash);
      await handle.result();
    });

    expect(fake.holds[0]!.status).toBe('EXPIRED');
    expect(fake.entry('Ada').status).toBe('EXPIRED');
  });

  it('a tenant’s 24-hour hold lasts a full day of workflow time, then expires', async () => {
    const fake = new FakeWaitlist();
    fake.holdMs = 24 * 60 * 60_000;
    fake.join('Ada');

    const result = await withCascade(fake, async (handle) => {
      await fake.delivered(1);
      await temporal.env.sleep('23 hours');
      expect((await handle.query(getCascadeStateQuery)).status).toBe('OFFERING');
      await temporal.env.sleep('2 hours');
      return handle.result();
    });

    expect(result.outcome).toBe('unfilled');
    expect(fake.holds[0]!.status).toBe('EXPIRED');
  });

  it('when everyone declines or lets the hold expire, the slot is unfilled and the admin is escalated to', async () => {
    const fake = new FakeWaitlist();
    fake.join('Ada');
    fake.join('Ben');
    fake.join('Cy');

    const result = await withCascade(fake, async (handle) => {
      await decline(handle, (await fake.delivered(1)).tokenHash);
      await fake.delivered(2);
      await temporal.env.sleep('15 minutes');
      await decline(handle, (await fake.delivered(3)).tokenHash);
      const outcome = await handle.result();
      expect((await handle.describe()).typedSearchAttributes.get(FlowStatusKey)).toBe('UNFILLED');
      return outcome;
    });

    expect(result).toMatchObject({ outcome: 'unfilled', rounds: 3, acceptedEntryId: null });
    expect(result.totals).toMatchObject({ offered: 3, declined: 2, expired: 1 });
    expect(fake.slotStatus).toBe('UNFILLED');
    expect(fake.escalations).toEqual([{ offered: 3, declined: 2, expired: 1, unreachable: 0 }]);
  });

  it('an accept that arrives after the hold expired is rejected, and the next candidate is offered', async () => {
    const fake = new FakeWaitlist();
    fake.join('Ada');
    fake.join('Ben');
    const openGate = fake.gateSettlement('EXPIRED');

    await withCascade(fake, async (handle) => {
      const first = await fake.delivered(1);
      await temporal.env.sleep('15 minutes');
      // The deadline has passed and the cascade is recording the expiry: the accept is too late.
      await until(() => fake.settlesStarted.length === 1);
      expect(await rejectionOf(accept(handle, first.tokenHash))).toBe('HOLD_EXPIRED');
      openGate();

      const second = await fake.delivered(2);
      // The old token now names a superseded offer.
      expect(await rejectionOf(accept(handle, first.tokenHash))).toBe('HOLD_SUPERSEDED');
      await accept(handle, second.tokenHash);
      await handle.result();
    });

    expect(fake.assignedEntryId).toBe(fake.entry('Ben').id);
  });

  it('rejects a second answer to the same offer as already responded, and a token that matches no offer', async () => {
    const fake = new FakeWaitlist();
    fake.join('Ada');
    const openGate = fake.gateSettlement('DECLINED');

    await withCascade(fake, async (handle) => {
      const offer = await fake.delivered(1);
      expect(await rejectionOf(accept(handle, 'hash-of-something-else'))).toBe('HOLD_SUPERSEDED');
      const declined = decline(handle, offer.tokenHash);
      await until(() => fake.settlesStarted.length === 1);

      expect(await rejectionOf(accept(handle, offer.tokenHash))).toBe('ALREADY_RESPONDED');

      openGate();
      expect(await declined).toEqual({ status: 'declined' });
      await handle.result();
    });

    expect(fake.holds[0]!.status).toBe('DECLINED');
  });

  it('a candidate who joins during the cascade with a higher priority is offered next', async () => {
    const fake = new FakeWaitlist();
    fake.join('Ada', { priority: 1 });
    fake.join('Ben', { priority: 0 });

    await withCascade(fake, async (handle) => {
      const first = await fake.delivered(1);
      fake.join('Cy', { priority: 3 });
      await decline(handle, first.tokenHash);
      const second = await fake.delivered(2);
      expect(second.entryId).toBe(fake.entry('Cy').id);
      await accept(handle, second.tokenHash);
      await handle.result();
    });

    expect(fake.entry('Ben').status).toBe('WAITING');
  });

  it('when the notification fails twice and then succeeds, exactly one offer is delivered and the hold stands', async () => {
    const fake = new FakeWaitlist();
    const ada = fake.join('Ada');
    fake.notificationBehaviour.set(ada.id, (attempt) => {
      if (attempt <= 2) throw new Error('421 mail server busy');
    });

    await withCascade(fake, async (handle) => {
      const offer = await fake.delivered(1);
      await accept(handle, offer.tokenHash);
      await handle.result();
    });

    expect(fake.notificationAttempts.get(`${fake.holds[0]!.holdId}:EMAIL`)).toBe(3);
    expect(fake.deliveries).toHaveLength(1);
    expect(fake.slotStatus).toBe('ASSIGNED');
  });

  it('when the notification fails for good (invalid address), the hold is released and the next candidate is offered', async () => {
    const fake = new FakeWaitlist();
    const ada = fake.join('Ada');
    fake.join('Ben');
    fake.notificationBehaviour.set(ada.id, () => {
      throw ApplicationFailure.nonRetryable('no such mailbox', FailureType.InvalidRecipient);
    });

    const state = await withCascade(fake, async (handle) => {
      const offer = await fake.delivered(1);
      expect(offer.entryId).toBe(fake.entry('Ben').id);
      await accept(handle, offer.tokenHash);
      await handle.result();
      return handle.query(getCascadeStateQuery);
    });

    expect(fake.notificationAttempts.get(`${fake.holds[0]!.holdId}:EMAIL`)).toBe(1);
    expect(fake.holds[0]!.status).toBe('RELEASED');
    expect(fake.entry('Ada').status).toBe('UNREACHABLE');
    expect(state.offers.map((offer) => offer.outcome)).toEqual(['UNREACHABLE', 'CONFIRMED']);
    expect(state.totals.unreachable).toBe(1);
  });

  it('a transient notification failure is retried at most 5 times before the candidate is skipped', async () => {
    const fake = new FakeWaitlist();
    const ada = fake.join('Ada');
    fake.notificationBehaviour.set(ada.id, () => {
      throw new Error('connection refused');
    });

    const result = await withCascade(fake, (handle) => handle.result());

    expect(fake.notificationAttempts.get(`${fake.holds[0]!.holdId}:EMAIL`)).toBe(5);
    expect(result).toMatchObject({ outcome: 'unfilled', totals: { unreachable: 1 } });
  });

  it('extendHold moves the deadline, so the candidate can still accept after the original 15 minutes', async () => {
    const fake = new FakeWaitlist();
    fake.join('Ada');
    fake.join('Ben');

    await withCascade(fake, async (handle) => {
      const offer = await fake.delivered(1);
      const before = (await handle.query(getCascadeStateQuery)).currentHold!;
      await temporal.env.sleep('10 minutes');

      const extended = await handle.executeUpdate(extendHoldUpdate, { args: [{ minutes: 30, actor: 'operator-1' }] });

      expect(extended).toEqual({
        holdId: offer.holdId,
        expiresAt: new Date(Date.parse(before.expiresAt) + 30 * 60_000).toISOString(),
      });
      await temporal.env.sleep('20 minutes');
      expect((await handle.query(getCascadeStateQuery)).currentHold).toMatchObject({
        holdId: offer.holdId,
        expiresAt: extended.expiresAt,
      });
      expect(
        await rejectionOf(handle.executeUpdate(extendHoldUpdate, { args: [{ minutes: 0, actor: 'operator-1' }] })),
      ).toBe('INVALID_EXTENSION');
      await accept(handle, offer.tokenHash);
      await handle.result();
    });

    expect(fake.extensions).toEqual([expect.objectContaining({ holdId: fake.holds[0]!.holdId, actor: 'operator-1' })]);
    expect(fake.assignedEntryId).toBe(fake.entry('Ada').id);
  });

  it('extendHold is rejected when no offer is open', async () => {
    const fake = new FakeWaitlist();
    fake.join('Ada');
    const release = fake.gateSettlement('EXPIRED');

    await withCascade(fake, async (handle) => {
      await fake.delivered(1);
      await temporal.env.sleep('15 minutes');
      await until(() => fake.settlesStarted.length === 1);
      expect(await rejectionOf(handle.executeUpdate(extendHoldUpdate, { args: [{ minutes: 5, actor: 'op' }] }))).toBe(
        'NO_ACTIVE_HOLD',
      );
      release();
      await handle.result();
    });
  });

  it('cancelling the cascade releases the open hold, gives the candidate their place back and reopens the slot', async () => {
    const fake = new FakeWaitlist();
    fake.join('Ada');

    const error = await withCascade(fake, async (handle) => {
      await fake.delivered(1);
      // Cancelling as the notification completes trips the time-skipping server (ACTIVITY_UNKNOWN).
      await noActivityRunning(handle);
      await handle.cancel();
      const failure = await resultOnceClosed(handle).catch((e: unknown) => e);
      expect((await handle.describe()).typedSearchAttributes.get(FlowStatusKey)).toBe('CANCELLED');
      expect((await handle.describe()).status.name).toBe('CANCELLED');
      return failure;
    });

    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(fake.holds[0]!.status).toBe('RELEASED');
    expect(fake.entry('Ada').status).toBe('WAITING');
    expect(fake.slotStatus).toBe('OPEN');
  });

  it('a long list continues as new, keeping one cascade ID, the round count and a bounded offer history', async () => {
    const fake = new FakeWaitlist();
    fake.holdMs = 60_000;
    for (let i = 0; i < 30; i += 1) fake.join(`Person${i}`);

    const { result, state, firstRunId, latestRunId } = await withCascade(
      fake,
      async (handle) => {
        const outcome = await handle.result();
        const latest = temporal.env.client.workflow.getHandle(handle.workflowId);
        return {
          result: outcome,
          state: await latest.query(getCascadeStateQuery),
          firstRunId: handle.firstExecutionRunId,
          latestRunId: (await latest.describe()).runId,
        };
      },
      { maxRoundsPerRun: 4 },
    );

    expect(result).toMatchObject({ outcome: 'unfilled', rounds: 30, totals: { offered: 30, expired: 30 } });
    expect(latestRunId).not.toBe(firstRunId);
    expect(new Set(fake.holds.map((hold) => hold.cascadeId)).size).toBe(1);
    expect(fake.holds.map((hold) => hold.round)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(state.offers).toHaveLength(20);
    expect(state.offers[19]).toMatchObject({ round: 30, outcome: 'EXPIRED' });
  });

  it('a slot that is already assigned ends the cascade at once', async () => {
    const fake = new FakeWaitlist();
    fake.slotStatus = 'ASSIGNED';
    fake.join('Ada');

    const result = await withCascade(fake, (handle) => handle.result());

    expect(result.outcome).toBe('already-assigned');
    expect(fake.deliveries).toHaveLength(0);
  });
});
