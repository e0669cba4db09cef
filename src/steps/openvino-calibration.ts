import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { canonicalJson, sha256 } from '../cache/digest.js';
import { InputError } from '../errors.js';
import { isDataAware, type Quantization } from '../recipe/schema.js';
import { TOOLCHAINS_ROOT, toolchainScript } from '../toolchain/definition.js';
import { planCommandStep } from './command-step.js';
import { linkModel } from './openvino-base-export.js';
import type { PlannedStep, StepKind } from './types.js';

/** The calibration text phiforge ships (written for phiforge, CC0-1.0: toolchains/common/calibration/README.md). */
export const BUILT_IN_CALIBRATION = path.join(TOOLCHAINS_ROOT, 'common', 'calibration', 'phiforge-en.txt');

/** What a data-aware compression calibrates on: the samples, in order, and where they came from. */
export interface CalibrationTexts {
  /** "built-in" or the file's name: for plan and the manifest. */
  source: string;
  texts: string[];
  /** Of the samples, so that a changed text or count gives another statistics entry. */
  sha256: string;
}

/** Paragraphs (separated by blank lines) in file order; the first num_samples of them. */
export async function calibrationTexts(quantization: Quantization): Promise<CalibrationTexts> {
  const file = quantization.calibration?.file ?? BUILT_IN_CALIBRATION;
  const paragraphs = (await readFile(file, 'utf8'))
    .replace(/\r\n/g, '\n')
    .split(/\n\s*\n/)
    .map((paragraph) => paragraph.trim())
    .filter(Boolean);
  const texts = paragraphs.slice(0, quantization.calibration?.num_samples ?? paragraphs.length);
  return { source: quantization.calibration?.file ? path.basename(file) : 'built-in', texts, sha256: sha256(canonicalJson(texts)) };
}

/** The relative name under which a data-aware compression sees the statistics (NNCF records the path in rt_info). */
export const STATISTICS_LINK = 'calibration-statistics';

/**
 * NNCF's activation statistics of the shared base IR on the calibration text (what optimum-cli's
 * --quantization-statistics-path dumps): collected once per model and text, loaded by every
 * data-aware variant. Its key depends on the base and the texts only, not on the variant. A recipe
 * that is not data-aware gets an inert placeholder that enters no key, so adding this step to the
 * pipeline changed no existing artifact's keys.
 */
export const openVinoCalibrationStatistics: StepKind = {
  async plan(input) {
    const { recipe } = input.recipe;
    const base = input.upstream[input.definition.needs[0]];
    if (!isDataAware(recipe.quantization) || !base || 'materialize' in base.work) return inert(input.definition, base?.outDir ?? '');
    const calibration = await calibrationTexts(recipe.quantization);
    const wanted = recipe.quantization.calibration?.num_samples;
    if (calibration.texts.length === 0 || (wanted !== undefined && calibration.texts.length < wanted)) {
      const { source } = input.recipe;
      const [keyPath, message] =
        calibration.texts.length === 0
          ? [['quantization', 'calibration', 'file'], `the calibration text ${calibration.source} has no paragraphs`]
          : [['quantization', 'calibration', 'num_samples'], `num_samples is ${wanted}, but the ${calibration.source} calibration text has only ${calibration.texts.length} paragraphs`];
      throw new InputError(source.file, [source.problemAt(keyPath, message, 'Each paragraph (text between blank lines) is one sample: lower num_samples, or name a file with more paragraphs.')]);
    }
    const script = toolchainScript(input.toolchain!, 'calibration_statistics.py');
    const env = { HF_HUB_OFFLINE: '1', HF_DATASETS_OFFLINE: '1' };
    const BASE_LINK = 'base';
    return planCommandStep(input, `collect NNCF's calibration statistics of the shared IR on ${calibration.texts.length} samples of the ${calibration.source} text, for every data-aware variant`, {
      params: { calibration: { sha256: calibration.sha256, samples: calibration.texts.length } },
      scripts: [script, toolchainScript(input.toolchain!, 'calibration.py')],
      env,
      prepare: (workDir) => linkModel(workDir, base.outDir, BASE_LINK),
      requestFiles: (workDir) => ({ 'request.json': JSON.stringify({ base_dir: BASE_LINK, output_dir: path.join(workDir, 'out'), texts: calibration.texts }) }),
      command: ({ python, workDir }) => ({ argv: [python, script, '--request', 'request.json', '--result', 'result.json'], env, cwd: workDir, links: { [BASE_LINK]: base.outDir } }),
      facts: async () => ({ calibration: { source: calibration.source, samples: calibration.texts.length, sha256: calibration.sha256 } }),
    });
  },
};

function inert(definition: { id: string; uses: string; needs: string[] }, outDir: string): PlannedStep {
  return {
    id: definition.id,
    kind: definition.uses,
    needs: definition.needs,
    key: sha256(canonicalJson({ kind: definition.uses, skipped: true })),
    summary: 'no calibration: the compression is data-free',
    outDir,
    inert: true,
    work: { materialize: async () => ({ dir: outDir, files: [], facts: { calibration: null }, reused: true, durationMs: 0 }) },
  };
}
