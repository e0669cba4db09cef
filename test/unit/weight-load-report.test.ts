import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { executePlan } from '../../src/engine/build.js';
import { OutputCheckError } from '../../src/errors.js';
import { describeWeightLoadProblems, weightLoadProblems } from '../../src/exec/load-report.js';
import { nodeStep, planOf, setup } from '../support/fake-steps.js';

// The backstop behind the model checks: a converter that loads a checkpoint whose tensors do not fit
// its model class exits 0 with random weights in their place, and only its log says so. The engine
// reads every command step's log for transformers' report and fails the step, naming the weights.

/**
 * What transformers 5.5.4 (the version every phiforge toolchain locks) printed on stderr, loading the
 * tiny synthetic Phi-3's weights under a config.json that says model_type llama: captured from
 * AutoModelForCausalLM.from_pretrained in the reference toolchain, the folder's path shortened.
 */
const TRANSFORMERS_5_LOG =
  '\rLoading weights:   0%|          | 0/11 [00:00<?, ?it/s]\rLoading weights: 100%|██████████| 11/11 [00:00<00:00, 22245.59it/s]\n\u001b[1mLlamaForCausalLM LOAD REPORT\u001b[0m from: /work/cache/steps/tmp/4ca8/model\nKey                                           | Status     | \n----------------------------------------------+------------+-\nmodel.layers.{0, 1}.mlp.gate_up_proj.weight   | UNEXPECTED | \nmodel.layers.{0, 1}.self_attn.qkv_proj.weight | UNEXPECTED | \nmodel.layers.{0, 1}.self_attn.k_proj.weight   | MISSING    | \nmodel.layers.{0, 1}.self_attn.q_proj.weight   | MISSING    | \nmodel.layers.{0, 1}.self_attn.v_proj.weight   | MISSING    | \nmodel.layers.{0, 1}.mlp.gate_proj.weight      | MISSING    | \nmodel.layers.{0, 1}.mlp.up_proj.weight        | MISSING    | \n\nNotes:\n- UNEXPECTED:\tcan be ignored when loading from different task/architecture; not ok if you expect identical arch.\n- MISSING:\tthose params were newly initialized because missing from the checkpoint. Consider training on your downstream task.\n';

/** transformers 4.x's sentences (modeling_utils.py's warnings, as they format), for toolchains that lock a 4.x. */
const TRANSFORMERS_4_LOG = [
  "Some weights of the model checkpoint at ./model were not used when initializing Phi3ForCausalLM: ['model.layers.0.self_attn.q_proj.weight', 'model.layers.0.self_attn.k_proj.weight']",
  '- This IS expected if you are initializing Phi3ForCausalLM from the checkpoint of a model trained on another task or with another architecture (e.g. initializing a BertForSequenceClassification model from a BertForPreTraining model).',
  "Some weights of Phi3ForCausalLM were not initialized from the model checkpoint at ./model and are newly initialized: ['model.layers.0.self_attn.qkv_proj.weight']",
  'You should probably TRAIN this model on a down-stream task to be able to use it for predictions and inference.',
  'Some weights of Phi3ForCausalLM were not initialized from the model checkpoint at ./model and are newly initialized because the shapes did not match:',
  '- lm_head.weight: found shape torch.Size([32000, 3072]) in the checkpoint and torch.Size([32064, 3072]) in the model instantiated',
  'You should probably TRAIN this model on a down-stream task to be able to use it for predictions and inference.',
].join('\n');

/** A clean export's log: progress bars and NNCF's tables, no load report. */
const CLEAN_LOG = [
  '\rLoading weights: 100%|██████████| 15/15 [00:00<00:00, 1234.00it/s]',
  '┍━━━━━━━━━━━━━━━━━━━━━━━━━━━┯━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┑',
  '│ int4_sym, group size 128  │ 27% (2 / 11)                │',
  'Applying Weight Compression ━━━━━━━━━━━━━━━━━━━━━━━━━━━ 100% • 0:00:00 • 0:00:00',
].join('\n');

