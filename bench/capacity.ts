import fs from 'node:fs';
import path from 'node:path';
import type { ArmName } from './lib/arm';
import type { StoreActivity } from './lib/store-activity';
import { median } from './harness/metrics';
import type { ArmRoundResult, BenchResult, Level } from './harness/report';
import type { ScaleRuns } from './harness/readme';
import type { HistoryProcessesRun } from './ceiling/history-processes';

/**
 * `npm run bench:capacity`: the capacity model of docs/capacity.md, generated from the bench's
 * latest results so that its figures are measured ones, never typed by hand.
 *
 * The question: what does it take to run 10 million holds a day with the seeds' mix? The model
 * multiplies the demand (holds → cascade steps, workflow starts, open workflows, stored history)
 * by what one step cost on this machine (CPU-seconds per role, transactions and bytes in
 * Temporal's PostgreSQL), and names the resource that runs out first. Every assumption it makes
 * is printed beside its figure.
 */

const root = path.resolve(__dirname, '..');
const resultsDir = path.join(root, 'bench', 'results');
const docFile = path.join(root, 'docs', 'capacity.md');

/** The workload, and what the model assumes about it. Each one is stated in the document. */
export const workload = {
  holdsPerDay: 10_000_000,
  /** The bench's answer mix (the seeds do not give one): accept, decline, let the hold expire. */
  mix: { accept: 0.3, decline: 0.3, expire: 0.4 },
  candidatesPerCascade: 5,
  /** Peak hour over the day's average: business traffic is bunched into working hours. */
  peakToAverage: 3,
  /** The seeds' default hold: 15 minutes. */
  holdMinutes: 15,
  /** How long an answered offer stays open before its answer (assumed: people answer within minutes). */
  answerMinutes: 5,
  /** Closed workflows are kept this long (TEMPORAL_NAMESPACE_RETENTION's default). */
  retentionDays: 7,
  /** Plan every process to this share of its CPU at the peak, leaving room for retries and failover. */
  targetUtilisation: 0.6,
  /** One Node worker process uses about one core (its workflow threads add little on this workload). */
  coresPerWorkerReplica: 1,
  coresPerHistoryProcess: 4,
  coresPerMatchingProcess: 2,
};

/** A cascade step is one offer made or one hold settled: each hold is two. */
const STEPS_PER_HOLD = 2;

export interface Demand {
  holdsPerSecondAverage: number;
  holdsPerSecondPeak: number;
  stepsPerSecondPeak: number;
  holdsPerCascade: number;
  cascadesPerDay: number;
  workflowStartsPerSecondPeak: number;
  openHoldsAtPeak: number;
}

/** What 10 million holds a day ask for, before any cost per step. */
export function demandOf(w: typeof workload): Demand {
  const holdsPerSecondAverage = w.holdsPerDay / 86_400;
  const holdsPerSecondPeak = holdsPerSecondAverage * w.peakToAverage;
  // A cascade ends at the first accept or after its last candidate: a truncated geometric series.
  const notAccepted = 1 - w.mix.accept;
  const holdsPerCascade = (1 - notAccepted ** w.candidatesPerCascade) / w.mix.accept;
  const meanOpenMinutes = (w.mix.accept + w.mix.decline) * w.answerMinutes + w.mix.expire * w.holdMinutes;
  return {
    holdsPerSecondAverage,
    holdsPerSecondPeak,
    stepsPerSecondPeak: holdsPerSecondPeak * STEPS_PER_HOLD,
    holdsPerCascade,
    cascadesPerDay: w.holdsPerDay / holdsPerCascade,
    workflowStartsPerSecondPeak: holdsPerSecondPeak / holdsPerCascade,
    // Little's law: arrivals × time in the system.
    openHoldsAtPeak: holdsPerSecondPeak * meanOpenMinutes * 60,
  };
}

/** What the PostgreSQL instances wrote per step: Temporal's own (T-cluster only) and Holdfast's. */
export interface PersistenceFigures {
  temporal?: StoreActivity;
  application?: StoreActivity;
}

/** What one step cost on this machine, from a bench result. */
export interface MeasuredCost {
  source: string;
  arm: ArmName;
  level: Level;
  stepsPerSecond: number;
  sustainableStepsPerSecond?: number;
  cpuSecondsPer1000Steps: Record<string, number>;
  peakRssMb: Record<string, number>;
  persistence?: PersistenceFigures;
}

function levelOf(round: ArmRoundResult): Level | undefined {
  const levels: Level[] = ['80%', '50%', '90%', 'quick'];
  return levels.find((level) => round.levels[level]?.metrics);
}

