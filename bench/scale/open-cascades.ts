import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { createBenchSlots } from '../lib/fixtures';
import { loadConfig } from '../../lib/config';
import { writeWorkflowBundle } from '../../workers/workflow-bundle';
import { startTDevArm, type HoldfastStack, type StackPorts } from '../lib/holdfast-stack';
import { buildProductionApp, type AppEntry } from '../lib/production-build';
import { ProcessSampler, processTree, sampleProcesses, type RoleUsage, exitOnSignals } from '../lib/processes';
import type { BenchCaughtMessage } from '../lib/catcher';

/**
 * `npx tsx bench/scale/open-cascades.ts --cascades 1000|10000`: many cascades waiting on their holds at once,
 * on the T-dev stack (worker, API, Temporal dev server, PostgreSQL as separate processes).
 *
 * 1. creates the slots (5 candidates each, long holds: nothing expires during the run);
 * 2. releases them through the API at a bounded rate, with a bounded number of requests in flight;
 * 3. waits until every cascade's first offer is sent (its hold is live, its timer running);
 * 4. samples every process's RSS for a minute: with the cascades open and idle, memory should be flat, and the
 *    worker's should not grow with the number of cascades: its sticky cache holds at most maxCachedWorkflows
 *    (workers/main.ts sets none: the SDK's default, from the heap limit), and an evicted cascade is replayed
 *    from its history when its next event comes;
 * 5. declines the offer of a few of the cascades released first (the likeliest to have been evicted) and times
 *    the next offer's message: waiting cascades still work.
 *
 * Options: `--hold-minutes 30 --release-rate 20 --release-concurrency 10 --sample-seconds 60 --decline-samples 5
 * --max-minutes 20|45 --port-base 57100 --worker-heap-mb N` (N bounds the SDK's default cache: fewer cached
 * cascades than open ones shows eviction and replay at 1,000 too) `--max-cached N` (WORKER_MAX_CACHED_WORKFLOWS)
 * `--entry compiled|source` (the worker and API from dist/ as the image runs them, default, or through tsx)
 * `--data-dir --out`.
 *
 * Writes bench/results/scale-latest.json (one entry per cascade count, cache size and entry point, so runs sit
 * side by side). Every phase has a time bound; the run stops itself after `--max-minutes`.
 */

interface Options {
  cascades: number;
  holdMinutes: number;
  releasePerSecond: number;
  releaseConcurrency: number;
  sampleSeconds: number;
  declineSamples: number;
  maxMinutes: number;
  portBase: number;
  /** The worker's V8 heap limit, which sets the SDK's default sticky cache; Node's default when omitted. */
  workerHeapMb?: number;
  /** WORKER_MAX_CACHED_WORKFLOWS for the worker; the configuration's default when omitted. */
  maxCached?: number;
  /** The worker and API compiled into dist/ (as the image runs them, default) or run through tsx. */
  entry: AppEntry;
  dataDir: string;
  out: string;
}

