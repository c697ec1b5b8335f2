import fs from 'node:fs';
import path from 'node:path';
import { armNames } from '../lib/arm';
import { headlineKeys, mediansByArm, renderTable, type BenchResult } from './report';

/**
 * `npm run bench:readme`: writes the measured figures into the documents from the latest results, so
 * that they are never typed by hand. The README, a front door, gets the headline rows of the latest
 * run (full when there is one, else quick) between `<!-- bench:performance:start -->` and its `end`,
 * and each fault scenario's outcome between `<!-- chaos:reliability:start -->` and its `end`;
 * docs/benchmarks.md gets every table (bench/results/latest-<full|quick>.json) between
 * `<!-- bench:results:start -->` and its `end`, and docs/reliability.md every scenario's figures
 * (bench/results/chaos-latest.json) between `<!-- chaos:figures:start -->` and its `end`. A pair of
 * markers that is missing, or a result file that does not exist, leaves that part alone (and says so).
 */

interface ChaosResult {
  scenarios: Array<{ id: string; title: string; passed: boolean; figures: Record<string, string | number> }>;
  machine?: unknown;
  command?: string;
  finishedAt?: string;
}

function machineLine(machine: unknown): string {
  if (typeof machine !== 'object' || machine === null) return 'unknown machine';
  const known = machine as Partial<BenchResult['machine']>;
  const parts = [
    known.cpuModel && `${known.cpuModel}`,
    known.cores !== undefined && `${known.cores} cores`,
    known.memoryGb !== undefined && `${known.memoryGb} GB`,
    known.node && `Node ${known.node}`,
    known.temporalCli && known.temporalCli.split('\n')[0],
    known.temporalServer && `temporal-server ${known.temporalServer}`,
  ].filter((part): part is string => typeof part === 'string' && part !== '');
  return parts.length > 0 ? parts.join(', ') : 'unknown machine';
}

function runLine(result: BenchResult): string {
  const measured = result.commit ? `Holdfast at ${result.commit}; ` : '';
  return `**${result.mode === 'quick' ? 'Quick run' : 'Full run'}** (\`${result.command}\`, ${result.finishedAt.slice(0, 16).replace('T', ' ')} UTC; ${measured}${machineLine(result.machine)})`;
}

/** One round is one sample of each figure: say so rather than call it a median. */
function roundsLine(result: BenchResult): string {
  const ran = armNames
    .map((arm) => result.rounds.filter((round) => round.arm === arm && !round.skipped && !round.error).length)
    .filter((count) => count > 0);
  // The fewest rounds any arm ran is what every column can claim.
  const rounds = ran.length > 0 ? Math.min(...ran) : 0;
  if (rounds === 0) return 'no round ran';
  return rounds === 1 ? 'one round (one sample of each figure)' : `medians across ${rounds} rounds`;
}

/** The longest each arm's full-mode levels waited for their last cascades. */
function drainLine(result: BenchResult): string | undefined {
  if (result.mode !== 'full') return undefined;
  const given = typeof result.settings.drainSeconds === 'number' ? result.settings.drainSeconds : undefined;
  const perArm = armNames.flatMap((arm) => {
    const limits = result.rounds
      .filter((round) => round.arm === arm)
      .flatMap((round) => Object.values(round.levels).map((level) => level?.drainLimitMs))
      .filter((limit): limit is number => limit !== undefined);
    const seconds = limits.length > 0 ? Math.max(...limits) / 1000 : given;
    return seconds === undefined ? [] : [`${arm} ${Math.round(seconds)} s`];
  });
  return perArm.length > 0 ? `Each level's drain after its arrivals was limited to: ${perArm.join(', ')}.` : undefined;
}

/** The open-cascades runs (bench/scale/open-cascades.ts) the README quotes. */
export interface ScaleRuns {
  runs?: Record<
    string,
    {
      cascades: number;
      complete?: boolean;
      entry?: string;
      steadyRssMb?: Record<string, { meanMb: number; lastMb?: number }>;
      workerCache?: { maxCachedWorkflows?: number; setBy?: string };
      afterEviction?: { nextOfferMs?: { p50?: number; max?: number } };
    }
  >;
}

