#!/usr/bin/env node
// bench/olive: phiforge against Olive 0.13's OpenVINOOptimumConversion pass, both cold, on the same
// model folder (SmolLM2 re-laid as Phi-3, made by phiforge's model step), with the recipe's INT4
// settings, alternating, n runs each. Then checks that both wrote the same weight bytes.
//   node bench/olive.mjs [--recipe recipes/demo/phi3-smollm2-int4-ov.yaml] [n=3]
// Cold means: phiforge with every cache entry of the conversion removed (the export and, when the
// plan has one, the shared base; the model and the reference answers stay cached, as do the venvs),
// and Olive with an empty cache and output folder of its own each run.
// phiforge's side runs in a cache of the bench's own (--cache-dir): the repository cache's step
// entries hard-linked into it, its venvs linked. Removing the conversion there neither changes what
// other builds on this checkout find cached nor waits on their locks for the same step.
// Olive lives in a scratch venv, $TMPDIR/phiforge-olive-venv-<key>, kept between runs of the bench:
// the key covers the Olive spec, the openvino toolchain's lock and the Python version, so a changed
// lock makes a new one (delete old ones by hand). The venv gets exactly the lock's versions of
// torch/optimum-intel/NNCF/OpenVINO, so any byte difference is Olive's doing, not a version's.
// Needs `npm run build` and network for the first install (about 2 GB of disk); uses the repository's
// cache/ for the warm-up.
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'phiforge.js');
const { values, positionals } = parseArgs({ options: { recipe: { type: 'string', default: 'recipes/demo/phi3-smollm2-int4-ov.yaml' } }, allowPositionals: true });
const runs = Number(positionals[0] ?? 3);
const recipe = path.resolve(root, values.recipe);
const OLIVE_SPEC = 'olive-ai==0.13.*';
const GOAL = 0.8;
const GNU_TIME = '/usr/bin/time';
// What phiforge gives its converter: the model is local, so no network. Olive gets the same, and
// no telemetry upload, so that neither side waits on a network the other does not use.
const OFFLINE = { HF_HUB_OFFLINE: '1', HF_DATASETS_OFFLINE: '1' };

const log = (line) => process.stderr.write(`olive bench: ${line}\n`);
const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
const round = (value, digits = 2) => (value === undefined || Number.isNaN(value) ? null : +value.toFixed(digits));
const figure = (list) => ({ median: round(median(list)), each: list.map((value) => round(value)) });
const canonical = (name) => name.toLowerCase().replace(/[-_.]+/g, '-');

async function sha256(file) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk);
  return hash.digest('hex');
}

// Top level first, then below: Olive saves the model under output/model/ and moves the tokenizer
// models into subfolders of their own.
async function findFile(dir, name) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isFile() && entry.name === name) return path.join(dir, entry.name);
  }
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const found = await findFile(path.join(dir, entry.name), name);
    if (found) return found;
  }
  return undefined;
}

/**
 * Runs a command, timing it and stamping each output line with the seconds since the start, so the
 * phases of either side (start-up, the conversion, what follows it) can be read off afterwards.
 */
async function timedLines(file, args, options) {
  const lines = [];
  // CPU seconds of the whole process tree as well (GNU time counts every waited-for descendant): on a
  // machine others are using, they move far less than wall-clock seconds do.
  const rusage = path.join(os.tmpdir(), `phiforge-olive-rusage-${process.pid}`);
  const [command, commandArgs] = existsSync(GNU_TIME) ? [GNU_TIME, ['-f', '%U %S', '-o', rusage, file, ...args]] : [file, args];
  const started = performance.now();
  const child = execa(command, commandArgs, { stdin: 'ignore', all: true, reject: false, ...options });
  let pending = '';
  child.all.on('data', (chunk) => {
    const at = (performance.now() - started) / 1000;
    const parts = (pending + chunk.toString()).split(/\r?\n/);
    pending = parts.pop();
    for (const text of parts) lines.push({ at, text });
  });
  const result = await child;
  const seconds = (performance.now() - started) / 1000;
  if (pending) lines.push({ at: seconds, text: pending });
  if (result.exitCode !== 0) throw new Error(`${path.basename(file)} ${args.join(' ')} failed (${result.exitCode}):\n${lines.slice(-40).map((line) => line.text).join('\n')}`);
  let cpuSeconds;
  if (command === GNU_TIME) {
    const [user, system] = (await readFile(rusage, 'utf8')).trim().split(/\s+/).slice(-2).map(Number);
    cpuSeconds = user + system;
    await rm(rusage, { force: true });
  }
  return { seconds, cpuSeconds, lines, stdout: result.stdout };
}

