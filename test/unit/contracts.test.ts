import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readContractFile } from '../../src/contract.js';
import { ContractError } from '../../src/errors.js';
import { describeError } from '../../src/cli/report-error.js';
import { RunsFile, SimilarityFile } from '../../src/validate/contract.js';
import { workspace } from '../support/cli.js';

// What a runner script writes is checked where phiforge reads it: a missing or mistyped field is a
// typed error that names the file, the writer and the field, not an `undefined` further on.

const measurement = { ttft_ms: 3, tpot_ms: 1, tokens_per_s: 900, new_tokens: 4, generate_ms: 6, decode_ms: [1, 1, 1] };
const goodRuns = {
  runtime: { openvino: '2026.4.1' },
  available: [{ device: 'CPU', name: 'a CPU' }],
  targets: [
    { device: 'CPU', status: 'ran', load_ms: 100, peak_rss_mb: 200, prompts: [{ id: 'p1', token_ids: [5, 6], text: 'hi', runs: [measurement] }] },
    { device: 'GPU', status: 'skipped', reason: 'device GPU not present (available: CPU)' },
  ],
};

async function written(content: unknown): Promise<string> {
  const file = path.join(await workspace(), 'runs.json');
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('runner contracts', () => {
  it('accepts what a runner writes', async () => {
    const runs = await readContractFile(RunsFile, await written(goodRuns), 'run_genai.py');
    expect(runs.targets.map((target) => target.status)).toEqual(['ran', 'skipped']);
  });

  it('names a missing field', async () => {
    const { load_ms: _gone, ...withoutLoad } = goodRuns.targets[0];
    const error = await readContractFile(RunsFile, await written({ ...goodRuns, targets: [withoutLoad] }), 'run_genai.py').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ContractError);
    expect((error as ContractError).problems.map((problem) => problem.field)).toEqual(['targets[0].load_ms']);
    expect(describeError(error)).toMatch(/runs\.json \(written by run_genai\.py\) does not match its contract:\n {2}- targets\[0\]\.load_ms: /);
  });

  it('names a mistyped field deep inside', async () => {
    const mistyped = structuredClone(goodRuns);
    (mistyped.targets[0] as { prompts: Array<{ runs: Array<Record<string, unknown>> }> }).prompts[0].runs[0].ttft_ms = 'fast';
    const error = (await readContractFile(RunsFile, await written(mistyped), 'run_genai.py').catch((caught: unknown) => caught)) as ContractError;
    expect(error.problems).toEqual([{ field: 'targets[0].prompts[0].runs[0].ttft_ms', message: expect.stringContaining('number') }]);
    expect(error.exitCode).toBe(1);
  });

  it('says so when the file is missing or not JSON', async () => {
    const missing = (await readContractFile(SimilarityFile, '/nonexistent/similarity.json', 'similarity.py').catch((caught: unknown) => caught)) as ContractError;
    expect(missing.problems).toEqual([{ field: '', message: 'the file is missing' }]);
    const garbled = (await readContractFile(SimilarityFile, await written('{"similarities": [0.5'), 'similarity.py').catch((caught: unknown) => caught)) as ContractError;
    expect(garbled.problems[0].message).toMatch(/^not readable as JSON/);
  });
});
