import fs from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import request from 'supertest';
import { webUiLinks } from '../../api/services/operations/temporal-records';
import { freePort } from '../../scripts/stack/ports';
import { readTemporalBinaries } from '../../scripts/stack/temporal-binaries';
import { startTemporalDevServer, type TemporalDevServerHandle } from '../../scripts/stack/temporal-dev-server';
import { BusinessKeyKey, FlowStatusKey } from '../../workflows/search-attributes';
import { waitlistCascadeId } from '../../workflows/waitlist-cascade.contract';
import { useApiStack } from '../support/api-stack';
import { launchChromium, serve, type ServedApp } from '../support/browser';
import { eventually } from '../support/eventually';

/**
 * The Temporal Web UI as a platform operator uses it, in a real browser: a Temporal dev server with
 * its UI (this file's own, in memory, with the codec endpoint set as `npm run dev` sets it), the API
 * serving the console and the codec server on loopback, and a worker running a real waitlist
 * cascade. Payloads reach the UI encrypted; only a browser signed in at the console, with the UI's
 * "include cross-origin credentials" on, sees them decrypted: a tenant's operator its tenant's, a
 * platform admin every tenant's (docs/web-ui.md).
 */

const ARTIFACTS_DIR = path.join(__dirname, '..', '..', 'test-artifacts', 'web-ui');
const WEB_UI_DOC = path.join(__dirname, '..', '..', 'docs', 'web-ui.md');
/** Wide enough for the workflow list to show Holdfast's columns without scrolling sideways. */
const WEB_UI_VIEWPORT = { width: 1920, height: 1080 };

/** The candidates who join the waitlist: their names and emails must show only through the codec server. */
const candidates = [
  { customerName: 'Imogen Castellanos', email: 'imogen.castellanos@example.test' },
  { customerName: 'Tobias Wainwright', email: 'tobias.wainwright@example.test' },
];

/** The summary the cascade starts with (workflows/summaries.ts): no name, a time and a count. */
const SUMMARY = 'Waitlist for slot Tue 8 Dec 14:30 UTC — 2 waiting';

/** The other tenant's waitlist, for the platform admin who looks across tenants. */
const otherCandidates = [{ customerName: 'Perpetua Okonkwo-Lindqvist', email: 'perpetua.okonkwo@example.test' }];
const OTHER_SUMMARY = 'Waitlist for slot Wed 9 Dec 09:00 UTC — 1 waiting';

/** docs/web-ui.md's one-step browser settings, as a reader pastes them, pointed at `codecEndpoint`. */
function browserSettingsSnippet(codecEndpoint: string): string {
  const doc = fs.readFileSync(WEB_UI_DOC, 'utf8');
  const block = /```js\n(const codecEndpoint = '[^']*';\n[\s\S]*?)```/.exec(doc)?.[1];
  if (!block) throw new Error('docs/web-ui.md has no browser-settings snippet starting with `const codecEndpoint`');
  return block.replace(/^const codecEndpoint = '[^']*';/, `const codecEndpoint = ${JSON.stringify(codecEndpoint)};`);
}

