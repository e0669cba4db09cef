import { validateInputs } from '../../app/validate.js';
import type { DeviceClass } from '../../backends/types.js';
import type { Context } from '../../context.js';
import type { Arguments } from '../arguments.js';
import { renderOutcomes } from './outcomes.js';

export async function run(context: Context, args: Arguments): Promise<number> {
  const junit = args.junit as string | undefined;
  const outcomes = await validateInputs(context, args.target as string[], {
    model: args.model as string | undefined,
    requireDevice: Boolean(args['require-device']),
    deviceClasses: args.device as DeviceClass[] | undefined,
  });
  return renderOutcomes(context, outcomes, junit);
}
