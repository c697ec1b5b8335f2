import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import type { Activities } from '../../../activities';
import { taskQueueFor } from '../../../lib/task-queues';
import { withRecordingWorker, type FlowRecording } from '../history-recording';
import {
  reportWorkflow,
  reportWorkflowId,
  reportScheduleId,
  ReportFailure,
  type ReportFile,
  type ReportWorkflowInput,
} from '../../../workflows/report';

/*
 * The paths through the report workflow whose histories test/histories/report-*.json hold, run on
 * the time-skipping server with the in-memory fake below. `npm run histories:record -- reports
 * [scenario…]` records them; test/workflows/report-replay.test.ts replays them after every change.
 */

type ReportActivities = Pick<
  Activities,
  'openScheduledReport' | 'generateReport' | 'completeReport' | 'failReport' | 'discardReport' | 'announceFileReady'
>;

/** The report activities in memory: what was called, in order, and how each behaves. */
export class FakeReportActivities {
  readonly calls: string[] = [];
  /** The task queue each generation attempt ran on. */
  readonly generatedOn: string[] = [];
  failures: { type: string; message: string }[] = [];
  /** Generation attempts that fail like an outage before one succeeds. */
  transientFailures = 0;
  /** A failure type generation throws non-retryable on every attempt. */
  permanentFailure: string | undefined;
  /** Generation heartbeats until it is cancelled, as a long report does. */
  blockGeneration = false;
  /** Resolves once generation has started (for a test that cancels mid-way). */
  readonly generationStarted: Promise<void>;
  private markStarted!: () => void;
  readonly scheduledReportId = randomUUID();
  scheduledRuns: { scheduleId: string; workflowId: string; runStartedAt: string }[] = [];
  announceFails = false;

  constructor() {
    this.generationStarted = new Promise((resolve) => (this.markStarted = resolve));
  }

  readonly file: ReportFile = {
    fileKey: 'tenant-a/reports/r.pdf',
    bytes: 2048,
    sha256: 'ab'.repeat(32),
    contentType: 'application/pdf',
    rows: 31,
  };

  activities(): ReportActivities {
    return {
      openScheduledReport: async (input) => {
        this.calls.push('openScheduledReport');
        this.scheduledRuns.push(input);
        return { reportId: this.scheduledReportId };
      },
      generateReport: async () => {
        const context = Context.current();
        this.calls.push('generateReport');
        this.generatedOn.push(context.info.taskQueue);
        this.markStarted();
        if (this.permanentFailure)
          throw ApplicationFailure.nonRetryable('The report type is unknown', this.permanentFailure);
        if (this.transientFailures > 0) {
          this.transientFailures -= 1;
          throw new Error('the database is unavailable');
        }
        if (this.blockGeneration) {
          try {
            for (;;) {
              context.heartbeat({ progress: 50 });
              await context.sleep(50);
            }
          } catch (error) {
            this.calls.push('generationAborted');
            throw error;
          }
        }
        return this.file;
      },
      completeReport: async () => {
        this.calls.push('completeReport');
        return { expiresAt: new Date(0).toISOString() };
      },
      failReport: async ({ failure }) => {
        this.calls.push('failReport');
        this.failures.push(failure);
      },
      discardReport: async () => {
        this.calls.push('discardReport');
      },
      announceFileReady: async () => {
        this.calls.push('announceFileReady');
        if (this.announceFails) {
          throw ApplicationFailure.nonRetryable('No templates for file jobs', 'ChannelNotConfigured');
        }
        return { eventId: null, notificationId: null };
      },
    };
  }
}

/**
 * Runs `body` while one worker serves the workflow and its bookkeeping on `taskQueue` and another
 * serves generation on the reports queue derived from it, as a deployment's workers do.
 */
export async function withReportWorkers<T>(
  env: TestWorkflowEnvironment,
  bundle: WorkflowBundle,
  taskQueue: string,
  fake: FakeReportActivities,
  body: () => Promise<T>,
): Promise<T> {
  const activities = fake.activities();
  const generation = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: taskQueueFor(taskQueue, 'reports'),
    workflowBundle: bundle,
    dataConverter: env.client.options.dataConverter,
    activities,
    // Heartbeats reach the server at once, so a cancellation reaches the generation without the
    // production throttle (0.8 × the heartbeat timeout) and the cancelling scenario takes a second.
    maxHeartbeatThrottleInterval: '100 ms',
  });
  return withRecordingWorker(env, bundle, taskQueue, activities, () => generation.runUntil(body));
}

type Handle = WorkflowHandleWithFirstExecutionRunId<typeof reportWorkflow>;

interface Scenario {
  name: string;
  scheduled?: boolean;
  arrange: (fake: FakeReportActivities) => void;
  drive: (handle: Handle, fake: FakeReportActivities) => Promise<void>;
}

const settle = async (handle: Handle) => {
  await handle.result().catch(() => undefined);
};

const scenarios: Scenario[] = [
  { name: 'completed', arrange: () => undefined, drive: settle },
  { name: 'failed', arrange: (fake) => void (fake.permanentFailure = ReportFailure.ReportDataInvalid), drive: settle },
  {
    name: 'cancelled',
    arrange: (fake) => void (fake.blockGeneration = true),
    drive: async (handle, fake) => {
      await fake.generationStarted;
      await handle.cancel();
      await settle(handle);
    },
  },
  { name: 'scheduled-run', scheduled: true, arrange: () => undefined, drive: settle },
];

export const reportRecording: FlowRecording<Scenario> = {
  filePrefix: 'report',
  scenarios,
  async record(scenario, env, bundle) {
    const fake = new FakeReportActivities();
    scenario.arrange(fake);
    const tenantId = 'tenant-recorded';
    const taskQueue = `record-report-${randomUUID()}`;
    const input: ReportWorkflowInput = scenario.scheduled
      ? { tenantId, scheduleId: randomUUID() }
      : { tenantId, reportId: randomUUID() };
    const workflowId =
      'scheduleId' in input
        ? `${reportScheduleId(tenantId, input.scheduleId)}-2026-12-07T06:00:00Z`
        : reportWorkflowId(tenantId, input.reportId);
    return withReportWorkers(env, bundle, taskQueue, fake, async () => {
      const handle = await env.client.workflow.start(reportWorkflow, { taskQueue, workflowId, args: [input] });
      await scenario.drive(handle, fake);
      const { status } = await handle.describe();
      if (status.name === 'RUNNING') throw new Error(`scenario ${scenario.name} left its report running`);
      return [{ suffix: '', history: await handle.fetchHistory(), status: status.name }];
    });
  },
};
