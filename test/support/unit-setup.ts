import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// The unit lane starts no Python: any `python`/`python3` on PATH here fails loudly, and so does the
// interpreter phiforge would make venvs from. A test that needs Python belongs in the cli or e2e lane.
const guard = mkdtempSync(path.join(os.tmpdir(), 'phiforge-unit-no-python-'));
for (const name of ['python', 'python3']) {
  writeFileSync(path.join(guard, name), '#!/bin/sh\necho "python started in the unit lane: move this test to test/cli or test/e2e" >&2\nexit 97\n');
  chmodSync(path.join(guard, name), 0o755);
}
process.env.PATH = `${guard}${path.delimiter}${process.env.PATH ?? ''}`;
process.env.PHIFORGE_PYTHON = path.join(guard, 'python3');
