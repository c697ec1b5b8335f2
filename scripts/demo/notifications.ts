import { randomUUID } from 'node:crypto';
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

const accepted = z.object({ notificationId: z.string(), workflowId: z.string() });
const shown = z.object({ id: z.string(), status: z.string(), attempts: z.number(), sentAt: z.string().nullable() });

/**
 * The application sends an email from a template through the API alone, repeats the request with the same
 * Idempotency-Key (one message arrives), reads what became of it, then schedules one for tomorrow and
 * cancels it while its workflow waits on its timer.
 */
export async function notificationsTour({ tenant }: DemoTokens): Promise<void> {
  const customer = `notify-${stamp}@example.test`;
  const key = `welcome-${stamp}`;
  const request = {
    channel: 'EMAIL',
    to: customer,
    template: 'generic.message',
    data: { subject: `Welcome aboard (${stamp})`, body: 'Your account is ready.' },
    priority: 'high',
  };

  step('notifications: send an email now, twice with the same Idempotency-Key');
  const from = since();
  const call = {
    method: 'POST' as const,
    path: '/api/v1/notifications',
    token: tenant,
    headers: { 'Idempotency-Key': key },
  };
  const first = await expectAnswer({ ...call, body: request }, [202], accepted);
  const again = await expectAnswer({ ...call, body: request }, [202], accepted);
  check(again.notificationId === first.notificationId, 'the repeat made another notification');
  note(`NOTIFICATION=${first.notificationId}  # the repeat answered the same one`);

  step('notifications: one email arrives, and the notification shows SENT');
  const message = await awaitMessage(tenant, from, { to: customer });
  check(message.subject?.includes(stamp), `unexpected subject ${message.subject}`);
  const sent = await poll(
    'the notification was not SENT',
    (quiet) => answer({ path: `/api/v1/notifications/${first.notificationId}`, token: tenant }, shown, quiet),
    (value) => value.status === 'SENT',
  );
  note(`status ${sent.status} after ${sent.attempts} attempt(s), sent at ${sent.sentAt}`);

  step('notifications: schedule one for tomorrow, then cancel it while its workflow waits');
  const later = await expectAnswer(
    {
      method: 'POST',
      path: '/api/v1/notifications',
      token: tenant,
      headers: { 'Idempotency-Key': `reminder-${stamp}-${randomUUID().slice(0, 8)}` },
      body: { channel: 'SMS', to: '+14155550100', text: 'See you tomorrow at 10:00.', delay: '24h' },
    },
    [202],
    accepted,
  );
  const scheduled = await answer(
    { path: `/api/v1/notifications/${later.notificationId}`, token: tenant },
    shown,
    false,
  );
  check(scheduled.status === 'SCHEDULED', `expected SCHEDULED, got ${scheduled.status}`);
  const cancelled = await expectAnswer(
    { method: 'POST', path: `/api/v1/notifications/${later.notificationId}/cancel`, token: tenant },
    [200],
    shown,
  );
  check(cancelled.status === 'CANCELLED', `expected CANCELLED, got ${cancelled.status}`);
  await temporalQuery(later.workflowId, 'getNotificationState', false);
}
