#!/usr/bin/env node
// bench/variants: three OpenVINO variants of one model (FP16, INT4 g128 r0.6 sym, INT4 channel-wise
// r1.0 sym) built by one phiforge command (one shared PyTorch conversion) against three separate
// optimum-cli runs, side by side. Prints JSON figures; goal: ratio <= 0.5.
//   node bench/variants.mjs [model=demo tiny | smollm2]
// Needs `npm run build`; the venvs come from the repository's cache/, step outputs go to a fresh one.
import { execa } from 'execa';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'phiforge.js');
const family = process.argv[2] === 'smollm2' ? 'smollm2' : 'tiny';
const recipes = (family === 'smollm2' ? [] : ['phi3-tiny-fp16-ov.yaml', 'phi3-tiny-int4-ov.yaml', 'phi3-tiny-int4-cw-ov.yaml']).map((name) => path.join(root, 'recipes', 'demo', name));
if (recipes.length === 0) throw new Error('only the tiny demo variants are defined as recipes');
const seconds = async (file, args, options = {}) => {
  const started = performance.now();
  await execa(file, args, { stdio: ['ignore', 'ignore', 'pipe'], ...options });
  return (performance.now() - started) / 1000;
};

// The model and venvs must exist; then both sides start from the same local model folder.
await execa(process.execPath, [cli, 'build', recipes[1]], { cwd: root, stdout: 'ignore', stderr: 'inherit' });
const plan = JSON.parse((await execa(process.execPath, [cli, 'plan', recipes[1], '--json'], { cwd: root })).stdout);
const modelDir = plan.steps.find((step) => step.id === 'model').output;
const optimumCli = path.join(path.dirname(plan.steps.find((step) => step.id === 'validate').argv[0]), 'optimum-cli');

const scratch = await mkdtemp(path.join(os.tmpdir(), 'phiforge-variants-'));
const cache = path.join(scratch, 'cache');
await mkdir(cache);
for (const shared of ['toolchains', 'tools']) await symlink(path.join(root, 'cache', shared), path.join(cache, shared));
const phiforge = await seconds(process.execPath, [cli, 'build', ...recipes, '--model', modelDir, '--cache-dir', cache, '--out', path.join(scratch, 'dist')], { cwd: root });
// Validation is part of a phiforge build but not of the hand-typed commands: time it separately to subtract.
const validateOnly = await seconds(process.execPath, [cli, 'validate', ...recipes, '--model', modelDir, '--cache-dir', cache, '--out', path.join(scratch, 'dist')], { cwd: root });

const flags = [['--weight-format', 'fp16'], ['--weight-format', 'int4', '--group-size', '128', '--ratio', '0.6', '--sym'], ['--weight-format', 'int4', '--group-size', '-1', '--ratio', '1.0', '--sym']];
const direct = [];
for (const [index, variant] of flags.entries()) {
  direct.push(await seconds(optimumCli, ['export', 'openvino', '--model', modelDir, '--task', 'text-generation-with-past', ...variant, path.join(scratch, `direct-${index}`)], { env: { HF_HUB_OFFLINE: '1' } }));
}
await rm(scratch, { recursive: true, force: true });
const directTotal = direct.reduce((sum, value) => sum + value, 0);
const exportsOnly = phiforge - validateOnly;
console.log(
  JSON.stringify(
    {
      bench: 'variants',
      model: family,
      phiforge_one_command_s: +phiforge.toFixed(2),
      phiforge_validation_share_s: +validateOnly.toFixed(2),
      phiforge_exports_s: +exportsOnly.toFixed(2),
      optimum_cli_three_runs_s: { total: +directTotal.toFixed(2), each: direct.map((value) => +value.toFixed(2)) },
      ratio_exports: +(exportsOnly / directTotal).toFixed(3),
      ratio_whole_build: +(phiforge / directTotal).toFixed(3),
      ratio_goal: 0.5,
    },
    null,
    2,
  ),
);
