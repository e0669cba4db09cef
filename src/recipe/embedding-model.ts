import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { checkModelFolderEntries } from './model-files.js';
import { ModelFileProblem } from './model-problem.js';
import { readSafetensorsHeader } from './safetensors.js';

// validate.reference.embedding_model names the sentence-embedding model that scores how close each
// artifact's answers are to the source model's. It is loaded only after every build step ran, by the
// NumPy BERT encoder of toolchains/common/scripts/similarity.py: a folder it cannot load would fail the
// build at its very end. This checks, from the files alone, what that encoder needs.

const HINT =
  'validate.reference.embedding_model takes a local sentence-transformers folder of a BERT-family model (config.json with model_type bert, model.safetensors, tokenizer.json; mean or CLS pooling), such as all-MiniLM-L6-v2; leave the key out for the built-in all-MiniLM-L6-v2.';

/** The tensors of one BERT encoder layer, as similarity.py reads them (optionally under "bert."). */
const LAYER_TENSORS = [
  'attention.self.query',
  'attention.self.key',
  'attention.self.value',
  'attention.output.dense',
  'attention.output.LayerNorm',
  'intermediate.dense',
  'output.dense',
  'output.LayerNorm',
].flatMap((module) => [`${module}.weight`, `${module}.bias`]);

const EMBEDDING_TENSORS = ['word_embeddings.weight', 'position_embeddings.weight', 'token_type_embeddings.weight', 'LayerNorm.weight', 'LayerNorm.bias'].map((name) => `embeddings.${name}`);

/** safetensors' NumPy loader has no bfloat16: the scorer reads these. */
const NUMPY_DTYPES = ['F16', 'F32', 'F64'];

async function readJson(file: string, optional: boolean): Promise<Record<string, unknown> | undefined> {
  const info = await stat(file).catch(() => undefined);
  if (!info) {
    if (optional) return undefined;
    throw new ModelFileProblem(file, `${path.dirname(file)} has no ${path.basename(file)}: not a sentence-transformers model folder`, HINT);
  }
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw new ModelFileProblem(file, `${file} is not valid JSON (${(error as Error).message})`, HINT);
  }
}

/** A ModelFileProblem naming the file when `folder` is not an embedding model similarity.py can load. */
export async function checkEmbeddingModel(folder: string): Promise<void> {
  const info = await stat(folder).catch(() => undefined);
  if (!info) throw new ModelFileProblem(folder, `no embedding model at ${folder}: no such folder`, `${HINT} A relative path is taken from the folder phiforge runs in.`);
  if (!info.isDirectory()) throw new ModelFileProblem(folder, `${folder} is a file, not a model folder`, HINT);
  await checkModelFolderEntries(folder, (relative) => relative.startsWith('.') || relative.includes('/.'));

  const configFile = path.join(folder, 'config.json');
  const config = (await readJson(configFile, false))!;
  if (config.model_type !== 'bert') throw new ModelFileProblem(configFile, `${configFile}: model_type is ${JSON.stringify(config.model_type)}; the similarity scorer runs BERT-family encoders only (model_type "bert")`, HINT);
  for (const key of ['num_hidden_layers', 'num_attention_heads', 'hidden_size'] as const) {
    const value = config[key];
    if (!(typeof value === 'number' && Number.isSafeInteger(value) && value > 0)) throw new ModelFileProblem(configFile, `${configFile}: ${key} is ${JSON.stringify(value)}; it must be a positive whole number`, HINT);
  }
  if ((config.hidden_size as number) % (config.num_attention_heads as number) !== 0) {
    throw new ModelFileProblem(configFile, `${configFile}: hidden_size (${config.hidden_size}) is not divisible by num_attention_heads (${config.num_attention_heads})`, HINT);
  }
  if ((config.hidden_act ?? 'gelu') !== 'gelu') throw new ModelFileProblem(configFile, `${configFile}: hidden_act is ${JSON.stringify(config.hidden_act)}; the scorer computes gelu only`, HINT);
  const pooling = await readJson(path.join(folder, '1_Pooling', 'config.json'), true);
  if (pooling && !pooling.pooling_mode_mean_tokens && !pooling.pooling_mode_cls_token) {
    throw new ModelFileProblem(path.join(folder, '1_Pooling', 'config.json'), `${path.join(folder, '1_Pooling', 'config.json')} pools neither by mean nor by the CLS token; the scorer supports those two`, HINT);
  }
  await readJson(path.join(folder, 'sentence_bert_config.json'), true);

  const tokenizer = path.join(folder, 'tokenizer.json');
  if (!(await stat(tokenizer).catch(() => undefined))) throw new ModelFileProblem(tokenizer, `${folder} has no tokenizer.json (the fast tokenizer the scorer loads)`, HINT);
  const weights = path.join(folder, 'model.safetensors');
  if (!(await stat(weights).catch(() => undefined))) throw new ModelFileProblem(weights, `${folder} has no model.safetensors (the scorer reads BERT weights from it)`, HINT);
  const { tensors } = await readSafetensorsHeader(weights);
  const byName = new Map(tensors.map((tensor) => [tensor.name, tensor]));
  const prefix = tensors.some((tensor) => tensor.name.startsWith('bert.')) ? 'bert.' : '';
  const needed = [...EMBEDDING_TENSORS, ...Array.from({ length: config.num_hidden_layers as number }, (_, index) => LAYER_TENSORS.map((name) => `encoder.layer.${index}.${name}`)).flat()].map((name) => prefix + name);
  const missing = needed.filter((name) => !byName.has(name));
  if (missing.length > 0) {
    throw new ModelFileProblem(weights, `${weights} lacks ${missing.length} of the ${needed.length} tensors a ${config.num_hidden_layers}-layer BERT encoder needs, e.g. ${missing.slice(0, 3).join(', ')}`, HINT);
  }
  const unreadable = needed.map((name) => byName.get(name)!).find((tensor) => !NUMPY_DTYPES.includes(tensor.dtype));
  if (unreadable) throw new ModelFileProblem(weights, `${weights}: tensor ${unreadable.name} is ${unreadable.dtype}; the NumPy scorer reads ${NUMPY_DTYPES.join(', ')}`, 'Save the embedding model in float32 or float16.');
}
