import { ApplicationFailure } from '@temporalio/common';
import type { Activities } from '../../activities';
import type { CloseReminderInput } from '../../activities/reminders';
import { FailureType } from '../../workflows/errors';
import { until } from './eventually';

type ReminderActivities = Pick<Activities, 'sendReminderStep' | 'moveReminderDueAt' | 'closeReminder'>;

/** One step a sequence sent, with the server's clock when it ran. */
export interface FakeSend {
  key: string;
  kind: string;
  /** The instant the step was planned for. */
  plannedAt: string;
  dueAt: string;
  /** The server's clock when the send ran (skipped time counts). */
  ranAtServerMs: number;
}

/**
 * The reminder activities in memory: what was sent, the due dates written and how the sequence
 * closed. `serverClock` reads the time-skipping server's clock, so a test sees when each step
 * went out in the sequence's own time.
 */
export class FakeReminders {
  readonly sends: FakeSend[] = [];
  readonly dueDates: string[] = [];
  readonly closes: CloseReminderInput[] = [];
  serverClock: () => Promise<number> = () => Promise.resolve(Date.now());
  /** Step keys whose send fails for good. */
  readonly failing = new Set<string>();
  /** While set, closing waits for it, so the sequence stays open. */
  closeGate: Promise<void> | undefined;
  /** While set, the next due-date write records its date (the row commits), then waits for it before it answers. */
  moveGate: Promise<void> | undefined;

  activities(): ReminderActivities {
    return {
      sendReminderStep: async ({ step, dueAt }) => {
        if (this.failing.has(step.key)) {
          throw ApplicationFailure.nonRetryable('The template is unknown', FailureType.DataRejected);
        }
        this.sends.push({
          key: step.key,
          kind: step.kind,
          plannedAt: step.at,
          dueAt,
          ranAtServerMs: await this.serverClock(),
        });
        return { notificationId: `n-${step.key}` };
      },
      moveReminderDueAt: async ({ dueAt }) => {
        this.dueDates.push(dueAt);
        const gate = this.moveGate;
        this.moveGate = undefined;
        await gate;
      },
      closeReminder: async (input) => {
        await this.closeGate;
        this.closes.push(input);
      },
    };
  }

  /** Waits until `count` due dates were written. */
  async moved(count: number): Promise<string[]> {
    await until(() => this.dueDates.length >= count);
    return this.dueDates;
  }

  /** Waits until `count` steps were sent. */
  async sent(count: number): Promise<FakeSend[]> {
    await until(() => this.sends.length >= count);
    return this.sends;
  }
}
