// Writes schema/<name>.schema.json for every file format (src/app/schemas.ts), through the built CLI
// so the files are exactly what `phiforge schema <name>` prints. test/unit/schemas.test.ts keeps them in sync.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const all = JSON.parse(execFileSync(process.execPath, [path.join(root, 'bin', 'phiforge.js'), 'schema', 'all'], { encoding: 'utf8' }));
for (const [name, schema] of Object.entries(all)) writeFileSync(path.join(root, 'schema', `${name}.schema.json`), `${JSON.stringify(schema, null, 2)}\n`);
console.log(`wrote ${Object.keys(all).length} schemas to schema/`);
