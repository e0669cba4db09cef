import type { Chart } from './charts.js';
import { tableOf, type ArtifactRow } from './rows.js';

// The report as one HTML file that needs nothing else: styles and charts inline, no script, no font
// and no address outside the file, so it opens the same from a CI artifact, a mail or a disk, and
// prints plainly (black on white, no chart split over two pages).

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * vega writes a standalone SVG document. Inside HTML the SVG namespace is implied, and vega draws no
 * xlink reference, so the namespace declarations go: they are the only http:// strings it writes,
 * and the page is meant to contain none.
 */
export function inlineSvg(svg: string): string {
  return svg.replace(/^<svg\b[^>]*>/, (root) => root.replace(/\s+xmlns(:xlink)?="[^"]*"/g, ''));
}

const STYLE = `
  body { font-family: system-ui, sans-serif; color: #111; background: #fff; margin: 2rem; line-height: 1.4; }
  h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
  h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; }
  .summary, figcaption { color: #333; }
  .charts { display: flex; flex-wrap: wrap; gap: 1.5rem; }
  figure { margin: 0; max-width: 100%; break-inside: avoid; }
  figure h3 { font-size: 1rem; margin: 0 0 .25rem; }
  figcaption { font-size: .85rem; max-width: 40rem; margin-top: .25rem; }
  svg { max-width: 100%; height: auto; }
  .table { overflow-x: auto; }
  table { border-collapse: collapse; font-size: .85rem; font-variant-numeric: tabular-nums; }
  th, td { border: 1px solid #999; padding: .25rem .5rem; text-align: left; vertical-align: top; white-space: nowrap; }
  th { background: #eee; }
  td.number { text-align: right; }
  tr.not-validated td, tr.skipped td { color: #555; font-style: italic; }
  tr.failed td.status { font-weight: bold; }
  @media print {
    body { margin: 0; font-size: 10pt; }
    th { background: none; }
    .table { overflow: visible; }
    th, td { white-space: normal; }
  }
`;

/** Columns whose cells are figures, right-aligned so that digits line up. */
const NUMERIC = new Set(['size', 'similarity', 'match tok', 'ppl ratio', 'TTFT ms', 'TPOT ms', 'tok/s', 'load ms', 'peak MiB']);

function tableHtml(rows: ArtifactRow[]): string {
  const { header, body } = tableOf(rows);
  const head = `<tr>${header.map((name) => `<th scope="col">${escapeHtml(name)}</th>`).join('')}</tr>`;
  const lines = body.map((cells, index) => {
    const tds = cells.map((text, column) => {
      const name = header[column];
      const classes = [NUMERIC.has(name) ? 'number' : '', name === 'status' ? 'status' : ''].filter(Boolean);
      return `<td${classes.length ? ` class="${classes.join(' ')}"` : ''}>${escapeHtml(text)}</td>`;
    });
    return `<tr class="${rows[index].status.replace(' ', '-')}">${tds.join('')}</tr>`;
  });
  return `<table>\n<thead>${head}</thead>\n<tbody>\n${lines.join('\n')}\n</tbody>\n</table>`;
}

function figureHtml(chart: Chart): string {
  return `<figure id="${escapeHtml(chart.id)}">\n<h3>${escapeHtml(chart.title)}</h3>\n${inlineSvg(chart.svg)}\n<figcaption>${escapeHtml(chart.caption)}</figcaption>\n</figure>`;
}

export interface ReportPage {
  rows: ArtifactRow[];
  charts: Chart[];
  /** phiforge's version, named in the footer. */
  version: string;
}

export function reportHtml({ rows, charts, version }: ReportPage): string {
  const artifacts = new Set(rows.map((row) => row.artifact)).size;
  const notValidated = rows.filter((row) => row.status === 'not validated').length;
  const failed = rows.filter((row) => row.status === 'failed').length;
  const summary = [
    `${artifacts} artifact${artifacts === 1 ? '' : 's'}, ${rows.length} row${rows.length === 1 ? '' : 's'} (one per artifact and device)`,
    ...(failed ? [`${failed} failed a gate or check`] : []),
    ...(notValidated ? [`${notValidated} not validated`] : []),
  ].join('; ');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>phiforge report</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>phiforge report</h1>
<p class="summary">${escapeHtml(summary)}.</p>
</header>
<main>
<section>
<h2>Size, quality and speed</h2>
<div class="charts">
${charts.map(figureHtml).join('\n')}
</div>
</section>
<section>
<h2>Every artifact on every device</h2>
<div class="table">
${tableHtml(rows)}
</div>
</section>
</main>
<footer><p class="summary">Made by phiforge ${escapeHtml(version)} from each artifact's manifest.json and the device results in its validation/ folder.</p></footer>
</body>
</html>
`;
}
