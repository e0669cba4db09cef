import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { readSafetensorsHeader } from '../../src/recipe/safetensors.js';
import { REPO_ROOT, runCli, SHARED_CACHE, toolchainPython, workspace } from '../support/cli.js';

// The reference answers keep a bf16 checkpoint in bf16 and compute in float32 one module at a time,
// so that a 3.8B model's reference needs about the checkpoint's memory instead of the checkpoint plus
// a float32 copy. Every artifact is judged against these bytes: they must be exactly what the model
// converted to float32 at load writes (reference_answers.py's "float32_copy", kept for this comparison).

const TIMEOUT = 900_000;
// Phi-4-mini's tiny layout: bf16 weights, LongRoPE (the long-context prompt and its logits), partial
// rotary, grouped KV heads and an output projection tied to the embedding; two prompts and the
// perplexity text cover every number reference.json holds.
const RECIPE = `name: reference-memory
model: { synthetic: phi4-mini-tiny }
pipeline: openvino
quantization: { weight_format: fp16 }
targets: [{ device: CPU }]
validate:
  max_new_tokens: 24
  perplexity: true
  prompts:
    - id: intro
      messages: [{ role: user, content: Can you introduce yourself? }]
    - id: capital
      messages: [{ role: user, content: What is the capital of France? }]
`;

describe('reference answers in bounded memory', () => {
  it("are byte for byte the float32 model's on a bf16 checkpoint, computed with the weights kept in bf16", async () => {
    const cwd = await workspace({ 'recipe.yaml': RECIPE });
    const args = (...rest: string[]) => [...rest, '--cache-dir', SHARED_CACHE, '--out', 'dist'];
    const built = await runCli(args('build', 'recipe.yaml', '--no-validate'), { cwd });
    expect(built.exitCode, built.stderr).toBe(0);
    const plan = JSON.parse((await runCli(args('plan', 'recipe.yaml', '--json'), { cwd })).stdout) as { steps: Array<{ kind: string; output: string }> };
    const modelDir = plan.steps.find((step) => step.kind === 'model-source')!.output;
    const referenceDir = plan.steps.find((step) => step.kind === 'reference-answers')!.output;

    // Only a narrower checkpoint makes the two paths differ in what they hold.
    const header = await readSafetensorsHeader(path.join(modelDir, 'model.safetensors'));
    expect(new Set(header.tensors.map((tensor) => tensor.dtype))).toEqual(new Set(['BF16']));
    const stepDir = path.dirname(referenceDir);
    expect(await readFile(path.join(stepDir, 'step.log'), 'utf8')).toContain('reference weights: bfloat16 in memory (as in the checkpoint), computed in float32 one module at a time');
    const bounded = await readFile(path.join(referenceDir, 'reference.json'));
    const reference = JSON.parse(bounded.toString('utf8'));
    expect(reference.answers.map((answer: { token_ids: number[] }) => answer.token_ids.length)).toEqual([24, 24]);
    expect(reference.long_context.logits.length).toBeGreaterThan(1000);
    expect(reference.perplexity.value).toBeGreaterThan(1);

    // The same request, the whole model converted to float32 at load, as the reference was made before.
    const request = JSON.parse(await readFile(path.join(stepDir, 'request.json'), 'utf8'));
    await writeFile(path.join(cwd, 'request.json'), JSON.stringify({ ...request, float32_copy: true }));
    const python = await toolchainPython('reference');
    const script = path.join(REPO_ROOT, 'toolchains', 'reference', 'scripts', 'reference_answers.py');
    const float32 = await execa(python, [script, '--request', 'request.json', '--result', 'float32.json'], {
      cwd,
      reject: false,
      env: { HF_HUB_OFFLINE: '1', PYTHONHASHSEED: '0', PYTHONPATH: path.join(REPO_ROOT, 'toolchains', 'common', 'scripts') },
    });
    expect(float32.exitCode, float32.stderr).toBe(0);
    expect(float32.stderr).toContain('reference weights: float32 in memory');
    const copied = await readFile(path.join(cwd, 'float32.json'));
    expect(copied.equals(bounded), 'reference.json differs between the bounded and the float32-copy paths').toBe(true);
  }, TIMEOUT);
});
