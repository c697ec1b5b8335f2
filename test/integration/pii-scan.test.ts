import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type { PayloadCodec } from '@temporalio/common';
import { startBillingSandbox, type BillingSandboxHandle } from '../../scripts/stack/billing-sandbox';
import { ENCRYPTED_ENCODING } from '../../lib/data-converter';
import { signDevToken } from '../../lib/dev-token';
import { orderRoutingId } from '../../workflows/order-routing.contract';
import { waitlistCascadeId } from '../../workflows/waitlist-cascade.contract';
import { tenantOnboardingId } from '../../workflows/tenant-onboarding.contract';
import { useApiStack } from '../support/api-stack';
import { eventually } from '../support/eventually';
import {
  decodedTexts,
  encodingOf,
  fetchRawSchedule,
  fetchRawWorkflow,
  listTenantWorkflows,
  payloadsIn,
  searchableTexts,
  temporalCli,
  valuesFoundIn,
  type RawSchedule,
  type RawWorkflow,
} from '../support/pii';

/**
 * The people every flow below is run with. Each value is distinctive enough that finding it in a
 * history can only mean it leaked there.
 */
const people = {
  candidates: [
    { customerName: 'Zebulon Quackenbush', email: 'zeb.q+pii@example.test', phone: '+15550100777' },
    { customerName: 'Philippa Thornbury', email: 'philippa.t+pii@example.test', phone: '+15550100778' },
    { customerName: 'Octavius Brindlecombe', email: 'octavius.b+pii@example.test', phone: '+15550100779' },
  ],
  admin: { name: 'Ophelia Wintersmoor', email: 'ophelia.w+pii@example.test' },
  organizationName: 'Wintersmoor Dental Partners',
  retailer: { name: 'Marigold Fennimore Grocers', phone: '+15550100781' },
  vendor: { name: 'Barnaby Wolstenholme Wholesale', email: 'barnaby.w+pii@example.test' },
  customer: { name: 'Cordelia Applethwaite', email: 'cordelia.a+pii@example.test', phone: '+15550100783' },
  notified: { name: 'Ignatius Featherstonhaugh', email: 'ignatius.f+pii@example.test', phone: '+15550100784' },
  reminded: { name: 'Perpetua Ravenscroft', email: 'perpetua.r+pii@example.test' },
  reportReader: { email: 'report.reader+pii@example.test' },
  operator: { email: 'ottoline.o+pii@example.test' },
  /** Named in the note of a report schedule's pause. */
  absentee: { name: 'Wilhelmina Postlethwaite' },
};

/** Every name, e-mail address and phone number above. */
const personalValues = [
  ...people.candidates.flatMap((candidate) => [candidate.customerName, candidate.email, candidate.phone]),
  people.admin.name,
  people.admin.email,
  people.organizationName,
  people.retailer.name,
  people.retailer.phone,
  people.vendor.name,
  people.vendor.email,
  people.customer.name,
  people.customer.email,
  people.customer.phone,
  people.notified.name,
  people.notified.email,
  people.notified.phone,
  people.reminded.name,
  people.reminded.email,
  people.reportReader.email,
  people.operator.email,
  people.absentee.name,
];

