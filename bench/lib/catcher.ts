import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { notificationIdOfMessageId } from '../../domain/outbox';
import { listenOn } from '../../scripts/stack/ports';
import type { CaughtMessage, MessageCatcher } from './arm';

/**
 * The bench's SMTP server: takes every message the arm sends, stamps when it arrived and reads
 * the offer token off its response links, so the harness can tell when a candidate was told and
 * answer as that candidate. With `fault` it also misbehaves on purpose (fault battery R7).
 */

/** How the catcher misbehaves, per message; rates are probabilities between 0 and 1. */
export interface CatcherFault {
  /** Refuse the message with a temporary error (a code from `failCodes`). */
  failRate: number;
  /** Stall `hangMs` before answering; the message is then accepted (the client may have given up by then). */
  hangRate: number;
  hangMs: number;
  /** Temporary error codes to answer with, chosen at random; default 451 and 421. */
  failCodes?: readonly number[];
  /** Seed of the random choices, so a run can be repeated exactly (default 1). */
  seed?: number;
}

export interface MessageCatcherOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  fault?: CatcherFault;
}

/** A caught message with what the bench needs beyond the contract. */
export interface BenchCaughtMessage extends CaughtMessage {
  /** The Notification row the Message-ID names (domain/outbox.ts), when it names one. */
  notificationId?: string;
  messageId?: string;
  /** How long the catcher stalled before accepting it (a hang fault), if it did. */
  stalledMs?: number;
}

export interface FaultCounts {
  /** Messages refused with a temporary error. */
  refused: number;
  /** Messages whose answer was stalled. */
  stalled: number;
}

export interface BenchMessageCatcher extends MessageCatcher {
  port: number;
  messages(): readonly BenchCaughtMessage[];
  onMessage(listener: (message: BenchCaughtMessage) => void): () => void;
  /** The caught message carrying `offerToken`, if any. */
  byOfferToken(offerToken: string): BenchCaughtMessage | undefined;
  faults(): FaultCounts;
  /** Forgets the messages caught so far (between rounds). */
  clear(): void;
}

const OFFER_LINK = /\/api\/v1\/offers\/respond\?([^\s"'<>]+)/g;

/** The offer token of the first `/api/v1/offers/respond?token=…&decision=…` link in `text`. */
export function offerTokenOf(text: string): string | undefined {
  for (const match of text.matchAll(OFFER_LINK)) {
    const query = match[1]!.replace(/&amp;/g, '&');
    const token = new URLSearchParams(query).get('token');
    if (token) return token;
  }
  return undefined;
}

/** mulberry32: a small seeded PRNG, so the same seed fails the same messages. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class TemporaryFailure extends Error {
  constructor(
    readonly responseCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Starts the catcher on 127.0.0.1 (no TLS, no authentication: loopback only). */
export async function startMessageCatcher(options: MessageCatcherOptions): Promise<BenchMessageCatcher> {
  const caught: BenchCaughtMessage[] = [];
  const byToken = new Map<string, BenchCaughtMessage>();
  const listeners = new Set<(message: BenchCaughtMessage) => void>();
  const counts: FaultCounts = { refused: 0, stalled: 0 };
  const fault = options.fault;
  const random = seededRandom(fault?.seed ?? 1);
  const failCodes = fault?.failCodes?.length ? fault.failCodes : [451, 421];

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    // Every sender of a bench run connects at once; the default of 100 would refuse some.
    maxClients: 10_000,
    closeTimeout: 2_000,
    onData(stream, session, callback) {
      // Draw every choice for every message, so the sequence of faults depends on the seed only.
      const failDraw = random();
      const hangDraw = random();
      const codeDraw = random();
      simpleParser(stream)
        .then(async (mail) => {
          if (fault && failDraw < fault.failRate) {
            counts.refused += 1;
            const code = failCodes[Math.floor(codeDraw * failCodes.length)]!;
            throw new TemporaryFailure(code, `${code === 421 ? '4.4.2' : '4.3.0'} Temporary failure (bench fault)`);
          }
          let stalledMs: number | undefined;
          if (fault && hangDraw < fault.hangRate) {
            counts.stalled += 1;
            stalledMs = fault.hangMs;
            await new Promise((resolve) => setTimeout(resolve, fault.hangMs));
          }
          const receivedAt = Date.now();
          const text = mail.text ?? '';
          const offerToken = offerTokenOf(text) ?? offerTokenOf(typeof mail.html === 'string' ? mail.html : '');
          const notificationId = notificationIdOfMessageId(mail.messageId);
          for (const recipient of session.envelope.rcptTo) {
            const message: BenchCaughtMessage = {
              to: recipient.address,
              subject: mail.subject ?? '',
              text,
              receivedAt,
              ...(offerToken ? { offerToken } : {}),
              ...(notificationId ? { notificationId } : {}),
              ...(mail.messageId ? { messageId: mail.messageId } : {}),
              ...(stalledMs !== undefined ? { stalledMs } : {}),
            };
            caught.push(message);
            if (offerToken && !byToken.has(offerToken)) byToken.set(offerToken, message);
            for (const listener of listeners) {
              try {
                listener(message);
              } catch {
                // A listener's bug must not turn into an SMTP error the sender retries.
              }
            }
          }
          callback();
        })
        .catch((error: unknown) => callback(error instanceof Error ? error : new Error(String(error))));
    },
  });
  await listenOn(server, options.port, options.host ?? '127.0.0.1');
  // A sender that drops its connection mid-message (a worker killed while sending) is that sender's
  // problem: its retry sends again. Without a listener the server's 'error' event would end this process.
  server.on('error', () => undefined);
  const { port } = server.server.address() as AddressInfo;

  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages: () => caught,
    onMessage(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    byOfferToken: (offerToken) => byToken.get(offerToken),
    faults: () => ({ ...counts }),
    clear() {
      caught.length = 0;
      byToken.clear();
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
