import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { describe, expect, it } from 'vitest';
import { inspectArtifactFolder } from '../../src/artifact/check.js';
import { describeTensorDifference, MAX_DIFF_LINES, textDifference } from '../../src/artifact/diff.js';
import { explainDifferences, type FileDifference } from '../../src/backends/artifact-diff.js';
import { workspace } from '../support/cli.js';

// What `phiforge verify` says about a file that differs from its rebuild, on small hand-made IR and
// ONNX files: which tensors differ, how many of their elements, by how much and what share; a diff of
// a text file; where the bytes of any other file part.

/** Writes two folders, `artifact` and `rebuild`, with these files each, and explains the named ones. */
async function explain(artifact: Record<string, Uint8Array | string>, rebuild: Record<string, Uint8Array | string>, differing: string[]): Promise<FileDifference[]> {
  const root = await workspace();
  for (const [side, files] of [['artifact', artifact], ['rebuild', rebuild]] as const) {
    for (const [file, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(root, side, file)), { recursive: true });
      await writeFile(path.join(root, side, file), content);
    }
  }
  return explainDifferences(await inspectArtifactFolder(path.join(root, 'artifact')), path.join(root, 'rebuild'), differing);
}

function f16(value: number): number {
  // Exact for the values used here (small integers and halves).
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value);
  const bits = view.getUint32(0);
  const exponent = ((bits >> 23) & 0xff) - 127 + 15;
  return value === 0 ? 0 : ((bits >> 16) & 0x8000) | (exponent << 10) | ((bits >> 13) & 0x3ff);
}

interface Constant {
  name: string;
  type: string;
  shape: number[];
  bytes: Buffer;
}

/** An IR: one Const layer per constant, each naming its range of the .bin. */
function ir(constants: Constant[]): { xml: string; bin: Buffer } {
  let offset = 0;
  const layers = constants.map((constant, id) => {
    const layer = `<layer id="${id}" name="${constant.name}" type="Const" version="opset1"><data element_type="${constant.type}" shape="${constant.shape.join(',')}" offset="${offset}" size="${constant.bytes.length}"/></layer>`;
    offset += constant.bytes.length;
    return layer;
  });
  return { xml: `<?xml version="1.0"?>\n<net name="m" version="11">\n<layers>\n${layers.join('\n')}\n</layers>\n<edges/>\n</net>\n`, bin: Buffer.concat(constants.map((constant) => constant.bytes)) };
}

const halves = (values: number[]) => Buffer.from(new Uint16Array(values.map(f16)).buffer);
/** 4-bit values, two to a byte, the first in the low nibble. */
const nibbles = (values: number[]) => Buffer.from(Array.from({ length: Math.ceil(values.length / 2) }, (_, index) => (values[2 * index] & 0xf) | ((values[2 * index + 1] ?? 0) & 0xf) << 4));

