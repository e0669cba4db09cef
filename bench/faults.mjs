#!/usr/bin/env node
// bench/faults: the long fault campaign that the tests sample (test/e2e/faults.test.ts).
//  1. kill -9 at random points: `phiforge build --force` of the demo recipe is killed with SIGKILL
//     at a random moment of its run (a step, the checks after it, publishing); then whatever
//     dist/<name> holds must be whole (every file of its manifest there, with its size and sha256)
//     or absent, and a plain rerun must succeed and publish a whole artifact.
//  2. concurrent publishes: many builds of two cached recipes (INT4 and FP16 of one model) publish
//     into the same dist/<name> at once; all must succeed, the folder must end whole, and no staging
//     folder may be left beside it.
// Prints the counts as JSON; every count of failures must be 0.
//   node bench/faults.mjs [kills=50] [publishes=300] [at-once=16]
// Needs `npm run build`. Works in a scratch folder with its own cache, whose venvs are linked from
// the repository's cache/ (so no kill lands in a 1.6 GB install; the e2e test covers that one).
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'phiforge.js');
const [kills, publishes, atOnce] = [Number(process.argv[2] ?? 50), Number(process.argv[3] ?? 300), Number(process.argv[4] ?? 16)];
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
await phiforge(['build', int4, '--force', '--out', path.join(scratch, 'dist')]);
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
await phiforge(['build', fp16, '--out', path.join(scratch, 'dist')]);
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
await Promise.all(Array.from({ length: atOnce }, worker));
const publishCampaign = {
  publishes,
  at_once: atOnce,
  seconds: +((performance.now() - started) / 1000).toFixed(1),
  failed: failedPublishes.length,
  final_state: await inspect(path.join(contested, 'contested')),
  leftovers: await leftovers(contested),
  failures: failedPublishes.slice(0, 5),
};

await rm(scratch, { recursive: true, force: true });
console.log(
  JSON.stringify(
    {
      bench: 'faults',
      kill_campaign: { ...killCampaign, looked_complete_but_damaged: killCampaign.looked_complete_but_damaged.length, failed_reruns: killCampaign.failed_reruns.length, details: [...killCampaign.looked_complete_but_damaged, ...killCampaign.failed_reruns].slice(0, 5) },
      publish_campaign: publishCampaign,
      goal: 'looked_complete_but_damaged 0, failed_reruns 0, publish failed 0, final_state whole, leftovers []',
    },
    null,
    2,
  ),
);
