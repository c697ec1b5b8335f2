import { z } from 'zod';
import { answer, check, expectAnswer, http, note, poll, stamp, step, temporalQuery, type DemoTokens } from './tour';

const accepted = z.object({ exportId: z.string(), workflowId: z.string() });
const progress = z.object({
  status: z.string(),
  progress: z.object({ rowsDone: z.number(), rowsTotal: z.number().nullable(), percent: z.number().nullable() }),
  file: z.object({ bytes: z.number(), sha256: z.string().nullable() }).nullable(),
});
const link = z.object({ url: z.string(), expiresAt: z.string() });

/**
 * The demo tenant exports its orders to CSV, watches its progress, reads the export's state from its
 * workflow with the Temporal CLI, downloads the file with its token, and fetches it again through a
 * short-lived signed link that needs no token.
 */
export async function exportsTour({ tenant }: DemoTokens): Promise<void> {
  step('exports: export the orders to CSV');
  const started = await expectAnswer(
    {
      method: 'POST',
      path: '/api/v1/exports',
      token: tenant,
      headers: { 'Idempotency-Key': `orders-csv-${stamp}` },
      body: { entities: ['orders'], format: 'csv' },
    },
    [202],
    accepted,
  );
  note(`EXPORT=${started.exportId}`);

  step('exports: watch it until it is COMPLETED');
  const done = await poll(
    'the export was not COMPLETED',
    (quiet) => answer({ path: `/api/v1/exports/${started.exportId}`, token: tenant }, progress, quiet),
    (value) => value.status === 'COMPLETED' || value.status === 'FAILED',
  );
  check(done.status === 'COMPLETED' && done.file, `the export ended ${done.status}`);
  note(`${done.progress.rowsDone} rows, ${done.file.bytes} bytes`);

  step('exports: its workflow answers the same through the Temporal CLI');
  const state = conformingState(await temporalQuery(started.workflowId, 'exportState', false));
  check(state.status === 'COMPLETED', `the workflow says ${state.status}`);

  step('exports: download the file');
  const file = await http({ path: `/api/v1/exports/${started.exportId}/download`, token: tenant });
  check(file.status === 200 && typeof file.body === 'string', `expected the CSV, got HTTP ${file.status}`);
  check(Buffer.byteLength(file.body) === done.file.bytes, `expected ${done.file.bytes} bytes`);
  check(file.body.startsWith('entity,id,'), 'the file does not start with the CSV header');
  note(`header: ${file.body.slice(0, file.body.indexOf('\r\n'))}`);

  step('exports: a signed link fetches it without a token');
  const signed = await expectAnswer(
    { method: 'POST', path: `/api/v1/exports/${started.exportId}/link`, token: tenant },
    [201],
    link,
  );
  const viaLink = await http({ path: new URL(signed.url).pathname });
  check(viaLink.status === 200 && viaLink.body === file.body, 'the link did not serve the same file');
  note(`the link works until ${signed.expiresAt}`);
}

function conformingState(value: unknown): { status: string } {
  const parsed = z.object({ status: z.string() }).safeParse(value);
  check(parsed.success, `unexpected query answer ${JSON.stringify(value)}`);
  return parsed.data;
}