// ---------------------------------------------------------------------------------------------------
// Olive's venv: torch from the machine's local CPU wheel first (pip would otherwise pull the CUDA
// build from the index), then the openvino toolchain's lock with --no-deps (that is how
// optimum-intel comes without its torchvision requirement: the only torchvision here is built against
// the CUDA torch and breaks `import transformers`), then Olive with its own dependencies, then the
// lock once more, in case Olive's resolution moved any of its pins.
const lockFile = path.join(root, 'toolchains', 'openvino', 'requirements.lock');
const lockText = await readFile(lockFile, 'utf8');
const pins = Object.fromEntries([...lockText.matchAll(/^([A-Za-z0-9_.-]+)==(\S+)/gm)].map(([, name, version]) => [canonical(name), version]));
const python = process.env.PHIFORGE_PYTHON ?? 'python3';
const pythonVersion = (await execa(python, ['-c', 'import platform; print(platform.python_version())'])).stdout.trim();
const venvKey = createHash('sha256').update(`${OLIVE_SPEC}\n${pythonVersion}\n${lockText}`).digest('hex').slice(0, 12);
const venv = path.join(os.tmpdir(), `phiforge-olive-venv-${venvKey}`);
const venvPython = path.join(venv, 'bin', 'python');
const readyMark = path.join(venv, '.phiforge-olive-ready');

const installedVersions = async () =>
  JSON.parse((await execa(venvPython, ['-c', 'import json, importlib.metadata as m; print(json.dumps({d.metadata["Name"]: d.version for d in m.distributions()}))'])).stdout);

/** Lock packages whose installed version differs from the lock (a local label like +cpu must match too). */
async function offLock() {
  const installed = Object.fromEntries(Object.entries(await installedVersions()).map(([name, version]) => [canonical(name), version]));
  return Object.entries(pins).filter(([name, version]) => installed[name] !== version).map(([name, version]) => `${name} ${installed[name] ?? 'missing'} (lock: ${version})`);
}

let venvReused = existsSync(readyMark);
if (!venvReused) {
  log(`installing ${OLIVE_SPEC} into ${venv} (once; later runs reuse it)`);
  await rm(venv, { recursive: true, force: true });
  const pip = (...args) => execa(venvPython, ['-m', 'pip', 'install', '--quiet', ...args], { stdout: 'ignore', stderr: 'inherit' });
  await execa(python, ['-m', 'venv', venv]);
  await pip('--no-deps', `torch==${pins.torch}`);
  await pip('--no-deps', '--require-hashes', '-r', lockFile);
  await pip(OLIVE_SPEC);
  await pip('--no-deps', '--require-hashes', '-r', lockFile);
  const off = await offLock();
  if (off.length) throw new Error(`the Olive venv does not match the openvino lock: ${off.join(', ')}`);
  await writeFile(readyMark, `${OLIVE_SPEC}\n`);
}
const versions = await installedVersions();
const offLockNow = await offLock();
if (offLockNow.length) throw new Error(`the Olive venv ${venv} no longer matches the openvino lock (${offLockNow.join(', ')}); delete it and run again`);
const oliveVersion = versions['olive-ai'];

