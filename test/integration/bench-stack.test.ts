import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { duplicateMessages } from '../../bench/chaos/checks';
import type { BenchCaughtMessage } from '../../bench/lib/catcher';
import { benchCandidateEmail, createBenchSlots } from '../../bench/lib/fixtures';
import { startTDevArm, type HoldfastStack } from '../../bench/lib/holdfast-stack';
import { ProcessSampler, waitUntil } from '../../bench/lib/processes';
import { buildProductionApp } from '../../bench/lib/production-build';
import { snapshotStores, storeActivity } from '../../bench/lib/store-activity';
import { freePort } from '../../scripts/stack/ports';

/**
 * The bench's T-dev stack as the harness and the fault battery use it: PostgreSQL, the Temporal
 * dev server, the worker and the API as separate processes on free ports, driven only through
 * HTTP and the SMTP catcher. It starts its own services rather than the suite's shared ones,
 * because the processes themselves are what it tests. The worker and the API run compiled from
 * dist/, as the bench runs them by default and the production image does.
 */

jest.setTimeout(300_000);

let stack: HoldfastStack;
let dataDir: string;

beforeAll(async () => {
  // The postgres OS user (PostgreSQL refuses root) must reach the data directory.
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'holdfast-bench-stack-'));
  fs.chmodSync(dataDir, 0o755);
  const [api, postgres, smtp, temporal, temporalHttp, temporalMetrics, workerMetrics] = await Promise.all(
    Array.from({ length: 7 }, () => freePort()),
  );
  buildProductionApp();
  stack = await startTDevArm({
    dataDir,
    persistence: 'memory',
    entry: 'compiled',
    ports: { api, postgres, smtp, temporal, temporalHttp, temporalMetrics, workerMetrics },
  });
});

afterAll(async () => {
  await stack?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function messageTo(address: string): Promise<BenchCaughtMessage> {
  let found: BenchCaughtMessage | undefined;
  await waitUntil(
    `an offer message to ${address}`,
    async () => {
      found = stack.catcher.messages().find((message) => message.to === address && message.offerToken);
      return found !== undefined;
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  return found!;
}

async function decline(offerToken: string): Promise<number> {
  const response = await fetch(`${stack.apiUrl}/api/v1/offers/respond`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: offerToken, decision: 'decline' }),
  });
  await response.text();
  return response.status;
}

test('a released slot offers its place by mail, a decline offers the next, and a killed worker comes back', async () => {
  const sampler = new ProcessSampler(() => stack.processes(), { intervalMs: 250 });
  const storesBefore = await snapshotStores(stack.stores(), (line) => {
    throw new Error(line);
  });
  sampler.start();
  const [slotId] = await createBenchSlots(stack.prisma, { tenantId: stack.tenantId, count: 1, holdSeconds: 300 });

  const release = await fetch(`${stack.apiUrl}/api/v1/slots/${slotId}/release`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.operatorToken}` },
  });
  expect(release.status).toBe(202);

  const first = await messageTo(benchCandidateEmail(slotId!, 1));
  expect(first.offerToken).toEqual(expect.any(String));
  expect([200, 202]).toContain(await decline(first.offerToken!));
  const second = await messageTo(benchCandidateEmail(slotId!, 2));
  expect(second.receivedAt).toBeGreaterThanOrEqual(first.receivedAt);

  // SIGKILL, as fault R1 does, then the same command again: the cascade goes on in the new process.
  const { worker } = stack.services;
  const killedPid = worker.pid;
  worker.kill('SIGKILL');
  expect((await worker.exited).signal).toBe('SIGKILL');
  expect(worker.pids()).toEqual([]);
  await worker.restart();
  expect(worker.pid).not.toBe(killedPid);
  expect(worker.restarts).toBe(1);

  expect([200, 202]).toContain(await decline(second.offerToken!));
  await messageTo(benchCandidateEmail(slotId!, 3));
  // Three offers, each mailed as one message. A kill just after the SMTP server took a message and
  // before the worker recorded it resends that message under its own Message-ID (a redelivery, which
  // SMTP cannot rule out); an offer mailed as two different messages would be a duplicate.
  const messages = stack.catcher.messages();
  expect(new Set(messages.map((message) => message.offerToken)).size).toBe(3);
  expect(duplicateMessages(messages)).toEqual([]);

  const usage = sampler.stop();
  const storesAfter = await snapshotStores(stack.stores(), (line) => {
    throw new Error(line);
  });
  // Three offers made and two settled; the dev server keeps Temporal's store in SQLite, so only Holdfast's counts.
  const [application, ...others] = storeActivity(storesBefore, storesAfter, 5, 1);
  expect(others).toEqual([]);
  expect(application).toMatchObject({ role: 'postgres' });
  expect(application!.commitsPerStep).toBeGreaterThan(0);
  expect(application!.walBytesPerStep).toBeGreaterThan(0);
  // PostgreSQL 18 counts WAL fsyncs in pg_stat_io, earlier versions in pg_stat_wal: either way, commits flush.
  expect(application!.walSyncsPerStep).toBeGreaterThan(0);
  expect(application!.historyBytesPerCascade).toBeUndefined();

  const workerUsage = usage.roles.find((role) => role.role === 'worker')!;
  expect(workerUsage.incarnations).toBe(2);
  expect(workerUsage.cpuSeconds).toBeGreaterThan(0);
  for (const role of ['api', 'temporal', 'postgres']) {
    expect(usage.roles.find((usageOf) => usageOf.role === role)?.peakRssBytes).toBeGreaterThan(0);
  }
});
