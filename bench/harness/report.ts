import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { armNames, type ArmName } from '../lib/arm';
import type { StoreActivity } from '../lib/store-activity';
import { median, type RunMetrics } from './metrics';

/**
 * The bench's table and its JSON. One column per arm, medians across rounds; T's targets (issue 14)
 * are checked with ✓/✗ beside the figure. The JSON keeps every round's raw figures.
 */

export type Mode = 'quick' | 'full';

/** The load levels a run measures: one fixed rate in quick mode; 50/80/90 % of the sustainable rate in full. */
export type Level = 'quick' | '50%' | '80%' | '90%';

export interface LoadStepResult {
  cascadesPerSecond: number;
  durationMs: number;
  stepsPerSecond: number;
  backlogGrew: boolean;
  backlog: { firstHalfMin?: number; secondHalfMin?: number; last?: number };
}

export interface LevelResult {
  cascadesPerSecond: number;
  /** Each PostgreSQL instance's commits, WAL and growth per step over the level (window and drain). */
  stores?: StoreActivity[];
  arrivalWindowMs: number;
  /** How long the level waited for its last cascades after the arrivals, and the most it would have. */
  drainMs: number;
  drainLimitMs?: number;
  drainedFully: boolean;
  decisions: Record<string, number>;
  metrics: RunMetrics;
}

/** One arm in one round. */
export interface ArmRoundResult {
  arm: ArmName;
  round: number;
  /** Why the arm did not run, when it did not. */
  skipped?: string;
  startupMs?: number;
  loadSteps?: LoadStepResult[];
  /** Full mode: the highest load step whose backlog did not grow. */
  sustainable?: { cascadesPerSecond: number; stepsPerSecond: number; lowerBound: boolean };
  levels: Partial<Record<Level, LevelResult>>;
  /** Full mode, Holdfast's arms: the same server's ceiling with no-op activities (bench/ceiling/). */
  engineCeiling?: EngineCeilingFigures;
  error?: string;
}

/** The engine ceiling beside Holdfast's own sustainable rate, both in offers per second. */
export interface EngineCeilingFigures {
  /** The highest level the trivial cascade sustained (0 when none did); a lower bound when the last level held. */
  offersPerSecond: number;
  lowerBound: boolean;
  /** Holdfast's sustainable steps/s over two (a step is an offer made or a hold settled). */
  holdfastOffersPerSecond?: number;
  /** Holdfast's share of the ceiling; the issue's target is at least 0.8. */
  fraction?: number;
  levels: Array<{
    offeredStepsPerSecond: number;
    arrivedStepsPerSecond?: number;
    completedStepsPerSecond: number;
    /** Cascades waiting on the engine, growth per second between the level's second and last quarters. */
    backlogGrowthPerSecond?: number;
    /** Whether the backlog grew past a second's arrivals, as Holdfast's load steps are judged. */
    backlogGrew?: boolean;
    stepP99Ms: number;
    sustainable: boolean;
  }>;
  durationMs: number;
  error?: string;
}

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGb: number;
  os: string;
  node: string;
  temporalCli?: string;
  temporalServer?: string;
  /** How the dev server's SQLite store was configured, and how we know. */
  devServerSqlite?: string;
  /** The 1-, 5- and 15-minute load averages when the run began and ended: above the core count, other work competed. */
  loadAverage?: { atStart: number[]; atEnd: number[] };
}

/** os.loadavg(), to two decimals. */
export function roundedLoadAverage(): number[] {
  return os.loadavg().map((load) => Math.round(load * 100) / 100);
}

export interface BenchResult {
  mode: Mode;
  command: string;
  seed: number;
  startedAt: string;
  finishedAt: string;
  /** The Holdfast commit measured (`git rev-parse --short HEAD`, `+` when the tree had changes); absent in older runs. */
  commit?: string;
  machine: Machine;
  settings: Record<string, unknown>;
  rounds: ArmRoundResult[];
  /** Per arm: each table row's median across rounds. */
  medians: Partial<Record<ArmName, Record<string, number | undefined>>>;
  notes: string[];
}

export function describeMachine(extra: Partial<Machine> = {}): Machine {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    ...extra,
  };
}

/** The version the provisioned Temporal CLI reports, if it runs. */
export function temporalCliVersion(cliPath: string | undefined): string | undefined {
  if (!cliPath) return undefined;
  try {
    return execFileSync(cliPath, ['--version'], { encoding: 'utf8', timeout: 10_000 }).trim();
  } catch {
    return undefined;
  }
}

