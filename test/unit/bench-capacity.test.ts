import {
  demandOf,
  machinePoints,
  measuredCost,
  planFor,
  renderHistoryProcessCheck,
  renderMachineCheck,
  workload,
} from '../../bench/capacity';
import type { HistoryProcessesRun } from '../../bench/ceiling/history-processes';
import type { CeilingLevel } from '../../bench/ceiling/run';
import type { ArmRoundResult, BenchResult } from '../../bench/harness/report';
import type { RunMetrics } from '../../bench/harness/metrics';
import { storeActivity, type StoreActivity, type StoreSnapshot } from '../../bench/lib/store-activity';

/**
 * The capacity model's storage rows come from what the bench read in each PostgreSQL's statistics:
 * per step, per store, the median across rounds.
 */

const snapshot = (commits: number, walBytes: number, sizeBytes: number, historyBytes?: number): StoreSnapshot => ({
  commits,
  walSyncs: commits / 2,
  walBytes,
  sizeBytes,
  ...(historyBytes === undefined ? {} : { historyBytes }),
});

describe('storeActivity', () => {
  it('divides each store’s growth by the steps, and history by the cascades', () => {
    const before = new Map([
      ['postgres', snapshot(100, 1_000, 10_000)],
      ['temporal-postgres', snapshot(500, 5_000, 50_000, 2_000)],
    ]);
    const after = new Map([
      ['postgres', snapshot(160, 31_000, 18_000)],
      ['temporal-postgres', snapshot(1_100, 125_000, 90_000, 42_000)],
    ]);
    expect(storeActivity(before, after, 20, 4)).toEqual([
      { role: 'postgres', commitsPerStep: 3, walSyncsPerStep: 1.5, walBytesPerStep: 1_500, sizeBytesPerStep: 400 },
      {
        role: 'temporal-postgres',
        commitsPerStep: 30,
        walSyncsPerStep: 15,
        walBytesPerStep: 6_000,
        sizeBytesPerStep: 2_000,
        historyBytesPerCascade: 10_000,
      },
    ]);
  });

  it('reports nothing for a store read only once, or for a run without steps', () => {
    const after = new Map([['postgres', snapshot(10, 10, 10)]]);
    expect(storeActivity(new Map(), after, 5, 1)).toEqual([]);
    expect(storeActivity(after, after, 0, 0)).toEqual([]);
  });
});

function round(arm: ArmRoundResult['arm'], roundNumber: number, stores: StoreActivity[]): ArmRoundResult {
  const metrics = {
    stepsPerSecond: 5,
    processes: { worker: { cpuSeconds: 10, cpuSecondsPer1000Steps: 20, peakRssMb: 300 } },
  } as unknown as RunMetrics;
  return {
    arm,
    round: roundNumber,
    levels: {
      '80%': {
        cascadesPerSecond: 2,
        stores,
        arrivalWindowMs: 60_000,
        drainMs: 1_000,
        drainedFully: true,
        decisions: {},
        metrics,
      },
    },
  };
}

const store = (role: string, commitsPerStep: number, extra: Partial<StoreActivity> = {}): StoreActivity => ({
  role,
  commitsPerStep,
  walSyncsPerStep: commitsPerStep / 2,
  walBytesPerStep: commitsPerStep * 1_000,
  sizeBytesPerStep: 100,
  ...extra,
});

const result = (rounds: ArmRoundResult[]) => ({ rounds }) as unknown as BenchResult;