describe('verify: the tensors of an OpenVINO IR', () => {
  const weights = Array.from({ length: 64 }, (_, index) => (index % 16) - 8);
  const scales = [0.5, 1, 1.5, 2];
  const base: Constant[] = [
    { name: 'self.model.layers.0.mlp.down_proj.weight', type: 'i4', shape: [4, 16], bytes: nibbles(weights) },
    { name: 'self.model.layers.0.mlp.down_proj.weight/scale', type: 'f16', shape: [4, 1], bytes: halves(scales) },
    { name: 'self.model.norm.weight', type: 'f32', shape: [8], bytes: Buffer.from(new Float32Array(8).fill(1).buffer) },
  ];

  it('names each tensor that differs, with the count, the share and the largest difference; int4 weights compare as stored', async () => {
    const changedWeights = [...weights];
    changedWeights[5] = 7; // was -3: a difference of 10 in the stored 4-bit integer
    changedWeights[63] = -8; // was 7
    const changed = [{ ...base[0], bytes: nibbles(changedWeights) }, { ...base[1], bytes: halves([0.5, 1, 1.5, 2.5]) }, base[2]];
    const before = ir(base);
    const after = ir(changed);
    const [difference] = await explain({ 'openvino_model.xml': before.xml, 'openvino_model.bin': before.bin }, { 'openvino_model.xml': after.xml, 'openvino_model.bin': after.bin }, ['openvino_model.bin']);
    expect(difference).toMatchObject({ file: 'openvino_model.bin', kind: 'tensors', graph: 'openvino_model.xml' });
    if (difference.kind !== 'tensors') throw new Error('expected tensors');
    expect(difference.tensors).toMatchObject({ compared: 3, identical: 1, onlyInPublished: [], onlyInRebuilt: [] });
    expect(difference.tensors.tensors).toEqual([
      { name: 'self.model.layers.0.mlp.down_proj.weight', elementType: 'i4', shape: [4, 16], elements: 64, differing: 2, share: 2 / 64, maxAbsDifference: 15, compared: 'stored integers (compressed weights as stored, not dequantized)' },
      { name: 'self.model.layers.0.mlp.down_proj.weight/scale', elementType: 'f16', shape: [4, 1], elements: 4, differing: 1, share: 0.25, maxAbsDifference: 0.5, compared: 'values' },
    ]);
    expect(describeTensorDifference(difference.tensors.tensors[0])).toBe(
      'self.model.layers.0.mlp.down_proj.weight (i4 [4,16]): 2 of 64 elements differ (3.13%), largest |difference| 15; compared stored integers (compressed weights as stored, not dequantized)',
    );
  });

  it('pairs tensors by name, not by where they sit in the .bin, and names a tensor only one side has', async () => {
    const before = ir(base);
    // The rebuild lays the constants out in another order and adds one: nothing of the common ones differs.
    const after = ir([base[2], base[0], base[1], { name: 'extra', type: 'u8', shape: [2], bytes: Buffer.from([1, 2]) }]);
    const [difference] = await explain({ 'openvino_model.xml': before.xml, 'openvino_model.bin': before.bin }, { 'openvino_model.xml': after.xml, 'openvino_model.bin': after.bin }, ['openvino_model.bin']);
    if (difference.kind !== 'tensors') throw new Error('expected tensors');
    expect(difference.tensors).toMatchObject({ tensors: [], compared: 3, identical: 3, onlyInPublished: [], onlyInRebuilt: ['extra'] });
  });

  it('reads a tensor larger than one chunk in bounded pieces and counts differences in each', async () => {
    const count = 1_300_000; // 5.2 MB of f32: more than one 4 MiB chunk
    const values = new Float32Array(count).fill(0.25);
    const changed = new Float32Array(values);
    changed[3] = 1.25;
    changed[count - 2] = -0.75;
    const tensor = (bytes: Float32Array): Constant => ({ name: 'embed', type: 'f32', shape: [count], bytes: Buffer.from(bytes.buffer) });
    const before = ir([tensor(values)]);
    const after = ir([tensor(changed)]);
    const [difference] = await explain({ 'm.xml': before.xml, 'm.bin': before.bin }, { 'm.xml': after.xml, 'm.bin': after.bin }, ['m.bin']);
    if (difference.kind !== 'tensors') throw new Error('expected tensors');
    expect(difference.tensors.tensors).toMatchObject([{ name: 'embed', differing: 2, share: 2 / count, maxAbsDifference: 1 }]);
  });

  it('says when a tensor changed type or shape, and compares no values then', async () => {
    const before = ir(base);
    const after = ir([base[0], base[1], { ...base[2], type: 'f16', bytes: halves(new Array(8).fill(1)) }]);
    const [difference] = await explain({ 'openvino_model.xml': before.xml, 'openvino_model.bin': before.bin }, { 'openvino_model.xml': after.xml, 'openvino_model.bin': after.bin }, ['openvino_model.bin']);
    if (difference.kind !== 'tensors') throw new Error('expected tensors');
    expect(difference.tensors.tensors).toMatchObject([{ name: 'self.model.norm.weight', layout: { published: 'f32 [8]', rebuilt: 'f16 [8]' } }]);
    expect(describeTensorDifference(difference.tensors.tensors[0])).toBe('self.model.norm.weight: laid out as f32 [8] in the artifact, f16 [8] in the rebuild');
  });
});

