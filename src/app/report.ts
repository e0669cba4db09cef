import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { inspectArtifactFolder } from '../artifact/check.js';
import { MANIFEST_FILE, PHIFORGE_VERSION, PROVENANCE_FILE } from '../artifact/manifest.js';
import { checkProvenance, describeSignature } from '../artifact/provenance.js';
import { sha256File } from '../cache/digest.js';
import { SignatureInvalidError, UsageError } from '../errors.js';
import { checkResultSignature, resultFilesOf } from '../validate/result-signatures.js';
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
  /** Who signed each artifact (provenance.json) and each device result beside it. */
  signatures: SignatureRow[];
  warnings: string[];
}

export interface SignatureRow {
  artifact: string;
  /** The signed file: provenance.json, or a device result file. */
  file: string;
  /** "signed by SHA256:…", "unsigned", "INVALID: …". */
  signature: string;
}

export async function makeReport(artifactDirs: string[], outputs: { html?: string; md?: string }): Promise<Report> {
  for (const [option, file] of Object.entries(outputs)) if (file !== undefined) await refuseFolder(option, file);
  const details = await readAll(artifactDirs);
  const rows = details.flatMap(rowsOf);
  const warnings: string[] = [];
  const signatures = (await Promise.all(details.map((each) => signaturesOf(each, warnings)))).flat();
  const markdown = `## phiforge report\n\n${markdownTable(rows)}\n\n${signatureList(signatures)}\n`;
  const report: Report = { rows, markdown, charts: [], signatures, warnings };
  if (outputs.md !== undefined) {
    await writeOutput('--md', outputs.md, markdown);
    report.md = outputs.md;
  }
  if (outputs.html !== undefined) {
    const charts = await renderCharts(chartSpecs(rows));
    await writeOutput('--html', outputs.html, reportHtml({ rows, charts, version: PHIFORGE_VERSION }));
    report.html = outputs.html;
    report.charts = charts.map((chart) => chart.id);
    report.warnings.push(...charts.flatMap((chart) => chart.warnings.map((warning) => `chart ${chart.id}: ${warning}`)));
  }
  return report;
}

/** Who signed what, one line per artifact, under the table (a list: the table stays the one table of `--md`). */
function signatureList(signatures: SignatureRow[]): string {
  const artifacts = [...new Set(signatures.map((row) => row.artifact))];
  const lines = artifacts.map((artifact) => `- ${artifact}: ${signatures.filter((row) => row.artifact === artifact).map((row) => `\`${row.file}\` ${row.signature}`).join('; ')}`);
  return ['### Signatures', '', "Checked against each artifact's manifest.json (`phiforge verify <artifact> --no-rebuild` also reads every file).", '', ...lines].join('\n');
}

/**
 * Who signed an artifact and each device result beside it. A report measures and refuses nothing: a
 * signature that does not hold is shown as INVALID, and said again as a warning, rather than failing
 * the comparison of every other artifact.
 */
async function signaturesOf(details: ArtifactDetails, warnings: string[]): Promise<SignatureRow[]> {
  const folder = await inspectArtifactFolder(details.dir);
  const artifact = details.manifest.name;
  const shown = async (work: () => Promise<string>) =>
    work().catch((error: unknown) => {
      if (!(error instanceof SignatureInvalidError)) throw error;
      warnings.push(error.message.replace(/\n\s*-\s*/g, ' '));
      return `INVALID: ${error.problems.join('; ')}`;
    });
  const rows: SignatureRow[] = [{ artifact, file: PROVENANCE_FILE, signature: await shown(async () => describeSignature(await checkProvenance(details.dir, folder, details.manifest), false)) }];
  const manifestSha256 = await sha256File(folder.files.get(MANIFEST_FILE)!);
  for (const file of resultFilesOf(folder)) {
    const signature = await shown(async () => {
      const checked = await checkResultSignature(details.dir, folder, file, manifestSha256);
      return `${describeSignature(checked, false)}${checked.signed && !checked.forThisManifest ? ', for another manifest.json (an earlier build)' : ''}`;
    });
    rows.push({ artifact, file, signature });
  }
  return rows;
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
