import {
  renderPerformance,
  renderPerformanceHeadline,
  replaceBetweenMarkers,
  scaleLine,
} from '../../bench/harness/readme';
import type { ArmRoundResult, BenchResult } from '../../bench/harness/report';
import type { RunMetrics } from '../../bench/harness/metrics';

/**
 * The README is a front door: it carries the headline rows of the latest run and links to the full
 * tables, which docs/benchmarks.md carries. Both are generated from the results, never typed.
 */

const summary = (p99: number) => ({ count: 10, p50: p99 / 2, p99, max: p99 });

function metrics(lateness: number): RunMetrics {
  return {
    cascadesReleased: 10,
    releaseFailures: 0,
    holdsCreated: 30,
    holdsSettled: 30,
    stepsPerSecond: 5,
    expiryLatenessMs: summary(lateness),
    declineToOfferMs: summary(400),
    declineToMessageMs: summary(600),
    apiStartMs: summary(90),
    correctness: {
      slotsWithTwoLiveOffersLive: 0,
      liveSamples: 60,
      overlapsPostHoc: 0,
      cascadesFinal: 10,
      cascadesInFlight: 0,
      cascadesStuck: 0,
      stuckReasons: {},
      cascadesLost: 0,
      judgedBy: 'test',
      duplicateMessagesCatcher: 0,
      messagesRedelivered: 0,
      duplicateOfferNotifications: 0,
    },
    processes: {
      worker: { cpuSeconds: 6, cpuSecondsPer1000Steps: 100, peakRssMb: 300 },
      temporal: { cpuSeconds: 12, cpuSecondsPer1000Steps: 200, peakRssMb: 200 },
    },
  };
}

function round(arm: ArmRoundResult['arm'], lateness: number): ArmRoundResult {
  const level = (m: RunMetrics) => ({
    cascadesPerSecond: 2,
    arrivalWindowMs: 60_000,
    drainMs: 1_000,
    drainedFully: true,
    decisions: {},
    metrics: m,
  });
  return {
    arm,
    round: 1,
    sustainable: { cascadesPerSecond: 4, stepsPerSecond: 10, lowerBound: false },
    engineCeiling: {
      offersPerSecond: 10,
      lowerBound: false,
      holdfastOffersPerSecond: 5,
      fraction: 0.5,
      levels: [],
      durationMs: 1,
    },
    levels: { '50%': level(metrics(lateness)), '80%': level(metrics(lateness)), '90%': level(metrics(lateness)) },
  };
}

const full: BenchResult = {
  mode: 'full',
  command: 'npm run bench --',
  seed: 1,
  startedAt: '2026-12-02T17:00:00.000Z',
  finishedAt: '2026-12-02T18:00:00.000Z',
  machine: {
    cpuModel: 'Test CPU',
    cores: 2,
    memoryGb: 24,
    os: 'linux',
    node: 'v20',
    loadAverage: { atStart: [0.5, 0.4, 0.3], atEnd: [1.9, 1.8, 1.7] },
  },
  settings: { entry: 'compiled' },
  rounds: [round('T-dev', 700)],
  // Stale medians, as in a result written before a row existed: the renderer recomputes them from the rounds.
  medians: {},
  notes: [],
};

