import type { Context } from '../context.js';
import { listToolchains, loadToolchain, unmetRequirement } from '../toolchain/definition.js';
import { lockToolchain } from '../toolchain/lock.js';
import { ensureVenv, inspectVenv } from '../toolchain/venv.js';

async function selected(name?: string) {
  return Promise.all((name ? [name] : await listToolchains()).map((each) => loadToolchain(each)));
}

export async function listToolchainStates(context: Context, name?: string) {
  const rows = [];
  for (const toolchain of await selected(name)) {
    const venv = await inspectVenv(context, toolchain);
    rows.push({ name: toolchain.name, state: venv.state, problem: venv.problem, venv: venv.dir || undefined, lockDigest: toolchain.lockDigest, pins: toolchain.pins, description: toolchain.description });
  }
  return rows;
}

/** Creates (or repairs) venvs: all this machine can use, or the one named whatever it needs. */
export async function installToolchains(context: Context, name?: string) {
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
  }
  return ready;
}

export async function lockNamedToolchain(context: Context, name: string) {
  await lockToolchain(context, await loadToolchain(name));
  const locked = await loadToolchain(name);
  return { name, lockFile: locked.lockFile, lockDigest: locked.lockDigest };
}