/** The median cost across rounds of the best Temporal arm a result holds (T-cluster before T-dev). */
export function measuredCost(result: BenchResult, source: string): MeasuredCost | undefined {
  for (const arm of ['T-cluster', 'T-dev'] as const) {
    const rounds = result.rounds.filter((round) => round.arm === arm && !round.skipped && !round.error);
    const measured = rounds.flatMap((round) => {
      const level = levelOf(round);
      const metrics = level ? round.levels[level]?.metrics : undefined;
      return level && metrics ? [{ round, level, metrics }] : [];
    });
    if (measured.length === 0) continue;
    const roles = new Set(measured.flatMap(({ metrics }) => Object.keys(metrics.processes)));
    const perRole = (pick: (usage: { cpuSecondsPer1000Steps?: number; peakRssMb: number }) => number | undefined) =>
      Object.fromEntries(
        [...roles].flatMap((role) => {
          const values = measured
            .map(({ metrics }) => metrics.processes[role])
            .flatMap((usage) => (usage && pick(usage) !== undefined ? [pick(usage) as number] : []));
          const middle = median(values);
          return middle !== undefined ? [[role, middle]] : [];
        }),
      );
    const storesByRound = measured.map(({ round, level }) => round.levels[level]?.stores ?? []);
    const sustainable = rounds.flatMap((round) => (round.sustainable ? [round.sustainable.stepsPerSecond] : []));
    return {
      source,
      arm,
      level: measured[0]!.level,
      stepsPerSecond: median(measured.map(({ metrics }) => metrics.stepsPerSecond)) ?? 0,
      sustainableStepsPerSecond: median(sustainable),
      cpuSecondsPer1000Steps: perRole((usage) => usage.cpuSecondsPer1000Steps),
      peakRssMb: perRole((usage) => usage.peakRssMb),
      persistence: {
        temporal: medianStoreActivity(storesByRound, 'temporal-postgres'),
        application: medianStoreActivity(storesByRound, 'postgres'),
      },
    };
  }
  return undefined;
}

/** One store's figures, the median of each across rounds; undefined when no round measured it. */
function medianStoreActivity(storesByRound: StoreActivity[][], role: string): StoreActivity | undefined {
  const measured = storesByRound.flatMap((stores) => stores.filter((store) => store.role === role));
  if (measured.length === 0) return undefined;
  const middle = (pick: (store: StoreActivity) => number | undefined) =>
    median(measured.flatMap((store) => (pick(store) === undefined ? [] : [pick(store)!])));
  const history = middle((store) => store.historyBytesPerCascade);
  const walSyncs = middle((store) => store.walSyncsPerStep);
  return {
    role,
    commitsPerStep: middle((store) => store.commitsPerStep) ?? 0,
    ...(walSyncs === undefined ? {} : { walSyncsPerStep: walSyncs }),
    walBytesPerStep: middle((store) => store.walBytesPerStep) ?? 0,
    sizeBytesPerStep: middle((store) => store.sizeBytesPerStep) ?? 0,
    ...(history === undefined ? {} : { historyBytesPerCascade: history }),
  };
}

/** CPU-seconds per step of every process whose role starts with one of the prefixes. */
function cpuPerStep(cost: MeasuredCost, ...prefixes: string[]): number {
  return (
    Object.entries(cost.cpuSecondsPer1000Steps)
      .filter(([role]) => prefixes.some((prefix) => role === prefix || role.startsWith(`${prefix}-`)))
      .reduce((sum, [, seconds]) => sum + seconds, 0) / 1000
  );
}

/** One Temporal arm on this machine: what it sustained, and what its CPU per step says it could. */
export interface MachinePoint {
  arm: ArmName;
  sustainedStepsPerSecond: number;
  /** The sustained figure is only a floor: no load step grew the backlog. */
  lowerBound: boolean;
  /** The first load step whose backlog grew, when one did. */
  grewAtStepsPerSecond?: number;
  cpuSecondsPer1000Steps: { all: number; temporal: number; holdfast: number };
  /** Steps/s the machine's cores carry at this CPU per step: at 100 % and at the model's planned share. */
  cpuBoundStepsPerSecond: number;
  plannedStepsPerSecond: number;
}

/**
 * The model's one check on this machine: its rule (cores = steps/s × CPU per step ÷ utilisation) applied
 * to this box's cores, beside what the bench sustained here. Medians across rounds, at the 80 % level.
 */
