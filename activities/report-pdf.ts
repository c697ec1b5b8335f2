import PDFDocument from 'pdfkit';
import { formatCell, formatMoney, type ReportChart, type ReportHeading, type ReportTable } from '../domain/reports';
import { describePeriod } from './report-csv';

/**
 * The PDF rendering of a report (pdfkit): a heading with the tenant and the period, a chart drawn
 * as vector graphics, the totals, and the table, paginated with its header repeated on every page.
 * The creation date is the report's own timestamp and only the standard fonts are used, so the
 * same data renders the same bytes.
 */

const PAGE = { size: 'A4' as const, layout: 'landscape' as const, margin: 40 };
const PALETTE = ['#2b6cb0', '#dd6b20', '#c53030', '#2f855a', '#6b46c1', '#718096'];
const INK = '#1a202c';
const MUTED = '#4a5568';
const RULE = '#cbd5e0';

/** The characters beyond Latin-1 that the standard fonts' encoding (Windows-1252) has. */
const WIN_ANSI_EXTRAS = new Set('€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ');

/**
 * Text as the standard fonts can draw it: a character outside Windows-1252 (Devanagari, emoji,
 * Ł) becomes "?" rather than the unrelated glyphs its bytes would pick. CSV and JSON keep it exactly.
 */
export function winAnsi(text: string): string {
  let safe = '';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    const drawable = (code >= 0x20 && code <= 0x7e) || (code >= 0xa0 && code <= 0xff) || WIN_ANSI_EXTRAS.has(char);
    safe += drawable ? char : '?';
  }
  return safe;
}

/** A round number at or above `value` for the chart's axis: 1, 2 or 5 times a power of ten. */
export function niceCeiling(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return ([1, 2, 5, 10].find((step) => step * power >= value) ?? 10) * power;
}

/** How many gridlines divide the axis so that counts land on whole numbers: 10 → 5 (2, 4, …), 20 → 4 (5, 10, …). */
function gridlinesFor(chart: ReportChart, top: number): number {
  if (chart.money) return 4;
  if (top <= 5) return top;
  return String(top).startsWith('2') ? 4 : 5;
}

function axisLabel(chart: ReportChart, value: number): string {
  return chart.money ? formatMoney(value) : Number.isInteger(value) ? String(value) : value.toFixed(1);
}

