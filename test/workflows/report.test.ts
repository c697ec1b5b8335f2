import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundle } from '@temporalio/worker';
import { taskQueueFor } from '../../lib/task-queues';
import {
  ReportFailure,
  reportScheduleId,
  reportStateQuery,
  reportWorkflow,
  reportWorkflowId,
  type ReportWorkflowInput,
} from '../../workflows/report';
import { FlowStatusKey } from '../../workflows/search-attributes';
import { FakeReportActivities, withReportWorkers } from '../support/recording/report-scenarios';
import { bundleWorkflows, createTimeSkippingEnvironment } from '../support/stack';

describe('report workflow (time skipping, activities mocked)', () => {
  let env: TestWorkflowEnvironment;
  let bundle: WorkflowBundle;

  beforeAll(async () => {
    [env, bundle] = await Promise.all([createTimeSkippingEnvironment(), bundleWorkflows()]);
  });

  afterAll(async () => {
    await env?.teardown();
  });

  const tenantId = 'tenant-a';

  async function runReport<T>(
    fake: FakeReportActivities,
    input: ReportWorkflowInput,
    body: (
      handle: Awaited<ReturnType<typeof env.client.workflow.start<typeof reportWorkflow>>>,
      taskQueue: string,
    ) => Promise<T>,
  ): Promise<T> {
    const taskQueue = `report-${randomUUID()}`;
    const workflowId =
      'scheduleId' in input
        ? `${reportScheduleId(input.tenantId, input.scheduleId)}-2026-12-07T06:00:00Z`
        : reportWorkflowId(input.tenantId, input.reportId);
    return withReportWorkers(env, bundle, taskQueue, fake, async () => {
      const handle = await env.client.workflow.start(reportWorkflow, { taskQueue, workflowId, args: [input] });
      return body(handle, taskQueue);
    });
  }

  it('a report is generated on the reports queue, then completed and announced, and its state says COMPLETED at 100 %', async () => {
    const fake = new FakeReportActivities();
    const reportId = randomUUID();

    const { result, state, flowStatus, taskQueue } = await runReport(
      fake,
      { tenantId, reportId },
      async (handle, taskQueue) => {
        const result = await handle.result();
        const state = await handle.query(reportStateQuery);
        const flowStatus = (await handle.describe()).typedSearchAttributes.get(FlowStatusKey);
        return { result, state, flowStatus, taskQueue };
      },
    );

    expect(result).toEqual({ reportId, status: 'COMPLETED', file: fake.file });
    expect(fake.calls).toEqual(['generateReport', 'completeReport', 'announceFileReady']);
    expect(fake.generatedOn).toEqual([taskQueueFor(taskQueue, 'reports')]);
    expect(state).toMatchObject({ reportId, status: 'COMPLETED', progress: 100, file: fake.file, failure: null });
    expect(flowStatus).toBe('COMPLETED');
  });

  it('an outage during generation is retried, and the third attempt is the last', async () => {
    const fake = new FakeReportActivities();
    fake.transientFailures = 2;

    const result = await runReport(fake, { tenantId, reportId: randomUUID() }, (handle) => handle.result());

    expect(result.status).toBe('COMPLETED');
    expect(fake.calls.filter((call) => call === 'generateReport')).toHaveLength(3);
  });

  it('a generation that fails three times ends the report FAILED', async () => {
    const fake = new FakeReportActivities();
    fake.transientFailures = 3;

    const failure = await runReport(fake, { tenantId, reportId: randomUUID() }, (handle) =>
      handle.result().then(
        () => undefined,
        (error: unknown) => error,
      ),
    );

    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(fake.calls).toEqual(['generateReport', 'generateReport', 'generateReport', 'failReport']);
  });

  it('a data error is not retried: the row is marked FAILED and the workflow fails with ReportFailed naming the cause', async () => {
    const fake = new FakeReportActivities();
    fake.permanentFailure = ReportFailure.ReportDataInvalid;

    const { failure, state } = await runReport(fake, { tenantId, reportId: randomUUID() }, async (handle) => {
      const failure = await handle.result().then(
        () => undefined,
        (error: unknown) => error,
      );
      return { failure, state: await handle.query(reportStateQuery) };
    });

    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe(ReportFailure.ReportFailed);
    expect((cause as ApplicationFailure).message).toContain('ReportDataInvalid');
    expect(fake.calls).toEqual(['generateReport', 'failReport']);
    expect(fake.failures).toEqual([{ type: 'ReportDataInvalid', message: 'The report type is unknown' }]);
    expect(state).toMatchObject({ status: 'FAILED', failure: { type: 'ReportDataInvalid' } });
  });

  it('cancelling mid-generation stops the generation, removes the partial file and ends CANCELLED', async () => {
    const fake = new FakeReportActivities();
    fake.blockGeneration = true;

    const failure = await runReport(fake, { tenantId, reportId: randomUUID() }, async (handle) => {
      await fake.generationStarted;
      await handle.cancel();
      return handle.result().then(
        () => undefined,
        (error: unknown) => error,
      );
    });

    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    // The generation acknowledged the cancellation (aborting its writer) before the cleanup ran.
    expect(fake.calls).toEqual(['generateReport', 'generationAborted', 'discardReport']);
  });

  it('a scheduled run first makes its own report row, keyed by its workflow ID, then generates it', async () => {
    const fake = new FakeReportActivities();
    const scheduleId = randomUUID();

    const { result, workflowId } = await runReport(fake, { tenantId, scheduleId }, async (handle) => ({
      result: await handle.result(),
      workflowId: handle.workflowId,
    }));

    expect(result.reportId).toBe(fake.scheduledReportId);
    expect(fake.calls).toEqual(['openScheduledReport', 'generateReport', 'completeReport', 'announceFileReady']);
    expect(fake.scheduledRuns).toEqual([
      expect.objectContaining({ tenantId, scheduleId, workflowId, runStartedAt: expect.any(String) }),
    ]);
  });

  it('a report whose announcement fails for good still completes: the file is there to download', async () => {
    const fake = new FakeReportActivities();
    fake.announceFails = true;

    const result = await runReport(fake, { tenantId, reportId: randomUUID() }, (handle) => handle.result());

    expect(result.status).toBe('COMPLETED');
    expect(fake.calls).toEqual(['generateReport', 'completeReport', 'announceFileReady']);
  });
});