export function machinePoints(result: BenchResult, w: typeof workload): MachinePoint[] {
  return (['T-dev', 'T-cluster'] as const).flatMap((arm) => {
    const rounds = result.rounds.filter(
      (round) =>
        round.arm === arm &&
        !round.skipped &&
        !round.error &&
        round.sustainable &&
        round.levels['80%']?.metrics &&
        // A figure without its CPU per step cannot be checked against the rule.
        Object.values(round.levels['80%'].metrics.processes).every(
          (usage) => usage.cpuSecondsPer1000Steps !== undefined,
        ),
    );
    if (rounds.length === 0) return [];
    const cpu = (matches: (role: string) => boolean) =>
      median(
        rounds.map((round) =>
          Object.entries(round.levels['80%']!.metrics.processes)
            .filter(([role]) => matches(role))
            .reduce((sum, [, usage]) => sum + (usage.cpuSecondsPer1000Steps ?? 0), 0),
        ),
      ) ?? 0;
    const all = cpu(() => true);
    if (all <= 0) return [];
    const grew = rounds.flatMap((round) => {
      const step = round.loadSteps?.find((candidate) => candidate.backlogGrew);
      return step ? [step.stepsPerSecond] : [];
    });
    const cpuBound = all > 0 ? (result.machine.cores * 1000) / all : 0;
    return [
      {
        arm,
        sustainedStepsPerSecond: median(rounds.map((round) => round.sustainable!.stepsPerSecond)) ?? 0,
        lowerBound: rounds.some((round) => round.sustainable!.lowerBound),
        ...(grew.length > 0 ? { grewAtStepsPerSecond: median(grew) } : {}),
        cpuSecondsPer1000Steps: {
          all,
          temporal: cpu((role) => role.startsWith('temporal')),
          holdfast: cpu((role) => !role.startsWith('temporal')),
        },
        cpuBoundStepsPerSecond: cpuBound,
        plannedStepsPerSecond: cpuBound * w.targetUtilisation,
      },
    ];
  });
}

/** The check's paragraphs: whether the sustained rate sits where the model's CPU rule puts it, and what a second box adds. */
export function renderMachineCheck(points: readonly MachinePoint[], cores: number, w: typeof workload): string[] {
  if (points.length === 0) return [];
  const percent = w.targetUtilisation * 100;
  const lines = [
    '## One point checked on this machine',
    '',
    `The model’s rule, cores = steps/s × CPU per step ÷ ${percent} %, applied to this box’s ${cores} cores, beside what the bench sustained here (the highest load step whose backlog did not grow):`,
    '',
    `| arm | sustained steps/s | the next load step (backlog grew) | CPU-s per 1,000 steps: all / Temporal / Holdfast | the rule: steps/s at ${percent} % / at 100 % of ${cores} cores |`,
    '| --- | --- | --- | --- | --- |',
    ...points.map(
      (point) =>
        `| ${point.arm} | ${format(point.sustainedStepsPerSecond, 1)}${point.lowerBound ? ' (at least)' : ''} | ${point.grewAtStepsPerSecond === undefined ? '–' : format(point.grewAtStepsPerSecond, 1)} | ${format(point.cpuSecondsPer1000Steps.all)} / ${format(point.cpuSecondsPer1000Steps.temporal)} / ${format(point.cpuSecondsPer1000Steps.holdfast)} | ${format(point.plannedStepsPerSecond, 1)} / ${format(point.cpuBoundStepsPerSecond, 1)} |`,
    ),
    '',
  ];
  for (const point of points) {
    const held = format(point.sustainedStepsPerSecond, 1);
    const grew = point.grewAtStepsPerSecond;
    // The limit lies between the last load step that held and the first that fell behind. The rule is
    // contradicted only when that whole span sits below its plan, or above what all the CPU would carry.
    const fellBehindBelowPlan = grew !== undefined && grew < point.plannedStepsPerSecond;
    const heldAboveAllCpu = point.sustainedStepsPerSecond > point.cpuBoundStepsPerSecond;
    const span =
      grew === undefined
        ? `held ${held} steps/s and never fell behind (a floor)`
        : `held ${held} steps/s; offered more, it served ${format(grew, 1)} and fell behind, so its limit lies between the two`;
    const rule = `the rule plans ${format(point.plannedStepsPerSecond, 1)} at ${percent} % CPU, and ${format(point.cpuBoundStepsPerSecond, 1)} with every core busy`;
    lines.push(
      `- ${point.arm}: the box ${span}; ${rule}. ${
        fellBehindBelowPlan
          ? 'The rule does not hold here: the box fell behind below its plan, so the model’s CPU per step is too low by at least that much.'
          : heldAboveAllCpu
            ? 'The rule does not hold here: the box carried more than its CPU per step allows, so the model’s cost per step is too high.'
            : grew === undefined && point.sustainedStepsPerSecond < point.plannedStepsPerSecond
              ? 'Not checked: no load step reached the plan, and the box never fell behind, so this run neither confirms nor contradicts the rule.'
              : grew === undefined
                ? 'Consistent with the rule as far as it goes: the box held its plan and never fell behind, so its limit was not reached.'
                : 'Consistent with the rule: this box is CPU-bound at the measured cost per step.'
      }`,
    );
  }
  const cluster = points.find((point) => point.arm === 'T-cluster');
  const dev = points.find((point) => point.arm === 'T-dev');
  if (cluster && dev) {
    lines.push(
      `- T-cluster against T-dev: ${format(cluster.sustainedStepsPerSecond, 1)} against ${format(dev.sustainedStepsPerSecond, 1)} steps/s, at ${format(cluster.cpuSecondsPer1000Steps.all)} and ${format(dev.cpuSecondsPer1000Steps.all)} CPU-s per 1,000 steps. On one box the cluster’s second history process adds no core: every process shares the same ${cores}, so the cluster sustains what its CPU per step allows, as the dev server does.`,
    );
  }
  if (cluster && cluster.cpuSecondsPer1000Steps.temporal > 0 && cluster.cpuSecondsPer1000Steps.holdfast > 0) {
    const temporalBox = (cores * 1000) / cluster.cpuSecondsPer1000Steps.temporal;
    const holdfastBox = (cores * 1000) / cluster.cpuSecondsPer1000Steps.holdfast;
    const limit = Math.min(temporalBox, holdfastBox);
    lines.push(
      `- A second machine of ${cores} cores (predicted from the costs above, not measured: this environment has one machine): the Temporal cluster and its PostgreSQL on one box, Holdfast’s worker, API and PostgreSQL on the other. Planned at ${percent} % CPU the pair carries ${format(limit * w.targetUtilisation, 1)} steps/s (${format(limit, 1)} with every core busy), ${format(limit / cluster.cpuBoundStepsPerSecond, 1)} × one box, limited by ${temporalBox < holdfastBox ? `the Temporal box (${format(cluster.cpuSecondsPer1000Steps.temporal, 1)} CPU-s per 1,000 steps against Holdfast’s ${format(cluster.cpuSecondsPer1000Steps.holdfast, 1)}): a third machine goes to the Temporal tier (a history process or its PostgreSQL)` : `the Holdfast box (${format(cluster.cpuSecondsPer1000Steps.holdfast, 1)} CPU-s per 1,000 steps against Temporal’s ${format(cluster.cpuSecondsPer1000Steps.temporal, 1)}): a third machine runs another worker replica`}.`,
    );
  }
  lines.push('');
  return lines;
}

