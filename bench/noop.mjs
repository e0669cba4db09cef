#!/usr/bin/env node
// bench/noop: wall time of a second build of an unchanged recipe (everything cached: no Python may
// start), beside DVC's `dvc repro` of an equivalent one-stage pipeline when DVC can be installed,
// `phiforge --help`, and `node -e 0` (what any Node CLI pays to start on this machine right now).
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

let dvcBin;
const scratch = await mkdtemp(path.join(os.tmpdir(), 'phiforge-noop-'));
const venv = path.join(scratch, 'venv');
const work = path.join(scratch, 'repo');
if ((await execa('python3', ['-m', 'venv', venv], { reject: false })).exitCode === 0 && (await execa(path.join(venv, 'bin', 'pip'), ['install', '--quiet', 'dvc'], { reject: false })).exitCode === 0) {
  dvcBin = path.join(venv, 'bin', 'dvc');
  await execa('git', ['init', '-q', work]);
  await writeFile(path.join(work, 'input.txt'), 'model\n');
  await execa(dvcBin, ['init', '-q'], { cwd: work });
  await execa(dvcBin, ['stage', 'add', '-q', '-n', 'export', '-d', 'input.txt', '-o', 'output.txt', 'cp input.txt output.txt'], { cwd: work });
  await execa(dvcBin, ['repro', '-q'], { cwd: work });
}

// Interleaved, so that whatever else the machine does hits every command alike; `node -e 0` is the
// floor any Node CLI pays on this machine at this moment.
const times = { phiforge: [], help: [], node: [], dvc: [] };
let pythonStarted = false;
for (let run = 0; run < runs; run++) {
  // strace would be exact; the steps' reuse flags say the same: no step ran, so no Python started.
  const { seconds, result } = await timed(process.execPath, [cli, 'build', recipe, '--json'], { cwd: root });
  times.phiforge.push(seconds);
  pythonStarted ||= JSON.parse(result.stdout).results[0].steps.some((step) => !step.reused);
  times.help.push((await timed(process.execPath, [cli, '--help'], { cwd: root })).seconds);
  times.node.push((await timed(process.execPath, ['-e', '0'])).seconds);
  if (dvcBin) times.dvc.push((await timed(dvcBin, ['repro', '-q'], { cwd: work })).seconds);
}

const figure = (values, goal) => ({ median: +median(values).toFixed(3), each: values.map((value) => +value.toFixed(3)), ...(goal === undefined ? {} : { goal }) });
console.log(
  JSON.stringify(
    {
      bench: 'noop',
      recipe: path.relative(root, recipe),
      runs,
      phiforge_noop_build_s: figure(times.phiforge, 0.2),
      phiforge_help_s: figure(times.help, 0.1),
      node_e_0_s: figure(times.node),
      any_step_ran: pythonStarted,
      ...(dvcBin
        ? { dvc_repro_noop_s: figure(times.dvc), ratio_to_dvc: { value: +(median(times.phiforge) / median(times.dvc)).toFixed(3), goal: 0.35 } }
        : { dvc: { skipped: 'DVC could not be installed' } }),
    },
    null,
    2,
  ),
);