describe('the Temporal Web UI (browser)', () => {
  let temporal: TemporalDevServerHandle | undefined;
  let apiPort: number;
  const stack = useApiStack({
    worker: true,
    mail: 'memory',
    terminateOnStop: true,
    // The dev server takes its codec endpoint at start, so the API's port is chosen before either starts.
    config: async () => {
      const { cliPath } = readTemporalBinaries();
      if (!cliPath) throw new Error('No Temporal CLI is provisioned: run `npm run temporal:provision`.');
      apiPort = await freePort();
      const apiUrl = `http://127.0.0.1:${apiPort}`;
      temporal = await startTemporalDevServer({
        cliPath,
        port: await freePort(),
        uiPort: await freePort(),
        uiCodecEndpoint: `${apiUrl}/codec`,
        logFile: path.join(ARTIFACTS_DIR, 'temporal.log'),
      });
      return { TEMPORAL_ADDRESS: temporal.address, TEMPORAL_UI_URL: temporal.uiUrl!, PUBLIC_BASE_URL: apiUrl };
    },
    stop: async () => {
      await temporal?.stop();
    },
  });
  let browser: Browser;
  let served: ServedApp;
  const contexts: BrowserContext[] = [];
  let slotId: string;
  let workflowId: string;

  /**
   * A slot of the tenant `tokens` belong to, with `waiting` on its waitlist, released: its cascade
   * runs until the first candidate's offer is out (its name is then in the cascade's state and history).
   */
  async function releasedWaitlist(
    tokens: { member: string; operator: string },
    tenantId: string,
    startsAt: string,
    waiting: readonly { customerName: string; email: string }[],
  ): Promise<{ slotId: string; workflowId: string }> {
    const slot = await request(stack.app)
      .post('/api/v1/slots')
      .set('Authorization', tokens.member)
      .send({ name: 'Dr. Lee', startsAt, holdMinutes: 30 });
    expect(slot.status).toBe(201);
    const id = slot.body.id as string;
    for (const candidate of waiting) {
      const joined = await request(stack.app)
        .post(`/api/v1/slots/${id}/waitlist`)
        .set('Authorization', tokens.member)
        .send(candidate);
      expect(joined.status).toBe(201);
    }
    const released = await request(stack.app).post(`/api/v1/slots/${id}/release`).set('Authorization', tokens.operator);
    expect(released.status).toBe(202);
    await eventually(() => stack.mails.find((mail) => mail.to === waiting[0]!.email));
    return { slotId: id, workflowId: waitlistCascadeId(tenantId, id) };
  }

  const ui = () => webUiLinks(stack.config.temporal.uiUrl, stack.config.temporal.namespace);
  const bare = (header: string) => header.replace(/^Bearer /, '');

  beforeAll(async () => {
    fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
    browser = await launchChromium();
    served = await serve(stack.app, apiPort);

    ({ slotId, workflowId } = await releasedWaitlist(
      stack.tokens,
      stack.tenant.id,
      '2026-12-08T14:30:00Z',
      candidates,
    ));
  });

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await served?.close();
  });

  /** Each page's codec requests still unanswered, and how many it sent. */
  const codecCalls = new WeakMap<Page, { pending: Set<Request>; sent: number }>();

  /** A fresh browser profile: no cookies, no Web UI settings. */
  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: WEB_UI_VIEWPORT });
    contexts.push(context);
    const page = await context.newPage();
    const calls = { pending: new Set<Request>(), sent: 0 };
    codecCalls.set(page, calls);
    const isCodecCall = (call: Request) => new URL(call.url()).pathname === '/codec/decode' && call.method() === 'POST';
    page.on('request', (call) => {
      if (!isCodecCall(call)) return;
      calls.pending.add(call);
      calls.sent++;
    });
    page.on('requestfinished', (call) => calls.pending.delete(call));
    page.on('requestfailed', (call) => calls.pending.delete(call));
    return page;
  }

  /**
   * A browser signed in at the console with `authorization`'s token, which sets the codec cookie: a
   * tenant's token lands on the console's overview, a platform admin's on its Web UI page.
   */
  async function signedIn(authorization: string): Promise<Page> {
    const page = await newPage();
    await page.goto(`${served.baseUrl}/console/sign-in`);
    await page.getByRole('textbox', { name: 'Token' }).fill(bare(authorization));
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${served.baseUrl}/console`);
    return page;
  }

  /** docs/web-ui.md's dev steps: the codec icon, "Use my browser setting", the endpoint, credentials on. */
  async function turnOnCodecCredentials(page: Page): Promise<void> {
    await page.getByTestId(/^data-encoder-status/).click();
    await page.getByText('Use my browser setting and ignore Cluster-level setting.').click();
    await page.getByLabel('Codec Server browser endpoint').fill(`${served.baseUrl}/codec`);
    await page.getByText('Include cross-origin credentials').click();
    await page.getByRole('button', { name: 'Apply' }).click();
  }

  const screenshot = (page: Page, name: string) =>
    page.screenshot({ path: path.join(ARTIFACTS_DIR, `${name}.png`), fullPage: true });

  /**
   * Opens the workflow's page and answers its Input card's text once `settled` accepts it: the card
   * shows the raw payload first, then what the codec server answered (or the ciphertext, when it refused).
   */
  async function workflowInput(
    page: Page,
    settled: (text: string) => boolean,
    ofWorkflow: string = workflowId,
  ): Promise<string> {
    const calls = codecCalls.get(page)!;
    calls.sent = 0;
    await page.goto(ui().workflow(ofWorkflow));
    const input = page.getByTestId('input-and-result').getByRole('textbox', { name: 'Input', exact: true });
    // Settled once the codec server answered every payload the page asked about, not just the first.
    return eventually(async () => {
      const text = (await input.textContent()) ?? '';
      return calls.sent > 0 && calls.pending.size === 0 && settled(text) && text;
    });
  }

  /** The ciphertext of a payload the codec server did not decrypt, as the UI shows it: a base64 string. */
  const isCiphertext = (text: string) => /^"[A-Za-z0-9+/=]{40,}"$/.test(text);
  const isInputOfSlot = (slot: string) => (text: string) => text.includes(`"slotId": "${slot}"`);
  const isCascadeInput = (text: string) => isInputOfSlot(slotId)(text);

  /** Holdfast's columns in the workflow list's row of `ofWorkflow`, by their headers. */
  async function listedColumns(page: Page, ofWorkflow: string) {
    const row = page.getByRole('row').filter({ hasText: ofWorkflow });
    await row.waitFor();
    const headers = (await page.getByRole('columnheader').allTextContents()).map((header) => header.trim());
    const cells = (await row.getByRole('cell').allTextContents()).map((cell) => cell.trim());
    const column = (label: string) => cells[headers.indexOf(label)];
    return { FlowStatus: column('FlowStatus'), BusinessKey: column('BusinessKey'), TenantId: column('TenantId') };
  }

  /** The state query's answer, as the Queries tab shows it after "Run Query". */
  async function runStateQuery(page: Page): Promise<string> {
    await page.getByRole('tab', { name: 'Queries' }).click();
    await page.getByRole('button', { name: 'Run Query' }).click();
    const answer = page.getByRole('textbox').filter({ hasText: /\S/ }).last();
    await answer.waitFor();
    return (await answer.textContent()) ?? '';
  }

  it("lists the tenant's cascade when the list is filtered by TenantId", async () => {
    const page = await newPage();
    await page.goto(ui().list(`TenantId="${stack.tenant.id}"`));

    const row = page.getByRole('row').filter({ hasText: workflowId });
    await row.waitFor();
    const text = (await row.textContent()) ?? '';
    expect(text).toContain('Running');
    expect(text).toContain('waitlistCascadeWorkflow');
    await screenshot(page, 'list-by-tenant');
  });

  it('shows the cascade encrypted to a browser without a console session: input, summary and queries', async () => {
    const page = await newPage();
    await workflowInput(page, isCiphertext);

    await page.getByTestId('data-encoder-status-error').waitFor();
    await screenshot(page, 'workflow-encrypted');

    await page.getByRole('tab', { name: 'User Metadata' }).click();
    await page.getByText('No summary available').waitFor();
    await screenshot(page, 'user-metadata-encrypted');
    // The flow's query definitions come back encrypted too, so the tab has no query to offer.
    await page.getByRole('tab', { name: 'Queries' }).click();
    await page.getByText('This will fail if you have no workers running.').waitFor();
    await expect(page.getByRole('button', { name: 'Run Query' }).count()).resolves.toBe(0);
    const body = (await page.locator('body').textContent()) ?? '';
    for (const candidate of candidates) {
      expect(body).not.toContain(candidate.customerName);
      expect(body).not.toContain(candidate.email);
    }
  });

  it("decrypts the cascade for its tenant's signed-in operator with cross-origin credentials on", async () => {
    const page = await signedIn(stack.tokens.operator);
    await page.goto(ui().workflow(workflowId));
    await turnOnCodecCredentials(page);
    const input = await workflowInput(page, isCascadeInput);

    expect(JSON.parse(input)).toEqual({ tenantId: stack.tenant.id, slotId });
    await expect(page.getByTestId('data-encoder-status-success').count()).resolves.toBe(1);
    await screenshot(page, 'workflow-decrypted');

    await page.getByRole('tab', { name: 'User Metadata' }).click();
    // The UI renders user metadata as markdown, each in a frame of its own.
    await page.frameLocator('#user-metadata-summary').getByText(SUMMARY).waitFor();
    await page
      .frameLocator('#user-metadata-current-details')
      .getByText(/offered to candidate 1 until \d\d:\d\d UTC/)
      .waitFor();
    await screenshot(page, 'user-metadata-decrypted');

    const answer = await runStateQuery(page);
    expect(answer).toContain(candidates[0]!.customerName);
    expect(answer).toContain('"status": "OFFERING"');
    await screenshot(page, 'queries-decrypted');
  });

  it("keeps a tenant's cascade encrypted for another tenant's signed-in admin", async () => {
    const page = await signedIn(stack.tokens.otherAdmin);
    await page.goto(ui().workflow(workflowId));
    await turnOnCodecCredentials(page);
    await workflowInput(page, isCiphertext);
    // The codec server answered (it did not refuse the session): it handed the other tenant's payloads back as they were.
    await page.getByTestId('data-encoder-status-success').waitFor();

    await page.getByRole('tab', { name: 'User Metadata' }).click();
    await page.getByText('No summary available').waitFor();
  });

  it("saves the documented view, shows Holdfast's columns, and decrypts with the documented snippet", async () => {
    const page = await signedIn(stack.tokens.operator);
    await page.goto(ui().list(''));
    await page.evaluate(browserSettingsSnippet(`${served.baseUrl}/codec`));
    const viewName = `Holdfast: ${stack.tenant.slug}`;

    await page.goto(`${ui().list(`TenantId="${stack.tenant.id}"`)}&savedQuery=${encodeURIComponent(viewName)}`);

    const { typedSearchAttributes } = await stack.client.workflow.getHandle(workflowId).describe();
    await expect(listedColumns(page, workflowId)).resolves.toEqual({
      FlowStatus: typedSearchAttributes.get(FlowStatusKey),
      BusinessKey: typedSearchAttributes.get(BusinessKeyKey),
      TenantId: stack.tenant.id,
    });
    await page.getByText(viewName).first().waitFor();
    await screenshot(page, 'list-holdfast-view');

    expect(JSON.parse(await workflowInput(page, isCascadeInput))).toEqual({ tenantId: stack.tenant.id, slotId });
  });

  it("decrypts every tenant's flows, summaries and state for a platform admin signed in at the console, until sign-out", async () => {
    const other = await releasedWaitlist(
      { member: stack.tokens.otherMember, operator: stack.tokens.otherAdmin },
      stack.otherTenant.id,
      '2026-12-09T09:00:00Z',
      otherCandidates,
    );
    const flows = [
      { tenantId: stack.tenant.id, slotId, workflowId, summary: SUMMARY, waiting: candidates },
      { tenantId: stack.otherTenant.id, ...other, summary: OTHER_SUMMARY, waiting: otherCandidates },
    ];

    // The console has no tenant pages for a platform admin: it signs the browser in for the Web UI.
    const page = await signedIn(stack.tokens.platformAdmin);
    await expect(page.locator('main').textContent()).resolves.toContain(
      "In this browser the Web UI decrypts every tenant's payloads until",
    );
    await screenshot(page, 'console-platform-admin');

    await page.goto(ui().list(''));
    await page.evaluate(browserSettingsSnippet(`${served.baseUrl}/codec`));
    await page.goto(ui().list(`TenantId IN (${flows.map((flow) => JSON.stringify(flow.tenantId)).join(', ')})`));
    // This UI version's list shows search attributes, not summaries: the business state tells the flows apart.
    for (const flow of flows) {
      await expect(listedColumns(page, flow.workflowId)).resolves.toEqual({
        FlowStatus: 'OFFERING',
        BusinessKey: flow.slotId,
        TenantId: flow.tenantId,
      });
    }
    await screenshot(page, 'list-platform-admin');

    for (const [index, flow] of flows.entries()) {
      const input = await workflowInput(page, isInputOfSlot(flow.slotId), flow.workflowId);
      expect(JSON.parse(input)).toEqual({ tenantId: flow.tenantId, slotId: flow.slotId });
      await screenshot(page, `workflow-platform-admin-${index + 1}`);

      await page.getByRole('tab', { name: 'User Metadata' }).click();
      await page.frameLocator('#user-metadata-summary').getByText(flow.summary).waitFor();
      await screenshot(page, `user-metadata-platform-admin-${index + 1}`);

      const answer = await runStateQuery(page);
      expect(answer).toContain(flow.waiting[0]!.customerName);
    }

    // Signing out clears the codec cookie: the next page the Web UI loads is ciphertext again.
    await page.goto(`${served.baseUrl}/console`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${served.baseUrl}/console/sign-in`);
    expect((await page.context().cookies()).map((cookie) => cookie.name)).not.toContain('holdfast_codec');
    await workflowInput(page, isCiphertext, other.workflowId);
    await page.getByTestId('data-encoder-status-error').waitFor();
    const body = (await page.locator('body').textContent()) ?? '';
    expect(body).not.toContain(otherCandidates[0]!.customerName);
  });
});
