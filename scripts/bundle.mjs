// Bundles src/ into a CommonJS file, lib/phiforge.cjs, which bin/phiforge.js loads through V8's
// code cache. Node 20 has no compile cache of its own, and compiling the ~400 files of the
// dependencies on every command cost a third of a second, which a one-second `phiforge validate`
// cannot absorb. CommonJS, because only a classic script can be given V8 cached data on Node 20.
// Type checking stays with tsc (`npm run build`). Libraries few commands use get bundles of their own (below).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'lib');

// Libraries that only some commands use get bundles of their own, which the main bundle requires
// when it first needs them: every other command starts without reading or compiling them.
//   vega and vega-lite (1.8 MB): only `phiforge report` draws charts (src/report/vega.ts);
//   @huggingface/hub (0.5 MB with its hashing and XML modules): only downloads and `publish`.
const plottingModule = path.join(root, 'src', 'report', 'vega.ts');
const apart = [
  { bundle: './vega.cjs', entry: plottingModule, owns: (args) => /\/vega\.js$/.test(args.path) && path.resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts')) === plottingModule },
  { bundle: './hub.cjs', entry: '@huggingface/hub', owns: (args) => args.path === '@huggingface/hub' },
];
const keepApart = {
  name: 'keep-apart',
  setup(plugin) {
    plugin.onResolve({ filter: /vega\.js$|^@huggingface\/hub$/ }, (args) => {
      const library = apart.find((candidate) => candidate.owns(args));
      return library ? { path: library.bundle, external: true } : undefined;
    });
  },
};

// zod's namespace re-exports its error messages in some fifty languages (0.4 MB); phiforge reports in
// English only, so the bundle keeps English, the locale zod itself defaults to.
const englishOnly = {
  name: 'zod-english-only',
  setup(plugin) {
    plugin.onResolve({ filter: /\/locales\/index\.js$/ }, (args) => (args.importer.includes(`${path.sep}zod${path.sep}`) ? { path: path.join(path.dirname(path.resolve(args.resolveDir, args.path)), 'en.js'), namespace: 'zod-locales' } : undefined));
    plugin.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({ contents: `export { default as en } from ${JSON.stringify(args.path)};`, resolveDir: path.dirname(args.path), loader: 'js' }));
  },
};

// string-width builds an Intl.Segmenter and an emoji regular expression as soon as it is loaded
// (18 ms, a tenth of a no-op build), though only help pages and progress lines measure text. Each
// copy of it (yargs', cliui's, listr2's) is loaded on its first call instead.
const lazyTextWidth = {
  name: 'lazy-string-width',
  setup(plugin) {
    plugin.onResolve({ filter: /^string-width$/ }, async (args) => {
      if (args.pluginData === 'real') return undefined;
      const real = await plugin.resolve(args.path, { resolveDir: args.resolveDir, kind: args.kind, importer: args.importer, pluginData: 'real' });
      return real.errors.length ? undefined : { path: real.path, namespace: 'lazy-string-width' };
    });
    plugin.onLoad({ filter: /.*/, namespace: 'lazy-string-width' }, (args) => ({
      contents: `let measure;\nexport default function stringWidth(text, options) {\n  measure ??= require(${JSON.stringify(args.path)}).default;\n  return measure(text, options);\n}\n`,
      resolveDir: path.dirname(args.path),
      loader: 'js',
    }));
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
  plugins: [keepApart, englishOnly, lazyTextWidth],
  // The import()s left are those of the bundles apart; bin/phiforge.js runs the bundle as a
  // vm.Script, which cannot import(), so they become require()s.
  supported: { 'dynamic-import': false },
});
for (const library of apart) {
  await build({
    ...common,
    entryPoints: [library.entry],
    outfile: path.join(outdir, library.bundle),
    // Fewer bytes to read whenever they are used; no one steps through these libraries' own code.
    minify: true,
    // vega-canvas's Node build awaits import('canvas') at its top level, which a CommonJS bundle cannot
    // hold. Its browser build returns no canvas in Node, and vega then measures text without one.
    alias: { 'vega-canvas': path.join(root, 'node_modules', 'vega-canvas', 'build', 'vega-canvas.browser.js') },
  });
}

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
