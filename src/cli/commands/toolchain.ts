import { installToolchains, listToolchainStates, lockNamedToolchain } from '../../app/toolchains.js';
import type { Context } from '../../context.js';
import type { Arguments } from '../arguments.js';

export async function run(context: Context, args: Arguments, trail: string[]): Promise<number> {
  const name = args.name as string | undefined;
  if (trail[1] === 'list') {
    const rows = await listToolchainStates(context, name);
    context.print(context.json ? JSON.stringify(rows, null, 2) : rows.map((row) => `${row.name.padEnd(18)} ${row.state.padEnd(9)} ${row.description}${row.venv ? `\n${''.padEnd(28)} ${row.venv}` : ''}${row.problem ? `\n${''.padEnd(28)} ${row.problem}` : ''}`).join('\n'));
  } else if (trail[1] === 'install') {
    const ready = await installToolchains(context, name);
    context.print(context.json ? JSON.stringify(ready, null, 2) : ready.map((each) => `${each.name}: ready (${each.venv})`).join('\n') || 'nothing to install');
  } else {
    const locked = await lockNamedToolchain(context, name!);
    context.print(context.json ? JSON.stringify(locked) : `${locked.name}: wrote ${locked.lockFile} (sha256 ${locked.lockDigest})`);
  }
  return 0;
}
