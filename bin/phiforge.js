#!/usr/bin/env node
// Runs lib/phiforge.cjs (scripts/bundle.mjs) through V8's code cache. The cache is made after a
// command has run, so it holds every function that command compiled: the next run of the same
// command skips nearly all parsing and compiling, about 60 ms of a 0.8 s `phiforge validate`.
// Node 22 has a compile cache of its own, but Node 20 does not, and a cache taken at load time
// misses the functions compiled lazily later. Any problem with the cache only means compiling.
//
// Conventions honored: NODE_COMPILE_CACHE names the cache folder, NODE_DISABLE_COMPILE_CACHE turns
// it off. --verbose loads the bundle plainly with source maps, so stack traces name src/*.ts.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import Module, { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const bundle = fileURLToPath(new URL('../lib/phiforge.cjs', import.meta.url));
const require = createRequire(bundle);
const args = process.argv.slice(2);

function cacheFile() {
  const { size, mtimeMs } = statSync(bundle);
  const root = process.env.NODE_COMPILE_CACHE || path.join(os.tmpdir(), `phiforge-code-cache-${process.getuid?.() ?? 'user'}`);
  // A folder per installation, so that two of them (a global one, a checkout) never evict each other.
  const folder = path.join(root, `phiforge-${createHash('sha256').update(bundle).digest('hex').slice(0, 12)}`);
  // One cache per command: each holds what its own command compiled.
  const command = (args.find((arg) => !arg.startsWith('-')) ?? 'none').replace(/[^a-z-]/g, '');
  const build = `${process.version}-${process.arch}-${size}-${Math.round(mtimeMs)}-`;
  return { folder, build, file: path.join(folder, `${build}${command}.bin`) };
}

/** Caches of this installation's earlier bundles (an upgrade, a rebuild) can never be used again. */
function removeStaleCaches(folder, build) {
  for (const name of readdirSync(folder)) {
    if (!name.startsWith(build)) rmSync(path.join(folder, name), { force: true });
  }
}

function loadWithCodeCache() {
  const { folder, build, file } = cacheFile();
  let cachedData;
  try {
    cachedData = readFileSync(file);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(Module.wrap(readFileSync(bundle, 'utf8')), { filename: bundle, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, require, module, bundle, path.dirname(bundle));
  const fresh = cachedData === undefined || script.cachedDataRejected;
  const saveCache = () => {
    if (!fresh) return;
    try {
      mkdirSync(folder, { recursive: true });
      const partial = `${file}.${process.pid}`;
      writeFileSync(partial, script.createCachedData());
      renameSync(partial, file);
      removeStaleCaches(folder, build);
    } catch {
      // A read-only or full temp folder: the next run compiles again.
    }
  };
  return { main: module.exports.main, saveCache };
}

function loadPlainly() {
  process.setSourceMapsEnabled(true);
  return { main: require(bundle).main, saveCache: () => undefined };
}

/** `phiforge --help` and `phiforge <command> --help`, rendered at build time (scripts/bundle.mjs). */
function prerenderedHelp() {
  const helpFlags = ['--help', '-h'];
  const page = args.length === 1 && helpFlags.includes(args[0]) ? 'phiforge' : args.length === 2 && helpFlags.includes(args[1]) && /^[a-z]+$/.test(args[0]) ? args[0] : undefined;
  if (!page) return undefined;
  try {
    return readFileSync(fileURLToPath(new URL(`../lib/help/${page}.txt`, import.meta.url)), 'utf8');
  } catch {
    return undefined;
  }
}

const help = prerenderedHelp();
if (help !== undefined) {
  process.stdout.write(help);
  process.exit(0);
}

if (!existsSync(bundle)) {
  process.stderr.write(`error: ${bundle} is missing: phiforge has not been built\n  hint: run \`npm run build\` in ${path.dirname(path.dirname(bundle))}.\n`);
  process.exit(2);
}
const { main, saveCache } = args.includes('--verbose') || process.env.NODE_DISABLE_COMPILE_CACHE ? loadPlainly() : loadWithCodeCache();
process.exitCode = await main(args);
saveCache();
