import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal as proto } from '@temporalio/proto';
import request from 'supertest';
import { lastFailedStepResetPoint, type HistoryEvent } from '../../api/services/operations/temporal-records';
import { assignVendorManuallyUpdate } from '../../workflows/order-routing.contract';
import { WebhookFailure, webhookDeliveryStartOptions } from '../../workflows/webhook-delivery.contract';
import { eventually } from '../support/eventually';
import { useApiStack } from '../support/api-stack';
import { OperationsFake, UNSTORABLE_FAILURE } from '../support/operations-fake';
import { FakeWebhooks } from '../support/webhooks-fake';

interface DeadLetter {
  id: string;
  tenantId: string;
  kind: string;
  flow: string;
  workflowId: string;
  runId: string | null;
  notificationId: string | null;
  failure: { type: string | null; message: string | null } | null;
  stillSeen: boolean | null;
  resolution: string | null;
  resolvedBy: string | null;
  resolvedAt: string | null;
  resolutionReason: string | null;
}

describe('the dead-letter inbox lists what failed, and retry and discard resolve it with who, why and when', () => {
  const fake = new OperationsFake();
  const webhooks = new FakeWebhooks();
  const stack = useApiStack({
    fakeActivities: { ...fake.activities(), ...webhooks.activities() },
    terminateOnStop: true,
    // Steps count as dead letters from their third attempt (1 s and 2 s apart), and every list re-reads Temporal.
    config: { DEAD_LETTER_ACTIVITY_ATTEMPTS: '3', OPERATIONS_STATS_TTL: '0 seconds' },
  });
  const api = () => request(stack.app);
  const queue = () => stack.config.temporal.taskQueue;

  const inbox = async (token: string, query = '') => {
    const res = await api().get(`/api/v1/dead-letter${query}`).set('Authorization', token);
    expect(res.status).toBe(200);
    return res.body as {
      deadLetters: DeadLetter[];
      total: number;
      refreshError: string | null;
      retryingScanned: number | null;
      retryingCapped: boolean | null;
    };
  };
  const letterFor = (workflowId: string, kind: string) =>
    eventually(async () =>
      (await inbox(stack.tokens.member)).deadLetters.find(
        (letter) => letter.workflowId === workflowId && letter.kind === kind,
      ),
    );
  const act = (id: string, action: 'retry' | 'discard', token: string, body?: object) =>
    api().post(`/api/v1/dead-letter/${id}/${action}`).set('Authorization', token).send(body);

  let failed: Awaited<ReturnType<OperationsFake['startNotification']>>;
  let retrying: Awaited<ReturnType<OperationsFake['startNotification']>>;
  let stuck: Awaited<ReturnType<OperationsFake['startStuckOrder']>>;
  let failedNotificationId: string;

  beforeAll(async () => {
    failed = await fake.startNotification(stack.client, queue(), stack.tenant.id, 'fail-run');
    retrying = await fake.startNotification(stack.client, queue(), stack.tenant.id, 'keep-retrying');
    stuck = await fake.startStuckOrder(stack.client, queue(), stack.tenant.id);
    failedNotificationId = randomUUID();
    await stack.prisma.notification.create({
      data: {
        id: failedNotificationId,
        tenantId: stack.tenant.id,
        channel: 'EMAIL',
        recipient: 'someone@example.test',
        template: 'custom',
        subject: 'Hello',
        text: 'Hello',
        status: 'FAILED',
        attempts: 5,
        lastError: 'ProviderRejected: mailbox unavailable',
        source: 'API',
        idempotencyKey: `dead-letter-test:${failedNotificationId}`,
        workflowId: `notification:${stack.tenant.id}:${failedNotificationId}`,
      },
    });
    await expect(failed.handle.result()).rejects.toThrow();
  });

  it('lists failed runs, retrying steps, flows needing attention and failed notifications, each with its last failure', async () => {
    const body = await eventually(async () => {
      const answer = await inbox(stack.tokens.member);
      return new Set(answer.deadLetters.map((letter) => letter.kind)).size === 4 ? answer : undefined;
    });
    // The inbox says how far its search for retrying steps reached.
    expect(body).toMatchObject({ refreshError: null, retryingCapped: false });
    expect(body.retryingScanned).toBeGreaterThanOrEqual(2);
    const byKind = Object.fromEntries(body.deadLetters.map((letter) => [letter.kind, letter]));
    expect(byKind.WORKFLOW_FAILED).toMatchObject({
      flow: 'notifications',
      workflowId: failed.workflowId,
      runId: failed.runId,
      failure: { type: 'DataRejected', message: 'The ledger refused the failure record' },
      resolution: null,
      stillSeen: true,
    });
    expect(byKind.ACTIVITY_RETRYING).toMatchObject({ flow: 'notifications', workflowId: retrying.workflowId });
    expect(byKind.ACTIVITY_RETRYING!.failure!.message).toMatch(
      /^failNotification on attempt \d+: The ledger database is unavailable$/,
    );
    expect(byKind.NEEDS_ATTENTION).toMatchObject({ flow: 'orders', workflowId: stuck.workflowId });
    expect(byKind.NOTIFICATION_FAILED).toMatchObject({
      flow: 'notifications',
      notificationId: failedNotificationId,
      failure: { message: 'ProviderRejected: mailbox unavailable' },
    });

    const onlyOrders = await inbox(stack.tokens.member, '?flow=orders');
    expect(onlyOrders.deadLetters.map((letter) => letter.kind)).toEqual(['NEEDS_ATTENTION']);
    const onlyFailed = await inbox(stack.tokens.member, '?kind=WORKFLOW_FAILED');
    expect(onlyFailed.deadLetters.every((letter) => letter.kind === 'WORKFLOW_FAILED')).toBe(true);
    const bad = await api().get('/api/v1/dead-letter?kind=LOST').set('Authorization', stack.tokens.member);
    expect(bad.status).toBe(400);
  });

  it('shows another tenant none of them, and answers their IDs as missing', async () => {
    const letter = await letterFor(failed.workflowId, 'WORKFLOW_FAILED');
    expect((await inbox(stack.tokens.otherMember)).deadLetters).toEqual([]);
    for (const res of [
      await act(letter.id, 'retry', stack.tokens.otherAdmin),
      await act(letter.id, 'discard', stack.tokens.otherAdmin, { reason: 'not mine' }),
      await act(randomUUID(), 'retry', stack.tokens.operator),
    ]) {
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('DEAD_LETTER_NOT_FOUND');
    }
  });

  it('lets any role read, but only operators retry or discard; discarding needs a reason', async () => {
    const letter = await letterFor(retrying.workflowId, 'ACTIVITY_RETRYING');
    expect((await act(letter.id, 'retry', stack.tokens.member)).status).toBe(403);
    expect((await act(letter.id, 'discard', stack.tokens.member, { reason: 'members cannot' })).status).toBe(403);
    expect((await act(letter.id, 'discard', stack.tokens.operator, {})).status).toBe(400);
    expect((await act(letter.id, 'retry', stack.tokens.operator, { mode: 'again' })).status).toBe(400);
  });

  it('refuses to retry a flow that still runs, and says what to do instead', async () => {
    for (const [workflowId, kind] of [
      [retrying.workflowId, 'ACTIVITY_RETRYING'],
      [stuck.workflowId, 'NEEDS_ATTENTION'],
    ] as const) {
      const letter = await letterFor(workflowId, kind);
      const res = await act(letter.id, 'retry', stack.tokens.operator);
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('DEAD_LETTER_RUNNING');
      expect(res.body.error.message).toMatch(/discard it/);
    }
  });

  it('retries a failed run by resetting it once the cause is fixed, and records who, why and when', async () => {
    const letter = await letterFor(failed.workflowId, 'WORKFLOW_FAILED');
    fake.scripts.set(failed.notificationId, 'deliver');
    const res = await act(letter.id, 'retry', stack.tokens.operator, { reason: 'the ledger is fixed' });
    expect(res.status).toBe(200);
    expect(res.body.retry).toMatchObject({ mode: 'reset', workflowId: failed.workflowId });
    expect(res.body.retry.runId).not.toBe(failed.runId);
    expect(res.body.deadLetter).toMatchObject({
      resolution: 'RETRIED',
      resolvedBy: 'dev:operator',
      resolutionReason: 'the ledger is fixed',
    });
    expect(res.body.deadLetter.resolvedAt).toEqual(expect.any(String));
    await stack.client.workflow.getHandle(failed.workflowId, res.body.retry.runId).result();

    const audit = await stack.prisma.auditLog.findFirst({
      where: { tenantId: stack.tenant.id, action: 'dead-letter.retried', entityId: letter.id },
    });
    expect(audit).toMatchObject({ actor: 'dev:operator', entityType: 'DeadLetter' });
    const again = await act(letter.id, 'retry', stack.tokens.operator);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('DEAD_LETTER_RESOLVED');

    const open = await inbox(stack.tokens.member);
    expect(open.deadLetters.some((item) => item.id === letter.id)).toBe(false);
    const all = await inbox(stack.tokens.member, '?include=resolved');
    expect(all.deadLetters.find((item) => item.id === letter.id)?.resolution).toBe('RETRIED');
  });

  it('reruns a failed run as a new run with the same input', async () => {
    const other = await fake.startNotification(stack.client, queue(), stack.tenant.id, 'fail-run');
    await expect(other.handle.result()).rejects.toThrow();
    const letter = await letterFor(other.workflowId, 'WORKFLOW_FAILED');
    fake.scripts.set(other.notificationId, 'deliver');

    // A rerun is a new start: while the tenant's notifications are paused it is refused, and the row stays open.
    const flows = (action: 'pause' | 'resume') =>
      api()
        .post(`/api/v1/flows/notifications/${action}`)
        .set('Authorization', stack.tokens.operator)
        .send(action === 'pause' ? { reason: 'provider incident' } : {});
    expect((await flows('pause')).status).toBe(200);
    try {
      const refused = await act(letter.id, 'retry', stack.tokens.operator, { mode: 'rerun' });
      expect(refused.status).toBe(423);
      expect(refused.body.error.code).toBe('FLOW_PAUSED');
      expect(await stack.prisma.deadLetter.findUniqueOrThrow({ where: { id: letter.id } })).toMatchObject({
        resolution: null,
      });
    } finally {
      expect((await flows('resume')).status).toBe(200);
    }

    const res = await act(letter.id, 'retry', stack.tokens.operator, { mode: 'rerun' });
    expect(res.status).toBe(200);
    const result = await stack.client.workflow.getHandle(other.workflowId, res.body.retry.runId).result();
    expect(result).toMatchObject({ notificationId: other.notificationId, status: 'SENT' });
    const described = await stack.client.workflow.getHandle(other.workflowId, res.body.retry.runId).describe();
    expect(described.typedSearchAttributes.get({ name: 'TenantId', type: 'KEYWORD' } as never)).toBe(stack.tenant.id);
  });

  it('retries a run that completed needing attention by running its failed step again, not by replaying its ending', async () => {
    // Holdfast could not sign the delivery: the run completes NEEDS_ATTENTION, the delivery left for a retry.
    webhooks.answers = [
      ApplicationFailure.nonRetryable('No webhook signing key is configured', WebhookFailure.NotConfigured),
    ];
    const endpointId = randomUUID();
    const eventId = randomUUID();
    const handle = await stack.client.workflow.start('webhookDeliveryWorkflow', {
      taskQueue: queue(),
      args: [{ tenantId: stack.tenant.id, deliveryId: randomUUID() }],
      ...webhookDeliveryStartOptions(stack.tenant.id, endpointId, eventId),
    });
    expect(await handle.result()).toMatchObject({ status: 'NEEDS_ATTENTION' });
    const letter = await letterFor(handle.workflowId, 'NEEDS_ATTENTION');
    expect(letter.failure).toMatchObject({ type: WebhookFailure.NotConfigured });

    // The key is configured now: the retry takes the run back to where it scheduled the delivery.
    webhooks.answers = [{ outcome: 'DELIVERED', statusCode: 200 }];
    const res = await act(letter.id, 'retry', stack.tokens.operator, { reason: 'signing key configured' });
    expect(res.status).toBe(200);
    expect(res.body.retry).toMatchObject({ mode: 'reset', resetTo: 'failed-step', workflowId: handle.workflowId });
    expect(res.body.deadLetter).toMatchObject({ resolution: 'RETRIED', resolvedBy: 'dev:operator' });
    const history = (await stack.client.workflow.getHandle(handle.workflowId, letter.runId!).fetchHistory()).events!;
    const scheduledDelivery = history.find(
      (event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'deliverWebhook',
    );
    expect(res.body.retry.resetToEventId).toBe(
      Number(scheduledDelivery!.activityTaskScheduledEventAttributes!.workflowTaskCompletedEventId),
    );
    const retried = await stack.client.workflow.getHandle(handle.workflowId, res.body.retry.runId).result();
    expect(retried).toMatchObject({ status: 'SUCCEEDED' });
  });

  it('finds no failed step to go back to in a run none of whose steps failed, so such a retry is a rerun', () => {
    // fromObject takes the event IDs as plain numbers where the typed events want Longs.
    const event = (fields: object): HistoryEvent => proto.api.history.v1.HistoryEvent.fromObject(fields);
    const completedTask = (eventId: number) => event({ eventId, workflowTaskCompletedEventAttributes: {} });
    const scheduled = (eventId: number, by: number) =>
      event({ eventId, activityTaskScheduledEventAttributes: { workflowTaskCompletedEventId: by } });
    const stepsThatWentThrough = [completedTask(4), scheduled(5, 4), completedTask(10)];
    expect(lastFailedStepResetPoint(stepsThatWentThrough)).toBeUndefined();
    const failedEarlierThenLater = [
      ...stepsThatWentThrough,
      event({ eventId: 7, activityTaskFailedEventAttributes: { scheduledEventId: 5 } }),
      scheduled(11, 10),
      event({ eventId: 13, activityTaskTimedOutEventAttributes: { scheduledEventId: 11 } }),
    ];
    expect(lastFailedStepResetPoint(failedEarlierThenLater)).toBe(10);
  });

  it('sends a failed notification again, and lists it again when it fails anew', async () => {
    const letter = await letterFor(`notification:${stack.tenant.id}:${failedNotificationId}`, 'NOTIFICATION_FAILED');
    const res = await act(letter.id, 'retry', stack.tokens.operator, { reason: 'mailbox is back' });
    expect(res.status).toBe(200);
    expect(res.body.retry).toMatchObject({ mode: 'notification' });
    const row = await stack.prisma.notification.findUniqueOrThrow({ where: { id: failedNotificationId } });
    expect(row.status).toBe('PENDING');

    // The provider refuses it again: the ledger says FAILED once more (as failNotification records it).
    await stack.prisma.notification.update({
      where: { id: failedNotificationId },
      data: { status: 'FAILED', lastError: 'ProviderRejected: mailbox full' },
    });
    const back = await eventually(async () =>
      (await inbox(stack.tokens.member, '?kind=NOTIFICATION_FAILED')).deadLetters.find((item) => item.id === letter.id),
    );
    expect(back).toMatchObject({
      resolution: null,
      resolvedBy: null,
      failure: { message: 'ProviderRejected: mailbox full' },
    });
  });

  it('discards a flow that keeps retrying by terminating it, with who, why and when', async () => {
    const letter = await letterFor(retrying.workflowId, 'ACTIVITY_RETRYING');
    const res = await act(letter.id, 'discard', stack.tokens.operator, { reason: 'the customer cancelled' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      terminated: true,
      deadLetter: { resolution: 'DISCARDED', resolvedBy: 'dev:operator', resolutionReason: 'the customer cancelled' },
    });
    expect((await retrying.handle.describe()).status.name).toBe('TERMINATED');
    const audit = await stack.prisma.auditLog.findFirst({
      where: { tenantId: stack.tenant.id, action: 'dead-letter.discarded', entityId: letter.id },
    });
    expect(audit?.details).toMatchObject({ reason: 'the customer cancelled', terminated: true });
  });

  it('discards a row whose flow recovered without terminating the flow, and resolves such rows by itself', async () => {
    const fixedByHand = await fake.startStuckOrder(stack.client, queue(), stack.tenant.id);
    const recovered = await fake.startStuckOrder(stack.client, queue(), stack.tenant.id);
    const discarded = await letterFor(fixedByHand.workflowId, 'NEEDS_ATTENTION');
    const leftOver = await letterFor(recovered.workflowId, 'NEEDS_ATTENTION');

    // An operator assigns each order a vendor through the order's own action: they carry on.
    const vendor = fake.orders.vendor('Rescue Foods', { ranked: false });
    for (const order of [fixedByHand, recovered]) {
      await order.handle.executeUpdate(assignVendorManuallyUpdate, {
        args: [{ vendorId: vendor.id, actor: 'dev:operator' }],
      });
    }

    const res = await act(discarded.id, 'discard', stack.tokens.operator, { reason: 'assigned by hand' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ terminated: false, deadLetter: { resolution: 'DISCARDED' } });
    expect((await fixedByHand.handle.describe()).status.name).toBe('RUNNING');
    const audit = await stack.prisma.auditLog.findFirst({
      where: { tenantId: stack.tenant.id, action: 'dead-letter.discarded', entityId: discarded.id },
    });
    expect(audit?.details).toMatchObject({ terminated: false, flowRecovered: true });

    // The other order's row is resolved by the next read of the inbox, and the order runs on.
    const resolved = await eventually(async () =>
      (await inbox(stack.tokens.member, '?flow=orders&include=resolved')).deadLetters.find(
        (item) => item.id === leftOver.id && item.resolution !== null,
      ),
    );
    expect(resolved).toMatchObject({ resolution: 'DISCARDED', resolvedBy: 'holdfast:dead-letter-inbox' });
    expect(resolved.resolutionReason).toMatch(/no longer needs attention/);
    expect((await recovered.handle.describe()).status.name).toBe('RUNNING');
  });

  it('never resets a run that was replaced already, and settles all of a run’s rows at once', async () => {
    const [first, second] = await Promise.all([
      fake.startNotification(stack.client, queue(), stack.tenant.id, 'fail-run'),
      fake.startNotification(stack.client, queue(), stack.tenant.id, 'fail-run'),
    ]);
    await Promise.all([
      expect(first.handle.result()).rejects.toThrow(),
      expect(second.handle.result()).rejects.toThrow(),
    ]);
    const firstLetter = await letterFor(first.workflowId, 'WORKFLOW_FAILED');
    const secondLetter = await letterFor(second.workflowId, 'WORKFLOW_FAILED');
    // New runs keep retrying their step, so they stay running for the checks below.
    fake.scripts.set(first.notificationId, 'keep-retrying');
    fake.scripts.set(second.notificationId, 'keep-retrying');

    // A second row about the same run, as a refresh leaves one that saw the step retrying before the run failed.
    const sibling = await stack.prisma.deadLetter.create({
      data: {
        tenantId: stack.tenant.id,
        kind: 'ACTIVITY_RETRYING',
        ref: first.runId,
        flow: 'notifications',
        workflowId: first.workflowId,
        runId: first.runId,
        failureType: 'Error',
        failureMessage: 'failNotification on attempt 3: The ledger database is unavailable',
      },
    });
    const retried = await act(firstLetter.id, 'retry', stack.tokens.operator, { reason: 'the ledger is fixed' });
    expect(retried.status).toBe(200);
    expect(await stack.prisma.deadLetter.findUniqueOrThrow({ where: { id: sibling.id } })).toMatchObject({
      resolution: 'RETRIED',
      resolvedBy: 'dev:operator',
      resolutionReason: 'the ledger is fixed',
    });
    const twice = await act(sibling.id, 'retry', stack.tokens.operator);
    expect(twice.status).toBe(409);
    expect(twice.body.error.code).toBe('DEAD_LETTER_RESOLVED');
    expect(
      (await stack.client.workflow.getHandle(first.workflowId, retried.body.retry.runId).describe()).status.name,
    ).toBe('RUNNING');

    // The second run is reset through the workflows API; its dead letter must not reset it again.
    const reset = await api()
      .post(`/api/v1/workflows/${encodeURIComponent(second.workflowId)}/reset`)
      .set('Authorization', stack.tokens.operator)
      .send({ reason: 'reset by hand', to: 'last' });
    expect(reset.status).toBe(200);
    const refused = await act(secondLetter.id, 'retry', stack.tokens.operator);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({
      code: 'RUN_REPLACED',
      details: { runId: second.runId, currentRunId: reset.body.runId },
    });
    expect((await stack.client.workflow.getHandle(second.workflowId, reset.body.runId).describe()).status.name).toBe(
      'RUNNING',
    );
    expect(await stack.prisma.deadLetter.findUniqueOrThrow({ where: { id: secondLetter.id } })).toMatchObject({
      resolution: null,
    });
  });

  it('answers the rows it recorded, with the reason, when Temporal cannot be read', async () => {
    const connection = Connection.lazy({ address: '127.0.0.1:1', interceptors: [] });
    const unreachable = new Client({ connection, namespace: stack.client.options.namespace });
    try {
      const res = await request(stack.appWith({ temporal: unreachable }))
        .get('/api/v1/dead-letter')
        .set('Authorization', stack.tokens.member);
      expect(res.status).toBe(200);
      expect(res.body.refreshError).toMatch(/^Temporal could not be read/);
      const { deadLetters } = res.body as { deadLetters: DeadLetter[] };
      expect(deadLetters.length).toBeGreaterThan(0);
      expect(deadLetters.every((item) => item.stillSeen === null)).toBe(true);
    } finally {
      await connection.close();
    }
  });

  it('lets a platform admin look across tenants, or name one', async () => {
    const letter = await letterFor(stuck.workflowId, 'NEEDS_ATTENTION');
    const across = await inbox(stack.tokens.platformAdmin, '?limit=200');
    expect(across.deadLetters.find((item) => item.id === letter.id)?.tenantId).toBe(stack.tenant.id);
    const named = await inbox(stack.tokens.platformAdmin, `?tenantId=${stack.tenant.id}`);
    expect(named.deadLetters.every((item) => item.tenantId === stack.tenant.id)).toBe(true);
    const other = await inbox(stack.tokens.platformAdmin, `?tenantId=${stack.otherTenant.id}`);
    expect(other.deadLetters).toEqual([]);
  });

  it('records a failure whose message PostgreSQL cannot store as it is, each such character replaced', async () => {
    const unstorable = await fake.startNotification(stack.client, queue(), stack.tenant.id, 'fail-run-unstorable');
    await expect(unstorable.handle.result()).rejects.toThrow();

    const letter = await letterFor(unstorable.workflowId, 'WORKFLOW_FAILED');

    expect(letter.failure).toEqual({
      type: 'DataRejected',
      message: UNSTORABLE_FAILURE.replace('\u0000', '\ufffd').replace('\ud800', '\ufffd'),
    });
    expect((await inbox(stack.tokens.member)).refreshError).toBeNull();
  });
});
