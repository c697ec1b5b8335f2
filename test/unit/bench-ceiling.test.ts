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
    backlogGrowthPerSecond: 1,
    stepLatencyMs: { count: 800, p50: 60, p99: 400, max: 900 },
    errors: 0,
    stuckCascades: 0,
  };

  it('calls a level sustainable when its backlog stays flat and its steps stay under the bound', () => {
    expect(isSustainable(keptUp, 2000)).toBe(true);
  });

  it('calls a level unsustainable when its backlog grows by more than a tenth of the rate per second', () => {
    expect(isSustainable({ ...keptUp, backlogGrowthPerSecond: 4.5 }, 2000)).toBe(false);
  });

  it('calls a level unsustainable when steps exceed the latency bound, fail, or stay open', () => {
    expect(isSustainable({ ...keptUp, stepLatencyMs: { ...keptUp.stepLatencyMs, p99: 2500 } }, 2000)).toBe(false);
    expect(isSustainable({ ...keptUp, errors: 1 }, 2000)).toBe(false);
    expect(isSustainable({ ...keptUp, stuckCascades: 1 }, 2000)).toBe(false);
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
