import type { BadInput } from '../bad-inputs.js';

// Bad inputs of one area; test/support/bad-inputs.ts joins every area into BAD_INPUTS. Recipes here build on
// TINY_INT4 from ../recipes.js (import values from there, not from ../bad-inputs.js, which imports this file).
// Links, FIFOs and sockets inside an artifact folder cannot be written as `files`: test/unit/artifact-links.test.ts has them.
export const BAD_INPUTS_ARTIFACT_FILES: BadInput[] = [
  {
    what: 'publish --revision: a commit expression, not a branch',
    args: ['publish', 'dist/tiny', '--repo', 'me/tiny', '--revision', 'main~1:x', '--dry-run'],
    exit: 2,
    says: [`--revision "main~1:x": not a branch name the Hub accepts (it contains "~")`, 'Name a branch, not a commit expression'],
  },
  {
    what: 'publish --revision: a branch name git refuses',
    args: ['publish', 'dist/tiny', '--repo', 'me/tiny', '--revision', 'int4.lock', '--dry-run'],
    exit: 2,
    says: [`--revision "int4.lock": not a branch name the Hub accepts (its part "int4.lock" ends with ".lock")`],
  },
];
