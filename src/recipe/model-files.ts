import { open, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';

// What phiforge can know about a model before any converter runs: its config.json shape (read from
// the folder, or known in advance for the models phiforge generates) and whether its weight files
// are whole. Both are cheap, and both spare a user a failure minutes into a build.

/** The config.json fields recipe checks and estimates read (Phi-3 and Llama style names). */
export interface ModelShape {
  model_type?: string;
  vocab_size?: number;
  hidden_size?: number;
  intermediate_size?: number;
  num_hidden_layers?: number;
  num_attention_heads?: number;
  num_key_value_heads?: number;
  max_position_embeddings?: number;
  original_max_position_embeddings?: number;
  tie_word_embeddings?: boolean;
  partial_rotary_factor?: number;
  torch_dtype?: string;
  dtype?: string;
}

/**
 * The shapes of the models phiforge generates (toolchains/reference/scripts), known before they
 * exist so that a recipe is checked against them at plan time. An e2e test compares each with the
 * config.json its script writes.
 */
export const PRESET_SHAPES: Record<string, ModelShape> = {
  'phi3-mini-tiny': { model_type: 'phi3', vocab_size: 1152, hidden_size: 256, intermediate_size: 768, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2 },
  'phi3-longrope-tiny': { model_type: 'phi3', vocab_size: 1152, hidden_size: 256, intermediate_size: 768, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2 },
  'phi3-smollm2-135m': { model_type: 'phi3', vocab_size: 49152, hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3 },
};

/** A problem with a model folder's files, in words a user can act on. */
export class ModelFileProblem extends Error {
  constructor(
    readonly file: string,
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

/** The folder's config.json, or a ModelFileProblem naming it when it is missing or not JSON. */
export async function readModelShape(folder: string): Promise<ModelShape> {
  const file = path.join(folder, 'config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ModelFileProblem(file, `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, 'Point at a Hugging Face model folder: the one holding config.json and the weights.');
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as ModelShape;
  } catch (error) {
    throw new ModelFileProblem(file, `${file} is not valid JSON (${(error as Error).message})`, 'The model folder looks damaged: download or copy it again.');
  }
}

/**
 * Every .safetensors file of the folder is whole: its header parses and its tensors end exactly at
 * the end of the file. A file cut short (an interrupted download or copy) otherwise fails deep
 * inside a converter, minutes later, with a Python traceback. Only headers are read.
 */
export async function checkSafetensors(folder: string): Promise<void> {
  for (const name of (await readdir(folder)).filter((entry) => entry.endsWith('.safetensors')).sort()) {
    const file = path.join(folder, name);
    const { size } = await stat(file);
    const handle = await open(file, 'r');
    try {
      const damaged = (why: string) => new ModelFileProblem(file, `${file} is damaged: ${why}`, 'The file was probably cut short by an interrupted download or copy: fetch it again.');
      if (size < 8) throw damaged(`${size} bytes, shorter than a safetensors header`);
      const lengthBytes = Buffer.alloc(8);
      await handle.read(lengthBytes, 0, 8, 0);
      const headerLength = Number(lengthBytes.readBigUInt64LE(0));
      if (headerLength > size - 8 || headerLength > 100 * 2 ** 20) throw damaged(`its header claims ${headerLength} bytes, the file has ${size}`);
      const header = Buffer.alloc(headerLength);
      await handle.read(header, 0, headerLength, 8);
      let tensors: Record<string, { data_offsets?: [number, number] }>;
      try {
        tensors = JSON.parse(header.toString('utf8'));
      } catch {
        throw damaged('its header is not valid JSON');
      }
      const end = Math.max(0, ...Object.entries(tensors).filter(([key]) => key !== '__metadata__').map(([, tensor]) => tensor.data_offsets?.[1] ?? 0));
      const expected = 8 + headerLength + end;
      if (expected !== size) throw damaged(`its tensors need ${expected} bytes, the file has ${size}`);
    } finally {
      await handle.close();
    }
  }
}
