import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { UsageError } from '../errors.js';
import type { LoadedRecipe } from './load.js';
import { RecipeSchema } from './schema.js';
import { parseWithSchema, YamlSource } from './yaml-source.js';

export interface ArtifactManifest {
  recipe?: { resolved?: unknown; file?: string };
  files?: Array<{ path: string; size: number; sha256: string }>;
  model?: { files?: Array<{ path: string; sha256: string }>; [fact: string]: unknown };
  toolchains?: Record<string, { lockDigest: string }>;
  steps?: Array<{ id: string; key: string }>;
  phiforge?: { version: string };
}

export async function readManifest(artifactDir: string): Promise<ArtifactManifest> {
  const file = path.join(artifactDir, 'manifest.json');
  try {
    return JSON.parse(await readFile(file, 'utf8')) as ArtifactManifest;
  } catch {
    throw new UsageError(`${file} is missing or unreadable`, 'Give an artifact folder made by phiforge build (dist/<name>).');
  }
}

/**
 * The recipe an artifact was built from, as its manifest records it (resolved). It is re-read
 * through the schema, so a manifest written by another phiforge version is checked like any recipe.
 */
export async function recipeFromManifest(artifactDir: string): Promise<LoadedRecipe> {
  const file = path.join(artifactDir, 'manifest.json');
  const manifest = await readManifest(artifactDir);
  if (!manifest.recipe?.resolved) throw new UsageError(`${file} records no recipe`, 'Use the recipe file instead.');
  const source = YamlSource.parse(`${file} (recipe)`, stringify(manifest.recipe.resolved));
  return { recipe: parseWithSchema(source, RecipeSchema), file: path.resolve(manifest.recipe.file ?? file), source };
}
