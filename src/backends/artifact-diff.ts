import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { asText, binaryDifference, compareTensors, MAX_TEXT_BYTES, textDifference, type BinaryDifference, type StoredTensor, type TensorComparison, type TextDifference } from '../artifact/diff.js';
import { readOnnxTensors } from './onnx-diff.js';
import { readIrTensors } from './openvino-diff.js';

// Why a file of an artifact differs from its rebuild, for `phiforge verify`: a weights file by the
// tensors that differ (read through the graph that lists them: an OpenVINO .xml for its .bin, a
// model.onnx for its initializers and external data), a text file by a unified diff, anything else
// by where its bytes part.

export type FileDifference =
  | { file: string; kind: 'tensors'; /** The graph file that lists the tensors. */ graph: string; tensors: TensorComparison; note?: string }
  | { file: string; kind: 'text'; text: TextDifference }
  | { file: string; kind: 'binary'; binary: BinaryDifference }
  /** The difference could not be looked into (a graph that does not parse, say): the file still differs. */
  | { file: string; kind: 'unexplained'; reason: string };

/** The published artifact as walked (src/artifact/check.ts): relative path -> the regular file that may be read. */
export interface PublishedFiles {
  files: Map<string, string>;
}

const posix = path.posix;

/** No tensor differs and both sides list the same ones. */
const alike = (comparison: TensorComparison) => comparison.tensors.length + comparison.onlyInPublished.length + comparison.onlyInRebuilt.length === 0;

/**
 * Looks into each file of `differing` (relative paths, forward slashes) in the published artifact and
 * in the rebuild at `rebuiltDir`. Never throws for one file: what cannot be looked into is said so.
 */
export async function explainDifferences(published: PublishedFiles, rebuiltDir: string, differing: string[]): Promise<FileDifference[]> {
  const rebuilt = (relative: string) => {
    const file = path.join(rebuiltDir, ...relative.split('/'));
    return existsSync(file) ? file : undefined;
  };
  const both = (relative: string) => {
    const [a, b] = [published.files.get(relative), rebuilt(relative)];
    return a && b ? { published: a, rebuilt: b } : undefined;
  };
  const onnxModels = [...published.files.keys()].filter((file) => file.endsWith('.onnx'));
  const explanations: FileDifference[] = [];
  for (const file of differing) {
    try {
      const explanation = await explainOne(file, both, onnxModels, published, rebuilt);
      explanations.push(explanation);
    } catch (error) {
      explanations.push({ file, kind: 'unexplained', reason: (error as Error).message });
    }
  }
  return explanations;
}

async function explainOne(
  file: string,
  both: (relative: string) => { published: string; rebuilt: string } | undefined,
  onnxModels: string[],
  published: PublishedFiles,
  rebuilt: (relative: string) => string | undefined,
): Promise<FileDifference> {
  const paths = both(file);
  if (!paths) return { file, kind: 'unexplained', reason: 'not readable on both sides' };

  // An IR's weights: the .bin, read through the .xml of the same name.
  const xml = file.endsWith('.bin') ? both(file.replace(/\.bin$/, '.xml')) : undefined;
  if (xml) {
    const tensors = await compareTensors(await readIrTensors(xml.published, paths.published), await readIrTensors(xml.rebuilt, paths.rebuilt));
    const note = alike(tensors) ? 'every tensor the graph lists is identical: bytes no Const layer points at differ' : undefined;
    return { file, kind: 'tensors', graph: file.replace(/\.bin$/, '.xml'), tensors, ...(note ? { note } : {}) };
  }

  // ONNX: the graph's own initializers, or the external data file a model.onnx beside it points into.
  const graph = file.endsWith('.onnx') ? file : onnxModels.find((model) => posix.dirname(model) === posix.dirname(file) && both(model));
  if (graph) {
    const sides = both(graph)!;
    const inGraph = file === graph;
    // External data is looked up among the side's own files: a location that leads out of the artifact is not read.
    const locate = (side: (relative: string) => string | undefined) => (location: string) => {
      const relative = posix.normalize(posix.join(posix.dirname(graph), location));
      return relative.startsWith('../') || posix.isAbsolute(location) ? undefined : side(relative);
    };
    const stored = (readable: string) => (tensor: StoredTensor) => (inGraph ? 'bytes' in tensor.data : !('bytes' in tensor.data) && tensor.data.file === readable);
    const before = (await readOnnxTensors(sides.published, locate((relative) => published.files.get(relative)))).filter(stored(paths.published));
    const after = (await readOnnxTensors(sides.rebuilt, locate(rebuilt))).filter(stored(paths.rebuilt));
    // An external file no initializer points into is no weights file of this model: its bytes are compared below.
    if (inGraph || before.length + after.length > 0) {
      const tensors = await compareTensors(before, after);
      const note = !alike(tensors) ? undefined : inGraph ? 'every initializer stored in the graph is identical: the graph itself differs (nodes, attributes or metadata)' : 'every tensor stored in it is identical: the bytes between or after them differ';
      return { file, kind: 'tensors', graph, tensors, ...(note ? { note } : {}) };
    }
  }

  const sizes = await Promise.all([stat(paths.published), stat(paths.rebuilt)]);
  if (sizes.every((size) => size.size <= MAX_TEXT_BYTES)) {
    const [a, b] = await Promise.all([readFile(paths.published), readFile(paths.rebuilt)]);
    const [before, after] = [asText(a), asText(b)];
    if (before !== undefined && after !== undefined) return { file, kind: 'text', text: await textDifference(file, before, after) };
  }
  return { file, kind: 'binary', binary: await binaryDifference(paths.published, paths.rebuilt) };
}
