import { z } from 'zod';
import {
  awaitMessage,
  check,
  expectAnswer,
  note,
  poll,
  answer,
  since,
  stamp,
  step,
  temporalQuery,
  type DemoTokens,
} from './tour';

const reported = z.object({ eventId: z.string(), workflowId: z.string(), duplicate: z.boolean() });
const shownEvent = z.object({
  fanOut: z
    .object({ status: z.string(), rules: z.array(z.object({ ruleId: z.string(), outcome: z.string() })) })
    .nullable(),
  notifications: z.array(z.object({ id: z.string(), status: z.string() })),
});

/**
 * A tenant admin adds a notification rule ("on ticket.created, email the customer"), the application
 * reports a ticket.created event twice, and one email reaches the customer; the event shows what its
 * fan-out did, and so does the fan-out workflow's query.
 */
export async function eventsTour({ tenant }: DemoTokens): Promise<void> {
  const customer = `customer-${stamp}@example.test`;

  step('events: a notification rule emails the customer on ticket.created');
  // The condition keeps this run's rule to this run's events, however often the tour runs.
  const rule = await expectAnswer(
    {
      method: 'POST',
      path: '/api/v1/notification-rules',
      token: tenant,
      body: {
        name: `Tell the customer (${stamp})`,
        eventType: 'ticket.created',
        condition: { path: 'demoRun', equals: stamp },
        channel: 'EMAIL',
        template: 'ticket.update',
        recipientPath: 'customer.email',
        priority: 'high',
      },
    },
    [201],
    z.object({ id: z.string() }),
  );
  note(`RULE=${rule.id}`);

  step('events: the application reports ticket.created, twice with the same id');
  const from = since();
  const event = {
    id: `ticket-${stamp}-created`,
    type: 'ticket.created',
    subject: { type: 'ticket', id: `T-${stamp}` },
    data: {
      demoRun: stamp,
      tenantName: 'Demo Clinic',
      recipientName: 'Ada',
      ticketRef: `T-${stamp}`,
      status: 'created',
      message: 'We will call you within the hour.',
      customer: { email: customer },
    },
  };
  const first = await expectAnswer(
    { method: 'POST', path: '/api/v1/events', token: tenant, body: event },
    [202],
    reported,
  );
  const again = await expectAnswer(
    { method: 'POST', path: '/api/v1/events', token: tenant, body: event },
    [202],
    reported,
  );
  check(!first.duplicate && again.duplicate && again.eventId === first.eventId, 'the repeat was not the same event');
  note(`EVENT=${first.eventId}  # the repeat answered duplicate: true`);

  step('events: the customer gets one email');
  const message = await awaitMessage(tenant, from, { to: customer });
  check(message.subject?.includes(`T-${stamp}`), `unexpected subject ${message.subject}`);

  step('events: the event shows what its fan-out did');
  const shown = await poll(
    'the fan-out did not complete',
    (quiet) => answer({ path: `/api/v1/events/${first.eventId}`, token: tenant }, shownEvent, quiet),
    (value) => value.fanOut?.status === 'COMPLETED' && value.notifications.length === 1,
  );
  check(
    shown.fanOut?.rules.some((entry) => entry.ruleId === rule.id && entry.outcome === 'ENQUEUED'),
    'the rule was not served',
  );
  await temporalQuery(first.workflowId, 'getFanOutState', false);
}
