import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Context } from '../context.js';
import { captureCommand } from '../exec/command.js';
import { PhiforgeError } from '../errors.js';
import { planRecipe } from '../pipeline/plan.js';
import { resolveRecipe } from '../pipeline/resolve.js';
import { listToolchains, loadToolchain, toolchainScript } from '../toolchain/definition.js';
import { runJsonScript } from '../toolchain/script.js';
import { findUv } from '../toolchain/uv.js';
import { inspectVenv } from '../toolchain/venv.js';
import { checkResources, type ResourceCheck } from './resources.js';
import { systemFacts } from './system.js';

const OpenVinoDevices = z.object({ openvino: z.string(), devices: z.array(z.object({ device: z.string(), name: z.string(), driver: z.string().nullable() })) });
const OrtProviders = z.object({ onnxruntime: z.string(), onnxruntime_genai: z.string(), providers: z.array(z.string()) });

/** What each runtime sees, asked through its runtime toolchain when that venv exists (doctor installs nothing). */
const RUNTIME_PROBES = [
  { key: 'openvino', toolchain: 'openvino-runtime', script: 'devices.py', schema: OpenVinoDevices },
  { key: 'onnxruntime', toolchain: 'ort-genai-runtime', script: 'providers.py', schema: OrtProviders },
] as const;

export type RuntimeProbe = { openvino?: z.output<typeof OpenVinoDevices>; onnxruntime?: z.output<typeof OrtProviders>; problems: Record<string, string> };

/**
 * What this machine offers phiforge: system, Python and uv, toolchains, and the devices each runtime
 * sees; with a recipe, what its build needs. It creates nothing.
 */
export async function examine(context: Context, recipeFile?: string, modelOverride?: string, limits: { memoryBudgetBytes?: number; jobs?: number } = {}) {
  const system = await systemFacts(context.cacheRoot, context.python);
  const uv = await findUvQuietly(context);
  const toolchains = [];
  const runtimes: RuntimeProbe = { problems: {} };
  for (const name of await listToolchains()) {
    const toolchain = await loadToolchain(name);
    const venv = await inspectVenv(context, toolchain);
    toolchains.push({ name, state: venv.state, problem: venv.problem });
    const probe = RUNTIME_PROBES.find((each) => each.toolchain === name);
    if (!probe || venv.state !== 'ready') continue;
    try {
      const found = await runJsonScript(path.join(venv.dir, 'bin', 'python'), toolchainScript(toolchain, probe.script), {}, probe.schema);
      Object.assign(runtimes, { [probe.key]: found });
    } catch (error) {
      // A runtime that cannot even list its devices is what doctor is for: report it, do not fail.
      runtimes.problems[name] = error instanceof PhiforgeError ? error.message.split('\n')[0] : String(error);
    }
  }
  let resources: (ResourceCheck & { recipe: string }) | undefined;
  if (recipeFile) {
    const plan = await planRecipe(context, await resolveRecipe(recipeFile, modelOverride));
    resources = { recipe: recipeFile, ...(await checkResources(context, plan, { download: true, knownShapes: true, ...limits })) };
  }
  return { system, uv: uv ?? null, toolchains, ...runtimes, resources };
}

async function findUvQuietly(context: Context): Promise<string | undefined> {
  // doctor must not install anything: report a uv phiforge already installed, or none.
  const installed = path.join(context.cacheRoot, 'tools');
  if (!process.env.PHIFORGE_UV && !existsSync(installed)) {
    const probe = await captureCommand('uv', ['--version']);
    return probe.exitCode === 0 ? probe.stdout.trim() : undefined;
  }
  const uv = await findUv({ ...context, say: () => undefined });
  if (!uv) return undefined;
  return (await captureCommand(uv, ['--version'])).stdout.trim();
}
