import { existsSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import type { Context } from '../../context.js';
import { checkResources, type ResourceCheck } from '../../doctor/resources.js';
import { gib, systemFacts } from '../../doctor/system.js';
import { planRecipe } from '../../pipeline/plan.js';
import { loadRecipe } from '../../recipe/load.js';
import { listToolchains, loadToolchain, toolchainScript } from '../../toolchain/definition.js';
import { findUv } from '../../toolchain/uv.js';
import { inspectVenv } from '../../toolchain/venv.js';

/**
 * What this machine offers phiforge: system, Python and uv, toolchains, and the devices each runtime
 * sees. It creates nothing: runtimes are asked only through venvs that already exist.
 */
export async function doctor(context: Context, recipeFile?: string, modelOverride?: string): Promise<void> {
  const system = await systemFacts(context.cacheRoot, context.python);
  const uv = await findUvQuietly(context);
  const toolchains = [];
  let openvino: unknown;
  let onnxruntime: unknown;
  for (const name of await listToolchains()) {
    const toolchain = await loadToolchain(name);
    const venv = await inspectVenv(context, toolchain);
    toolchains.push({ name, state: venv.state });
    if (venv.state !== 'ready') continue;
    const python = path.join(venv.dir, 'bin', 'python');
    if (name === 'openvino') openvino = await jsonOf(python, [toolchainScript(toolchain, 'devices.py')]);
    if (name === 'ort-genai') onnxruntime = await jsonOf(python, ['-c', 'import json, onnxruntime; print(json.dumps({"onnxruntime": onnxruntime.__version__, "providers": onnxruntime.get_available_providers()}))']);
  }
  let resources: (ResourceCheck & { recipe: string }) | undefined;
  if (recipeFile) {
    const plan = await planRecipe(context, await loadRecipe(recipeFile, modelOverride));
    resources = { recipe: recipeFile, ...(await checkResources(context, plan, { download: true })) };
  }
  const report = { system, uv: uv ?? null, toolchains, openvino: openvino ?? null, onnxruntime: onnxruntime ?? null, resources };
  if (context.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const lines = [
    `system      ${system.os}; ${system.cpu}, ${system.cores} cores; flags ${system.cpuFlags.join(' ') || 'none of note'}`,
    `memory      ${gib(system.memoryBytes)} (${gib(system.freeMemoryBytes)} free); disk free at the cache ${system.cacheDiskFreeBytes === undefined ? '?' : gib(system.cacheDiskFreeBytes)}`,
    `python      ${system.python ?? `not found (${context.python})`}; uv ${uv ?? 'not found (phiforge installs it on first use)'}`,
    ...toolchains.map((toolchain) => `toolchain   ${toolchain.name.padEnd(14)} ${toolchain.state}`),
    `openvino    ${openvino ? describeDevices(openvino) : 'toolchain openvino not installed: `phiforge toolchain install openvino`'}`,
    `onnxruntime ${onnxruntime ? (onnxruntime as { providers: string[] }).providers.join(', ') : 'toolchain ort-genai not installed'}`,
  ];
  if (resources) {
    const { estimate } = resources;
    lines.push(
      estimate
        ? `recipe      ${resources.recipe}: ${(estimate.parameters / 1e9).toFixed(2)}B parameters; export needs about ${gib(estimate.exportMemoryBytes)} of memory and ${gib(estimate.diskBytes)} of disk; artifact about ${gib(estimate.artifactBytes)}`
        : `recipe      ${resources.recipe}: no estimate: ${resources.unknown}`,
      ...resources.warnings.map((warning) => `warning     ${warning}`),
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

function describeDevices(report: unknown): string {
  const { openvino, devices } = report as { openvino: string; devices: Array<{ device: string; name: string; driver: string | null }> };
  const npuNote = devices.some((device) => device.device.startsWith('NPU')) ? '' : '; no NPU (use --emulate-npu to run NPU recipes on the CPU)';
  return `${openvino.split('-')[0]}: ${devices.map((device) => `${device.device} (${device.name}${device.driver ? `, driver ${device.driver}` : ''})`).join(', ')}${npuNote}`;
}

async function jsonOf(python: string, args: string[]): Promise<unknown> {
  const result = await execa(python, args, { reject: false });
  return result.exitCode === 0 ? JSON.parse(result.stdout.trim().split('\n').at(-1)!) : { error: result.stderr.split('\n').slice(-3).join(' ') };
}

async function findUvQuietly(context: Context): Promise<string | undefined> {
  // doctor must not install anything: report a uv phiforge already installed, or none.
  const installed = path.join(context.cacheRoot, 'tools');
  if (!process.env.PHIFORGE_UV && !existsSync(installed)) {
    const probe = await execa('uv', ['--version'], { reject: false });
    return probe.exitCode === 0 ? probe.stdout.trim() : undefined;
  }
  const uv = await findUv({ ...context, say: () => undefined });
  if (!uv) return undefined;
  return (await execa(uv, ['--version'], { reject: false })).stdout.trim();
}
