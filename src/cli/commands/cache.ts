import path from 'node:path';
import { cleanCache, collectGarbage, listCache, verifyCache } from '../../app/cache.js';
import type { Context } from '../../context.js';
import type { Arguments } from '../arguments.js';

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

export async function run(context: Context, args: Arguments, trail: string[]): Promise<number> {
  const show = (data: unknown, text: () => string) => context.print(context.json ? JSON.stringify(data, null, 2) : text());
  switch (trail[1]) {
    case 'ls': {
      const { steps, venvs } = await listCache(context);
      const total = [...steps, ...venvs].reduce((sum, row) => sum + row.bytes, 0);
      show({ steps, venvs }, () =>
        [
          ...steps.map((row) => `step  ${row.key.slice(0, 16)}  ${row.kind.padEnd(24)} ${mib(row.bytes).padStart(11)}  ${row.committed ? `last used ${row.lastUsed}` : 'UNFINISHED'}`),
          ...venvs.map((venv) => `venv  ${path.basename(venv.dir).padEnd(42)} ${mib(venv.bytes).padStart(11)}  ${venv.current ? 'current' : 'old lock'}`),
          `${steps.length} step output(s), ${venvs.length} venv(s), ${mib(total)} in ${context.cacheRoot}`,
        ].join('\n'),
      );
      return 0;
    }
    case 'gc': {
      const removed = await collectGarbage(context, args['older-than'] as number | undefined);
      show({ removed }, () => (removed.length ? removed.map((line) => `removed ${line}`).join('\n') : 'nothing to remove'));
      return 0;
    }
    case 'verify': {
      const { checked } = await verifyCache(context);
      show({ checked, damaged: [] }, () => `${checked} step output(s) checked, all intact`);
      return 0;
    }
    default: {
      const removed = await cleanCache(context, Boolean(args.all));
      show({ removed }, () => `removed ${removed.join(', ')}`);
      return 0;
    }
  }
}
