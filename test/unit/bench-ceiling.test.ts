import { backlogTolerance, isSustainable, summarize } from '../../bench/ceiling/run';
import { judgeBacklogGrowth } from '../../bench/harness/metrics';
import { sdkDefaultMaxCachedWorkflows } from '../../bench/scale/open-cascades';

describe('engine ceiling figures', () => {
  it('summarizes latencies as nearest-rank percentiles in whole milliseconds', () => {
    const values = Array.from({ length: 100 }, (_, index) => index + 1.4);

    expect(summarize(values)).toEqual({ count: 100, p50: 50, p99: 99, max: 100 });
    expect(summarize([])).toEqual({ count: 0, p50: 0, p99: 0, max: 0 });
  });

  const keptUp = {
    backlogGrew: false,
    stepLatencyMs: { count: 800, p50: 60, p99: 400, max: 900 },
    errors: 0,
    stuckCascades: 0,
  };

  it('calls a level sustainable when its backlog stays flat and its steps stay under the bound', () => {
    expect(isSustainable(keptUp, 2000)).toBe(true);
  });

  it('calls a level unsustainable when its backlog grew, its steps exceed the latency bound, fail, or stay open', () => {
    expect(isSustainable({ ...keptUp, backlogGrew: true }, 2000)).toBe(false);
    expect(isSustainable({ ...keptUp, stepLatencyMs: { ...keptUp.stepLatencyMs, p99: 2500 } }, 2000)).toBe(false);
    expect(isSustainable({ ...keptUp, errors: 1 }, 2000)).toBe(false);
    expect(isSustainable({ ...keptUp, stuckCascades: 1 }, 2000)).toBe(false);
  });

  it("judges a level's backlog as Holdfast's load steps are: a second's arrivals of cascades, at least 3", () => {
    // 8.6 cascades/s arrive (43 offers/s in cascades of 5); 30 s sampled every 250 ms.
    const backlogGrowingBy = (perSecond: number) =>
      Array.from({ length: 120 }, (_, index) => ({ at: index * 250, backlog: 20 + (perSecond * index) / 4 }));
    const tolerance = backlogTolerance(8.6);

    expect(tolerance).toBe(8.6);
    expect(backlogTolerance(1.2)).toBe(3);
    // Growing by 0.13 cascades/s: about 2 more over the 15 s between the halves' troughs.
    expect(judgeBacklogGrowth(backlogGrowingBy(0.13), tolerance).grew).toBe(false);
    // Falling behind by 5 cascades/s (61 offers arriving, 38 served): about 75 more.
    expect(judgeBacklogGrowth(backlogGrowingBy(5.25), tolerance).grew).toBe(true);
    // At 1.2 cascades/s, falling behind by a third (0.4/s) is 6 more, past the floor of 3.
    expect(judgeBacklogGrowth(backlogGrowingBy(0.4), backlogTolerance(1.2)).grew).toBe(true);
  });
});

describe('the worker sticky cache the SDK picks', () => {
  it('follows the heap limit as @temporalio/worker does with a reused V8 context, never below 10', () => {
    const MB = 1024 * 1024;

    expect(sdkDefaultMaxCachedWorkflows(4144 * MB)).toBe(2310);
    expect(sdkDefaultMaxCachedWorkflows(768 * MB)).toBe(332);
    expect(sdkDefaultMaxCachedWorkflows(100 * MB)).toBe(10);
  });
});
