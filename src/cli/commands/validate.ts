import { readSigningKey, trustedKeys } from '../../artifact/keys.js';
import { validateInputs } from '../../app/validate.js';
import type { DeviceClass } from '../../backends/types.js';
import type { Context } from '../../context.js';
import type { Arguments } from '../arguments.js';
import { renderOutcomes } from './outcomes.js';

export async function run(context: Context, args: Arguments): Promise<number> {
  const junit = args.junit as string | undefined;
  // Key files are read first: a bad one is bad input (exit 2) before anything runs.
  const signKey = typeof args['sign-key'] === 'string' ? await readSigningKey(args['sign-key'], '--sign-key') : undefined;
  const trusted = await trustedKeys(args['require-signature'] as string[] | undefined);
  const outcomes = await validateInputs(context, args.target as string[], {
    signKey,
    trusted,
    model: args.model as string | undefined,
    requireDevice: Boolean(args['require-device']),
    requireBlob: Boolean(args['require-blob']),
    deviceClasses: args.device as DeviceClass[] | undefined,
  });
  return renderOutcomes(context, outcomes, junit);
}
