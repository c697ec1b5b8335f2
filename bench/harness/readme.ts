import fs from 'node:fs';
import path from 'node:path';
import { renderTable, type BenchResult } from './report';

/**
 * `npm run bench:readme`: writes the README's Performance and Reliability figures from the latest
 * results, so that they are never typed by hand. Between `<!-- bench:performance:start -->` and
 * `<!-- bench:performance:end -->` goes a table per bench/results/latest-<quick|full>.json; between
 * `<!-- chaos:reliability:start -->` and `<!-- chaos:reliability:end -->` the fault battery's
 * bench/results/chaos-latest.json. A pair of markers that is missing, or a result file that does not
 * exist, leaves that part alone (and says so).
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

export function renderPerformance(results: readonly BenchResult[]): string {
  return results
    .map((result) => {
      const lines = [
        `**${result.mode === 'quick' ? 'Quick run' : 'Full run'}** (\`${result.command}\`, ${result.finishedAt.slice(0, 16).replace('T', ' ')} UTC; ${machineLine(result.machine)}):`,
        '',
        renderTable(result),
        '',
      ];
      if (result.machine.devServerSqlite) lines.push(`T-dev store: ${result.machine.devServerSqlite}.`, '');
      const entry = result.settings.entry;
      if (entry === 'compiled' || entry === 'source') {
        lines.push(
          `Holdfast's worker and API ran ${entry === 'compiled' ? 'compiled from dist/, as the image runs them' : 'from the TypeScript sources through tsx'}.`,
          '',
        );
      }
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

export function renderReliability(chaos: ChaosResult): string {
  const escape = (text: string | number) => String(text).replace(/\|/g, '\\|');
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

function main(): void {
  const root = process.cwd();
  const resultsDir = path.join(root, 'bench', 'results');
  const readmePath = path.join(root, 'README.md');
  let readme = fs.readFileSync(readmePath, 'utf8');

  const results = (['full', 'quick'] as const)
    .map((mode) => readJson<BenchResult>(path.join(resultsDir, `latest-${mode}.json`)))
    .filter((result): result is BenchResult => result !== undefined);
  if (results.length === 0) console.log('bench:performance: no bench/results/latest-*.json yet; run npm run bench');
  else {
    const next = replaceBetweenMarkers(readme, 'bench:performance', renderPerformance(results));
    if (next === undefined) console.log('bench:performance: the README has no markers; left alone');
    else {
      readme = next;
      console.log(`bench:performance: ${results.map((result) => result.mode).join(' and ')} results written`);
    }
  }

  const chaos = readJson<ChaosResult>(path.join(resultsDir, 'chaos-latest.json'));
  if (!chaos) console.log('chaos:reliability: no bench/results/chaos-latest.json yet; run npm run chaos');
  else {
    const next = replaceBetweenMarkers(readme, 'chaos:reliability', renderReliability(chaos));
    if (next === undefined) console.log('chaos:reliability: the README has no markers; left alone');
    else {
      readme = next;
      console.log(`chaos:reliability: ${chaos.scenarios.length} scenarios written`);
    }
  }
  fs.writeFileSync(readmePath, readme);
}

main();
