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
  // Not in the key: where temporary files go and how malloc gets memory do not change the output.
  const tunables = converterMallocTunables(process.platform, process.env.GLIBC_TUNABLES);
  const command = { ...given, env: { ...given.env, TMPDIR: path.join(workDir, CONVERTER_TEMP_DIR), ...(tunables ? { GLIBC_TUNABLES: tunables } : {}) } };
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

/**
 * GLIBC_TUNABLES for a converter, or undefined to leave the inherited environment as it is: glibc's
 * malloc asks for transparent huge pages (glibc 2.35+; older ones ignore the name). NNCF compresses
 * each weight in an OpenVINO model that hands its buffers back after every call, so the INT4
 * compression of Phi-3-mini took 23 million faults of fresh 4 KiB pages; with 2 MiB pages it ran in
 * 43.1 s instead of 50.4 s, with the same bytes. The user's own tunables are kept, and their choice of
 * glibc.malloc.hugetlb wins. Converters only: validation runs as the upstream tools run.
 */
function converterMallocTunables(platform: NodeJS.Platform, inherited: string | undefined): string | undefined {
  if (platform !== 'linux') return undefined;
  if (inherited?.split(':').some((tunable) => tunable.startsWith('glibc.malloc.hugetlb='))) return undefined;
  return inherited ? `${inherited}:glibc.malloc.hugetlb=1` : 'glibc.malloc.hugetlb=1';
}
