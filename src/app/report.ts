import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PHIFORGE_VERSION } from '../artifact/manifest.js';
import { UsageError } from '../errors.js';
import { chartSpecs, renderCharts } from '../report/charts.js';
import { reportHtml } from '../report/html.js';
import { markdownTable, readArtifact, rowsOf, type ArtifactDetails, type ArtifactRow } from '../report/rows.js';

/**
 * `phiforge report`: which variant to ship on which device, from artifact folders as they are (their
 * manifests and device results). Measures nothing: it shows what validation left beside each artifact.
 */
export interface Report {
  rows: ArtifactRow[];
  /** The table under a heading: what --md writes and what the command prints. */
  markdown: string;
  /** The files written, as given. */
  html?: string;
  md?: string;
  /** The charts the page shows, by id. */
  charts: string[];
  warnings: string[];
}

export async function makeReport(artifactDirs: string[], outputs: { html?: string; md?: string }): Promise<Report> {
  for (const [option, file] of Object.entries(outputs)) if (file !== undefined) await refuseFolder(option, file);
  const rows = (await readAll(artifactDirs)).flatMap(rowsOf);
  const markdown = `## phiforge report\n\n${markdownTable(rows)}\n`;
  const report: Report = { rows, markdown, charts: [], warnings: [] };
  if (outputs.md !== undefined) {
    await writeOutput('--md', outputs.md, markdown);
    report.md = outputs.md;
  }
  if (outputs.html !== undefined) {
    const charts = await renderCharts(chartSpecs(rows));
    await writeOutput('--html', outputs.html, reportHtml({ rows, charts, version: PHIFORGE_VERSION }));
    report.html = outputs.html;
    report.charts = charts.map((chart) => chart.id);
    report.warnings = charts.flatMap((chart) => chart.warnings.map((warning) => `chart ${chart.id}: ${warning}`));
  }
  return report;
}

/** Every folder is read before anything is reported, and every one that is not an artifact is named at once. */
async function readAll(artifactDirs: string[]): Promise<ArtifactDetails[]> {
  const settled = await Promise.allSettled(artifactDirs.map((dir) => readArtifact(dir)));
  const refused = settled.flatMap((outcome) => (outcome.status === 'rejected' && outcome.reason instanceof UsageError ? [outcome.reason] : []));
  if (refused.length === 1) throw refused[0];
  if (refused.length > 1) throw new UsageError(`${refused.length} of the folders are not artifacts:\n  - ${refused.map((error) => error.message).join('\n  - ')}`, refused[0].hint);
  return settled.map((outcome) => {
    if (outcome.status === 'rejected') throw outcome.reason;
    return outcome.value;
  });
}

/** Refused before any artifact is read, rather than after. */
async function refuseFolder(option: string, file: string): Promise<void> {
  if (await stat(file).then((info) => info.isDirectory(), () => false)) {
    throw new UsageError(`--${option} ${file} is a folder`, `Name the file to write, e.g. --${option} ${option === 'html' ? 'report.html' : 'summary.md'}.`);
  }
}

async function writeOutput(option: string, file: string, content: string): Promise<void> {
  try {
    await mkdir(path.dirname(path.resolve(file)), { recursive: true });
    await writeFile(file, content);
  } catch (error) {
    throw new UsageError(`cannot write ${option} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 'Pick a path where this user may create files.');
  }
}
