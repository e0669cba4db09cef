import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { PRESETS, type PresetName } from '../../src/recipe/model-files.js';
import { deviceResults, runCli, SHARED_CACHE, toolchainPython, workspace } from '../support/cli.js';
import { alteredCopy } from '../support/artifact-copy.js';

// The Phi family's layouts (Phi-3.5-mini's LongRoPE, Phi-4-mini's partial rotary, grouped KV heads,
// tied embeddings and large byte-level vocabulary, Phi-3-medium's 4:1 grouped KV heads) through every
// backend that runs here, and the checks for the traps each one sets: a long context past the
// original one, nan logits. One build makes the whole matrix (one PyTorch conversion per layout: the
// OpenVINO recipes say export: shared, so phiforge's own derivation meets each layout); the later
// tests reuse its cached steps.

const TIMEOUT = 1_800_000;
const LAYOUTS: PresetName[] = ['phi35-mini-tiny', 'phi4-mini-tiny', 'phi3-medium-tiny'];
const LONG_ROPE: PresetName[] = ['phi35-mini-tiny', 'phi4-mini-tiny'];
const VALIDATE = `validate:
  max_new_tokens: 8
  repetitions: 1
  warmup: 0
  prompts:
    - id: intro
      messages: [{ role: user, content: Can you introduce yourself? }]
`;

const variants = (preset: PresetName): Record<string, string> => ({
  [`${preset}-int4-ov`]: `model: { synthetic: ${preset} }
pipeline: openvino
export: shared
quantization: { weight_format: int4, group_size: 128, ratio: 0.6, sym: true }
targets: [{ device: CPU }]
`,
  [`${preset}-fp16-ov`]: `model: { synthetic: ${preset} }
pipeline: openvino
export: shared
quantization: { weight_format: fp16 }
targets: [{ device: CPU }]
`,
  [`${preset}-int4-npu`]: `model: { synthetic: ${preset} }
pipeline: openvino-npu
export: shared
quantization: { weight_format: int4, group_size: 128, ratio: 1.0, sym: true }
targets: [{ device: NPU }]
npu: { max_prompt_len: 256, min_response_len: 64 }
`,
  [`${preset}-int4-ort-cpu`]: `model: { synthetic: ${preset} }
pipeline: ort-genai
quantization: { weight_format: int4, sym: true }
ort: { execution_provider: cpu, block_size: 128 }
targets: [{ device: cpu }]
`,
});

function recipeFiles(presets: PresetName[]): Record<string, string> {
  return Object.fromEntries(presets.flatMap((preset) => Object.entries(variants(preset)).map(([name, body]) => [`recipes/${name}.yaml`, `name: ${name}\n${body}${VALIDATE}`])));
}

const args = (...rest: string[]) => [...rest, '--cache-dir', SHARED_CACHE, '--out', 'dist'];

/** Where a Const layer's data lies in openvino_model.bin, found by a pattern on its name. */
function constants(xml: string, name: RegExp): Array<{ name: string; type: string; offset: number; size: number }> {
  const found = [];
  for (const match of xml.matchAll(/<layer id="\d+" name="([^"]+)" type="Const"[^>]*>\s*<data element_type="(\w+)" shape="[^"]*" offset="(\d+)" size="(\d+)"/g)) {
    if (name.test(match[1])) found.push({ name: match[1], type: match[2], offset: Number(match[3]), size: Number(match[4]) });
  }
  return found;
}