describe('the capacity model’s storage rows', () => {
  const demand = demandOf(workload);

  it('add Temporal’s and Holdfast’s commits per step, medians across rounds', () => {
    const cost = measuredCost(
      result([
        round('T-cluster', 1, [
          store('temporal-postgres', 10, { historyBytesPerCascade: 8_192 }),
          store('postgres', 4),
        ]),
        round('T-cluster', 2, [
          store('temporal-postgres', 12, { historyBytesPerCascade: 4_096 }),
          store('postgres', 6),
        ]),
        round('T-cluster', 3, [
          store('temporal-postgres', 30, { historyBytesPerCascade: 6_144 }),
          store('postgres', 5),
        ]),
      ]),
      'test',
    )!;
    expect(cost.persistence?.temporal).toMatchObject({ commitsPerStep: 12, historyBytesPerCascade: 6_144 });
    expect(cost.persistence?.application).toMatchObject({ commitsPerStep: 5 });

    const rows = planFor(demand, cost, workload).rows;
    const transactions = rows.find((row) => row.resource === 'PostgreSQL transactions/s')!;
    expect(transactions.need).toBe(Math.round(demand.stepsPerSecondPeak * 17).toLocaleString('en-GB'));
    expect(transactions.basis).toContain("12.0 in Temporal's database + 5.0 in Holdfast's");
    const flushes = rows.find((row) => row.resource.startsWith('PostgreSQL WAL flushes/s'))!;
    expect(flushes.need).toBe(Math.round(demand.stepsPerSecondPeak * 8.5).toLocaleString('en-GB'));
    const storage = rows.find((row) => row.resource === 'PostgreSQL storage for histories')!;
    expect(storage.basis).toContain('6.0 KiB of history per cascade');
  });

  it('say what is missing when Temporal kept its store in SQLite', () => {
    const cost = measuredCost(result([round('T-dev', 1, [store('postgres', 5)])]), 'test')!;
    expect(cost.persistence?.temporal).toBeUndefined();
    const rows = planFor(demand, cost, workload).rows;
    expect(rows.find((row) => row.resource === 'PostgreSQL transactions/s')!.basis).toContain(
      'only T-cluster measures it',
    );
    expect(rows.find((row) => row.resource === 'PostgreSQL storage for histories')!.need).toBe('not measured');
  });
});