/**
 * The journal mode of a SQLite file, read from its header (bytes 18 and 19 are 2 in WAL mode, 1 in
 * the rollback-journal modes): a measurement, not an assumption about the CLI's defaults.
 */
export function sqliteJournalMode(dbFile: string): 'wal' | 'rollback-journal' | undefined {
  try {
    const header = Buffer.alloc(20);
    const fd = fs.openSync(dbFile, 'r');
    try {
      fs.readSync(fd, header, 0, 20, 0);
    } finally {
      fs.closeSync(fd);
    }
    if (header.toString('latin1', 0, 15) !== 'SQLite format 3') return undefined;
    return header[18] === 2 && header[19] === 2 ? 'wal' : 'rollback-journal';
  } catch {
    return undefined;
  }
}

interface Row {
  key: string;
  label: string;
  unit: string;
  /** T's target: whether a figure passes. */
  target?: { text: string; pass: (value: number) => boolean };
  /** Only full mode measures it (a second load level, or the load steps). */
  fullOnly?: boolean;
  /** Decimals shown below 100 (default 1). */
  digits?: number;
  /** When a round's figure is only a bound (the load never found the limit): shown as ≥ or ≤. */
  bound?: (result: ArmRoundResult) => '≥' | '≤' | undefined;
  pick: (result: ArmRoundResult) => number | undefined;
}

/** The level a row is read at: its full-mode level, or the one quick-mode run. */
function at(result: ArmRoundResult, level: Level): RunMetrics | undefined {
  return (result.levels[level] ?? result.levels.quick)?.metrics;
}

const processRoles = ['worker', 'api', 'temporal', 'postgres', 'redis'];

function roleFigure(metrics: RunMetrics | undefined, role: string, figure: 'cpu' | 'rss'): number | undefined {
  if (!metrics) return undefined;
  // Roles like temporal-history-1 and temporal-postgres add up into their family.
  const entries = Object.entries(metrics.processes).filter(
    ([name]) => name === role || (role === 'temporal' && name.startsWith('temporal')),
  );
  if (entries.length === 0) return undefined;
  return entries.reduce(
    (sum, [, usage]) => sum + (figure === 'cpu' ? (usage.cpuSecondsPer1000Steps ?? 0) : usage.peakRssMb),
    0,
  );
}