/** The worker's settled RSS per cache size with 1,000 or more cascades waiting, for the memory target. */
export function scaleLine(scale: ScaleRuns | undefined): string | undefined {
  const runs = Object.values(scale?.runs ?? {})
    .filter((run) => run.complete !== false && run.steadyRssMb?.worker)
    .sort(
      (a, b) =>
        a.cascades - b.cascades || (a.workerCache?.maxCachedWorkflows ?? 0) - (b.workerCache?.maxCachedWorkflows ?? 0),
    );
  if (runs.length === 0) return undefined;
  const figures = runs.map((run) => {
    const worker = run.steadyRssMb!.worker!;
    const cache =
      run.workerCache?.setBy === 'sdk-default'
        ? `the SDK's default cache (${run.workerCache.maxCachedWorkflows?.toLocaleString('en-US')} here)`
        : `\`WORKER_MAX_CACHED_WORKFLOWS=${run.workerCache?.maxCachedWorkflows}\``;
    return `${run.cascades.toLocaleString('en-US')} open cascades, ${cache}${run.entry === 'compiled' ? '' : ' (tsx)'}: ${Math.round(worker.lastMb ?? worker.meanMb).toLocaleString('en-US')} MB`;
  });
  return `Worker RSS with cascades waiting on their holds, settled (target ≤ 400 MB with 1,000): ${figures.join('; ')} ([docs/capacity.md](docs/capacity.md#open-cascades-and-memory)).`;
}

/** Each row's median recomputed from the rounds, so rows added since a run was written show too. */
function withMedians(result: BenchResult): BenchResult {
  return { ...result, medians: mediansByArm(result.rounds) };
}

/** The README's rows: the first result given (the full run when there is one). */
export function renderPerformanceHeadline(results: readonly BenchResult[], scale?: ScaleRuns): string {
  const result = results[0];
  if (!result) return '';
  const lines = [`${runLine(result)}, ${roundsLine(result)}:`, '', renderTable(withMedians(result), headlineKeys), ''];
  const memory = scaleLine(scale);
  if (memory) lines.push(memory, '');
  const load = result.machine.loadAverage;
  if (load)
    lines.push(
      `Load average at the start and end: ${load.atStart[0]} / ${load.atEnd[0]} on ${result.machine.cores} cores.`,
    );
  const others = results.slice(1).map((other) => `the ${other.mode} run of ${other.finishedAt.slice(0, 10)}`);
  lines.push(
    `Every row and level${others.length > 0 ? `, and ${others.join(', ')}` : ''}: [docs/benchmarks.md](docs/benchmarks.md#results).`,
  );
  return lines.join('\n');
}

export function renderPerformance(results: readonly BenchResult[]): string {
  return results
    .map((result) => {
      const lines = [`${runLine(result)}, ${roundsLine(result)}:`, '', renderTable(withMedians(result)), ''];
      if (result.machine.devServerSqlite) lines.push(`T-dev store: ${result.machine.devServerSqlite}.`, '');
      const entry = result.settings.entry;
      if (entry === 'compiled' || entry === 'source') {
        lines.push(
          `Holdfast's worker and API ran ${entry === 'compiled' ? 'compiled from dist/, as the image runs them' : 'from the TypeScript sources through tsx'}.`,
          '',
        );
      }
      const drain = drainLine(result);
      if (drain) lines.push(drain, '');
      const load = result.machine.loadAverage;
      if (load) {
        lines.push(
          `Load average (1/5/15 min) at the start ${load.atStart.join(' / ')}, at the end ${load.atEnd.join(' / ')} on ${result.machine.cores} cores.`,
          '',
        );
      }
      for (const note of result.notes) lines.push(`- ${note}`);
      const skipped = result.rounds.filter((round) => round.skipped || round.error);
      for (const round of skipped) {
        lines.push(
          `- ${round.arm} (round ${round.round}): ${round.skipped ? `skipped: ${round.skipped}` : `failed: ${round.error}`}`,
        );
      }
      return lines.join('\n');
    })
    .join('\n\n');
}

