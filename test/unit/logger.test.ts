import { Writable } from 'node:stream';
import { createLogger, scrubText } from '../../lib/logger';

function capturingLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const logger = createLogger({ logLevel: 'debug' }, 'test', { destination });
  return {
    logger,
    records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    text: () => lines.join(''),
  };
}

describe('logger redaction', () => {
  it('redacts credential and personal keys at any depth, in arrays too', () => {
    const { logger, records } = capturingLogger();

    logger.info(
      {
        input: { deep: { token: 'secret-1', list: [{ password: 'secret-2', email: 'a@b.test' }] } },
        headers: { authorization: 'Bearer x', cookie: 'sid=1' },
        customerName: 'Ada Lovelace',
        recipient: '+14155550101',
        taskToken: 'abc',
        count: 3,
      },
      'hello',
    );

    expect(records()[0]).toMatchObject({
      input: { deep: { token: '[redacted]', list: [{ password: '[redacted]', email: '[redacted]' }] } },
      headers: { authorization: '[redacted]', cookie: '[redacted]' },
      customerName: '[redacted]',
      recipient: '[redacted]',
      taskToken: '[redacted]',
      count: 3,
      msg: 'hello',
    });
  });

  it('removes query strings from absolute URLs and credential parameters from relative ones', () => {
    expect(scrubText('GET https://holdfast.test/api/v1/offers/respond?token=abc&decision=accept done')).toBe(
      'GET https://holdfast.test/api/v1/offers/respond?[query removed] done',
    );
    expect(scrubText('/api/v1/invitations/accept?token=abc&lang=en')).toBe(
      '/api/v1/invitations/accept?token=[redacted]&lang=en',
    );
    expect(scrubText('postgresql://holdfast:s3cret@db:5432/holdfast')).toBe(
      'postgresql://holdfast:[redacted]@db:5432/holdfast',
    );
  });

  it('replaces tokens, JWTs, e-mail addresses and phone numbers inside any text', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJl';
    const offerToken = 'v2.eyJ0IjoidC0xIiwiaCI6ImgtMSJ9.SJxdSQ6-Gp2Uu1_ozYqJLxmkoEQFhSU1KEQ3DctSBxM';
    const invitationToken = 'LLuCsWJwW8GLpNdZKx6N8DXpNn-JXzZ7FL3FVKlNuHg';

    const scrubbed = scrubText(
      `Bearer ${jwt} / ${offerToken} / ${invitationToken} / ada@clinic.test / ada%40clinic.test / +1 415 555 0101`,
    );

    expect(scrubbed).toBe('Bearer [redacted] / [redacted] / [redacted] / [email] / [email] / [phone]');
  });

  it('keeps the identifiers that make logs useful: UUIDs, workflow IDs, hashes, task queues and timestamps', () => {
    const text =
      'waitlist-cascade:t-5f1c2f7e-0c39-4b7b-9a1c-0c3f8e3e2f10:0b0e6d52-3c44-4c1b-9e51-1f0b8c2a7d11 ' +
      'test-5f1c2f7e-0c39-4b7b-9a1c-0c3f8e3e2f10 2622d6d02b0e6ba581a05468fdd47aadcb77a68d192d4209efdbaada44a495a7 ' +
      '2026-12-01T22:12:01.000+01:00 WorkflowExecutionAlreadyStartedError node_modules/@temporalio/worker/lib/worker.js:735';

    expect(scrubText(text)).toBe(text);
  });

  it('an Error keeps its type and message, with contact details scrubbed, under err and any other key', () => {
    const { logger, records } = capturingLogger();
    const error = Object.assign(new Error('No such mailbox: ada@clinic.test'), { code: 'EENVELOPE', phone: '+1' });

    logger.error({ err: error }, 'send failed');
    logger.warn({ error }, 'activity failed');
    logger.error(error);

    const [first, second, third] = records() as Array<Record<string, Record<string, unknown>>>;
    for (const serialized of [first!.err, second!.error, third!.err]) {
      expect(serialized).toMatchObject({
        type: 'Error',
        message: 'No such mailbox: [email]',
        code: 'EENVELOPE',
        phone: '[redacted]',
      });
    }
    expect(third!.msg).toBe('No such mailbox: [email]');
  });

  it('child bindings are scrubbed as well', () => {
    const { logger, text } = capturingLogger();

    logger.child({ contact: 'vendor@shop.test', note: 'call +14155550123' }).info('bound');

    expect(text()).not.toMatch(/vendor@shop\.test|14155550123/);
  });
});
