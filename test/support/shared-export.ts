import { writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * A recipe in `dir` that is `recipe` with `export: shared` (it extends the original, so everything
 * else, the artifact's name included unless `name` is given, stays the original's): the shared
 * PyTorch conversion is used only by recipes that say so.
 */
export async function withSharedExport(dir: string, recipe: string, name?: string): Promise<string> {
  const file = path.join(dir, `${name ?? path.basename(recipe, '.yaml')}-shared.yaml`);
  await writeFile(file, `extends: ${recipe}\n${name ? `name: ${name}\n` : ''}export: shared\n`);
  return file;
}
