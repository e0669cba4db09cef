#!/usr/bin/env node
// bench/validate-fidelity: does phiforge measure TTFT and TPOT the way the tool users trust does?
// Runs `phiforge validate <artifact>` (the artifact as published, in its runtime toolchain) and a
// script that makes OpenVINO GenAI's benchmark_genai calls (prefix caching off, same prompts, same
// properties) alternately, n times each, so machine noise hits both, and prints phiforge's median
// and pooled mean over benchmark_genai's mean for each pair, plus the wall-time ratio.
//   node bench/validate-fidelity.mjs [recipe=recipes/demo/phi3-smollm2-int4-ov.yaml] [n=5]
// Needs `npm run build`; uses the repository's cache/ (builds the recipe first if needed).
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'phiforge.js');
const recipe = path.resolve(process.argv[2] ?? path.join(root, 'recipes', 'demo', 'phi3-smollm2-int4-ov.yaml'));
const pairs = Number(process.argv[3] ?? 5);
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
};
const timed = async (file, args) => {
  const started = performance.now();
  const result = await execa(file, args, { cwd: root });
  return { seconds: (performance.now() - started) / 1000, result };
};

const built = JSON.parse((await execa(process.execPath, [cli, 'build', recipe, '--no-validate', '--json'], { cwd: root })).stdout);
const artifact = built.results[0].artifact;
const [venv] = JSON.parse((await execa(process.execPath, [cli, 'toolchain', 'install', 'openvino-runtime', '--json'], { cwd: root })).stdout);
const python = path.join(venv.venv, 'bin', 'python');
const manifest = JSON.parse(await readFile(path.join(artifact, 'manifest.json'), 'utf8'));
const { validate = {}, targets = [{ device: 'CPU' }] } = manifest.recipe.resolved;
const target = targets[0];
// The runner's defaults (the guide's) plus the target's own properties, as phiforge passes them.
const properties = JSON.stringify(Object.fromEntries(Object.entries({ PERFORMANCE_HINT: 'LATENCY', NUM_STREAMS: '1', ...target.runtime }).map(([key, value]) => [key, String(value)])));
const prompts = (validate.prompts ?? parse('[{messages: [{content: Can you introduce yourself?}]}]')).map((prompt) => prompt.messages.at(-1).content);

const rows = [];
for (let pair = 0; pair < pairs; pair++) {
  const ours = await timed(process.execPath, [cli, 'validate', artifact, '--device', 'cpu', '--json']);
  const result = JSON.parse(ours.result.stdout).results[0].validation.targets.find((each) => each.figures);
  const theirs = await timed(python, [path.join(root, 'bench', 'benchmark_genai_equivalent.py'), artifact, target.device, properties, String(validate.max_new_tokens ?? 32), String(validate.repetitions ?? 3), ...prompts]);
  const benchmark = JSON.parse(theirs.result.stdout);
  rows.push({
    phiforge_s: ours.seconds,
    benchmark_s: theirs.seconds,
    ttft: { phiforge_median: result.figures.ttft_ms.median, phiforge_mean: result.figures.ttft_ms.mean, benchmark_genai_mean: benchmark.ttft_ms },
    tpot: { phiforge_median: result.figures.tpot_ms.median, phiforge_mean: result.figures.tpot_ms.mean, benchmark_genai_mean: benchmark.tpot_ms },
  });
}

const ratio = (metric, field) => +median(rows.map((row) => row[metric][field] / row[metric].benchmark_genai_mean)).toFixed(3);
const round = (value) => +value.toFixed(3);
console.log(
  JSON.stringify(
    {
      bench: 'validate-fidelity',
      recipe: path.relative(root, recipe),
      pairs,
      ttft_ms: { phiforge_median: round(median(rows.map((row) => row.ttft.phiforge_median))), benchmark_genai_mean: round(median(rows.map((row) => row.ttft.benchmark_genai_mean))), median_ratio: ratio('ttft', 'phiforge_median'), mean_ratio: ratio('ttft', 'phiforge_mean') },
      tpot_ms: { phiforge_median: round(median(rows.map((row) => row.tpot.phiforge_median))), benchmark_genai_mean: round(median(rows.map((row) => row.tpot.benchmark_genai_mean))), median_ratio: ratio('tpot', 'phiforge_median'), mean_ratio: ratio('tpot', 'phiforge_mean') },
      ratio_goal: 'phiforge median / benchmark_genai mean within 0.9..1.1, per interleaved pair (median of pairs)',
      wall_s: { phiforge_validate: round(median(rows.map((row) => row.phiforge_s))), benchmark_script: round(median(rows.map((row) => row.benchmark_s))) },
      per_pair: rows,
    },
    null,
    2,
  ),
);
