import type { BadInput } from '../bad-inputs.js';
import { TINY_INT4 } from '../recipes.js';
import { rawSafetensors, tinyPhi3Folder } from '../safetensors.js';

// Bad inputs of one area; test/support/bad-inputs.ts joins every area into BAD_INPUTS. Recipes here build on
// TINY_INT4 from ../recipes.js (import values from there, not from ../bad-inputs.js, which imports this file).
//
// The model must be what the recipe says it is: a Phi-3 layout in config.json, and safetensors files
// that are whole and hold that layout's tensors, checked from headers before any venv or converter.
// (A FIFO or a symlink loop in the folder cannot be written as a file here: test/unit/model-layout.test.ts
// runs those.)

const LOCAL = `name: tiny\n${TINY_INT4.replace('synthetic: phi3-mini-tiny', 'path: ./model')}`;
const SYNTHETIC = `name: tiny\n${TINY_INT4}`;

/** A recipe building from ./model, a tiny Phi-3 folder with the changes given. */
const localModel = (options: Parameters<typeof tinyPhi3Folder>[1] = {}): Pick<BadInput, 'files' | 'args'> => ({
  files: { 'recipe.yaml': LOCAL, ...tinyPhi3Folder('model', options) },
  args: ['build', 'recipe.yaml'],
});

/** ./model with a model.safetensors whose header is exactly `header`, followed by `dataBytes` bytes. */
const lyingSafetensors = (header: unknown, dataBytes: number): Pick<BadInput, 'files' | 'args'> => {
  const { files, args } = localModel();
  return { files: { ...files, 'model/model.safetensors': rawSafetensors(header, dataBytes) }, args };
};

const f32 = (shape: number[], offsets: [number, number]) => ({ dtype: 'F32', shape, data_offsets: offsets });

const validateWith = (lines: string) => `${SYNTHETIC}validate:\n  reference:\n${lines}`;

