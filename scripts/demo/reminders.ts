import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { answer, awaitMessage, check, expectAnswer, note, poll, since, stamp, step, type DemoTokens } from './tour';

const DAY_MS = 24 * 60 * 60 * 1000;

const created = z.object({ reminderId: z.string(), workflowId: z.string() });
const reminder = z.object({
  status: z.string(),
  plan: z.array(z.object({ kind: z.string(), status: z.string() })),
});

/** A settlement reminder sends its first message at once, shows its schedule, and stops when completed. */
export async function remindersTour({ tenant }: DemoTokens): Promise<void> {
  const payer = `payer.${stamp}@example.test`;

  step('reminders: start a settlement reminder sequence that notifies at once');
  const started = since();
  const { reminderId, workflowId } = await expectAnswer(
    {
      method: 'POST',
      path: '/api/v1/reminders',
      token: tenant,
      headers: { 'Idempotency-Key': `demo-${randomUUID()}` },
      body: {
        subject: { type: 'settlement', id: `S-${stamp}` },
        recipient: { channel: 'EMAIL', to: payer, name: 'Corner Shop' },
        template: 'settlement.reminder',
        data: { reference: `S-${stamp}`, amountDue: 250000 },
        dueAt: new Date(Date.now() + 10 * DAY_MS).toISOString(),
        notifyOnCreate: true,
        steps: [
          { at: '-2d', kind: 'DUE_SOON' },
          { at: '0', kind: 'DUE' },
          { every: '3d', from: '+3d', until: '+12d', kind: 'OVERDUE' },
          { at: '+14d', kind: 'FINAL_NOTICE' },
        ],
      },
    },
    [202],
    created,
  );
  note(`REMINDER=${reminderId} (workflow ${workflowId})`);

  step('reminders: the first message reaches the payer');
  await awaitMessage(tenant, started, { to: payer });

  step('reminders: the sequence shows the message sent and the later steps scheduled');
  const read = (quiet: boolean) => answer({ path: `/api/v1/reminders/${reminderId}`, token: tenant }, reminder, quiet);
  const running = await poll(
    'the first step was not recorded as sent',
    read,
    (current) => current.plan[0]?.status === 'sent',
  );
  check(
    running.plan.slice(1).every((planned) => planned.status === 'scheduled'),
    `expected the later steps scheduled: ${JSON.stringify(running.plan)}`,
  );
  note(running.plan.map((planned) => `${planned.kind} ${planned.status}`).join(', '));

  step('reminders: the settlement is paid; completing the reminder stops every later step');
  await expectAnswer(
    {
      method: 'POST',
      path: `/api/v1/reminders/${reminderId}/complete`,
      token: tenant,
      body: { reason: 'settled' },
    },
    [200],
    z.object({ status: z.literal('COMPLETED') }),
  );
  const done = await poll('the reminder did not close as COMPLETED', read, (current) => current.status === 'COMPLETED');
  check(
    done.plan.slice(1).every((planned) => planned.status === 'cancelled'),
    `expected the later steps cancelled: ${JSON.stringify(done.plan)}`,
  );
}
