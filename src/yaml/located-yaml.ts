import path from 'node:path';
import { Document, isMap, isNode, isPair, isScalar, isSeq, LineCounter, parseDocument, visit } from 'yaml';
import { z } from 'zod';
import { fieldPath } from '../contract.js';
import { InputError, type InputProblem, type SourceLocation } from '../errors.js';
import { readRegularFile, type Unreadable } from '../exec/preflight.js';

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

/** Recipes, pipelines and toolchain files are a few hundred lines; anything this large is a mistake or an attack. */
export const MAX_YAML_BYTES = 1024 * 1024;
/** How many aliases may be expanded: enough for any real recipe, far too few for a billion-laughs bomb. */
const MAX_ALIASES = 100;
/** Mapping keys that are refused in every YAML file phiforge reads (see reservedKeys). */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * A parsed YAML file that remembers where every node came from, so that any later check (schema,
 * semantics, facts learnt only from the model's config.json) can point at file:line:col. Parsing is
 * linear in the size of the file, which is itself bounded, and alias expansion is bounded too.
 */
export class YamlSource implements LocatedSource {
  private expanded?: { data: unknown };

  private constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** `file` is how errors name it: keep it relative to where the user stands when you can. */
  static parse(file: string, text: string): YamlSource {
    if (Buffer.byteLength(text) > MAX_YAML_BYTES) throw tooLarge(file, Buffer.byteLength(text));
    const lines = new LineCounter();
    // The library's own duplicate-key check compares every key with every other: quadratic. Ours below is linear.
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
    const source = new YamlSource(file, doc, lines);
    const problems: InputProblem[] = doc.errors.map((error) => ({
      location: source.at(error.pos[0]),
      message: `YAML syntax: ${error.message.split('\n')[0]}`,
      hint: 'Check indentation and quoting around this position; YAML needs spaces, not tabs.',
    }));
    if (problems.length === 0) problems.push(...source.duplicateKeys(), ...source.reservedKeys());
    if (problems.length === 0) source.expand();
    if (problems.length > 0) throw new InputError(file, problems);
    return source;
  }

  /**
   * Reads and parses a YAML file the user named. Only a regular file of at most MAX_YAML_BYTES is
   * read (readRegularFile): a FIFO or a device is refused without being opened. `notFoundHint` says
   * where the path was meant to lead (a base recipe's path is relative to the file that extends it).
   */
  static async read(filePath: string, options: { notFoundHint?: string } = {}): Promise<YamlSource> {
    const shown = displayPath(filePath);
    const read = await readRegularFile(filePath, MAX_YAML_BYTES);
    if ('unreadable' in read) throw new InputError(shown, [unreadableProblem(read.unreadable, options.notFoundHint)]);
    return YamlSource.parse(shown, read.bytes.toString('utf8'));
  }

  get data(): unknown {
    return this.expand();
  }

  /** The document as plain data, computed once; a file whose aliases would expand without bound is refused. */
  private expand(): unknown {
    if (!this.expanded) {
      try {
        this.expanded = { data: this.doc.toJS({ maxAliasCount: MAX_ALIASES }) };
      } catch (error) {
        if (!(error instanceof ReferenceError)) throw error;
        let first: SourceLocation = { file: this.file, line: 1, col: 1 };
        visit(this.doc, {
          Alias: (_key, node) => {
            if (node.range) first = this.at(node.range[0]);
            return visit.BREAK;
          },
        });
        throw new InputError(this.file, [{ location: first, message: `its aliases expand beyond ${MAX_ALIASES} copies (${error.message})`, hint: 'Aliases (*name) that refer to aliases multiply; write the values out, or use extends: for shared settings.' }]);
      }
    }
    return this.expanded.data;
  }

  /** Every key written twice in one mapping, at the second one: found in one pass over each mapping. */
  private duplicateKeys(): InputProblem[] {
    const problems: InputProblem[] = [];
    visit(this.doc, {
      Map: (_key, map) => {
        const seen = new Set<unknown>();
        for (const pair of map.items) {
          if (!isScalar(pair.key)) continue;
          if (seen.has(pair.key.value)) {
            problems.push({ location: pair.key.range ? this.at(pair.key.range[0]) : undefined, key: String(pair.key.value), message: `duplicate key "${String(pair.key.value)}"`, hint: 'Each key may appear once in a mapping; the later one would silently win. Remove one.' });
          }
          seen.add(pair.key.value);
        }
      },
    });
    return problems;
  }

  /**
   * Keys that name JavaScript's object machinery. `__proto__` would not become a key at all once
   * mappings are merged (extends:) but replace the prototype of the merged mapping, so its contents
   * would pass the unknown-key check as inherited values; no phiforge file has any of these keys.
   */
  private reservedKeys(): InputProblem[] {
    const problems: InputProblem[] = [];
    visit(this.doc, {
      Pair: (_key, pair, ancestors) => {
        if (!isScalar(pair.key) || !RESERVED_KEYS.has(String(pair.key.value))) return;
        const key = String(pair.key.value);
        problems.push({ location: pair.key.range ? this.at(pair.key.range[0]) : undefined, key: formatKeyPath([...keyPathOf([...ancestors, pair]), key]), message: `"${key}" cannot be a key: JavaScript reserves the name, and no phiforge setting has it`, hint: 'Remove this key; see the file format (schema/*.schema.json) for the keys there are.' });
      },
    });
    return problems;
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

function tooLarge(file: string, bytes: number): InputError {
  return new InputError(file, [tooLargeProblem(bytes)]);
}

/** `bytes` is undefined when the file outgrew the limit while it was read (the size it had when looked at was within it). */
function tooLargeProblem(bytes: number | undefined): InputProblem {
  const size = bytes === undefined ? `more than ${MAX_YAML_BYTES / 2 ** 20} MiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return { message: `the file is ${size}; phiforge reads YAML files of at most ${MAX_YAML_BYTES / 2 ** 20} MiB`, hint: 'A recipe is a few dozen lines; check that this is the file you meant.' };
}

/** Why a YAML file was not read, for the user: what the path is, and what to do. */
function unreadableProblem(unreadable: Unreadable, notFoundHint = 'Check the path; recipes usually live in recipes/.'): InputProblem {
  switch (unreadable.reason) {
    case 'missing':
      return { message: 'file not found', hint: notFoundHint };
    case 'not-a-file':
      return unreadable.folder
        ? { message: 'this is a folder, not a YAML file', hint: 'Name the recipe file inside it, e.g. recipes/phi3-int4-ov.yaml.' }
        : { message: `this is ${unreadable.kind}, not a regular file; phiforge does not open it`, hint: 'Name a YAML file saved on disk: a pipe or a device would block phiforge or never end (to pass a generated recipe, write it to a file first).' };
    case 'too-large':
      return tooLargeProblem(unreadable.bytes);
    case 'error':
      return unreadable.code === 'EACCES'
        ? { message: 'permission denied', hint: 'Make the file readable for this user.' }
        : { message: `cannot read file (${unreadable.code})`, hint: 'Check that the path names a readable file.' };
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
  // zod 4 does not say whether an invalid_type was a missing key or a value of the wrong type: the document does.
  const present = issue.code !== 'invalid_type' || valueAt(source.data, keyPath) !== undefined;
  const message = present ? describeWrongValue(issue, keyPath, source.data) : `missing required key (${issue.message.toLowerCase()})`;
  const params = issue.code === 'custom' ? (issue.params as { hint?: string; alsoAt?: KeyPath } | undefined) : undefined;
  // A rule about two places (the same device in two targets) names the other one too, with its line.
  const other = params?.alsoAt && source.locate(params.alsoAt);
  const located = other ? `${message} (${formatKeyPath(params.alsoAt!)} is at ${other.file}:${other.line}:${other.col})` : message;
  return [source.problemAt(keyPath, located, params?.hint ?? hintAt(schema, keyPath))];
}

function valueAt(data: unknown, keyPath: KeyPath): unknown {
  let value = data;
  for (const part of keyPath) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string | number, unknown>)[part];
  }
  return value;
}

/** The key path of the node at the end of `ancestors` (as visit() gives them): each pair's key, each list index. */
function keyPathOf(ancestors: readonly unknown[]): Array<string | number> {
  const keyPath: Array<string | number> = [];
  ancestors.forEach((node, index) => {
    const child = ancestors[index + 1];
    if (child === undefined) return;
    if (isPair(node) && child === node.value) keyPath.push(isScalar(node.key) ? String(node.key.value) : '?');
    else if (isSeq(node)) keyPath.push(node.items.indexOf(child as never));
  });
  return keyPath;
}

/** YAML's .nan and .inf, which JSON.stringify would show as null. */
function nonFinite(value: number): string {
  return Number.isNaN(value) ? '.nan (not a number)' : `${value > 0 ? '.inf' : '-.inf'} (infinity)`;
}

function describeWrongValue(issue: z.core.$ZodIssue, keyPath: KeyPath, data: unknown): string {
  const value = valueAt(data, keyPath);
  // zod refuses YAML's .nan and .inf as numbers (alone or in a union): "expected a number, got
  // number null" (JSON's spelling of them) would read as a contradiction.
  if (typeof value === 'number' && !Number.isFinite(value) && (issue.code === 'invalid_type' || issue.code === 'invalid_union')) return `expected a finite number, got ${nonFinite(value)}`;
  if (issue.code !== 'invalid_type') return issue.message;
  const got = Array.isArray(value) ? 'a list' : value === null ? 'nothing (null)' : typeof value === 'object' ? 'a mapping' : `${typeof value} ${JSON.stringify(value)}`;
  const names: Record<string, string> = { object: 'a mapping of keys', array: 'a list', int: 'a whole number', number: 'a number', string: 'a string', boolean: 'true or false' };
  const expected = names[issue.expected] ?? `a ${issue.expected}`;
  return keyPath.length === 0 ? `the file must be ${expected}, not ${got}` : `expected ${expected}, got ${got}`;
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

/** The hint of the value at `keyPath`, or of its nearest ancestor that has one (a gate inside `gates`). */
function hintAt(schema: z.ZodType, keyPath: KeyPath): string | undefined {
  for (let depth = keyPath.length; depth >= 0; depth--) {
    for (const candidate of schemaAt(schema, keyPath.slice(0, depth))) {
      const meta = z.globalRegistry.get(candidate) as { hint?: string } | undefined;
      if (meta?.hint) return meta.hint;
    }
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
