import { open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ModelFileProblem } from './model-problem.js';

// The safetensors format (https://github.com/huggingface/safetensors), read as its own loader reads it
// before it maps a byte: 8 bytes of little-endian header length, a JSON header naming each tensor's
// dtype, shape and [start, end) byte range in the data that follows, the ranges packed end to end
// from 0 to the file's end. A header that breaks any of these rules makes the converter fail minutes
// later (after a 1.6 GB venv install on a fresh cache), or loads garbage; reading only headers keeps
// the check to a few milliseconds a file, whatever the weights weigh.

/** Headers of real checkpoints are tens of kilobytes; a larger claim is damage or a hostile file, and is not read. */
export const MAX_HEADER_BYTES = 100 * 2 ** 20;

/** Bits per element of each dtype the safetensors format defines. */
const DTYPE_BITS: Record<string, number> = {
  BOOL: 8,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  I64: 64,
  U64: 64,
  F64: 64,
  C64: 64,
};

export interface TensorEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Byte range inside the data section, [start, end). */
  start: number;
  end: number;
}

export interface SafetensorsHeader {
  file: string;
  size: number;
  tensors: TensorEntry[];
}

const CUT_SHORT_HINT = 'The file was probably cut short by an interrupted download or copy: fetch it again.';
const MISWRITTEN_HINT = 'Its header does not describe its bytes the way safetensors requires: the file is damaged or was not written by a safetensors library. Download or copy it again.';

/** What is wrong with one safetensors file: the message names the file and, where there is one, the tensor. */
function damage(file: string, what: string, hint = MISWRITTEN_HINT): ModelFileProblem {
  return new ModelFileProblem(file, `${file} is damaged: ${what}`, hint);
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** Reads exactly `length` bytes at `position`, or fewer when the file ends first. */
async function readAt(handle: FileHandle, length: number, position: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

/**
 * The header of `file`, checked the way safetensors checks it: every entry has a known dtype, a shape
 * and a byte range whose length is the shape's element count times the dtype's size, and the ranges
 * tile the data section from its first byte to the end of the file, without gap or overlap.
 */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  const damaged = (what: string, hint?: string) => damage(file, what, hint);
  const info = await stat(file);
  // A FIFO or a device would block the read below forever.
  if (!info.isFile()) throw damaged('it is not a regular file; phiforge does not read it');
  const { size } = info;
  if (size < 8) throw damaged(`${size} bytes, shorter than a safetensors header`, CUT_SHORT_HINT);
  const handle = await open(file, 'r');
  let header: Buffer;
  let headerLength: number;
  try {
    const claimed = (await readAt(handle, 8, 0)).readBigUInt64LE(0);
    if (claimed > BigInt(MAX_HEADER_BYTES)) throw damaged(`its header claims ${claimed} bytes; phiforge reads headers of at most ${MAX_HEADER_BYTES / 2 ** 20} MiB`);
    headerLength = Number(claimed);
    if (headerLength > size - 8) throw damaged(`its header claims ${headerLength} bytes, the file has ${size}`, CUT_SHORT_HINT);
    header = await readAt(handle, headerLength, 8);
  } finally {
    await handle.close();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(header.toString('utf8'));
  } catch {
    throw damaged('its header is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw damaged(`its header is ${parsed === null ? 'null' : Array.isArray(parsed) ? 'a list' : `a ${typeof parsed}`}, not a JSON object of tensors`);

  const tensors: TensorEntry[] = [];
  for (const [name, entry] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      const valid = entry !== null && typeof entry === 'object' && !Array.isArray(entry) && Object.values(entry).every((value) => typeof value === 'string');
      if (!valid) throw damaged('its __metadata__ is not a mapping of strings');
      continue;
    }
    tensors.push(checkedEntry(name, entry, damaged));
  }

  // Sorted by where they start, the ranges must follow each other exactly (safetensors' own rule).
  const ordered = [...tensors].sort((a, b) => a.start - b.start || a.end - b.end);
  let expected = 0;
  let previous: TensorEntry | undefined;
  for (const tensor of ordered) {
    if (tensor.start < expected) throw damaged(`tensor ${tensor.name} (bytes ${tensor.start}-${tensor.end}) overlaps tensor ${previous!.name} (bytes ${previous!.start}-${previous!.end})`);
    if (tensor.start > expected) throw damaged(`tensor ${tensor.name} starts at byte ${tensor.start} of the data, but ${previous ? `tensor ${previous.name} ends at byte ${expected}` : 'the data starts at byte 0'}: ${tensor.start - expected} bytes belong to no tensor`);
    expected = tensor.end;
    previous = tensor;
  }
  const needed = 8 + headerLength + expected;
  if (needed > size) throw damaged(`its tensors need ${needed} bytes, the file has ${size}`, CUT_SHORT_HINT);
  if (needed < size) throw damaged(`its tensors end at byte ${needed}, but the file has ${size}: ${size - needed} bytes belong to no tensor`);
  return { file, size, tensors };
}

function checkedEntry(name: string, entry: unknown, damaged: (what: string) => ModelFileProblem): TensorEntry {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw damaged(`tensor ${name} is ${entry === null ? 'null' : JSON.stringify(entry)?.slice(0, 40)}, not an entry with dtype, shape and data_offsets`);
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BITS)) throw damaged(`tensor ${name} has dtype ${JSON.stringify(dtype)}, which safetensors does not define`);
  if (!Array.isArray(shape) || !shape.every(isCount)) throw damaged(`tensor ${name} has shape ${JSON.stringify(shape)}, not a list of sizes`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) throw damaged(`tensor ${name} has data_offsets ${JSON.stringify(offsets)}, not [start, end]`);
  const [start, end] = offsets as [number, number];
  if (start > end) throw damaged(`tensor ${name} starts at byte ${start} of the data, after its end (${end})`);
  // BigInt: a lying shape may multiply past 2^53.
  const bits = shape.reduce((product: bigint, dimension: number) => product * BigInt(dimension), 1n) * BigInt(DTYPE_BITS[dtype]);
  if (bits % 8n !== 0n || bits / 8n !== BigInt(end - start)) {
    throw damaged(`tensor ${name} is ${dtype} of shape [${shape.join(', ')}], ${bits % 8n === 0n ? `${bits / 8n} bytes` : 'not a whole number of bytes'}, but its data_offsets span ${end - start} bytes`);
  }
  return { name, dtype, shape: shape as number[], start, end };
}

/** The index of a sharded checkpoint: which shard file holds each tensor. */
export interface ShardIndex {
  file: string;
  weightMap: Map<string, string>;
}

/** `model.safetensors.index.json`'s weight_map, its shard names kept inside the folder. */
export function parseShardIndex(file: string, text: string): ShardIndex {
  const damaged = (what: string) => damage(file, what, 'The index does not describe the shards beside it: download or copy the model again.');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw damaged('it is not valid JSON');
  }
  const map = (parsed as { weight_map?: unknown } | null)?.weight_map;
  if (map === null || typeof map !== 'object' || Array.isArray(map)) throw damaged('it has no weight_map object (tensor name -> shard file)');
  const weightMap = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(map as Record<string, unknown>)) {
    // A shard is a file beside the index: an absolute path or one that climbs out would read elsewhere.
    if (typeof shard !== 'string' || shard === '' || path.isAbsolute(shard) || shard.split(/[\\/]/).includes('..')) {
      throw damaged(`weight_map gives tensor ${tensor} the shard ${JSON.stringify(shard)}, not a file name inside the model folder`);
    }
    weightMap.set(tensor, shard);
  }
  return { file, weightMap };
}
