import { readFile } from 'node:fs/promises';

// What an OpenVINO IR's weights actually are, read from the IR itself: which weight matrices NNCF
// stored in 4 bits and which in 8, and so the share of 4-bit weights NNCF achieved. The ratio a
// recipe asks for is a target, not a promise: NNCF assigns whole layers, so a model with few
// layers (or layers of very different sizes) ends up above or below it.

/** Element types NNCF stores compressed weights in, by bit width. */
const FOUR_BIT = new Set(['i4', 'u4', 'nf4', 'f4e2m1']);
const EIGHT_BIT = new Set(['i8', 'u8', 'f8e4m3', 'f8e5m2']);
/** Weights NNCF left uncompressed (an FP16 IR, backup_precision none, or a layer it skipped). */
const FLOAT = new Set(['f16', 'f32', 'bf16']);

/** Nodes of NNCF's decompression subgraph (weight -> Convert -> Subtract zero point -> Multiply scale -> Reshape). */
const DECOMPRESSION = new Set(['Convert', 'Subtract', 'Multiply', 'Reshape']);

export interface IrWeight {
  name: string;
  bits: 4 | 8;
  /** Number of weights (the product of the constant's shape). */
  parameters: number;
  /** The operation the decompressed weight feeds: MatMul for a linear layer, Gather for an embedding. */
  consumer: string;
}

export interface IrWeightStatistics {
  weights: IrWeight[];
  /** Parameters stored in 4 and in 8 bits, over every compressed weight. */
  fourBitParameters: number;
  eightBitParameters: number;
  /** Parameters of the weight matrices (linear layers and embeddings) kept in a float type. */
  floatParameters: number;
  /**
   * The weights NNCF's `ratio` is defined over: every compressed weight except the embeddings and the
   * last linear layer, which NNCF keeps in the backup precision unless `all_layers` is set.
   */
  ratioDefining: { parameters: number; fourBitParameters: number; layers: number; fourBitLayers: number };
  /** fourBitParameters / parameters of the ratio-defining weights; undefined when nothing is compressed. */
  achievedRatio?: number;
}

interface Layer {
  id: string;
  name: string;
  type: string;
  data?: { element_type?: string; shape?: string };
}

interface Edge {
  'from-layer': string;
  'to-layer': string;
  'to-port': string;
}

const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** Reads the whole IR graph (a few MB even for billions of weights: the weights are in the .bin). */
export async function readIrWeightStatistics(xmlFile: string): Promise<IrWeightStatistics> {
  const { XMLParser } = await import('fast-xml-parser');
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', parseAttributeValue: false, isArray: (name) => name === 'layer' || name === 'edge' });
  const net = parser.parse(await readFile(xmlFile, 'utf8'))?.net as { layers?: { layer?: Layer[] }; edges?: { edge?: Edge[] }; rt_info?: Record<string, unknown> } | undefined;
  const layers = asArray(net?.layers?.layer);
  const byId = new Map(layers.map((layer, order) => [layer.id, { layer, order }]));
  const outgoing = new Map<string, Edge[]>();
  for (const edge of asArray(net?.edges?.edge)) outgoing.set(edge['from-layer'], [...(outgoing.get(edge['from-layer']) ?? []), edge]);

  /** Follows a constant through its decompression nodes to what uses it; undefined for a zero point or a scale. */
  function consumerOf(id: string): { type: string; order: number; port: string } | undefined {
    let current = id;
    for (let hops = 0; hops < 8; hops++) {
      const next = outgoing.get(current)?.[0];
      const target = next && byId.get(next['to-layer']);
      if (!next || !target) return undefined;
      const { type } = target.layer;
      // A zero point enters Subtract as its second operand, a scale enters Multiply as its second: not weights.
      if ((type === 'Subtract' || type === 'Multiply') && next['to-port'] !== '0') return undefined;
      if (!DECOMPRESSION.has(type)) return { type, order: target.order, port: next['to-port'] };
      current = target.layer.id;
    }
    return undefined;
  }

  const found: Array<IrWeight & { order: number }> = [];
  let floatParameters = 0;
  for (const layer of layers) {
    const elementType = layer.type === 'Const' ? layer.data?.element_type : undefined;
    if (elementType && FLOAT.has(elementType)) {
      // A weight matrix is 2-D and is what a MatMul multiplies by (its second input) or an embedding
      // Gather looks rows up in (its first); rotary tables and norms are neither.
      const dimensions = (layer.data?.shape ?? '').split(',').filter(Boolean).map(Number);
      const consumer = dimensions.length === 2 ? consumerOf(layer.id) : undefined;
      if (consumer && ((consumer.type === 'MatMul' && consumer.port === '1') || (consumer.type === 'Gather' && consumer.port === '0'))) floatParameters += dimensions[0] * dimensions[1];
      continue;
    }
    const bits = elementType && FOUR_BIT.has(elementType) ? 4 : elementType && EIGHT_BIT.has(elementType) ? 8 : undefined;
    if (!bits) continue;
    const consumer = consumerOf(layer.id);
    if (!consumer) continue;
    const parameters = (layer.data?.shape ?? '')
      .split(',')
      .filter(Boolean)
      .reduce((product, dimension) => product * Number(dimension), 1);
    found.push({ name: layer.name, bits, parameters, consumer: consumer.type, order: consumer.order });
  }

  const allLayers = String((net?.rt_info as { nncf?: { weight_compression?: { all_layers?: { value?: string } } } } | undefined)?.nncf?.weight_compression?.all_layers?.value) === 'True';
  const linear = found.filter((weight) => weight.consumer !== 'Gather');
  const last = linear.reduce<(typeof found)[number] | undefined>((latest, weight) => (!latest || weight.order > latest.order ? weight : latest), undefined);
  const defining = allLayers ? found : linear.filter((weight) => weight !== last);
  const sum = (weights: IrWeight[]) => weights.reduce((total, weight) => total + weight.parameters, 0);
  const ratioDefining = {
    parameters: sum(defining),
    fourBitParameters: sum(defining.filter((weight) => weight.bits === 4)),
    layers: defining.length,
    fourBitLayers: defining.filter((weight) => weight.bits === 4).length,
  };
  return {
    weights: found.map(({ order: _order, ...weight }) => weight),
    fourBitParameters: sum(found.filter((weight) => weight.bits === 4)),
    eightBitParameters: sum(found.filter((weight) => weight.bits === 8)),
    floatParameters,
    ratioDefining,
    achievedRatio: ratioDefining.parameters > 0 ? ratioDefining.fourBitParameters / ratioDefining.parameters : undefined,
  };
}