// ---------------------------------------------------------------------------------------------------
const scratch = await mkdtemp(path.join(os.tmpdir(), 'phiforge-olive-'));
// Also when a run fails: each Olive run leaves its cache and output (a few hundred MB) behind.
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
const cacheDir = path.join(scratch, 'cache');
const phiforgeArgs = (...args) => [cli, ...args, '--cache-dir', cacheDir];
const phiforgeJson = async (...args) => JSON.parse((await execa(process.execPath, phiforgeArgs(...args), { cwd: root })).stdout);

// Warm-up in the repository's cache: the venvs, the model and the reference answers exist afterwards,
// so that the timed builds do only the conversion, as Olive does.
log('warm-up build (venvs, model, reference answers)');
const repoCache = path.resolve(root, process.env.PHIFORGE_CACHE ?? 'cache');
await execa(process.execPath, [cli, 'build', recipe, '--no-validate', '--cache-dir', repoCache, '--out', path.join(scratch, 'warm')], { cwd: root, stdout: 'ignore', stderr: 'inherit' });
const repoPlan = JSON.parse((await execa(process.execPath, [cli, 'plan', recipe, '--json', '--cache-dir', repoCache], { cwd: root })).stdout);
await mkdir(path.join(cacheDir, 'steps'), { recursive: true });
for (const shared of ['toolchains', 'tools']) if (existsSync(path.join(repoCache, shared))) await symlink(path.join(repoCache, shared), path.join(cacheDir, shared));
for (const step of repoPlan.steps) {
  const entry = path.dirname(step.output);
  if (existsSync(entry)) await execa('cp', ['-al', entry, path.join(cacheDir, 'steps', path.basename(entry))]);
}
// Once more in the bench's cache, all of it cached: fills its digest memo, as a user's cache has one.
await execa(process.execPath, phiforgeArgs('build', recipe, '--no-validate', '--out', path.join(scratch, 'warm')), { cwd: root, stdout: 'ignore', stderr: 'inherit' });
await rm(path.join(scratch, 'warm'), { recursive: true, force: true });

/**
 * The export step and every step it needs on the way from the model folder, that has a cache entry of
 * its own. Not the model, and not a step that runs nothing: on the direct path the base step is a
 * placeholder whose output is the model's folder, and removing that would remake the model.
 */
function conversionSteps(plan) {
  const byId = new Map(plan.steps.map((step) => [step.id, step]));
  const modelEntries = new Set(plan.steps.filter((step) => step.kind === 'model-source').map((step) => path.dirname(step.output)));
  const found = new Map();
  const stack = ['export'];
  while (stack.length) {
    const step = byId.get(stack.pop());
    if (!step || step.kind === 'model-source' || found.has(step.id)) continue;
    found.set(step.id, step);
    stack.push(...(step.needs ?? []));
  }
  return [...found.values()].filter((step) => step.stepCache && step.argv && !modelEntries.has(path.dirname(step.output)));
}

/**
 * Removes the conversion's cache entries, so that the measured build converts: plans again until none
 * is left (another build of the model may be committing one at the same time).
 */
async function coldPlan() {
  for (let attempt = 0; attempt < 5; attempt++) {
    const plan = await phiforgeJson('plan', recipe, '--json');
    const cached = conversionSteps(plan).map((step) => path.dirname(step.output)).filter((entry) => existsSync(entry));
    if (!cached.length) return plan;
    for (const entry of cached) await rm(entry, { recursive: true, force: true });
  }
  throw new Error('the conversion kept coming back into the cache (another build of this model running at the same time?)');
}

