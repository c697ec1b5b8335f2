import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { notificationIdOfMessageId, outboxLine } from '../../domain/outbox';
import { listenOn } from './ports';

export interface DevMailCatcherOptions {
  /** 0 picks a free port. */
  port: number;
  /** The JSONL dev outbox; created if missing. */
  outboxFile: string;
  host?: string;
}

export interface DevMailCatcherHandle {
  port: number;
  stop(): Promise<void>;
}

/**
 * A real SMTP server on loopback that accepts every message, parses it, and appends one outbox
 * record per envelope recipient, so `GET /api/v1/dev/outbox` can show what Holdfast sent. The
 * record keeps the Notification row named by the Message-ID, which tells the outbox route whose
 * tenant sent it. Development only: no TLS, no authentication.
 */
export async function startDevMailCatcher(options: DevMailCatcherOptions): Promise<DevMailCatcherHandle> {
  fs.mkdirSync(path.dirname(options.outboxFile), { recursive: true });
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    // A dev tool: stopping should not wait long for idle clients.
    closeTimeout: 2_000,
    onData(stream, session, callback) {
      simpleParser(stream)
        .then(async (mail) => {
          const sentAt = new Date().toISOString();
          const notificationId = notificationIdOfMessageId(mail.messageId);
          const lines = session.envelope.rcptTo.map((recipient) =>
            outboxLine({
              channel: 'email',
              to: recipient.address,
              subject: mail.subject ?? null,
              text: mail.text ?? '',
              sentAt,
              ...(notificationId ? { notificationId } : {}),
            }),
          );
          await fs.promises.appendFile(options.outboxFile, lines.join(''));
          callback();
        })
        .catch((error: unknown) => callback(error instanceof Error ? error : new Error(String(error))));
    },
  });
  const host = options.host ?? '127.0.0.1';
  await listenOn(server, options.port, host);
  // A sender that drops its connection mid-message (a worker killed while sending) is that sender's
  // problem: its retry sends again. Without a listener the server's 'error' event would end this process.
  server.on('error', () => undefined);
  const { port } = server.server.address() as AddressInfo;
  return { port, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