/** The README's lines: each scenario's outcome; the figures are in docs/reliability.md. */
export function renderReliabilityHeadline(chaos: ChaosResult): string {
  return [
    `From \`${chaos.command ?? 'npm run chaos'}\`${chaos.finishedAt ? `, ${chaos.finishedAt.slice(0, 16).replace('T', ' ')} UTC` : ''}; ${machineLine(chaos.machine)}:`,
    '',
    '| # | scenario | result |',
    '| --- | --- | --- |',
    ...chaos.scenarios.map(
      (scenario) =>
        `| ${escapeCell(scenario.id)} | ${escapeCell(scenario.title)} | ${scenario.passed ? '✓ passed' : '✗ failed'} |`,
    ),
    '',
    'Each scenario’s figures: [docs/reliability.md](docs/reliability.md#latest-figures).',
  ].join('\n');
}

const escapeCell = (text: string | number) => String(text).replace(/\|/g, '\\|');

export function renderReliability(chaos: ChaosResult): string {
  const escape = escapeCell;
  const lines = [
    `From \`${chaos.command ?? 'npm run chaos'}\`${chaos.finishedAt ? `, ${chaos.finishedAt.slice(0, 16).replace('T', ' ')} UTC` : ''}; ${machineLine(chaos.machine)}:`,
    '',
    '| # | scenario | result | figures |',
    '| --- | --- | --- | --- |',
    ...chaos.scenarios.map(
      (scenario) =>
        `| ${escape(scenario.id)} | ${escape(scenario.title)} | ${scenario.passed ? '✓ passed' : '✗ failed'} | ${Object.entries(
          scenario.figures,
        )
          .map(([name, value]) => `${escape(name)}: ${escape(value)}`)
          .join('; ')} |`,
    ),
  ];
  return lines.join('\n');
}

/** Replaces what lies between the markers; undefined when either marker is missing. */
export function replaceBetweenMarkers(text: string, name: string, content: string): string | undefined {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const from = text.indexOf(start);
  const to = text.indexOf(end, from + start.length);
  if (from < 0 || to < 0) return undefined;
  return `${text.slice(0, from + start.length)}\n${content}\n${text.slice(to)}`;
}

function readJson<T>(file: string): T | undefined {
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as T) : undefined;
}

/** Writes `content` between the markers `name` in `file`; says what it did. */
function writeBetweenMarkers(file: string, name: string, content: string, what: string): void {
  const text = fs.readFileSync(file, 'utf8');
  const next = replaceBetweenMarkers(text, name, content);
  const shown = path.relative(process.cwd(), file);
  if (next === undefined) {
    console.log(`${name}: ${shown} has no markers; left alone`);
    return;
  }
  fs.writeFileSync(file, next);
  console.log(`${name}: ${what} written to ${shown}`);
}

function main(): void {
  const root = process.cwd();
  const resultsDir = path.join(root, 'bench', 'results');
  const readme = path.join(root, 'README.md');

  const results = (['full', 'quick'] as const)
    .map((mode) => readJson<BenchResult>(path.join(resultsDir, `latest-${mode}.json`)))
    .filter((result): result is BenchResult => result !== undefined);
  if (results.length === 0) console.log('bench: no bench/results/latest-*.json yet; run npm run bench');
  else {
    const modes = results.map((result) => result.mode).join(' and ');
    const scale = readJson<ScaleRuns>(path.join(resultsDir, 'scale-latest.json'));
    writeBetweenMarkers(
      readme,
      'bench:performance',
      renderPerformanceHeadline(results, scale),
      `the ${results[0]!.mode} run's headline`,
    );
    writeBetweenMarkers(
      path.join(root, 'docs', 'benchmarks.md'),
      'bench:results',
      renderPerformance(results),
      `the ${modes} results`,
    );
  }

  const chaos = readJson<ChaosResult>(path.join(resultsDir, 'chaos-latest.json'));
  if (!chaos) console.log('chaos: no bench/results/chaos-latest.json yet; run npm run chaos');
  else {
    const count = `${chaos.scenarios.length} scenarios`;
    writeBetweenMarkers(readme, 'chaos:reliability', renderReliabilityHeadline(chaos), count);
    writeBetweenMarkers(path.join(root, 'docs', 'reliability.md'), 'chaos:figures', renderReliability(chaos), count);
  }
}

if (require.main === module) main();