// ONNX, written field by field as onnx.proto numbers them.
interface Initializer {
  name: string;
  dataType: number;
  dims: number[];
  raw?: Uint8Array;
  floats?: number[];
  external?: { location: string; offset: number; length: number };
}

function onnxModel(initializers: Initializer[]): Uint8Array {
  const graph = new BinaryWriter();
  // A MatMulNBits node: inputs A, B (the packed 4-bit weight) and scales; attribute bits = 4.
  const node = new BinaryWriter().tag(1, WireType.LengthDelimited).string('A').tag(1, WireType.LengthDelimited).string('proj.weight_Q4').tag(1, WireType.LengthDelimited).string('proj.weight_scales');
  node.tag(4, WireType.LengthDelimited).string('MatMulNBits');
  node.tag(5, WireType.LengthDelimited).bytes(new BinaryWriter().tag(1, WireType.LengthDelimited).string('bits').tag(3, WireType.Varint).int64(4).finish());
  graph.tag(1, WireType.LengthDelimited).bytes(node.finish());
  for (const initializer of initializers) {
    const tensor = new BinaryWriter();
    for (const dimension of initializer.dims) tensor.tag(1, WireType.Varint).int64(dimension);
    tensor.tag(2, WireType.Varint).int32(initializer.dataType);
    if (initializer.floats) {
      const packed = new BinaryWriter();
      for (const value of initializer.floats) packed.float(value);
      tensor.tag(4, WireType.LengthDelimited).bytes(packed.finish());
    }
    tensor.tag(8, WireType.LengthDelimited).string(initializer.name);
    if (initializer.raw) tensor.tag(9, WireType.LengthDelimited).bytes(initializer.raw);
    if (initializer.external) {
      for (const [key, value] of Object.entries(initializer.external)) tensor.tag(13, WireType.LengthDelimited).bytes(new BinaryWriter().tag(1, WireType.LengthDelimited).string(key).tag(2, WireType.LengthDelimited).string(String(value)).finish());
      tensor.tag(14, WireType.Varint).int32(1);
    }
    graph.tag(5, WireType.LengthDelimited).bytes(tensor.finish());
  }
  return new BinaryWriter().tag(7, WireType.LengthDelimited).bytes(graph.finish()).finish();
}

