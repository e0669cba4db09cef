import path from 'node:path';
import { scriptDigests, stepEntryDir, stepKey, stepWorkDir } from '../cache/step-cache.js';
import { requireLock, toolchainScript, venvDir } from '../toolchain/definition.js';
import { ToolchainError } from '../errors.js';
import type { CommandWork, PlanInput, PlannedStep } from './types.js';

/**
 * Plans a step that one command performs inside its toolchain's venv. The key covers everything the
 * output depends on; the command is exact, down to the folders, so `plan` can print it and a failure
 * can be reproduced by pasting it.
 */
export async function planCommandStep(input: PlanInput, summary: string, work: CommandWork, extra: Pick<PlannedStep, 'afterOutput'> = {}): Promise<PlannedStep> {
  const { definition, toolchain, context } = input;
  if (!toolchain) throw new ToolchainError('?', `step ${definition.id} (${definition.uses}) needs a toolchain in its pipeline definition`);
  const key = stepKey({
    kind: definition.uses,
    kindVersion: work.kindVersion,
    params: work.params,
    inputs: Object.fromEntries(definition.needs.map((need) => [need, input.upstream[need].key])),
    toolchainLock: requireLock(toolchain),
    // Every script speaks its JSON contract through the shared phiforge_io module: it is part of each script.
    scripts: await scriptDigests(work.scripts.length > 0 ? [...work.scripts, toolchainScript('common', 'phiforge_io.py')] : []),
    env: work.env,
  });
  const workDir = stepWorkDir(context, key);
  const bin = path.join(venvDir(context, toolchain), 'bin');
  return {
    id: definition.id,
    kind: definition.uses,
    needs: definition.needs,
    key,
    summary,
    toolchain,
    outDir: path.join(stepEntryDir(context, key), 'out'),
    command: work.command({ python: path.join(bin, 'python'), bin, workDir, outDir: path.join(workDir, 'out') }),
    work,
    ...extra,
  };
}
