#!/usr/bin/env node
// bench/quality: how much of INT4's loss data-aware compression wins back on real weights.
// SmolLM2-135M-Instruct re-laid as Phi-3 (recipes/demo/smollm2-base.yaml: its prompts and the
// built-in perplexity paragraph), built as INT4 in every way phiforge offers and validated on the
// CPU: OpenVINO data-free (group 64, ratio 0.6, symmetric, as recipes/demo/phi3-smollm2-int4-ov.yaml)
// against each data-aware method at the same group size and ratio, and ONNX Runtime GenAI's INT4
// methods (block 64; the builder has no data-aware one). Side by side: the perplexity ratio to the
// source model, the answer similarity, the tokens matching the source before the first divergence,
// the achieved 4-bit share and the build time: the variant's compression (or ORT build), and the
// calibration statistics that every data-aware OpenVINO variant shares (made once per model and text).
// A step reused from the cache shows the time of the run that made it.
//   node bench/quality.mjs [--only ov|ort] [--fresh] [--cache-dir DIR]
// --fresh rebuilds every variant's own steps (--force) so the build times are measured, not reused.
// Needs `npm run build`; uses the repository's cache/ unless told (builds what is missing first).
import { execa } from 'execa';
import { readdirSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'phiforge.js');
const { values: options } = parseArgs({ options: { only: { type: 'string' }, fresh: { type: 'boolean' }, 'cache-dir': { type: 'string', default: path.join(root, 'cache') } } });

const base = path.join(root, 'recipes', 'demo', 'smollm2-base.yaml');
const ovQuantization = 'weight_format: int4\n  group_size: 64\n  ratio: 0.6\n  sym: true';
const cpu = '  - device: CPU\n    runtime: { PERFORMANCE_HINT: LATENCY, NUM_STREAMS: "1", INFERENCE_PRECISION_HINT: f32 }';
const variants = [
  // The slow methods last, so that the quick ones are in even when a run is cut short.
  { name: 'ov-data-free', backend: 'openvino', extra: '' },
  { name: 'ov-mixed-precision', backend: 'openvino', extra: '\n  calibration: {}' },
  { name: 'ov-awq', backend: 'openvino', extra: '\n  awq: true' },
  { name: 'ov-scale-estimation', backend: 'openvino', extra: '\n  scale_estimation: true' },
  { name: 'ov-awq-se', backend: 'openvino', extra: '\n  awq: true\n  scale_estimation: true' },
  { name: 'ort-rtn', backend: 'ort-genai', algo: undefined },
  { name: 'ort-k-quant', backend: 'ort-genai', algo: 'k_quant' },
  { name: 'ort-k-quant-mixed', backend: 'ort-genai', algo: 'k_quant_mixed' },
  // k-quant stores zero points two to a byte per row: onnxruntime 1.31.1 fails on a row of an odd
  // number of blocks (SmolLM2's 576 / 64 = 9), so it is also measured at block 32, against RTN there.
  { name: 'ort-rtn-b32', backend: 'ort-genai', algo: undefined, block: 32 },
  { name: 'ort-k-quant-b32', backend: 'ort-genai', algo: 'k_quant', block: 32 },
  { name: 'ov-gptq-se', backend: 'openvino', extra: '\n  gptq: true\n  scale_estimation: true' },
  { name: 'ov-awq-lora', backend: 'openvino', extra: '\n  awq: true\n  lora_correction: true' },
  { name: 'ov-gptq', backend: 'openvino', extra: '\n  gptq: true' },
].filter((variant) => !options.only || (options.only === 'ov') === (variant.backend === 'openvino'));

const scratch = await mkdtemp(path.join(os.tmpdir(), 'phiforge-quality-'));
const recipes = [];
for (const variant of variants) {
  const file = path.join(scratch, `${variant.name}.yaml`);
  const body =
    variant.backend === 'openvino'
      ? `pipeline: openvino\nquantization:\n  ${ovQuantization}${variant.extra}\ntargets:\n${cpu}\n`
      : `pipeline: ort-genai\nquantization:\n  weight_format: int4\n  sym: true\nort:\n  execution_provider: cpu\n  block_size: ${variant.block ?? 64}${variant.algo ? `\n  algo_config: ${variant.algo}` : ''}\ntargets:\n  - device: cpu\n`;
  // One repetition: this bench measures answers, not latency.
  await writeFile(file, `name: quality-${variant.name}\nextends: ${base}\n${body}validate:\n  repetitions: 1\n`);
  recipes.push(file);
}

const out = path.join(scratch, 'dist');
const started = performance.now();
const rows = [];
// One recipe at a time, so that every variant's figures are in as soon as it is validated; the
// OpenVINO variants still share one conversion and one set of calibration statistics (cached steps).
for (const [index, variant] of variants.entries()) {
  await execa(process.execPath, [cli, 'build', recipes[index], '--out', out, '--cache-dir', options['cache-dir'], ...(options.fresh ? ['--force'] : [])], { cwd: root, stdout: 'ignore', stderr: 'inherit', reject: false });
  const dir = path.join(out, `quality-${variant.name}`);
  let manifest;
  let target;
  try {
    manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
    const [resultFile] = readdirSync(path.join(dir, 'validation'));
    target = JSON.parse(await readFile(path.join(dir, 'validation', resultFile), 'utf8')).report;
  } catch {
    rows.push({ variant: variant.name, error: 'not built or not validated (see the build output above)' });
    continue;
  }
  // A reused step keeps the duration of the run that made it.
  const seconds = (id) => {
    const step = manifest.steps.find((each) => each.id === id);
    return step && step.durationMs > 0 ? +(step.durationMs / 1000).toFixed(1) : null;
  };
  const row = {
    variant: variant.name,
    perplexity_ratio: target.perplexity?.ratio ?? null,
    similarity: target.agreement?.similarity_mean ?? null,
    match_tokens: target.agreement?.match_tokens_mean ?? null,
    int4_share: manifest.weights?.int4_share ?? null,
    build_s: seconds(variant.backend === 'openvino' ? 'export' : 'build'),
    calibration_s: seconds('calibration'),
  };
  rows.push(row);
  console.error(`quality: ${JSON.stringify(row)}`);
}
const wallS = (performance.now() - started) / 1000;

const fixed = (value, digits) => (value === null || value === undefined ? '–' : Number(value).toFixed(digits));
const lines = [
  '| variant | perplexity ratio | similarity | match tokens | 4-bit share | compression s | + calibration statistics s (once per model) |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map((row) => (row.error ? `| ${row.variant} | ${row.error} | | | | | |` : `| ${row.variant} | ${fixed(row.perplexity_ratio, 3)} | ${fixed(row.similarity, 3)} | ${fixed(row.match_tokens, 1)} | ${fixed(row.int4_share, 3)} | ${fixed(row.build_s, 0)} | ${fixed(row.calibration_s, 0)} |`)),
];
console.log(lines.join('\n'));
const ov = rows.filter((row) => row.variant.startsWith('ov-') && row.variant !== 'ov-data-free' && typeof row.perplexity_ratio === 'number');
const best = ov.sort((a, b) => a.perplexity_ratio - b.perplexity_ratio)[0];
console.log(JSON.stringify({ bench: 'quality', model: 'SmolLM2-135M-Instruct as Phi-3', wall_s: +wallS.toFixed(1), rows, best_data_aware_openvino: best ? { variant: best.variant, perplexity_ratio: best.perplexity_ratio, goal: 1.04, reached: best.perplexity_ratio <= 1.04 } : null }, null, 2));