const isHistoryProcess = (role: string) => role.startsWith('temporal-history');

/** CPU-seconds per 1,000 offers (the ceiling's steps) of the roles whose name passes `pick`, over a whole engine-ceiling run. */
function ceilingCpuPer1000(run: HistoryProcessesRun, pick: (role: string) => boolean): number {
  const steps = run.ceiling.levels.reduce((sum, level) => sum + level.stepsCompleted, 0);
  const cpu = run.processes.filter((role) => pick(role.role)).reduce((sum, role) => sum + role.cpuSeconds, 0);
  return steps > 0 ? (cpu * 1000) / steps : 0;
}

/**
 * The capacity model adds history processes to carry more shards' work: what doubling them did on this one
 * machine, from `npm run bench:history-processes`.
 */
export function renderHistoryProcessCheck(runs: readonly HistoryProcessesRun[]): string[] {
  if (runs.length === 0) return [];
  const sorted = [...runs].sort((a, b) => a.historyProcesses - b.historyProcesses);
  const isTemporalServer = (role: string) => role.startsWith('temporal') && role !== 'temporal-postgres';
  const first = sorted[0]!;
  const lines = [
    '### Doubling the history processes',
    '',
    `The engine ceiling (a workflow with the cascade’s ${first.ceiling.perStep.activities} activities, ${first.ceiling.perStep.timers} timer and ${first.ceiling.perStep.updates} Update per offer, bench/ceiling/; its rates are offers per second, each offer with its answer) on the split cluster with ${first.historyShards} shards, once with one history process and once with two sharing the shards, each on a fresh store (\`${first.command}\`; bench/results/ceiling-split-history-<n>.json):`,
    '',
    '| history processes | sustained offers/s | the next level: completed/s, answer → next offer p99 (ms) | answer → next offer p50 / p99 at the sustained level (ms) | CPU-s per 1,000 offers: history / Temporal server / its PostgreSQL | measured (commit, load at start) |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const run of sorted) {
    const levels = run.ceiling.levels;
    const held = [...levels].reverse().find((level) => level.sustainable);
    const next = levels.find((level) => !level.sustainable);
    lines.push(
      `| ${run.historyProcesses} | ${format(run.ceiling.sustainableStepsPerSecond)} | ${next ? `${format(next.completedStepsPerSecond, 1)} of ${format(next.offeredStepsPerSecond)} offered, ${format(next.stepLatencyMs.p99)}` : 'none fell behind'} | ${held ? `${format(held.stepLatencyMs.p50)} / ${format(held.stepLatencyMs.p99)}` : '–'} | ${format(ceilingCpuPer1000(run, isHistoryProcess))} / ${format(ceilingCpuPer1000(run, isTemporalServer))} / ${format(ceilingCpuPer1000(run, (role) => role === 'temporal-postgres'))} | ${run.measuredAt.slice(0, 16).replace('T', ' ')}, ${run.commit ?? '?'}, ${run.loadAtStart[0] ?? '?'} |`,
    );
  }
  const one = sorted.find((run) => run.historyProcesses === 1);
  const two = sorted.find((run) => run.historyProcesses === 2);
  if (one && two) lines.push('', ...compareHistoryRuns(one, two));
  lines.push('');
  return lines;
}

