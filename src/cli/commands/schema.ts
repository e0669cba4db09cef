import { SCHEMAS } from '../../app/schemas.js';
import type { Context } from '../../context.js';
import { UsageError } from '../../errors.js';
import type { Arguments } from '../arguments.js';

export async function run(context: Context, args: Arguments): Promise<number> {
  const name = (args.name as string | undefined) ?? 'recipe';
  if (name === 'all') {
    context.print(JSON.stringify(Object.fromEntries(Object.entries(SCHEMAS).map(([format, make]) => [format, make()])), null, 2));
    return 0;
  }
  const make = SCHEMAS[name];
  if (!make) throw new UsageError(`no file format named "${name}"`, `Known formats: ${Object.keys(SCHEMAS).join(', ')}, or all.`);
  context.print(JSON.stringify(make(), null, 2));
  return 0;
}
