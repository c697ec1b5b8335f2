import { isSustainable, summarize } from '../../bench/ceiling/run';
import { sdkDefaultMaxCachedWorkflows } from '../../bench/scale/open-cascades';

describe('engine ceiling figures', () => {
  it('summarizes latencies as nearest-rank percentiles in whole milliseconds', () => {
    const values = Array.from({ length: 100 }, (_, index) => index + 1.4);

    expect(summarize(values)).toEqual({ count: 100, p50: 50, p99: 99, max: 100 });
    expect(summarize([])).toEqual({ count: 0, p50: 0, p99: 0, max: 0 });
  });

  const keptUp = {
    offeredStepsPerSecond: 40,
    backlogGrowthPerSecond: 0.2,
    stepLatencyMs: { count: 800, p50: 60, p99: 400, max: 900 },
    errors: 0,
    stuckCascades: 0,
  };

  it('calls a level sustainable when its backlog stays flat and its steps stay under the bound', () => {
    expect(isSustainable(keptUp, 2000, 5)).toBe(true);
  });

  it('calls a level unsustainable when its backlog of cascades grows by more than a tenth of the cascades arriving', () => {
    // 40 steps/s in cascades of 5 steps: 8 cascades/s arrive, so the backlog may grow by 0.8 cascades/s.
    expect(isSustainable({ ...keptUp, backlogGrowthPerSecond: 0.8 }, 2000, 5)).toBe(true);
    expect(isSustainable({ ...keptUp, backlogGrowthPerSecond: 1.5 }, 2000, 5)).toBe(false);
    // Below 5 cascades/s, half a cascade per second is still noise.
    expect(isSustainable({ ...keptUp, offeredStepsPerSecond: 10, backlogGrowthPerSecond: 0.5 }, 2000, 5)).toBe(true);
  });

  it('calls a level unsustainable when steps exceed the latency bound, fail, or stay open', () => {
    expect(isSustainable({ ...keptUp, stepLatencyMs: { ...keptUp.stepLatencyMs, p99: 2500 } }, 2000, 5)).toBe(false);
    expect(isSustainable({ ...keptUp, errors: 1 }, 2000, 5)).toBe(false);
    expect(isSustainable({ ...keptUp, stuckCascades: 1 }, 2000, 5)).toBe(false);
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
