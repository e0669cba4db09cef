import { readFile } from 'node:fs/promises';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';

// What the onnxruntime-genai model builder actually did to the weights, read from model.onnx: its
// quantized linear layers are MatMulNBits nodes whose attributes carry the bit width, the block size
// and the accuracy level, and a zero-point input means asymmetric. genai_config.json records none of
// this. The graph is small (the weights live in model.onnx.data), so it is read whole.
//
// Only the few ONNX protobuf fields needed are decoded (field numbers from onnx/onnx.proto):
//   ModelProto.graph = 7; GraphProto.node = 1, initializer = 5
//   NodeProto.input = 1, op_type = 4, attribute = 5; AttributeProto.name = 1, i = 3
//   TensorProto.dims = 1, name = 8

export interface OnnxQuantizedLayer {
  op: string;
  bits: number;
  blockSize: number;
  accuracyLevel?: number;
  symmetric: boolean;
  parameters: number;
}

export interface OnnxWeightStatistics {
  quantized: OnnxQuantizedLayer[];
  /** Linear layers (MatMul) whose weight is an unquantized initializer, and their weight count. */
  floatLinear: { layers: number; parameters: number };
  /** Quantized parameters / every linear layer's parameters; undefined when the graph has no linear layer. */
  quantizedShare?: number;
  /**
   * Every weight matrix by the precision it is stored in: linear layers and embeddings. A tied
   * embedding that reads the output projection's quantized weights is not counted twice.
   */
  fourBitParameters: number;
  eightBitParameters: number;
  floatParameters: number;
}

export interface Node {
  op: string;
  inputs: string[];
  attributes: Map<string, bigint | number>;
}

/** Calls `visit` for each field of a message; a field it does not read is skipped. */
export function eachField(bytes: Uint8Array, visit: (field: number, reader: BinaryReader, wireType: WireType) => boolean): void {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (!visit(field, reader, wireType)) reader.skip(wireType, field);
  }
}

export function readNode(bytes: Uint8Array): Node {
  const node: Node = { op: '', inputs: [], attributes: new Map() };
  eachField(bytes, (field, reader) => {
    if (field === 1) node.inputs.push(reader.string());
    else if (field === 4) node.op = reader.string();
    else if (field === 5) {
      let name = '';
      let value: bigint | number | undefined;
      eachField(reader.bytes(), (attributeField, attribute) => {
        if (attributeField === 1) name = attribute.string();
        else if (attributeField === 3) value = BigInt(attribute.int64());
        else return false;
        return true;
      });
      if (value !== undefined) node.attributes.set(name, value);
    } else return false;
    return true;
  });
  return node;
}

function readTensorShape(bytes: Uint8Array): { name: string; dims: number[] } {
  const tensor = { name: '', dims: [] as number[] };
  eachField(bytes, (field, reader, wireType) => {
    if (field === 8) tensor.name = reader.string();
    else if (field === 1 && wireType === WireType.LengthDelimited) {
      // Repeated int64, packed into one run.
      const packed = new BinaryReader(reader.bytes());
      while (packed.pos < packed.len) tensor.dims.push(Number(packed.int64()));
    } else if (field === 1) tensor.dims.push(Number(reader.int64()));
    else return false;
    return true;
  });
  return tensor;
}

export async function readOnnxWeightStatistics(modelFile: string): Promise<OnnxWeightStatistics> {
  const nodes: Node[] = [];
  const initializers = new Map<string, number[]>();
  eachField(await readFile(modelFile), (field, reader) => {
    if (field !== 7) return false;
    eachField(reader.bytes(), (graphField, graph) => {
      if (graphField === 1) nodes.push(readNode(graph.bytes()));
      else if (graphField === 5) {
        const tensor = readTensorShape(graph.bytes());
        initializers.set(tensor.name, tensor.dims);
      } else return false;
      return true;
    });
    return true;
  });
  const number = (node: Node, name: string) => (node.attributes.has(name) ? Number(node.attributes.get(name)) : undefined);
  const quantized = nodes
    .filter((node) => node.op === 'MatMulNBits')
    .map((node) => ({
      op: node.op,
      bits: number(node, 'bits') ?? 4,
      blockSize: number(node, 'block_size') ?? 0,
      accuracyLevel: number(node, 'accuracy_level'),
      // Inputs: A, B, scales, zero_points (optional; an empty name means absent).
      symmetric: !node.inputs[3],
      parameters: (number(node, 'K') ?? 0) * (number(node, 'N') ?? 0),
    }));
  const floatWeights = nodes.filter((node) => node.op === 'MatMul' && initializers.has(node.inputs[1])).map((node) => initializers.get(node.inputs[1])!.reduce((product, dimension) => product * dimension, 1));
  const floatParameters = floatWeights.reduce((sum, count) => sum + count, 0);
  const quantizedParameters = quantized.reduce((sum, layer) => sum + layer.parameters, 0);
  const total = floatParameters + quantizedParameters;
  const size = (name: string) => initializers.get(name)!.reduce((product, dimension) => product * dimension, 1);
  const floatEmbeddings = nodes.filter((node) => node.op === 'Gather' && initializers.has(node.inputs[0])).reduce((sum, node) => sum + size(node.inputs[0]), 0);
  // Its data is packed into bytes, 8 / bits weights each; one fed by a Reshape shares the output projection's.
  const quantizedEmbeddings = nodes
    .filter((node) => node.op === 'GatherBlockQuantized' && initializers.has(node.inputs[0]))
    .map((node) => ({ bits: number(node, 'bits') ?? 4, parameters: (size(node.inputs[0]) * 8) / (number(node, 'bits') ?? 4) }));
  const byBits = (bits: number) => [...quantized, ...quantizedEmbeddings].filter((layer) => layer.bits === bits).reduce((sum, layer) => sum + layer.parameters, 0);
  return {
    quantized,
    floatLinear: { layers: floatWeights.length, parameters: floatParameters },
    quantizedShare: total > 0 ? quantizedParameters / total : undefined,
    fourBitParameters: byBits(4),
    eightBitParameters: byBits(8),
    floatParameters: floatParameters + floatEmbeddings,
  };
}
