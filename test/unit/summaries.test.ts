import { DIRECT_CONTENT } from '../../activities/notification-requests';
import { HOLDFAST_EVENT_TYPES } from '../../domain/events';
import {
  activitySummary,
  carriedRunDetails,
  codeLabel,
  DIRECT_CONTENT_TEMPLATE,
  dailyCleanupMetadata,
  eventFanOutMetadata,
  exportLaneMetadata,
  exportMetadata,
  finishedDetails,
  knownCodes,
  notificationMetadata,
  orderCurrentDetails,
  orderRef,
  orderRoutingMetadata,
  outboxSweepMetadata,
  reminderSequenceMetadata,
  reportMetadata,
  stepDetails,
  summaryMemo,
  SUMMARY_MEMO_KEY,
  tenantOnboardingMetadata,
  timerSummary,
  utcDateTime,
  utcIsoMinute,
  utcTime,
  waitlistCascadeMetadata,
  waitlistCurrentDetails,
  webhookDeliveryMetadata,
  type FlowMetadata,
} from '../../workflows/summaries';

const tenantId = '6f1c2d3e-0000-4000-8000-000000000001';
const slotId = '011f5df8-1111-4111-8111-111111111111';
const orderId = '98955664-2222-4222-8222-222222222222';

/** Personal data a careless builder could let through: a name, an email, a phone, a typed reason. */
const personal = ['Dr. Lee', 'jane.doe@example.test', '+44 7700 900123', '07700900123', 'Corner Shop', 'no trucks'];
const phonePattern = /\+?\d[\d\s-]{7,}\d/;
// Row IDs and ISO instants are long runs of digits too, and are allowed.
const uuids = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const isoInstants = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z/g;

function expectNoPersonalData(text: string) {
  expect(text).not.toContain('@');
  expect(text.replace(uuids, '<id>').replace(isoInstants, '<time>')).not.toMatch(phonePattern);
  for (const value of personal) expect(text).not.toContain(value);
}

function expectOneLineSummary(metadata: FlowMetadata) {
  expect(metadata.staticSummary).not.toContain('\n');
  expect(metadata.staticSummary.length).toBeLessThanOrEqual(120);
  expectNoPersonalData(metadata.staticSummary);
  expectNoPersonalData(metadata.staticDetails);
}

