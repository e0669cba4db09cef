#!/usr/bin/env node
// bench/overhead: phiforge build of the demo INT4 recipe against the same optimum-cli command run
// directly in the same venv, side by side, alternating, n runs each. Prints JSON figures. The recipe
// is built with `export: direct`, so both sides run the same optimum-cli command.
//   node bench/overhead.mjs [n=3]
// Needs a prior `npm run build`. Uses the repository's cache/ (venvs and the synthetic model).
import { execa } from 'execa';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'phiforge.js');
const runs = Number(process.argv[2] ?? 3);
const scratch = await mkdtemp(path.join(os.tmpdir(), 'phiforge-bench-'));
const recipe = path.join(scratch, 'phi3-tiny-int4-ov-direct.yaml');
await writeFile(recipe, `${await readFile(path.join(root, 'recipes', 'demo', 'phi3-tiny-int4-ov.yaml'), 'utf8')}export: direct\n`);

const seconds = async (file, args, options = {}) => {
  const started = performance.now();
  await execa(file, args, { stdio: ['ignore', 'ignore', 'pipe'], ...options });
  return (performance.now() - started) / 1000;
};
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

// Warm-up: venvs and the synthetic model exist afterwards, so both sides only export.
await execa(process.execPath, [cli, 'build', recipe, '--out', path.join(scratch, 'warm')], { cwd: root, stdout: 'ignore', stderr: 'inherit' });
const plan = JSON.parse((await execa(process.execPath, [cli, 'plan', recipe, '--json'], { cwd: root })).stdout);
const modelDir = plan.steps.find((step) => step.id === 'model').output;
const exportStep = plan.steps.find((step) => step.id === 'export');

const phiforge = [];
const direct = [];
for (let run = 0; run < runs; run++) {
  // --model <folder> makes the model step a plain folder and --no-validate leaves validation out, so
  // phiforge's run is one export plus its checks, like the direct one.
  phiforge.push(await seconds(process.execPath, [cli, 'build', recipe, '--model', modelDir, '--force', '--no-validate', '--out', path.join(scratch, `pf-${run}`)], { cwd: root }));
  const argv = [...exportStep.argv.slice(0, -1), path.join(scratch, `direct-${run}`)];
  argv[argv.indexOf('--model') + 1] = modelDir;
  direct.push(await seconds(argv[0], argv.slice(1), { env: exportStep.env }));
}

const help = [];
for (let run = 0; run < 10; run++) help.push(await seconds(process.execPath, [cli, '--help']));

await rm(scratch, { recursive: true, force: true });
const figures = {
  bench: 'overhead',
  runs,
  phiforge_build_s: { median: median(phiforge), each: phiforge.map((value) => +value.toFixed(2)) },
  optimum_cli_direct_s: { median: median(direct), each: direct.map((value) => +value.toFixed(2)) },
  ratio: +(median(phiforge) / median(direct)).toFixed(3),
  ratio_goal: 1.05,
  help_wall_s: { median: +median(help).toFixed(3), goal: 0.3 },
};
console.log(JSON.stringify(figures, null, 2));