describe('verify: the initializers of an ONNX model', () => {
  const weight = nibbles(Array.from({ length: 32 }, (_, index) => index % 16));
  const files = (packedWeight: Buffer, norm: number[], scales: number[]) => ({
    'model.onnx': onnxModel([
      { name: 'proj.weight_Q4', dataType: 2, dims: [2, 1, 8], external: { location: 'model.onnx.data', offset: 0, length: 16 } },
      { name: 'proj.weight_scales', dataType: 10, dims: [2], raw: halves(scales) },
      { name: 'norm.weight', dataType: 1, dims: [4], floats: norm },
    ]),
    'model.onnx.data': packedWeight,
  });

  it('names the external tensor that differs and compares MatMulNBits weights as their 4-bit values', async () => {
    const changed = Buffer.from(weight);
    changed[3] = (changed[3] & 0x0f) | (0 << 4); // element 7: 7 -> 0
    const [difference] = await explain(files(weight, [1, 1, 1, 1], [0.5, 1]), files(changed, [1, 1, 1, 1], [0.5, 1]), ['model.onnx.data']);
    expect(difference).toMatchObject({ file: 'model.onnx.data', kind: 'tensors', graph: 'model.onnx' });
    if (difference.kind !== 'tensors') throw new Error('expected tensors');
    expect(difference.tensors.tensors).toEqual([
      { name: 'proj.weight_Q4', elementType: 'u4', shape: [2, 1, 16], elements: 32, differing: 1, share: 1 / 32, maxAbsDifference: 7, compared: 'stored integers (compressed weights as stored, not dequantized)', note: 'MatMulNBits weight: 4-bit values, two to a byte' },
    ]);
  });

  it("compares the initializers stored in the graph itself (raw_data and typed fields) when model.onnx differs", async () => {
    const [difference] = await explain(files(weight, [1, 1, 1, 1], [0.5, 1]), files(weight, [1, 1, 3, 1], [0.5, 1.5]), ['model.onnx']);
    if (difference.kind !== 'tensors') throw new Error('expected tensors');
    expect(difference.tensors.tensors.map(({ name, differing, maxAbsDifference }) => ({ name, differing, maxAbsDifference }))).toEqual([
      { name: 'proj.weight_scales', differing: 1, maxAbsDifference: 0.5 },
      { name: 'norm.weight', differing: 1, maxAbsDifference: 2 },
    ]);
  });

  it('a model.onnx whose initializers are all equal: the graph itself differs, and it says so', async () => {
    const same = files(weight, [1, 1, 1, 1], [0.5, 1]);
    const renamed = { ...same, 'model.onnx': Buffer.concat([Buffer.from(same['model.onnx']), Buffer.from([0x12, 0x01, 0x78])]) }; // an extra ir_version-like field
    const [difference] = await explain(same, renamed, ['model.onnx']);
    expect(difference).toMatchObject({ kind: 'tensors', note: 'every initializer stored in the graph is identical: the graph itself differs (nodes, attributes or metadata)' });
  });

  it('never reads external data that leads out of the artifact folder', async () => {
    const outside = { ...files(weight, [1], [1]), 'model.onnx': onnxModel([{ name: 'stolen', dataType: 2, dims: [4], external: { location: '../../etc/hostname', offset: 0, length: 4 } }]) };
    const [difference] = await explain(outside, { ...outside, 'model.onnx.data': Buffer.alloc(16, 1) }, ['model.onnx.data']);
    // No initializer points into model.onnx.data: it is compared as bytes, and ../../etc/hostname is never opened.
    expect(difference).toMatchObject({ kind: 'binary' });
  });
});

describe('verify: text and other files', () => {
  it('a unified diff of a JSON file, one value a line even when the file is written on one line', async () => {
    const [difference] = await explain({ 'config.json': JSON.stringify({ a: 1, rope: { type: 'longrope' }, b: [1, 2] }) }, { 'config.json': JSON.stringify({ a: 1, rope: { type: 'su' }, b: [1, 2] }) }, ['config.json']);
    expect(difference).toMatchObject({ kind: 'text', text: { omittedLines: 0, note: 'JSON reformatted one value a line before diffing' } });
    if (difference.kind !== 'text') throw new Error('expected text');
    expect(difference.text.diff.split('\n')).toEqual(['--- artifact/config.json', '+++ rebuild/config.json', '@@ -1,7 +1,7 @@', ' {', '   "a": 1,', '   "rope": {', '-    "type": "longrope"', '+    "type": "su"', '   },', '   "b": [', '     1,']);
  });

  it('caps a long diff and says how much was left out', async () => {
    const before = Array.from({ length: 1000 }, (_, index) => `line ${index}`).join('\n');
    const after = Array.from({ length: 1000 }, (_, index) => `line ${index}${index % 2 ? ' changed' : ''}`).join('\n');
    const text = await textDifference('chat_template.jinja', before, after);
    expect(text.diff.split('\n')).toHaveLength(MAX_DIFF_LINES);
    expect(text.omittedLines).toBeGreaterThan(0);
  });

  it('a binary file without a graph: its sizes and the first byte that differs', async () => {
    const [difference] = await explain({ 'openvino_model.blob': Buffer.from([0, 1, 2, 3, 4]) }, { 'openvino_model.blob': Buffer.from([0, 1, 9, 3, 9, 7]) }, ['openvino_model.blob']);
    expect(difference).toEqual({ file: 'openvino_model.blob', kind: 'binary', binary: { sizes: { published: 5, rebuilt: 6 }, firstDifferenceAt: 2, differingBytes: 2 } });
  });
});
