#!/usr/bin/env node
// bench/decode-bound: how close the validator's decode speed comes to what memory allows. Decoding a
// token reads every weight once, so tokens/s cannot exceed (memory read bandwidth) / (weight bytes
// per token). Measures this machine's read bandwidth, counts the artifact's weight bytes per token
// from its IR, validates the artifact again (validate always measures afresh), and prints the share
// of the bound that the measured decode speed (1000 / TPOT) reaches.
//   node bench/decode-bound.mjs [artifact folder]
// Without a folder it builds the full-size INT4 artifact (the phi3-mini-4k-random preset with the
// guide's settings; see bench/real-size.mjs for what that takes). Needs `npm run build`.
import { execa } from 'execa';
import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'phiforge.js');
const phiforge = async (args) => (await execa(process.execPath, [cli, ...args], { cwd: root, stderr: 'inherit' })).stdout;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

let artifact = process.argv[2] && path.resolve(process.argv[2]);
if (!artifact) {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'phiforge-decode-bound-'));
  const recipe = path.join(scratch, 'decode-bound.yaml');
  await writeFile(recipe, 'name: decode-bound-int4\nmodel:\n  synthetic: phi3-mini-4k-random\npipeline: openvino\nquantization: { weight_format: int4, group_size: 128, ratio: 0.6, sym: true }\ntargets: [{ device: CPU }]\n');
  artifact = JSON.parse(await phiforge(['build', recipe, '--no-validate', '--json', '--out', path.join(scratch, 'dist')])).results[0].artifact;
}
const manifest = JSON.parse(await readFile(path.join(artifact, 'manifest.json'), 'utf8'));
if (manifest.backend !== 'openvino') throw new Error(`${artifact}: an OpenVINO artifact is needed (this one is ${manifest.backend})`);

const [runtime] = JSON.parse(await phiforge(['toolchain', 'install', 'openvino-runtime', '--json']));
const python = path.join(runtime.venv, 'bin', 'python');
const measured = JSON.parse((await execa(python, [path.join(root, 'bench', 'decode_bound.py'), path.join(artifact, 'openvino_model.xml')])).stdout);

// Only the CPU target: the bound is this machine's memory, read by the CPU. Random weights answer
// nonsense, and on some CPUs nothing at all (on an AMX Xeon the full-size artifact's answer was
// empty), so a failed answer gate is expected; the timings are what is read, from a fresh result.
const started = Date.now();
const validated = await execa(process.execPath, [cli, 'validate', artifact, '--device', 'cpu'], { cwd: root, stderr: 'inherit', reject: false });
const resultFile = (await readdir(path.join(artifact, 'validation'))).find((name) => /^CPU-[^-]+\.json$/.test(name));
if (!resultFile || (await stat(path.join(artifact, 'validation', resultFile))).mtimeMs < started) {
  throw new Error(`phiforge validate wrote no result (exit ${validated.exitCode}):\n${validated.stdout}`);
}
const result = JSON.parse(await readFile(path.join(artifact, 'validation', resultFile), 'utf8'));
const tpots = result.run.prompts.flatMap((prompt) => prompt.runs.map((run) => run.tpot_ms));
const decodeTokensPerS = 1000 / median(tpots);
const bound = measured.read_bytes_per_s / measured.bytes_per_token;

console.log(
  JSON.stringify(
    {
      bench: 'decode-bound',
      artifact: path.basename(artifact),
      machine: `${os.cpus()[0]?.model ?? 'cpu'}, ${os.cpus().length} cores`,
      memory_read_gb_per_s: +(measured.read_bytes_per_s / 1e9).toFixed(1),
      weight_gb_per_token: +(measured.bytes_per_token / 1e9).toFixed(3),
      embedding_gb_not_read: +(measured.embedding_bytes / 1e9).toFixed(3),
      bound_tokens_per_s: +bound.toFixed(2),
      measured_decode_tokens_per_s: +decodeTokensPerS.toFixed(2),
      tpot_ms: { median: +median(tpots).toFixed(1), each: tpots.map((value) => +value.toFixed(1)) },
      share_of_bound: +(decodeTokensPerS / bound).toFixed(3),
      runtime: result.runtime.packages,
    },
    null,
    2,
  ),
);
