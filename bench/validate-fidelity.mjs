#!/usr/bin/env node
// bench/validate-fidelity: (1) do the TTFT and TPOT phiforge reports agree with OpenVINO GenAI's own
// perf_metrics aggregated over the same runs (PerfMetrics added up, as benchmark_genai does)? Like is
// compared with like: phiforge's pooled mean with GenAI's mean; its median (what gates use) is shown
// against the same mean for information, as a stray slow run moves a mean and not a median.
// (2) how long does `phiforge validate` take against a bare LLMPipeline script doing the same
// generations? That script's own GenAI figures (other runs, same work) are printed alongside.
//   node bench/validate-fidelity.mjs [recipe=recipes/demo/phi3-tiny-int4-ov.yaml] [n=3]
// Needs `npm run build`; uses the repository's cache/ (builds the recipe first if needed).
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'phiforge.js');
const recipe = path.resolve(process.argv[2] ?? path.join(root, 'recipes', 'demo', 'phi3-tiny-int4-ov.yaml'));
const runs = Number(process.argv[3] ?? 3);
const round = (value) => +value.toFixed(3);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const timed = async (file, args, options) => {
  const started = performance.now();
  const result = await execa(file, args, { cwd: root, ...options });
  return { seconds: (performance.now() - started) / 1000, result };
};

await execa(process.execPath, [cli, 'build', recipe], { cwd: root, stdout: 'ignore', stderr: 'inherit' });
const plan = JSON.parse((await execa(process.execPath, [cli, 'plan', recipe, '--json'], { cwd: root })).stdout);
const artifact = plan.steps.find((step) => step.id === 'export').output;
const python = path.join(path.dirname(plan.steps.find((step) => step.id === 'validate').argv[0]), 'python');
const settings = parse(await readFile(recipe, 'utf8')).validate ?? {};
const recipeTarget = parse(await readFile(recipe, 'utf8')).targets?.[0] ?? {};
// The runner's defaults (the guide's) plus the target's own properties, as phiforge passes them.
const properties = JSON.stringify(Object.fromEntries(Object.entries({ PERFORMANCE_HINT: 'LATENCY', NUM_STREAMS: '1', ...recipeTarget.runtime }).map(([key, value]) => [key, String(value)])));
const maxNewTokens = String(settings.max_new_tokens ?? 32);
const repetitions = String(settings.repetitions ?? 3);
const prompts = (settings.prompts ?? [{ messages: [{ content: 'Can you introduce yourself?' }] }]).map((prompt) => prompt.messages.at(-1).content);

const fidelity = [];
const phiforge = [];
const bare = [];
for (let run = 0; run < runs; run++) {
  const validate = await timed(process.execPath, [cli, 'validate', recipe, '--json']);
  phiforge.push(validate.seconds);
  const summary = JSON.parse(validate.result.stdout).results[0];
  const target = summary.validation.targets.find((each) => each.figures);
  const runsStep = summary.steps.find((step) => step.id === 'validate');
  const raw = JSON.parse(await readFile(path.join(root, 'cache', 'steps', runsStep.key, 'out', 'runs.json'), 'utf8'));
  const genai = raw.targets.find((each) => each.status === 'ran').genai_aggregate;
  const bareRun = await timed(python, [path.join(root, 'bench', 'bare_llmpipeline.py'), artifact, 'CPU', properties, maxNewTokens, repetitions, ...prompts]);
  bare.push(bareRun.seconds);
  const bareGenai = JSON.parse(bareRun.result.stdout);
  const compare = (metric) => ({
    phiforge_mean: round(target.figures[metric].mean),
    genai_mean_same_runs: round(genai[metric]),
    ratio: +(target.figures[metric].mean / genai[metric]).toFixed(4),
    phiforge_median: round(target.figures[metric].median),
    median_over_genai_mean: +(target.figures[metric].median / genai[metric]).toFixed(3),
    bare_script_genai_mean: round(bareGenai[metric]),
  });
  fidelity.push({ ttft_ms: compare('ttft_ms'), tpot_ms: compare('tpot_ms') });
}

console.log(
  JSON.stringify(
    {
      bench: 'validate-fidelity',
      recipe: path.relative(root, recipe),
      runs,
      agreement_per_run: fidelity,
      agreement_goal: 'ratio (phiforge mean / GenAI mean of the same runs) within 0.95..1.05',
      phiforge_validate_s: { median: +median(phiforge).toFixed(2), each: phiforge.map((value) => +value.toFixed(2)) },
      bare_llmpipeline_s: { median: +median(bare).toFixed(2), each: bare.map((value) => +value.toFixed(2)) },
      time_ratio: +(median(phiforge) / median(bare)).toFixed(2),
      time_ratio_goal: 1.5,
    },
    null,
    2,
  ),
);
