import { readFile } from 'node:fs/promises';
import type { StoredTensor } from '../artifact/diff.js';

// The tensors of an OpenVINO IR as `phiforge verify` compares them: every Const layer of the .xml
// names a range of the .bin (<data element_type shape offset size>). The graph is read whole (a few MB
// even for billions of weights); the .bin is only ever read in ranges (src/artifact/diff.ts).

interface ConstLayer {
  name: string;
  type: string;
  data?: { element_type?: string; shape?: string; offset?: string; size?: string };
}

/** The Const layers of `xmlFile` that hold data in `binFile`, in the order the graph lists them. */
export async function readIrTensors(xmlFile: string, binFile: string): Promise<StoredTensor[]> {
  const { XMLParser } = await import('fast-xml-parser');
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', parseAttributeValue: false, isArray: (name) => name === 'layer' });
  const net = parser.parse(await readFile(xmlFile, 'utf8'))?.net as { layers?: { layer?: ConstLayer[] } } | undefined;
  return (net?.layers?.layer ?? []).flatMap((layer) => {
    const data = layer.type === 'Const' ? layer.data : undefined;
    if (!data?.element_type || data.offset === undefined || data.size === undefined) return [];
    return [
      {
        name: layer.name,
        elementType: data.element_type,
        // An empty shape is a scalar.
        shape: (data.shape ?? '').split(',').filter(Boolean).map(Number),
        data: { file: binFile, offset: Number(data.offset), length: Number(data.size) },
      },
    ];
  });
}