const firstPlan = await coldPlan();
const modelDir = firstPlan.steps.find((step) => step.kind === 'model-source').output;
const exportStep = firstPlan.steps.find((step) => step.id === 'export');
// The optimum-cli flags phiforge uses, from the command itself (direct export) or from the command the
// derivation is equivalent to (shared path): Olive gets the same settings either way.
const flagSource = exportStep.argv.includes('export') && exportStep.argv.includes('openvino') ? exportStep.argv : (/equivalent to: (.*?)\)?$/.exec(exportStep.summary)?.[1] ?? '').split(/\s+/);
const flag = (name) => (flagSource.includes(name) ? flagSource[flagSource.indexOf(name) + 1] : undefined);
const task = flag('--task') ?? 'text-generation-with-past';
const weightFormat = flag('--weight-format');
if (!weightFormat) throw new Error(`cannot tell the export's settings from the plan: ${exportStep.summary}`);
const ovQuantConfig = {
  weight_format: weightFormat,
  ...(flag('--group-size') ? { group_size: Number(flag('--group-size')) } : {}),
  ...(flag('--ratio') ? { ratio: Number(flag('--ratio')) } : {}),
  // optimum-cli leaves these None when the flag is absent; Olive's pass would default them to False.
  sym: flagSource.includes('--sym') ? true : null,
  all_layers: flagSource.includes('--all-layers') ? true : null,
  ...(flag('--backup-precision') ? { backup_precision: flag('--backup-precision') } : {}),
};
const oliveConfig = (work) => ({
  input_model: { type: 'HfModel', model_path: modelDir, task },
  passes: {
    convert: {
      type: 'OpenVINOOptimumConversion',
      // main_export's own arguments; the pass adds device, stateful and convert_tokenizer as optimum-cli does.
      extra_args: { task, ...(flagSource.includes('--trust-remote-code') ? { trust_remote_code: true } : {}) },
      ov_quant_config: ovQuantConfig,
    },
  },
  engine: {
    evaluate_input_model: false,
    cache_dir: path.join(work, 'cache'),
    output_dir: path.join(work, 'output'),
    log_severity_level: 1,
  },
});

/** One cold phiforge build; its phases from the progress lines and the step durations. */
async function phiforgeRun() {
  const plan = await coldPlan();
  const out = path.join(scratch, 'phiforge-dist');
  const built = await timedLines(process.execPath, phiforgeArgs('build', recipe, '--no-validate', '--json', '--out', out), { cwd: root, env: { NO_COLOR: '1' } });
  const result = JSON.parse(built.stdout).results[0];
  const ran = result.steps.filter((step) => !step.reused);
  if (!ran.some((step) => step.id === 'export')) throw new Error('the export was reused: the cold build was not cold');
  if (ran.some((step) => step.id === 'model')) throw new Error('the model step ran: its cache entry was missing, so this build did more than the conversion');
  const stepSeconds = Object.fromEntries(ran.map((step) => [step.id, step.durationMs / 1000]));
  // From a step's start line to its done line, beyond its command: venv check, preparing the work
  // folder, digesting and checking the output, committing the entry.
  const spans = {};
  for (const line of built.lines) {
    const [, mark, id] = /([❯✔]).*?›\s+([\w-]+):/.exec(line.text) ?? [];
    if (id) (spans[id] ??= {})[mark === '❯' ? 'start' : 'end'] = line.at;
  }
  const beyondCommand = Object.fromEntries(ran.filter((step) => spans[step.id]?.start !== undefined && spans[step.id]?.end !== undefined).map((step) => [step.id, spans[step.id].end - spans[step.id].start - step.durationMs / 1000]));
  // Listr prints "❯ name › step: ..." when a step starts; the first one ends start-up and planning.
  const firstStep = built.lines.find((line) => /›\s+\S+:/.test(line.text))?.at ?? 0;
  const lastDone = built.lines.filter((line) => /✔.*›\s+\S+:/.test(line.text)).at(-1)?.at ?? built.seconds;
  return {
    seconds: built.seconds,
    cpuSeconds: built.cpuSeconds,
    path: plan.steps.some((step) => step.kind === 'openvino-base-export' && step.argv) ? 'shared' : 'direct',
    stepSeconds,
    beyondCommand,
    commands: ran.reduce((sum, step) => sum + step.durationMs / 1000, 0),
    referenceRan: ran.some((step) => step.id === 'reference'),
    startup: firstStep,
    afterLastStep: built.seconds - lastDone,
    // Time spent waiting for another phiforge's lock is not phiforge's own.
    lockWaits: built.lines.filter((line) => /waiting for /.test(line.text)).length,
    artifact: result.artifact,
    out,
  };
}

