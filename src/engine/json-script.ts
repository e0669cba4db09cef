import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

/**
 * Runs a toolchain script that speaks the JSON contract (--request/--result) and returns its result:
 * for checks made inside a step, such as verifying an output with the toolchain's own libraries.
 */
export async function runJsonScript<T>(python: string, script: string, request: unknown): Promise<T> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'phiforge-script-'));
  try {
    await writeFile(path.join(scratch, 'request.json'), JSON.stringify(request));
    const result = await execa(python, [script, '--request', path.join(scratch, 'request.json'), '--result', path.join(scratch, 'result.json')], { reject: false });
    if (result.exitCode !== 0) throw new Error(`${path.basename(script)} exited with ${result.exitCode}: ${result.stderr.split('\n').slice(-5).join('\n')}`);
    return JSON.parse(await readFile(path.join(scratch, 'result.json'), 'utf8')) as T;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
