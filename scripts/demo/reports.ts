import { z } from 'zod';
import { awaitMessage, check, expectAnswer, http, note, since, stamp, step, type DemoTokens } from './tour';

const schedule = z.object({
  id: z.string(),
  scheduleId: z.string(),
  state: z.string(),
  nextRuns: z.array(z.string()),
});

/**
 * The demo tenant creates a weekly PDF report on a Temporal Schedule, runs it now instead of waiting for
 * Monday, receives the email with its download link, fetches the PDF through that link, and deletes the
 * schedule.
 */
export async function reportsTour({ tenant }: DemoTokens): Promise<void> {
  const recipient = `reports-${stamp}@example.test`;

  step('reports: a weekly PDF report of the order volume, every Monday at 08:00 in Kathmandu');
  const created = await expectAnswer(
    {
      method: 'POST',
      path: '/api/v1/report-schedules',
      token: tenant,
      headers: { 'Idempotency-Key': `weekly-orders-${stamp}` },
      body: {
        type: 'order-volume',
        format: 'pdf',
        cron: '0 8 * * 1',
        timezone: 'Asia/Kathmandu',
        notifyEmail: recipient,
      },
    },
    [201],
    schedule,
  );
  note(`REPORT_SCHEDULE=${created.id}  # Temporal Schedule ${created.scheduleId}, next run ${created.nextRuns[0]}`);

  step('reports: run it now; the PDF arrives by email with a download link');
  const from = since();
  await expectAnswer(
    { method: 'POST', path: `/api/v1/report-schedules/${created.id}/trigger`, token: tenant },
    [202],
    z.unknown(),
  );
  const message = await awaitMessage(tenant, from, { to: recipient });
  const link = message.links.find((candidate) => candidate.includes('/api/v1/downloads/'));
  check(link, `the email has no download link: ${message.links.join(', ')}`);

  step('reports: the link serves the PDF, no token needed');
  const pdf = await http({ path: new URL(link).pathname });
  check(
    pdf.status === 200 && typeof pdf.body === 'string' && pdf.body.startsWith('%PDF'),
    'the link did not serve a PDF',
  );
  note(`${pdf.body.length} bytes of PDF`);

  step('reports: delete the schedule');
  await expectAnswer(
    { method: 'DELETE', path: `/api/v1/report-schedules/${created.id}`, token: tenant },
    [204],
    z.unknown(),
  );
}
