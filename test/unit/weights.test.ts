import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { describe, expect, it } from 'vitest';
import { readOnnxWeightStatistics } from '../../src/backends/onnx-weights.js';
import { readIrWeightStatistics } from '../../src/backends/openvino-weights.js';
import { irXml, TINY_COMPRESSION, TINY_WEIGHTS } from '../support/artifact-folder.js';
import { workspace } from '../support/cli.js';

// What the model card says was done to the weights is read from the artifact's own graph.

describe('OpenVINO IR weights', () => {
  it("counts 4- and 8-bit weights and the achieved ratio over NNCF's ratio-defining layers (not the embedding, not the last layer)", async () => {
    const dir = await workspace({ 'openvino_model.xml': irXml(TINY_WEIGHTS, TINY_COMPRESSION) });
    const statistics = await readIrWeightStatistics(path.join(dir, 'openvino_model.xml'));
    // Zero points and scales are not weights.
    expect(statistics.weights.map((weight) => [weight.name, weight.bits, weight.consumer])).toEqual([
      ['embed_tokens', 8, 'Gather'],
      ['layers.0.qkv_proj', 4, 'MatMul'],
      ['layers.0.down_proj', 8, 'MatMul'],
      ['layers.1.qkv_proj', 8, 'MatMul'],
      ['layers.1.down_proj', 4, 'MatMul'],
      ['lm_head', 8, 'MatMul'],
    ]);
    expect(statistics.fourBitParameters).toBe(2 * 12288);
    expect(statistics.eightBitParameters).toBe(2 * 12288 + 2 * 8192);
    expect(statistics.ratioDefining).toEqual({ parameters: 4 * 12288, fourBitParameters: 2 * 12288, layers: 4, fourBitLayers: 2 });
    expect(statistics.achievedRatio).toBe(0.5);
  });

  it('counts weight matrices NNCF left in floating point, but not rotary tables or norm scales', async () => {
    // As optimum traces Phi-3: Const f16 -> Convert -> MatMul's second input (a linear layer),
    // Const -> Gather's first input (the embedding); the rotary inv_freq is MatMul's first input.
    const xml = `<?xml version="1.0"?><net name="m" version="11"><layers>
<layer id="0" name="input" type="Parameter" version="opset1"><data shape="1,?" element_type="i64"/></layer>
<layer id="1" name="embed" type="Const" version="opset1"><data element_type="f16" shape="128,64" offset="0" size="1"/></layer>
<layer id="2" name="embed/convert" type="Convert" version="opset1"/>
<layer id="3" name="embed/gather" type="Gather" version="opset8"/>
<layer id="4" name="proj" type="Const" version="opset1"><data element_type="f32" shape="32,64" offset="0" size="1"/></layer>
<layer id="5" name="proj/matmul" type="MatMul" version="opset1"/>
<layer id="6" name="inv_freq" type="Const" version="opset1"><data element_type="f32" shape="1,16" offset="0" size="1"/></layer>
<layer id="7" name="rotary/matmul" type="MatMul" version="opset1"/>
<layer id="8" name="norm" type="Const" version="opset1"><data element_type="f32" shape="1,64" offset="0" size="1"/></layer>
<layer id="9" name="norm/multiply" type="Multiply" version="opset1"/>
</layers><edges>
<edge from-layer="1" from-port="0" to-layer="2" to-port="0"/><edge from-layer="2" from-port="1" to-layer="3" to-port="0"/><edge from-layer="0" from-port="0" to-layer="3" to-port="1"/>
<edge from-layer="3" from-port="2" to-layer="5" to-port="0"/><edge from-layer="4" from-port="0" to-layer="5" to-port="1"/>
<edge from-layer="6" from-port="0" to-layer="7" to-port="0"/><edge from-layer="0" from-port="0" to-layer="7" to-port="1"/>
<edge from-layer="5" from-port="2" to-layer="9" to-port="0"/><edge from-layer="8" from-port="0" to-layer="9" to-port="1"/>
</edges></net>`;
    const dir = await workspace({ 'openvino_model.xml': xml });
    const statistics = await readIrWeightStatistics(path.join(dir, 'openvino_model.xml'));
    expect(statistics.floatParameters).toBe(128 * 64 + 32 * 64);
    expect(statistics.fourBitParameters + statistics.eightBitParameters).toBe(0);
  });

  it('with all_layers the embedding and the last layer count too', async () => {
    const dir = await workspace({ 'openvino_model.xml': irXml(TINY_WEIGHTS, { ...TINY_COMPRESSION, all_layers: 'True' }) });
    const statistics = await readIrWeightStatistics(path.join(dir, 'openvino_model.xml'));
    expect(statistics.ratioDefining.layers).toBe(6);
    expect(statistics.achievedRatio).toBeCloseTo((2 * 12288) / (4 * 12288 + 2 * 8192), 9);
  });
});

