import { createHoldfastClient, HoldfastApiError, unwrap, type HoldfastClient } from '../../api/client';
import { check, curlFor, note, poll, show, stamp, step, StepFailed, type Call, type DemoTokens } from './tour';

/** The API the walk-through talks to: the same as the other walk-throughs' curl lines. */
const apiUrl = (process.env.DEMO_API_URL ?? 'http://localhost:3000').replace(/\/$/, '');

/**
 * Prints the curl a person would type, then runs the typed client's call; a refusal or an API
 * that does not answer stops the run at this step, with the error envelope's code and message.
 */
async function run<T>(call: Call, request: () => Promise<T>, quiet = false): Promise<T> {
  if (!quiet) show(curlFor(call));
  try {
    return await request();
  } catch (error) {
    if (error instanceof HoldfastApiError) {
      throw new StepFailed(`HTTP ${error.status} ${error.code}: ${error.message}`);
    }
    if (error instanceof TypeError)
      throw new StepFailed(`${apiUrl} did not answer (${error.message}); is \`npm run dev\` running?`);
    throw error;
  }
}

/** Runs a call that must be refused, and answers the refusal. */
async function refused(call: Call, request: () => Promise<unknown>): Promise<HoldfastApiError> {
  show(curlFor(call));
  const outcome = await request().then(
    () => undefined,
    (error: unknown) => error,
  );
  check(
    outcome instanceof HoldfastApiError,
    `expected a refusal, got ${outcome instanceof Error ? outcome.message : 'a success'}`,
  );
  return outcome;
}

/**
 * The operator's surface through the typed client (api/client, generated from the OpenAPI
 * document): the stats, a running cascade found through visibility and described, the waitlist
 * flow paused (a new start answers 423) and resumed, the Schedules, and the dead-letter inbox.
 * Every run makes its own slots, so it passes any number of times on the same stack.
 */
