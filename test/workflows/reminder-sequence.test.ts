import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, type UpdateDefinition } from '@temporalio/common';
import type { ReminderStepSpec } from '../../domain/reminder-plan';
import { FlowStatusKey } from '../../workflows/search-attributes';
import {
  completeReminderUpdate,
  getReminderStateQuery,
  moveDueAtUpdate,
  reminderSequenceStartOptions,
  reminderSequenceWorkflow,
  type CompleteReminderInput,
  type ReminderSequenceInput,
} from '../../workflows/reminder-sequence';
import { FakeReminders } from '../support/reminders-fake';
import { useTimeSkippingWorkers } from '../support/time-skipping';
import { rejectionOf, resultOnceClosed, terminateWhenIdle } from '../support/workflow-handles';

type SequenceHandle = WorkflowHandle<typeof reminderSequenceWorkflow>;

const DAY_MS = 24 * 60 * 60 * 1000;
const iso = (ms: number) => new Date(ms).toISOString();

/** A settlement lifecycle: due soon, due, overdue every three days, a final notice. */
const settlementSteps: ReminderStepSpec[] = [
  { at: '-2d', kind: 'DUE_SOON' },
  { at: '0', kind: 'DUE' },
  { every: '3d', from: '+3d', until: '+12d', kind: 'OVERDUE' },
  { at: '+14d', kind: 'FINAL_NOTICE' },
];

