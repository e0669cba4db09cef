#!/usr/bin/env node
// bench/faults: the long fault campaign that the tests sample (test/e2e/faults.test.ts).
//  1. kill -9 at random points: `phiforge build --force` of the demo recipe is killed with SIGKILL
//     at a random moment of its run (a step, the checks after it, publishing); then whatever
//     dist/<name> holds must be whole (every file of its manifest there, with its size and sha256)
//     or absent, and a plain rerun must succeed and publish a whole artifact.
//  2. concurrent publishes: many builds of two cached recipes (INT4 and FP16 of one model) publish
//     into the same dist/<name> at once; all must succeed, the folder must end whole, and no staging
//     folder may be left beside it.
//  3. hostile command sequences: random sequences of 1 to 4 commands (build, cache gc / clean / verify,
//     validate, publish --dry-run, report) with hostile options (--name ../victim, --cache-dir . in a
//     checkout, --out inside the cache, the cache inside --out, repeated options) and hostile
//     artifacts (a README.md, a weight file or validation/ that link out of the folder, a link to /).
//     A sentinel tree of a user's files (a sibling folder, a checkout, the targets of those links) is
//     hashed before and after every sequence: no file of it may change or vanish, and no command may
//     end in an internal error.
// Prints the counts as JSON; every count of failures must be 0. A count of 0 skips that campaign.
//   node bench/faults.mjs [kills=50] [publishes=300] [at-once=16] [sequences=200]
// Needs `npm run build`. Works in a scratch folder with its own cache, whose venvs are linked from
// the repository's cache/ (so no kill lands in a 1.6 GB install; the e2e test covers that one).
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'phiforge.js');
const [kills, publishes, atOnce, sequences] = [Number(process.argv[2] ?? 50), Number(process.argv[3] ?? 300), Number(process.argv[4] ?? 16), Number(process.argv[5] ?? 200)];
const int4 = path.join(root, 'recipes', 'demo', 'phi3-tiny-int4-ov.yaml');
const fp16 = path.join(root, 'recipes', 'demo', 'phi3-tiny-fp16-ov.yaml');

const scratch = await mkdtemp(path.join(os.tmpdir(), 'phiforge-faults-'));
const cache = path.join(scratch, 'cache');
await mkdir(path.join(cache, 'toolchains'), { recursive: true });
for (const venv of await readdir(path.join(root, 'cache', 'toolchains'))) await symlink(path.join(root, 'cache', 'toolchains', venv), path.join(cache, 'toolchains', venv));
const phiforge = (args, options = {}) => execa(process.execPath, [cli, ...args, '--cache-dir', cache, '--no-validate'], { cwd: scratch, reject: false, stdin: 'ignore', ...options });

const sha256 = async (file) => {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk);
  return hash.digest('hex');
};

/** 'absent', 'whole', or what is wrong with a folder that has a manifest (so looks complete). */
async function inspect(dir) {
  const manifestFile = path.join(dir, 'manifest.json');
  if (!existsSync(manifestFile)) return existsSync(dir) ? 'a folder without a manifest' : 'absent';
  const manifest = JSON.parse(await readFile(manifestFile, 'utf8'));
  for (const file of manifest.files) {
    const absolute = path.join(dir, file.path);
    if (!existsSync(absolute)) return `${file.path} is missing`;
    if ((await stat(absolute)).size !== file.size) return `${file.path} has another size`;
    if ((await sha256(absolute)) !== file.sha256) return `${file.path} has another sha256`;
  }
  return 'whole';
}

const leftovers = async (out) => (existsSync(out) ? (await readdir(out)).filter((name) => name.startsWith('.')) : []);

// Warm-up, timed: the kill points are drawn from a forced build's duration.
const warm = await phiforge(['build', int4, '--out', path.join(scratch, 'dist')], { stderr: 'inherit' });
if (warm.exitCode !== 0) throw new Error('the warm-up build failed');
let started = performance.now();
if (kills > 0) await phiforge(['build', int4, '--force', '--out', path.join(scratch, 'dist')]);
const forcedSeconds = (performance.now() - started) / 1000;

