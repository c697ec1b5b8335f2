import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../lib/config';
import { signDevToken } from '../../lib/dev-token';
import { seededRandom } from '../lib/catcher';
import type { HoldfastStack } from '../lib/holdfast-stack';
import { runCascadesUnderFault } from './cascades';
import { scenarioRandom, sleep, type ScenarioOptions, type ScenarioResult } from './common';

export const R7_TITLE = 'SMTP and webhook receivers that fail, hang and time out at random';

/** The offer's delivery policy (docs/waitlist-cascade.md): 5 attempts, 1 s doubling. */
const OFFER_MAIL_ATTEMPTS = 5;
/** The tenant's webhook retry profile for this run (docs/webhooks.md: Tenant.webhookMaxAttempts…). */
const WEBHOOK_ATTEMPTS = 4;
/** What the stack's worker gets as WEBHOOK_TIMEOUT; the receiver's hangs last longer. */
export const R7_WEBHOOK_TIMEOUT = '2 seconds';
const RECEIVER_HANG_MS = 4_000;

interface ReceivedDelivery {
  requests: number;
  /** Requests answered 2xx at once, well inside the sender's time-out. */
  answered2xx: number;
  /** Hung requests answered 2xx after the sender's time-out: it had given up, so not a delivery. */
  lateAnswers: number;
}

/**
 * A loopback webhook receiver that answers each request, at random (seeded): 500 (25 %), a hang
 * past the sender's time-out (15 %), or 204. It counts, per `webhook-id`, the requests and the 2xx
 * answers the client actually received.
 */