/** What one history process against two shows, in whole load levels, or why the two runs do not compare. */
function compareHistoryRuns(one: HistoryProcessesRun, two: HistoryProcessesRun): string[] {
  const rates = (run: HistoryProcessesRun) => run.ceiling.levels.map((level) => level.offeredStepsPerSecond);
  const differences = [
    one.historyShards !== two.historyShards && `shards ${one.historyShards} and ${two.historyShards}`,
    one.ceiling.levelSeconds !== two.ceiling.levelSeconds &&
      `levels of ${one.ceiling.levelSeconds} s and ${two.ceiling.levelSeconds} s`,
    JSON.stringify(one.ceiling.perStep) !== JSON.stringify(two.ceiling.perStep) && 'different work per offer',
    !rates(two).every((rate, index) => rates(one)[index] === undefined || rates(one)[index] === rate) &&
      'different load levels',
  ].filter((difference): difference is string => Boolean(difference));
  if (differences.length > 0) {
    return [
      `- Not compared: the two runs were measured with ${differences.join(', ')}. Run \`npm run bench:history-processes\` again for both.`,
    ];
  }
  const allRates = [...new Set([...rates(one), ...rates(two)])].sort((a, b) => a - b);
  const levelOf = (run: HistoryProcessesRun) => allRates.indexOf(run.ceiling.sustainableStepsPerSecond);
  const apart = levelOf(two) - levelOf(one);
  const held = `two history processes held ${format(two.ceiling.sustainableStepsPerSecond)} offers/s, one held ${format(one.ceiling.sustainableStepsPerSecond)}`;
  const verdict =
    apart === 0
      ? `Both held the same level, ${format(one.ceiling.sustainableStepsPerSecond)} offers/s.`
      : Math.abs(apart) === 1
        ? `One load level apart (${held}): within what one run per topology resolves, so no difference is shown.`
        : apart > 0
          ? `${Math.abs(apart)} load levels apart (${held}): the second process added throughput even on one box, so one history process did not use the CPU the box had left.`
          : `${Math.abs(apart)} load levels apart (${held}): on one box the second process costs more than it adds.`;
  return [
    `- ${verdict} History cost ${format(ceilingCpuPer1000(two, isHistoryProcess))} CPU-s per 1,000 offers with two processes against ${format(ceilingCpuPer1000(one, isHistoryProcess))} with one. On one box a second process adds no core: both share the same ${one.machine.cores}, with every other process of the stack and the ceiling’s own worker. What it buys is the ability to move it, with its shards, to another machine (the plan above).`,
    `- One run per topology, in levels of ${format(one.ceiling.levelSeconds)} s each: the levels are the resolution${one.commit !== two.commit ? `; the two runs measured different commits (${one.commit ?? '?'}, ${two.commit ?? '?'})` : ''}.`,
  ];
}

export interface Plan {
  rows: Array<{ resource: string; need: string; basis: string; coresAtPeak?: number }>;
  firstToRunOut: string;
}

