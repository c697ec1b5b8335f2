import { demandOf, measuredCost, planFor, workload } from '../../bench/capacity';
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