function argument(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

function numberArgument(name: string, fallback: number): number {
  const text = argument(name);
  const value = text === undefined ? fallback : Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} expects a positive number`);
  return value;
}

function appEntry(text: string): AppEntry {
  if (text !== 'compiled' && text !== 'source') throw new Error(`--entry expects compiled or source, got ${text}`);
  return text;
}

function readOptions(): Options {
  const cascades = numberArgument('cascades', 1000);
  return {
    cascades,
    holdMinutes: numberArgument('hold-minutes', 30),
    releasePerSecond: numberArgument('release-rate', 20),
    releaseConcurrency: numberArgument('release-concurrency', 10),
    sampleSeconds: numberArgument('sample-seconds', 60),
    declineSamples: numberArgument('decline-samples', 5),
    maxMinutes: numberArgument('max-minutes', cascades > 2000 ? 45 : 20),
    portBase: numberArgument('port-base', 57_100),
    ...(argument('worker-heap-mb') === undefined ? {} : { workerHeapMb: numberArgument('worker-heap-mb', 0) }),
    ...(argument('max-cached') === undefined ? {} : { maxCached: numberArgument('max-cached', 0) }),
    entry: appEntry(argument('entry') ?? 'compiled'),
    dataDir: argument('data-dir') ?? `/tmp/scale/open-${cascades}-${Date.now()}`,
    out: argument('out') ?? path.join(__dirname, '..', 'results', 'scale-latest.json'),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const MB = 1024 * 1024;
const toMb = (bytes: number) => Math.round(bytes / MB);

function percentiles(values: readonly number[]): { count: number; p50: number; p99: number; max: number } {
  if (values.length === 0) return { count: 0, p50: 0, p99: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { count: sorted.length, p50: Math.round(at(0.5)), p99: Math.round(at(0.99)), max: Math.round(at(1)) };
}

/** The worker's sticky-cache figures from its Prometheus endpoint (the SDK's `temporal_sticky_cache_*`). */
async function stickyCacheMetrics(metricsPort: number): Promise<Record<string, number>> {
  try {
    const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(5_000) });
    const text = await response.text();
    const figures: Record<string, number> = {};
    for (const line of text.split('\n')) {
      const match = /^(temporal_sticky_cache_[a-z_]+?)(?:_total)?(?:\{[^}]*\})?\s+([0-9.eE+-]+)$/.exec(line);
      if (match) figures[match[1]!] = (figures[match[1]!] ?? 0) + Number(match[2]);
    }
    return figures;
  } catch {
    return {};
  }
}

/** The SDK's default sticky cache for a worker with this V8 heap limit (@temporalio/worker, reuseV8Context). */
export function sdkDefaultMaxCachedWorkflows(heapLimitBytes: number): number {
  return Math.max(Math.floor((Math.max(heapLimitBytes / MB - 200, 0) * 600) / 1024), 10);
}

const heapLimitExpression = "require('node:v8').getHeapStatistics().heap_size_limit";

/** Sum of RSS over each role's process tree now, in MB. */
function rssNow(stack: HoldfastStack): Record<string, number> {
  const figures: Record<string, number> = {};
  for (const measured of stack.processes()) {
    const tree = sampleProcesses(processTree(measured.pids()));
    figures[measured.role] = toMb(tree.reduce((sum, sample) => sum + sample.rssBytes, 0));
  }
  return figures;
}

/** Releases every slot through the API: at most `perSecond` started per second, `concurrency` in flight. */
async function releaseAll(stack: HoldfastStack, slotIds: readonly string[], options: Options, deadline: number) {
  const latencies: number[] = [];
  const failures: string[] = [];
  const began = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < slotIds.length && Date.now() < deadline) {
      const index = next;
      next += 1;
      // Paced by the schedule, not by answers: request i goes no earlier than i / rate after the start.
      const due = began + (index / options.releasePerSecond) * 1000;
      if (due > Date.now()) await sleep(due - Date.now());
      const sentAt = Date.now();
      try {
        const response = await fetch(`${stack.apiUrl}/api/v1/slots/${slotIds[index]}/release`, {
          method: 'POST',
          headers: { authorization: `Bearer ${stack.operatorToken}` },
          signal: AbortSignal.timeout(30_000),
        });
        await response.arrayBuffer();
        if (response.status !== 202) failures.push(`HTTP ${response.status}`);
        else latencies.push(Date.now() - sentAt);
      } catch (error) {
        failures.push(String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: options.releaseConcurrency }, worker));
  const seconds = (Date.now() - began) / 1000;
  return {
    released: latencies.length,
    failed: failures.length,
    failureExamples: [...new Set(failures)].slice(0, 3),
    seconds: Math.round(seconds * 10) / 10,
    achievedPerSecond: Math.round((latencies.length / seconds) * 10) / 10,
    latencyMs: percentiles(latencies),
  };
}

/** The slot an offer message belongs to: its recipient is `c<rank>.<slot-id prefix>@bench.example`. */
function recipientOf(message: BenchCaughtMessage): { rank: number; slotPrefix: string } | undefined {
  const match = /^c(\d+)\.([0-9a-f]{8})@bench\.example$/.exec(message.to.trim().toLowerCase());
  return match ? { rank: Number(match[1]), slotPrefix: match[2]! } : undefined;
}

/** Waits until `count` distinct slots have had a first offer sent, or the deadline; reports progress. */
async function waitForFirstOffers(stack: HoldfastStack, count: number, deadline: number, say: (line: string) => void) {
  const offered = new Set<string>();
  let firstAt: number | undefined;
  let lastAt: number | undefined;
  const take = (message: BenchCaughtMessage) => {
    const recipient = recipientOf(message);
    if (!recipient || recipient.rank !== 1 || !message.offerToken || offered.has(recipient.slotPrefix)) return;
    offered.add(recipient.slotPrefix);
    firstAt ??= message.receivedAt;
    lastAt = message.receivedAt;
  };
  stack.catcher.messages().forEach(take);
  const unsubscribe = stack.catcher.onMessage(take);
  let lastReport = Date.now();
  while (offered.size < count && Date.now() < deadline) {
    await sleep(500);
    if (Date.now() - lastReport >= 15_000) {
      lastReport = Date.now();
      say(`  ${offered.size}/${count} first offers sent`);
    }
  }
  unsubscribe();
  return { offered: offered.size, firstAt, lastAt };
}

/**
 * Declines the first offer of the cascades released first and times each next offer's message (decline sent →
 * the message to the second candidate caught). Those cascades have waited longest, so with more cascades than
 * the sticky cache holds they are the ones evicted: their decline is served by a replay from history.
 */
async function declineAndSeeNextOffer(
  stack: HoldfastStack,
  slotIds: readonly string[],
  samples: number,
  deadline: number,
) {
  const results: { slot: string; status: number; nextOfferMs?: number }[] = [];
  for (const slotId of slotIds.slice(0, samples)) {
    const prefix = slotId.slice(0, 8);
    const offer = stack.catcher
      .messages()
      .find((message) => recipientOf(message)?.slotPrefix === prefix && recipientOf(message)?.rank === 1);
    if (!offer?.offerToken) {
      results.push({ slot: prefix, status: 0 });
      continue;
    }
    const nextOffer = new Promise<number>((resolve) => {
      const unsubscribe = stack.catcher.onMessage((message) => {
        const recipient = recipientOf(message);
        if (recipient?.slotPrefix !== prefix || recipient.rank !== 2) return;
        unsubscribe();
        resolve(message.receivedAt);
      });
    });
    const sentAt = Date.now();
    const response = await fetch(`${stack.apiUrl}/api/v1/offers/respond`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: offer.offerToken, decision: 'decline' }),
      signal: AbortSignal.timeout(60_000),
    });
    await response.arrayBuffer();
    const bound = Math.max(1_000, Math.min(60_000, deadline - Date.now()));
    const receivedAt = await Promise.race([nextOffer, sleep(bound).then(() => undefined)]);
    results.push({
      slot: prefix,
      status: response.status,
      ...(receivedAt === undefined ? {} : { nextOfferMs: receivedAt - sentAt }),
    });
  }
  return {
    declined: results.filter((result) => result.status === 200).length,
    nextOfferSeen: results.filter((result) => result.nextOfferMs !== undefined).length,
    nextOfferMs: percentiles(
      results.flatMap((result) => (result.nextOfferMs === undefined ? [] : [result.nextOfferMs])),
    ),
    results,
  };
}

function roleFigures(roles: readonly RoleUsage[]) {
  return Object.fromEntries(
    roles.map((role) => [
      role.role,
      { peakRssMb: toMb(role.peakRssBytes), peakPssMb: toMb(role.peakPssBytes), cpuSeconds: round1(role.cpuSeconds) },
    ]),
  );
}

const round1 = (value: number) => Math.round(value * 10) / 10;

async function main(): Promise<void> {
  exitOnSignals();
  const options = readOptions();
  const began = Date.now();
  const deadline = began + options.maxMinutes * 60_000;
  const say = (line: string) => console.log(`[${((Date.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}`);
  // The last resort: a phase that ignores its bound still cannot keep the run alive.
  const hardStop = setTimeout(
    () => {
      console.error(`open-cascades: still running after ${options.maxMinutes + 2} minutes; exiting`);
      process.exit(2);
    },
    (options.maxMinutes + 2) * 60_000,
  );
  hardStop.unref();

  const base = options.portBase;
  const ports: StackPorts = {
    api: base,
    postgres: base + 1,
    smtp: base + 2,
    temporal: base + 3,
    temporalHttp: base + 4,
    temporalMetrics: base + 5,
    workerMetrics: base + 6,
  };
  say(`starting the T-dev stack in ${options.dataDir} (ports ${base}–${base + 6})`);
  // The worker loads a bundle built ahead, as the production image does: bundling at start would keep
  // webpack in the worker's memory and inflate the figure this script reports.
  const workflowBundle = path.join(options.dataDir, 'workflow-bundle.js');
  await writeWorkflowBundle(workflowBundle);
  if (options.entry === 'compiled')
    say(`worker and API compiled into dist/ in ${(buildProductionApp() / 1000).toFixed(1)} s`);
  const stack = await startTDevArm({
    dataDir: options.dataDir,
    ports,
    entry: options.entry,
    env: {
      WORKFLOW_BUNDLE_PATH: workflowBundle,
      ...(options.workerHeapMb === undefined ? {} : { NODE_OPTIONS: `--max-old-space-size=${options.workerHeapMb}` }),
      ...(options.maxCached === undefined ? {} : { WORKER_MAX_CACHED_WORKFLOWS: String(options.maxCached) }),
    },
    log: (line) => say(`  stack: ${line}`),
  });
  const wholeRun = new ProcessSampler(() => stack.processes(), { intervalMs: 2_000, maxDurationMs: deadline - began });
  let exitCode = 0;
  try {
    wholeRun.start();
    const idle = { rssMb: rssNow(stack), stickyCache: await stickyCacheMetrics(ports.workerMetrics) };
    say(`idle RSS (MB): ${JSON.stringify(idle.rssMb)}`);

    let phaseStart = Date.now();
    const slotIds = await createBenchSlots(stack.prisma, {
      tenantId: stack.tenantId,
      count: options.cascades,
      holdSeconds: options.holdMinutes * 60,
    });
    const slotsSeconds = round1((Date.now() - phaseStart) / 1000);
    say(`${slotIds.length} slots with 5 candidates each created in ${slotsSeconds} s`);

    // Releases and first offers overlap: the catcher counts offers while the API is still releasing.
    phaseStart = Date.now();
    const offersDone = waitForFirstOffers(stack, options.cascades, deadline - (options.sampleSeconds + 90) * 1000, say);
    const release = await releaseAll(stack, slotIds, options, deadline - (options.sampleSeconds + 90) * 1000);
    say(
      `released ${release.released} (${release.failed} failed) in ${release.seconds} s: ` +
        `${release.achievedPerSecond}/s, API p50 ${release.latencyMs.p50} ms p99 ${release.latencyMs.p99} ms`,
    );
    const offers = await offersDone;
    const allOfferedSeconds = round1(((offers.lastAt ?? Date.now()) - phaseStart) / 1000);
    const firstOffersPerSecond = allOfferedSeconds > 0 ? round1(offers.offered / allOfferedSeconds) : 0;
    say(
      `${offers.offered}/${options.cascades} first offers sent, the last ${allOfferedSeconds} s after the first release`,
    );
    const afterLoad = wholeRun.report();

    // The open cascades now only wait on their timers: memory should stay flat.
    await sleep(3_000);
    const steady: { at: number; rssMb: Record<string, number>; stickyCacheSize?: number }[] = [];
    const sampleEnd = Math.min(Date.now() + options.sampleSeconds * 1000, deadline - 60_000);
    say(`sampling RSS for ${Math.round((sampleEnd - Date.now()) / 1000)} s with the cascades open`);
    while (Date.now() < sampleEnd) {
      const cache = await stickyCacheMetrics(ports.workerMetrics);
      steady.push({
        at: Date.now(),
        rssMb: rssNow(stack),
        ...(cache.temporal_sticky_cache_size === undefined
          ? {}
          : { stickyCacheSize: cache.temporal_sticky_cache_size }),
      });
      await sleep(5_000);
    }
    const roles = Object.keys(steady[0]?.rssMb ?? {});
    const steadyRss = Object.fromEntries(
      roles.map((role) => {
        const series = steady.map((sample) => sample.rssMb[role] ?? 0);
        return [
          role,
          {
            meanMb: Math.round(series.reduce((sum, value) => sum + value, 0) / Math.max(1, series.length)),
            firstMb: series[0] ?? 0,
            lastMb: series[series.length - 1] ?? 0,
          },
        ];
      }),
    );
    const cacheBefore = await stickyCacheMetrics(ports.workerMetrics);
    say(`steady RSS (MB, mean over the window): ${JSON.stringify(steadyRss)}`);
    say(`worker sticky cache: ${JSON.stringify(cacheBefore)}`);

    say(`declining the first offer of the ${options.declineSamples} cascades released first`);
    const afterEviction = await declineAndSeeNextOffer(stack, slotIds, options.declineSamples, deadline - 20_000);
    const cacheAfter = await stickyCacheMetrics(ports.workerMetrics);
    say(
      `${afterEviction.declined} declined, ${afterEviction.nextOfferSeen} next offers seen, decline → next offer ` +
        `p50 ${afterEviction.nextOfferMs.p50} ms max ${afterEviction.nextOfferMs.max} ms`,
    );

    const usage = wholeRun.stop();
    // The worker runs this Node on this machine; unless NODE_OPTIONS sets its heap, its limit is ours.
    const heapOption = /--max-old-space-size=(\d+)/.exec(String(stack.appEnv.NODE_OPTIONS ?? ''))?.[1];
    // V8's limit adds the young generation to --max-old-space-size: ask a Node with the same option.
    const workerHeapLimitBytes = heapOption
      ? Number(
          execFileSync(process.execPath, [`--max-old-space-size=${heapOption}`, '-p', heapLimitExpression], {
            encoding: 'utf8',
          }),
        )
      : v8.getHeapStatistics().heap_size_limit;
    const workerMaxCached = loadConfig(stack.appEnv).worker.maxCachedWorkflows;
    const entry = {
      measuredAt: new Date().toISOString(),
      machine: { cpus: os.cpus().length, memoryMb: toMb(os.totalmem()), node: process.version },
      cascades: options.cascades,
      entry: options.entry,
      complete: offers.offered === options.cascades && release.failed === 0,
      holdMinutes: options.holdMinutes,
      durationSeconds: round1((Date.now() - began) / 1000),
      slotsCreateSeconds: slotsSeconds,
      release: { requestedPerSecond: options.releasePerSecond, concurrency: options.releaseConcurrency, ...release },
      firstOffers: { sent: offers.offered, lastAfterSeconds: allOfferedSeconds, perSecond: firstOffersPerSecond },
      idleRssMb: idle.rssMb,
      // Peaks from the release phase (the sampler runs from stack start): ProcessSampler's figures per role.
      peakDuringLoad: roleFigures(afterLoad.roles),
      peakWholeRun: roleFigures(usage.roles),
      steadyRssMb: steadyRss,
      steadySamples: steady.map((sample) => ({
        secondsIn: round1((sample.at - (steady[0]?.at ?? sample.at)) / 1000),
        ...sample.rssMb,
        ...(sample.stickyCacheSize === undefined ? {} : { stickyCacheSize: sample.stickyCacheSize }),
      })),
      workerCache: {
        // WORKER_MAX_CACHED_WORKFLOWS, or the SDK's default: max((heap limit MB − 200) × 600 / 1024, 10).
        maxCachedWorkflows: workerMaxCached ?? sdkDefaultMaxCachedWorkflows(workerHeapLimitBytes),
        setBy: workerMaxCached === undefined ? 'sdk-default' : 'WORKER_MAX_CACHED_WORKFLOWS',
        workerHeapLimitMb: toMb(workerHeapLimitBytes),
        beforeDeclines: cacheBefore,
        afterDeclines: cacheAfter,
      },
      afterEviction,
    };
    say(`worker peak RSS ${entry.peakWholeRun.worker?.peakRssMb ?? '?'} MB with ${offers.offered} open cascades`);

    fs.mkdirSync(path.dirname(options.out), { recursive: true });
    let previous: { runs?: Record<string, unknown> } = {};
    try {
      previous = JSON.parse(fs.readFileSync(options.out, 'utf8')) as typeof previous;
    } catch {
      previous = {};
    }
    // One entry per shape, so runs with different caches or entry points sit side by side.
    const key = `${options.cascades}:cache-${entry.workerCache.maxCachedWorkflows}:${options.entry}`;
    const runs = { ...previous.runs, [key]: entry };
    fs.writeFileSync(options.out, `${JSON.stringify({ updatedAt: entry.measuredAt, runs }, null, 2)}\n`);
    say(`written to ${options.out}`);
    if (!entry.complete || afterEviction.nextOfferSeen < Math.min(options.declineSamples, offers.offered)) exitCode = 1;
  } catch (error) {
    console.error(error);
    exitCode = 1;
  } finally {
    wholeRun.stop();
    say('stopping the stack');
    await stack.stop();
  }
  process.exit(exitCode);
}

if (require.main === module) void main();
