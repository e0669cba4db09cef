// Artifact folders as phiforge build and validate leave them (manifest.json, validation/*.json), written
// by hand: what `phiforge report` reads, without a converter or a runtime. phiforge checks both files
// against their contracts when it reads them, so a fixture that drifts from the contract fails loudly.

const sha = (character: string) => character.repeat(64);

export interface FixtureDevice {
  device: string;
  emulated?: boolean;
  status?: 'passed' | 'failed';
  tokensPerS?: number;
  similarity?: number | null;
  perplexityRatio?: number;
  /** Median TTFT (ms) by prompt length, as the latency sweep measures it. */
  sweep?: Record<number, number>;
}

function manifest(name: string, sizeMib: number) {
  return {
    schema: 'phiforge.manifest/1',
    phiforge: { version: '0.1.0' },
    name,
    backend: 'openvino',
    pipeline: 'openvino',
    recipe: { file: `${name}.yaml`, resolved: { quantization: { weight_format: 'int4', group_size: 128, ratio: 0.6, sym: true } } },
    model: { source: 'synthetic', key: sha('b'), files: [] },
    toolchains: {},
    steps: [],
    files: [{ path: 'openvino_model.bin', size: Math.round(sizeMib * 2 ** 20), sha256: sha('a') }],
  };
}

function deviceResult(name: string, device: FixtureDevice) {
  const spread = (median: number) => ({ median, min: median, max: median, mean: median, std: 0 });
  const tokensPerS = device.tokensPerS ?? 100;
  return {
    schema: 'phiforge.validation/1',
    artifact: { name, backend: 'openvino', files_sha256: sha('f') },
    device: device.device,
    device_class: device.device.toLowerCase(),
    host: { name: 'box', cpu: 'x', cores: 2, memory_gib: 8, platform: 'linux-x64' },
    measured_at: '2026-12-03T08:00:00.000Z',
    phiforge: '0.1.0',
    runtime: { toolchain: 'openvino-runtime', lock_sha256: sha('c'), packages: {} },
    settings_sha256: sha('d'),
    run: { device: device.device, status: 'skipped', reason: 'the raw runs are not what a report reads' },
    report: {
      device: device.device,
      status: device.status ?? 'passed',
      emulated: device.emulated ?? false,
      structural: false,
      figures: {
        ttft_ms: spread(20),
        tpot_ms: spread(1000 / tokensPerS),
        tokens_per_s: spread(tokensPerS),
        load_ms: 300,
        peak_rss_mb: 120,
        runs: 3,
        ...(device.sweep ? { sweep: Object.entries(device.sweep).map(([tokens, ms]) => ({ prompt_tokens: Number(tokens), ttft_ms: spread(ms), tpot_ms: spread(5), runs: 3 })) } : {}),
      },
      agreement: { prompts: 1, identical: 0, match_tokens_mean: 4, similarity_mean: device.similarity === undefined ? 0.9 : device.similarity },
      ...(device.perplexityRatio !== undefined ? { perplexity: { artifact: 10 * device.perplexityRatio, reference: 10, ratio: device.perplexityRatio } } : {}),
      prompts: [],
      gates: device.status === 'failed' ? [{ gate: 'tokens_per_s_min', limit: 1e9, value: tokensPerS, unit: 'tok/s', passed: false }] : [],
      failures: [],
    },
  };
}

/** The files of one artifact folder `dir`, with a device result per device (none: never validated), for workspace(). */
export function artifactFolder(dir: string, options: { name?: string; sizeMib?: number; devices?: FixtureDevice[] } = {}): Record<string, string> {
  const name = options.name ?? dir.split('/').at(-1)!;
  const files: Record<string, string> = { [`${dir}/manifest.json`]: JSON.stringify(manifest(name, options.sizeMib ?? 3)) };
  for (const device of options.devices ?? []) {
    const flavour = device.emulated ? '-emulated' : '';
    files[`${dir}/validation/${device.device}${flavour}-box.json`] = JSON.stringify(deviceResult(name, device));
  }
  return files;
}