describe('the README’s Performance rows', () => {
  it('show only the headline rows, with the targets judged, and link to every table', () => {
    const text = renderPerformanceHeadline([full]);
    expect(text).toContain('| hold-expiry lateness p99 (80 %) | 700 ms ✓ | ≤ 1500 |');
    expect(text).toContain('| decline → next offer p99 (50 %) | 400 ms ✗ | ≤ 300 |');
    expect(text).toContain('| sustainable offers/s ÷ engine ceiling | 0.5 ✗ | ≥ 0.8 |');
    expect(text).toContain('| CPU-s / 1,000 steps: all processes (80 %) | 300 s |');
    expect(text).not.toContain('decline → next message');
    expect(text).toContain('Load average at the start and end: 0.5 / 1.9 on 2 cores.');
    expect(text).toContain('one round (one sample of each figure):');
    expect(text).toContain('(docs/benchmarks.md#results)');
  });

  it('give docs/benchmarks.md every row of every run', () => {
    const text = renderPerformance([full]);
    expect(text).toContain('decline → next message p99 (50 %)');
    expect(text).toContain('compiled from dist/');
  });

  it('count a cascade still moving when a level’s drain ran out apart from a lost one', () => {
    const slow = round('B-poll', 59_000);
    const level = slow.levels['90%']!;
    slow.levels['90%'] = {
      ...level,
      drainedFully: false,
      metrics: {
        ...level.metrics,
        // As a file written by the rule that counted every open cascade as lost after a full drain.
        correctness: { ...level.metrics.correctness, cascadesFinal: 9, cascadesInFlight: 1, cascadesLost: 1 },
      },
      drainLimitMs: 570_000,
    };
    const text = renderPerformance([{ ...full, rounds: [round('T-dev', 700), slow] }]);
    expect(text).toContain('| cascades lost (stuck: not final, idle past the arm’s allowance) | 0 ✓ | 0 | = 0 |');
    expect(text).toContain('| cascades still moving when a drain ran out | 0 | 1 |  |');
    expect(text).toContain("Each level's drain after its arrivals was limited to: B-poll 570 s.");
  });

  it('mark a figure that is only a bound, and the fraction over it', () => {
    const unbounded = round('T-dev', 700);
    unbounded.sustainable = { cascadesPerSecond: 4, stepsPerSecond: 10, lowerBound: true };
    unbounded.engineCeiling = { ...unbounded.engineCeiling!, lowerBound: true };
    const text = renderPerformance([{ ...full, rounds: [unbounded] }]);
    expect(text).toContain('| max sustainable steps/s | ≥ 10/s |');
    expect(text).toContain('| engine ceiling: offers/s (no-op activities) | ≥ 10/s |');
    expect(text).toContain('| sustainable offers/s ÷ engine ceiling | ≤ 0.5 ✗ | ≥ 0.8 |');
  });

  it('say how many rounds every column rests on', () => {
    const twice = [round('T-dev', 700), { ...round('T-dev', 900), round: 2 }, round('B-delay', 100)];
    expect(renderPerformanceHeadline([{ ...full, rounds: twice }])).toContain(
      ', one round (one sample of each figure):',
    );
    const both = [...twice, { ...round('B-delay', 120), round: 2 }];
    expect(renderPerformanceHeadline([{ ...full, rounds: both }])).toContain(', medians across 2 rounds:');
  });

  it('quote the worker’s settled memory per cache size, the SDK’s default named as such', () => {
    const line = scaleLine({
      runs: {
        a: {
          cascades: 1000,
          entry: 'compiled',
          steadyRssMb: { worker: { meanMb: 427, lastMb: 352 } },
          workerCache: { maxCachedWorkflows: 100, setBy: 'WORKER_MAX_CACHED_WORKFLOWS' },
        },
        b: {
          cascades: 1000,
          entry: 'source',
          steadyRssMb: { worker: { meanMb: 1018, lastMb: 1007 } },
          workerCache: { maxCachedWorkflows: 2310, setBy: 'sdk-default' },
        },
        c: { cascades: 1000, complete: false, steadyRssMb: { worker: { meanMb: 1 } } },
      },
    });
    expect(line).toContain('`WORKER_MAX_CACHED_WORKFLOWS=100`: 352 MB');
    expect(line).toContain("the SDK's default cache (2,310 here) (tsx): 1,007 MB");
    expect(line).not.toContain(': 1 MB');
    expect(scaleLine(undefined)).toBeUndefined();
  });

  it('replace only what lies between a pair of markers, and nothing when one is missing', () => {
    const text = 'a\n<!-- x:start -->\nold\n<!-- x:end -->\nb';
    expect(replaceBetweenMarkers(text, 'x', 'new')).toBe('a\n<!-- x:start -->\nnew\n<!-- x:end -->\nb');
    expect(replaceBetweenMarkers('a <!-- x:start --> b', 'x', 'new')).toBeUndefined();
  });
});
