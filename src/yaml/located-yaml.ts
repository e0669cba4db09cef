import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Document, isMap, isNode, isPair, isScalar, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { fieldPath } from '../contract.js';
import { InputError, type InputProblem, type SourceLocation } from '../errors.js';

export type KeyPath = ReadonlyArray<string | number>;

/** `quantization.ratio`, `targets[0].device`: the spelling users see in errors and docs. */
export const formatKeyPath = (keyPath: KeyPath): string => fieldPath(keyPath);

/** Parsed data that can say where each value was written, for located errors. */
export interface LocatedSource {
  /** How errors name the input: the file the user gave. */
  readonly file: string;
  readonly data: unknown;
  /** Location of the value at `keyPath`, or of its nearest existing ancestor. */
  locate(keyPath: KeyPath): SourceLocation;
  /** Location of the key token `key` inside the mapping at `mapPath` (for unknown keys). */
  locateKey(mapPath: KeyPath, key: string): SourceLocation;
  problemAt(keyPath: KeyPath, message: string, hint?: string): InputProblem;
}

/**
 * A parsed YAML file that remembers where every node came from, so that any later check (schema,
 * semantics, facts learnt only from the model's config.json) can point at file:line:col.
 */
export class YamlSource implements LocatedSource {
  private constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** `file` is how errors name it: keep it relative to where the user stands when you can. */
  static parse(file: string, text: string): YamlSource {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    const source = new YamlSource(file, doc, lines);
    if (doc.errors.length > 0) {
      throw new InputError(
        file,
        doc.errors.map((error) => ({
          location: source.at(error.pos[0]),
          message: `YAML syntax: ${error.message.split('\n')[0]}`,
          hint: 'Check indentation and quoting around this position; YAML needs spaces, not tabs.',
        })),
      );
    }
    return source;
  }

  static async read(filePath: string): Promise<YamlSource> {
    let text: string;
    try {
      text = await readFile(filePath, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new InputError(displayPath(filePath), [
        {
          message: code === 'ENOENT' ? 'file not found' : `cannot read file (${code})`,
          hint: code === 'ENOENT' ? 'Check the path; recipes usually live in recipes/.' : undefined,
        },
      ]);
    }
    return YamlSource.parse(displayPath(filePath), text);
  }

  get data(): unknown {
    return this.doc.toJS();
  }

  /** Whether this file itself writes a value at `keyPath`. */
  has(keyPath: KeyPath): boolean {
    return keyPath.length === 0 || this.doc.hasIn(keyPath);
  }

  locate(keyPath: KeyPath): SourceLocation {
    for (let depth = keyPath.length; depth >= 0; depth--) {
      const node = this.doc.getIn(keyPath.slice(0, depth), true);
      if (isNode(node) && node.range) return this.at(node.range[0]);
    }
    return { file: this.file, line: 1, col: 1 };
  }

  locateKey(mapPath: KeyPath, key: string): SourceLocation {
    const map = mapPath.length === 0 ? this.doc.contents : this.doc.getIn(mapPath, true);
    if (isMap(map)) {
      const pair = map.items.find((item) => isPair(item) && isScalar(item.key) && item.key.value === key);
      if (pair && isScalar(pair.key) && pair.key.range) return this.at(pair.key.range[0]);
    }
    return this.locate(mapPath);
  }

  problemAt(keyPath: KeyPath, message: string, hint?: string): InputProblem {
    return { location: this.locate(keyPath), key: formatKeyPath(keyPath), message, hint };
  }

  private at(offset: number): SourceLocation {
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, col };
  }
}

export function displayPath(filePath: string): string {
  const relative = path.relative(process.cwd(), filePath);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : filePath;
}

/** Validates the document against a zod schema; every issue becomes a located problem with a hint. */
export function parseWithSchema<S extends z.ZodType>(source: LocatedSource, schema: S): z.output<S> {
  const result = schema.safeParse(source.data ?? {});
  if (result.success) return result.data;
  throw new InputError(source.file, result.error.issues.flatMap((issue) => describeIssue(source, schema, issue)));
}

function describeIssue(source: LocatedSource, schema: z.ZodType, issue: z.core.$ZodIssue): InputProblem[] {
  const keyPath = issue.path as KeyPath;
  if (issue.code === 'unrecognized_keys') {
    const allowed = allowedKeysAt(schema, keyPath);
    return issue.keys.map((key) => {
      const suggestion = closest(key, allowed);
      return {
        location: source.locateKey(keyPath, key),
        key: formatKeyPath([...keyPath, key]),
        message: `unknown key "${key}"`,
        hint: suggestion
          ? `Did you mean "${suggestion}"?`
          : allowed.length > 0
            ? `Allowed here: ${allowed.join(', ')}.`
            : undefined,
      };
    });
  }
  const present = issue.code !== 'invalid_type' || issue.input !== undefined;
  const message = present ? issue.message : `missing required key (${issue.message.toLowerCase()})`;
  const ownHint = issue.code === 'custom' ? (issue.params as { hint?: string } | undefined)?.hint : undefined;
  return [source.problemAt(keyPath, message, ownHint ?? hintAt(schema, keyPath))];
}

/** The schema that describes the value at `keyPath`, looking through optional/default/pipe wrappers. */
export function schemaAt(schema: z.ZodType, keyPath: KeyPath): z.ZodType[] {
  const chain: z.ZodType[] = [];
  let current: z.ZodType | undefined = schema;
  for (const part of [...keyPath, null]) {
    while (current) {
      chain.push(current);
      const def = (current as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
      const inner = (def.innerType ?? (def.type === 'pipe' ? def.in : undefined)) as z.ZodType | undefined;
      if (!inner) break;
      current = inner;
    }
    if (part === null || !current) break;
    const def: Record<string, unknown> = (current as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
    if (def.type === 'object') current = (def.shape as Record<string, z.ZodType>)[String(part)];
    else if (def.type === 'array') current = def.element as z.ZodType;
    else if (def.type === 'record') current = def.valueType as z.ZodType;
    else current = undefined;
    chain.length = 0;
  }
  return chain;
}

function allowedKeysAt(schema: z.ZodType, keyPath: KeyPath): string[] {
  for (const candidate of schemaAt(schema, keyPath)) {
    const def = (candidate as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
    if (def.type === 'object') return Object.keys(def.shape as object);
  }
  return [];
}

function hintAt(schema: z.ZodType, keyPath: KeyPath): string | undefined {
  for (const candidate of schemaAt(schema, keyPath)) {
    const meta = z.globalRegistry.get(candidate) as { hint?: string } | undefined;
    if (meta?.hint) return meta.hint;
  }
  return undefined;
}

/** The allowed key within edit distance 2 of `key`, if any: enough to catch typos like `grup_size`. */
function closest(key: string, allowed: string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of allowed) {
    const distance = editDistance(key.toLowerCase(), name.toLowerCase());
    if (distance <= 2 && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}