describe('the model’s check on this machine', () => {
  function measured(
    arm: ArmRoundResult['arm'],
    sustained: number,
    /** Undefined: no load step fell behind, and the sustained figure is a floor. */
    grewAt: number | undefined,
    processes: Record<string, number>,
  ): ArmRoundResult {
    const base = round(arm, 1, []);
    const level = base.levels['80%']!;
    return {
      ...base,
      sustainable: { cascadesPerSecond: 2, stepsPerSecond: sustained, lowerBound: grewAt === undefined },
      loadSteps: [
        { cascadesPerSecond: 2, durationMs: 60_000, stepsPerSecond: sustained, backlogGrew: false },
        ...(grewAt === undefined
          ? []
          : [{ cascadesPerSecond: 3, durationMs: 60_000, stepsPerSecond: grewAt, backlogGrew: true }]),
      ] as ArmRoundResult['loadSteps'],
      levels: {
        '80%': {
          ...level,
          metrics: {
            ...level.metrics,
            processes: Object.fromEntries(
              Object.entries(processes).map(([role, perStep]) => [
                role,
                { cpuSeconds: 1, cpuSecondsPer1000Steps: perStep, peakRssMb: 100 },
              ]),
            ),
          },
        },
      },
    };
  }
  const onTwoCores = (rounds: ArmRoundResult[]) => ({ rounds, machine: { cores: 2 } }) as unknown as BenchResult;

  it('puts what one box sustained beside what its CPU per step allows, and splits Temporal from Holdfast', () => {
    const points = machinePoints(
      onTwoCores([
        measured('T-dev', 6.6, 9.8, { worker: 70, api: 9, postgres: 13, temporal: 93 }),
        measured('T-cluster', 6.8, 10.3, {
          worker: 55,
          api: 8,
          postgres: 9,
          'temporal-history-1': 50,
          'temporal-postgres': 30,
          'temporal-frontend': 33,
        }),
      ]),
      workload,
    );
    const cluster = points.find((point) => point.arm === 'T-cluster')!;
    expect(cluster.cpuSecondsPer1000Steps).toEqual({ all: 185, temporal: 113, holdfast: 72 });
    expect(cluster.cpuBoundStepsPerSecond).toBeCloseTo(2000 / 185, 5);
    expect(cluster.plannedStepsPerSecond).toBeCloseTo((2000 / 185) * workload.targetUtilisation, 5);
    expect(cluster.grewAtStepsPerSecond).toBe(10.3);

    const text = renderMachineCheck(points, 2, workload).join('\n');
    expect(text).toContain('| T-cluster | 6.8 | 10.3 | 185 / 113 / 72 | 6.5 / 10.8 |');
    expect(text).toContain(
      '- T-cluster: the box held 6.8 steps/s; offered more, it served 10.3 and fell behind, so its limit lies between the two; the rule plans 6.5 at 60 % CPU, and 10.8 with every core busy. Consistent with the rule',
    );
    // The second box is a prediction: the Temporal tier (113 CPU-s per 1,000 steps) limits it.
    expect(text).toContain(
      'Planned at 60 % CPU the pair carries 10.6 steps/s (17.7 with every core busy), 1.6 × one box',
    );
    expect(text).toContain('limited by the Temporal box');
  });

  it('says the rule does not hold only when the whole span between the load steps contradicts it', () => {
    const check = (sustained: number, grewAt: number | undefined) =>
      renderMachineCheck(
        machinePoints(onTwoCores([measured('T-dev', sustained, grewAt, { worker: 100, temporal: 85 })]), workload),
        2,
        workload,
      ).join('\n');
    // 185 CPU-s per 1,000 steps on 2 cores: 6.5 steps/s planned at 60 %, 10.8 with every core busy.
    expect(check(3, 4.5)).toContain('The rule does not hold here: the box fell behind below its plan');
    expect(check(12, 18)).toContain('The rule does not hold here: the box carried more than its CPU per step allows');
    // Held below the plan, but fell behind above it: the limit may be anywhere between.
    expect(check(4.4, 6.6)).toContain('Consistent with the rule: this box is CPU-bound');
  });

  it('does not call a floor below the plan consistent: a run that never fell behind short of it checks nothing', () => {
    const check = (sustained: number) =>
      renderMachineCheck(
        machinePoints(onTwoCores([measured('T-dev', sustained, undefined, { worker: 100, temporal: 85 })]), workload),
        2,
        workload,
      ).join('\n');
    expect(check(4)).toContain('held 4.0 steps/s and never fell behind (a floor)');
    expect(check(4)).toContain('Not checked: no load step reached the plan');
    expect(check(8)).toContain('Consistent with the rule as far as it goes');
    expect(check(12)).toContain('The rule does not hold here: the box carried more than its CPU per step allows');
  });

  it('leaves out a round without its CPU per step, rather than read it as free', () => {
    const unmeasured = measured('T-dev', 6, 9, { worker: 100, temporal: 85 });
    unmeasured.levels['80%']!.metrics.processes.worker = { cpuSeconds: 0, peakRssMb: 100 };
    expect(machinePoints(onTwoCores([unmeasured]), workload)).toEqual([]);
  });

  it('has nothing to check without a full run’s load steps', () => {
    expect(machinePoints(onTwoCores([round('T-dev', 1, [])]), workload)).toEqual([]);
    expect(renderMachineCheck([], 2, workload)).toEqual([]);
  });
});

