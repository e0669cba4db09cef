#!/usr/bin/env node
// bench/variants: three OpenVINO variants of one model (FP16, INT4 g128 r0.6 sym, INT4 channel-wise
// r1.0 sym) built by one phiforge command, sharing one PyTorch conversion (the recipes say
// export: shared; a recipe without it exports directly however it is built), against three separate
// optimum-cli runs, side by side. phiforge runs with --no-validate, so both sides only export, once
// as is and once with --jobs 2 (the variants' compressions side by side). The reference answers are
// made once beforehand and shared (they are the model's, not a variant's, and optimum-cli has none).
// Prints JSON figures; goal: ratio <= 0.5.
//   node bench/variants.mjs [--size tiny|smollm2|full] [--no-jobs-2]
// full: Phi-3-mini-4k's full layout with random weights (3.8B parameters); an FP16 export of it peaks
// near 24 GiB, so give it the whole machine; --no-jobs-2 skips the --jobs 2 run.
// Needs `npm run build`; venvs come from the repository's cache/, step outputs go to a fresh one.
import { execa } from 'execa';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'phiforge.js');
const { values: options } = parseArgs({ options: { size: { type: 'string', default: 'tiny' }, 'no-jobs-2': { type: 'boolean' } } });
const family = { tiny: { preset: 'phi3-mini-tiny', group: 128 }, smollm2: { preset: 'phi3-smollm2-135m', group: 64 }, full: { preset: 'phi3-mini-4k-random', group: 128 } }[options.size];
if (!family) throw new Error(`--size is tiny, smollm2 or full, not ${options.size}`);
const variants = [
  { name: 'fp16', quantization: 'weight_format: fp16', flags: ['--weight-format', 'fp16'] },
  { name: 'int4', quantization: `weight_format: int4\n  group_size: ${family.group}\n  ratio: 0.6\n  sym: true`, flags: ['--weight-format', 'int4', '--group-size', String(family.group), '--ratio', '0.6', '--sym'] },
  { name: 'int4-cw', quantization: 'weight_format: int4\n  group_size: -1\n  ratio: 1.0\n  sym: true', flags: ['--weight-format', 'int4', '--group-size', '-1', '--ratio', '1.0', '--sym'] },
];
const seconds = async (file, args, options = {}) => {
  const started = performance.now();
  await execa(file, args, { stdio: ['ignore', 'ignore', 'pipe'], ...options });
  return (performance.now() - started) / 1000;
};

const scratch = await mkdtemp(path.join(os.tmpdir(), 'phiforge-variants-'));
const recipes = [];
for (const variant of variants) {
  const file = path.join(scratch, `${variant.name}.yaml`);
  await writeFile(file, `name: bench-${variant.name}\nmodel:\n  synthetic: ${family.preset}\npipeline: openvino\nexport: shared\nquantization:\n  ${variant.quantization}\n`);
  recipes.push(file);
}
// The model and venvs must exist; then both sides start from the same local model folder. The warm-up
// builds the INT4 variant, whose export needs the least memory (at full size FP16's peaks near 24 GiB).
const warmRecipe = recipes[1];
await execa(process.execPath, [cli, 'build', warmRecipe, '--no-validate', '--out', path.join(scratch, 'warm')], { cwd: root, stdout: 'ignore', stderr: 'inherit' });
const plan = JSON.parse((await execa(process.execPath, [cli, 'plan', warmRecipe, '--json'], { cwd: root })).stdout);
const modelDir = plan.steps.find((step) => step.id === 'model').output;
// The export step runs the venv's python with the derivation script (export: shared): optimum-cli
// sits beside it.
const optimumCli = path.join(path.dirname(plan.steps.find((step) => step.id === 'export').argv[0]), 'optimum-cli');
// The reference answers of the model as --model gives it, made once in the repository's cache. A
// folder of its own: phiforge refuses to let a --model build replace the preset's artifact.
await execa(process.execPath, [cli, 'build', warmRecipe, '--no-validate', '--model', modelDir, '--out', path.join(scratch, 'warm-model')], { cwd: root, stdout: 'ignore', stderr: 'inherit' });
const referenceEntry = path.dirname(JSON.parse((await execa(process.execPath, [cli, 'plan', warmRecipe, '--model', modelDir, '--json'], { cwd: root })).stdout).steps.find((step) => step.id === 'reference').output);

// One run per --jobs value, each from an empty step cache.
const steps = {};
const phiforgeRun = async (jobs) => {
  const cache = path.join(scratch, `cache-${jobs}`);
  await mkdir(cache);
  for (const shared of ['toolchains', 'tools']) await symlink(path.join(root, 'cache', shared), path.join(cache, shared));
  await mkdir(path.join(cache, 'steps'));
  await cp(referenceEntry, path.join(cache, 'steps', path.basename(referenceEntry)), { recursive: true });
  const started = performance.now();
  const { stdout } = await execa(process.execPath, [cli, 'build', ...recipes, '--no-validate', '--json', '--jobs', String(jobs), '--model', modelDir, '--cache-dir', cache, '--out', path.join(scratch, `dist-${jobs}`)], { cwd: root, stderr: 'pipe' });
  const taken = (performance.now() - started) / 1000;
  // Where the time went: the command of each step that ran (its converter, without hashing and
  // committing), once: the shared conversion is listed by every recipe.
  const ran = {};
  for (const result of JSON.parse(stdout).results) {
    for (const step of result.steps) if (!step.reused) ran[`${path.basename(result.recipe, '.yaml')}/${step.id}`] = +(step.durationMs / 1000).toFixed(1);
  }
  steps[jobs] = ran;
  // At full size one run's outputs are about 20 GB.
  await rm(cache, { recursive: true, force: true });
  await rm(path.join(scratch, `dist-${jobs}`), { recursive: true, force: true });
  return taken;
};
const phiforge = await phiforgeRun(1);
const phiforgeJobs2 = options['no-jobs-2'] ? undefined : await phiforgeRun(2);

const direct = [];
for (const [index, variant] of variants.entries()) {
  direct.push(await seconds(optimumCli, ['export', 'openvino', '--model', modelDir, '--task', 'text-generation-with-past', ...variant.flags, path.join(scratch, `direct-${index}`)], { env: { HF_HUB_OFFLINE: '1' } }));
  await rm(path.join(scratch, `direct-${index}`), { recursive: true, force: true });
}
await rm(scratch, { recursive: true, force: true });
const directTotal = direct.reduce((sum, value) => sum + value, 0);
console.log(
  JSON.stringify(
    {
      bench: 'variants',
      size: options.size,
      model: family.preset,
      phiforge_one_command_s: +phiforge.toFixed(2),
      phiforge_one_command_jobs_2_s: phiforgeJobs2 === undefined ? null : +phiforgeJobs2.toFixed(2),
      phiforge_step_commands_s: steps,
      optimum_cli_three_runs_s: { total: +directTotal.toFixed(2), each: direct.map((value) => +value.toFixed(2)) },
      ratio: +(phiforge / directTotal).toFixed(3),
      ratio_jobs_2: phiforgeJobs2 === undefined ? null : +(phiforgeJobs2 / directTotal).toFixed(3),
      ratio_goal: 0.5,
    },
    null,
    2,
  ),
);