/** One cold Olive run in a fresh folder; Olive's own figure for the pass from its log. */
async function oliveRun(index) {
  const work = path.join(scratch, `olive-${index}`);
  await mkdir(work, { recursive: true });
  const config = path.join(work, 'config.json');
  await writeFile(config, JSON.stringify(oliveConfig(work), null, 2));
  const ran = await timedLines(venvPython, ['-m', 'olive', 'run', '--config', config], {
    cwd: work,
    env: { ...OFFLINE, OLIVE_DISABLE_TELEMETRY: '1', OLIVE_TELEMETRY_CACHE_DIR: path.join(work, 'telemetry'), PYTHONUNBUFFERED: '1' },
  });
  const passLine = ran.lines.find((line) => /Pass \S+ finished in [\d.]+ seconds/.test(line.text));
  const passSeconds = passLine ? Number(/finished in ([\d.]+) seconds/.exec(passLine.text)[1]) : undefined;
  const passStart = ran.lines.find((line) => /Running pass /.test(line.text))?.at;
  return {
    seconds: ran.seconds,
    cpuSeconds: ran.cpuSeconds,
    passSeconds,
    // Start-up: from the process start to Olive logging that the pass begins (imports, config, model hash).
    startup: passStart,
    afterPass: passLine ? ran.seconds - passLine.at : undefined,
    output: path.join(work, 'output'),
    work,
    log: ran.lines.map((line) => line.text),
  };
}

/**
 * Both sides' weights and IR, byte for byte. When the IR differs, says how: recorded versions or
 * compression settings (rt_info), or only the names OpenVINO makes up for unnamed nodes (Convert_1234:
 * a per-process counter, so they depend on what else the converting process built before).
 */
