#!/usr/bin/env node
// bench/noop: wall time of a second build of an unchanged recipe (everything cached: no Python may
// start), beside DVC's `dvc repro` of an equivalent one-stage pipeline when DVC can be installed.
//   node bench/noop.mjs [recipe=recipes/demo/phi3-tiny-int4-ov.yaml] [n=5]
// Needs `npm run build`; uses the repository's cache/. DVC goes into a throwaway venv under $TMPDIR.
import { execa } from 'execa';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'phiforge.js');
const recipe = path.resolve(process.argv[2] ?? path.join(root, 'recipes', 'demo', 'phi3-tiny-int4-ov.yaml'));
const runs = Number(process.argv[3] ?? 5);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const timed = async (file, args, options = {}) => {
  const started = performance.now();
  const result = await execa(file, args, { reject: false, ...options });
  return { seconds: (performance.now() - started) / 1000, result };
};

await execa(process.execPath, [cli, 'build', recipe], { cwd: root, stdout: 'ignore', stderr: 'inherit' });
const phiforge = [];
let pythonStarted = false;
for (let run = 0; run < runs; run++) {
  // strace would be exact; the steps' reuse flags say the same: no step ran, so no Python started.
  const { seconds, result } = await timed(process.execPath, [cli, 'build', recipe, '--json'], { cwd: root });
  phiforge.push(seconds);
  pythonStarted ||= JSON.parse(result.stdout).results[0].steps.some((step) => !step.reused);
}

let dvc = { skipped: 'DVC could not be installed' };
const scratch = await mkdtemp(path.join(os.tmpdir(), 'phiforge-noop-'));
const venv = path.join(scratch, 'venv');
if ((await execa('python3', ['-m', 'venv', venv], { reject: false })).exitCode === 0 && (await execa(path.join(venv, 'bin', 'pip'), ['install', '--quiet', 'dvc'], { reject: false })).exitCode === 0) {
  const work = path.join(scratch, 'repo');
  await execa('git', ['init', '-q', work]);
  await writeFile(path.join(work, 'input.txt'), 'model\n');
  const dvcBin = path.join(venv, 'bin', 'dvc');
  await execa(dvcBin, ['init', '-q'], { cwd: work });
  await execa(dvcBin, ['stage', 'add', '-q', '-n', 'export', '-d', 'input.txt', '-o', 'output.txt', 'cp input.txt output.txt'], { cwd: work });
  await execa(dvcBin, ['repro', '-q'], { cwd: work });
  const times = [];
  for (let run = 0; run < runs; run++) times.push((await timed(dvcBin, ['repro', '-q'], { cwd: work })).seconds);
  dvc = { dvc_repro_noop_s: { median: +median(times).toFixed(3), each: times.map((value) => +value.toFixed(3)) } };
}

console.log(
  JSON.stringify(
    { bench: 'noop', recipe: path.relative(root, recipe), runs, phiforge_noop_build_s: { median: +median(phiforge).toFixed(3), each: phiforge.map((value) => +value.toFixed(3)), goal: 0.5 }, any_step_ran: pythonStarted, ...dvc },
    null,
    2,
  ),
);