/** The deployment the demand needs at the measured cost. */
export function planFor(demand: Demand, cost: MeasuredCost, w: typeof workload): Plan {
  const peak = demand.stepsPerSecondPeak;
  const cores = (cpuSecondsPerStep: number) => (peak * cpuSecondsPerStep) / w.targetUtilisation;
  const temporalPerStep = cpuPerStep(cost, 'temporal');
  const historyPerStep = cpuPerStep(cost, 'temporal-history');
  const matchingPerStep = cpuPerStep(cost, 'temporal-matching');
  const workerCores = cores(cpuPerStep(cost, 'worker'));
  const apiCores = cores(cpuPerStep(cost, 'api'));
  const temporalCores = cores(temporalPerStep);
  // Split topology measures history and matching apart; a single process gets the history's usual
  // share of the server's CPU (stated as an assumption in the document).
  const historyCores = historyPerStep > 0 ? cores(historyPerStep) : temporalCores * 0.6;
  const matchingCores = matchingPerStep > 0 ? cores(matchingPerStep) : temporalCores * 0.25;
  // Both databases: Holdfast's (postgres) and, on the cluster, Temporal's own (temporal-postgres).
  const postgresPerStep = cpuPerStep(cost, 'postgres') + cpuPerStep(cost, 'temporal-postgres');
  const postgresCores = cores(postgresPerStep);
  const frontendPerStep = cpuPerStep(cost, 'temporal-frontend');
  const frontendCores = frontendPerStep > 0 ? cores(frontendPerStep) : temporalCores * 0.15;
  const { temporal: temporalStore, application: applicationStore } = cost.persistence ?? {};
  const stores = [temporalStore, applicationStore].flatMap((store) => (store ? [store] : []));
  const commitsPerStep = stores.reduce((sum, store) => sum + store.commitsPerStep, 0);
  const flushesCounted = stores.length > 0 && stores.every((store) => store.walSyncsPerStep !== undefined);
  const walSyncsPerStep = stores.reduce((sum, store) => sum + (store.walSyncsPerStep ?? 0), 0);
  const walBytesPerStep = stores.reduce((sum, store) => sum + store.walBytesPerStep, 0);
  const historyBytesPerDay =
    temporalStore?.historyBytesPerCascade !== undefined
      ? temporalStore.historyBytesPerCascade * demand.cascadesPerDay
      : undefined;
  const perStore = (pick: (store: StoreActivity) => number | undefined) =>
    [
      temporalStore ? `${format(pick(temporalStore) ?? 0, 1)} in Temporal's database` : undefined,
      applicationStore ? `${format(pick(applicationStore) ?? 0, 1)} in Holdfast's` : undefined,
    ]
      .filter(Boolean)
      .join(' + ');
  const missingTemporal = temporalStore
    ? ''
    : cost.arm === 'T-cluster'
      ? " (Temporal's own store not read in this result)"
      : ` (Temporal's own store not included: ${cost.arm} keeps it in SQLite, only T-cluster measures it)`;

  const openWorkflows = demand.openHoldsAtPeak;
  // Shards are fixed at creation: size them for the open workflows with room to grow (Temporal
  // runs clusters from 1 to 128K shards; a few thousand open workflows per shard is comfortable).
  const shards = Math.max(512, nextPowerOfTwo(Math.ceil((openWorkflows * 4) / 1000)));
  const historyProcesses = Math.max(2, Math.ceil(historyCores / w.coresPerHistoryProcess));
  const matchingProcesses = Math.max(2, Math.ceil(matchingCores / w.coresPerMatchingProcess));
  const workerReplicas = Math.max(2, Math.ceil(workerCores / w.coresPerWorkerReplica));

  const rows: Plan['rows'] = [
    {
      resource: 'history shards',
      need: String(shards),
      basis: `${format(openWorkflows)} holds open at the peak × 4 for growth / 1,000 per shard, at least 512 (fixed at creation)`,
    },
    {
      resource: 'history processes',
      need: `${historyProcesses} × ${w.coresPerHistoryProcess} cores`,
      basis: `${format(historyCores, 1)} cores at the peak${historyPerStep > 0 ? '' : ' (60 % of the server CPU measured in one process)'}`,
      coresAtPeak: historyCores,
    },
    {
      resource: 'matching processes',
      need: `${matchingProcesses} × ${w.coresPerMatchingProcess} cores`,
      basis: `${format(matchingCores, 1)} cores at the peak${matchingPerStep > 0 ? '' : ' (25 % of the server CPU measured in one process)'}`,
      coresAtPeak: matchingCores,
    },
    {
      resource: 'frontend processes',
      need: `${Math.max(2, Math.ceil(frontendCores / w.coresPerMatchingProcess))} × ${w.coresPerMatchingProcess} cores`,
      basis: `${format(frontendCores, 1)} cores at the peak${frontendPerStep > 0 ? '' : ' (15 % of the server CPU measured in one process)'}`,
      coresAtPeak: frontendCores,
    },
    {
      resource: 'Holdfast worker replicas',
      need: `${workerReplicas} × ${w.coresPerWorkerReplica} core`,
      basis: `${format(cpuPerStep(cost, 'worker') * 1000, 2)} CPU-s per 1,000 steps × ${format(peak)} steps/s`,
      coresAtPeak: workerCores,
    },
    {
      resource: 'API replicas',
      need: `${Math.max(2, Math.ceil(apiCores))} × 1 core`,
      basis: `${format(cpuPerStep(cost, 'api') * 1000, 2)} CPU-s per 1,000 steps (the API is on the path of starts and answers only)`,
      coresAtPeak: apiCores,
    },
    {
      resource: 'PostgreSQL (Temporal + Holdfast) CPU',
      need: `${format(postgresCores, 1)} cores`,
      basis: `${format(postgresPerStep * 1000, 2)} CPU-s per 1,000 steps (Holdfast's database and Temporal's)`,
      coresAtPeak: postgresCores,
    },
    {
      resource: 'PostgreSQL WAL flushes/s (write IOPS a commit waits on)',
      need: flushesCounted ? format(peak * walSyncsPerStep) : 'not measured',
      basis: flushesCounted
        ? `${perStore((store) => store.walSyncsPerStep)} per step (WAL fsyncs: pg_stat_io on PostgreSQL 18, pg_stat_wal before; after group commit on this machine)${missingTemporal}`
        : stores.length > 0
          ? 'not measured: this PostgreSQL did not report its WAL fsyncs'
          : 'not measured: this result predates the bench reading PostgreSQL’s statistics',
    },
    {
      resource: 'PostgreSQL transactions/s',
      need: stores.length > 0 ? format(peak * commitsPerStep) : 'not measured',
      basis:
        stores.length > 0
          ? `${perStore((store) => store.commitsPerStep)} per step (pg_stat_database.xact_commit, reads included)${missingTemporal}`
          : 'not measured',
    },
    {
      resource: 'PostgreSQL WAL written',
      need: stores.length > 0 ? `${format((peak * walBytesPerStep) / 1024 ** 2, 1)} MiB/s` : 'not measured',
      basis:
        stores.length > 0
          ? `${format(walBytesPerStep / 1024, 1)} KiB of WAL per step (pg_current_wal_lsn): ${perStore((store) => store.walBytesPerStep / 1024)} KiB${missingTemporal}`
          : 'not measured',
    },
    {
      resource: 'PostgreSQL storage for histories',
      need:
        historyBytesPerDay !== undefined
          ? `${format((historyBytesPerDay * w.retentionDays) / 1024 ** 3, 1)} GiB`
          : 'not measured',
      basis:
        historyBytesPerDay !== undefined
          ? `${format(temporalStore!.historyBytesPerCascade! / 1024, 1)} KiB of history per cascade (history_node) × ${format(demand.cascadesPerDay)} cascades/day × ${w.retentionDays} days; indexes, visibility and Holdfast's rows come on top`
          : `not measured${missingTemporal}`,
    },
  ];
  const cpuRows = rows.filter((row) => row.coresAtPeak !== undefined);
  const busiest = cpuRows.reduce((best, row) => ((row.coresAtPeak ?? 0) > (best.coresAtPeak ?? 0) ? row : best));
  return { rows, firstToRunOut: busiest.resource };
}

