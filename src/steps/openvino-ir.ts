import { existsSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Quantization } from '../recipe/schema.js';

/** What NNCF wrote into the IR's rt_info about the weight compression it applied. */
export interface AppliedCompression {
  mode?: string;
  group_size?: number;
  ratio?: number;
  backup_mode?: string;
}

// rt_info is the last element of the IR, after the (possibly huge) layer list: read only the tail.
const TAIL_BYTES = 256 * 1024;

export async function readAppliedCompression(xmlFile: string): Promise<AppliedCompression | undefined> {
  const { size } = await stat(xmlFile);
  const handle = await open(xmlFile, 'r');
  let tail: string;
  try {
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    tail = buffer.toString('utf8');
  } finally {
    await handle.close();
  }
  const start = tail.lastIndexOf('<rt_info>');
  const end = tail.lastIndexOf('</rt_info>');
  if (start < 0 || end < start) return undefined;
  const { XMLParser } = await import('fast-xml-parser');
  const parsed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', parseAttributeValue: false }).parse(tail.slice(start, end + '</rt_info>'.length));
  const section = parsed?.rt_info?.nncf?.weight_compression as Record<string, { value?: string }> | undefined;
  if (!section) return undefined;
  const text = (key: string) => section[key]?.value;
  const number = (key: string) => (text(key) === undefined ? undefined : Number(text(key)));
  return { mode: text('mode'), group_size: number('group_size'), ratio: number('ratio'), backup_mode: text('backup_mode') };
}

/** The rt_info NNCF must leave for this recipe, or undefined when no compression may be recorded. */
export function expectedCompression(quantization: Quantization): AppliedCompression | undefined {
  const { weight_format: format } = quantization;
  if (format === 'fp16' || format === 'fp32') return undefined;
  if (format === 'int8') return { mode: quantization.sym ? 'int8_sym' : 'int8_asym' };
  return { mode: quantization.sym ? 'int4_sym' : 'int4_asym', group_size: quantization.group_size, ratio: quantization.ratio, ...(quantization.backup_precision ? { backup_mode: quantization.backup_precision } : {}) };
}

/** Files an OpenVINO GenAI artifact cannot work without; optimum only logs a failed tokenizer conversion. */
export const REQUIRED_IR_FILES = ['openvino_model.xml', 'openvino_model.bin', 'openvino_tokenizer.xml', 'openvino_tokenizer.bin', 'openvino_detokenizer.xml', 'openvino_detokenizer.bin', 'config.json'];

/** Every way the exported folder differs from what the recipe asked for. */
export async function checkOpenVinoExport(outDir: string, quantization: Quantization): Promise<string[]> {
  const differences = REQUIRED_IR_FILES.filter((file) => !existsSync(path.join(outDir, file))).map((file) =>
    file.includes('tokenizer') ? `${file} is missing: optimum's tokenizer conversion failed (see the step log)` : `${file} is missing`,
  );
  const xml = path.join(outDir, 'openvino_model.xml');
  if (!existsSync(xml)) return differences;
  const applied = await readAppliedCompression(xml);
  const expected = expectedCompression(quantization);
  if (!expected) {
    if (applied) differences.push(`rt_info records weight compression mode ${applied.mode}, but the recipe asks for ${quantization.weight_format} weights`);
    return differences;
  }
  if (!applied) return [...differences, `rt_info has no nncf/weight_compression section, expected mode ${expected.mode}`];
  for (const [key, want] of Object.entries(expected) as [keyof AppliedCompression, string | number][]) {
    const got = applied[key];
    const same = typeof want === 'number' ? got !== undefined && Math.abs(Number(got) - want) < 1e-9 : got === want;
    if (!same) differences.push(`rt_info nncf/weight_compression/${key} is ${got ?? 'absent'}, the recipe asks for ${want}`);
  }
  return differences;
}
