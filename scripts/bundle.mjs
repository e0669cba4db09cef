// Bundles src/ into one CommonJS file, lib/phiforge.cjs, which bin/phiforge.js loads through V8's
// code cache. Node 20 has no compile cache of its own, and compiling the ~400 files of the
// dependencies on every command cost a third of a second, which a one-second `phiforge validate`
// cannot absorb. CommonJS, because only a classic script can be given V8 cached data on Node 20.
// Type checking stays with tsc (`npm run build`).
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'lib');

rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [path.join(root, 'src', 'cli', 'main.ts')],
  outfile: path.join(outdir, 'phiforge.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  // ESM sources (ours and the dependencies') locate files next to themselves through import.meta.url;
  // in the bundle that is the bundle's own URL.
  define: { 'import.meta.url': 'phiforgeBundleUrl' },
  banner: { js: "const phiforgeBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
});
