import { captureCommand } from '../exec/command.js';

/**
 * The package sources the user configured for pip (pip.conf files and PIP_* variables).
 * pip itself reads them in a venv we create with pip; uv does not, so we hand them to uv as flags.
 * Without this, torch resolves to the registry's CUDA build: gigabytes instead of the local CPU wheel.
 */
export interface PackageSources {
  indexUrl?: string;
  extraIndexUrls: string[];
  findLinks: string[];
}

const KEYS = { 'index-url': 'indexUrl', 'extra-index-url': 'extraIndexUrls', 'find-links': 'findLinks' } as const;

// pip applies its sections in this order, each overriding the ones before; PIP_* variables win.
const SECTION_RANK: Record<string, number> = { global: 0, download: 1, install: 1, ':env:': 2 };

export function parsePipConfigList(output: string): PackageSources {
  const chosen = new Map<string, { rank: number; value: string }>();
  for (const line of output.split('\n')) {
    const match = /^(:env:|[\w-]+)\.([\w-]+)=(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, section, key, quoted] = match;
    if (!(key in KEYS) || !(section in SECTION_RANK)) continue;
    const rank = SECTION_RANK[section];
    const previous = chosen.get(key);
    if (!previous || rank >= previous.rank) chosen.set(key, { rank, value: unquote(quoted) });
  }
  const list = (key: string) => (chosen.get(key)?.value ?? '').split(/\s+/).filter(Boolean);
  return { indexUrl: chosen.get('index-url')?.value || undefined, extraIndexUrls: list('extra-index-url'), findLinks: list('find-links') };
}

function unquote(value: string): string {
  return /^'.*'$|^".*"$/.test(value) ? value.slice(1, -1) : value;
}

export async function readPipConfig(python: string): Promise<PackageSources> {
  const result = await captureCommand(python, ['-m', 'pip', 'config', 'list']);
  if (result.exitCode !== 0) return { extraIndexUrls: [], findLinks: [] };
  return parsePipConfigList(result.stdout);
}

/**
 * uv flags with pip's meaning: `unsafe-best-match` because pip picks the best version across all
 * indexes, while uv by default sticks to the first index that knows a package name.
 */
export function uvSourceFlags(sources: PackageSources): string[] {
  const flags: string[] = [];
  if (sources.indexUrl) flags.push('--index-url', sources.indexUrl);
  for (const url of sources.extraIndexUrls) flags.push('--extra-index-url', url);
  for (const link of sources.findLinks) flags.push('--find-links', link);
  if (sources.extraIndexUrls.length > 0 || sources.findLinks.length > 0) flags.push('--index-strategy', 'unsafe-best-match');
  return flags;
}
