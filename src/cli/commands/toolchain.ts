import type { Context } from '../../context.js';
import { listToolchains, loadToolchain, unmetRequirement } from '../../toolchain/definition.js';
import { lockToolchain } from '../../toolchain/lock.js';
import { ensureVenv, inspectVenv } from '../../toolchain/venv.js';

async function selected(name?: string) {
  return Promise.all((name ? [name] : await listToolchains()).map((each) => loadToolchain(each)));
}

export async function list(context: Context, name?: string): Promise<void> {
  const rows = [];
  for (const toolchain of await selected(name)) {
    const venv = await inspectVenv(context, toolchain);
    rows.push({ name: toolchain.name, state: venv.state, venv: venv.dir || undefined, lockDigest: toolchain.lockDigest, pins: toolchain.pins, description: toolchain.description });
  }
  if (context.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else for (const row of rows) process.stdout.write(`${row.name.padEnd(12)} ${row.state.padEnd(9)} ${row.description}${row.venv ? `\n${''.padEnd(22)} ${row.venv}` : ''}\n`);
}

export async function install(context: Context, name?: string): Promise<void> {
  const ready = [];
  for (const toolchain of await selected(name)) {
    // Installing everything skips what this machine cannot use; naming a toolchain installs it regardless.
    const unmet = name ? undefined : unmetRequirement(toolchain);
    if (unmet) {
      context.say(`skipping toolchain ${toolchain.name}: it ${unmet}`);
      continue;
    }
    const venv = await ensureVenv(context, toolchain);
    ready.push({ name: toolchain.name, venv: venv.dir, python: venv.pythonVersion, lockDigest: venv.lockDigest });
    if (!context.json) process.stdout.write(`${toolchain.name}: ready (${venv.dir})\n`);
  }
  if (context.json) process.stdout.write(`${JSON.stringify(ready, null, 2)}\n`);
}

export async function lock(context: Context, name: string): Promise<void> {
  const toolchain = await loadToolchain(name);
  await lockToolchain(context, toolchain);
  const locked = await loadToolchain(name);
  if (context.json) process.stdout.write(`${JSON.stringify({ name, lockFile: locked.lockFile, lockDigest: locked.lockDigest })}\n`);
  else process.stdout.write(`${name}: wrote ${locked.lockFile} (sha256 ${locked.lockDigest})\n`);
}
