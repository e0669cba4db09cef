import { open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

// What differs inside two versions of an artifact file, for `phiforge verify`: the tensors of a
// weights file (whatever graph format lists them: src/backends/openvino-diff.ts, onnx-diff.ts), a
// unified diff of a text file, or where two binary files part. Weights files of real models are GBs:
// they are read in bounded chunks, a tensor at a time, and only the chunks whose bytes differ are
// decoded.

/** One tensor of a weights file, as its graph describes it. */
export interface StoredTensor {
  name: string;
  /** OpenVINO's element type names (f32, f16, bf16, i8, u8, i4, u4, ...); any other is compared byte by byte. */
  elementType: string;
  shape: number[];
  /** Where its bytes are: a range of a file, or bytes in hand (a small tensor stored inside the graph itself). */
  data: { file: string; offset: number; length: number } | { bytes: Uint8Array };
  /** Said with the tensor's result: how its stored values were read when that is not obvious from the type. */
  note?: string;
}

export interface TensorDifference {
  name: string;
  elementType: string;
  shape: number[];
  elements: number;
  /** How many elements differ, and what share of the tensor that is (0 to 1). */
  differing: number;
  share: number;
  /** The largest |published - rebuilt|; null when a differing element is nan or infinite on either side. */
  maxAbsDifference: number | null;
  /** What was compared: decoded values, the stored integers of compressed weights, or bytes. */
  compared: string;
  note?: string;
  /** Set instead of counts when the two tensors are not laid out alike (another type or shape). */
  layout?: { published: string; rebuilt: string };
}

export interface TensorComparison {
  /** Only the tensors that differ, in the published file's order. */
  tensors: TensorDifference[];
  /** How many tensors were compared, and how many of them are identical. */
  compared: number;
  identical: number;
  onlyInPublished: string[];
  onlyInRebuilt: string[];
}

/** Bytes read at once from each side: bounded, whatever the size of the tensor or the file. */
const CHUNK_BYTES = 4 * 2 ** 20;

const FLOAT_TYPES = new Set(['f64', 'f32', 'f16', 'bf16']);

/** Reads element `index` of a chunk; the index counts elements from the chunk's start. */
type Reader = (chunk: Buffer, index: number) => number;

const halfView = new DataView(new ArrayBuffer(4));

/** IEEE 754 binary16, which Node 20 has no typed array for. */
function half(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

function bfloat16(bits: number): number {
  halfView.setUint32(0, bits << 16);
  return halfView.getFloat32(0);
}

/** Bits per element and how to read one, for the element types compared as values. */
const READERS: Record<string, { bits: number; read: Reader }> = {
  f64: { bits: 64, read: (chunk, index) => chunk.readDoubleLE(index * 8) },
  f32: { bits: 32, read: (chunk, index) => chunk.readFloatLE(index * 4) },
  f16: { bits: 16, read: (chunk, index) => half(chunk.readUInt16LE(index * 2)) },
  bf16: { bits: 16, read: (chunk, index) => bfloat16(chunk.readUInt16LE(index * 2)) },
  i64: { bits: 64, read: (chunk, index) => Number(chunk.readBigInt64LE(index * 8)) },
  u64: { bits: 64, read: (chunk, index) => Number(chunk.readBigUInt64LE(index * 8)) },
  i32: { bits: 32, read: (chunk, index) => chunk.readInt32LE(index * 4) },
  u32: { bits: 32, read: (chunk, index) => chunk.readUInt32LE(index * 4) },
  i16: { bits: 16, read: (chunk, index) => chunk.readInt16LE(index * 2) },
  u16: { bits: 16, read: (chunk, index) => chunk.readUInt16LE(index * 2) },
  i8: { bits: 8, read: (chunk, index) => chunk.readInt8(index) },
  u8: { bits: 8, read: (chunk, index) => chunk[index] },
  boolean: { bits: 8, read: (chunk, index) => chunk[index] },
  // Two to a byte, the first element in the low nibble (OpenVINO's and ONNX's packing alike).
  u4: { bits: 4, read: (chunk, index) => (chunk[index >> 1] >> ((index & 1) * 4)) & 0xf },
  i4: { bits: 4, read: (chunk, index) => (((chunk[index >> 1] >> ((index & 1) * 4)) & 0xf) ^ 8) - 8 },
};

const BYTES: { bits: number; read: Reader } = { bits: 8, read: (chunk, index) => chunk[index] };

function what(elementType: string): string {
  if (FLOAT_TYPES.has(elementType)) return 'values';
  if (!READERS[elementType]) return 'bytes';
  // A compressed weight's stored integers are compared before its scale (and zero point) apply: the scales are tensors of their own.
  return READERS[elementType].bits <= 8 ? 'stored integers (compressed weights as stored, not dequantized)' : 'stored integers';
}

const elementCount = (shape: number[]) => shape.reduce((product, dimension) => product * dimension, 1);
const layoutOf = (tensor: StoredTensor) => `${tensor.elementType} [${tensor.shape.join(',')}]`;

/** Opens each file once and reads bounded ranges of it. */
class RangeReader {
  private handles = new Map<string, Promise<FileHandle>>();

  async read(data: StoredTensor['data'], start: number, length: number): Promise<Buffer> {
    if ('bytes' in data) return Buffer.from(data.bytes.buffer, data.bytes.byteOffset + start, Math.max(0, Math.min(length, data.bytes.byteLength - start)));
    let handle = this.handles.get(data.file);
    if (!handle) this.handles.set(data.file, (handle = open(data.file, 'r')));
    const buffer = Buffer.alloc(Math.max(0, Math.min(length, data.length - start)));
    const { bytesRead } = await (await handle).read(buffer, 0, buffer.length, data.offset + start);
    return buffer.subarray(0, bytesRead);
  }

  async close(): Promise<void> {
    await Promise.all([...this.handles.values()].map(async (handle) => (await handle).close()));
  }
}

/** Compares one pair of tensors laid out alike, a chunk at a time; undefined when their bytes are equal. */
async function compareTensor(reader: RangeReader, published: StoredTensor, rebuilt: StoredTensor): Promise<TensorDifference | undefined> {
  const { bits, read } = READERS[published.elementType] ?? BYTES;
  const byBytes = !READERS[published.elementType];
  const length = 'bytes' in published.data ? published.data.bytes.byteLength : published.data.length;
  const elements = byBytes ? length : elementCount(published.shape);
  // Whole elements per chunk; 4-bit elements come two to a byte, so a chunk of whole bytes holds whole elements.
  const perChunk = Math.floor((CHUNK_BYTES * 8) / bits);
  let differing = 0;
  let maxAbs = 0;
  let finite = true;
  let bytesDiffer = false;
  for (let first = 0; first < elements; first += perChunk) {
    const count = Math.min(perChunk, elements - first);
    const start = (first * bits) / 8;
    const size = Math.ceil((count * bits) / 8);
    const [before, after] = await Promise.all([reader.read(published.data, start, size), reader.read(rebuilt.data, start, size)]);
    if (before.equals(after)) continue;
    bytesDiffer = true;
    const readable = Math.min(count, Math.floor((Math.min(before.length, after.length) * 8) / bits));
    // A file shorter than its graph says: the elements past its end differ by an unknown amount.
    if (readable < count) {
      differing += count - readable;
      finite = false;
    }
    for (let index = 0; index < readable; index++) {
      const a = read(before, index);
      const b = read(after, index);
      if (a === b || (Number.isNaN(a) && Number.isNaN(b))) continue;
      differing++;
      const difference = Math.abs(a - b);
      if (Number.isFinite(difference)) maxAbs = Math.max(maxAbs, difference);
      else finite = false;
    }
  }
  if (!bytesDiffer) return undefined;
  return {
    name: published.name,
    elementType: published.elementType,
    shape: published.shape,
    elements,
    differing,
    share: elements > 0 ? differing / elements : 0,
    maxAbsDifference: finite ? maxAbs : null,
    compared: what(published.elementType),
    // Bytes that differ with values that do not: -0 against 0, or two nan payloads.
    note: [published.note, differing === 0 ? 'the bytes differ but every value is equal (signed zeros or nan payloads)' : undefined].filter(Boolean).join('; ') || undefined,
  };
}

/**
 * Pairs the tensors of two versions of a weights file by name (a repeated name by its occurrence) and
 * compares each pair. A tensor only one side has is listed by name.
 */
export async function compareTensors(published: StoredTensor[], rebuilt: StoredTensor[]): Promise<TensorComparison> {
  const keyed = (tensors: StoredTensor[]) => {
    const seen = new Map<string, number>();
    return new Map(
      tensors.map((tensor) => {
        const occurrence = seen.get(tensor.name) ?? 0;
        seen.set(tensor.name, occurrence + 1);
        return [occurrence ? `${tensor.name}#${occurrence}` : tensor.name, tensor] as const;
      }),
    );
  };
  const before = keyed(published);
  const after = keyed(rebuilt);
  const reader = new RangeReader();
  const tensors: TensorDifference[] = [];
  let compared = 0;
  try {
    for (const [key, tensor] of before) {
      const other = after.get(key);
      if (!other) continue;
      compared++;
      if (layoutOf(tensor) !== layoutOf(other)) {
        const elements = elementCount(tensor.shape);
        tensors.push({ name: tensor.name, elementType: tensor.elementType, shape: tensor.shape, elements, differing: elements, share: 1, maxAbsDifference: null, compared: 'layout', layout: { published: layoutOf(tensor), rebuilt: layoutOf(other) } });
        continue;
      }
      const difference = await compareTensor(reader, tensor, other);
      if (difference) tensors.push(difference);
    }
  } finally {
    await reader.close();
  }
  return {
    tensors,
    compared,
    identical: compared - tensors.length,
    onlyInPublished: [...before.keys()].filter((key) => !after.has(key)),
    onlyInRebuilt: [...after.keys()].filter((key) => !before.has(key)),
  };
}

/** One line for a tensor that differs, as `verify` prints it. */
export function describeTensorDifference(tensor: TensorDifference): string {
  const where = `${tensor.name} (${tensor.elementType} [${tensor.shape.join(',')}])`;
  if (tensor.layout) return `${tensor.name}: laid out as ${tensor.layout.published} in the artifact, ${tensor.layout.rebuilt} in the rebuild`;
  const percent = tensor.share * 100;
  const share = percent === 0 || percent >= 0.01 ? `${percent.toFixed(2)}%` : `${percent.toPrecision(2)}%`;
  const largest = tensor.maxAbsDifference === null ? 'nan or inf involved' : `largest |difference| ${Number(tensor.maxAbsDifference.toPrecision(6))}`;
  return `${where}: ${tensor.differing} of ${tensor.elements} ${tensor.compared === 'bytes' ? 'bytes' : 'elements'} differ (${share}), ${largest}; compared ${tensor.compared}${tensor.note ? `; ${tensor.note}` : ''}`;
}

export interface TextDifference {
  /** A unified diff of the two versions (published first), at most MAX_DIFF_LINES lines. */
  diff: string;
  /** Lines of the diff left out past the cap. */
  omittedLines: number;
  /** How the texts were prepared or why no diff is shown. */
  note?: string;
}

/** A diff longer than this many lines is cut: verify's output stays readable, --json stays small. */
export const MAX_DIFF_LINES = 200;
/** Beyond this many changed lines no diff is computed: the versions are simply different. */
const MAX_EDIT_LENGTH = 5000;
/** Larger files are not diffed as text (a tokenizer.json of a real model is 2 to 15 MB). */
export const MAX_TEXT_BYTES = 32 * 2 ** 20;

/** The bytes as text, or undefined when they are not UTF-8 text (a NUL byte, or invalid UTF-8). */
export function asText(bytes: Uint8Array): string | undefined {
  if (bytes.includes(0)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** JSON laid out one key a line, so a changed value shows as its own line even in a file written on one line. */
function formattedJson(text: string): string | undefined {
  try {
    return `${JSON.stringify(JSON.parse(text), null, 2)}\n`;
  } catch {
    return undefined;
  }
}

/** A unified diff of two versions of a text file (`file` names it in the headers), capped in length. */
export async function textDifference(file: string, published: string, rebuilt: string): Promise<TextDifference> {
  if (published === rebuilt) return { diff: '', omittedLines: 0 };
  const { createTwoFilesPatch } = await import('diff');
  let [before, after, note] = [published, rebuilt, undefined as string | undefined];
  if (path.extname(file) === '.json') {
    const [a, b] = [formattedJson(published), formattedJson(rebuilt)];
    // Reformatting may hide a difference of layout alone: then the diff is of the files as they are.
    if (a !== undefined && b !== undefined && a !== b) [before, after, note] = [a, b, 'JSON reformatted one value a line before diffing'];
  }
  const patch = createTwoFilesPatch(`artifact/${file}`, `rebuild/${file}`, before, after, undefined, undefined, { context: 3, maxEditLength: MAX_EDIT_LENGTH });
  if (patch === undefined) return { diff: '', omittedLines: 0, note: `more than ${MAX_EDIT_LENGTH} lines differ: no diff shown` };
  // jsdiff opens with a line of "=" and ends with a newline: neither is part of the diff a reader wants.
  const lines = patch.replace(/^=+\n/, '').replace(/\n$/, '').split('\n');
  return { diff: lines.slice(0, MAX_DIFF_LINES).join('\n'), omittedLines: Math.max(0, lines.length - MAX_DIFF_LINES), ...(note ? { note } : {}) };
}

export interface BinaryDifference {
  sizes: { published: number; rebuilt: number };
  /** The offset of the first byte that differs (the shorter file's end when one is a prefix of the other). */
  firstDifferenceAt: number;
  /** Bytes that differ over the length both have. */
  differingBytes: number;
}

/** Where two versions of a binary file part, read in bounded chunks. */
export async function binaryDifference(published: string, rebuilt: string): Promise<BinaryDifference> {
  const sizes = { published: (await stat(published)).size, rebuilt: (await stat(rebuilt)).size };
  const common = Math.min(sizes.published, sizes.rebuilt);
  const reader = new RangeReader();
  let first = -1;
  let differingBytes = 0;
  try {
    for (let start = 0; start < common; start += CHUNK_BYTES) {
      const length = Math.min(CHUNK_BYTES, common - start);
      const [a, b] = await Promise.all([reader.read({ file: published, offset: 0, length: common }, start, length), reader.read({ file: rebuilt, offset: 0, length: common }, start, length)]);
      if (a.equals(b)) continue;
      for (let index = 0; index < length; index++) {
        if (a[index] === b[index]) continue;
        if (first < 0) first = start + index;
        differingBytes++;
      }
    }
  } finally {
    await reader.close();
  }
  return { sizes, firstDifferenceAt: first < 0 ? common : first, differingBytes };
}
