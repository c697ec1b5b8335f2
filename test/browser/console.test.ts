import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { decodeJwt } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import request from 'supertest';
import type { Activities } from '../../activities';
import { createTemplates, formatInstant } from '../../api/console/render';
import { MAX_SESSION_TOKEN_LENGTH } from '../../api/console/session';
import { useApiStack } from '../support/api-stack';
import {
  checkPage,
  launchChromium,
  newConsoleContext,
  screenshotBothSizes,
  serve,
  viewports,
  type AxeViolation,
  type ServedApp,
} from '../support/browser';
import { eventually } from '../support/eventually';

/**
 * The tenant console in a real browser (Chromium, JavaScript off), against the real API, Temporal
 * dev server and PostgreSQL, with a worker whose reminder activities fail when told to.
 */

type ReminderActivities = Pick<Activities, 'sendReminderStep' | 'moveReminderDueAt' | 'closeReminder'>;

/** Reminder activities in memory; closing a reminder's row fails for good while `closeFails` is set. */
const reminders = {
  closeFails: false,
  sent: [] as string[],
  activities(): ReminderActivities {
    return {
      sendReminderStep: async ({ step }) => {
        reminders.sent.push(step.key);
        return { notificationId: `n-${step.key}-${randomUUID()}` };
      },
      moveReminderDueAt: async () => {},
      closeReminder: async () => {
        if (reminders.closeFails) {
          throw ApplicationFailure.nonRetryable(
            'The ledger refused to close the reminder (on purpose)',
            'DataRejected',
          );
        }
      },
    };
  },
};

const DAY_MS = 24 * 60 * 60 * 1000;
/** Polls a page that shows cached counts (OPERATIONS_STATS_TTL) no faster than this. */
const RELOAD_INTERVAL_MS = 500;

