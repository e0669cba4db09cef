import path from 'node:path';
import { CONVERTER_TEMP_DIR, scriptDigests, stepEntryDir, stepKey, stepWorkDir } from '../cache/step-cache.js';
import { PACKAGE_ROOT } from '../context.js';
import { ToolchainError } from '../errors.js';
import type { CommandSpec } from '../exec/command.js';
import { requireLock, scriptEnv, toolchainScript, venvDir } from '../toolchain/definition.js';
import type { CommandWork, PlanInput, PlannedStep } from './types.js';

/**
 * Plans a step that one command performs inside its toolchain's venv. The key is the command itself:
 * its argv, environment, working folder and links, and the text of every request file, with
 * phiforge's own folders as placeholders, so that any change to what runs gives another key, and the
 * location of the cache, of phiforge or of a local model does not. The command that runs is exact,
 * down to the folders, so `plan` can print it and a failure can be reproduced by pasting it.
 */
export async function planCommandStep(input: PlanInput, summary: string, work: CommandWork, extra: Pick<PlannedStep, 'afterOutput'> = {}): Promise<PlannedStep> {
  const { definition, toolchain, context } = input;
  if (!toolchain) {
    throw new ToolchainError(definition.uses, `step ${definition.id} has no toolchain`, `Name the toolchain it runs in: toolchain: <name> under step ${definition.id} of the pipeline.`);
  }
  const inputs = definition.needs.filter((need) => !input.upstream[need].inert);
  const venv = venvDir(context, toolchain);
  // The work folder is named by the key, so the key's command is made with placeholder folders; the
  // folders a builder names by itself (an input's output, a script, the cache) are replaced after.
  const placeholders = folderPlaceholders([...inputs.map((need) => [input.upstream[need].outDir, `<input:${need}>`] as const), [venv, '<venv>'], [context.cacheRoot, '<cache>'], [PACKAGE_ROOT, '<package>']]);
  const keyed = commandOf(work, commandPaths('<venv>', '<work>'));
  const requests = (await work.requestFiles?.('<work>')) ?? {};
  const key = stepKey({
    kind: definition.uses,
    kindVersion: work.kindVersion,
    params: work.params,
    inputs: Object.fromEntries(inputs.map((need) => [need, input.upstream[need].key])),
    toolchainLock: requireLock(toolchain),
    // Every script imports the shared phiforge_io module (its request/result contract): it is part of each script.
    scripts: await scriptDigests(work.scripts.length > 0 ? [...work.scripts, toolchainScript('common', 'phiforge_io.py')] : []),
    env: mapValues(keyed.env ?? {}, placeholders),
    command: {
      argv: keyed.argv.map(placeholders),
      ...(keyed.cwd === undefined ? {} : { cwd: placeholders(keyed.cwd) }),
      ...(keyed.links ? { links: mapValues(keyed.links, placeholders) } : {}),
    },
    requestFiles: mapValues(requests, placeholders),
  });
  const workDir = stepWorkDir(context, key);
  const given = commandOf(work, commandPaths(venv, workDir));
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
    // Scripts import the shared modules by name from this installation: their content is in the key (scripts), their folder need not be.
    command: work.scripts.length > 0 ? { ...command, env: { ...command.env, ...scriptEnv() } } : command,
    work,
    ...extra,
  };
}

function commandPaths(venv: string, workDir: string): Parameters<CommandWork['command']>[0] {
  const bin = path.join(venv, 'bin');
  return { python: path.join(bin, 'python'), bin, workDir, outDir: path.join(workDir, 'out') };
}

/** The step's command with the environment it declares (what the builder sets wins). */
function commandOf(work: CommandWork, paths: Parameters<CommandWork['command']>[0]): CommandSpec {
  const given = work.command(paths);
  const env = { ...work.env, ...given.env };
  return Object.keys(env).length > 0 ? { ...given, env } : given;
}

function mapValues(record: Record<string, string>, map: (value: string) => string): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([name, value]) => [name, map(value)]));
}

/**
 * Replaces each folder in a text by its placeholder, where it stands as a whole path or a path's
 * start (a folder's name that merely begins the same, /cache2 for /cache, is left alone). The
 * longest folder wins, so an input's output inside the cache reads <input:id>, not <cache>/steps/...;
 * a folder listed twice (a placeholder step that hands its input on) keeps its first name.
 */
function folderPlaceholders(folders: ReadonlyArray<readonly [string, string]>): (text: string) => string {
  const names = new Map<string, string>();
  for (const [folder, name] of folders) if (folder && !names.has(folder)) names.set(folder, name);
  if (names.size === 0) return (text) => text;
  const alternatives = [...names.keys()].sort((a, b) => b.length - a.length).map((folder) => folder.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  // A path starts the text or follows a quote, space, "=", ":" (a PATH list) or ","; it ends at "/" or such a separator.
  const pattern = new RegExp(`(?<![^\\s"'=:,])(?:${alternatives.join('|')})(?=$|[/\\s"':,])`, 'g');
  return (text) => text.replace(pattern, (folder) => names.get(folder)!);
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
