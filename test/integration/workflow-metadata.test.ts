import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { workflowMetadataQuery } from '@temporalio/workflow';
import { orderReference } from '../../domain/order-messages';
import type { PrismaClient } from '../../lib/db';
import { ENCRYPTED_ENCODING, METADATA_ENCODING } from '../../lib/data-converter';
import { orderRoutingId } from '../../workflows/order-routing.contract';
import { SUMMARY_MEMO_KEY } from '../../workflows/summaries';
import type { waitlistCascadeWorkflow } from '../../workflows/waitlist-cascade';
import {
  expireHoldNowUpdate,
  waitlistCascadeId,
  waitlistCascadeStartOptions,
} from '../../workflows/waitlist-cascade.contract';
import { eventually } from '../support/eventually';
import { useApiStack, type ApiStack } from '../support/api-stack';
import { createRetailer, createVendor, newRegion } from '../support/partners';

/**
 * What an operator sees in the Temporal Web UI and CLI for flows started through the API: the
 * static summary and details of each start, the current details the built-in
 * `__temporal_workflow_metadata` query answers as the flow moves, and the summaries on its
 * activities and timers — all through the codec, and none of it personal data.
 */
describe('workflow user metadata in the Web UI', () => {
  const stack = useApiStack({ worker: true, mail: 'memory', terminateOnStop: true });
  const { mails } = stack;
  let prisma: PrismaClient;
  let client: Client;
  let app: ApiStack['app'];
  let tenantId: string;
  let member: string;
  let operator: string;

  beforeAll(() => {
    ({ prisma, client, app } = stack);
    tenantId = stack.tenant.id;
    ({ member, operator } = stack.tokens);
  });

  const timeOfDay = /\d{2}:\d{2} UTC/;

  /** The flow's current details, as the Web UI reads them. */
  async function currentDetails(handle: WorkflowHandle): Promise<string> {
    const metadata = await handle.query(workflowMetadataQuery);
    return metadata.currentDetails ?? '';
  }

  const detailsMatch = (handle: WorkflowHandle, pattern: RegExp) =>
    eventually(async () => {
      const details = await currentDetails(handle);
      return pattern.test(details) ? details : undefined;
    });

  /** The summaries on the history's activities (scheduled or, for local ones, recorded) and started timers, decoded through the codec. */
  async function commandSummaries(handle: WorkflowHandle) {
    const history = await handle.fetchHistory();
    const [codec] = client.options.dataConverter.payloadCodecs ?? [];
    const decode = async (payload: Payload) => {
      expect(payload.metadata?.[METADATA_ENCODING]?.toString()).toBe(ENCRYPTED_ENCODING);
      const [decoded] = await codec!.decode([payload]);
      return defaultPayloadConverter.fromPayload<string>(decoded!);
    };
    const activities: string[] = [];
    const timers: string[] = [];
    for (const event of history.events ?? []) {
      const summary = event.userMetadata?.summary;
      if (!summary) continue;
      // A queued activity's summary is on its scheduled event; a local activity's on its marker.
      if (event.activityTaskScheduledEventAttributes || event.markerRecordedEventAttributes) {
        activities.push(await decode(summary));
      }
      if (event.timerStartedEventAttributes) timers.push(await decode(summary));
    }
    return { activities, timers };
  }

  function expectNoneOf(texts: (string | undefined)[], personal: string[]) {
    for (const text of texts) {
      expect(text).not.toContain('@');
      for (const value of personal) expect(text).not.toContain(value);
    }
  }

  it('a waitlist cascade shows its slot and queue, the candidate it waits for, and summarised holds and timers', async () => {
    const created = await request(app)
      .post('/api/v1/slots')
      .set('Authorization', member)
      .send({ name: 'Dr. Lee 14:30', startsAt: '2026-12-08T14:30:00Z', holdMinutes: 30 });
    expect(created.status).toBe(201);
    const slotId = created.body.id as string;
    const candidates = [
      { customerName: 'Ada Lovelace', email: 'ada-metadata@x.test', priority: 2 },
      { customerName: 'Grace Hopper', email: 'grace-metadata@x.test' },
    ];
    for (const candidate of candidates) {
      const joined = await request(app)
        .post(`/api/v1/slots/${slotId}/waitlist`)
        .set('Authorization', member)
        .send(candidate);
      expect(joined.status).toBe(201);
    }

    expect((await request(app).post(`/api/v1/slots/${slotId}/release`).set('Authorization', operator)).status).toBe(
      202,
    );
    const handle = client.workflow.getHandle(waitlistCascadeId(tenantId, slotId));

    const description = await handle.describe();
    expect(await description.staticSummary()).toBe('Waitlist for slot Tue 8 Dec 14:30 UTC — 2 waiting');
    const staticDetails = await description.staticDetails();
    expect(staticDetails).toContain(`**Slot:** \`${slotId}\``);
    expect(staticDetails).toContain('**Starts:** 2026-12-08T14:30Z');
    // Without the codec the metadata is ciphertext: the Web UI shows it only through the codec server.
    const rawSummary = description.raw.executionConfig?.userMetadata?.summary;
    expect(rawSummary?.metadata?.[METADATA_ENCODING]?.toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(rawSummary!.data!).toString('latin1')).not.toContain('Waitlist');

    const first = await detailsMatch(handle, /^offered to candidate 1 until /);
    expect(first).toMatch(timeOfDay);

    // The first candidate declines through the link in their offer mail: the cascade moves on.
    const offer = await eventually(() =>
      mails.find((m) => m.to === candidates[0]!.email && m.subject.startsWith('A place')),
    );
    const link = new URL(offer.text.split(/\s+/).find((word) => word.includes('decision=decline'))!);
    const declined = await request(app)
      .post('/api/v1/offers/respond')
      .send({ token: link.searchParams.get('token'), decision: 'decline' });
    expect(declined.status).toBe(200);
    const second = await detailsMatch(handle, /^offered to candidate 2 until /);

    const { activities, timers } = await eventually(async () => {
      const summaries = await commandSummaries(handle);
      return summaries.timers.filter((timer) => timer.startsWith('hold expires')).length >= 2 ? summaries : undefined;
    });
    expect(activities).toEqual(
      expect.arrayContaining([
        'hold for candidate 1',
        'send offer to candidate 1 by EMAIL',
        'record hold DECLINED for candidate 1',
        'hold for candidate 2',
      ]),
    );
    // Each hold's deadline, and the bound on the decline's wait for its write (the Update's answer) when
    // the write outlasts the workflow task that took the decline; a local write seldom does, and then the
    // bound's timer is never recorded.
    expect(timers.filter((timer) => timer.startsWith('hold expires'))).toHaveLength(2);
    for (const timer of timers) {
      expect(timer).toMatch(/^(hold expires \d{2}:\d{2} UTC|answer the request within 30 seconds)$/);
    }
    expectNoneOf(
      [await description.staticSummary(), staticDetails, first, second, ...activities, ...timers],
      ['Lee', 'Ada', 'Lovelace', 'Grace', 'Hopper'],
    );

    await request(app).post(`/api/v1/slots/${slotId}/cascade/cancel`).set('Authorization', operator);
    await detailsMatch(handle, /^finished: CANCELLED$/);
  });

  it("a cascade's run after a continue-as-new, which has no static summary, starts its details with the cascade's summary", async () => {
    const created = await request(app)
      .post('/api/v1/slots')
      .set('Authorization', member)
      .send({ name: 'Dr. Lee 16:00', startsAt: '2026-12-09T16:00:00Z', holdMinutes: 30 });
    expect(created.status).toBe(201);
    const slotId = created.body.id as string;
    for (const candidate of [
      { customerName: 'Ada Lovelace', email: 'ada-carried@x.test' },
      { customerName: 'Grace Hopper', email: 'grace-carried@x.test' },
    ]) {
      const joined = await request(app)
        .post(`/api/v1/slots/${slotId}/waitlist`)
        .set('Authorization', member)
        .send(candidate);
      expect(joined.status).toBe(201);
    }

    // One round per run: the cascade continues as new after the first candidate's offer ends.
    const options = waitlistCascadeStartOptions(tenantId, slotId, undefined, {
      startsAt: '2026-12-09T16:00:00Z',
      waiting: 2,
    });
    const first = await client.workflow.start<typeof waitlistCascadeWorkflow>('waitlistCascadeWorkflow', {
      taskQueue: stack.config.temporal.taskQueue,
      args: [{ tenantId, slotId, maxRoundsPerRun: 1 }],
      ...options,
    });
    const summary = 'Waitlist for slot Wed 9 Dec 16:00 UTC — 2 waiting';
    expect(await (await first.describe()).staticSummary()).toBe(summary);
    // The first run shows what it does, under its static summary.
    await detailsMatch(first, /^offered to candidate 1 until /);
    await first.executeUpdate(expireHoldNowUpdate, { args: [{ actor: 'test:workflow-metadata' }] });

    const latest = client.workflow.getHandle(options.workflowId);
    const carriedRun = await eventually(async () => {
      const description = await latest.describe();
      return description.runId !== first.firstExecutionRunId ? description : undefined;
    });
    // The SDK cannot give a continued run a static summary: the Web UI's summary is empty for it.
    expect(await carriedRun.staticSummary()).toBeUndefined();
    // The memo the first start kept the summary in is carried to the new run, encrypted.
    const memoSummary = carriedRun.raw.workflowExecutionInfo?.memo?.fields?.[SUMMARY_MEMO_KEY];
    expect(memoSummary?.metadata?.[METADATA_ENCODING]?.toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(memoSummary!.data!).toString('latin1')).not.toContain('Waitlist');

    const details = await detailsMatch(latest, /\n\noffered to candidate 2 until /);
    expect(details).toMatch(new RegExp(`^${summary}\n\noffered to candidate 2 until \\d{2}:\\d{2} UTC$`));
    expectNoneOf([details], ['Lee', 'Ada', 'Lovelace', 'Grace', 'Hopper']);

    await latest.cancel();
    await detailsMatch(latest, new RegExp(`^${summary}\n\nfinished: CANCELLED$`));
  });

  it('flows started through the API name their codes: a report its type and format, a direct notification, a tenant event its ID', async () => {
    const report = await request(app)
      .post('/api/v1/reports')
      .set('Authorization', operator)
      .set('Idempotency-Key', randomUUID())
      .send({ type: 'notifications', format: 'csv' });
    expect(report.status).toBe(202);
    const reportSummary = await (
      await client.workflow.getHandle(report.body.workflowId as string).describe()
    ).staticSummary();
    expect(reportSummary).toBe(`Report csv notifications \`${report.body.reportId as string}\``);

    const direct = await request(app)
      .post('/api/v1/notifications')
      .set('Authorization', operator)
      .set('Idempotency-Key', randomUUID())
      .send({
        channel: 'EMAIL',
        to: 'lovelace-metadata@x.test',
        subject: 'For Ada Lovelace',
        text: 'Hello',
        delay: '1h',
      });
    expect(direct.status).toBe(202);
    const directSummary = await (
      await client.workflow.getHandle(direct.body.workflowId as string).describe()
    ).staticSummary();
    expect(directSummary).toMatch(/^Notification direct message by email at \w{3} \d{1,2} \w{3} \d{2}:\d{2} UTC$/);

    // A tenant's own event type may be any words: the fan-out is named by the event's ID.
    const event = await request(app)
      .post('/api/v1/events')
      .set('Authorization', operator)
      .send({ type: 'lovelace.joined', subject: { type: 'customer', id: 'C-1' }, data: {} });
    expect(event.status).toBe(202);
    const eventSummary = await (
      await client.workflow.getHandle(event.body.workflowId as string).describe()
    ).staticSummary();
    expect(eventSummary).toBe(`Event \`${event.body.eventId as string}\` — fan-out to rules and webhooks`);
    expectNoneOf([reportSummary, directSummary, eventSummary], ['Lovelace', 'lovelace', 'Ada']);
  });

  it('an order shows its reference, the vendor it waits for out of how many, and summarised offers and deadlines', async () => {
    await prisma.tenant.update({ where: { id: tenantId }, data: { vendorResponseMinutes: 30 } });
    const retailer = await createRetailer(prisma, tenantId, { name: 'Corner Shop' });
    const region = newRegion();
    const best = await createVendor(prisma, tenantId, { region, name: 'Best Foods', rating: 5 });
    const next = await createVendor(prisma, tenantId, { region, name: 'Valley Traders', rating: 4 });
    const placed = await request(app)
      .post('/api/v1/orders')
      .set('Authorization', member)
      .send({
        retailerId: retailer.id,
        deliveryRegion: region,
        items: [{ sku: 'APL-1', name: 'Apples', category: 'produce', quantity: 10, unitPrice: 250 }],
      });
    expect(placed.status).toBe(202);
    const orderId = placed.body.orderId as string;
    const handle = client.workflow.getHandle(orderRoutingId(tenantId, orderId));

    const description = await handle.describe();
    expect(await description.staticSummary()).toBe(`Order ${orderReference(orderId)} — routing to vendors`);
    expect(await description.staticDetails()).toContain(`**Order:** \`${orderId}\``);

    const first = await detailsMatch(handle, /^waiting for vendor 1 of 2 until /);
    expect(first).toMatch(timeOfDay);

    /** The token off the newest offer mail of this order to `contact`. */
    const offerToken = async (contact: string) => {
      const mail = await eventually(() =>
        [...mails]
          .reverse()
          .find((m) => m.to === contact && m.subject.startsWith(`New order ${orderReference(orderId)}`)),
      );
      const accept = mail.text.split('\n').find((line) => line.startsWith('Accept: '))!;
      return new URL(accept.slice('Accept: '.length)).searchParams.get('token')!;
    };
    const respond = (token: string, decision: 'accept' | 'reject') =>
      request(app).post('/api/v1/vendor/offers/respond').send({ token, decision, reason: 'no trucks today' });

    expect((await respond(await offerToken(best.contact), 'reject')).status).toBe(200);
    const second = await detailsMatch(handle, /^waiting for vendor 2 of 2 until /);
    expect((await respond(await offerToken(next.contact), 'accept')).status).toBe(200);
    const assigned = await detailsMatch(handle, /^assigned, waiting for dispatch$/);

    const { activities, timers } = await commandSummaries(handle);
    expect(activities).toEqual(
      expect.arrayContaining([
        'offer the order to vendor 1',
        'send offer to vendor 1',
        'offer the order to vendor 2',
        'order message: confirmed',
      ]),
    );
    const deadlines = timers.filter((timer) => timer !== 'answer the request within 30 seconds');
    expect(deadlines.length).toBeGreaterThanOrEqual(2);
    for (const timer of deadlines) expect(timer).toMatch(/^vendor response deadline \d{2}:\d{2} UTC$/);
    expectNoneOf(
      [await description.staticSummary(), await description.staticDetails(), first, second, assigned, ...activities],
      ['Corner Shop', 'Best Foods', 'Valley Traders', 'no trucks'],
    );
  });
});