describe('the check of doubling the history processes', () => {
  const level = (offered: number, completed: number, sustainable: boolean): CeilingLevel => ({
    offeredStepsPerSecond: offered,
    cascadesStarted: 10,
    arrivedStepsPerSecond: offered,
    stepsCompleted: completed * 30,
    completedStepsPerSecond: completed,
    backlogGrowthPerSecond: sustainable ? 0 : 1,
    backlogGrew: !sustainable,
    stepLatencyMs: { count: 10, p50: 100, p99: sustainable ? 400 : 2_500, max: 3_000 },
    firstOfferLatencyMs: { count: 10, p50: 100, p99: 200, max: 300 },
    expiryLatenessMs: { count: 0, p50: 0, p99: 0, max: 0 },
    startCallMs: { count: 10, p50: 10, p99: 20, max: 30 },
    errors: 0,
    stuckCascades: 0,
    workerCpuSeconds: 5,
    sustainable,
  });
  const usage = (role: string, cpuSeconds: number) => ({
    role,
    cpuSeconds,
    peakRssBytes: 1,
    peakPssBytes: 0,
    peakProcessHwmBytes: 1,
    incarnations: 1,
    samples: 1,
  });
  /** A run over `rates` that held every level up to `sustained` and fell behind at the next. */
  const run = (
    historyProcesses: number,
    sustained: number,
    historyCpu: number[],
    options: { rates?: number[]; shards?: number } = {},
  ): HistoryProcessesRun => {
    const rates = options.rates ?? [14, 17, 20];
    const levels = rates
      .filter((rate) => rate <= sustained || rate === rates.find((r) => r > sustained))
      .map((rate) => (rate <= sustained ? level(rate, rate, true) : level(rate, sustained, false)));
    return {
      measuredAt: '2026-12-03T08:00:00.000Z',
      command: 'npm run bench:history-processes',
      commit: 'abc1234',
      machine: { cpuModel: 'test', cores: 2, memoryGb: 24, os: 'Linux', node: 'v20' },
      loadAtStart: [0.5, 0.4, 0.3],
      topology: 'split',
      historyProcesses,
      historyShards: options.shards ?? 4,
      ceiling: {
        address: '127.0.0.1:7233',
        namespace: 'default',
        perStep: { activities: 3, timers: 1, updates: 1 },
        perCascadeExtra: { activities: 2, searchAttributeUpserts: 2 },
        offersPerCascade: 5,
        holdMs: 30_000,
        expireShare: 0,
        levelSeconds: 30,
        sustainableStepsPerSecond: sustained,
        levels,
        worker: { pid: 1, peakRssMb: 400, cpuSeconds: 60, maxCachedWorkflows: 'sdk-default' },
        durationMs: 60_000,
      },
      processes: [
        ...historyCpu.map((cpuSeconds, index) => usage(`temporal-history-${index + 1}`, cpuSeconds)),
        usage('temporal-frontend', 10),
        usage('temporal-postgres', 20),
      ],
    };
  };

  it('prints each run, one history process first, with its figures per 1,000 offers, and says when both held the same level', () => {
    // Offers completed: (14 + 17 + 17) × 30 = 1,440 per run.
    const text = renderHistoryProcessCheck([run(2, 17, [36, 36]), run(1, 17, [72])]).join('\n');

    expect(text).toMatch(/\| 1 \| 17 \| 17\.0 of 20 offered, 2,500 \| 100 \/ 400 \| 50 \/ 57 \/ 14 \|/);
    expect(text).toMatch(/\| 2 \| 17 \| .* \| 50 \/ 57 \/ 14 \|/);
    expect(text.indexOf('| 1 |')).toBeLessThan(text.indexOf('| 2 |'));
    expect(text).toMatch(/Both held the same level, 17 offers\/s/);
    expect(text).toMatch(/adds no core/);
  });

  it('calls one load level apart no difference, either way', () => {
    expect(renderHistoryProcessCheck([run(1, 17, [30]), run(2, 14, [15, 15])]).join('\n')).toMatch(
      /One load level apart .*no difference is shown/,
    );
    expect(renderHistoryProcessCheck([run(1, 14, [30]), run(2, 17, [15, 15])]).join('\n')).toMatch(
      /One load level apart/,
    );
  });

  it('says the second process added throughput only when it held two levels or more above one', () => {
    const rates = [10, 12, 14, 17];
    const text = renderHistoryProcessCheck([run(1, 10, [20], { rates }), run(2, 14, [10, 10], { rates })]).join('\n');

    expect(text).toMatch(/2 load levels apart .*added throughput even on one box/);
  });

  it('does not compare runs measured with different settings', () => {
    const text = renderHistoryProcessCheck([run(1, 14, [20]), run(2, 17, [10, 10], { shards: 8 })]).join('\n');

    expect(text).toMatch(/Not compared: the two runs were measured with shards 4 and 8/);
    expect(text).not.toMatch(/levels apart|same level/);
  });

  it('renders nothing without a run', () => {
    expect(renderHistoryProcessCheck([])).toEqual([]);
  });
});
