import request from 'supertest';
import { eventually } from '../support/eventually';
import { useApiStack } from '../support/api-stack';
import { OperationsFake } from '../support/operations-fake';

interface WorkflowItem {
  workflowId: string;
  tenantId: string;
  businessKey: string;
}

describe('the operations API shows and acts on a tenant’s workflows, and nothing of another tenant’s', () => {
  const fake = new OperationsFake();
  const stack = useApiStack({ fakeActivities: fake.activities(), terminateOnStop: true });
  const api = () => request(stack.app);
  const queue = () => stack.config.temporal.taskQueue;

  const describe_ = (workflowId: string, token = stack.tokens.member) =>
    api()
      .get(`/api/v1/workflows/${encodeURIComponent(workflowId)}`)
      .set('Authorization', token);
  const post = (workflowId: string, path: string, token: string, body?: object) =>
    api()
      .post(`/api/v1/workflows/${encodeURIComponent(workflowId)}/${path}`)
      .set('Authorization', token)
      .send(body);
  const workflowsOf = (res: { body: unknown }) => (res.body as { workflows?: WorkflowItem[] }).workflows ?? [];
  const statusOf = async (workflowId: string) => (await describe_(workflowId)).body.status as string;

  it('lists the tenant’s workflows by type, status, FlowStatus and business key, paged with an opaque token', async () => {
    const sent = [];
    for (let i = 0; i < 3; i++)
      sent.push(await fake.startNotification(stack.client, queue(), stack.tenant.id, 'deliver'));
    const scheduled = await fake.startNotification(stack.client, queue(), stack.tenant.id, 'deliver', {
      sendAt: new Date(Date.now() + 3_600_000),
    });
    await Promise.all(sent.map(({ handle }) => handle.result()));

    const completed = await eventually(async () => {
      const res = await api()
        .get('/api/v1/workflows?type=notifications&status=completed&pageSize=2')
        .set('Authorization', stack.tokens.member);
      return res.status === 200 && res.body.nextPageToken ? res : undefined;
    });
    expect(workflowsOf(completed)).toHaveLength(2);
    expect(completed.body.query).toContain(`TenantId = "${stack.tenant.id}"`);
    expect(completed.body.links.webUi).toContain('/workflows?query=');
    const next = await api()
      .get(`/api/v1/workflows?type=notifications&status=completed&pageSize=2&pageToken=${completed.body.nextPageToken}`)
      .set('Authorization', stack.tokens.member);
    expect(next.status).toBe(200);
    const seen = [...workflowsOf(completed), ...workflowsOf(next)].map((item) => item.workflowId);
    expect(new Set(seen)).toEqual(new Set(sent.map(({ workflowId }) => workflowId)));
    expect(workflowsOf(completed)[0]).toMatchObject({
      flow: 'notifications',
      workflowType: 'notificationWorkflow',
      status: 'completed',
      flowStatus: 'SENT',
      category: 'finished',
      tenantId: stack.tenant.id,
    });

    const waiting = await api()
      .get('/api/v1/workflows?type=notifications&flowStatus=SCHEDULED')
      .set('Authorization', stack.tokens.member);
    expect(workflowsOf(waiting).map((item) => item.workflowId)).toEqual([scheduled.workflowId]);
    expect(workflowsOf(waiting)[0]).toMatchObject({ status: 'running', category: 'waiting-on-timer' });

    const byKey = await api()
      .get(
        `/api/v1/workflows?businessKey=${sent[1]!.notificationId}&since=${new Date(Date.now() - 600_000).toISOString()}`,
      )
      .set('Authorization', stack.tokens.member);
    expect(workflowsOf(byKey).map((item) => item.workflowId)).toEqual([sent[1]!.workflowId]);
  });

  it('refuses filters it cannot honour with 400', async () => {
    const cases = [
      ['pageSize=0', 'VALIDATION_FAILED'],
      ['pageSize=101', 'VALIDATION_FAILED'],
      ['type=nope', 'VALIDATION_FAILED'],
      ['status=sleeping', 'VALIDATION_FAILED'],
      ['type=notifications&flowStatus=OFFERING', 'VALIDATION_FAILED'],
      ['since=yesterday', 'VALIDATION_FAILED'],
      ['pageToken=bm90LWEtdG9rZW4', 'INVALID_PAGE_TOKEN'],
      ['pageToken=bm90LWEtdG9rZW4.c2lnbmVk', 'INVALID_PAGE_TOKEN'],
      ['unknown=1', 'VALIDATION_FAILED'],
    ];
    for (const [query, code] of cases) {
      const res = await api().get(`/api/v1/workflows?${query}`).set('Authorization', stack.tokens.member);
      expect({ query, status: res.status, code: res.body.error?.code }).toEqual({ query, status: 400, code });
    }
  });

  it('describes a run with its retrying step (attempt, last failure, next attempt), its state and its Web UI link', async () => {
    const { workflowId } = await fake.startNotification(stack.client, queue(), stack.tenant.id, 'keep-retrying');
    const described = await eventually(async () => {
      const res = await describe_(workflowId);
      return res.body.pendingActivities?.[0]?.attempt >= 2 ? res : undefined;
    });
    expect(described.status).toBe(200);
    expect(described.body).toMatchObject({
      workflowId,
      flow: 'notifications',
      status: 'running',
      flowStatus: 'SENDING',
      searchAttributes: { TenantId: stack.tenant.id, FlowStatus: 'SENDING' },
      failure: null,
      actions: [],
    });
    const [activity] = described.body.pendingActivities;
    expect(activity).toMatchObject({
      activityType: 'failNotification',
      maximumAttempts: 20,
      lastFailure: { message: 'The ledger database is unavailable' },
    });
    expect(activity.nextAttemptScheduleTime).toEqual(expect.any(String));
    expect(described.body.historyLength).toBeGreaterThan(0);
    expect(described.body.links.webUi).toContain(encodeURIComponent(workflowId));
    expect(described.body.state).toMatchObject({ status: 'SENDING' });
  });

  it('describes a waiting run’s timer and the actions its FlowStatus allows, and runs one', async () => {
    const sendAt = new Date(Date.now() + 3_600_000);
    const { workflowId, handle } = await fake.startNotification(stack.client, queue(), stack.tenant.id, 'deliver', {
      sendAt,
    });
    const described = await eventually(async () => {
      const res = await describe_(workflowId);
      return res.body.pendingTimers?.length === 1 ? res : undefined;
    });
    expect(Math.abs(Date.parse(described.body.pendingTimers[0].firesAt) - sendAt.getTime())).toBeLessThan(60_000);
    expect((described.body.actions as Array<{ name: string }>).map((action) => action.name)).toEqual(['send-now']);

    const wrongFlow = await post(workflowId, 'actions/expire-hold', stack.tokens.operator);
    expect(wrongFlow.status).toBe(404);
    expect(wrongFlow.body.error.code).toBe('ACTION_NOT_FOUND');

    const sendNow = await post(workflowId, 'actions/send-now', stack.tokens.operator);
    expect(sendNow.status).toBe(200);
    expect(sendNow.body).toMatchObject({ workflowId, action: 'send-now' });
    await handle.result();
    const audit = await stack.prisma.auditLog.findFirst({
      where: { tenantId: stack.tenant.id, action: 'workflow.action.send-now', entityId: workflowId },
    });
    expect(audit?.actor).toBe('dev:operator');

    const closed = await post(workflowId, 'actions/send-now', stack.tokens.operator);
    expect(closed.status).toBe(409);
    expect(closed.body.error.code).toBe('WORKFLOW_CLOSED');
  });

  it('refuses an action in a FlowStatus that does not allow it with 409', async () => {
    const { workflowId } = await fake.startNotification(stack.client, queue(), stack.tenant.id, 'keep-retrying');
    await eventually(async () => (await describe_(workflowId)).body.flowStatus === 'SENDING');
    const res = await post(workflowId, 'actions/send-now', stack.tokens.operator);
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'ACTION_NOT_AVAILABLE', details: { flowStatus: 'SENDING' } });
  });

  it('answers another tenant’s workflow as missing, by its TenantId and never its ID’s prefix', async () => {
    // The ID claims the other tenant; the TenantId search attribute says whose it is.
    const { workflowId } = await fake.startNotification(stack.client, queue(), stack.tenant.id, 'keep-retrying', {
      workflowId: `notification:${stack.otherTenant.id}:disguised-${Date.now()}`,
    });
    await eventually(async () => (await describe_(workflowId)).status === 200);

    for (const res of [
      await describe_(workflowId, stack.tokens.otherMember),
      await post(workflowId, 'terminate', stack.tokens.otherAdmin, { reason: 'not yours' }),
      await post(workflowId, 'cancel', stack.tokens.otherAdmin),
      await post(workflowId, 'reset', stack.tokens.otherAdmin, { reason: 'not yours' }),
      await describe_('notification:nobody:nothing', stack.tokens.member),
    ]) {
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('WORKFLOW_NOT_FOUND');
    }
    const theirs = await api().get('/api/v1/workflows?pageSize=100').set('Authorization', stack.tokens.otherMember);
    expect(theirs.status).toBe(200);
    expect(workflowsOf(theirs).filter((item) => item.tenantId !== stack.otherTenant.id)).toEqual([]);
    const named = await api()
      .get(`/api/v1/workflows?tenantId=${stack.tenant.id}`)
      .set('Authorization', stack.tokens.otherMember);
    expect(named.status).toBe(403);
    expect(await statusOf(workflowId)).toBe('running');
  });

  it('lets any role read but only operators act; terminating needs a reason, and is audited', async () => {
    const { workflowId } = await fake.startNotification(stack.client, queue(), stack.tenant.id, 'keep-retrying');
    expect((await describe_(workflowId, stack.tokens.member)).status).toBe(200);
    const forbidden = await post(workflowId, 'terminate', stack.tokens.member, { reason: 'members cannot' });
    expect(forbidden.status).toBe(403);
    const noReason = await post(workflowId, 'terminate', stack.tokens.operator, {});
    expect(noReason.status).toBe(400);
    const blank = await post(workflowId, 'terminate', stack.tokens.operator, { reason: '   ' });
    expect(blank.status).toBe(400);

    const terminated = await post(workflowId, 'terminate', stack.tokens.operator, { reason: 'stuck on the ledger' });
    expect(terminated.status).toBe(200);
    expect(terminated.body).toMatchObject({ workflowId, terminated: true });
    expect(await statusOf(workflowId)).toBe('terminated');
    const audit = await stack.prisma.auditLog.findFirst({
      where: { tenantId: stack.tenant.id, action: 'workflow.terminated', entityId: workflowId },
    });
    expect(audit).toMatchObject({ actor: 'dev:operator', entityType: 'Workflow' });
    expect(audit?.details).toMatchObject({ reason: 'stuck on the ledger' });

    const again = await post(workflowId, 'terminate', stack.tokens.operator, { reason: 'twice' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('WORKFLOW_CLOSED');
    const cancel = await post(workflowId, 'cancel', stack.tokens.operator);
    expect(cancel.status).toBe(409);
  });

  it('cancels a running workflow on request', async () => {
    const { workflowId, handle } = await fake.startNotification(stack.client, queue(), stack.tenant.id, 'deliver', {
      sendAt: new Date(Date.now() + 3_600_000),
    });
    const res = await post(workflowId, 'cancel', stack.tokens.operator, { reason: 'not needed' });
    expect(res.status).toBe(202);
    await expect(handle.result()).rejects.toThrow();
    expect(await statusOf(workflowId)).toBe('cancelled');
  });

  it('resets a failed run to a new run that, once the cause is fixed, finishes', async () => {
    const { workflowId, notificationId, handle } = await fake.startNotification(
      stack.client,
      queue(),
      stack.tenant.id,
      'fail-run',
    );
    await expect(handle.result()).rejects.toThrow();
    const failed = await describe_(workflowId);
    expect(failed.body).toMatchObject({ status: 'failed', failure: { type: 'DataRejected' } });

    fake.scripts.set(notificationId, 'deliver');
    const missingReason = await post(workflowId, 'reset', stack.tokens.operator, {});
    expect(missingReason.status).toBe(400);
    const resetOnce = () =>
      api()
        .post(`/api/v1/workflows/${encodeURIComponent(workflowId)}/reset`)
        .set('Authorization', stack.tokens.operator)
        .set('Idempotency-Key', `reset-${notificationId}`)
        .send({ reason: 'ledger fixed', to: 'last' });
    const reset = await resetOnce();
    expect(reset.status).toBe(200);
    expect(reset.body.previousRunId).toBe(handle.firstExecutionRunId);
    expect(reset.body.runId).not.toBe(handle.firstExecutionRunId);

    // The same request again answers the first reset, and is audited once.
    const repeated = await resetOnce();
    expect(repeated.status).toBe(200);
    expect(repeated.body).toEqual(reset.body);
    const audits = await stack.prisma.auditLog.count({
      where: { tenantId: stack.tenant.id, action: 'workflow.reset', entityId: workflowId },
    });
    expect(audits).toBe(1);

    await eventually(async () => (await describe_(workflowId)).body.status === 'completed');
    const latest = await describe_(workflowId);
    expect(latest.body.runId).toBe(reset.body.runId);

    // The replaced run cannot be reset again: that would end the run that replaced it.
    const stale = await post(workflowId, 'reset', stack.tokens.operator, {
      reason: 'again',
      runId: handle.firstExecutionRunId,
    });
    expect(stale.status).toBe(409);
    expect(stale.body.error).toMatchObject({
      code: 'RUN_NOT_CURRENT',
      details: { runId: handle.firstExecutionRunId, currentRunId: reset.body.runId },
    });
    expect((await describe_(workflowId)).body).toMatchObject({ runId: reset.body.runId, status: 'completed' });
  });

  it('answers 504 when no worker takes a "do it now" action, instead of waiting for ever', async () => {
    // A queue no worker polls: the run is SCHEDULED from its start, but nothing runs its Update.
    const { workflowId } = await fake.startNotification(
      stack.client,
      `${queue()}-no-worker`,
      stack.tenant.id,
      'deliver',
      { sendAt: new Date(Date.now() + 3_600_000) },
    );
    await eventually(async () => (await describe_(workflowId)).body.flowStatus === 'SCHEDULED');
    const res = await post(workflowId, 'actions/send-now', stack.tokens.operator);
    expect(res.status).toBe(504);
    expect(res.body.error).toMatchObject({ code: 'FLOW_NOT_ANSWERING', details: { action: 'send-now', workflowId } });
    const audit = await stack.prisma.auditLog.findFirst({
      where: { tenantId: stack.tenant.id, action: 'workflow.action.send-now', entityId: workflowId },
    });
    expect(audit).toBeNull();
  });

  it('lets a platform admin look across tenants or name one', async () => {
    const { workflowId } = await fake.startNotification(stack.client, queue(), stack.tenant.id, 'deliver', {
      sendAt: new Date(Date.now() + 3_600_000),
    });
    const named = await eventually(async () => {
      const res = await api()
        .get(`/api/v1/workflows?tenantId=${stack.tenant.id}&flowStatus=SCHEDULED&pageSize=100`)
        .set('Authorization', stack.tokens.platformAdmin);
      return workflowsOf(res).some((item) => item.workflowId === workflowId) ? res : undefined;
    });
    expect(workflowsOf(named).every((item) => item.tenantId === stack.tenant.id)).toBe(true);
    const across = await api()
      .get(`/api/v1/workflows?businessKey=${workflowsOf(named)[0]!.businessKey}`)
      .set('Authorization', stack.tokens.platformAdmin);
    expect(across.status).toBe(200);
    expect(across.body.query).toContain('TenantId IS NOT NULL');
    expect((await describe_(workflowId, stack.tokens.platformAdmin)).body.tenantId).toBe(stack.tenant.id);
    const unknown = await api()
      .get('/api/v1/workflows?tenantId=t-no-such-tenant')
      .set('Authorization', stack.tokens.platformAdmin);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('TENANT_NOT_FOUND');
  });
});