const killCampaign = { rounds: kills, forced_build_s: +forcedSeconds.toFixed(1), killed_at_s: [], left: {}, looked_complete_but_damaged: [], failed_reruns: [] };
for (let round = 0; round < kills; round++) {
  const out = path.join(scratch, 'dist');
  const at = Math.random() * forcedSeconds * 1.1;
  const child = phiforge(['build', int4, '--force', '--out', out]);
  const timer = setTimeout(() => child.kill('SIGKILL'), at * 1000);
  const result = await child;
  clearTimeout(timer);
  killCampaign.killed_at_s.push(result.signal === 'SIGKILL' ? +at.toFixed(1) : null);
  const state = await inspect(path.join(out, 'phi3-tiny-int4-ov'));
  const kind = state === 'whole' || state === 'absent' ? state : 'damaged';
  killCampaign.left[kind] = (killCampaign.left[kind] ?? 0) + 1;
  if (state !== 'whole' && state !== 'absent') killCampaign.looked_complete_but_damaged.push({ round, at, state });
  const rerun = await phiforge(['build', int4, '--out', out]);
  const after = await inspect(path.join(out, 'phi3-tiny-int4-ov'));
  if (rerun.exitCode !== 0 || after !== 'whole') killCampaign.failed_reruns.push({ round, at, exitCode: rerun.exitCode, after, stderr: rerun.stderr.slice(-800) });
  process.stderr.write(`kill ${round + 1}/${kills} at ${at.toFixed(1)} s: left ${state}; rerun ${rerun.exitCode === 0 ? 'ok' : `exit ${rerun.exitCode}`}\n`);
}
killCampaign.kills_that_landed = killCampaign.killed_at_s.filter((value) => value !== null).length;

// Concurrent publishes: both recipes are cached now (FP16 after one build), so each run is planning,
// checks and the publish itself.
const contested = path.join(scratch, 'contested');
if (publishes > 0) await phiforge(['build', fp16, '--out', path.join(scratch, 'dist')]);
const failedPublishes = [];
started = performance.now();
let next = 0;
async function worker() {
  while (next < publishes) {
    const index = next++;
    const result = await phiforge(['build', index % 2 ? fp16 : int4, '--name', 'contested', '--out', contested]);
    if (result.exitCode !== 0) failedPublishes.push({ index, exitCode: result.exitCode, stderr: result.stderr.slice(-600) });
  }
}
if (publishes > 0) await Promise.all(Array.from({ length: atOnce }, worker));
const publishCampaign = {
  publishes,
  at_once: atOnce,
  seconds: +((performance.now() - started) / 1000).toFixed(1),
  failed: failedPublishes.length,
  final_state: publishes > 0 ? await inspect(path.join(contested, 'contested')) : 'skipped',
  leftovers: await leftovers(contested),
  failures: failedPublishes.slice(0, 5),
};

const hostileCampaign = await hostileSequences(sequences);

