import { buildRecipes } from '../../app/build.js';
import { memoryBudgetOption } from '../../app/resources.js';
import { readSigningKey } from '../../artifact/keys.js';
import type { DeviceClass } from '../../backends/types.js';
import type { Context } from '../../context.js';
import type { Arguments } from '../arguments.js';
import { renderOutcomes } from './outcomes.js';

export async function run(context: Context, args: Arguments): Promise<number> {
  const junit = args.junit as string | undefined;
  // The key first: a bad one is bad input (exit 2) before anything is built.
  const signKey = typeof args['sign-key'] === 'string' ? await readSigningKey(args['sign-key'], '--sign-key') : undefined;
  const outcomes = await buildRecipes(context, args.recipe as string[], {
    signKey,
    model: args.model as string | undefined,
    name: args.name as string | undefined,
    force: Boolean(args.force),
    validate: args.validate !== false,
    requireDevice: Boolean(args['require-device']),
    requireBlob: Boolean(args['require-blob']),
    deviceClasses: args.device as DeviceClass[] | undefined,
    jobs: Number(args.jobs ?? 1),
    memoryBudgetBytes: memoryBudgetOption(args['memory-budget']),
  });
  return renderOutcomes(context, outcomes, junit);
}