describe("transformers' load report in a converter's log", () => {
  it('names every weight transformers 5 could not find or ignored', () => {
    expect(weightLoadProblems(TRANSFORMERS_5_LOG)).toEqual([
      { model: 'LlamaForCausalLM', kind: 'unexpected', weights: ['model.layers.{0, 1}.mlp.gate_up_proj.weight', 'model.layers.{0, 1}.self_attn.qkv_proj.weight'] },
      {
        model: 'LlamaForCausalLM',
        kind: 'missing',
        weights: ['model.layers.{0, 1}.self_attn.k_proj.weight', 'model.layers.{0, 1}.self_attn.q_proj.weight', 'model.layers.{0, 1}.self_attn.v_proj.weight', 'model.layers.{0, 1}.mlp.gate_proj.weight', 'model.layers.{0, 1}.mlp.up_proj.weight'],
      },
    ]);
  });

  it("reads transformers 4's sentences too", () => {
    expect(weightLoadProblems(TRANSFORMERS_4_LOG)).toEqual([
      { model: 'Phi3ForCausalLM', kind: 'unexpected', weights: ['model.layers.0.self_attn.q_proj.weight', 'model.layers.0.self_attn.k_proj.weight'] },
      { model: 'Phi3ForCausalLM', kind: 'missing', weights: ['model.layers.0.self_attn.qkv_proj.weight'] },
      { model: 'Phi3ForCausalLM', kind: 'mismatched', weights: ['lm_head.weight'] },
    ]);
  });

  it('finds nothing in a clean log', () => {
    expect(weightLoadProblems(CLEAN_LOG)).toEqual([]);
  });

  it('says what happened to the weights, in one line per kind', () => {
    expect(describeWeightLoadProblems(weightLoadProblems(TRANSFORMERS_5_LOG))).toEqual([
      'transformers, building LlamaForCausalLM, found these weights in the checkpoint and ignored them (the model it built has no place for them): model.layers.{0, 1}.mlp.gate_up_proj.weight, model.layers.{0, 1}.self_attn.qkv_proj.weight',
      'transformers, building LlamaForCausalLM, could not find these weights in the checkpoint and filled them with random values: model.layers.{0, 1}.self_attn.k_proj.weight, model.layers.{0, 1}.self_attn.q_proj.weight, model.layers.{0, 1}.self_attn.v_proj.weight, model.layers.{0, 1}.mlp.gate_proj.weight, model.layers.{0, 1}.mlp.up_proj.weight',
    ]);
  });
});

describe('the engine', () => {
  /** A converter stand-in: writes its output, prints `stderr` and exits 0, as optimum-cli does after a bad load. */
  async function build(stderr: string) {
    const { context, recipe } = await setup();
    const step = nodeStep(context, 'export', `require('fs').writeFileSync(process.argv[1] + '/openvino_model.xml', '<net/>'); process.stderr.write(${JSON.stringify(stderr)})`);
    const outcome = await executePlan(context, planOf(recipe, [step])).catch((caught: unknown) => caught);
    return { context, step, outcome };
  }

  it('fails a step that exited 0 after transformers filled weights with random values, names them, and keeps nothing', async () => {
    const { context, step, outcome } = await build(TRANSFORMERS_5_LOG);
    expect(outcome).toBeInstanceOf(OutputCheckError);
    const error = outcome as OutputCheckError;
    expect(error.exitCode).toBe(1);
    expect(error.message).toContain('step export produced output');
    expect(error.message).toContain('could not find these weights in the checkpoint and filled them with random values: model.layers.{0, 1}.self_attn.k_proj.weight');
    expect(error.hint).toContain(path.join(context.cacheRoot, 'logs', 'fake', 'export.log'));
    expect(await readFile(path.join(context.cacheRoot, 'logs', 'fake', 'export.log'), 'utf8')).toContain('LOAD REPORT');
    expect(existsSync(path.join(context.cacheRoot, 'steps', step.key, 'COMMITTED'))).toBe(false);
    expect(existsSync(context.outRoot)).toBe(false);
  });

  it('publishes what a clean converter made', async () => {
    const { outcome } = await build(CLEAN_LOG);
    expect(outcome).not.toBeInstanceOf(Error);
  });
});