const rows: Row[] = [
  {
    key: 'expiryLatenessP50',
    label: 'hold-expiry lateness p50 (80 %)',
    unit: 'ms',
    pick: (r) => at(r, '80%')?.expiryLatenessMs.p50,
  },
  {
    key: 'expiryLatenessP99',
    label: 'hold-expiry lateness p99 (80 %)',
    unit: 'ms',
    target: { text: '≤ 1500', pass: (value) => value <= 1500 },
    pick: (r) => at(r, '80%')?.expiryLatenessMs.p99,
  },
  {
    key: 'expiryLatenessMax',
    label: 'hold-expiry lateness max (80 %)',
    unit: 'ms',
    pick: (r) => at(r, '80%')?.expiryLatenessMs.max,
  },
  {
    key: 'declineToOfferP50',
    label: 'decline → next offer p50 (50 %)',
    unit: 'ms',
    pick: (r) => at(r, '50%')?.declineToOfferMs.p50,
  },
  {
    key: 'declineToOfferP99',
    label: 'decline → next offer p99 (50 %)',
    unit: 'ms',
    target: { text: '≤ 300', pass: (value) => value <= 300 },
    pick: (r) => at(r, '50%')?.declineToOfferMs.p99,
  },
  {
    key: 'declineToMessageP50',
    label: 'decline → next message p50 (50 %)',
    unit: 'ms',
    pick: (r) => at(r, '50%')?.declineToMessageMs.p50,
  },
  {
    key: 'declineToMessageP99',
    label: 'decline → next message p99 (50 %)',
    unit: 'ms',
    pick: (r) => at(r, '50%')?.declineToMessageMs.p99,
  },
  {
    key: 'sustainableStepsPerSecond',
    fullOnly: true,
    label: 'max sustainable steps/s',
    unit: '/s',
    bound: (r) => (r.sustainable?.lowerBound ? '≥' : undefined),
    pick: (r) => r.sustainable?.stepsPerSecond,
  },
  {
    key: 'engineCeilingOffersPerSecond',
    fullOnly: true,
    label: 'engine ceiling: offers/s (no-op activities)',
    unit: '/s',
    bound: (r) => (r.engineCeiling?.lowerBound ? '≥' : undefined),
    pick: (r) => (r.engineCeiling && !r.engineCeiling.error ? r.engineCeiling.offersPerSecond : undefined),
  },
  {
    key: 'engineCeilingFraction',
    fullOnly: true,
    label: 'sustainable offers/s ÷ engine ceiling',
    unit: '',
    digits: 2,
    target: { text: '≥ 0.8', pass: (value) => value >= 0.8 },
    // Over a ceiling that is only a floor, the fraction is only a ceiling.
    bound: (r) => (r.engineCeiling?.lowerBound ? '≤' : undefined),
    pick: (r) => r.engineCeiling?.fraction,
  },
  {
    key: 'stepsPerSecond',
    label: 'steps/s measured (80 %)',
    unit: '/s',
    pick: (r) => at(r, '80%')?.stepsPerSecond,
  },
  {
    key: 'apiStartP50At50',
    label: 'API start p50 (50 %)',
    unit: 'ms',
    pick: (r) => at(r, '50%')?.apiStartMs.p50,
  },
  {
    key: 'apiStartP99At50',
    label: 'API start p99 (50 %)',
    unit: 'ms',
    target: { text: '≤ 100', pass: (value) => value <= 100 },
    pick: (r) => at(r, '50%')?.apiStartMs.p99,
  },
  {
    key: 'apiStartP50At90',
    fullOnly: true,
    label: 'API start p50 (90 %)',
    unit: 'ms',
    pick: (r) => at(r, '90%')?.apiStartMs.p50,
  },
  {
    key: 'apiStartP99At90',
    fullOnly: true,
    label: 'API start p99 (90 %)',
    unit: 'ms',
    pick: (r) => at(r, '90%')?.apiStartMs.p99,
  },
  ...processRoles.flatMap((role): Row[] => [
    {
      key: `cpuPer1000Steps.${role}`,
      label: `CPU-s / 1,000 steps: ${role} (80 %)`,
      unit: 's',
      pick: (r) => roleFigure(at(r, '80%'), role, 'cpu'),
    },
    {
      key: `peakRss.${role}`,
      label: `peak RSS: ${role} (80 %)`,
      unit: 'MB',
      pick: (r) => roleFigure(at(r, '80%'), role, 'rss'),
    },
  ]),
  {
    key: 'cpuPer1000Steps.all',
    label: 'CPU-s / 1,000 steps: all processes (80 %)',
    unit: 's',
    pick: (r) => {
      const metrics = at(r, '80%');
      if (!metrics) return undefined;
      return Object.values(metrics.processes).reduce((sum, usage) => sum + (usage.cpuSecondsPer1000Steps ?? 0), 0);
    },
  },
  {
    key: 'slotsWithTwoLiveOffers',
    label: 'slots with two live offers',
    unit: '',
    target: { text: '= 0', pass: (value) => value === 0 },
    pick: (r) => sumOverLevels(r, (m) => m.correctness.slotsWithTwoLiveOffersLive + m.correctness.overlapsPostHoc),
  },
  {
    key: 'cascadesLost',
    label: 'cascades lost (stuck: not final, idle past the arm’s allowance)',
    unit: '',
    target: { text: '= 0', pass: (value) => value === 0 },
    // Counted from the standings every results file carries, so older files read by the same rule.
    pick: (r) => sumOverLevels(r, (m) => m.correctness.cascadesStuck),
  },
  {
    key: 'cascadesUnfinished',
    label: 'cascades still moving when a drain ran out',
    unit: '',
    // No target: a level whose drain was too short for its arm says nothing of the arm (see --drain-seconds).
    fullOnly: true,
    pick: (r) => sumOverLevels(r, (m) => m.correctness.cascadesInFlight),
  },
  {
    key: 'duplicateMessages',
    label: 'duplicate messages',
    unit: '',
    target: { text: '= 0', pass: (value) => value === 0 },
    pick: (r) =>
      sumOverLevels(r, (m) => m.correctness.duplicateMessagesCatcher + m.correctness.duplicateOfferNotifications),
  },
  {
    key: 'cascadesReleased',
    label: 'cascades released (all levels)',
    unit: '',
    pick: (r) => sumOverLevels(r, (m) => m.cascadesReleased),
  },
  {
    key: 'releaseFailures',
    label: 'release requests failed',
    unit: '',
    pick: (r) => sumOverLevels(r, (m) => m.releaseFailures),
  },
];