async function compare(phiforgeArtifact, oliveOutput) {
  const files = {};
  for (const name of ['openvino_model.bin', 'openvino_model.xml', 'openvino_tokenizer.bin', 'openvino_detokenizer.bin']) {
    const ours = path.join(phiforgeArtifact, name);
    const theirs = await findFile(oliveOutput, name);
    files[name] = { phiforge: existsSync(ours) ? await sha256(ours) : null, olive: theirs ? await sha256(theirs) : null };
  }
  const same = (name) => files[name].phiforge !== null && files[name].phiforge === files[name].olive;
  const result = { weights: same('openvino_model.bin'), xml: same('openvino_model.xml'), files };
  if (!files['openvino_model.xml'].olive) return { ...result, why: 'Olive wrote no openvino_model.xml' };
  const ourXml = await readFile(path.join(phiforgeArtifact, 'openvino_model.xml'), 'utf8');
  const theirXml = await readFile(await findFile(oliveOutput, 'openvino_model.xml'), 'utf8');
  const rtInfo = (xml) => new Map([...xml.slice(xml.lastIndexOf('<rt_info>')).matchAll(/<(\w+) value="([^"]*)"/g)].map(([, key, value]) => [key, value]));
  const ours = rtInfo(ourXml);
  const theirs = rtInfo(theirXml);
  const differences = [...new Set([...ours.keys(), ...theirs.keys()])].filter((key) => ours.get(key) !== theirs.get(key)).map((key) => `${key}: phiforge ${ours.get(key) ?? '-'}, Olive ${theirs.get(key) ?? '-'}`);
  const generatedNames = (xml) => xml.replace(/_\d+(?=[",])/g, '_N');
  let why;
  if (differences.length) why = `the IRs record different versions or compression settings: ${differences.join('; ')}`;
  else if (!result.xml && generatedNames(ourXml) === generatedNames(theirXml)) why = "the XMLs differ only in OpenVINO's generated node names (Convert_<n>: a per-process counter), not in the graph";
  else if (!result.xml) why = 'same versions and compression settings in rt_info, yet the graphs differ (diff the XMLs)';
  if (!result.weights) why = `the weights differ${why ? `; ${why}` : ''}`;
  return { ...result, why };
}

// Python start-up and importing optimum's OpenVINO exporter in phiforge's venv, alone: a fixed part of
// the converter's time that Olive pays as well, in its start-up and at the start of its pass.
// Timed once, before the runs, while the bench's cache (and its link to the venvs) exists.
const converterPython = path.join(path.dirname(exportStep.argv[0]), 'python');
const importStarted = performance.now();
await execa(converterPython, ['-c', 'import optimum.exporters.openvino'], { env: OFFLINE });
const converterImport = (performance.now() - importStarted) / 1000;

// ---------------------------------------------------------------------------------------------------
const phiforge = [];
const olive = [];
let bytes;
for (let run = 0; run < runs; run++) {
  // Alternating who goes first shares the machine's drift (other work on it) between the two.
  const order = run % 2 === 0 ? ['phiforge', 'olive'] : ['olive', 'phiforge'];
  let ours;
  let theirs;
  for (const side of order) {
    log(`run ${run + 1}/${runs}: ${side}`);
    if (side === 'phiforge') phiforge.push((ours = await phiforgeRun()));
    else olive.push((theirs = await oliveRun(run)));
  }
  const compared = await compare(ours.artifact, theirs.output);
  // The first run that differs is the one reported.
  bytes = bytes && !(bytes.weights && bytes.xml) ? bytes : compared;
  if (!compared.weights) log(`run ${run + 1}: the weights differ: ${compared.why}`);
  await rm(ours.out, { recursive: true, force: true });
  await rm(theirs.work, { recursive: true, force: true });
}
const lastOliveLog = olive.at(-1).log;
await rm(scratch, { recursive: true, force: true });

const phiforgeMedian = median(phiforge.map((run) => run.seconds));
const oliveMedian = median(olive.map((run) => run.seconds));
const ratio = phiforgeMedian / oliveMedian;
const referenceRan = phiforge.some((run) => run.referenceRan);
const converterSeconds = phiforge.map((run) => run.stepSeconds.export + (run.stepSeconds.base ?? 0));
// Everything phiforge does besides running its step commands: start-up, planning, venv and input
// checks, digesting and publishing.
const around = phiforge.map((run) => run.seconds - run.commands);

/** Why the goal is or is not met, in figures: what phiforge's converter alone allows against Olive. */
function verdict() {
  const budget = GOAL * oliveMedian;
  const converter = median(converterSeconds);
  const paths = [...new Set(phiforge.map((run) => run.path))].join('/');
  if (ratio <= GOAL) return `met: phiforge ${round(phiforgeMedian)} s <= ${GOAL} x Olive's ${round(oliveMedian)} s = ${round(budget)} s`;
  const parts = [`phiforge took ${round(phiforgeMedian)} s where the goal needs <= ${round(budget)} s (${GOAL} x Olive's ${round(oliveMedian)} s)`];
  const oliveAround = `${round(median(olive.map((run) => run.startup ?? NaN)))} s of start-up before its pass, ${round(median(olive.map((run) => run.afterPass ?? NaN)))} s after it`;
  if (converter > budget) {
    parts.push(`the conversion command alone (${paths} path, the same optimum-intel calls as Olive's pass, the same bytes) took ${round(converter)} s, so with nothing at all around it the ratio would still be ${round(converter / oliveMedian, 3)}`);
    parts.push(`Olive's whole run is only ${round(oliveMedian - converter)} s longer than that command (${oliveAround}), and ${round(converterImport)} s of the command is Python importing optimum.exporters.openvino, which Olive pays too`);
    parts.push(`phiforge's own part is ${round(median(around))} s; 0.8 needs a conversion faster than optimum-cli's, not less around it`);
  } else {
    parts.push(`phiforge adds ${round(median(around))} s around its commands (start-up ${round(median(phiforge.map((run) => run.startup)))} s, after the last step ${round(median(phiforge.map((run) => run.afterLastStep)))} s); without it the ratio would be ${round(converter / oliveMedian, 3)} (Olive: ${oliveAround})`);
  }
  return `not met: ${parts.join('; ')}`;
}

console.log(
  JSON.stringify(
    {
      bench: 'olive',
      recipe: path.relative(root, recipe),
      model_step_key: firstPlan.steps.find((step) => step.kind === 'model-source').key,
      runs,
      olive: { version: oliveVersion, pass: 'OpenVINOOptimumConversion', extra_args: oliveConfig(scratch).passes.convert.extra_args, ov_quant_config: ovQuantConfig, venv, venv_reused: venvReused },
      versions: Object.fromEntries(['openvino', 'nncf', 'optimum-intel', 'optimum', 'transformers', 'torch'].map((name) => [name, versions[name]])),
      phiforge_export_path: [...new Set(phiforge.map((run) => run.path))].join('/'),
      phiforge_cold_s: figure(phiforge.map((run) => run.seconds)),
      olive_cold_s: figure(olive.map((run) => run.seconds)),
      ratio: round(ratio, 3),
      ratio_goal: GOAL,
      // Each run's pair: how much of the spread is the machine's.
      ratio_each_run: phiforge.map((run, index) => round(run.seconds / olive[index].seconds, 3)),
      ...(phiforge.every((run) => run.cpuSeconds !== undefined) && olive.every((run) => run.cpuSeconds !== undefined)
        ? {
            phiforge_cpu_s: figure(phiforge.map((run) => run.cpuSeconds)),
            olive_cpu_s: figure(olive.map((run) => run.cpuSeconds)),
            cpu_ratio: round(median(phiforge.map((run) => run.cpuSeconds)) / median(olive.map((run) => run.cpuSeconds)), 3),
          }
        : {}),
      // The issue's first figure divided by Olive's own pass time; the ratio above is wall against wall.
      ratio_to_olive_pass_time: olive.every((run) => run.passSeconds !== undefined) ? round(phiforgeMedian / median(olive.map((run) => run.passSeconds)), 3) : null,
      // Olive makes no reference answers: when a timed build had to make them, this is the figure to
      // set against Olive's.
      phiforge_cold_without_reference_s: referenceRan ? figure(phiforge.map((run) => run.seconds - (run.stepSeconds.reference ?? 0))) : null,
      reference_step_ran: referenceRan,
      breakdown: {
        phiforge_steps_s: Object.fromEntries([...new Set(phiforge.flatMap((run) => Object.keys(run.stepSeconds)))].map((id) => [id, figure(phiforge.map((run) => run.stepSeconds[id] ?? 0))])),
        phiforge_converter_s: figure(converterSeconds),
        phiforge_converter_import_s: round(converterImport),
        phiforge_around_the_commands_s: figure(around),
        phiforge_step_beyond_its_command_s: Object.fromEntries([...new Set(phiforge.flatMap((run) => Object.keys(run.beyondCommand)))].map((id) => [id, figure(phiforge.map((run) => run.beyondCommand[id] ?? 0))])),
        phiforge_startup_to_first_step_s: figure(phiforge.map((run) => run.startup)),
        phiforge_after_last_step_s: figure(phiforge.map((run) => run.afterLastStep)),
        olive_pass_s: olive.every((run) => run.passSeconds !== undefined) ? figure(olive.map((run) => run.passSeconds)) : null,
        olive_startup_to_pass_s: olive.every((run) => run.startup !== undefined) ? figure(olive.map((run) => run.startup)) : null,
        olive_after_pass_s: olive.every((run) => run.afterPass !== undefined) ? figure(olive.map((run) => run.afterPass)) : null,
      },
      ...(phiforge.some((run) => run.lockWaits) ? { warning: 'a timed phiforge build waited for a lock held by another process: its time includes that wait' } : {}),
      weights_identical: bytes.weights,
      xml_identical: bytes.xml,
      ...(bytes.why ? { differ_because: bytes.why } : {}),
      sha256: bytes.files,
      verdict: verdict(),
      ...(olive.some((run) => run.passSeconds === undefined) ? { olive_log_tail: lastOliveLog.slice(-20) } : {}),
    },
    null,
    2,
  ),
);