/** A model.onnx as the model builder writes it: nodes with attributes, weights as initializers whose bytes live elsewhere. */
function onnxModel(nodes: Array<{ op: string; inputs: string[]; attributes?: Record<string, number> }>, initializers: Array<{ name: string; dims: number[]; packed?: boolean }>): Uint8Array {
  const writer = new BinaryWriter();
  writer.tag(7, WireType.LengthDelimited).fork(); // ModelProto.graph
  for (const node of nodes) {
    writer.tag(1, WireType.LengthDelimited).fork(); // GraphProto.node
    for (const input of node.inputs) writer.tag(1, WireType.LengthDelimited).string(input);
    writer.tag(4, WireType.LengthDelimited).string(node.op);
    for (const [name, value] of Object.entries(node.attributes ?? {})) {
      writer.tag(5, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string(name).tag(3, WireType.Varint).int64(value).tag(20, WireType.Varint).int32(2).join();
    }
    writer.join();
  }
  for (const initializer of initializers) {
    writer.tag(5, WireType.LengthDelimited).fork(); // GraphProto.initializer
    // onnx.proto is proto2: repeated dims are written one varint each, unless a writer packs them.
    if (initializer.packed) {
      writer.tag(1, WireType.LengthDelimited).fork();
      for (const dim of initializer.dims) writer.int64(dim);
      writer.join();
    } else for (const dim of initializer.dims) writer.tag(1, WireType.Varint).int64(dim);
    writer.tag(8, WireType.LengthDelimited).string(initializer.name);
    writer.join();
  }
  writer.join();
  return writer.finish();
}

describe('ONNX Runtime GenAI weights', () => {
  it('reads bits, block size, accuracy level and symmetry from MatMulNBits, and the share of linear weights quantized', async () => {
    const dir = await workspace();
    const file = path.join(dir, 'model.onnx');
    const quantized = (K: number, N: number, zeroPoints: boolean) => ({
      op: 'MatMulNBits',
      inputs: ['x', 'w', 'scales', ...(zeroPoints ? ['zp'] : [])],
      attributes: { K, N, bits: 4, block_size: 32, accuracy_level: 4 },
    });
    await writeFile(
      file,
      onnxModel(
        [quantized(64, 192, false), quantized(192, 64, false), { op: 'MatMul', inputs: ['x', 'lm_head.weight'] }, { op: 'MatMul', inputs: ['x', 'proj.weight'] }, { op: 'Gather', inputs: ['embed.weight', 'ids'] }],
        [
          { name: 'lm_head.weight', dims: [64, 128] },
          { name: 'proj.weight', dims: [16, 16], packed: true },
          { name: 'embed.weight', dims: [128, 64] },
        ],
      ),
    );
    const statistics = await readOnnxWeightStatistics(file);
    expect(statistics.quantized).toEqual([
      { op: 'MatMulNBits', bits: 4, blockSize: 32, accuracyLevel: 4, symmetric: true, parameters: 12288 },
      { op: 'MatMulNBits', bits: 4, blockSize: 32, accuracyLevel: 4, symmetric: true, parameters: 12288 },
    ]);
    expect(statistics.floatLinear).toEqual({ layers: 2, parameters: 8192 + 256 });
    expect(statistics.quantizedShare).toBe(24576 / (24576 + 8192 + 256));
    // The embedding is a weight matrix too, in floating point here.
    expect([statistics.fourBitParameters, statistics.eightBitParameters, statistics.floatParameters]).toEqual([24576, 0, 8192 + 256 + 128 * 64]);

    await writeFile(file, onnxModel([quantized(64, 64, true)], []));
    expect((await readOnnxWeightStatistics(file)).quantized[0].symmetric).toBe(false);
  });
});