async function startFlakyReceiver(seed: number): Promise<{
  url: string;
  deliveries: Map<string, ReceivedDelivery>;
  counts: { failed: number; hung: number; ok: number };
  stop(): Promise<void>;
}> {
  const random = seededRandom(seed);
  const deliveries = new Map<string, ReceivedDelivery>();
  const counts = { failed: 0, hung: 0, ok: 0 };
  const server = http.createServer((req, res) => {
    const id = String(req.headers['webhook-id'] ?? 'none');
    const seen = deliveries.get(id) ?? { requests: 0, answered2xx: 0, lateAnswers: 0 };
    deliveries.set(id, seen);
    seen.requests += 1;
    const draw = random();
    req.resume();
    if (draw < 0.25) {
      counts.failed += 1;
      res.writeHead(500).end('bench fault');
      return;
    }
    if (draw < 0.4) {
      counts.hung += 1;
      setTimeout(() => {
        if (req.socket.destroyed) return;
        res.writeHead(204).end(() => {
          seen.lateAnswers += 1;
        });
      }, RECEIVER_HANG_MS);
      return;
    }
    counts.ok += 1;
    res.writeHead(204).end(() => {
      seen.answered2xx += 1;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    deliveries,
    counts,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function postJson(url: string, token: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, json: await response.json().catch(() => undefined) };
}

/**
 * R7, on a stack whose SMTP catcher refuses 25 % of messages (451/421) and stalls 15 % for a few
 * seconds, with WEBHOOK_TIMEOUT of 2 s: cascades (quick 20, full 60) send offers through it, and
 * events (quick 20, full 60) are delivered to a receiver that fails, hangs past the time-out or
 * answers. Pass, by each policy: every offer notification ends SENT (exactly one message caught)
 * or FAILED after its 5 attempts (its hold released, the cascade moved on); every webhook delivery
 * ends SUCCEEDED (the receiver answered one request 2xx) or FAILED after the tenant's 4 attempts
 * (never answered 2xx); no message or delivery received twice.
 */
export async function runFlakyDelivery(stack: HoldfastStack, options: ScenarioOptions): Promise<ScenarioResult> {
  const random = scenarioRandom(options.seed, 'R7');
  const eventCount = options.quick ? 20 : 60;
  const receiver = await startFlakyReceiver(Math.floor(random() * 1_000_000) + 1);
  const violations: string[] = [];
  const webhookFigures: Record<string, string | number> = {};
  try {
    await stack.prisma.tenant.update({
      where: { id: stack.tenantId },
      data: { webhookMaxAttempts: WEBHOOK_ATTEMPTS, webhookRetryInitialSeconds: 1, webhookFailureThreshold: 100_000 },
    });
    const config = loadConfig(stack.appEnv);
    const adminToken = await signDevToken(config.auth, {
      tenantId: stack.tenantId,
      roles: ['tenant-admin'],
      subject: 'bench:chaos-admin',
      expiresIn: '1h',
    });
    const runTag = Date.now().toString(36);
    const eventType = `chaos.ping${runTag.replace(/[^a-z]/g, '')}`.slice(0, 60);
    const registered = await postJson(`${stack.apiUrl}/api/v1/webhooks`, adminToken, {
      url: receiver.url,
      events: [eventType],
    });
    if (registered.status !== 201) throw new Error(`registering the receiver answered ${registered.status}`);
    const endpointId = (registered.json as { id: string }).id;

    const outcome = await runCascadesUnderFault({
      stack,
      count: options.quick ? 20 : 60,
      holdSeconds: 10,
      mix: { accept: 0.3, decline: 0.3 },
      random,
      finalTimeoutMs: options.quick ? 240_000 : 420_000,
      log: options.log,
      fault: async () => {
        // The webhook half runs while the cascades' offers fight the flaky SMTP server.
        for (let index = 0; index < eventCount; index += 1) {
          const reported = await postJson(`${stack.apiUrl}/api/v1/events`, stack.operatorToken, {
            id: `chaos-${runTag}-${index}`,
            type: eventType,
            subject: { type: 'chaos', id: String(index) },
            data: { index },
          });
          if (reported.status !== 202) violations.push(`event ${index} answered ${reported.status}`);
        }
        options.log(`${eventCount} events reported to a receiver at ${receiver.url}`);
      },
    });
    violations.push(...outcome.violations);

    // Deliveries: bounded wait until none is PENDING (4 attempts, 1 s doubling, 2 s time-outs: well under a minute).
    const deadline = Date.now() + 120_000;
    let deliveries = await stack.prisma.webhookDelivery.findMany({ where: { endpointId } });
    while (
      Date.now() < deadline &&
      (deliveries.length < eventCount || deliveries.some((d) => d.status === 'PENDING'))
    ) {
      await sleep(1_000);
      deliveries = await stack.prisma.webhookDelivery.findMany({ where: { endpointId } });
    }
    if (deliveries.length !== eventCount) violations.push(`${deliveries.length}/${eventCount} deliveries recorded`);
    for (const delivery of deliveries) {
      const received = receiver.deliveries.get(delivery.id) ?? { requests: 0, answered2xx: 0, lateAnswers: 0 };
      const attemptLog = async () =>
        (
          await stack.prisma.webhookAttempt.findMany({
            where: { deliveryId: delivery.id },
            orderBy: { startedAt: 'asc' },
            select: { statusCode: true, error: true },
          })
        )
          .map((attempt) => attempt.statusCode ?? attempt.error ?? '?')
          .join(', ');
      const seen = `receiver: ${received.requests} requests, ${received.answered2xx} answered 2xx; recorded: ${await attemptLog()}`;
      if (received.answered2xx > 1) violations.push(`delivery ${delivery.id} delivered twice (${seen})`);
      else if (delivery.status === 'SUCCEEDED' && received.answered2xx !== 1) {
        violations.push(`delivery ${delivery.id} SUCCEEDED without a 2xx (${seen})`);
      } else if (delivery.status === 'FAILED') {
        if (received.answered2xx > 0) violations.push(`delivery ${delivery.id} FAILED after a 2xx (${seen})`);
        if (delivery.attempts !== WEBHOOK_ATTEMPTS) {
          violations.push(
            `delivery ${delivery.id} FAILED after ${delivery.attempts}, not ${WEBHOOK_ATTEMPTS}, attempts (${seen})`,
          );
        }
      } else if (delivery.status !== 'SUCCEEDED') {
        violations.push(`delivery ${delivery.id} ended ${delivery.status} (${seen})`);
      }
      if (received.requests > WEBHOOK_ATTEMPTS)
        violations.push(`delivery ${delivery.id} sent ${received.requests} times`);
    }
    Object.assign(webhookFigures, {
      webhookDeliveries: deliveries.length,
      webhookSucceeded: deliveries.filter((d) => d.status === 'SUCCEEDED').length,
      webhookFailedForGood: deliveries.filter((d) => d.status === 'FAILED').length,
      receiverRequests: [...receiver.deliveries.values()].reduce((sum, d) => sum + d.requests, 0),
      receiverFaults: `500 ×${receiver.counts.failed}, hung ×${receiver.counts.hung}`,
      receiverLateAnswers: [...receiver.deliveries.values()].reduce((sum, d) => sum + d.lateAnswers, 0),
    });

    // Offer messages, by the notification policy.
    const notifications = await stack.prisma.notification.findMany({
      where: { idempotencyKey: { in: outcome.holds.map((hold) => `offer:${hold.id}:email`) } },
      select: { id: true, status: true, attempts: true, idempotencyKey: true },
    });
    const caughtPerNotification = new Map<string, number>();
    for (const message of stack.catcher.messages()) {
      if (message.notificationId) {
        caughtPerNotification.set(message.notificationId, (caughtPerNotification.get(message.notificationId) ?? 0) + 1);
      }
    }
    for (const row of notifications) {
      const caught = caughtPerNotification.get(row.id) ?? 0;
      if (row.status === 'SENT' && caught !== 1) violations.push(`${row.idempotencyKey} SENT, caught ${caught} times`);
      else if (row.status === 'FAILED' && row.attempts !== OFFER_MAIL_ATTEMPTS) {
        violations.push(`${row.idempotencyKey} FAILED after ${row.attempts}, not ${OFFER_MAIL_ATTEMPTS}, attempts`);
      } else if (row.status !== 'SENT' && row.status !== 'FAILED') {
        violations.push(`${row.idempotencyKey} ended ${row.status}`);
      }
    }
    const faults = stack.catcher.faults();
    return {
      id: 'R7',
      title: R7_TITLE,
      passed: violations.length === 0,
      figures: {
        ...outcome.figures,
        offerMailsSent: notifications.filter((row) => row.status === 'SENT').length,
        offerMailsFailedForGood: notifications.filter((row) => row.status === 'FAILED').length,
        smtpFaults: `refused ×${faults.refused}, stalled ×${faults.stalled}`,
        ...webhookFigures,
      },
      violations,
    };
  } finally {
    await receiver.stop();
  }
}
