import fs from 'node:fs';
import path from 'node:path';
import { startBullArm, type BullArm, type BullArmName } from '../../bench/bullmq/arm';
import { freePort } from '../../scripts/stack/ports';
import type { CaughtMessage } from '../../bench/lib/arm';
import { benchCandidateEmail, createBenchSlots } from '../../bench/lib/fixtures';

/**
 * The BullMQ baseline (bench arms B-poll and B-delay) against a real Redis and a real PostgreSQL,
 * each arm with its own processes: a release offers the slot, a decline and an expiry move it to
 * the next candidate, an accept assigns it, and no slot ever holds two live offers.
 */

const DATA_ROOT = '/tmp/bullmq/test';
/** The hold that is left to expire; the answered ones get {@link ANSWERED_HOLD_SECONDS}, so a busy machine cannot expire them first. */
const HOLD_SECONDS = 2;
const ANSWERED_HOLD_SECONDS = 60;
/** B-poll's interval here; the bench keeps the seed's 60 s. */
const POLL_EVERY_MS = 500;

async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const messageTo = (arm: BullArm, to: string) => (): CaughtMessage | undefined =>
  arm.catcher.messages().find((message) => message.to.includes(to) && message.offerToken !== undefined);

async function respond(arm: BullArm, token: string, decision: 'accept' | 'decline') {
  const response = await fetch(`${arm.apiUrl}/api/v1/offers/respond`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token, decision }),
  });
  return { status: response.status, body: (await response.json()) as { status?: string; error?: { code: string } } };
}

describe.each<[BullArmName]>([['B-poll'], ['B-delay']])('the BullMQ baseline, %s', (variant) => {
  let arm: BullArm;
  let maxLiveOffers = 0;
  let watching = true;
  let watcher: Promise<void> | undefined;

  beforeAll(async () => {
    const dataDir = path.join(DATA_ROOT, `${variant}-${Date.now()}`);
    fs.mkdirSync(dataDir, { recursive: true });
    // Ports the system hands out free: another test file runs beside this one.
    const ports = new Set<number>();
    while (ports.size < 5) ports.add(await freePort());
    const [api, postgres, smtp, redis, workerHealth] = [...ports] as [number, number, number, number, number];
    arm = await startBullArm(variant, {
      dataDir,
      ports: { api, postgres, smtp, redis, workerHealth },
      pollEveryMs: POLL_EVERY_MS,
    });
    // Counts live offers per slot all along, bounded by the test's own length.
    watcher = (async () => {
      const until = Date.now() + 110_000;
      while (watching && Date.now() < until) {
        const live = await arm.prisma.hold.groupBy({
          by: ['slotId'],
          where: { status: 'OFFERED' },
          _count: { _all: true },
        });
        for (const row of live) maxLiveOffers = Math.max(maxLiveOffers, row._count._all);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();
  }, 120_000);

  afterAll(async () => {
    watching = false;
    await watcher;
    await arm?.stop();
  }, 60_000);

  it('offers the slot in turn on decline and on expiry, assigns it on accept, and never holds two live offers', async () => {
    const [slotId] = await createBenchSlots(arm.prisma, {
      tenantId: arm.tenantId,
      count: 1,
      candidatesPerSlot: 3,
      holdSeconds: ANSWERED_HOLD_SECONDS,
    });
    // The hold length is read every round, so each round gets the one set before it starts.
    const setHoldSeconds = (holdSeconds: number) =>
      arm.prisma.slot.update({ where: { id: slotId }, data: { holdSeconds } });

    const release = await fetch(`${arm.apiUrl}/api/v1/slots/${slotId}/release`, {
      method: 'POST',
      headers: { authorization: `Bearer ${arm.operatorToken}` },
    });
    expect(release.status).toBe(202);

    const first = await waitFor('the first offer', messageTo(arm, benchCandidateEmail(slotId!, 1)));
    await setHoldSeconds(HOLD_SECONDS);
    expect(await respond(arm, first.offerToken!, 'decline')).toEqual({ status: 200, body: { status: 'declined' } });
    expect((await respond(arm, first.offerToken!, 'accept')).body.error?.code).toBe('ALREADY_RESPONDED');

    const second = await waitFor('the second offer', messageTo(arm, benchCandidateEmail(slotId!, 2)));
    await setHoldSeconds(ANSWERED_HOLD_SECONDS);
    // Nobody answers the second offer: it expires and the third candidate is offered the slot.
    const third = await waitFor('the third offer, after the expiry', messageTo(arm, benchCandidateEmail(slotId!, 3)));
    const expired = await arm.prisma.hold.findFirstOrThrow({ where: { slotId, round: 2 } });
    expect(expired.status).toBe('EXPIRED');
    expect(expired.expiresAt.getTime() - expired.createdAt.getTime()).toBeLessThan(HOLD_SECONDS * 1000 + 500);
    expect(third.receivedAt).toBeGreaterThanOrEqual(expired.expiresAt.getTime());
    expect((await respond(arm, second.offerToken!, 'accept')).body.error?.code).toBe('HOLD_EXPIRED');

    expect(await respond(arm, third.offerToken!, 'accept')).toEqual({ status: 200, body: { status: 'confirmed' } });
    const slot = await arm.prisma.slot.findUniqueOrThrow({ where: { id: slotId } });
    expect(slot.status).toBe('ASSIGNED');

    const holds = await arm.prisma.hold.findMany({ where: { slotId }, orderBy: { round: 'asc' } });
    expect(holds.map((hold) => hold.status)).toEqual(['DECLINED', 'EXPIRED', 'CONFIRMED']);
    // One offer message per hold, and one confirmation.
    await waitFor('the confirmation', () =>
      arm.catcher
        .messages()
        .find((message) => message.to.includes(benchCandidateEmail(slotId!, 3)) && !message.offerToken),
    );
    const toCandidates = arm.catcher
      .messages()
      .filter((message) => message.to.includes('@bench.example') && message.offerToken);
    expect(toCandidates).toHaveLength(3);
    expect(maxLiveOffers).toBe(1);
  }, 60_000);

  it('refuses a release without a bearer token', async () => {
    const response = await fetch(`${arm.apiUrl}/api/v1/slots/anything/release`, { method: 'POST' });
    expect(response.status).toBe(401);
  });
});
