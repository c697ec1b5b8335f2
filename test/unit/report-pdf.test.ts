import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { renderPdf, winAnsi } from '../../activities/report-pdf';
import type { ReportHeading, ReportTable } from '../../domain/reports';

/** Runs a poppler-utils tool on the PDF; without poppler-utils these tests say what to install. */
function poppler(tool: 'pdftotext' | 'pdfinfo', pdf: Buffer, ...args: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'holdfast-pdf-'));
  try {
    const file = path.join(dir, 'report.pdf');
    fs.writeFileSync(file, pdf);
    const result = spawnSync(tool, tool === 'pdftotext' ? [...args, file, '-'] : [...args, file], { encoding: 'utf8' });
    if (result.error) throw new Error(`${tool} is missing: install poppler-utils (apt-get install -y poppler-utils)`);
    return result.stdout;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const pdfText = (pdf: Buffer, ...args: string[]) => poppler('pdftotext', pdf, ...args);

const heading: ReportHeading = {
  reportId: '6f1c2a9e-0000-4000-8000-000000000001',
  type: 'waitlist-activity',
  title: 'Waitlist activity',
  tenantName: 'Kathmandu Clinics',
  period: { start: new Date('2025-12-01T00:00:00Z'), end: new Date('2026-12-01T00:00:00Z') },
  requestedAt: new Date('2026-12-01T06:00:00Z'),
};

/** A year of days: far more rows than a page holds. */
function yearOfDays(): ReportTable {
  const rows = Array.from({ length: 365 }, (_, index) => {
    const day = new Date(heading.period.start.getTime() + index * 86_400_000).toISOString().slice(0, 10);
    return { day, joined: index % 7, offered: index % 5, confirmed: index % 3, declined: index % 2, expired: 1 };
  });
  const columns = [
    { key: 'day', label: 'Day', kind: 'date' as const },
    ...['joined', 'offered', 'confirmed', 'declined', 'expired'].map((key) => ({
      key,
      label: key,
      kind: 'count' as const,
    })),
  ];
  const sum = (key: keyof (typeof rows)[number]) => rows.reduce((total, row) => total + Number(row[key]), 0);
  return {
    columns,
    rows,
    totals: {
      day: 'Total',
      joined: sum('joined'),
      offered: sum('offered'),
      confirmed: sum('confirmed'),
      declined: sum('declined'),
      expired: 365,
    },
    chart: {
      kind: 'stacked-bars',
      title: 'How offers ended, per day',
      labels: rows.map((row) => row.day),
      series: ['confirmed', 'declined', 'expired'].map((key) => ({
        label: key,
        values: rows.map((row) => Number(row[key as keyof typeof row])),
      })),
    },
  };
}

describe('PDF reports', () => {
  it('a long table runs over several pages, each with the column header and a page footer, the totals at the end', async () => {
    const pdf = await renderPdf(heading, yearOfDays());
    const pages = pdfText(pdf, '-layout')
      .split('\f')
      .filter((page) => page.trim() !== '');

    expect(pages.length).toBeGreaterThan(5);
    pages.forEach((page, index) => {
      expect(page).toMatch(/Day\s+joined\s+offered\s+confirmed\s+declined\s+expired/);
      expect(page).toContain(`Waitlist activity · Kathmandu Clinics · page ${index + 1} of ${pages.length}`);
    });
    expect(pages[0]).toContain('Period: 2025-12-01 – 2026-11-30 (UTC)');
    expect(pages.at(-1)).toMatch(/Total\s+1092\s+730\s+364\s+182\s+365/);
    expect(pages.join('')).toContain('2026-11-30');
  });

  it('the same heading and data always render the same bytes', async () => {
    const [first, second] = await Promise.all([renderPdf(heading, yearOfDays()), renderPdf(heading, yearOfDays())]);

    expect(first.equals(second)).toBe(true);
    expect(pdfText(first, '-layout').length).toBeGreaterThan(0);
  });

  it('the document carries its title and the request time as its creation date', async () => {
    const pdf = await renderPdf(heading, yearOfDays());
    const info = poppler('pdfinfo', pdf, '-isodates');

    expect(info).toMatch(/Title:\s+Waitlist activity — Kathmandu Clinics/);
    expect(info).toMatch(/CreationDate:\s+2026-12-01T06:00:00/);
  });

  it('text the standard fonts cannot draw prints as "?" rather than unrelated glyphs; Latin-1 and €, – stay', async () => {
    const pdf = await renderPdf({ ...heading, tenantName: 'काठमाडौं Clinic 😀 Łódź Café €5 – ok' }, yearOfDays());

    expect(winAnsi('Café €5 – ok')).toBe('Café €5 – ok');
    expect(pdfText(pdf)).toContain('???????? Clinic ? ?ód? Café €5 – ok');
  });
});
