import { examine } from '../../app/doctor.js';
import { gib } from '../../app/system.js';
import type { Context } from '../../context.js';
import type { Arguments } from '../arguments.js';

export async function run(context: Context, args: Arguments): Promise<number> {
  const report = await examine(context, args.recipe as string | undefined, args.model as string | undefined);
  if (context.json) {
    context.print(JSON.stringify(report, null, 2));
    return 0;
  }
  const { system, uv, toolchains, openvino, onnxruntime, problems, resources } = report;
  const npuNote = openvino && !openvino.devices.some((device) => device.device.startsWith('NPU')) ? '; no NPU (use --emulate-npu to run NPU recipes on the CPU)' : '';
  const lines = [
    `system      ${system.os}; ${system.cpu}, ${system.cores} cores; flags ${system.cpuFlags.join(' ') || 'none of note'}`,
    `memory      ${gib(system.memoryBytes)} (${gib(system.freeMemoryBytes)} free); disk free at the cache ${system.cacheDiskFreeBytes === undefined ? '?' : gib(system.cacheDiskFreeBytes)}`,
    `python      ${system.python ?? `not found (${context.python})`}; uv ${uv ?? 'not found (phiforge installs it on first use)'}`,
    ...toolchains.map((toolchain) => `toolchain   ${toolchain.name.padEnd(18)} ${toolchain.state}${toolchain.problem ? `: ${toolchain.problem}` : problems[toolchain.name] ? `: ${problems[toolchain.name]}` : ''}`),
    `openvino    ${openvino ? `${openvino.openvino.split('-')[0]}: ${openvino.devices.map((device) => `${device.device} (${device.name}${device.driver ? `, driver ${device.driver}` : ''})`).join(', ')}${npuNote}` : 'runtime not installed: `phiforge toolchain install openvino-runtime`'}`,
    `onnxruntime ${onnxruntime ? `${onnxruntime.onnxruntime_genai}: ${onnxruntime.providers.join(', ')}` : 'runtime not installed: `phiforge toolchain install ort-genai-runtime`'}`,
  ];
  if (resources) {
    const { estimate } = resources;
    lines.push(
      estimate
        ? `recipe      ${resources.recipe}: ${(estimate.parameters / 1e9).toFixed(2)}B parameters; the build needs about ${gib(estimate.peakMemoryBytes)} of memory at its peak and ${gib(estimate.diskBytes)} of disk; artifact about ${gib(estimate.artifactBytes)}`
        : `recipe      ${resources.recipe}: no estimate: ${resources.unknown}`,
      ...(estimate ? Object.entries(estimate.steps).map(([step, footprint]) => `  ${step.padEnd(10)} memory ${gib(footprint.memoryBytes)}, disk ${gib(footprint.diskBytes)}`) : []),
      ...resources.warnings.map((warning) => `warning     ${warning}`),
    );
  }
  context.print(lines.join('\n'));
  return 0;
}
