import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import type { StoredTensor } from '../artifact/diff.js';
import { eachField, readNode } from './onnx-weights.js';

// The initializers of an ONNX model as `phiforge verify` compares them. model.onnx is read whole (the
// graph; the model builder puts the weights in model.onnx.data); an initializer's bytes are raw_data
// inside it, one of TensorProto's typed fields, or a range of an external file (external_data:
// location, offset, length), which is only ever read in ranges (src/artifact/diff.ts).
//
// Fields decoded (onnx/onnx.proto): ModelProto.graph = 7; GraphProto.node = 1, initializer = 5;
// TensorProto.dims = 1, data_type = 2, float_data = 4, int32_data = 5, int64_data = 7, name = 8,
// raw_data = 9, double_data = 10, uint64_data = 11, external_data = 13 (key = 1, value = 2).

/** TensorProto.DataType by number, as OpenVINO names element types; the rest are compared byte by byte. */
const DATA_TYPES: Record<number, string> = { 1: 'f32', 2: 'u8', 3: 'i8', 4: 'u16', 5: 'i16', 6: 'i32', 7: 'i64', 8: 'string', 9: 'boolean', 10: 'f16', 11: 'f64', 12: 'u32', 13: 'u64', 16: 'bf16', 21: 'u4', 22: 'i4' };

/** Bytes an element takes when a typed field (not raw_data) holds it: 4-bit ones come two to each stored value. */
const STORED_BYTES: Record<string, number> = { f32: 4, f64: 8, i64: 8, u64: 8, i32: 4, u32: 4, i16: 2, u16: 2, f16: 2, bf16: 2, i8: 1, u8: 1, boolean: 1, u4: 1, i4: 1 };

interface Initializer {
  name: string;
  dataType: number;
  dims: number[];
  raw?: Uint8Array;
  /** The typed fields' values, in order (only one of them is set for a tensor). */
  numbers: Array<number | bigint>;
  numbersAre?: 'float' | 'double' | 'int';
  external: Map<string, string>;
}

function packed(reader: BinaryReader, wireType: WireType, one: (inner: BinaryReader) => number | bigint): Array<number | bigint> {
  if (wireType !== WireType.LengthDelimited) return [one(reader)];
  const inner = new BinaryReader(reader.bytes());
  const values: Array<number | bigint> = [];
  while (inner.pos < inner.len) values.push(one(inner));
  return values;
}

function readInitializer(bytes: Uint8Array): Initializer {
  const tensor: Initializer = { name: '', dataType: 0, dims: [], numbers: [], external: new Map() };
  eachField(bytes, (field, reader, wireType) => {
    if (field === 1) tensor.dims.push(...packed(reader, wireType, (inner) => Number(inner.int64())).map(Number));
    else if (field === 2) tensor.dataType = reader.int32();
    else if (field === 8) tensor.name = reader.string();
    else if (field === 9) tensor.raw = reader.bytes();
    else if (field === 4) [tensor.numbersAre, tensor.numbers] = ['float', [...tensor.numbers, ...packed(reader, wireType, (inner) => inner.float())]];
    else if (field === 10) [tensor.numbersAre, tensor.numbers] = ['double', [...tensor.numbers, ...packed(reader, wireType, (inner) => inner.double())]];
    else if (field === 5) [tensor.numbersAre, tensor.numbers] = ['int', [...tensor.numbers, ...packed(reader, wireType, (inner) => inner.int32())]];
    else if (field === 7) [tensor.numbersAre, tensor.numbers] = ['int', [...tensor.numbers, ...packed(reader, wireType, (inner) => BigInt(inner.int64()))]];
    else if (field === 11) [tensor.numbersAre, tensor.numbers] = ['int', [...tensor.numbers, ...packed(reader, wireType, (inner) => BigInt(inner.uint64()))]];
    else if (field === 13) {
      let key = '';
      let value = '';
      eachField(reader.bytes(), (entryField, entry) => {
        if (entryField === 1) key = entry.string();
        else if (entryField === 2) value = entry.string();
        else return false;
        return true;
      });
      tensor.external.set(key, value);
    } else return false;
    return true;
  });
  return tensor;
}

/** A typed field's values as the little-endian bytes raw_data would hold. */
function typedBytes(tensor: Initializer, elementType: string): Uint8Array {
  const width = STORED_BYTES[elementType] ?? 1;
  const out = Buffer.alloc(tensor.numbers.length * width);
  tensor.numbers.forEach((value, index) => {
    const at = index * width;
    if (tensor.numbersAre === 'float') out.writeFloatLE(Number(value), at);
    else if (tensor.numbersAre === 'double') out.writeDoubleLE(Number(value), at);
    else if (width === 8) out.writeBigUInt64LE(BigInt.asUintN(64, BigInt(value)), at);
    // Narrower types keep their bits in the low bytes of an int32 (float16 and bfloat16 as their bit patterns).
    else out.writeUIntLE(Number(BigInt.asUintN(width * 8, BigInt(value))), at, width);
  });
  return out;
}

/**
 * Every initializer of `modelFile`, in the graph's order. The quantized weights of MatMulNBits (input
 * B) and GatherBlockQuantized (input data) are uint8 tensors of packed 4-bit values when bits is 4: they
 * are compared as those values, and say so.
 */
export async function readOnnxTensors(modelFile: string, locate: (location: string) => string | undefined = (location) => path.join(path.dirname(modelFile), location)): Promise<StoredTensor[]> {
  const initializers: Initializer[] = [];
  const packedFourBit = new Map<string, string>();
  eachField(await readFile(modelFile), (field, reader) => {
    if (field !== 7) return false;
    eachField(reader.bytes(), (graphField, graph) => {
      if (graphField === 5) initializers.push(readInitializer(graph.bytes()));
      else if (graphField === 1) {
        const node = readNode(graph.bytes());
        const bits = Number(node.attributes.get('bits') ?? 4);
        const input = node.op === 'MatMulNBits' ? node.inputs[1] : node.op === 'GatherBlockQuantized' ? node.inputs[0] : undefined;
        if (input && bits === 4) packedFourBit.set(input, `${node.op} weight: 4-bit values, two to a byte`);
      } else return false;
      return true;
    });
    return true;
  });
  return initializers.flatMap((tensor): StoredTensor[] => {
    const stored = DATA_TYPES[tensor.dataType] ?? `onnx type ${tensor.dataType}`;
    const note = stored === 'u8' ? packedFourBit.get(tensor.name) : undefined;
    // Packed 4-bit values: twice the elements of the uint8 tensor along its last axis.
    const [elementType, shape] = note ? ['u4', [...tensor.dims.slice(0, -1), (tensor.dims.at(-1) ?? 1) * 2]] : [stored, tensor.dims];
    const location = tensor.external.get('location');
    let data: StoredTensor['data'];
    if (location !== undefined) {
      const file = locate(location);
      // Data the caller may not read (outside the artifact folder): the tensor is left out, and so listed as only on the other side.
      if (file === undefined) return [];
      const offset = Number(tensor.external.get('offset') ?? 0);
      const elements = tensor.dims.reduce((product, dimension) => product * dimension, 1);
      const bits = stored === 'u4' || stored === 'i4' ? 4 : (STORED_BYTES[stored] ?? 1) * 8;
      data = { file, offset, length: Number(tensor.external.get('length') ?? Math.ceil((elements * bits) / 8)) };
    } else data = { bytes: tensor.raw ?? typedBytes(tensor, stored) };
    return [{ name: tensor.name, elementType, shape, data, ...(note ? { note } : {}) }];
  });
}
