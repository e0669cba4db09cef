import type { BadInput } from '../bad-inputs.js';
import { TINY_INT4 } from '../recipes.js';

// Bad inputs of one area; test/support/bad-inputs.ts joins every area into BAD_INPUTS. Recipes here build on
// TINY_INT4 from ../recipes.js (import values from there, not from ../bad-inputs.js, which imports this file).

// Recipe files, extends:, hub names, the artifact name and targets: what reaches the build today and
// should not (test/unit/recipe-inputs.test.ts has the cases that need a FIFO, signals or the environment).

const VALID = `name: tiny\n${TINY_INT4}`;
const COMMIT = '0a67737cc96d2554230f90338b163bc6380a2a85';
const build = (recipe: string, ...extra: string[]): Pick<BadInput, 'files' | 'args'> => ({ files: { 'recipe.yaml': recipe }, args: ['build', 'recipe.yaml', ...extra] });
const hubModel = (id: string, revision: string) => VALID.replace('synthetic: phi3-mini-tiny', `id: ${id}\n  revision: "${revision}"`);
const extending = (base: string, baseFile = 'base.yaml'): Pick<BadInput, 'files' | 'args'> => ({ files: { 'recipe.yaml': `extends: ${baseFile}\nname: tiny\n`, [baseFile]: base }, args: ['build', 'recipe.yaml'] });
/** What /etc/passwd looks like: YAML reads it as one multi-line string. */
const PASSWD = 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n';

export const BAD_INPUTS_RECIPE_INPUT: BadInput[] = [
  // extends: a base that is not a recipe file
  { what: 'extends: a device (/dev/zero)', files: { 'recipe.yaml': `extends: /dev/zero\n${VALID}` }, args: ['build', 'recipe.yaml'], exit: 2, says: ['recipe.yaml:1:10 extends: the base recipe /dev/zero: this is a character device, not a regular file'] },
  { what: 'extends: a 2 MB base', ...extending(`${TINY_INT4}description: "${'x'.repeat(2 * 2 ** 20)}"\n`), exit: 2, says: ['recipe.yaml:1:10 extends: the base recipe base.yaml: the file is 2.0 MiB; phiforge reads YAML files of at most 1 MiB'] },
  { what: 'extends: a base that is a list', ...extending(`- ${TINY_INT4.trimEnd().replaceAll('\n', '\n  ')}\n`), exit: 2, says: ['base.yaml:1:1: a base recipe must be a mapping of keys, and this file is a list (extended by recipe.yaml:1:10)'] },
  { what: 'extends: a text file such as /etc/passwd', ...extending(PASSWD, 'passwd'), exit: 2, says: ['passwd:1:1: a base recipe must be a mapping of keys, and this file is plain text (one string)'] },
  { what: 'extends: an empty base', ...extending(''), exit: 2, says: ['base.yaml:1:1: a base recipe must be a mapping of keys, and this file is empty'] },
  { what: '__proto__ in a base recipe', ...extending(`${TINY_INT4}__proto__:\n  description: smuggled\n`), exit: 2, says: ['base.yaml:9:1 __proto__: "__proto__" cannot be a key'] },
  // Numbers that are not numbers
  { what: 'ratio: .nan', ...build(VALID.replace('ratio: 0.6', 'ratio: .nan')), exit: 2, says: ['recipe.yaml:8:10 quantization.ratio: expected a finite number, got .nan (not a number)'] },
  { what: 'ratio: .inf', ...build(VALID.replace('ratio: 0.6', 'ratio: .inf')), exit: 2, says: ['recipe.yaml:8:10 quantization.ratio: expected a finite number, got .inf (infinity)'] },
  { what: 'group_size: -.inf', ...build(VALID.replace('group_size: 128', 'group_size: -.inf')), exit: 2, says: ['recipe.yaml:7:15 quantization.group_size: expected a finite number, got -.inf (infinity)'] },
  // Hub names: refused here, never sent to the Hub or made into a path of its cache
  { what: 'a revision of 39 hex characters', ...build(hubModel('microsoft/Phi-3-mini-4k-instruct', COMMIT.slice(1))), exit: 2, says: [`recipe.yaml:4:13 model.revision: "${COMMIT.slice(1)}" looks like a commit id, but it has 39 hex characters; a commit id has 40`] },
  { what: 'an upper-case commit id', ...build(hubModel('microsoft/Phi-3-mini-4k-instruct', COMMIT.toUpperCase())), exit: 2, says: ['model.revision:', 'is a commit id in upper case'] },
  { what: 'a revision that climbs out of the cache (../../etc)', ...build(hubModel('microsoft/Phi-3-mini-4k-instruct', '../../etc')), exit: 2, says: ['recipe.yaml:4:13 model.revision: "../../etc" is neither a commit id (40 lower-case hex characters) nor a branch or tag name: it contains ".."'] },
  { what: 'a hub id whose name is ..', ...build(hubModel('x/..', COMMIT)), exit: 2, says: ['recipe.yaml:3:7 model.id: expected a Hugging Face model id: the name ".." cannot start or end with "-" or "."'] },
  { what: 'a hub id with --', ...build(hubModel('micro--soft/Phi-3', COMMIT)), exit: 2, says: ['model.id: expected a Hugging Face model id: the owner "micro--soft" cannot contain "--" or ".."'] },
  { what: '--model: a hub id whose name is ..', ...build(VALID, '--model', `x/..@${COMMIT}`), exit: 2, says: [`--model x/..@${COMMIT}: no such folder, and not a Hugging Face model id: the name ".." cannot start or end with "-" or "."`] },
  { what: '--model: a revision that climbs out (../../etc)', ...build(VALID, '--model', 'microsoft/Phi-3-mini-4k-instruct@../../etc'), exit: 2, says: ['--model microsoft/Phi-3-mini-4k-instruct@../../etc: "../../etc" is neither a commit id'] },
  { what: '--model: a revision of 39 hex characters', ...build(VALID, '--model', `microsoft/Phi-3-mini-4k-instruct@${COMMIT.slice(1)}`), exit: 2, says: ['looks like a commit id, but it has 39 hex characters'] },
  // The artifact name
  { what: 'a 300-character name', ...build(VALID.replace('name: tiny', `name: ${'a'.repeat(300)}`)), exit: 2, says: ['recipe.yaml:1:7 name: the name has 300 characters; at most 96 are allowed', 'it becomes the folder <out>/<name>'] },
  { what: 'a name with a slash', ...build(VALID.replace('name: tiny', 'name: ../tiny')), exit: 2, says: ['recipe.yaml:1:7 name: a name is lower-case letters, digits'] },
  // Targets
  {
    what: 'two targets on the same device',
    ...build(`${VALID}targets:\n  - device: CPU\n    gates: { similarity_min: 0.99 }\n  - device: CPU\n`),
    exit: 2,
    says: ['recipe.yaml:13:13 targets[1].device: CPU is already the device of targets[0]', '(targets[0].device is at recipe.yaml:11:13)', 'Merge the two into one target'],
  },
];
