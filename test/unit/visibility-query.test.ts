import { anyOf, quote, scopeClause, workflowListQuery } from '../../api/services/operations/visibility-query';
import { pendingTimers, resetPoint, type HistoryEvent } from '../../api/services/operations/temporal-records';

describe('visibility queries', () => {
  it('quotes a literal so that no value can end its string and add a clause', () => {
    expect(quote('t-1')).toBe('"t-1"');
    expect(quote('a" OR TenantId = "b')).toBe('"a\\" OR TenantId = \\"b"');
    expect(quote('back\\slash')).toBe('"back\\\\slash"');
    expect(quote("it's")).toBe('"it\'s"');
  });

  it('refuses control characters in a literal', () => {
    expect(() => quote('a\nb')).toThrow(RangeError);
    expect(() => quote('a\u0000b')).toThrow(RangeError);
  });

  it("always scopes a tenant's list by its TenantId", () => {
    expect(scopeClause({ tenantId: 't-1' })).toBe('TenantId = "t-1"');
    expect(workflowListQuery({ tenantId: 't-1' })).toBe('TenantId = "t-1"');
  });

  it('looks across tenants at every flow that carries a TenantId', () => {
    expect(workflowListQuery({ allTenants: true })).toBe('TenantId IS NOT NULL');
  });

  it('adds each filter given, with the execution status as visibility spells it', () => {
    const query = workflowListQuery(
      { tenantId: 't-1' },
      {
        workflowType: 'notificationWorkflow',
        status: 'timed-out',
        flowStatus: 'SCHEDULED',
        businessKey: 'order "42"',
        since: new Date('2026-12-01T10:00:00Z'),
      },
    );
    expect(query).toBe(
      'TenantId = "t-1" AND WorkflowType = "notificationWorkflow" AND ExecutionStatus = "TimedOut" AND ' +
        'FlowStatus = "SCHEDULED" AND BusinessKey = "order \\"42\\"" AND StartTime >= "2026-12-01T10:00:00.000Z"',
    );
  });

  it('spells a choice of values as ORs in parentheses', () => {
    expect(anyOf('FlowStatus', ['NEEDS_ATTENTION'])).toBe('FlowStatus = "NEEDS_ATTENTION"');
    expect(anyOf('FlowStatus', ['A', 'B'])).toBe('(FlowStatus = "A" OR FlowStatus = "B")');
    expect(() => anyOf('FlowStatus', [])).toThrow(RangeError);
  });
});

const at = (iso: string) => ({ seconds: Math.floor(Date.parse(iso) / 1000), nanos: 0 });

describe('history readings', () => {
  it('lists the timers started and neither fired nor cancelled, with when they fire', () => {
    const events = [
      {
        eventId: 5,
        eventTime: at('2026-12-01T10:00:00Z'),
        timerStartedEventAttributes: { timerId: '1', startToFireTimeout: { seconds: 60 } },
      },
      {
        eventId: 6,
        eventTime: at('2026-12-01T10:00:00Z'),
        timerStartedEventAttributes: { timerId: '2', startToFireTimeout: { seconds: 3600 } },
      },
      {
        eventId: 7,
        eventTime: at('2026-12-01T10:00:00Z'),
        timerStartedEventAttributes: { timerId: '3', startToFireTimeout: { seconds: 10 } },
      },
      { eventId: 8, timerFiredEventAttributes: { timerId: '3' } },
      { eventId: 9, timerCanceledEventAttributes: { timerId: '1' } },
    ] as unknown as HistoryEvent[];
    expect(pendingTimers(events)).toEqual([{ timerId: '2', firesAt: '2026-12-01T11:00:00.000Z' }]);
  });

  it('resets to the workflow task that scheduled the step whose failure closed the run, so the step runs again', () => {
    const events = [
      { eventId: 4, workflowTaskCompletedEventAttributes: {} },
      { eventId: 5, activityTaskScheduledEventAttributes: { workflowTaskCompletedEventId: 4 } },
      { eventId: 7, activityTaskFailedEventAttributes: { scheduledEventId: 5 } },
      { eventId: 10, workflowTaskCompletedEventAttributes: {} },
      { eventId: 11, activityTaskScheduledEventAttributes: { workflowTaskCompletedEventId: 10 } },
      { eventId: 13, activityTaskFailedEventAttributes: { scheduledEventId: 11 } },
      { eventId: 16, workflowTaskCompletedEventAttributes: {} },
      {
        eventId: 17,
        workflowExecutionFailedEventAttributes: {
          failure: {
            message: 'Activity task failed',
            activityFailureInfo: { scheduledEventId: 11 },
            cause: { message: 'vendor down', applicationFailureInfo: { type: 'VendorDown' } },
          },
        },
      },
    ] as unknown as HistoryEvent[];
    expect(resetPoint(events, 'last')).toBe(10);
    expect(resetPoint(events, 'first')).toBe(4);
  });

  it('finds the failed step under the failure the flow wrapped it in', () => {
    const events = [
      { eventId: 4, workflowTaskCompletedEventAttributes: {} },
      { eventId: 5, activityTaskScheduledEventAttributes: { workflowTaskCompletedEventId: 4 } },
      { eventId: 7, activityTaskFailedEventAttributes: { scheduledEventId: 5 } },
      { eventId: 10, workflowTaskCompletedEventAttributes: {} },
      {
        eventId: 11,
        workflowExecutionFailedEventAttributes: {
          failure: {
            message: 'Onboarding failed',
            applicationFailureInfo: { type: 'ONBOARDING_FAILED' },
            cause: { message: 'Activity task failed', activityFailureInfo: { scheduledEventId: 5 } },
          },
        },
      },
    ] as unknown as HistoryEvent[];
    expect(resetPoint(events, 'last')).toBe(4);
  });

  it('does not rewind past later steps when the flow handled a failed step and carried on', () => {
    // A candidate who could not be reached (step 5 failed), then an offer to the next one went out
    // (step 11): resetting must not send that offer again.
    const events = [
      { eventId: 4, workflowTaskCompletedEventAttributes: {} },
      { eventId: 5, activityTaskScheduledEventAttributes: { workflowTaskCompletedEventId: 4 } },
      { eventId: 7, activityTaskFailedEventAttributes: { scheduledEventId: 5 } },
      { eventId: 10, workflowTaskCompletedEventAttributes: {} },
      { eventId: 11, activityTaskScheduledEventAttributes: { workflowTaskCompletedEventId: 10 } },
      { eventId: 13, activityTaskCompletedEventAttributes: { scheduledEventId: 11 } },
      { eventId: 16, workflowTaskCompletedEventAttributes: {} },
    ] as unknown as HistoryEvent[];
    expect(resetPoint(events, 'last')).toBe(16);
    const failedByItsOwnCode = [
      ...events,
      {
        eventId: 17,
        workflowExecutionFailedEventAttributes: {
          failure: { message: 'boom', applicationFailureInfo: { type: 'Error' } },
        },
      },
    ] as unknown as HistoryEvent[];
    expect(resetPoint(failedByItsOwnCode, 'last')).toBe(16);
  });

  it('resets to the last workflow task when no step failed', () => {
    const events = [
      { eventId: 4, workflowTaskCompletedEventAttributes: {} },
      { eventId: 9, workflowTaskCompletedEventAttributes: {} },
    ] as unknown as HistoryEvent[];
    expect(resetPoint(events, 'last')).toBe(9);
  });
});