/** Draws the chart inside the box (x, y, width, height): axes, gridlines, bars or lines, a legend. */
function drawChart(doc: PDFKit.PDFDocument, chart: ReportChart, box: { x: number; y: number; w: number; h: number }) {
  doc.fillColor(INK).font('Helvetica-Bold').fontSize(11).text(chart.title, box.x, box.y);
  const legendY = box.y + 16;
  let legendX = box.x;
  chart.series.forEach((series, index) => {
    doc.rect(legendX, legendY + 1, 8, 8).fill(PALETTE[index % PALETTE.length]);
    doc
      .fillColor(MUTED)
      .font('Helvetica')
      .fontSize(8)
      .text(series.label, legendX + 11, legendY, { lineBreak: false });
    legendX += 11 + doc.widthOfString(series.label) + 14;
  });

  const plot = { x: box.x + 56, y: box.y + 34, w: box.w - 60, h: box.h - 58 };
  const points = chart.labels.length;
  const peaks =
    chart.kind === 'stacked-bars'
      ? chart.labels.map((_, i) => chart.series.reduce((sum, series) => sum + Math.max(0, series.values[i] ?? 0), 0))
      : chart.series.flatMap((series) => series.values);
  const top = niceCeiling(Math.max(0, ...peaks));
  const yOf = (value: number) => plot.y + plot.h - (value / top) * plot.h;

  const ticks = gridlinesFor(chart, top);
  for (let tick = 0; tick <= ticks; tick++) {
    const value = (top * tick) / ticks;
    const y = yOf(value);
    doc
      .moveTo(plot.x, y)
      .lineTo(plot.x + plot.w, y)
      .lineWidth(0.5)
      .strokeColor(RULE)
      .stroke();
    doc
      .fillColor(MUTED)
      .fontSize(7)
      .text(axisLabel(chart, value), box.x, y - 4, {
        width: 52,
        align: 'right',
        lineBreak: false,
      });
  }
  doc
    .moveTo(plot.x, plot.y)
    .lineTo(plot.x, plot.y + plot.h)
    .lineWidth(0.8)
    .strokeColor(MUTED)
    .stroke();

  const slot = plot.w / Math.max(1, points);
  if (chart.kind === 'stacked-bars') {
    // Few points would make slabs of bars: they stay at most 48 pt wide.
    const barWidth = Math.max(1, Math.min(48, slot * 0.7));
    chart.labels.forEach((_, i) => {
      let base = 0;
      chart.series.forEach((series, index) => {
        const value = Math.max(0, series.values[i] ?? 0);
        if (value === 0) return;
        const y = yOf(base + value);
        doc
          .rect(plot.x + i * slot + (slot - barWidth) / 2, y, barWidth, yOf(base) - y)
          .fill(PALETTE[index % PALETTE.length]);
        base += value;
      });
    });
  } else {
    chart.series.forEach((series, index) => {
      const color = PALETTE[index % PALETTE.length]!;
      series.values.forEach((value, i) => {
        const x = plot.x + i * slot + slot / 2;
        if (i === 0) doc.moveTo(x, yOf(value));
        else doc.lineTo(x, yOf(value));
      });
      doc.lineWidth(1.5).strokeColor(color).stroke();
      if (points <= 62) {
        series.values.forEach((value, i) => doc.circle(plot.x + i * slot + slot / 2, yOf(value), 1.8).fill(color));
      }
    });
  }
  doc
    .moveTo(plot.x, plot.y + plot.h)
    .lineTo(plot.x + plot.w, plot.y + plot.h)
    .lineWidth(0.8)
    .strokeColor(MUTED)
    .stroke();

  // At most about twelve labels fit under the axis; the others are left out, evenly.
  const every = Math.max(1, Math.ceil(points / 12));
  chart.labels.forEach((label, i) => {
    if (i % every !== 0) return;
    const width = slot * every;
    doc
      .fillColor(MUTED)
      .fontSize(7)
      .text(winAnsi(label), plot.x + i * slot + slot / 2 - width / 2, plot.y + plot.h + 4, {
        width,
        align: 'center',
        lineBreak: false,
        ellipsis: true,
      });
  });
}

interface TableLayout {
  x: number;
  widths: number[];
}

function layoutTable(doc: PDFKit.PDFDocument, table: ReportTable): TableLayout {
  const width = doc.page.width - PAGE.margin * 2;
  // The first column (a day, a week, a retailer) gets twice the room of a number.
  const shares = table.columns.map((_, i) => (i === 0 ? 2 : 1));
  const total = shares.reduce((sum, share) => sum + share, 0);
  return { x: PAGE.margin, widths: shares.map((share) => (share / total) * width) };
}

function drawRow(doc: PDFKit.PDFDocument, layout: TableLayout, cells: string[], y: number, bold: boolean) {
  let x = layout.x;
  doc
    .font(bold ? 'Helvetica-Bold' : 'Helvetica')
    .fontSize(8)
    .fillColor(INK);
  cells.forEach((cell, i) => {
    const width = layout.widths[i]!;
    doc.text(winAnsi(cell), x + 3, y + 3, {
      width: width - 6,
      align: i === 0 ? 'left' : 'right',
      lineBreak: false,
      ellipsis: true,
    });
    x += width;
  });
}

const ROW_HEIGHT = 15;

