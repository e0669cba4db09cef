// Bundles src/ into a CommonJS file, lib/phiforge.cjs, which bin/phiforge.js loads through V8's
// code cache. Node 20 has no compile cache of its own, and compiling the ~400 files of the
// dependencies on every command cost a third of a second, which a one-second `phiforge validate`
// cannot absorb. CommonJS, because only a classic script can be given V8 cached data on Node 20.
// Type checking stays with tsc (`npm run build`). The plotting libraries go to lib/vega.cjs (below).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'lib');

// vega and vega-lite (1.8 MB, only `phiforge report` draws charts) get a bundle of their own,
// lib/vega.cjs, which the main bundle requires when a report is made: every other command starts
// without reading or compiling them.
const plottingModule = path.join(root, 'src', 'report', 'vega.ts');
const plottingBundle = './vega.cjs';
const plottingApart = {
  name: 'plotting-apart',
  setup(plugin) {
    plugin.onResolve({ filter: /\/vega\.js$/ }, (args) => (path.resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts')) === plottingModule ? { path: plottingBundle, external: true } : undefined));
  },
};

const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  // ESM sources (ours and the dependencies') locate files next to themselves through import.meta.url;
  // in the bundle that is the bundle's own URL.
  define: { 'import.meta.url': 'phiforgeBundleUrl' },
  banner: { js: "const phiforgeBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
};

rmSync(outdir, { recursive: true, force: true });
await build({
  ...common,
  entryPoints: [path.join(root, 'src', 'cli', 'main.ts')],
  outfile: path.join(outdir, 'phiforge.cjs'),
  sourcemap: true,
  plugins: [plottingApart],
  // The one import() left is lib/vega.cjs's; bin/phiforge.js runs the bundle as a vm.Script, which
  // cannot import(), so it becomes a require().
  supported: { 'dynamic-import': false },
});
await build({
  ...common,
  entryPoints: [plottingModule],
  outfile: path.join(outdir, plottingBundle),
  // Half the bytes to read on every report; no one steps through vega's own code.
  minify: true,
  // vega-canvas's Node build awaits import('canvas') at its top level, which a CommonJS bundle cannot
  // hold. Its browser build returns no canvas in Node, and vega then measures text without one.
  alias: { 'vega-canvas': path.join(root, 'node_modules', 'vega-canvas', 'build', 'vega-canvas.browser.js') },
});

// Help pages, rendered once here by the bundle itself: `phiforge --help` and `phiforge <command>
// --help` are then printed by bin/phiforge.js without loading the bundle (a tenth of a second).
const { main, COMMAND_NAMES } = createRequire(import.meta.url)(path.join(outdir, 'phiforge.cjs'));
const helpDir = path.join(outdir, 'help');
mkdirSync(helpDir, { recursive: true });
const render = async (argv) => {
  let text = '';
  const write = process.stdout.write;
  process.stdout.write = (chunk) => ((text += chunk), true);
  const log = console.log;
  console.log = (...parts) => (text += `${parts.join(' ')}\n`);
  try {
    await main(argv, { stdout: (chunk) => (text += chunk), stderr: () => undefined });
  } finally {
    process.stdout.write = write;
    console.log = log;
  }
  return text;
};
writeFileSync(path.join(helpDir, 'phiforge.txt'), await render(['--help']));
for (const command of COMMAND_NAMES) {
  writeFileSync(path.join(helpDir, `${command}.txt`), await render([command, '--help']));
}
