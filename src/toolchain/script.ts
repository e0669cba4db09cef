import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { z } from 'zod';
import { readContractFile } from '../contract.js';
import { runCommand } from '../exec/command.js';
import { scriptEnv } from './definition.js';

/**
 * Runs a toolchain script that speaks the JSON contract (--request/--result) and returns its result,
 * for checks made inside phiforge (a venv's health, an output's completeness). A script that fails
 * is a StepFailedError with the command to reproduce it and its log, and a result of the wrong shape a
 * ContractError; either way the scratch folder (request, result, log) is kept for a look.
 */
export async function runJsonScript<S extends z.ZodType>(python: string, script: string, request: unknown, schema: S): Promise<z.output<S>> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'phiforge-script-'));
  const requestFile = path.join(scratch, 'request.json');
  const resultFile = path.join(scratch, 'result.json');
  await writeFile(requestFile, JSON.stringify(request));
  await runCommand(path.basename(script), { argv: [python, script, '--request', requestFile, '--result', resultFile], env: scriptEnv() }, path.join(scratch, 'script.log'));
  const result = await readContractFile(schema, resultFile, path.basename(script));
  await rm(scratch, { recursive: true, force: true });
  return result;
}
