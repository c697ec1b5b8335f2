import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { outboxLine } from '../../domain/outbox';
import { closeServer, collectBody, listenOn } from './ports';

export interface DevSmsSinkOptions {
  /** 0 picks a free port. */
  port: number;
  /** The JSONL dev outbox; created if missing. */
  outboxFile: string;
  host?: string;
  /** When set, requests must carry `Authorization: Bearer <token>`. */
  token?: string;
  /** What the outbox records the messages as; default `sms`. The WhatsApp provider speaks the same API. */
  channel?: 'sms' | 'whatsapp';
}

export interface DevSmsSinkHandle {
  /** What SMS_PROVIDER_URL should be. */
  url: string;
  stop(): Promise<void>;
}

const MAX_BODY_BYTES = 64 * 1024;

/**
 * A local stand-in for the SMS (or WhatsApp) provider, speaking the same API as the real one
 * (activities/sms-provider.ts): `POST /messages` with JSON `{ to, body }`, answered `201 { id }`.
 * A repeated `Idempotency-Key` gets the first message's ID back and is not recorded twice.
 * Each message is appended to the dev outbox with its `Idempotency-Key`, which names the
 * Notification row and so tells the outbox route whose tenant sent it. Development only.
 */
export async function startDevSmsSink(options: DevSmsSinkOptions): Promise<DevSmsSinkHandle> {
  fs.mkdirSync(path.dirname(options.outboxFile), { recursive: true });
  const seen = new Map<string, string>();

  const server = http.createServer((req, res) => {
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST' || req.url !== '/messages') return answer(404, { error: 'not found' });
    if (options.token && req.headers.authorization !== `Bearer ${options.token}`) {
      return answer(401, { error: 'unauthorized' });
    }
    collectBody(req, MAX_BODY_BYTES, (raw) => {
      if (raw === undefined) return answer(413, { error: 'body too large' });
      let message: { to?: unknown; body?: unknown };
      try {
        message = JSON.parse(raw) as typeof message;
      } catch {
        return answer(400, { error: 'body is not JSON' });
      }
      if (typeof message.to !== 'string' || typeof message.body !== 'string') {
        return answer(422, { error: 'to and body are required strings' });
      }
      const key = req.headers['idempotency-key'];
      const earlier = typeof key === 'string' ? seen.get(key) : undefined;
      if (earlier) return answer(200, { id: earlier });
      const channel = options.channel ?? 'sms';
      const id = `${channel}_${randomUUID()}`;
      if (typeof key === 'string') seen.set(key, id);
      const line = outboxLine({
        channel,
        to: message.to,
        subject: null,
        text: message.body,
        sentAt: new Date().toISOString(),
        ...(typeof key === 'string' ? { idempotencyKey: key } : {}),
      });
      fs.promises.appendFile(options.outboxFile, line).then(
        () => answer(201, { id }),
        (error: unknown) => answer(500, { error: String(error) }),
      );
    });
  });

  const host = options.host ?? '127.0.0.1';
  await listenOn(server, options.port, host);
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    stop: () => closeServer(server),
  };
}
