#!/usr/bin/env node
// bench/real-size: doctor's estimates against what a build at real size takes. Builds a random-
// weights model with Phi-3-mini-4k's full dimensions (the phi3-mini-4k-random preset: 3.8B
// parameters, made locally, no hub) through each backend with --no-validate, then validates each
// artifact, sampling the resident memory of phiforge's whole process tree five times a second.
// Prints, per recipe and per step, doctor's estimate beside the measured peak, and the artifact size.
//   node bench/real-size.mjs [variants=ov-int4,ov-fp16,npu-int4,ort-int4-cpu] [--fresh] [--build-only]
// --fresh removes the cached outputs of each variant's own steps first (not the generated model's,
// not the reference answers'), so that they run and are measured; --build-only skips validation.
// Needs `npm run build`, about 24 GB of memory and 40 GB of disk; uses the repository's cache/.
import { execa } from 'execa';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'phiforge.js');
const model = 'model:\n  synthetic: phi3-mini-4k-random\n';
const VARIANTS = {
  // The guide's command exactly, in one optimum-cli pass.
  'ov-int4': `name: real-ov-int4\n${model}pipeline: openvino\nexport: direct\nquantization: { weight_format: int4, group_size: 128, ratio: 0.6, sym: true }\ntargets: [{ device: CPU }]\n`,
  'ov-fp16': `name: real-ov-fp16\n${model}pipeline: openvino\nexport: direct\nquantization: { weight_format: fp16 }\ntargets: [{ device: CPU }]\n`,
  // The same two from the shared conversion (what a recipe with export: shared builds): the
  // conversion and each derivation are steps of their own.
  'ov-int4-shared': `name: real-ov-int4-shared\n${model}pipeline: openvino\nexport: shared\nquantization: { weight_format: int4, group_size: 128, ratio: 0.6, sym: true }\ntargets: [{ device: CPU }]\n`,
  'ov-fp16-shared': `name: real-ov-fp16-shared\n${model}pipeline: openvino\nexport: shared\nquantization: { weight_format: fp16 }\ntargets: [{ device: CPU }]\n`,
  'npu-int4': `name: real-npu-int4\n${model}pipeline: openvino-npu\nexport: direct\nquantization: { weight_format: int4, group_size: 128, ratio: 1.0, sym: true }\ntargets: [{ device: NPU }]\nnpu: { max_prompt_len: 256, min_response_len: 64 }\n`,
  'ort-int4-cpu': `name: real-ort-int4-cpu\n${model}pipeline: ort-genai\nquantization: { weight_format: int4, sym: true }\nort: { execution_provider: cpu, block_size: 32 }\ntargets: [{ device: cpu }]\n`,
};
const { values: flags, positionals } = parseArgs({ options: { fresh: { type: 'boolean' }, 'build-only': { type: 'boolean' } }, allowPositionals: true });
const selected = (positionals[0] ?? Object.keys(VARIANTS).join(',')).split(',');
const SHARED_STEP_KINDS = new Set(['model-source', 'reference-answers']);
const GiB = 2 ** 30;
const gib = (bytes) => +(bytes / GiB).toFixed(2);

/** Resident bytes of `pid` and every process below it, from /proc. */
function treeRss(pid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  const stack = [pid];
  while (stack.length) {
    const current = stack.pop();
    try {
      total += Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${current}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    } catch {
      // gone meanwhile
    }
    stack.push(...(children.get(current) ?? []));
  }
  return total;
}