describe('tenant console (browser)', () => {
  const stack = useApiStack({ fakeActivities: reminders.activities(), terminateOnStop: true });
  let browser: Browser;
  let served: ServedApp;
  const contexts: BrowserContext[] = [];
  const scheduleIds: string[] = [];

  const url = (path: string) => `${served.baseUrl}/console${path}`;
  const bare = (header: string) => header.replace(/^Bearer /, '');

  beforeAll(async () => {
    browser = await launchChromium();
    served = await serve(stack.app);
  });

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await served?.close();
    for (const scheduleId of scheduleIds) {
      await stack.client.schedule
        .getHandle(scheduleId)
        .delete()
        .catch(() => undefined);
    }
  });

  async function newContext(size: 'desktop' | 'phone' = 'desktop') {
    const context = await newConsoleContext(browser, size);
    contexts.push(context);
    return context;
  }

  /** A browser signed in with `authorization`'s token, pasted into the sign-in form. */
  async function signedIn(authorization: string): Promise<{ context: BrowserContext; page: Page }> {
    const context = await newContext();
    const page = await context.newPage();
    await page.goto(url('/sign-in'));
    await page.getByRole('textbox', { name: 'Token' }).fill(bare(authorization));
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(url(''));
    return { context, page };
  }

  async function createReminder(token = stack.tokens.operator, dueInDays = 10) {
    const res = await request(stack.app)
      .post('/api/v1/reminders')
      .set('Authorization', token)
      .set('Idempotency-Key', randomUUID())
      .send({
        subject: { type: 'settlement', id: `S-${randomUUID().slice(0, 8)}` },
        recipient: { channel: 'EMAIL', to: `payer-${randomUUID().slice(0, 8)}@example.test` },
        template: 'settlement.reminder',
        dueAt: new Date(Date.now() + dueInDays * DAY_MS).toISOString(),
        steps: [
          { at: '-2d', kind: 'DUE_SOON' },
          { at: '0', kind: 'DUE' },
        ],
      });
    return res;
  }

  /** A reminder whose sequence fails when it is completed: its row cannot be closed. */
  async function failedReminder(): Promise<{ reminderId: string; workflowId: string }> {
    const created = await createReminder();
    expect(created.status).toBe(202);
    const { reminderId, workflowId } = created.body as { reminderId: string; workflowId: string };
    reminders.closeFails = true;
    await request(stack.app)
      .post(`/api/v1/reminders/${reminderId}/complete`)
      .set('Authorization', stack.tokens.operator)
      .send({});
    await eventually(async () => {
      const { status } = await stack.client.workflow.getHandle(workflowId).describe();
      return status.name === 'FAILED';
    });
    return { reminderId, workflowId };
  }

  /** Reloads `path` until `text` shows: the pages read counts cached for a few seconds. */
  async function reloadUntil(page: Page, path: string, check: () => Promise<boolean>) {
    await eventually(async () => {
      await page.goto(url(path));
      return check();
    }, RELOAD_INTERVAL_MS);
  }

  let operator: { context: BrowserContext; page: Page };
  let running: { reminderId: string; workflowId: string };
  let failed: { reminderId: string; workflowId: string };
  let stillFailed: { reminderId: string; workflowId: string };
  let scheduleId: string;
  let member: { context: BrowserContext; page: Page };

  it('refuses a token that is not valid, or names no tenant, with the reason, and signs an operator in', async () => {
    const context = await newContext();
    const page = await context.newPage();
    await page.goto(url(''));
    expect(page.url()).toBe(url('/sign-in'));

    await page.getByRole('textbox', { name: 'Token' }).fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('That is not a token');

    await page.getByRole('textbox', { name: 'Token' }).fill(bare(await stack.bearer(`t-${randomUUID()}`, 'operator')));
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('a tenant that does not exist');

    const suspendedId = `t-${randomUUID()}`;
    await stack.prisma.tenant.create({
      data: { id: suspendedId, slug: suspendedId, name: 'Suspended tenant', status: 'SUSPENDED' },
    });
    await page.getByRole('textbox', { name: 'Token' }).fill(bare(await stack.bearer(suspendedId, 'operator')));
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('The tenant is SUSPENDED');

    // A token the session cookie cannot hold (browsers drop cookies over 4 KB) is refused, saying so.
    const oversized = `${bare(stack.tokens.operator).split('.')[0]}.${'x'.repeat(MAX_SESSION_TOKEN_LENGTH)}.signature`;
    await page.getByRole('textbox', { name: 'Token' }).fill(oversized);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain(
      `the console keeps its session in a browser cookie, which holds at most ${MAX_SESSION_TOKEN_LENGTH}`,
    );
    expect(await context.cookies()).not.toContainEqual(expect.objectContaining({ name: 'holdfast_console' }));

    operator = await signedIn(stack.tokens.operator);
    await expect(operator.page.locator('body > header').textContent()).resolves.toContain(stack.tenant.name);
    const [cookie] = (await operator.context.cookies()).filter((candidate) => candidate.name === 'holdfast_console');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/console', secure: false });
    // The cookie ends with the token (8 hours for test tokens), not with the browser.
    expect(cookie!.expires * 1000).toBeGreaterThan(Date.now());
  });

  it('shows stats per flow on the overview, with the running reminder counted', async () => {
    const created = await createReminder();
    expect(created.status).toBe(202);
    running = created.body as { reminderId: string; workflowId: string };

    const row = operator.page.locator('#stats-reminders');
    await reloadUntil(
      operator.page,
      '',
      async () => (await row.locator('td[data-label="Running"]').textContent())?.trim() === '1',
    );
    await expect(row.locator('td[data-label="New starts"]').textContent()).resolves.toContain('Accepted');
    await expect(operator.page.getByRole('table').locator('caption').textContent()).resolves.toContain('Runs per flow');
  });

  it('lists the flow with its business key and opens it with its business state, timers and actions', async () => {
    const { page } = operator;
    await page.goto(url('/flows?flow=reminders'));
    const link = page.getByRole('link', { name: running.reminderId, exact: true });
    await eventually(async () => {
      await page.goto(url('/flows?flow=reminders'));
      return (await link.count()) > 0;
    }, RELOAD_INTERVAL_MS);
    const webUi = await page.getByRole('link', { name: 'Open this list in the Temporal Web UI' }).getAttribute('href');
    expect(decodeURIComponent(webUi!)).toContain(stack.tenant.id);
    await link.click();

    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toContain(running.reminderId);
    const state = page.getByRole('table').filter({ hasText: 'What the flow says about itself' });
    await expect(state.textContent()).resolves.toContain('Status');
    await expect(page.locator('section', { hasText: 'Pending timers' }).textContent()).resolves.toContain('fires');

    await page.getByRole('button', { name: 'Send the next reminder now' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain('Send the next reminder now: done');
    expect(reminders.sent.some((key) => key.startsWith('DUE_SOON'))).toBe(true);
  });

  it('lists a failed flow in the dead-letter inbox, and retrying it runs it to completion', async () => {
    failed = await failedReminder();
    stillFailed = await failedReminder();
    const { page } = operator;
    const row = page.locator('tr', { hasText: failed.reminderId });
    await reloadUntil(page, '/dead-letters', async () => (await row.count()) > 0);
    await expect(row.textContent()).resolves.toContain('Workflow failed');
    await expect(row.textContent()).resolves.toContain('The ledger refused to close the reminder');

    reminders.closeFails = false;
    await row.locator('summary', { hasText: 'Retry' }).click();
    await row.getByRole('button', { name: `Retry ${failed.reminderId}` }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain(`Retried ${failed.reminderId}`);
    await eventually(async () => {
      const { status } = await stack.client.workflow.getHandle(failed.workflowId).describe();
      return status.name === 'COMPLETED';
    });
    const audit = await stack.prisma.auditLog.findFirst({
      where: { tenantId: stack.tenant.id, action: 'dead-letter.retried' },
    });
    expect(audit?.actor).toBe('dev:operator');
  });

  it('pauses a flow type, so its API starts answer 423, and resumes it', async () => {
    const { page } = operator;
    await page.goto(url('/paused'));
    const row = page.locator('#flow-reminders');
    await row.getByLabel('Reason').fill('Supplier ledger migration');
    await row.getByRole('button', { name: /^Pause / }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain('is paused');
    await expect(row.textContent()).resolves.toContain('Supplier ledger migration');

    const refused = await createReminder();
    expect(refused.status).toBe(423);
    expect(refused.body.error.code).toBe('FLOW_PAUSED');
    await reloadUntil(page, '', async () =>
      ((await page.locator('#stats-reminders td[data-label="New starts"]').textContent()) ?? '').includes('Paused'),
    );

    await page.goto(url('/paused'));
    await row.getByRole('button', { name: /^Resume / }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain('is resumed');
    const accepted = await createReminder();
    expect(accepted.status).toBe(202);
  });

  it("pauses, unpauses and triggers the tenant's schedules", async () => {
    const created = await request(stack.app)
      .post('/api/v1/report-schedules')
      .set('Authorization', stack.tokens.admin)
      .set('Idempotency-Key', randomUUID())
      .send({
        type: 'order-volume',
        format: 'pdf',
        cron: '0 6 * * MON',
        timezone: 'UTC',
        notifyEmail: 'ops@example.test',
      });
    expect(created.status).toBe(201);
    const row = await stack.prisma.reportSchedule.findFirstOrThrow({ where: { tenantId: stack.tenant.id } });
    scheduleId = row.scheduleId;
    scheduleIds.push(scheduleId);

    const { page } = operator;
    await page.goto(url('/schedules'));
    const line = page.locator('tr', { hasText: scheduleId });
    await expect(line.textContent()).resolves.toContain('Active');
    await line.getByRole('button', { name: /^Pause/ }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain('is paused');
    await expect(line.textContent()).resolves.toContain('Paused');
    await line.getByRole('button', { name: /^Unpause/ }).click();
    await expect(line.textContent()).resolves.toContain('Active');
    await line.getByRole('button', { name: /^Run now/ }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain('runs now');
    // The triggered report has no worker for its steps here: it is stopped, so it does not linger in the inbox.
    const triggered = await eventually(
      async () => (await stack.client.schedule.getHandle(scheduleId).describe()).info.recentActions[0],
    );
    await stack.client.workflow.getHandle(triggered.action.workflow.workflowId).terminate('the test is done with it');
  });

  it("shows another tenant's operator none of this tenant's workflows, dead letters or schedules", async () => {
    const other = await signedIn(stack.tokens.otherAdmin);
    const { page } = other;
    const mine = [running.reminderId, failed.reminderId, stillFailed.reminderId];

    for (const path of ['', '/flows', '/flows?flow=reminders', '/dead-letters?resolved=yes', '/schedules', '/paused']) {
      await page.goto(url(path));
      const text = (await page.locator('main').textContent()) ?? '';
      for (const key of [...mine, scheduleId, stack.tenant.id, stack.tenant.name]) expect(text).not.toContain(key);
    }
    await page.goto(url('/'));
    expect(await page.locator('#stats-reminders td[data-label="Running"]').textContent()).toBe('0');

    // The same page, word for word, whether the workflow is another tenant's or does not exist.
    const theirs = await page.goto(url(`/workflows/${encodeURIComponent(running.workflowId)}`));
    const theirText = await theirs!.text();
    const missing = await page.goto(url(`/workflows/${encodeURIComponent(`reminder:${randomUUID()}`)}`));
    const missingText = await missing!.text();
    expect(theirs?.status()).toBe(404);
    expect(missing?.status()).toBe(404);
    expect(theirText).toBe(missingText);
  });

  it('shows a member no action buttons, and refuses a forged POST from a member', async () => {
    member = await signedIn(stack.tokens.member);
    const { page } = member;
    for (const path of [
      '',
      '/flows',
      `/workflows/${encodeURIComponent(running.workflowId)}`,
      '/dead-letters',
      '/schedules',
      '/paused',
    ]) {
      await page.goto(url(path));
      // The one form a member posts is signing out.
      const forms = await page.locator('form[method="post"]').all();
      const actions = await Promise.all(forms.map((form) => form.getAttribute('action')));
      expect(actions).toEqual(['/console/sign-out']);
    }

    const csrf = await page.locator('form[action="/console/sign-out"] input[name="csrf"]').inputValue();
    const forged = await page.request.post(url('/flows/reminders/pause'), {
      form: { csrf, reason: 'a member tries' },
      maxRedirects: 0,
    });
    expect(forged.status()).toBe(403);
    expect(await forged.text()).toContain('This needs the operator role or above');
    expect(await stack.prisma.flowPause.count({ where: { tenantId: stack.tenant.id } })).toBe(0);
  });

  it("refuses a POST without the session's own CSRF token", async () => {
    const { page } = operator;
    const missing = await page.request.post(url('/flows/reminders/pause'), { form: { reason: 'x' }, maxRedirects: 0 });
    expect(missing.status()).toBe(403);
    await member.page.goto(url(''));
    const othersCsrf = await member.page.locator('input[name="csrf"]').first().inputValue();
    const foreign = await page.request.post(url('/flows/reminders/pause'), {
      form: { csrf: othersCsrf, reason: 'x' },
      maxRedirects: 0,
    });
    expect(foreign.status()).toBe(403);
    expect(await foreign.text()).toContain('did not come from your console session');
    expect(await stack.prisma.flowPause.count({ where: { tenantId: stack.tenant.id } })).toBe(0);
  });

  it('counts console actions towards the tenant’s write limit, as its API writes are', async () => {
    const limited = await serve(stack.appWith({}, { RATE_LIMIT_TENANT_WRITES_PER_MINUTE: '2' }));
    try {
      const page = await (await newContext()).newPage();
      await page.goto(`${limited.baseUrl}/console/sign-in`);
      await page.getByRole('textbox', { name: 'Token' }).fill(bare(stack.tokens.operator));
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.waitForURL(`${limited.baseUrl}/console`);
      const csrf = await page.locator('form[action="/console/sign-out"] input[name="csrf"]').inputValue();

      const statuses: number[] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        const answer = await page.request.post(`${limited.baseUrl}/console/flows/no-such-flow/resume`, {
          form: { csrf },
          maxRedirects: 0,
        });
        statuses.push(answer.status());
        if (answer.status() === 429) expect(await answer.text()).toContain('Too many requests');
      }

      expect(statuses.slice(0, 2)).not.toContain(429);
      expect(statuses[2]).toBe(429);
    } finally {
      await limited.close();
    }
  });

  it('links the Temporal Web UI only when CONSOLE_WEB_UI_LINKS allows it', async () => {
    const unlinked = await serve(stack.appWith({}, { CONSOLE_WEB_UI_LINKS: 'false' }));
    try {
      const page = await (await newContext()).newPage();
      await page.goto(`${unlinked.baseUrl}/console/sign-in`);
      await page.getByRole('textbox', { name: 'Token' }).fill(bare(stack.tokens.operator));
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.waitForURL(`${unlinked.baseUrl}/console`);

      for (const path of ['', '/flows', `/workflows/${encodeURIComponent(running.workflowId)}`, '/dead-letters']) {
        await page.goto(`${unlinked.baseUrl}/console${path}`);
        expect({ path, links: await page.getByRole('link', { name: /Web UI/ }).count() }).toEqual({ path, links: 0 });
      }
      // The stack's own console (APP_ENV=test) links it.
      await operator.page.goto(url(`/workflows/${encodeURIComponent(running.workflowId)}`));
      expect(await operator.page.getByRole('link', { name: 'Open this run in the Web UI' }).count()).toBe(1);
    } finally {
      await unlinked.close();
    }
  });

  it('writes IDs into links and form actions as path segments, spaces as %20 and slashes escaped', async () => {
    const templates = createTemplates();

    await expect(templates.parseAndRender('{{ id | path_segment }}', { id: 'nightly report/1+2' })).resolves.toBe(
      'nightly%20report%2F1%2B2',
    );
  });

  it("signs a platform admin in for the Web UI only: the codec cookie, one page saying until when, none of a tenant's pages", async () => {
    const { context, page } = await signedIn(stack.tokens.platformAdmin);
    await page.getByRole('heading', { name: 'Signed in for the Temporal Web UI' }).waitFor();
    const { exp } = decodeJwt(bare(stack.tokens.platformAdmin));
    await expect(page.locator('main').textContent()).resolves.toContain(
      `In this browser the Web UI decrypts every tenant's payloads until ${formatInstant(new Date(exp! * 1000))}.`,
    );
    // No tenant to name, and none of the tenant pages to navigate to.
    await expect(page.locator('body > header').textContent()).resolves.not.toContain('Tenant');
    expect(await page.getByRole('link', { name: 'Flows' }).count()).toBe(0);
    const codecCookie = (await context.cookies()).find((cookie) => cookie.name === 'holdfast_codec')!;
    expect(codecCookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/codec' });
    // It ends with the token. Chromium counts an Expires from the response's Date header (whole seconds) to
    // its own clock at arrival, so it keeps the cookie up to a second or so, plus the response's travel, beyond.
    expect(codecCookie.expires).toBeGreaterThanOrEqual(exp!);
    expect(codecCookie.expires).toBeLessThan(exp! + 5);
    // The codec server takes the cookie as the platform admin's, and encodes under the platform's key.
    const encoded = await request(stack.app)
      .post('/codec/encode')
      .set('Cookie', `holdfast_codec=${codecCookie.value}`)
      .send({ payloads: [{ metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: '' }] });
    expect(encoded.status).toBe(200);
    const scope = (encoded.body as { payloads: Array<{ metadata: Record<string, string> }> }).payloads[0]!.metadata[
      'encryption-scope'
    ]!;
    expect(Buffer.from(scope, 'base64').toString()).toBe('platform');

    // A tenant page sends it back to its own page; an action, even with the session's CSRF token, is refused.
    await page.goto(url('/flows'));
    expect(page.url()).toBe(url(''));
    const csrf = await page.locator('form[action="/console/sign-out"] input[name="csrf"]').inputValue();
    const forged = await page.request.post(url('/flows/reminders/pause'), { form: { csrf }, maxRedirects: 0 });
    expect(forged.status()).toBe(403);
    expect(await forged.text()).toContain('The console’s pages show one tenant at a time');
    expect(await stack.prisma.flowPause.count({ where: { tenantId: 'platform' } })).toBe(0);

    await page.goto(url(''));
    await page.getByRole('button', { name: 'Sign out' }).click();
    expect(page.url()).toBe(url('/sign-in'));
    const left = (await context.cookies()).map((cookie) => cookie.name);
    expect(left).not.toContain('holdfast_codec');
    expect(left).not.toContain('holdfast_console');
  });

  it('passes axe on every page at desktop and phone sizes, never scrolls sideways on a phone, and keeps screenshots', async () => {
    const { context } = operator;
    const anonymous = await newContext();
    const platformAdmin = await signedIn(stack.tokens.platformAdmin);
    const pages: Array<[string, string, BrowserContext]> = [
      ['sign-in', '/sign-in', anonymous],
      ['web-ui-session', '', platformAdmin.context],
      ['overview', '', context],
      ['flows', '/flows', context],
      ['workflow', `/workflows/${encodeURIComponent(running.workflowId)}`, context],
      ['dead-letters', '/dead-letters', context],
      ['schedules', '/schedules', context],
      ['paused', '/paused', context],
      ['not-found', '/workflows/no-such-workflow', context],
    ];
    const problems: Array<{ page: string; size: string; violations: AxeViolation[]; overflowsBy?: number }> = [];
    for (const [name, path, from] of pages) {
      await screenshotBothSizes(browser, from, url(path), name);
      for (const size of ['desktop', 'phone'] as const) {
        const { violations, scrollWidth } = await checkPage(browser, from, url(path), size);
        const overflowsBy = scrollWidth - viewports[size].width;
        // A phone's page must fit its width: tables become stacked cards instead of scrolling sideways.
        if (violations.length > 0 || (size === 'phone' && overflowsBy > 0)) {
          problems.push({ page: name, size, violations, ...(overflowsBy > 0 ? { overflowsBy } : {}) });
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('discards a dead letter with a reason, and signing out ends the session', async () => {
    const { page } = operator;
    await page.goto(url('/dead-letters'));
    const row = page.locator('tr', { hasText: stillFailed.reminderId });
    await row.locator('summary', { hasText: 'Discard' }).click();
    await row.getByRole('textbox', { name: 'Reason', exact: true }).fill('The settlement was closed by hand');
    await row.getByRole('button', { name: `Discard ${stillFailed.reminderId}` }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain(`Discarded ${stillFailed.reminderId}`);
    await page.goto(url('/dead-letters?resolved=yes'));
    await expect(page.locator('tr', { hasText: stillFailed.reminderId }).textContent()).resolves.toContain(
      'The settlement was closed by hand',
    );

    await page.getByRole('button', { name: 'Sign out' }).click();
    expect(page.url()).toBe(url('/sign-in'));
    await page.goto(url('/dead-letters'));
    expect(page.url()).toBe(url('/sign-in'));
  });

  it('offers a development sign-in that mints a token, only in development', async () => {
    const anonymous = await newContext();
    const page = await anonymous.newPage();
    await page.goto(url('/sign-in'));
    expect(await page.getByRole('heading', { name: 'Development sign-in' }).count()).toBe(0);
    const refused = await page.request.post(url('/dev-sign-in'), {
      form: { tenant: stack.tenant.slug, role: 'operator' },
      maxRedirects: 0,
    });
    expect(refused.status()).toBe(401);

    const development = await serve(stack.appWith({}, { APP_ENV: 'development' }));
    try {
      await page.goto(`${development.baseUrl}/console/sign-in`);
      await page.getByLabel('Tenant slug or ID').fill(stack.tenant.slug);
      await page.getByLabel('Role').selectOption('member');
      await page.getByRole('button', { name: 'Sign in for development' }).click();
      await page.waitForURL(`${development.baseUrl}/console`);
      const header = (await page.locator('body > header').textContent()) ?? '';
      expect(header).toContain(stack.tenant.name);
      expect(header).toContain('(member)');

      const platform = await (await newContext()).newPage();
      await platform.goto(`${development.baseUrl}/console/sign-in`);
      await platform.getByRole('button', { name: 'Sign in as a platform admin, for the Temporal Web UI' }).click();
      await platform.waitForURL(`${development.baseUrl}/console`);
      await platform.getByRole('heading', { name: 'Signed in for the Temporal Web UI' }).waitFor();
      expect((await platform.context().cookies()).map((cookie) => cookie.name)).toContain('holdfast_codec');
    } finally {
      await development.close();
    }
  });

  it('ends a session once its tenant is suspended, saying why', async () => {
    const tenantId = `t-${randomUUID()}`;
    await stack.prisma.tenant.create({ data: { id: tenantId, slug: tenantId, name: 'Soon suspended' } });
    const { page } = await signedIn(await stack.bearer(tenantId, 'operator'));
    await stack.prisma.tenant.update({ where: { id: tenantId }, data: { status: 'SUSPENDED' } });

    // Each API process trusts an ACTIVE answer for a few seconds (TENANT_STATUS_TTL_MS), as the API does.
    await reloadUntil(page, '/flows', async () => page.url() === url('/sign-in'));
    await expect(page.getByRole('alert').first().textContent()).resolves.toContain('The tenant is SUSPENDED');
  });
});