describe('workflow summaries for the Web UI', () => {
  describe('times', () => {
    it('are UTC at minute precision', () => {
      expect(utcTime('2026-12-02T14:45:59.999Z')).toBe('14:45 UTC');
      expect(utcDateTime('2026-12-02T14:30:00Z')).toBe('Wed 2 Dec 14:30 UTC');
      expect(utcDateTime('2026-12-08T09:05:00+02:00')).toBe('Tue 8 Dec 07:05 UTC');
      expect(utcIsoMinute('2026-12-02T14:45:31Z')).toBe('2026-12-02T14:45Z');
    });

    it('show a question mark for a missing or unreadable instant instead of throwing', () => {
      expect(utcTime(undefined)).toBe('?');
      expect(utcDateTime('not a date')).toBe('?');
      expect(utcIsoMinute(null)).toBe('?');
    });
  });

  describe('codeLabel', () => {
    it('passes the codes Holdfast defines, each in its own list', () => {
      expect(codeLabel('order.confirmed', 'template')).toBe('order.confirmed');
      expect(codeLabel('order.delivered', 'eventType')).toBe('order.delivered');
      expect(codeLabel('settlement', 'subjectType')).toBe('settlement');
      expect(codeLabel('FINAL_NOTICE', 'reminderKind')).toBe('FINAL_NOTICE');
      expect(codeLabel('CREATED', 'reminderKind')).toBe('CREATED');
      expect(codeLabel('OVERDUE', 'paymentReminderKind')).toBe('OVERDUE');
      expect(codeLabel('order-volume', 'reportType')).toBe('order-volume');
      expect(codeLabel('csv', 'reportFormat')).toBe('csv');
      expect(codeLabel('enterprise', 'tier')).toBe('enterprise');
      expect(codeLabel('EMAIL', 'channel')).toBe('EMAIL');
    });

    it("passes a flow's own UPPER_SNAKE status or outcome when no list is named", () => {
      for (const code of ['NEEDS_ATTENTION', 'CONFIRMED', 'IDLE', 'DECLINED']) expect(codeLabel(code)).toBe(code);
    });

    it('turns a single word a tenant chose, which may be a name, into "custom"', () => {
      // A reminder's subject type, a template name, an event type or a kind is free text: "Lovelace" is a surname.
      expect(codeLabel('Lovelace', 'subjectType')).toBe('custom');
      expect(codeLabel('lovelace', 'subjectType')).toBe('custom');
      expect(codeLabel('Lovelace', 'template')).toBe('custom');
      expect(codeLabel('ada.lovelace', 'eventType')).toBe('custom');
      expect(codeLabel('LOVELACE', 'reminderKind')).toBe('custom');
      expect(codeLabel('Hopper')).toBe('custom');
      expect(codeLabel('hopper')).toBe('custom');
      // A code of one list is no code of another.
      expect(codeLabel('order', 'template')).toBe('custom');
    });

    it('turns anything that is not a code into "custom": names, emails, phones, sentences', () => {
      for (const text of [...personal, 'hello world', '', null, undefined, 'X'.repeat(65), 'CALL0770090012']) {
        expect(codeLabel(text)).toBe('custom');
        expect(codeLabel(text, 'subjectType')).toBe('custom');
      }
    });

    it("lists exactly Holdfast's own event types and the stored name of a notification's direct content", () => {
      expect([...knownCodes.eventType].sort()).toEqual(Object.keys(HOLDFAST_EVENT_TYPES).sort());
      expect(DIRECT_CONTENT_TEMPLATE).toBe(DIRECT_CONTENT);
    });
  });

  describe('static summaries and details', () => {
    it('name the waitlist by its slot time in UTC and how many wait', () => {
      const metadata = waitlistCascadeMetadata({ tenantId, slotId, startsAt: '2026-12-02T14:30:00Z', waiting: 3 });
      expect(metadata.staticSummary).toBe('Waitlist for slot Wed 2 Dec 14:30 UTC — 3 waiting');
      expect(metadata.staticDetails).toContain(`**Slot:** \`${slotId}\``);
      expect(metadata.staticDetails).toContain(`**Tenant:** \`${tenantId}\``);
      expect(metadata.staticDetails).toContain('**Starts:** 2026-12-02T14:30Z');
      expectOneLineSummary(metadata);
    });

    it('name a waitlist whose slot has no start time by the slot ID', () => {
      const metadata = waitlistCascadeMetadata({ tenantId, slotId, startsAt: null });
      expect(metadata.staticSummary).toBe(`Waitlist for slot \`${slotId}\``);
      expect(metadata.staticDetails).not.toContain('Starts');
    });

    it('name an order by its short reference', () => {
      const metadata = orderRoutingMetadata({ tenantId, orderId });
      expect(orderRef(orderId)).toBe('ORD-98955664');
      expect(metadata.staticSummary).toBe('Order ORD-98955664 — routing to vendors');
      expect(metadata.staticDetails).toContain(orderId);
      expectOneLineSummary(metadata);
    });

    it('name an onboarding by its slug and plan', () => {
      const metadata = tenantOnboardingMetadata({ tenantId, slug: 'acme', tier: 'professional' });
      expect(metadata.staticSummary).toBe('Onboarding acme (professional)');
      expectOneLineSummary(metadata);
    });

    it('name a notification by its template key and channel, and drop a template that is not a code', () => {
      const metadata = notificationMetadata({
        tenantId,
        notificationId: 'n-1',
        template: 'order.confirmed',
        channel: 'EMAIL',
      });
      expect(metadata.staticSummary).toBe('Notification order.confirmed by email');
      const scheduled = notificationMetadata({
        tenantId,
        notificationId: 'n-2',
        template: 'Dear jane.doe@example.test',
        channel: 'SMS',
        sendAt: '2026-12-02T09:00:00Z',
      });
      expect(scheduled.staticSummary).toBe('Notification custom by SMS at Wed 2 Dec 09:00 UTC');
      const named = notificationMetadata({ tenantId, notificationId: 'n-3', template: 'Lovelace', channel: 'EMAIL' });
      expect(named.staticSummary).toBe('Notification custom by email');
      expectOneLineSummary(metadata);
      expectOneLineSummary(scheduled);
    });

    it('name a notification whose text an API caller wrote a direct message', () => {
      const direct = notificationMetadata({
        tenantId,
        notificationId: 'n-4',
        template: DIRECT_CONTENT_TEMPLATE,
        channel: 'SMS',
      });
      expect(direct.staticSummary).toBe('Notification direct message by SMS');
      expect(direct.staticDetails).toContain('**Template:** direct message');
    });

    it("name payment reminders by the order's reference only when the subject is an order's UUID", () => {
      const forOrder = reminderSequenceMetadata({
        tenantId,
        reminderId: 'r-1',
        subjectType: 'order',
        subjectId: orderId,
        dueAt: '2026-12-16T00:00:00Z',
        steps: 3,
      });
      expect(forOrder.staticSummary).toBe('Reminders for order ORD-98955664, due Wed 16 Dec 00:00 UTC');
      const typed = reminderSequenceMetadata({
        tenantId,
        reminderId: 'r-2',
        subjectType: 'order',
        subjectId: 'jane.doe@example.test',
      });
      expect(typed.staticSummary).toBe('Reminders for order');
      const settlement = reminderSequenceMetadata({ tenantId, reminderId: 'r-3', subjectType: 'settlement' });
      expect(settlement.staticSummary).toBe('Reminders for settlement');
      expectOneLineSummary(forOrder);
      expectOneLineSummary(typed);
    });

    it("name a reminder whose subject type is a tenant's own word, such as a surname, by no word of it", () => {
      for (const subjectType of ['Lovelace', 'hopper', 'Dr. Lee']) {
        const metadata = reminderSequenceMetadata({ tenantId, reminderId: 'r-4', subjectType, subjectId: 'S-1' });
        expect(metadata.staticSummary).toBe('Reminders for a custom subject');
        expect(metadata.staticSummary).not.toContain(subjectType);
      }
    });

    it('name every other flow by IDs and codes', () => {
      const all = [
        reportMetadata({ tenantId, reportId: 'rep-1', type: 'order-volume', format: 'csv' }),
        reportMetadata({ tenantId, scheduleId: 'sch-1', type: 'notifications', format: 'pdf' }),
        exportMetadata({ tenantId, exportId: 'exp-1', tier: 'free' }),
        exportLaneMetadata({ tenantId, tier: 'enterprise' }),
        eventFanOutMetadata({ tenantId, eventId: 'ev-1', eventType: 'order.delivered' }),
        eventFanOutMetadata({ tenantId, eventId: 'ev-2', eventType: 'ticket.created' }),
        webhookDeliveryMetadata({ tenantId, endpointId: 'ep-1', eventId: 'ev-1' }),
        webhookDeliveryMetadata({ tenantId, endpointId: 'ep-1', eventId: 'ev-1', replay: true }),
        dailyCleanupMetadata(),
        outboxSweepMetadata(),
      ];
      expect(all.map((metadata) => metadata.staticSummary)).toEqual([
        'Report csv order-volume `rep-1`',
        'Scheduled pdf notifications report (schedule `sch-1`)',
        'Export `exp-1` (free plan)',
        `Export lane for tenant \`${tenantId}\``,
        'Event order.delivered — fan-out to rules and webhooks',
        'Event `ev-2` — fan-out to rules and webhooks',
        'Webhook of event `ev-1` to endpoint `ep-1`',
        'Webhook replay of event `ev-1` to endpoint `ep-1`',
        'Daily cleanup — purge past retention, record dead letters, expire files',
        'Outbox sweep — start fan-outs of events whose start was lost',
      ]);
      for (const metadata of all) expectOneLineSummary(metadata);
    });

    it('keep personal data out even when a caller passes it where a code belongs', () => {
      const all = [
        tenantOnboardingMetadata({ tenantId, slug: 'acme', tier: 'Dr. Lee' }),
        reportMetadata({ tenantId, reportId: 'rep-1', type: 'Corner Shop', format: '+44 7700 900123' }),
        eventFanOutMetadata({ tenantId, eventId: 'ev-1', eventType: 'jane.doe@example.test' }),
        notificationMetadata({ tenantId, notificationId: 'n-1', template: 'no trucks', channel: '07700900123' }),
      ];
      for (const metadata of all) expectOneLineSummary(metadata);
    });
  });

  describe('current details', () => {
    it('follow the waitlist: picking, offered to candidate N until the hold expires, finished', () => {
      const offering = { status: 'OFFERING', round: 0, currentHold: null };
      expect(waitlistCurrentDetails(offering)).toBe('picking the first candidate');
      expect(
        waitlistCurrentDetails({ ...offering, round: 2, currentHold: { round: 2, expiresAt: '2026-12-02T14:45:10Z' } }),
      ).toBe('offered to candidate 2 until 14:45 UTC');
      expect(waitlistCurrentDetails({ ...offering, round: 2 })).toBe('picking candidate 3');
      expect(waitlistCurrentDetails({ status: 'CONFIRMED', round: 2, currentHold: null })).toBe('finished: CONFIRMED');
    });

    it('follow the order: vendor N of M until its deadline, the manual window, the next payment reminder', () => {
      const base = { status: 'ROUTING', currentOffer: null, manualAssignmentDeadline: null, reminders: [] };
      expect(orderCurrentDetails({ ...base, status: 'PENDING' }, 0)).toBe('checking credit');
      expect(orderCurrentDetails({ ...base, currentOffer: { attempt: 2, deadline: '2026-12-02T10:12:00Z' } }, 4)).toBe(
        'waiting for vendor 2 of 4 until 10:12 UTC',
      );
      expect(
        orderCurrentDetails(
          { ...base, status: 'NEEDS_ATTENTION', manualAssignmentDeadline: '2026-12-03T10:00:00Z' },
          2,
        ),
      ).toBe('no vendor accepted: waiting for a manual assignment until Thu 3 Dec 10:00 UTC');
      expect(
        orderCurrentDetails(
          {
            ...base,
            status: 'DELIVERED',
            reminders: [
              { kind: 'UPCOMING', sequence: 1, at: '2026-12-10T09:00:00Z', status: 'sent' },
              { kind: 'OVERDUE', sequence: 2, at: '2026-12-17T09:00:00Z', status: 'scheduled' },
            ],
          },
          2,
        ),
      ).toBe('delivered, awaiting payment: reminder OVERDUE #2 due Thu 17 Dec 09:00 UTC');
      expect(orderCurrentDetails({ ...base, status: 'PAID' }, 2)).toBe('finished: PAID');
    });

    it('name steps by position and code', () => {
      expect(stepDetails(3, 7, 'createBillingCustomer')).toBe('step 3 of 7: createBillingCustomer');
      expect(finishedDetails('FILLED')).toBe('finished: FILLED');
    });

    it("start a carried run's details with the summary its first start kept in the memo", () => {
      const metadata = waitlistCascadeMetadata({ tenantId, slotId, startsAt: '2026-12-02T14:30:00Z', waiting: 3 });
      const memo = summaryMemo(metadata);
      expect(memo).toEqual({ [SUMMARY_MEMO_KEY]: 'Waitlist for slot Wed 2 Dec 14:30 UTC — 3 waiting' });
      const fallback = waitlistCascadeMetadata({ tenantId, slotId }).staticSummary;
      const now = 'offered to candidate 101 until 14:45 UTC';

      expect(carriedRunDetails(true, memo, fallback, now)).toBe(
        'Waitlist for slot Wed 2 Dec 14:30 UTC — 3 waiting\n\noffered to candidate 101 until 14:45 UTC',
      );
      // A first run has its static summary; a run started before the memo was kept builds one from its input.
      expect(carriedRunDetails(false, memo, fallback, now)).toBe(now);
      expect(carriedRunDetails(true, {}, fallback, now)).toBe(`Waitlist for slot \`${slotId}\`\n\n${now}`);
      expect(carriedRunDetails(true, { [SUMMARY_MEMO_KEY]: 'two\nlines' }, fallback, now)).toBe(
        `${fallback}\n\n${now}`,
      );
    });
  });

  describe('activity and timer summaries', () => {
    it('name candidates and vendors by position, reminders by kind and number', () => {
      expect(activitySummary.hold(2)).toBe('hold for candidate 2');
      expect(activitySummary.sendOffer(2, 'SMS')).toBe('send offer to candidate 2 by SMS');
      expect(activitySummary.offerVendor(1)).toBe('offer the order to vendor 1');
      expect(activitySummary.paymentReminder('OVERDUE', 2)).toBe('payment reminder OVERDUE #2');
      expect(activitySummary.deliverWebhook(5)).toBe('deliver webhook, up to 5 attempts');
      expect(timerSummary.holdExpires('2026-12-02T14:45:00Z')).toBe('hold expires 14:45 UTC');
      expect(timerSummary.vendorDeadline('2026-12-02T10:12:00Z')).toBe('vendor response deadline 10:12 UTC');
      expect(timerSummary.reminderDue(2, '2026-12-02T09:00:00Z')).toBe('reminder #2 due Wed 2 Dec 09:00 UTC');
      expect(activitySummary.reminderStep(2, 3, 'LOVELACE')).toBe('send reminder step 2 of 3 (custom)');
      expect(timerSummary.requestAnswerBound('30 seconds')).toBe('answer the request within 30 seconds');
    });

    it('name onboarding steps and their undos by place and purpose', () => {
      expect(activitySummary.onboardingStep(4, 8, 'createBillingCustomer')).toBe(
        'step 4 of 8: create the billing customer',
      );
      expect(activitySummary.onboardingUndo('deleteBillingCustomer')).toBe('undo: delete the billing customer');
      expect(activitySummary.recordApproval('approved')).toBe('record the approval decision: APPROVED');
    });
  });
});