export async function operationsTour({ tenant, platform }: DemoTokens): Promise<void> {
  const holdfast: HoldfastClient = createHoldfastClient({ baseUrl: apiUrl, token: tenant!.value });
  const admin: HoldfastClient = createHoldfastClient({ baseUrl: apiUrl, token: platform!.value });

  step('operations: the stats per flow, in Bull’s shape too');
  const stats = await run({ path: '/api/v1/stats', token: tenant }, () => unwrap(holdfast.GET('/api/v1/stats')));
  const runningNow = stats.flows.reduce((sum, flow) => sum + flow.counts.running, 0);
  note(
    `${stats.flows.length} flows, ${runningNow} runs going; counted in ${stats.cost.durationMs} ms, cached ${stats.cachedForMs} ms`,
  );
  for (const flow of stats.flows.filter((candidate) => candidate.counts.total > 0)) {
    const { running, completed, failed } = flow.counts;
    note(
      `${flow.flow}: ${running} running, ${completed} completed, ${failed} failed, ${flow.categories.retrying} retrying`,
    );
  }
  check(
    stats.flows.some((flow) => flow.flow === 'waitlist'),
    'the stats have no waitlist flow',
  );

  step('operations: a cascade to look at: a slot with one person waiting, released');
  const slot = await run(
    { method: 'POST', path: '/api/v1/slots', token: tenant, body: { name: `Operations court ${stamp}` } },
    () => unwrap(holdfast.POST('/api/v1/slots', { body: { name: `Operations court ${stamp}` } })),
  );
  const person = { customerName: 'Grace Hopper', email: `grace-${stamp}@example.test` };
  await run({ method: 'POST', path: `/api/v1/slots/${slot.id}/waitlist`, token: tenant, body: person }, () =>
    unwrap(holdfast.POST('/api/v1/slots/{slotId}/waitlist', { params: { path: { slotId: slot.id } }, body: person })),
  );
  const released = await run({ method: 'POST', path: `/api/v1/slots/${slot.id}/release`, token: tenant }, () =>
    unwrap(holdfast.POST('/api/v1/slots/{slotId}/release', { params: { path: { slotId: slot.id } } })),
  );
  note(`WORKFLOW=${released.workflowId}`);
  const describeCascade = (quiet = false) =>
    run(
      { path: `/api/v1/workflows/${encodeURIComponent(released.workflowId)}`, token: tenant },
      () =>
        unwrap(
          holdfast.GET('/api/v1/workflows/{workflowId}', { params: { path: { workflowId: released.workflowId } } }),
        ),
      quiet,
    );

  step('operations: list the running waitlist cascades; ours is there');
  const listing = await poll(
    'the cascade did not show in the running list',
    (quiet) =>
      run(
        { path: `/api/v1/workflows?type=waitlist&status=running&businessKey=${slot.id}`, token: tenant },
        () =>
          unwrap(
            holdfast.GET('/api/v1/workflows', {
              params: { query: { type: 'waitlist', status: 'running', businessKey: slot.id } },
            }),
          ),
        quiet,
      ),
    (answer) => answer.workflows.some((workflow) => workflow.workflowId === released.workflowId),
  );
  note(`visibility query: ${listing.query}`);

  step('operations: describe it: its FlowStatus, state, pending steps and timers, and what can be done now');
  const described = await poll(
    'the cascade did not reach OFFERING',
    describeCascade,
    (workflow) => workflow.flowStatus === 'OFFERING',
  );
  note(
    `${described.flowLabel ?? described.workflowType}: ${described.status}, ${described.flowStatus} (${described.category})`,
  );
  note(`timers: ${described.pendingTimers.map((timer) => timer.firesAt ?? timer.timerId).join(', ') || 'none'}`);
  note(`do it now: ${described.actions.map((action) => action.name).join(', ') || 'nothing'}`);
  note(`Web UI: ${described.links.webUi}`);

  step('operations: pause the waitlist flow; running cascades go on, a new release answers 423');
  const paused = await run(
    {
      method: 'POST',
      path: '/api/v1/flows/waitlist/pause',
      token: tenant,
      body: { reason: `operations demo ${stamp}` },
    },
    () =>
      unwrap(
        holdfast.POST('/api/v1/flows/{flow}/pause', {
          params: { path: { flow: 'waitlist' } },
          body: { reason: `operations demo ${stamp}` },
        }),
      ),
  );
  check(paused.paused, 'the waitlist flow is not paused');
  let second: { id: string };
  try {
    second = await run(
      { method: 'POST', path: '/api/v1/slots', token: tenant, body: { name: `Paused court ${stamp}` } },
      () => unwrap(holdfast.POST('/api/v1/slots', { body: { name: `Paused court ${stamp}` } })),
    );
    const slotId = second.id;
    const refusal = await refused({ method: 'POST', path: `/api/v1/slots/${slotId}/release`, token: tenant }, () =>
      unwrap(holdfast.POST('/api/v1/slots/{slotId}/release', { params: { path: { slotId } } })),
    );
    check(
      refusal.status === 423 && refusal.code === 'FLOW_PAUSED',
      `expected 423 FLOW_PAUSED, got ${refusal.status} ${refusal.code}`,
    );
    note(`423 ${refusal.code}: ${refusal.message}`);
    const running = await describeCascade(true);
    check(running.status === 'running', `the running cascade stopped while paused: ${running.status}`);
  } catch (error) {
    // A step that fails here must not leave the demo tenant's waitlist paused: the next run's
    // waitlist walk-through would meet 423 at its first release.
    await holdfast
      .POST('/api/v1/flows/{flow}/resume', { params: { path: { flow: 'waitlist' } } })
      .catch(() => undefined);
    throw error;
  }

  step('operations: resume the flow; the release goes through');
  const resumed = await run({ method: 'POST', path: '/api/v1/flows/waitlist/resume', token: tenant }, () =>
    unwrap(holdfast.POST('/api/v1/flows/{flow}/resume', { params: { path: { flow: 'waitlist' } } })),
  );
  check(!resumed.paused, 'the waitlist flow is still paused');
  await run({ method: 'POST', path: `/api/v1/slots/${second.id}/release`, token: tenant }, () =>
    unwrap(holdfast.POST('/api/v1/slots/{slotId}/release', { params: { path: { slotId: second.id } } })),
  );

  step('operations: the Schedules: the tenant’s report schedules, and the platform’s for a platform admin');
  const own = await run({ path: '/api/v1/schedules', token: tenant }, () => unwrap(holdfast.GET('/api/v1/schedules')));
  note(`${own.schedules.length} report schedule(s) of the demo tenant`);
  const platformSchedules = await run({ path: '/api/v1/schedules', token: platform }, () =>
    unwrap(admin.GET('/api/v1/schedules')),
  );
  for (const schedule of platformSchedules.schedules.filter((candidate) => candidate.scope === 'platform')) {
    note(`${schedule.scheduleId}: ${schedule.state}, next ${schedule.nextRuns[0] ?? 'none'}`);
  }
  check(platformSchedules.schedules.length > 0, 'the platform admin sees no Schedules');

  step('operations: the dead-letter inbox');
  const inbox = await run({ path: '/api/v1/dead-letter?limit=5', token: tenant }, () =>
    unwrap(holdfast.GET('/api/v1/dead-letter', { params: { query: { limit: 5 } } })),
  );
  note(`${inbox.total} unresolved dead letter(s)`);
  for (const letter of inbox.deadLetters) {
    note(`${letter.kind} ${letter.flow} ${letter.workflowId}: ${letter.failure?.message ?? 'no failure recorded'}`);
  }

  step('operations: cancel the demo cascade through the workflows API');
  const reason = `operations demo ${stamp} is done`;
  await run(
    {
      method: 'POST',
      path: `/api/v1/workflows/${encodeURIComponent(released.workflowId)}/cancel`,
      token: tenant,
      body: { reason },
    },
    () =>
      unwrap(
        holdfast.POST('/api/v1/workflows/{workflowId}/cancel', {
          params: { path: { workflowId: released.workflowId } },
          body: { reason },
        }),
      ),
  );
  await poll('the cascade did not close', describeCascade, (workflow) => workflow.status !== 'running');
}