function sumOverLevels(result: ArmRoundResult, figure: (metrics: RunMetrics) => number): number | undefined {
  const levels = Object.values(result.levels);
  if (levels.length === 0) return undefined;
  return levels.reduce((sum, level) => sum + figure(level.metrics), 0);
}

/** Each row's median across the rounds an arm ran. */
export function mediansByArm(rounds: readonly ArmRoundResult[]): BenchResult['medians'] {
  const byArm: BenchResult['medians'] = {};
  const arms = [...new Set(rounds.map((round) => round.arm))];
  for (const arm of arms) {
    const ran = rounds.filter((round) => round.arm === arm && !round.skipped && !round.error);
    if (ran.length === 0) continue;
    byArm[arm] = Object.fromEntries(rows.map((row) => [row.key, median(ran.map(row.pick))]));
  }
  return byArm;
}

function format(value: number | undefined, unit: string, digits = 1): string {
  if (value === undefined) return '–';
  if (value === Infinity) return '∞';
  const scale = 10 ** digits;
  const rounded =
    Math.abs(value) >= 100 || Number.isInteger(value) ? Math.round(value) : Math.round(value * scale) / scale;
  return `${rounded.toLocaleString('en-US')}${unit && unit !== '/s' ? ` ${unit}` : unit}`;
}

/** The README's short table: the figures the issue sets targets on, and the arms' total CPU per step. */
export const headlineKeys = [
  'expiryLatenessP99',
  'declineToOfferP99',
  'apiStartP99At50',
  'sustainableStepsPerSecond',
  'engineCeilingFraction',
  'cpuPer1000Steps.all',
  'peakRss.worker',
  'slotsWithTwoLiveOffers',
  'cascadesLost',
  'duplicateMessages',
];

/**
 * The table as Markdown: one column per arm; a T arm's figure carries ✓/✗ where the issue sets a target.
 * `only` keeps those rows (in the table's order).
 */
export function renderTable(
  result: Pick<BenchResult, 'medians' | 'rounds' | 'mode'>,
  only?: readonly string[],
): string {
  // Quick mode measures one fixed rate: the levels in the labels do not apply.
  const label = (row: Row) => (result.mode === 'quick' ? row.label.replace(/ \((50|80|90) %\)$/, '') : row.label);
  const arms = armNames.filter((arm) => result.rounds.some((round) => round.arm === arm));
  const header = `| metric${result.mode === 'quick' ? ' (quick: one fixed rate)' : ''} | ${arms.join(' | ')} | target (T) |`;
  const divider = `| --- | ${arms.map(() => '---').join(' | ')} | --- |`;
  const lines = rows
    .filter((row) => result.mode === 'full' || !row.fullOnly)
    .filter((row) => !only || only.includes(row.key))
    .map((row) => {
      const cells = arms.map((arm) => {
        const figures = result.medians[arm];
        if (!figures) {
          const skipped = result.rounds.find((round) => round.arm === arm && (round.skipped || round.error));
          return skipped?.skipped ? 'skipped' : 'failed';
        }
        const value = figures[row.key];
        const mark =
          row.target && arm.startsWith('T') && value !== undefined ? (row.target.pass(value) ? ' ✓' : ' ✗') : '';
        const bound =
          value === undefined
            ? undefined
            : result.rounds
                .filter((round) => round.arm === arm && !round.skipped && !round.error)
                .map((round) => row.bound?.(round))
                .find(Boolean);
        return `${bound ? `${bound} ` : ''}${format(value, row.unit, row.digits)}${mark}`;
      });
      return `| ${label(row)} | ${cells.join(' | ')} | ${row.target?.text ?? ''} |`;
    });
  return [header, divider, ...lines].join('\n');
}

/** Writes the JSON beside its `latest-<mode>.json` twin; returns both paths. */
export function writeResult(result: BenchResult, outDir: string): { file: string; latest: string } {
  fs.mkdirSync(outDir, { recursive: true });
  const stamp = result.startedAt.replace(/[:.]/g, '-');
  const file = path.join(outDir, `${stamp}-${result.mode}.json`);
  const latest = path.join(outDir, `latest-${result.mode}.json`);
  const json = `${JSON.stringify(result, (_key, value: unknown) => (value === Infinity ? 'Infinity' : value), 2)}\n`;
  fs.writeFileSync(file, json);
  fs.writeFileSync(latest, json);
  return { file, latest };
}
