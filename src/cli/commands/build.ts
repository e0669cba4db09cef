import { buildRecipes } from '../../app/build.js';
import type { DeviceClass } from '../../backends/types.js';
import type { Context } from '../../context.js';
import type { Arguments } from '../arguments.js';
import { renderOutcomes } from './outcomes.js';

export async function run(context: Context, args: Arguments): Promise<number> {
  const junit = args.junit as string | undefined;
  const outcomes = await buildRecipes(context, args.recipe as string[], {
    model: args.model as string | undefined,
    name: args.name as string | undefined,
    force: Boolean(args.force),
    validate: args.validate !== false,
    requireDevice: Boolean(args['require-device']),
    deviceClasses: args.device as DeviceClass[] | undefined,
    jobs: Number(args.jobs ?? 1),
  });
  return renderOutcomes(context, outcomes, junit);
}
