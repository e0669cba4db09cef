#!/usr/bin/env node
// bench/overhead: a phiforge build against the same optimum-cli command typed by hand, in the same
// venv, on the same model folder, alternating, n runs each. Only the export is redone on phiforge's
// side (its cache entry is removed before each run; the model and the reference answers stay cached),
// so the difference is what phiforge adds around the converter: start-up, planning, venv and input
// checks, digesting the outputs, publishing the artifact with its manifest.
//   node bench/overhead.mjs [--size tiny|full] [n=3]
// tiny: the demo model (2M parameters). full: Phi-3-mini-4k's full layout with random weights (3.8B
// parameters, the phi3-mini-4k-random preset; about 11 GiB of memory and 10 GB of disk a run).
// Needs `npm run build`; uses the repository's cache/.
import { execa } from 'execa';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'phiforge.js');
const { values, positionals } = parseArgs({ options: { size: { type: 'string', default: 'tiny' } }, allowPositionals: true });
const runs = Number(positionals[0] ?? 3);
const preset = { tiny: 'phi3-mini-tiny', full: 'phi3-mini-4k-random' }[values.size];
if (!preset) throw new Error(`--size is tiny or full, not ${values.size}`);

const scratch = await mkdtemp(path.join(os.tmpdir(), 'phiforge-overhead-'));
const recipe = path.join(scratch, `overhead-${values.size}.yaml`);
// The guide's INT4 settings, no validation targets' runs: only the build is compared. export: direct
// (the default, written out): phiforge runs the very optimum-cli command typed by hand below.
await writeFile(recipe, `name: overhead-${values.size}\nmodel:\n  synthetic: ${preset}\npipeline: openvino\nexport: direct\nquantization: { weight_format: int4, group_size: 128, ratio: 0.6, sym: true }\ntargets: [{ device: CPU }]\n`);

const timed = async (file, args, options = {}) => {
  const started = performance.now();
  const result = await execa(file, args, { stdin: 'ignore', stderr: 'pipe', ...options });
  return { seconds: (performance.now() - started) / 1000, stdout: result.stdout };
};
const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];

// Warm-up: venvs, the model and the reference answers exist afterwards.
await execa(process.execPath, [cli, 'build', recipe, '--no-validate', '--out', path.join(scratch, 'warm')], { cwd: root, stdout: 'ignore', stderr: 'inherit' });
await rm(path.join(scratch, 'warm'), { recursive: true, force: true });
const plan = JSON.parse((await execa(process.execPath, [cli, 'plan', recipe, '--json'], { cwd: root })).stdout);
const exportStep = plan.steps.find((step) => step.id === 'export');
const exportEntry = path.dirname(exportStep.output);

const phiforge = [];
const converterInPhiforge = [];
const byHand = [];
const runPhiforge = async () => {
  await rm(exportEntry, { recursive: true, force: true });
  const out = path.join(scratch, 'dist');
  const built = await timed(process.execPath, [cli, 'build', recipe, '--no-validate', '--json', '--out', out], { cwd: root });
  phiforge.push(built.seconds);
  converterInPhiforge.push(JSON.parse(built.stdout).results[0].steps.find((step) => step.id === 'export').durationMs / 1000);
  await rm(out, { recursive: true, force: true });
  // Removed at once, as the hand run's output is: each side then starts with the same free memory.
  await rm(exportEntry, { recursive: true, force: true });
};
const runByHand = async () => {
  // The exact command phiforge ran (plan prints it) in a folder of its own, with the same links.
  const handDir = path.join(scratch, 'by-hand');
  await mkdir(handDir);
  for (const [name, target] of Object.entries(exportStep.links ?? {})) await symlink(target, path.join(handDir, name));
  // phiforge points TMPDIR into the step's work folder; the hand run gets a folder of its own alike.
  // The malloc tunables phiforge adds are left out: a user typing the command has none, and what
  // they save belongs to phiforge's side (its converter's own time shows it apart).
  const { GLIBC_TUNABLES, ...typed } = exportStep.env;
  const env = { ...typed, TMPDIR: path.join(handDir, 'scratch') };
  await mkdir(env.TMPDIR);
  byHand.push((await timed(exportStep.argv[0], exportStep.argv.slice(1), { cwd: handDir, env })).seconds);
  await rm(handDir, { recursive: true, force: true });
};
// ABBA order: at full size the converter's own time wanders by several percent from one run to the
// next (most of it is kernel time spent on memory), and whichever side always went first paid for it.
for (let run = 0; run < runs; run++) {
  if (run % 2 === 0) {
    await runPhiforge();
    await runByHand();
  } else {
    await runByHand();
    await runPhiforge();
  }
}
await rm(scratch, { recursive: true, force: true });

const ratio = median(phiforge) / median(byHand);
console.log(
  JSON.stringify(
    {
      bench: 'overhead',
      size: values.size,
      model: preset,
      runs,
      phiforge_build_s: { median: +median(phiforge).toFixed(2), each: phiforge.map((value) => +value.toFixed(2)) },
      optimum_cli_in_phiforge_s: { median: +median(converterInPhiforge).toFixed(2) },
      optimum_cli_by_hand_s: { median: +median(byHand).toFixed(2), each: byHand.map((value) => +value.toFixed(2)) },
      // Per run, so that a slow converter run does not count as phiforge's.
      phiforge_around_the_converter_s: { median: +median(phiforge.map((total, run) => total - converterInPhiforge[run])).toFixed(2), each: phiforge.map((total, run) => +(total - converterInPhiforge[run]).toFixed(2)) },
      ratio: +ratio.toFixed(3),
      // The same, measured against the converter run inside each phiforge build: what phiforge adds,
      // free of the converter's run-to-run wander that the two-sided ratio also carries.
      ratio_to_its_own_converter_run: +median(phiforge.map((total, run) => total / converterInPhiforge[run])).toFixed(3),
      ratio_goal: values.size === 'full' ? 1.01 : 1.05,
    },
    null,
    2,
  ),
);
