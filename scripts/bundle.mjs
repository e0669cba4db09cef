// Bundles src/ into lib/ as a few ESM files. Node 20 has no module compile cache, and loading the
// ~400 files of the dependencies one by one cost a third of a second on every command, which a
// one-second `phiforge validate` cannot absorb. Type checking stays with tsc (`npm run build`).
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'lib');

rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [path.join(root, 'src', 'cli', 'main.ts')],
  outdir,
  bundle: true,
  // Command handlers stay lazily loaded chunks, so `phiforge --help` still loads almost nothing.
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  // Bundled CommonJS dependencies call require() for Node's built-ins, which ESM lacks.
  banner: { js: "import { createRequire as phiforgeCreateRequire } from 'node:module'; const require = phiforgeCreateRequire(import.meta.url);" },
});