export const BAD_INPUTS_MODEL_FILES: BadInput[] = [
  {
    what: "model.path whose config.json says another architecture (model_type llama)",
    ...localModel({ config: { model_type: 'llama', architectures: ['LlamaForCausalLM'] } }),
    exit: 2,
    says: ['recipe.yaml:3:9 model.path:', 'model/config.json: model_type is "llama"; phiforge builds the Phi-3 layout', 'filling what they cannot find with random values'],
  },
  {
    what: 'model.path whose config.json names another architecture beside model_type phi3',
    ...localModel({ config: { architectures: ['LlamaForCausalLM'] } }),
    exit: 2,
    says: ['model.path:', 'architectures is ["LlamaForCausalLM"] with model_type "phi3"'],
  },
  {
    what: 'model.path whose weights are laid out for Llama (separate q/k/v projections)',
    ...localModel({
      tensors: (all) =>
        all.flatMap((tensor) =>
          tensor.name.endsWith('qkv_proj.weight') ? ['q', 'k', 'v'].map((part) => ({ name: tensor.name.replace('qkv_proj', `${part}_proj`), shape: [part === 'q' ? 128 : 64, 128] })) : [tensor],
        ),
    }),
    exit: 2,
    says: ['model/model.safetensors lacks 1 tensor', 'model.layers.0.self_attn.qkv_proj.weight', 'no Phi-3 model has: model.layers.0.self_attn.q_proj.weight', "Llama's layout"],
  },
  {
    what: 'model.path whose checkpoint lacks a tensor',
    ...localModel({ tensors: (all) => all.filter((tensor) => !tensor.name.endsWith('o_proj.weight')) }),
    exit: 2,
    says: ['model/model.safetensors lacks 1 tensor', 'needs: model.layers.0.self_attn.o_proj.weight', 'random values'],
  },
  {
    what: 'model.path with a tensor of another shape than config.json gives',
    ...localModel({ config: { intermediate_size: 256 } }),
    exit: 2,
    says: ['tensor model.layers.0.mlp.gate_up_proj.weight has shape [256, 128]', 'intermediate_size 256', 'needs [512, 128]', 'use the config.json that came with these weights'],
  },
  {
    what: 'model.path whose weights are quantized already (quantization_config)',
    ...localModel({ config: { quantization_config: { quant_method: 'gptq', bits: 4 } } }),
    exit: 2,
    says: ['model/config.json: it has a quantization_config (gptq)', 'start from the unquantized model'],
  },
  { what: 'config.json with hidden_size 0', ...localModel({ config: { hidden_size: 0 } }), exit: 2, says: ['model/config.json: hidden_size is 0; it must be a positive whole number'] },
  {
    // Before, the group-size check divided the word and blamed group_size with "Use -1".
    what: 'config.json whose hidden_size is not a number (blamed on config.json, not on group_size)',
    ...localModel({ config: { hidden_size: '3072x' } }),
    exit: 2,
    says: ['model.path:', 'model/config.json: hidden_size is "3072x"; it must be a positive whole number'],
  },
  { what: 'config.json whose heads do not divide hidden_size', ...localModel({ config: { num_attention_heads: 3, num_key_value_heads: 3 } }), exit: 2, says: ['hidden_size (128) is not divisible by num_attention_heads (3)'] },
  { what: 'safetensors: a null header', ...lyingSafetensors(null, 0), exit: 2, says: ['model/model.safetensors is damaged: its header is null'] },
  { what: 'safetensors: a null tensor entry', ...lyingSafetensors({ 'model.norm.weight': null }, 0), exit: 2, says: ['is damaged: tensor model.norm.weight is null'] },
  {
    what: 'safetensors: a tensor that starts after its end',
    ...lyingSafetensors({ 'model.norm.weight': f32([4], [16, 0]) }, 16),
    exit: 2,
    says: ['is damaged: tensor model.norm.weight starts at byte 16 of the data, after its end (0)'],
  },
  {
    what: 'safetensors: a shape that disagrees with its byte range',
    ...lyingSafetensors({ 'model.norm.weight': f32([128], [0, 16]) }, 16),
    exit: 2,
    says: ['is damaged: tensor model.norm.weight is F32 of shape [128], 512 bytes, but its data_offsets span 16 bytes'],
  },
  {
    what: 'safetensors: overlapping tensors',
    ...lyingSafetensors({ 'model.norm.weight': f32([4], [0, 16]), 'lm_head.weight': f32([4], [8, 24]) }, 24),
    exit: 2,
    says: ['is damaged: tensor lm_head.weight (bytes 8-24) overlaps tensor model.norm.weight (bytes 0-16)'],
  },
  {
    what: 'a sharded checkpoint whose index names a shard that is not there',
    files: {
      'recipe.yaml': LOCAL,
      'model/config.json': tinyPhi3Folder('model')['model/config.json'],
      'model/model.safetensors.index.json': JSON.stringify({ metadata: { total_size: 1 }, weight_map: { 'model.norm.weight': 'model-00001-of-00002.safetensors' } }),
    },
    args: ['build', 'recipe.yaml'],
    exit: 2,
    says: ['model.safetensors.index.json names the shard model-00001-of-00002.safetensors, which is not in the folder'],
  },
  {
    what: '--model: a folder with config.json but no weights',
    files: { 'recipe.yaml': SYNTHETIC, 'model/config.json': tinyPhi3Folder('model')['model/config.json'] },
    args: ['build', 'recipe.yaml', '--model', 'model'],
    exit: 2,
    says: ['--model model: ', '/model holds no weights (no model.safetensors', 'Copy the weight files next to config.json'],
  },
  {
    what: 'validate.reference.embedding_model: a folder that does not exist',
    files: { 'recipe.yaml': validateWith('    embedding_model: ./minilm\n') },
    args: ['build', 'recipe.yaml'],
    exit: 2,
    says: ['recipe.yaml:12:22 validate.reference.embedding_model: no embedding model at', 'minilm: no such folder', 'sentence-transformers folder of a BERT-family model'],
  },
  {
    what: 'validate.reference.embedding_model: a folder that is no embedding model (a Phi-3)',
    files: { 'recipe.yaml': validateWith('    embedding_model: ./model\n'), ...tinyPhi3Folder('model') },
    args: ['build', 'recipe.yaml'],
    exit: 2,
    says: ['validate.reference.embedding_model:', 'model/config.json: model_type is "phi3"; the similarity scorer runs BERT-family encoders only'],
  },
  {
    what: 'validate.reference.embedding_model: a BERT folder without its weights',
    files: {
      'recipe.yaml': validateWith('    embedding_model: ./minilm\n'),
      'minilm/config.json': JSON.stringify({ model_type: 'bert', hidden_size: 384, num_attention_heads: 12, num_hidden_layers: 6, hidden_act: 'gelu' }),
      'minilm/modules.json': '[]',
      'minilm/tokenizer.json': '{}',
    },
    args: ['build', 'recipe.yaml'],
    exit: 2,
    says: ['validate.reference.embedding_model:', 'minilm has no model.safetensors'],
  },
];
