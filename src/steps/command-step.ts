import path from 'node:path';
import { CONVERTER_TEMP_DIR, scriptDigests, stepEntryDir, stepKey, stepWorkDir } from '../cache/step-cache.js';
import { ToolchainError } from '../errors.js';
import { requireLock, scriptEnv, toolchainScript, venvDir } from '../toolchain/definition.js';
import type { CommandWork, PlanInput, PlannedStep } from './types.js';

/**
 * Plans a step that one command performs inside its toolchain's venv. The key covers everything the
 * output depends on; the command is exact, down to the folders, so `plan` can print it and a failure
 * can be reproduced by pasting it.
 */
export async function planCommandStep(input: PlanInput, summary: string, work: CommandWork, extra: Pick<PlannedStep, 'afterOutput'> = {}): Promise<PlannedStep> {
  const { definition, toolchain, context } = input;
  if (!toolchain) {
    throw new ToolchainError(definition.uses, `step ${definition.id} has no toolchain`, `Name the toolchain it runs in: toolchain: <name> under step ${definition.id} of the pipeline.`);
  }
  const key = stepKey({
    kind: definition.uses,
    kindVersion: work.kindVersion,
    params: work.params,
    inputs: Object.fromEntries(definition.needs.filter((need) => !input.upstream[need].inert).map((need) => [need, input.upstream[need].key])),
    toolchainLock: requireLock(toolchain),
    // Every script imports the shared phiforge_io module (its request/result contract): it is part of each script.
    scripts: await scriptDigests(work.scripts.length > 0 ? [...work.scripts, toolchainScript('common', 'phiforge_io.py')] : []),
    env: work.env,
  });
  const workDir = stepWorkDir(context, key);
  const bin = path.join(venvDir(context, toolchain), 'bin');
  const given = work.command({ python: path.join(bin, 'python'), bin, workDir, outDir: path.join(workDir, 'out') });
  // Not in the key: where temporary files go does not change the output.
  const command = { ...given, env: { ...given.env, TMPDIR: path.join(workDir, CONVERTER_TEMP_DIR) } };
  return {
    id: definition.id,
    kind: definition.uses,
    needs: definition.needs,
    key,
    summary,
    toolchain,
    outDir: path.join(stepEntryDir(context, key), 'out'),
    // Scripts import the shared modules by name; the folder is this installation's, so it is not in the key.
    command: work.scripts.length > 0 ? { ...command, env: { ...command.env, ...scriptEnv() } } : command,
    work,
    ...extra,
  };
}