function nextPowerOfTwo(value: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, value)));
}

function format(value: number, digits = 0): string {
  return value.toLocaleString('en-GB', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function readResult(file: string): BenchResult | undefined {
  const full = path.join(resultsDir, file);
  return fs.existsSync(full) ? (JSON.parse(fs.readFileSync(full, 'utf8')) as BenchResult) : undefined;
}

/** Markdown for docs/capacity.md. */
export function renderCapacity(
  result: BenchResult,
  cost: MeasuredCost,
  scale: ScaleRuns | undefined,
  historyRuns: readonly HistoryProcessesRun[] = [],
): string {
  const demand = demandOf(workload);
  const plan = planFor(demand, cost, workload);
  const w = workload;
  const lines = [
    '# Capacity: 10 million holds a day',
    '',
    `<!-- Generated by \`npm run bench:capacity\` from ${cost.source}; do not edit by hand. -->`,
    '',
    `Measured by \`${result.command}\` on ${result.finishedAt.slice(0, 16).replace('T', ' ')} UTC (${result.machine.cpuModel}, ${result.machine.cores} cores), arm **${cost.arm}** at the ${cost.level === 'quick' ? 'quick run’s one rate' : `${cost.level} load level`}: ${format(cost.stepsPerSecond, 1)} steps/s${cost.sustainableStepsPerSecond !== undefined ? `, ${format(cost.sustainableStepsPerSecond, 1)} steps/s sustainable` : ''} on this one machine. docs/performance.md says where that time goes; docs/cluster.md how the cluster runs.`,
    '',
    '## The demand',
    '',
    '| | figure | how |',
    '| --- | --- | --- |',
    `| holds | ${format(w.holdsPerDay)} a day, ${format(demand.holdsPerSecondAverage, 1)}/s on average, ${format(demand.holdsPerSecondPeak, 1)}/s at the peak | peak hour = ${w.peakToAverage} × the average (assumed) |`,
    `| cascade steps | ${format(demand.stepsPerSecondPeak)}/s at the peak | ${STEPS_PER_HOLD} per hold: the offer, then its answer or expiry |`,
    `| cascades | ${format(demand.cascadesPerDay)} a day; ${format(demand.workflowStartsPerSecondPeak, 1)} workflow starts/s at the peak | ${format(demand.holdsPerCascade, 2)} holds per cascade with ${w.mix.accept * 100} % accepting and ${w.candidatesPerCascade} candidates |`,
    `| holds open at the peak | ${format(demand.openHoldsAtPeak)} | Little's law: ${w.mix.expire * 100} % wait the full ${w.holdMinutes} min hold, the rest answer in ${w.answerMinutes} min (assumed) |`,
    '',
    '## What it takes',
    '',
    `Planned at ${w.targetUtilisation * 100} % CPU at the peak; every process at least two for failover.`,
    '',
    '| resource | need | basis |',
    '| --- | --- | --- |',
    ...plan.rows.map((row) => `| ${row.resource} | ${row.need} | ${row.basis} |`),
    '',
    `**The first to run out: ${plan.firstToRunOut}** — the largest CPU need per step. On this machine every part shares 2 cores, so the sum of the rows above is what one box runs out of; spread over machines, the first resource to add is that one.`,
    '',
    '## What it cost per 1,000 steps here',
    '',
    '| process | CPU-seconds | peak RSS (MB) |',
    '| --- | --- | --- |',
    ...Object.keys(cost.cpuSecondsPer1000Steps)
      .sort()
      .map(
        (role) =>
          `| ${role} | ${format(cost.cpuSecondsPer1000Steps[role] ?? 0, 2)} | ${format(cost.peakRssMb[role] ?? 0)} |`,
      ),
    '',
    ...renderMachineCheck(machinePoints(result, w), result.machine.cores, w),
    ...renderHistoryProcessCheck(historyRuns),
  ];
  const scaleRuns = Object.values(scale?.runs ?? {}).filter((run) => run.complete !== false);
  if (scaleRuns.length > 0) {
    lines.push(
      '## Open cascades and memory',
      '',
      'While the cascades wait on their holds (`npx tsx bench/scale/open-cascades.ts`, bench/results/scale-latest.json):',
      '',
      '| open cascades | worker cache (workflows) | worker runs | worker RSS at the end, mean over the window (MB) | Temporal RSS (MB) | decline → next offer of the first released, p50 / max (ms) |',
      '| --- | --- | --- | --- | --- | --- |',
      ...scaleRuns
        .sort(
          (a, b) =>
            a.cascades - b.cascades ||
            (a.workerCache?.maxCachedWorkflows ?? 0) - (b.workerCache?.maxCachedWorkflows ?? 0),
        )
        .map((run) => {
          const cache = run.workerCache?.maxCachedWorkflows;
          const cacheText =
            cache === undefined
              ? '?'
              : `${format(cache)}${run.workerCache?.setBy === 'sdk-default' ? ' (SDK default)' : ''}`;
          const replay = run.afterEviction?.nextOfferMs;
          return `| ${format(run.cascades)} | ${cacheText} | ${run.entry === 'compiled' ? 'compiled (dist/)' : 'tsx'} | ${format(run.steadyRssMb?.worker?.lastMb ?? run.steadyRssMb?.worker?.meanMb ?? 0)}, ${format(run.steadyRssMb?.worker?.meanMb ?? 0)} | ${format(run.steadyRssMb?.temporal?.meanMb ?? 0)} | ${replay?.p50 === undefined ? '–' : `${format(replay.p50)} / ${format(replay.max ?? 0)}`} |`;
        }),
      '',
      'The worker keeps the cascades it has seen in its sticky cache, up to `WORKER_MAX_CACHED_WORKFLOWS`; unset, the SDK sizes the cache from the V8 heap limit (2,310 on this 24 GB machine), so a worker’s memory follows the number of open cascades until that limit: set it from the worker’s memory budget, with the rows above for what each size cost here. A cascade that leaves the cache costs the worker nothing while it waits: it is replayed from its short history when its timer fires or an answer comes. The last column times a decline on the cascades released first, which a cache smaller than the open cascades has evicted, so their next step includes that replay. `npm run chaos` R5 proves correctness with a cache of 5. The cache size bounds the worker’s memory whatever the number of open cascades; histories in Temporal’s store grow with them. RSS falls for a minute after the load while V8 returns memory, so the end of the window is the settled figure.',
      '',
    );
  }
  lines.push(
    '## Assumptions and limits of this model',
    '',
    '- Cost per step is linear in load: assumed. The check above shows only that this box is CPU-bound at the cost per step it measured; one machine cannot show where linearity stops, and no larger deployment has checked it yet.',
    `- The cost per step was measured ${cost.level === 'quick' ? 'at the quick run’s low, fixed rate: idle work (polling, timers, the sampler) is spread over few steps, so it overstates the cost per step at load' : `at the ${cost.level} load level`}.`,
    '- A core in production does the work of a core here (no allowance for faster or slower CPUs).',
    '- PostgreSQL figures are per instance, read before and after each level (window and drain), so idle work (pollers, timers, the bench’s own sampling) is spread over the level’s steps. WAL flushes are what this machine’s PostgreSQL did with synchronous commit, group commit included: a busier server folds more commits into one flush, so the figure is an upper bound per step. Transactions include read-only ones. WAL bytes include full-page images after checkpoints.',
    '- Shards: Temporal serialises the operations of one shard; the count cannot be changed once the cluster is created, so it is sized for 4 × the open workflows and never below 512.',
    '- Messages: an SMTP or SMS provider’s own rate limits are outside this model (docs/queues.md: per-queue rates).',
    '',
  );
  return lines.join('\n');
}

function main(): void {
  const sources = ['latest-full.json', 'latest-quick.json'];
  for (const file of sources) {
    const result = readResult(file);
    const cost = result && measuredCost(result, `bench/results/${file}`);
    if (!result || !cost) continue;
    const scaleFile = path.join(resultsDir, 'scale-latest.json');
    const scale = fs.existsSync(scaleFile) ? (JSON.parse(fs.readFileSync(scaleFile, 'utf8')) as ScaleRuns) : undefined;
    const historyRuns = [1, 2]
      .map((count) => path.join(resultsDir, `ceiling-split-history-${count}.json`))
      .filter((file) => fs.existsSync(file))
      .map((file) => JSON.parse(fs.readFileSync(file, 'utf8')) as HistoryProcessesRun);
    fs.writeFileSync(docFile, renderCapacity(result, cost, scale, historyRuns));
    process.stdout.write(`docs/capacity.md written from bench/results/${file} (${cost.arm})\n`);
    return;
  }
  process.stderr.write(
    'No bench result with a Temporal arm in bench/results/: run `npm run bench -- --quick` first.\n',
  );
  process.exitCode = 1;
}

if (require.main === module) main();