/** Runs the CLI, attributing the tree's peak memory to the step whose command is running. */
async function measured(args, cwd, { gatesMayFail = false } = {}) {
  const child = execa(process.execPath, [cli, ...args], { cwd, reject: false, env: { NO_COLOR: '1' } });
  const peaks = {};
  let current = 'phiforge';
  child.stderr.on('data', (chunk) => {
    for (const line of chunk.toString().split('\n')) {
      const step = /› (\S+):/.exec(line)?.[1] ?? (/^running \S+ on /.test(line) ? 'runner' : undefined);
      if (step) current = step;
    }
  });
  const started = performance.now();
  const sampler = setInterval(() => {
    const rss = treeRss(child.pid);
    peaks[current] = Math.max(peaks[current] ?? 0, rss);
  }, 200);
  const result = await child;
  clearInterval(sampler);
  // Exit 1 is a gate that failed: the run itself happened and its figures stand.
  if (result.exitCode !== 0 && !(gatesMayFail && result.exitCode === 1)) throw new Error(`phiforge ${args.join(' ')} failed:\n${result.stderr.slice(-3000)}`);
  const failedGates = result.exitCode === 1 ? result.stderr.split('\n').filter((line) => /^\s+- /.test(line)).map((line) => line.trim().slice(2)) : [];
  return { peaks, seconds: (performance.now() - started) / 1000, stdout: result.stdout, failedGates };
}

const cwd = await mkdtemp(path.join(os.tmpdir(), 'phiforge-real-size-'));
const report = [];
for (const name of selected) {
  const file = path.join(cwd, `${name}.yaml`);
  await writeFile(file, VARIANTS[name]);
  const doctor = JSON.parse((await execa(process.execPath, [cli, 'doctor', file, '--json', '--cache-dir', path.join(root, 'cache')], { cwd })).stdout).resources;
  if (flags.fresh) {
    const plan = JSON.parse((await execa(process.execPath, [cli, 'plan', file, '--json', '--emulate-npu', '--cache-dir', path.join(root, 'cache')], { cwd })).stdout);
    for (const step of plan.steps) if (step.stepCache && !SHARED_STEP_KINDS.has(step.kind)) await rm(path.dirname(step.output), { recursive: true, force: true });
  }
  const build = await measured(['build', file, '--no-validate', '--emulate-npu', '--json', '--cache-dir', path.join(root, 'cache'), '--out', 'dist'], cwd);
  const outcome = JSON.parse(build.stdout).results[0];
  const artifact = outcome.artifact;
  // A step reused from the cache ran nothing: only what ran is compared with its estimate.
  const ran = new Set(outcome.steps.filter((step) => !step.reused).map((step) => step.id));
  const manifest = JSON.parse(await readFile(path.join(artifact, 'manifest.json'), 'utf8'));
  const artifactBytes = manifest.files.reduce((sum, each) => sum + each.size, 0);
  // Random weights at full size leave near-ties between tokens, which a different kernel (NPUW's) may
  // break the other way: an answer gate may fail here without saying anything about memory or speed.
  const validate = flags['build-only'] ? undefined : await measured(['validate', artifact, '--emulate-npu', '--cache-dir', path.join(root, 'cache')], cwd, { gatesMayFail: true });
  const steps = Object.entries({ ...build.peaks, ...(validate ? { runner: validate.peaks.runner } : {}) })
    .filter(([step]) => ran.has(step) || step === 'runner')
    .map(([step, bytes]) => {
    const estimate = doctor.estimate?.steps?.[step]?.memoryBytes;
      return { step, measured_peak_gib: gib(bytes), estimate_gib: estimate === undefined ? null : gib(estimate), ratio: estimate === undefined ? null : +(estimate / bytes).toFixed(2) };
    });
  report.push({
    variant: name,
    build_s: +build.seconds.toFixed(0),
    validate_s: validate ? +validate.seconds.toFixed(0) : null,
    steps,
    artifact: { measured_gib: gib(artifactBytes), estimate_gib: doctor.estimate ? gib(doctor.estimate.artifactBytes) : null, ratio: doctor.estimate ? +(doctor.estimate.artifactBytes / artifactBytes).toFixed(2) : null },
    reused: outcome.steps.filter((step) => step.reused).map((step) => step.id),
    failed_gates: validate?.failedGates ?? null,
  });
  console.error(JSON.stringify(report.at(-1)));
}
console.log(JSON.stringify({ bench: 'real-size', model: 'phi3-mini-4k-random (3.82B parameters, bf16)', goal: 'estimate / measured within 0.85..1.15', machine: `${os.cpus().length} cores, ${gib(os.totalmem())} GiB`, variants: report }, null, 2));