/** Draws the table from `y` on, starting new pages as it fills them, header repeated; ends with the totals. */
function drawTable(doc: PDFKit.PDFDocument, table: ReportTable, startY: number) {
  const layout = layoutTable(doc, table);
  const header = table.columns.map((column) => column.label);
  const bottom = doc.page.height - PAGE.margin - 20;
  let y = startY;
  const drawHeader = () => {
    doc
      .rect(
        layout.x,
        y,
        layout.widths.reduce((a, b) => a + b, 0),
        ROW_HEIGHT,
      )
      .fill('#edf2f7');
    drawRow(doc, layout, header, y, true);
    y += ROW_HEIGHT;
  };
  drawHeader();
  const lines = [...table.rows.map((row) => ({ row, bold: false })), { row: table.totals, bold: true }];
  for (const { row, bold } of lines) {
    if (y + ROW_HEIGHT > bottom) {
      doc.addPage(PAGE);
      y = PAGE.margin;
      drawHeader();
    }
    if (bold) {
      doc
        .moveTo(layout.x, y)
        .lineTo(doc.page.width - PAGE.margin, y)
        .lineWidth(0.8)
        .strokeColor(MUTED)
        .stroke();
    }
    drawRow(
      doc,
      layout,
      table.columns.map((column) => formatCell(column.kind, row[column.key])),
      y,
      bold,
    );
    y += ROW_HEIGHT;
  }
}

/** The totals of the report as "label: value" pairs, for the summary under the heading. */
function summaryOf(table: ReportTable): string {
  return table.columns
    .slice(1)
    .filter((column) => column.kind === 'count' || column.kind === 'money' || column.kind === 'percent')
    .filter((column) => table.totals[column.key] !== undefined && table.totals[column.key] !== '')
    .map((column) => `${column.label}: ${formatCell(column.kind, table.totals[column.key])}`)
    .join('   ');
}

/** Renders the report to PDF bytes. The data is aggregated (a row per day or retailer), so it fits in memory. */
export function renderPdf(heading: ReportHeading, table: ReportTable): Promise<Buffer> {
  const doc = new PDFDocument({
    ...PAGE,
    bufferPages: true,
    info: {
      Title: `${heading.title} — ${heading.tenantName}`,
      Author: 'Holdfast',
      Subject: describePeriod(heading),
      Creator: 'Holdfast reports',
      Producer: 'Holdfast reports (pdfkit)',
      CreationDate: heading.requestedAt,
      ModDate: heading.requestedAt,
    },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });

  const width = doc.page.width - PAGE.margin * 2;
  doc.fillColor(INK).font('Helvetica-Bold').fontSize(20).text(heading.title, PAGE.margin, PAGE.margin, { width });
  doc.font('Helvetica').fontSize(11).fillColor(MUTED);
  doc.text(winAnsi(heading.tenantName), { width });
  doc.text(`Period: ${describePeriod(heading)}`, { width });
  doc.fontSize(8).text(`Requested ${heading.requestedAt.toISOString()} · report ${heading.reportId}`, { width });
  doc.moveDown(0.5);
  doc
    .font('Helvetica-Bold')
    .fontSize(9)
    .fillColor(INK)
    .text(`Totals   ${summaryOf(table)}`, { width });

  const chartTop = doc.y + 10;
  drawChart(doc, table.chart, { x: PAGE.margin, y: chartTop, w: width, h: 250 });
  drawTable(doc, table, chartTop + 262);

  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    // The footer sits in the bottom margin; without lifting it pdfkit would start a new page for it.
    doc.page.margins.bottom = 0;
    doc
      .font('Helvetica')
      .fontSize(7)
      .fillColor(MUTED)
      .text(
        `${heading.title} · ${winAnsi(heading.tenantName)} · page ${i + 1} of ${range.count}`,
        PAGE.margin,
        doc.page.height - PAGE.margin,
        {
          width,
          align: 'right',
          lineBreak: false,
          height: 10,
        },
      );
  }
  doc.end();
  return done;
}