describe('reminder sequence workflow (time skipping, activities mocked)', () => {
  const temporal = useTimeSkippingWorkers();

  /**
   * Runs `body` with a fresh worker serving `fake`'s activities and a sequence created now (the
   * server's clock) with its due date `dueInDays` later; `startWith` sends an update in the start's own task.
   */
  async function withSequence<T>(
    fake: FakeReminders,
    options: {
      dueInDays: number;
      steps?: ReminderStepSpec[];
      notifyOnCreate?: boolean;
      startWith?: { update: UpdateDefinition<unknown, [CompleteReminderInput]>; args: [CompleteReminderInput] };
    },
    body: (handle: SequenceHandle, created: number, firstAnswer: unknown) => Promise<T>,
  ): Promise<T> {
    fake.serverClock = () => temporal.env.currentTimeMs();
    const tenantId = 'tenant-a';
    const reminderId = randomUUID();
    return temporal.runWithWorker(fake.activities(), 'reminders', async (taskQueue) => {
      const created = await temporal.env.currentTimeMs();
      const input: ReminderSequenceInput = {
        tenantId,
        reminderId,
        dueAt: iso(created + options.dueInDays * DAY_MS),
        steps: options.steps ?? settlementSteps,
        notifyOnCreate: options.notifyOnCreate ?? false,
        createdAt: iso(created),
      };
      const startOptions = { taskQueue, args: [input], ...reminderSequenceStartOptions(tenantId, reminderId) } as const;
      let handle: SequenceHandle;
      let firstAnswer: unknown;
      if (options.startWith) {
        // Update-with-start: the update reaches the worker in the same task as the start.
        const startWorkflowOperation = new WithStartWorkflowOperation(reminderSequenceWorkflow, {
          ...startOptions,
          workflowIdConflictPolicy: 'FAIL',
        });
        firstAnswer = await temporal.env.client.workflow.executeUpdateWithStart(options.startWith.update, {
          args: options.startWith.args,
          startWorkflowOperation,
        });
        handle = await startWorkflowOperation.workflowHandle();
      } else {
        handle = await temporal.env.client.workflow.start(reminderSequenceWorkflow, startOptions);
      }
      try {
        return await body(handle, created, firstAnswer);
      } finally {
        // A sequence left running would hold the shared test server's clock back for later tests.
        await terminateWhenIdle(handle);
      }
    });
  }

  it('over 30 days, each step goes out once at its offset from the due date, and the sequence finishes', async () => {
    const fake = new FakeReminders();

    const { result, created } = await withSequence(fake, { dueInDays: 16 }, async (handle, created) => ({
      result: await handle.result(),
      created,
    }));

    const due = created + 16 * DAY_MS;
    const expected = [
      ['DUE_SOON', due - 2 * DAY_MS],
      ['DUE', due],
      ['OVERDUE', due + 3 * DAY_MS],
      ['OVERDUE', due + 6 * DAY_MS],
      ['OVERDUE', due + 9 * DAY_MS],
      ['OVERDUE', due + 12 * DAY_MS],
      ['FINAL_NOTICE', due + 14 * DAY_MS],
    ] as const;
    expect(fake.sends.map((send) => [send.kind, send.plannedAt])).toEqual(
      expected.map(([kind, at]) => [kind, iso(at)]),
    );
    // Each went out at its instant, not before, and before the next one's.
    fake.sends.forEach((send, index) => {
      expect(send.ranAtServerMs).toBeGreaterThanOrEqual(Date.parse(send.plannedAt));
      const next = fake.sends[index + 1];
      if (next) expect(send.ranAtServerMs).toBeLessThan(Date.parse(next.plannedAt));
    });
    expect(result).toEqual({ status: 'FINISHED', sent: 7, skipped: 0, failed: 0, cancelled: 0 });
    expect(fake.closes).toHaveLength(1);
    expect(fake.closes[0]).toMatchObject({ status: 'FINISHED', actor: 'system:reminder-sequence' });
    expect(fake.closes[0]!.steps.map((step) => [step.kind, step.status, step.notificationId])).toEqual(
      fake.sends.map((send) => [send.kind, 'sent', `n-${send.key}`]),
    );
  });

  it('completed mid-way, it sends no later step and closes as COMPLETED with the reason', async () => {
    const fake = new FakeReminders();

    const { result, state } = await withSequence(fake, { dueInDays: 16 }, async (handle) => {
      await temporal.env.sleep('16 days');
      await fake.sent(2);
      const answer = await handle.executeUpdate(completeReminderUpdate, {
        args: [{ reason: 'settled', actor: 'user-1' }],
      });
      expect(answer.status).toBe('COMPLETED');
      const outcome = await handle.result();
      const { typedSearchAttributes } = await handle.describe();
      expect(typedSearchAttributes.get(FlowStatusKey)).toBe('COMPLETED');
      return { result: outcome, state: await handle.query(getReminderStateQuery) };
    });

    expect(fake.sends.map((send) => send.kind)).toEqual(['DUE_SOON', 'DUE']);
    expect(result).toEqual({ status: 'COMPLETED', sent: 2, skipped: 0, failed: 0, cancelled: 5 });
    expect(state.steps.map((step) => step.status)).toEqual([
      'sent',
      'sent',
      'cancelled',
      'cancelled',
      'cancelled',
      'cancelled',
      'cancelled',
    ]);
    expect(fake.closes).toEqual([expect.objectContaining({ status: 'COMPLETED', reason: 'settled', actor: 'user-1' })]);
  });

  it('completed by an update that comes with the start, it sends nothing, cancels every step and shows COMPLETED', async () => {
    const fake = new FakeReminders();

    const { answer, result } = await withSequence(
      fake,
      { dueInDays: 16, startWith: { update: completeReminderUpdate, args: [{ reason: 'settled', actor: 'user-1' }] } },
      async (handle, _created, answer) => {
        const outcome = await handle.result();
        const { typedSearchAttributes } = await handle.describe();
        expect(typedSearchAttributes.get(FlowStatusKey)).toBe('COMPLETED');
        return { answer, result: outcome };
      },
    );

    expect(answer).toMatchObject({ status: 'COMPLETED' });
    expect(result).toEqual({ status: 'COMPLETED', sent: 0, skipped: 0, failed: 0, cancelled: 7 });
    expect(fake.closes).toHaveLength(1);
    expect(fake.closes[0]).toMatchObject({ status: 'COMPLETED', reason: 'settled', actor: 'user-1' });
    expect(fake.closes[0]!.steps.map((step) => step.status)).toEqual(Array(7).fill('cancelled'));
    expect(fake.sends).toEqual([]);
  });

  it('moving the due date re-plans the steps not yet sent, and never sends a sent step again', async () => {
    const fake = new FakeReminders();
    const steps: ReminderStepSpec[] = [
      { at: '-2d', kind: 'DUE_SOON' },
      { at: '0', kind: 'DUE' },
      { at: '+3d', kind: 'OVERDUE' },
    ];

    const { created, moved } = await withSequence(fake, { dueInDays: 5, steps }, async (handle, created) => {
      await temporal.env.sleep('3 days');
      await fake.sent(1);
      const newDue = iso(created + 12 * DAY_MS);
      const answer = await handle.executeUpdate(moveDueAtUpdate, { args: [{ dueAt: newDue, actor: 'user-1' }] });
      await handle.result();
      return { created, moved: answer };
    });

    const due = created + 12 * DAY_MS;
    expect(moved.dueAt).toBe(iso(due));
    expect(moved.steps.map((step) => [step.kind, step.status, step.at])).toEqual([
      ['DUE_SOON', 'sent', iso(created + 3 * DAY_MS)],
      ['DUE', 'scheduled', iso(due)],
      ['OVERDUE', 'scheduled', iso(due + 3 * DAY_MS)],
    ]);
    expect(fake.dueDates).toEqual([iso(due)]);
    expect(fake.sends.map((send) => [send.kind, send.plannedAt, send.dueAt])).toEqual([
      ['DUE_SOON', iso(created + 3 * DAY_MS), iso(created + 5 * DAY_MS)],
      ['DUE', iso(due), iso(due)],
      ['OVERDUE', iso(due + 3 * DAY_MS), iso(due)],
    ]);
  });

  it('two moves at once run one after the other: the plan and the row both end with the move accepted last', async () => {
    const fake = new FakeReminders();
    let releaseFirstWrite!: () => void;
    // The first write commits at once but answers only when released: were moves not serialised,
    // the second would write and re-plan in between, and the first re-plan would then win.
    fake.moveGate = new Promise<void>((resolve) => (releaseFirstWrite = resolve));
    const steps: ReminderStepSpec[] = [{ at: '0', kind: 'DUE' }];

    const outcome = await withSequence(fake, { dueInDays: 10, steps }, async (handle, created) => {
      const firstMove = await handle.startUpdate(moveDueAtUpdate, {
        args: [{ dueAt: iso(created + 20 * DAY_MS), actor: 'user-1' }],
        waitForStage: 'ACCEPTED',
      });
      await fake.moved(1);
      const secondMove = await handle.startUpdate(moveDueAtUpdate, {
        args: [{ dueAt: iso(created + 30 * DAY_MS), actor: 'user-2' }],
        waitForStage: 'ACCEPTED',
      });
      // The second move was accepted in a workflow task that also carries its commands: it waits.
      const writesWhileFirstHeld = (await handle.describe()).raw.pendingActivities?.length;
      releaseFirstWrite();
      const first = await firstMove.result();
      const second = await secondMove.result();
      return { created, writesWhileFirstHeld, first, second, state: await handle.query(getReminderStateQuery) };
    });

    const { created, writesWhileFirstHeld, first, second, state } = outcome;
    const lastDue = iso(created + 30 * DAY_MS);
    expect(writesWhileFirstHeld).toBe(1);
    expect(fake.dueDates).toEqual([iso(created + 20 * DAY_MS), lastDue]);
    expect(first.dueAt).toBe(iso(created + 20 * DAY_MS));
    expect(second.dueAt).toBe(lastDue);
    expect(state.dueAt).toBe(lastDue);
    expect(state.steps.map((step) => [step.kind, step.status, step.at])).toEqual([['DUE', 'scheduled', lastDue]]);
  });

  it('moving the due date back skips the steps whose new instant has passed, without a burst', async () => {
    const fake = new FakeReminders();

    const state = await withSequence(fake, { dueInDays: 10 }, async (handle, created) => {
      await handle.executeUpdate(moveDueAtUpdate, { args: [{ dueAt: iso(created - 4 * DAY_MS), actor: 'user-1' }] });
      await handle.executeUpdate(completeReminderUpdate, { args: [{ actor: 'user-1' }] });
      await handle.result();
      return handle.query(getReminderStateQuery);
    });

    expect(state.steps.map((step) => [step.kind, step.status])).toEqual([
      ['DUE_SOON', 'skipped'],
      ['DUE', 'skipped'],
      ['OVERDUE', 'skipped'],
      ['OVERDUE', 'cancelled'],
      ['OVERDUE', 'cancelled'],
      ['OVERDUE', 'cancelled'],
      ['FINAL_NOTICE', 'cancelled'],
    ]);
    expect(fake.sends).toEqual([]);
  });

  it('with notifyOnCreate, a first message goes out at once; steps already past at creation are skipped', async () => {
    const fake = new FakeReminders();

    const { sends, state } = await withSequence(fake, { dueInDays: -1, notifyOnCreate: true }, async (handle) => {
      await fake.sent(1);
      await handle.executeUpdate(completeReminderUpdate, { args: [{ reason: 'paid', actor: 'user-1' }] });
      await handle.result();
      return { sends: fake.sends, state: await handle.query(getReminderStateQuery) };
    });

    expect(sends.map((send) => send.key)).toEqual(['CREATED']);
    expect(state.steps.slice(0, 3).map((step) => [step.kind, step.status])).toEqual([
      ['CREATED', 'sent'],
      ['DUE_SOON', 'skipped'],
      ['DUE', 'skipped'],
    ]);
  });

  it('a step that fails for good is recorded as failed, and the next steps still go out', async () => {
    const fake = new FakeReminders();
    fake.failing.add('DUE_SOON@-2880');
    const steps: ReminderStepSpec[] = [
      { at: '-2d', kind: 'DUE_SOON' },
      { at: '0', kind: 'DUE' },
    ];

    const { result, state } = await withSequence(fake, { dueInDays: 3, steps }, async (handle) => ({
      result: await handle.result(),
      state: await handle.query(getReminderStateQuery),
    }));

    expect(result).toEqual({ status: 'FINISHED', sent: 1, skipped: 0, failed: 1, cancelled: 0 });
    expect(state.steps[0]).toMatchObject({ kind: 'DUE_SOON', status: 'failed' });
    expect(state.steps[0]!.reason).toContain('DataRejected');
    expect(fake.sends.map((send) => send.kind)).toEqual(['DUE']);
  });

  it('a cancelled sequence closes its row as CANCELLED, with every scheduled step cancelled', async () => {
    const fake = new FakeReminders();

    const outcome = await withSequence(fake, { dueInDays: 10 }, async (handle) => {
      await handle.cancel();
      return resultOnceClosed(handle).then(
        () => 'completed',
        (error: unknown) =>
          error instanceof WorkflowFailedError && error.cause instanceof CancelledFailure ? 'cancelled' : String(error),
      );
    });

    expect(outcome).toBe('cancelled');
    expect(fake.closes).toHaveLength(1);
    expect(fake.closes[0]!.status).toBe('CANCELLED');
    expect(new Set(fake.closes[0]!.steps.map((step) => step.status))).toEqual(new Set(['cancelled']));
    expect(fake.sends).toEqual([]);
  });

  it('steps that cannot be planned close the row as CANCELLED, send nothing and fail the run as DataRejected', async () => {
    const fake = new FakeReminders();
    const steps: ReminderStepSpec[] = [{ at: 'next tuesday', kind: 'DUE' }];

    const failure = await withSequence(fake, { dueInDays: 10, steps }, (handle) =>
      handle.result().then(
        () => undefined,
        (error: unknown) => (error instanceof WorkflowFailedError ? error.cause : error),
      ),
    );

    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect((failure as ApplicationFailure).type).toBe('DataRejected');
    expect(fake.closes).toEqual([expect.objectContaining({ status: 'CANCELLED', steps: [] })]);
    expect(fake.closes[0]!.reason).toMatch(/^invalid plan: steps\.0\.at/);
    expect(fake.sends).toEqual([]);
  });

  it('refuses a bad due date with INVALID_DUE_AT, and any change once completed with REMINDER_CLOSED', async () => {
    const fake = new FakeReminders();
    let open!: () => void;
    fake.closeGate = new Promise((resolve) => (open = resolve));

    await withSequence(fake, { dueInDays: 10 }, async (handle) => {
      const move = (dueAt: string) => handle.executeUpdate(moveDueAtUpdate, { args: [{ dueAt, actor: 'user-1' }] });
      expect(await rejectionOf(move('next tuesday'))).toBe('INVALID_DUE_AT');
      expect(await rejectionOf(move('2300-01-01T00:00:00Z'))).toBe('INVALID_DUE_AT');

      await handle.executeUpdate(completeReminderUpdate, { args: [{ actor: 'user-1' }] });
      // Closing the row is held back, so the sequence is still open to requests.
      expect(await rejectionOf(move('2027-01-01T00:00:00Z'))).toBe('REMINDER_CLOSED');
      expect(await rejectionOf(handle.executeUpdate(completeReminderUpdate, { args: [{ actor: 'user-2' }] }))).toBe(
        'REMINDER_CLOSED',
      );
      open();
      await handle.result();
    });

    expect(fake.dueDates).toEqual([]);
    expect(fake.closes).toEqual([expect.objectContaining({ status: 'COMPLETED', actor: 'user-1' })]);
  });
});
