import { examine } from '../../app/doctor.js';
import { memoryBudgetOption, type ResourceCheck, type StepVerdict } from '../../app/resources.js';
import { gib } from '../../app/system.js';
import type { Context } from '../../context.js';
import type { Arguments } from '../arguments.js';

export async function run(context: Context, args: Arguments): Promise<number> {
  const memoryBudgetBytes = memoryBudgetOption(args['memory-budget']);
  const report = await examine(context, args.recipe as string | undefined, args.model as string | undefined, { memoryBudgetBytes, jobs: Number(args.jobs ?? 1) });
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
      ...resourceLines(resources),
      ...resources.warnings.map((warning) => `warning     ${warning}`),
    );
  }
  context.print(lines.join('\n'));
  return 0;
}

const machineText = (row: StepVerdict) => `${row.machine}${row.machineLimit ? ` (${row.machineLimit})` : ''}`;

/**
 * Each step's memory and the disk written so far, with its verdict on this machine and against the
 * budget, then one line on the budget: what doctor prints for a recipe, and plan with a budget.
 */
export function resourceLines(check: ResourceCheck): string[] {
  if (!check.estimate) return [];
  const { machine, budget, verdicts } = check;
  const header = ['step', 'memory', 'disk so far', `this machine (${gib(machine.availableMemoryBytes)} available${machine.freeDiskBytes === undefined ? '' : `, ${gib(machine.freeDiskBytes)} disk free`})`, ...(budget ? [`budget ${gib(budget.memoryBytes)}`] : [])];
  const rows = verdicts.map((row) => [row.step, gib(row.memoryBytes), gib(row.diskBytes), machineText(row), ...(row.budget ? [row.budget] : [])]);
  const widths = header.map((_, column) => Math.max(...[header, ...rows].map((cells) => cells[column].length)));
  const table = [header, ...rows].map((cells) => `  ${cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]))).join('  ')}`);
  const lines = [...(check.shapeNote ? [`            ${check.shapeNote}`] : []), ...table];
  if (budget && budget.jobs > 1) lines.push(`            with --jobs ${budget.jobs}, each build step counts ${budget.jobs} exports at once (validation runs one artifact at a time)`);
  if (budget) {
    const over = verdicts.filter((row) => row.budget === 'does not fit');
    const tight = verdicts.filter((row) => row.budget === 'tight').map((row) => row.step);
    lines.push(
      over.length
        ? `budget      does not fit in ${gib(budget.memoryBytes)}: ${over.map((row) => `${row.step} needs ${gib(row.memoryBytes)} (${gib(row.memoryBytes - budget.memoryBytes)} over)`).join(', ')}`
        : `budget      every step fits in ${gib(budget.memoryBytes)}${tight.length ? `; tight (within 10% of it): ${tight.join(', ')}` : ''}`,
    );
  }
  return lines;
}
