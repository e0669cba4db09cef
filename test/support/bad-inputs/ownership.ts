import type { BadInput } from '../bad-inputs.js';
import { TINY_INT4 } from '../recipes.js';

// Bad inputs of one area; test/support/bad-inputs.ts joins every area into BAD_INPUTS. Recipes here build on
// TINY_INT4 from ../recipes.js (import values from there, not from ../bad-inputs.js, which imports this file).
// This area: options that would let phiforge delete or overwrite what is not its own
// (test/unit/ownership.test.ts checks that the files involved stay byte for byte intact).

const RECIPE = { 'recipe.yaml': `name: tiny\n${TINY_INT4}` };
const CHECKOUT = { ...RECIPE, 'toolchains/openvino/requirements.in': 'optimum-intel\n', 'src/main.ts': 'export {};\n' };

export const BAD_INPUTS_OWNERSHIP: BadInput[] = [
  { what: '--name with a path in it', files: RECIPE, args: ['--out', 'out', 'build', 'recipe.yaml', '--name', '../victim'], exit: 2, says: ['--name "../victim": a name is lower-case letters', 'it becomes the folder <out>/<name>'] },
  { what: '--name empty', files: RECIPE, args: ['build', 'recipe.yaml', '--name', ''], exit: 2, says: ['--name "": the name is empty'] },
  { what: '--name of 300 characters', files: RECIPE, args: ['build', 'recipe.yaml', '--name', 'a'.repeat(300)], exit: 2, says: ['the name has 300 characters; at most 96 are allowed'] },
  { what: '--name that names a folder of user files', files: { ...RECIPE, 'dist/mine/notes.txt': 'mine' }, args: ['build', 'recipe.yaml', '--name', 'mine'], exit: 2, says: ['dist/mine holds files but no phiforge manifest ("notes.txt")', 'Give the artifact another name (--name)'] },
  { what: '--cache-dir a folder that is not a cache (build)', files: CHECKOUT, args: ['build', 'recipe.yaml', '--cache-dir', '.'], exit: 2, says: ['--cache-dir ', 'is not a phiforge cache: it holds "recipe.yaml" (and 1 more entry)', 'Point --cache-dir (or PHIFORGE_CACHE) at an empty or new folder'] },
  { what: '--cache-dir a folder that is not a cache (cache gc)', files: CHECKOUT, args: ['cache', 'gc', '--cache-dir', '.'], exit: 2, says: ['is not a phiforge cache: it holds "recipe.yaml"'] },
  { what: '--cache-dir "" (the current folder) with cache clean --all', files: CHECKOUT, args: ['cache', 'clean', '--all', '--cache-dir', ''], exit: 2, says: ['is not a phiforge cache'] },
  { what: '--out inside the cache', files: RECIPE, args: ['build', 'recipe.yaml', '--cache-dir', 'cache', '--out', 'cache/steps'], exit: 2, says: ['--out cache/steps and --cache-dir cache overlap: the output folder lies inside the cache', '--out dist --cache-dir cache'] },
  { what: 'the cache inside --out', files: RECIPE, args: ['build', 'recipe.yaml', '--out', 'dist', '--cache-dir', 'dist/tiny/cache'], exit: 2, says: ['overlap: the output folder holds the cache'] },
  { what: '--cache-dir given twice', files: RECIPE, args: ['build', 'recipe.yaml', '--cache-dir', 'a', '--cache-dir', 'b'], exit: 2, says: ['--cache-dir was given 2 times (a, b); it takes one value', 'Give --cache-dir once.'] },
];
