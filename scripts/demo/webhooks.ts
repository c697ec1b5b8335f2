import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { verifyWebhookSignature } from '../../lib/webhook-signature';
import { answer, check, expectAnswer, note, poll, stamp, step, type DemoTokens } from './tour';

const registered = z.object({ id: z.string(), secret: z.string() });
const deliveries = z.object({
  deliveries: z.array(
    z.object({ status: z.string(), attempts: z.array(z.object({ statusCode: z.number().nullable() })) }),
  ),
});

interface Received {
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A receiver on loopback, as the tenant's own would be (development allows loopback targets). */
async function startReceiver(): Promise<{ url: string; received: Received[]; stop: () => Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/holdfast`,
    received,
    stop: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * A tenant admin registers a webhook, reports a `ticket.created` event, sees it arrive signed at
 * the receiver and verifies it with verifyWebhookSignature; the delivery log shows the attempt.
 */
export async function webhooksTour({ tenant }: DemoTokens): Promise<void> {
  const receiver = await startReceiver();
  try {
    step(`webhooks: register the receiver at ${receiver.url} for ticket.created`);
    const endpoint = await expectAnswer(
      {
        method: 'POST',
        path: '/api/v1/webhooks',
        token: tenant,
        body: { url: receiver.url, events: ['ticket.created'], description: 'demo receiver' },
      },
      [201],
      registered,
    );
    note(`ENDPOINT=${endpoint.id}  # the secret (whsec_…) is in this answer only`);

    step('webhooks: the application reports a ticket.created event');
    await expectAnswer(
      {
        method: 'POST',
        path: '/api/v1/events',
        token: tenant,
        body: {
          id: `ticket-${stamp}`,
          type: 'ticket.created',
          subject: { type: 'ticket', id: `T-${stamp}` },
          data: { title: 'Boiler makes a noise', priority: 'high' },
        },
      },
      [202],
      z.unknown(),
    );

    step('webhooks: the receiver gets it signed, and verifyWebhookSignature accepts it');
    await poll(
      'the receiver got no delivery',
      () => Promise.resolve(receiver.received.length),
      (count) => count > 0,
    );
    const [delivery] = receiver.received;
    const verified = verifyWebhookSignature(endpoint.secret, delivery!.headers, delivery!.body);
    const body = JSON.parse(delivery!.body.toString('utf8')) as { type?: string };
    check(body.type === 'ticket.created', `expected a ticket.created delivery, got ${body.type}`);
    note(
      `webhook-id ${verified.id}, webhook-signature ${String(delivery!.headers['webhook-signature']).slice(0, 12)}… verified`,
    );

    step('webhooks: the delivery log shows the attempt');
    await poll(
      'the delivery did not succeed',
      (quiet) => answer({ path: `/api/v1/webhooks/${endpoint.id}/deliveries`, token: tenant }, deliveries, quiet),
      (answer) => answer.deliveries.some((entry) => entry.status === 'SUCCEEDED'),
    );
  } finally {
    await receiver.stop();
  }
}