/** A tenant's webhook receiver on loopback: answers 204 and keeps what it received. */
async function startReceiver() {
  const received: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push(body);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    received,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/customers`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Issue [10/11]: no personal data where it cannot be encrypted. Every flow runs on the real stack
 * (dev server, PostgreSQL, worker, SMTP catcher, SMS sink, billing sandbox, a webhook receiver)
 * with the people above; then each workflow of the tenants is read as an operator without the
 * codec would read it, with the `temporal` CLI (`workflow list`, `show -o json`, `describe -o json`),
 * and searched for every name, address and number, in plain text and inside every base64 string.
 */
describe('no personal data in raw histories, Schedules, workflow IDs, search attributes, memos or user metadata', () => {
  const filesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'holdfast-pii-'));
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let billing: BillingSandboxHandle;
  const stack = useApiStack({
    worker: true,
    mail: 'smtp',
    sms: true,
    terminateOnStop: true,
    config: async () => {
      [receiver, billing] = await Promise.all([
        startReceiver(),
        startBillingSandbox({ apiKey: 'sk_test_pii_scan_0123456789' }),
      ]);
      return {
        FILE_STORE_DIR: filesDir,
        BILLING_API_URL: billing.url,
        BILLING_API_KEY: 'sk_test_pii_scan_0123456789',
      };
    },
    stop: async () => {
      await Promise.all([receiver.stop(), billing.stop()]);
      fs.rmSync(filesDir, { recursive: true, force: true });
    },
  });

  const api = () => request(stack.app);
  const operator = () => stack.tokens.operator;
  const admin = () => stack.tokens.admin;

  const linkIn = async (to: string, includes: string): Promise<URL> => {
    const message = await eventually(() =>
      stack.outbox(to).find((m) => m.links.some((link) => link.includes(includes))),
    );
    return new URL(message.links.find((link) => link.includes(includes))!);
  };
  const respondToOffer = async (to: string, decision: 'accept' | 'decline') => {
    const link = await linkIn(to, `decision=${decision}`);
    const token = link.searchParams.get('token')!;
    const answer = await api().post(link.pathname).send({ token, decision });
    expect(answer.status).toBe(200);
  };

  /** The tenants whose workflows are scanned, and the workflows each flow must have left. */
  const tenantIds: string[] = [];
  const expectedWorkflowIds: string[] = [];
  /** The Temporal Schedules whose descriptions are scanned too. */
  const scheduleIds: string[] = [];

  async function runWaitlist() {
    const slot = await api()
      .post('/api/v1/slots')
      .set('Authorization', operator())
      .send({ name: 'Table 4, Friday 19:00', holdMinutes: 30 });
    expect(slot.status).toBe(201);
    const slotId = slot.body.id as string;
    for (const [index, candidate] of people.candidates.entries()) {
      const joined = await api()
        .post(`/api/v1/slots/${slotId}/waitlist`)
        .set('Authorization', operator())
        .send({ ...candidate, priority: 10 - index });
      expect(joined.status).toBe(201);
    }
    const workflowId = waitlistCascadeId(stack.tenant.id, slotId);
    expect((await api().post(`/api/v1/slots/${slotId}/release`).set('Authorization', operator())).status).toBe(202);

    // The first declines, the second lets the hold run out (expired now by an operator), the third accepts.
    await respondToOffer(people.candidates[0]!.email, 'decline');
    await linkIn(people.candidates[1]!.email, 'decision=accept');
    const expired = await api()
      .post(`/api/v1/workflows/${encodeURIComponent(workflowId)}/actions/expire-hold`)
      .set('Authorization', operator());
    expect(expired.status).toBe(200);
    await respondToOffer(people.candidates[2]!.email, 'accept');

    expect(await stack.client.workflow.getHandle(workflowId).result()).toMatchObject({ outcome: 'confirmed' });
    expectedWorkflowIds.push(workflowId);
  }

  async function runOnboarding() {
    const slug = `pii-${randomUUID().slice(0, 8)}`;
    const started = await api().post('/api/v1/tenants').set('Authorization', stack.tokens.platformAdmin).send({
      organizationName: people.organizationName,
      slug,
      adminEmail: people.admin.email,
      adminName: people.admin.name,
      tier: 'professional',
    });
    expect(started.status).toBe(202);
    expect(started.body.workflowId).toBe(tenantOnboardingId(slug));
    const result = await stack.client.workflow.getHandle(started.body.workflowId as string).result();
    expect(result).toMatchObject({ status: 'ACTIVE' });
    const link = await linkIn(people.admin.email, 'token=');
    const accepted = await api()
      .post('/api/v1/invitations/accept')
      .send({ token: link.searchParams.get('token') });
    expect(accepted.status).toBe(200);
    tenantIds.push(started.body.tenantId as string);
    expectedWorkflowIds.push(started.body.workflowId as string);
  }

  async function runOrders() {
    const region = `region-${randomUUID().slice(0, 8)}`;
    const retailer = await api()
      .post('/api/v1/retailers')
      .set('Authorization', admin())
      .send({ name: people.retailer.name, channel: 'SMS', contact: people.retailer.phone, creditLimit: 1_000_000 });
    const vendor = await api()
      .post('/api/v1/vendors')
      .set('Authorization', admin())
      .send({
        name: people.vendor.name,
        region,
        categories: ['grocery'],
        capacity: 5,
        rating: 4.5,
        channel: 'EMAIL',
        contact: people.vendor.email,
      });
    expect([retailer.status, vendor.status]).toEqual([201, 201]);
    const place = (clientOrderRef: string) =>
      api()
        .post('/api/v1/orders')
        .set('Authorization', operator())
        .set('Idempotency-Key', randomUUID())
        .send({
          retailerId: retailer.body.id,
          deliveryRegion: region,
          clientOrderRef,
          items: [
            {
              sku: 'RICE-5',
              name: `Rice for ${people.customer.name}`,
              category: 'grocery',
              quantity: 2,
              unitPrice: 1250,
            },
          ],
        });

    // The first order is accepted, dispatched, delivered, reminded of and paid.
    const delivered = await place('PO-1001');
    expect(delivered.status).toBe(202);
    const deliveredId = delivered.body.orderId as string;
    const offer = await linkIn(people.vendor.email, 'decision=accept');
    const vendorToken = offer.searchParams.get('token')!;
    expect((await api().post(offer.pathname).send({ token: vendorToken, decision: 'accept' })).status).toBe(200);
    const dispatched = await api()
      .post('/api/v1/vendor/orders/status')
      .send({ token: vendorToken, status: 'DISPATCHED' });
    expect(dispatched.status).toBe(202);
    await eventually(
      async () => (await stack.prisma.order.findUniqueOrThrow({ where: { id: deliveredId } })).dispatchedAt,
    );
    const deliveredNow = await api()
      .post(`/api/v1/orders/${deliveredId}/status`)
      .set('Authorization', operator())
      .send({ status: 'DELIVERED' });
    expect(deliveredNow.status).toBe(202);
    await eventually(async () => (await stack.prisma.order.findUniqueOrThrow({ where: { id: deliveredId } })).dueDate);
    const reminded = await api()
      .post(`/api/v1/orders/${deliveredId}/reminders/send-now`)
      .set('Authorization', operator())
      .set('Idempotency-Key', randomUUID())
      .send({ kind: 'DUE_SOON' });
    expect(reminded.status).toBe(202);
    await stack.client.workflow.getHandle(reminded.body.workflowId as string).result();
    const paid = await api()
      .post(`/api/v1/orders/${deliveredId}/payments`)
      .set('Authorization', operator())
      .send({ amount: 2500, reference: `bank-${deliveredId}` });
    expect(paid.status).toBe(201);
    expect(await stack.client.workflow.getHandle(orderRoutingId(stack.tenant.id, deliveredId)).result()).toMatchObject({
      outcome: 'paid',
    });

    // The second is cancelled while its vendor is being asked, with a reason that names a person.
    const cancelled = await place('PO-1002');
    expect(cancelled.status).toBe(202);
    const cancelledId = cancelled.body.orderId as string;
    await eventually(async () => {
      const row = await stack.prisma.order.findUniqueOrThrow({ where: { id: cancelledId } });
      return row.status === 'ROUTING' || row.status === 'ASSIGNED';
    });
    // While the credit check runs the order answers 409 "try again in a moment", as the API tells its callers.
    const cancel = await eventually(async () => {
      const answer = await api()
        .post(`/api/v1/orders/${cancelledId}/cancel`)
        .set('Authorization', operator())
        .send({
          reason: `${people.customer.name} (${people.customer.email}, ${people.customer.phone}) no longer needs it`,
        });
      return /credit check is under way/.test(String(answer.body?.error?.message)) ? undefined : answer;
    });
    expect(cancel.status).toBeLessThan(300);
    await stack.client.workflow.getHandle(orderRoutingId(stack.tenant.id, cancelledId)).result();
    expect((await stack.prisma.order.findUniqueOrThrow({ where: { id: cancelledId } })).status).toBe('CANCELLED');

    expectedWorkflowIds.push(
      orderRoutingId(stack.tenant.id, deliveredId),
      orderRoutingId(stack.tenant.id, cancelledId),
      reminded.body.workflowId as string,
    );
  }

  async function runNotifications() {
    const email = await api()
      .post('/api/v1/notifications')
      .set('Authorization', operator())
      .set('Idempotency-Key', randomUUID())
      .send({
        channel: 'EMAIL',
        to: people.notified.email,
        subject: `For ${people.notified.name}`,
        text: `Dear ${people.notified.name}, we will call you on ${people.notified.phone}.`,
      });
    const sms = await api()
      .post('/api/v1/notifications')
      .set('Authorization', operator())
      .set('Idempotency-Key', randomUUID())
      .send({ channel: 'SMS', to: people.notified.phone, text: `Hi ${people.notified.name}, your table is ready.` });
    expect([email.status, sms.status]).toEqual([202, 202]);
    for (const sent of [email, sms]) {
      await stack.client.workflow.getHandle(sent.body.workflowId as string).result();
      const row = await stack.prisma.notification.findUniqueOrThrow({ where: { id: sent.body.notificationId } });
      expect(row.status).toBe('SENT');
      expectedWorkflowIds.push(sent.body.workflowId as string);
    }
  }

  async function runReminders() {
    const created = await api()
      .post('/api/v1/reminders')
      .set('Authorization', operator())
      .set('Idempotency-Key', randomUUID())
      .send({
        subject: { type: 'settlement', id: 'S-2044' },
        recipient: { channel: 'EMAIL', to: people.reminded.email, name: people.reminded.name },
        template: 'settlement.reminder',
        data: { reference: 'S-2044', amountDue: 250000, payer: people.reminded.name },
        dueAt: new Date(Date.now() + 10 * 24 * 60 * 60 * 1000).toISOString(),
        steps: [
          { at: '-2d', kind: 'DUE_SOON' },
          { at: '0', kind: 'DUE' },
        ],
        notifyOnCreate: true,
      });
    expect(created.status).toBe(202);
    const reminderId = (created.body.id ?? created.body.reminderId) as string;
    await eventually(() => stack.outbox(people.reminded.email).length > 0);
    const completed = await api()
      .post(`/api/v1/reminders/${reminderId}/complete`)
      .set('Authorization', operator())
      .send({ reason: `${people.reminded.name} paid by phone` });
    expect(completed.status).toBeLessThan(300);
    await stack.client.workflow.getHandle(created.body.workflowId as string).result();
    expectedWorkflowIds.push(created.body.workflowId as string);
  }

  async function runEventsAndWebhooks() {
    const endpoint = await api()
      .post('/api/v1/webhooks')
      .set('Authorization', admin())
      .send({ url: receiver.url, events: ['customer.updated'] });
    expect(endpoint.status).toBe(201);
    const reported = await api()
      .post('/api/v1/events')
      .set('Authorization', operator())
      .send({
        type: 'customer.updated',
        subject: { type: 'customer', id: 'C-7001' },
        data: { name: people.customer.name, email: people.customer.email, phone: people.customer.phone },
      });
    expect(reported.status).toBe(202);
    const delivery = await eventually(() =>
      stack.prisma.webhookDelivery.findFirst({ where: { endpointId: endpoint.body.id, status: 'SUCCEEDED' } }),
    );
    expect(receiver.received.some((body) => body.includes(people.customer.email))).toBe(true);
    await stack.client.workflow.getHandle(reported.body.workflowId as string).result();
    expectedWorkflowIds.push(reported.body.workflowId as string, delivery.workflowId);
  }

  /**
   * Operators end flows with a reason of their own, which may well name the person concerned, and
   * some identity providers make a token's subject the operator's e-mail address.
   */
  async function runOperatorActions() {
    const namedOperator = `Bearer ${await signDevToken(stack.config.auth, {
      tenantId: stack.tenant.id,
      roles: ['operator'],
      subject: people.operator.email,
    })}`;
    for (const action of ['cancel', 'terminate'] as const) {
      const scheduled = await api()
        .post('/api/v1/notifications')
        .set('Authorization', operator())
        .set('Idempotency-Key', randomUUID())
        .send({ channel: 'EMAIL', to: people.notified.email, subject: 'Later', text: 'Later', delay: '24h' });
      expect(scheduled.status).toBe(202);
      const workflowId = scheduled.body.workflowId as string;
      const workflowPath = `/api/v1/workflows/${encodeURIComponent(workflowId)}`;
      await eventually(async () => {
        const described = await api().get(workflowPath).set('Authorization', operator());
        return described.body.flowStatus === 'SCHEDULED';
      });
      const ended = await api()
        .post(`${workflowPath}/${action}`)
        .set('Authorization', namedOperator)
        .send({ reason: `${people.notified.name} (${people.notified.phone}) asked us not to write` });
      expect(ended.status).toBe(action === 'cancel' ? 202 : 200);
      await expect(stack.client.workflow.getHandle(workflowId).result()).rejects.toThrow();
      expectedWorkflowIds.push(workflowId);
    }
  }

  /** Reports and exports last: their rows hold the people the other flows stored. */
  async function runReportsAndExports() {
    const report = await api()
      .post('/api/v1/reports')
      .set('Authorization', operator())
      .set('Idempotency-Key', randomUUID())
      .send({ type: 'notifications', format: 'csv', notifyEmail: people.reportReader.email });
    const exported = await api()
      .post('/api/v1/exports')
      .set('Authorization', operator())
      .set('Idempotency-Key', randomUUID())
      .send({
        entities: ['slots', 'waitlist-entries', 'orders', 'retailers', 'vendors', 'notifications'],
        format: 'ndjson',
        notifyEmail: people.reportReader.email,
      });
    expect([report.status, exported.status]).toEqual([202, 202]);
    const reportId = report.body.reportId as string;
    const exportId = exported.body.exportId as string;
    await eventually(async () => {
      const shown = await api().get(`/api/v1/reports/${reportId}`).set('Authorization', operator());
      return shown.body.status === 'COMPLETED';
    });
    await eventually(async () => {
      const shown = await api().get(`/api/v1/exports/${exportId}`).set('Authorization', operator());
      return shown.body.status === 'COMPLETED';
    });
    const exportFile = await api().get(`/api/v1/exports/${exportId}/download`).set('Authorization', operator());
    expect(exportFile.text).toContain(people.candidates[0]!.email);
    expectedWorkflowIds.push(report.body.workflowId as string, exported.body.workflowId as string);
  }

  /**
   * A tenant's weekly report Schedule, run once now from the CLI (as an operator would with
   * `temporal schedule trigger`) and then paused with a note that names a person. The Schedule's
   * action (input, memo, user metadata) and its note are in every `schedule describe`.
   */
  async function runReportSchedule() {
    const created = await api()
      .post('/api/v1/report-schedules')
      .set('Authorization', admin())
      .set('Idempotency-Key', randomUUID())
      .send({
        type: 'notifications',
        format: 'csv',
        cron: '0 6 * * 1',
        timezone: 'Europe/Berlin',
        notifyEmail: people.reportReader.email,
      });
    expect(created.status).toBe(201);
    const scheduleRowId = created.body.id as string;
    const scheduleId = created.body.scheduleId as string;

    await temporalCli(stack.config, ['schedule', 'trigger', '--schedule-id', scheduleId]);
    const runWorkflowId = await eventually(async () => {
      const described = await stack.client.schedule.getHandle(scheduleId).describe();
      return described.info.recentActions.at(-1)?.action.workflow.workflowId;
    });
    await stack.client.workflow.getHandle(runWorkflowId).result();

    const paused = await api()
      .post(`/api/v1/report-schedules/${scheduleRowId}/pause`)
      .set('Authorization', operator())
      .send({ note: `Paused until ${people.absentee.name} is back from leave` });
    expect(paused.status).toBe(200);
    // The API shows its caller the note; Temporal, which shows it to every operator, never gets it.
    expect(paused.body).toMatchObject({ state: 'PAUSED', note: expect.stringContaining(people.absentee.name) });

    scheduleIds.push(scheduleId);
    expectedWorkflowIds.push(runWorkflowId);
  }

  let scanned: RawWorkflow[] = [];
  let schedules: RawSchedule[] = [];
  let listings: string[] = [];

  beforeAll(async () => {
    tenantIds.push(stack.tenant.id);
    await runWaitlist();
    await runOnboarding();
    await runOrders();
    await runNotifications();
    await runReminders();
    await runEventsAndWebhooks();
    await runOperatorActions();
    await runReportsAndExports();
    await runReportSchedule();

    // Visibility lags the histories a little: wait until every tenant's list shows each flow run above.
    const listed = await eventually(async () => {
      const lists = await Promise.all(tenantIds.map((tenantId) => listTenantWorkflows(stack.config, tenantId)));
      const ids = new Set(lists.flatMap((list) => list.workflowIds));
      return expectedWorkflowIds.every((id) => ids.has(id)) ? lists : undefined;
    }, 500);
    listings = listed.map((list) => list.stdout);
    const workflowIds = [...new Set([...listed.flatMap((list) => list.workflowIds), ...expectedWorkflowIds])];
    scanned = await Promise.all(workflowIds.map((workflowId) => fetchRawWorkflow(stack.config, workflowId)));
    schedules = await Promise.all(scheduleIds.map((scheduleId) => fetchRawSchedule(stack.config, scheduleId)));
  }, 300_000);

  /** Every payload the CLI printed as stored: histories, workflow descriptions and Schedule descriptions. */
  const allPayloads = () => [
    ...scanned.flatMap((workflow) => [...payloadsIn(workflow.rawHistory), ...payloadsIn(workflow.description)]),
    ...schedules.flatMap((schedule) => payloadsIn(schedule.rawDescription)),
  ];

  it('finds no name, e-mail address or phone number in any raw history, description, Schedule, list or workflow ID', () => {
    const texts = [
      ...listings.flatMap(searchableTexts),
      ...scanned.flatMap((workflow) => [
        workflow.workflowId,
        ...searchableTexts(workflow.history),
        ...searchableTexts(workflow.rawHistory),
        ...searchableTexts(workflow.description),
      ]),
      ...schedules.flatMap((schedule) => [
        schedule.scheduleId,
        ...searchableTexts(schedule.description),
        ...searchableTexts(schedule.rawDescription),
      ]),
    ];
    const events = scanned.reduce(
      (count, workflow) => count + ((JSON.parse(workflow.history) as { events?: unknown[] }).events?.length ?? 0),
      0,
    );
    const payloads = allPayloads();
    const encrypted = payloads.filter((payload) => encodingOf(payload) === ENCRYPTED_ENCODING).length;
    console.log(
      `PII scan: ${scanned.length} workflows, ${schedules.length} schedules, ${events} events, ` +
        `${payloads.length} payloads (${encrypted} encrypted), ${personalValues.length} personal values searched`,
    );

    expect(scanned.length).toBeGreaterThanOrEqual(expectedWorkflowIds.length);
    expect(schedules.length).toBe(scheduleIds.length);
    expect(valuesFoundIn(texts, personalValues)).toEqual([]);
  });

  it('reads what stays in clear: the search attributes a raw history carries are found once base64 decoded', () => {
    const decodedOnly = scanned.flatMap((workflow) => searchableTexts(workflow.rawHistory).slice(1));

    expect(valuesFoundIn(decodedOnly, [stack.tenant.id, '"CONFIRMED"', '"PAID"'])).toEqual([
      stack.tenant.id,
      '"CONFIRMED"',
      '"PAID"',
    ]);
  });

  it("leaves in clear only search attributes, patch markers and local activities' call descriptions: memos and every other payload are encrypted", () => {
    const payloads = allPayloads();
    const inClear = payloads
      .filter((found) => encodingOf(found) !== ENCRYPTED_ENCODING)
      .map((found) => found.path.replace(/\.(indexedFields|fields)\..*$/, ''));

    expect(inClear.length).toBeGreaterThan(0);
    // The SDK's core writes a marker's description of a patch or of a local activity's call (type, ID, attempt,
    // times) past the codec; the scans above check that no person is in them, as in every byte of the history.
    const unexpected = [...new Set(inClear)].filter(
      (path) =>
        !/searchAttributes$/.test(path) && !/markerRecordedEventAttributes\.details\.(patch-data|data)/.test(path),
    );
    expect(unexpected).toEqual([]);
    // Memos are there to be checked: the Schedules' purpose, the summaries carried flows keep.
    const memos = payloads.filter((found) => /(^|\.)memo\.fields$/.test(found.path.replace(/\.[^.]+$/, '')));
    expect(memos.length).toBeGreaterThan(0);
    expect(memos.filter((found) => encodingOf(found) !== ENCRYPTED_ENCODING)).toEqual([]);
  });

  it("scans a Schedule's action and note and a run the Schedule started, and the note Temporal keeps is Holdfast's own", () => {
    const [schedule] = schedules;
    const described = JSON.parse(schedule!.description) as { schedule?: { state?: { notes?: string } } };
    expect(described.schedule?.state?.notes).toBeTruthy();
    expect(described.schedule?.state?.notes).not.toContain(people.absentee.name.split(' ')[1]);
    expect(payloadsIn(schedule!.rawDescription).length).toBeGreaterThan(0);
    expect(scanned.some((workflow) => workflow.workflowId.startsWith(`${schedule!.scheduleId}-`))).toBe(true);
  });

  it('finds the people in the same histories once decoded through the codec, so the scan is not vacuous', async () => {
    const codec = stack.client.options.dataConverter.payloadCodecs![0] as PayloadCodec;
    const decoded = (
      await Promise.all(scanned.map((workflow) => decodedTexts(codec, payloadsIn(workflow.rawHistory))))
    ).flat();

    // At least one person per flow whose payloads carry people (notifications, reports and
    // exports carry row IDs only, and read the people from PostgreSQL).
    expect(valuesFoundIn(decoded, personalValues)).toEqual(
      expect.arrayContaining([
        ...people.candidates.map((candidate) => candidate.customerName),
        people.admin.name,
        people.admin.email,
        people.organizationName,
        people.vendor.name,
        people.customer.name,
        people.customer.email,
        people.customer.phone,
        people.reminded.name,
      ]),
    );
  });
});
