#!/usr/bin/env node
// bench/ort-vs-ov: decode tokens/s and TTFT of the real-weights INT4 artifact, ONNX Runtime GenAI
// on CPU against OpenVINO on CPU, measured afresh in one run (`phiforge validate` of both recipes).
//   node bench/ort-vs-ov.mjs
// Needs `npm run build`; uses the repository's cache/ (builds what is missing first).
import { execa } from 'execa';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'phiforge.js');
const recipes = ['phi3-smollm2-int4-ort-cpu.yaml', 'phi3-smollm2-int4-ov.yaml'].map((name) => path.join(root, 'recipes', 'demo', name));

const { stdout } = await execa(process.execPath, [cli, 'validate', ...recipes, '--json'], { cwd: root, stderr: 'inherit' });
const rows = JSON.parse(stdout).results.map(({ validation }) => {
  const target = validation.targets.find((each) => each.figures);
  return {
    recipe: validation.recipe,
    backend: validation.backend,
    device: target.device,
    decode_tokens_per_s: { median: target.figures.tokens_per_s.median, min: target.figures.tokens_per_s.min, max: target.figures.tokens_per_s.max },
    ttft_ms: target.figures.ttft_ms,
    tpot_ms_median: target.figures.tpot_ms.median,
    runs: target.figures.runs,
    similarity_mean: target.agreement?.similarity_mean ?? null,
    perplexity_ratio: target.perplexity?.ratio ?? null,
  };
});
const [ort, ov] = rows;
console.log(
  JSON.stringify(
    {
      bench: 'ort-vs-ov',
      model: 'SmolLM2-135M-Instruct in Phi-3 layout, INT4 (ORT block 64 RTN; OpenVINO NNCF group 64, ratio 0.6)',
      rows,
      ort_over_ov: { decode_tokens_per_s: +(ort.decode_tokens_per_s.median / ov.decode_tokens_per_s.median).toFixed(2), ttft: +(ort.ttft_ms.median / ov.ttft_ms.median).toFixed(2) },
    },
    null,
    2,
  ),
);
