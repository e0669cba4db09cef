import path from 'node:path';
import { InputError, type InputProblem, type SourceLocation } from '../errors.js';
import { formatKeyPath, YamlSource, type KeyPath, type LocatedSource } from '../yaml/located-yaml.js';

/**
 * Recipes of a CI matrix share most of their settings (model, prompts, gates); `extends: <file>`
 * takes them from a base recipe. Mappings merge key by key, the extending file winning; any other
 * value, lists included, is replaced whole, so a recipe's `targets` or `prompts` are never a mix of
 * two files. Every error points into the file that wrote the key.
 */
export async function readRecipeSource(file: string): Promise<LocatedSource> {
  const layers = [await YamlSource.read(file)];
  const seen = [path.resolve(file)];
  for (;;) {
    const top = layers[layers.length - 1];
    const base = (top.data as { extends?: unknown } | null)?.extends;
    if (base === undefined) break;
    if (typeof base !== 'string' || base.length === 0) {
      throw new InputError(layers[0].file, [top.problemAt(['extends'], 'extends must name a recipe file', 'A path relative to this file, e.g. extends: base.yaml.')]);
    }
    const absolute = path.resolve(path.dirname(seen[seen.length - 1]), base);
    if (seen.includes(absolute)) {
      throw new InputError(layers[0].file, [top.problemAt(['extends'], `extends makes a cycle: ${[...seen, absolute].map((each) => path.basename(each)).join(' -> ')}`, 'A base recipe must not extend, directly or not, a recipe that extends it.')]);
    }
    let layer: YamlSource;
    try {
      layer = await YamlSource.read(absolute, { notFoundHint: 'The path is relative to the file that extends it.' });
    } catch (error) {
      // Problems with the file as a whole (missing, a FIFO, too large) are the extends key's: say so there.
      if (error instanceof InputError && error.problems.every((problem) => !problem.location)) {
        throw new InputError(layers[0].file, [top.problemAt(['extends'], `the base recipe ${base}: ${error.problems[0].message}`, error.problems[0].hint)]);
      }
      throw error;
    }
    // A base that is not a mapping (a list, or a text file that YAML reads as one long string) would
    // contribute nothing, and every key it was meant to give would be blamed on the extending file.
    if (!isMapping(layer.data)) {
      const what = Array.isArray(layer.data) ? 'a list' : layer.data === null || layer.data === undefined ? 'empty' : typeof layer.data === 'string' ? 'plain text (one string)' : `a ${typeof layer.data}`;
      const by = top.locate(['extends']);
      throw new InputError(layers[0].file, [
        {
          location: layer.locate([]),
          message: `a base recipe must be a mapping of keys, and this file is ${what} (extended by ${by.file}:${by.line}:${by.col})`,
          hint: 'extends: names a recipe file with the settings to share, e.g. a file starting with model: or quantization:; check that it is the file you meant.',
        },
      ]);
    }
    layers.push(layer);
    seen.push(absolute);
  }
  return layers.length === 1 ? layers[0] : new LayeredSource(layers);
}

class LayeredSource implements LocatedSource {
  readonly data: unknown;

  /** `layers`: the recipe first, then what it extends, then what that extends. */
  constructor(private readonly layers: YamlSource[]) {
    const merged = layers.reduceRight<unknown>((base, layer) => merge(base, layer.data), {}) as Record<string, unknown>;
    delete merged.extends;
    this.data = merged;
  }

  get file(): string {
    return this.layers[0].file;
  }

  locate(keyPath: KeyPath): SourceLocation {
    // The file that wrote the value, or else the one that wrote its nearest ancestor.
    for (let depth = keyPath.length; depth >= 0; depth--) {
      const prefix = keyPath.slice(0, depth);
      const writer = this.layers.find((layer) => layer.has(prefix));
      if (writer) return writer.locate(keyPath);
    }
    return this.layers[0].locate(keyPath);
  }

  locateKey(mapPath: KeyPath, key: string): SourceLocation {
    const writer = this.layers.find((layer) => layer.has([...mapPath, key]));
    return writer ? writer.locateKey(mapPath, key) : this.locate(mapPath);
  }

  problemAt(keyPath: KeyPath, message: string, hint?: string): InputProblem {
    return { location: this.locate(keyPath), key: formatKeyPath(keyPath), message, hint };
  }
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Merges mappings key by key. Keys are copied as own properties and read only as own properties:
 * `merged[key] = ...` with key "__proto__" would set the merged mapping's prototype instead, and
 * `base[key]` would find "constructor" on any object. (YamlSource refuses those keys anyway.)
 */
function merge(base: unknown, over: unknown): unknown {
  if (!isMapping(base) || !isMapping(over)) return over === undefined ? base : over;
  const merged: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(base)) Object.defineProperty(merged, key, { value, enumerable: true, writable: true, configurable: true });
  for (const [key, value] of Object.entries(over)) {
    Object.defineProperty(merged, key, { value: merge(Object.hasOwn(base, key) ? base[key] : undefined, value), enumerable: true, writable: true, configurable: true });
  }
  return merged;
}
