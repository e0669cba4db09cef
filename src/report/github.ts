import { promptsWithIds, type ValidateSettings } from '../recipe/schema.js';
import { targetLabel, type ValidationReport } from '../validate/evaluate.js';
import type { KeyPath } from '../yaml/located-yaml.js';
import { markdownTable, type ArtifactRow } from './rows.js';

// GitHub Actions' workflow commands and step summaries, as text: what phiforge prints and writes
// when it runs inside Actions (src/cli/actions.ts decides when; nothing of this appears elsewhere).

/** Whether phiforge runs as a step of a GitHub Actions job (the runner sets GITHUB_ACTIONS=true). */
export function inGitHubActions(): boolean {
  return process.env.GITHUB_ACTIONS === 'true';
}

export interface AnnotationPlace {
  /** Relative to the repository root, with forward slashes. */
  file?: string;
  line?: number;
  col?: number;
  title?: string;
}

/** A command's message: %, CR and LF are escaped, as @actions/core does. */
function escapeData(text: string): string {
  return text.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A');
}

/** A command's property value: also : and , (they separate properties). */
function escapeProperty(text: string): string {
  return escapeData(text).replaceAll(':', '%3A').replaceAll(',', '%2C');
}

/** `::error file=recipes/x.yaml,line=12,col=5,title=...::message`: shown on that line of the file in the run and the pull request. */
export function annotation(level: 'error' | 'warning' | 'notice', message: string, place: AnnotationPlace = {}): string {
  const properties = (['file', 'line', 'col', 'title'] as const).flatMap((name) => (place[name] === undefined ? [] : [`${name}=${escapeProperty(String(place[name]))}`]));
  return `::${level}${properties.length ? ` ${properties.join(',')}` : ''}::${escapeData(message)}`;
}

/** Folds the lines between them into one collapsible group of the log. */
export function groupStart(title: string): string {
  return `::group::${escapeData(title)}`;
}

export const GROUP_END = '::endgroup::';

/** GitHub refuses a step summary over 1 MiB (and keeps nothing of it). */
export const STEP_SUMMARY_LIMIT = 1024 * 1024;

/** The validation of one artifact as a step summary: a heading and its row per target. */
export function validationSummary(artifact: string, passed: boolean, rows: ArtifactRow[], failures: string[]): string {
  const lines = [`### ${passed ? '✅' : '❌'} ${artifact}`, '', markdownTable(rows), ''];
  if (failures.length > 0) lines.push(...failures.map((failure) => `- ${failure.replaceAll('|', '\\|')}`), '');
  return `${lines.join('\n')}\n`;
}

/**
 * `text` cut to fit in `room` bytes of the summary file, saying so when it is cut. GitHub would
 * otherwise drop the whole summary of the step.
 */
export function fitSummary(text: string, room: number): string {
  if (Buffer.byteLength(text) <= room) return text;
  const note = '\n\n_(cut: a step summary holds at most 1 MiB; the full table is in the report artifact and the log)_\n';
  if (room <= Buffer.byteLength(note)) return '';
  let cut = text.slice(0, Math.max(0, room - Buffer.byteLength(note)));
  while (Buffer.byteLength(cut) + Buffer.byteLength(note) > room) cut = cut.slice(0, -64);
  return `${cut.slice(0, cut.lastIndexOf('\n') + 1)}${note}`;
}

/** Where in the recipe a failed gate or check was set, and what failed. */
export interface Finding {
  keyPath: KeyPath;
  message: string;
}

/**
 * Each failure of a validation at the recipe key that asked for it: a gate at
 * targets[i].gates.<gate>, an answer check at validate.prompts[j].expect.<check>, a missing device
 * at targets[i].device. `recipe` is the recipe the artifact was built from (its manifest's).
 */
export function validationFindings(report: ValidationReport, recipe: { targets: Array<{ device: string }>; validate?: ValidateSettings }): Finding[] {
  const findings: Finding[] = [];
  const promptIndex = new Map(recipe.validate ? promptsWithIds(recipe.validate).map((prompt, index) => [prompt.id, index]) : []);
  for (const target of report.targets) {
    if (target.status !== 'failed') continue;
    const index = recipe.targets.findIndex((each) => each.device === target.device);
    const at = (...rest: Array<string | number>): KeyPath => (index >= 0 ? ['targets', index, ...rest] : ['targets']);
    const label = targetLabel(target);
    const said = (prefix: string, fallback: string) => `${report.recipe}: ${target.failures.find((failure) => failure.startsWith(prefix)) ?? fallback}`;
    let placed = 0;
    for (const gate of target.gates.filter((each) => !each.passed)) {
      const name = `gate ${gate.gate}${gate.prompt_tokens ? ` at ${gate.prompt_tokens} prompt tokens` : ''}`;
      findings.push({ keyPath: gate.prompt_tokens ? at('gates', gate.gate, gate.prompt_tokens) : at('gates', gate.gate), message: said(`${label}: ${name}`, `${label}: ${name} failed`) });
      placed++;
    }
    for (const prompt of target.prompts) {
      for (const check of prompt.checks.filter((each) => !each.passed)) {
        const promptAt = promptIndex.get(prompt.id);
        findings.push({ keyPath: promptAt === undefined ? ['validate', 'prompts'] : ['validate', 'prompts', promptAt, 'expect', check.name], message: `${report.recipe}: ${label}: prompt ${prompt.id}: ${check.name}: ${check.detail}` });
        placed++;
      }
    }
    // A device that was required but absent, or anything else: at the target itself.
    if (placed === 0) findings.push({ keyPath: at('device'), message: `${report.recipe}: ${target.failures.join('; ') || `${label} failed`}` });
  }
  return findings;
}