await rm(scratch, { recursive: true, force: true });
console.log(
  JSON.stringify(
    {
      bench: 'faults',
      kill_campaign: { ...killCampaign, looked_complete_but_damaged: killCampaign.looked_complete_but_damaged.length, failed_reruns: killCampaign.failed_reruns.length, details: [...killCampaign.looked_complete_but_damaged, ...killCampaign.failed_reruns].slice(0, 5) },
      publish_campaign: publishCampaign,
      hostile_campaign: hostileCampaign,
      machine: `${os.cpus()[0]?.model} x${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
      goal: 'looked_complete_but_damaged 0, failed_reruns 0, publish failed 0, final_state whole, leftovers [], sentinel_files_changed 0, internal_errors 0',
    },
    null,
    2,
  ),
);

/** Every regular file under `dir` (links not followed) with its sha256. */
async function treeDigests(dir) {
  const found = new Map();
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) found.set(path.join(entry.parentPath, entry.name), await sha256(path.join(entry.parentPath, entry.name)));
  }
  return found;
}

/**
 * Campaign 3. The sentinel tree is a user's: home/victim (a sibling of the output folder),
 * home/checkout (a source checkout someone runs phiforge in) and home/secret.txt (what hostile links
 * in artifacts point at). phiforge's own folders are scratch/cache and scratch/dist.
 */
async function hostileSequences(count) {
  if (count <= 0) return { sequences: 0 };
  const home = path.join(scratch, 'home');
  const files = {
    'victim/thesis.tex': 'four years of work\n',
    'victim/data/results.csv': 'a,b\n1,2\n',
    'checkout/package.json': '{"name":"mine"}\n',
    'checkout/toolchains/openvino/requirements.in': 'optimum-intel\n',
    'checkout/logs/keep.txt': 'mine\n',
    'checkout/steps/notes.md': 'mine\n',
    'secret.txt': 'do not publish me\n',
  };
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(home, file)), { recursive: true });
    await writeFile(path.join(home, file), content);
  }
  // Hostile artifacts: copies of the demo artifact whose links lead out of the folder.
  const built = path.join(scratch, 'dist', 'phi3-tiny-int4-ov');
  const evil = path.join(scratch, 'evil');
  const hostileArtifacts = {
    'readme-link': async (dir) => symlink(path.join(home, 'secret.txt'), path.join(dir, 'README.md')),
    'weights-link': async (dir) => {
      await rm(path.join(dir, 'openvino_tokenizer.xml'));
      await symlink(path.join(home, 'secret.txt'), path.join(dir, 'openvino_tokenizer.xml'));
    },
    'validation-link': async (dir) => {
      await rm(path.join(dir, 'validation'), { recursive: true, force: true });
      await symlink(path.join(home, 'victim', 'data'), path.join(dir, 'validation'));
    },
    'root-link': async (dir) => symlink('/', path.join(dir, 'everything')),
    'loop-link': async (dir) => symlink(path.join(dir, 'loop'), path.join(dir, 'loop')),
  };
  for (const [name, make] of Object.entries(hostileArtifacts)) {
    await cp(built, path.join(evil, name), { recursive: true, verbatimSymlinks: true });
    await make(path.join(evil, name));
  }
  const sentinel = await treeDigests(home);

  const pick = (list) => list[Math.floor(Math.random() * list.length)];
  const names = ['../victim', '', 'a'.repeat(300), '.', '..', 'victim', 'checkout', 'ok-name', '../home/checkout', 'x/../../home'];
  const outs = [path.join(home, 'victim'), home, path.join(home, 'checkout'), path.join(cache, 'steps'), path.join(scratch, 'dist'), cache, path.join(scratch, 'dist', 'phi3-tiny-int4-ov', 'cache'), '.'];
  const caches = ['.', '', path.join(home, 'checkout'), path.join(home, 'victim'), home, path.join(scratch, 'dist'), path.join(scratch, 'dist', 'phi3-tiny-int4-ov', 'cache'), path.join(cache, 'steps'), cache, cache];
  const artifacts = [...Object.keys(hostileArtifacts).map((name) => path.join(evil, name)), built, path.join(home, 'victim'), home];
  const cwds = [scratch, home, path.join(home, 'checkout'), path.join(home, 'victim')];
  // The real cache's venvs are links, and a new cache would install venvs of its own (minutes): a
  // command that would install goes to the real cache, or to one that is refused, or to the cache
  // nested in the artifact with --out around it (refused as overlapping).
  const nested = path.join(scratch, 'dist', 'phi3-tiny-int4-ov', 'cache');
  const installing = (cacheDir) => (cacheDir === nested ? ['--out', path.join(scratch, 'dist'), '--cache-dir', cacheDir] : ['--out', pick(outs), '--cache-dir', cacheDir]);
  const command = () => {
    const cacheDir = pick(caches);
    const kinds = [
      () => ['build', int4, '--no-validate', '--name', pick(names), ...installing(cacheDir)],
      () => ['build', int4, '--no-validate', ...installing(cacheDir), ...(Math.random() < 0.3 ? ['--cache-dir', pick(caches)] : [])],
      () => ['cache', 'gc', ...(Math.random() < 0.5 ? ['--older-than', '0'] : []), '--cache-dir', pick(caches.filter((dir) => dir !== cache))],
      () => ['cache', cacheDir === cache ? 'verify' : 'clean', ...(cacheDir !== cache && Math.random() < 0.5 ? ['--all'] : []), '--cache-dir', cacheDir],
      () => ['validate', pick(artifacts), '--cache-dir', pick(caches.filter((dir) => dir !== nested))],
      () => ['publish', pick(artifacts), '--dry-run', '--repo', 'someone/model', '--allow-unvalidated'],
      () => ['report', pick(artifacts), '--html', path.join(scratch, 'report.html')],
    ];
    return pick(kinds)();
  };

  const campaign = { sequences: count, commands: 0, exit_codes: {}, sentinel_files_changed: 0, internal_errors: 0, seconds: 0, details: [] };
  const started = performance.now();
  for (let round = 0; round < count; round++) {
    const steps = Array.from({ length: 1 + Math.floor(Math.random() * 4) }, () => ({ cwd: pick(cwds), args: command() }));
    for (const step of steps) {
      const result = await execa(process.execPath, [cli, ...step.args], { cwd: step.cwd, reject: false, stdin: 'ignore', env: { HF_TOKEN: 'hf_not_a_token' } });
      campaign.commands++;
      campaign.exit_codes[result.exitCode] = (campaign.exit_codes[result.exitCode] ?? 0) + 1;
      if (/internal error/.test(result.stderr)) {
        campaign.internal_errors++;
        if (campaign.details.length < 10) campaign.details.push({ round, step, stderr: result.stderr.slice(-600) });
      }
    }
    const after = await treeDigests(home);
    const changed = [...sentinel].filter(([file, digest]) => after.get(file) !== digest).map(([file]) => path.relative(home, file));
    if (changed.length > 0) {
      campaign.sentinel_files_changed += changed.length;
      if (campaign.details.length < 10) campaign.details.push({ round, steps, changed });
      // Put the user's files back, so one failure is not counted again in every later round.
      for (const [file, content] of Object.entries(files)) {
        await rm(path.join(home, file), { recursive: true, force: true });
        await mkdir(path.dirname(path.join(home, file)), { recursive: true });
        await writeFile(path.join(home, file), content);
      }
    }
    process.stderr.write(`hostile ${round + 1}/${count}: ${steps.map((step) => step.args.slice(0, 2).join(' ')).join(' ; ')}${changed.length ? ` CHANGED ${changed.join(', ')}` : ''}\n`);
  }
  campaign.seconds = +((performance.now() - started) / 1000).toFixed(1);
  return campaign;
}