describe('the Phi family', () => {
  it('builds every layout through OpenVINO INT4 and FP16, the emulated NPU and ONNX Runtime on CPU, and validates each', async () => {
    const cwd = await workspace(recipeFiles(LAYOUTS));
    const names = Object.keys(recipeFiles(LAYOUTS)).map((file) => path.basename(file, '.yaml'));
    const result = await runCli(args('build', ...names.map((name) => `recipes/${name}.yaml`), '--emulate-npu', '--jobs', '2', '--json'), { cwd });
    expect(result.exitCode, result.stderr).toBe(0);

    for (const preset of LAYOUTS) {
      for (const name of Object.keys(variants(preset))) {
        const artifact = path.join(cwd, 'dist', name);
        const manifest = JSON.parse(await readFile(path.join(artifact, 'manifest.json'), 'utf8'));
        // The layout the recipe was checked against at plan time is what the generator made.
        expect(manifest.model.config, name).toMatchObject(PRESETS[preset].shape);
        const [device] = await deviceResults(artifact);
        expect(device.report.status, name).toBe('passed');
        const checks = Object.fromEntries((device.report.checks as Array<{ name: string; passed: boolean }>).map((check) => [check.name, check.passed]));
        // The NPU's compiled model gives no logits; every other target's are counted.
        expect(checks, name).toMatchObject(name.endsWith('-npu') ? { runaway_repetition: true } : { finite_logits: true, runaway_repetition: true });
        if (!LONG_ROPE.includes(preset)) {
          expect(device.report.long_context, name).toBeUndefined();
        } else if (name.endsWith('-npu')) {
          expect(device.report.long_context.skipped, name).toContain('at most 256 tokens');
        } else {
          // Past the original 4096 positions, where the long factors take over, the artifact still computes what the source model does.
          expect(device.report.long_context.prompt_tokens, name).toBeGreaterThan(4096);
          expect(device.report.long_context.logit_correlation, name).toBeGreaterThan(device.report.long_context.inside_correlation - 0.25);
          expect(checks.long_context, name).toBe(true);
        }
      }
    }

    // Phi-4-mini's one matrix serves both ends in the ONNX model (the builder shares tied embeddings by
    // default): the embedding gathers from the output projection's 4-bit weights, and holds none of its own.
    const python = await toolchainPython('ort-genai');
    const { stdout } = await execa(python, [
      '-c',
      `import json, onnx, sys
graph = onnx.load(sys.argv[1], load_external_data=False).graph
gather = [n for n in graph.node if n.op_type == "GatherBlockQuantized"]
head = [n for n in graph.node if n.op_type == "MatMulNBits" and n.name.startswith("/lm_head/")]
print(json.dumps({"gathers": len(gather), "shares_scales": bool(gather and head and gather[0].input[2] == head[0].input[2]), "embedding_initializers": sum("embed_tokens" in i.name for i in graph.initializer)}))`,
      path.join(cwd, 'dist', 'phi4-mini-tiny-int4-ort-cpu', 'model.onnx'),
    ]);
    expect(JSON.parse(stdout)).toEqual({ gathers: 1, shares_scales: true, embedding_initializers: 0 });
  }, TIMEOUT);

  it('fails the long-context check of an artifact whose long RoPE factors are wrong, and names the trap', async () => {
    const cwd = await workspace(recipeFiles(['phi35-mini-tiny']));
    const built = await runCli(args('build', 'recipes/phi35-mini-tiny-fp16-ov.yaml', '--no-validate'), { cwd });
    expect(built.exitCode, built.stderr).toBe(0);
    // LongRoPE picks its long factors past the original context; this IR uses the short ones everywhere, as optimum-intel did before #1744.
    const artifact = path.join(cwd, 'dist', 'phi35-mini-tiny-fp16-ov');
    const xml = await readFile(path.join(artifact, 'openvino_model.xml'), 'utf8');
    const factors = constants(xml, /rotary_emb\/aten::to\/Convert(_1)?_compressed$/);
    expect(factors.map((factor) => factor.type)).toEqual(['f16', 'f16']);
    const broken = path.join(cwd, 'broken');
    await alteredCopy(artifact, broken, 'openvino_model.bin', (bin) => {
      const values = factors.map((factor) => bin.subarray(factor.offset, factor.offset + factor.size));
      const largest = (data: Buffer) => Math.max(...Array.from({ length: data.length / 2 }, (_, index) => data.readUInt16LE(index * 2)));
      const [long, short] = largest(values[0]) > largest(values[1]) ? values : [values[1], values[0]];
      const copy = Buffer.from(bin);
      short.copy(copy, long.byteOffset - bin.byteOffset);
      return copy;
    });

    const result = await runCli(['validate', broken, '--cache-dir', SHARED_CACHE], { cwd });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/CPU: long_context: at \d{4} prompt tokens \(the original context is 4096\): next-token logits correlate -?[\d.]+ with the source model's, against 1 inside the original context \(at most 0\.25 lower\)/);
    expect(result.stderr).toContain('its long RoPE factors are wrong');
    // Short prompts stay within the original context, where nothing changed (the first test passes the unbroken artifact).
    const [cpu] = await deviceResults(broken);
    expect(cpu.report.checks.filter((check: { passed: boolean }) => !check.passed).map((check: { name: string }) => check.name)).toEqual(['long_context']);
  }, TIMEOUT);

  it('fails the degenerate-output check of an INT4 artifact whose numbers overflow to nan, with the hint', async () => {
    const cwd = await workspace(recipeFiles(['phi3-medium-tiny']));
    const built = await runCli(args('build', 'recipes/phi3-medium-tiny-int4-ov.yaml', '--no-validate'), { cwd });
    expect(built.exitCode, built.stderr).toBe(0);
    const artifact = path.join(cwd, 'dist', 'phi3-medium-tiny-int4-ov');
    const xml = await readFile(path.join(artifact, 'openvino_model.xml'), 'utf8');
    // The first layer's attention scales overflow to infinity, as nncf #2760 reports of Phi-3-medium INT4.
    const [scales] = constants(xml, /layers\.0\.self_attn\.qkv_proj\._openvino_orig_weight\/scale$/);
    expect(scales.type).toBe('f16');
    const broken = path.join(cwd, 'broken');
    await alteredCopy(artifact, broken, 'openvino_model.bin', (bin) => {
      const copy = Buffer.from(bin);
      for (let at = scales.offset; at < scales.offset + scales.size; at += 2) copy.writeUInt16LE(0x7c00, at);
      return copy;
    });
    const result = await runCli(['validate', broken, '--cache-dir', SHARED_CACHE], { cwd });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/CPU: finite_logits: \d+ of the \d+ next-token logits after prompt intro are nan or inf/);
    expect(result.stderr).toContain('rebuild with a higher backup precision (quantization.backup_precision: int8_asym, or none to keep them in 16 bits) or a lower quantization.ratio');
  }, TIMEOUT);
});
